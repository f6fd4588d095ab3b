/**
 * A stand-in for Google Cloud Storage's XML API taken as an S3-compatible store (the `s3` driver
 * with an HMAC key and the endpoint `storage.googleapis.com`), on 127.0.0.1. It serves the
 * requests the driver sends, checks every request's SigV4 signature by recomputing it with the
 * HMAC key's secret, keeps real state, and answers as Google's docs say GCS does (read December
 * 2026; `/storage/docs/…` below is https://cloud.google.com/storage/docs/…):
 *
 * - Endpoint and keys: S3 tools work once their endpoint is `https://storage.googleapis.com` and
 *   their keys are an HMAC key's access ID and secret (/storage/docs/interoperability,
 *   /storage/docs/authentication/hmackeys: a service account's access ID is 61 characters, the
 *   secret 40 of base64). V4 signatures go in the Authorization header (/storage/docs/authentication/
 *   signatures); with `AWS4-HMAC-SHA256` GCS expects `x-amz-*` headers and processes those that
 *   have an `x-goog-*` equivalent, `x-amz-meta-*` being `x-goog-meta-*` (/storage/docs/aws-simple-migration).
 *   Google's S3-SDK samples on that page sign for the region `auto` (GoogleCloudPlatform/
 *   python-docs-samples storage/s3-sdk/list_gcs_objects.py); the stand-in takes any region in the
 *   credential scope and records it, so a test can assert what the driver signed with.
 * - Addressing: `storage.googleapis.com/BUCKET/OBJECT` and `BUCKET.storage.googleapis.com/OBJECT`
 *   (/storage/docs/request-endpoints). The stand-in serves the path style (a host per bucket needs DNS).
 * - Listing (/storage/docs/xml-api/get-bucket-list): GET on the bucket with `list-type=2`,
 *   `continuation-token`, `delimiter`, `encoding-type`, `fetch-owner`, `marker`, `max-keys`,
 *   `prefix`, `start-after`; names in lexicographic order (here: their UTF-8 bytes).
 * - PUT of an object: a Content-MD5 that does not match the bytes is `400 BadDigest`
 *   (/storage/docs/xml-api/reference-status); the key keeps what it had.
 * - Copy (/storage/docs/xml-api/put-object-copy): a PUT with `x-amz-copy-source` (`x-goog-copy-source`),
 *   metadata copied unless the directive is REPLACE, which a copy onto itself must use.
 * - DELETE of a missing object is `404 NoSuchKey` (/storage/docs/xml-api/delete-object), where S3
 *   answers 204.
 * - Multi-object delete: `POST /?delete` with up to 1,000 `<Object><Key>`, `<Quiet>` optional
 *   (/storage/docs/xml-api/post-bucket; generally available in 2026, as ClickHouse/clickhouse-docs#6048
 *   says in dropping its note that GCS lacks it). Before, GCS answered it
 *   `501 NotImplemented` "A header or query you provided requested a function that is not
 *   implemented." with Details "POST ?delete is not implemented for objects." (its answer as quoted
 *   in minio/mc#4778): `multiObjectDelete = false` plays that GCS.
 * - Multipart uploads, compatible with S3's (/storage/docs/multipart-uploads): POST `?uploads`,
 *   PUT `?partNumber&uploadId`, POST `?uploadId` completes (replacing any object of that name),
 *   DELETE `?uploadId` aborts; nothing is visible before completion; the object has no MD5.
 * - Errors are `<Error><Code/><Message/>[<Details/>]</Error>` (reference-status); a bad signature is
 *   `403 SignatureDoesNotMatch` "…Check your Google secret key and signing method." (GCS's words, as
 *   quoted in googleapis/nodejs-storage#1283). A HEAD's error has no body.
 *
 * Not found in Google's pages, so the stand-in does what S3 does and says so here: the answer to an
 * unknown access ID (S3's `403 InvalidAccessKeyId`); whether `x-amz-content-sha256` is checked
 * against the body (the stand-in signs with it, as the canonical request's payload line says, and
 * records a mismatch as a violation, never refuses it); the prefix of user metadata in the answers
 * to AWS-signed HEAD and GET (`x-amz-meta-*` here, which the S3 SDK reads; check on real GCS); the
 * per-key result of a multi-object delete for a missing key (`missingKeysInDeleteResult`, an error
 * like DELETE's by default); the 5 MiB least part size (S3's); the SDK's `x-id` parameter (ignored).
 *
 * `requests` records every call; `violations` what the driver should never send (an unknown
 * request or parameter, an unsigned request, a payload hash that is not the body's): tests assert
 * there are none.
 */
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { SignatureV4 } from '@smithy/signature-v4';

export interface XmlObject {
  bytes: Buffer;
  /** Content-Type, Cache-Control, … as given (lowercase names). */
  headers: Record<string, string>;
  /** User metadata without its prefix, names lowercase. */
  metadata: Record<string, string>;
  etag: string;
  generation: number;
  lastModified: Date;
}

export interface XmlUpload {
  bucket: string;
  key: string;
  headers: Record<string, string>;
  metadata: Record<string, string>;
  parts: Map<number, { bytes: Buffer; etag: string }>;
}

export interface XmlRecorded {
  method: string;
  /** The path as sent, percent-encoding included. */
  path: string;
  query: Record<string, string>;
  status: number;
  accessId?: string;
  /** The region of the signature's credential scope. */
  region?: string;
}

interface XmlRequest {
  method: string;
  path: string;
  bucket: string;
  key: string | undefined;
  query: Record<string, string>;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

interface Reply {
  status: number;
  headers?: Record<string, string>;
  body?: string | Buffer;
}

/** Headers GCS keeps with an object and serves back. */
const OBJECT_HEADERS = [
  'content-type',
  'cache-control',
  'content-encoding',
  'content-disposition',
  'content-language',
];
const LIST_QUERY = new Set([
  'list-type',
  'continuation-token',
  'delimiter',
  'encoding-type',
  'fetch-owner',
  'marker',
  'max-keys',
  'prefix',
  'start-after',
]);
const MAX_KEYS = 1000;
const MAX_DELETE = 1000;
const MIN_PART_BYTES = 5 * 1024 * 1024;
const XML = { 'content-type': 'application/xml; charset=UTF-8' };

export class GcsXmlStandIn {
  /** HMAC keys: access ID → secret. */
  readonly hmacKeys = new Map<string, string>();
  readonly buckets = new Map<string, Map<string, XmlObject>>();
  /** Multipart uploads not completed or aborted, by upload ID. */
  readonly uploads = new Map<string, XmlUpload>();
  readonly requests: XmlRecorded[] = [];
  readonly violations: string[] = [];
  /** False: `POST /?delete` is `501 NotImplemented`, as GCS answered it before 2026. */
  multiObjectDelete = true;
  /** What a multi-object delete says of a key that is not there (see the module comment). */
  missingKeysInDeleteResult: 'error' | 'deleted' = 'error';
  endpoint = '';
  private server: Server | undefined;
  private generation = Date.UTC(2026, 0, 1) * 1000;

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const method = req.method ?? 'GET';
        void this.handle(method, req.url ?? '/', req.headers, Buffer.concat(chunks)).then(
          (reply) => {
            res.writeHead(reply.status, reply.headers ?? {});
            res.end(method === 'HEAD' ? undefined : reply.body);
          },
          (error: unknown) => {
            this.violations.push(`stand-in failure: ${String(error)}`);
            res.writeHead(500, XML);
            res.end(errorBody('InternalError', 'stand-in failure'));
          },
        );
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    const { port } = this.server.address() as { port: number };
    this.endpoint = `http://127.0.0.1:${port}`;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  addHmacKey(accessId: string, secret: string): void {
    this.hmacKeys.set(accessId, secret);
  }

  addBucket(name: string): Map<string, XmlObject> {
    const objects = new Map<string, XmlObject>();
    this.buckets.set(name, objects);
    return objects;
  }

  private async handle(
    method: string,
    url: string,
    headers: IncomingHttpHeaders,
    body: Buffer,
  ): Promise<Reply> {
    const [rawPath = '/', rawQuery = ''] = url.split(/\?(.*)/s);
    const query = parseQuery(rawQuery);
    const [, bucket = '', ...keyParts] = rawPath.split('/');
    const key =
      keyParts.length > 0 && keyParts.join('/') !== '' ? decodeURIComponent(keyParts.join('/')) : undefined;
    const request: XmlRequest = { method, path: rawPath, bucket, key, query, headers, body };
    const record: XmlRecorded = { method, path: rawPath, query, status: 0 };
    this.requests.push(record);
    const reply = (await this.authenticate(request, record)) ?? this.route(request);
    record.status = reply.status;
    return reply;
  }

  /** Recomputes the request's SigV4 signature with the access ID's secret; undefined when it matches. */
  private async authenticate(request: XmlRequest, record: XmlRecorded): Promise<Reply | undefined> {
    const authorization = String(request.headers.authorization ?? '');
    const match =
      /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]{64})$/.exec(
        authorization,
      );
    if (!match) {
      this.violations.push(`${request.method} ${request.path}: no AWS4-HMAC-SHA256 Authorization header`);
      return gcsError(403, 'AccessDenied', 'Access denied.', 'Anonymous caller does not have access.');
    }
    const [, accessId = '', date, region = '', service, signedHeaders = '', signature] = match;
    record.accessId = accessId;
    record.region = region;
    const secret = this.hmacKeys.get(accessId);
    if (secret === undefined) {
      return gcsError(403, 'InvalidAccessKeyId', 'The access ID you provided does not exist in our records.');
    }
    if (service !== 's3')
      this.violations.push(`${request.method} ${request.path}: signed for service ${service}`);
    const names = signedHeaders.split(';');
    const signed: Record<string, string> = {};
    for (const name of names) signed[name] = String(request.headers[name] ?? '');
    const payloadHash = signed['x-amz-content-sha256'];
    if (!payloadHash) {
      this.violations.push(`${request.method} ${request.path}: x-amz-content-sha256 is not signed`);
    } else if (payloadHash !== 'UNSIGNED-PAYLOAD' && payloadHash !== sha256Hex(request.body)) {
      this.violations.push(`${request.method} ${request.path}: x-amz-content-sha256 is not the body's hash`);
    }
    const amzDate = signed['x-amz-date'] ?? '';
    if (amzDate.slice(0, 8) !== date) return signatureMismatch();
    const signer = new SignatureV4({
      credentials: { accessKeyId: accessId, secretAccessKey: secret },
      region,
      service: 's3',
      sha256: NodeSha256,
      uriEscapePath: false,
    });
    const expected = await signer.sign(
      {
        method: request.method,
        protocol: 'http:',
        hostname: '127.0.0.1',
        path: request.path,
        query: request.query,
        headers: signed,
        body: request.body,
      },
      { signingDate: amzDateOf(amzDate), signableHeaders: new Set(names) },
    );
    const recomputed = /Signature=([0-9a-f]{64})/.exec(String(expected.headers.authorization))?.[1];
    return recomputed === signature ? undefined : signatureMismatch();
  }

  private route(r: XmlRequest): Reply {
    const objects = this.buckets.get(r.bucket);
    const names = Object.keys(r.query).filter((name) => name !== 'x-id');
    const only = (...allowed: string[]): Reply | undefined => {
      const unknown = names.filter((name) => !allowed.includes(name));
      if (unknown.length === 0) return undefined;
      this.violations.push(`${r.method} ${r.path}: unexpected query parameters ${unknown.join(', ')}`);
      return gcsError(
        400,
        'InvalidArgument',
        'Invalid argument.',
        `unknown parameters ${unknown.join(', ')}`,
      );
    };
    if (r.key === undefined) {
      if (r.method === 'HEAD' && names.length === 0) return { status: objects ? 200 : 404 };
      if (!objects) return noSuchBucket();
      if (r.method === 'GET' && r.query['list-type'] === '2') {
        return only(...LIST_QUERY) ?? this.list(r.bucket, objects, r.query);
      }
      if (r.method === 'POST' && 'delete' in r.query) return only('delete') ?? this.deleteMany(r, objects);
      return this.unknown(r);
    }
    if (!objects) return noSuchBucket();
    if (r.method === 'PUT' && 'uploadId' in r.query) return only('partNumber', 'uploadId') ?? this.putPart(r);
    if (r.method === 'POST' && 'uploads' in r.query) return only('uploads') ?? this.startUpload(r);
    if (r.method === 'POST' && 'uploadId' in r.query)
      return only('uploadId') ?? this.completeUpload(r, objects);
    if (r.method === 'DELETE' && 'uploadId' in r.query) {
      return only('uploadId') ?? (this.uploads.delete(r.query.uploadId!) ? { status: 204 } : noSuchUpload());
    }
    const refused = only();
    if (refused) return refused;
    const key = r.key;
    if (r.method === 'PUT' && r.headers['x-amz-copy-source'] !== undefined) return this.copy(r, objects);
    if (r.method === 'PUT') return this.put(r, objects);
    if (r.method === 'GET' || r.method === 'HEAD') {
      const object = objects.get(key);
      if (!object) return r.method === 'HEAD' ? { status: 404 } : noSuchKey();
      return served(object, r.headers.range);
    }
    if (r.method === 'DELETE') return objects.delete(key) ? { status: 204 } : noSuchKey();
    return this.unknown(r);
  }

  private unknown(r: XmlRequest): Reply {
    this.violations.push(
      `${r.method} ${r.path}?${Object.keys(r.query).join('&')}: not a request the stand-in serves`,
    );
    return gcsError(
      501,
      'NotImplemented',
      'A header or query you provided requested a function that is not implemented.',
    );
  }

  private list(bucket: string, objects: Map<string, XmlObject>, query: Record<string, string>): Reply {
    const prefix = query.prefix ?? '';
    const delimiter = query.delimiter ?? '';
    const maxKeys = Math.min(
      MAX_KEYS,
      query['max-keys'] === undefined ? MAX_KEYS : Number(query['max-keys']),
    );
    if (!Number.isInteger(maxKeys) || maxKeys < 0)
      return gcsError(400, 'InvalidArgument', 'Invalid argument.');
    let after = query['start-after'] ?? '';
    const token = query['continuation-token'];
    if (token !== undefined) {
      const name = tokenName(token);
      if (name === undefined)
        return gcsError(400, 'InvalidArgument', 'Invalid argument.', 'continuation-token');
      after = name;
    }
    const keys = [...objects.keys()]
      .filter((key) => key.startsWith(prefix) && byteCompare(key, after) > 0)
      .sort(byteCompare);
    const contents: string[] = [];
    const prefixes = new Set<string>();
    let last: string | undefined;
    let truncated = false;
    for (const key of keys) {
      const cut = delimiter ? key.indexOf(delimiter, prefix.length) : -1;
      const common = cut >= 0 ? key.slice(0, cut + delimiter.length) : undefined;
      if (common !== undefined && prefixes.has(common)) continue;
      if (contents.length + prefixes.size >= maxKeys) {
        truncated = true;
        break;
      }
      last = key;
      if (common !== undefined) {
        prefixes.add(common);
        // The next page starts past every name under this prefix.
        last = `${common}\u{10ffff}`;
        continue;
      }
      const object = objects.get(key)!;
      contents.push(
        `<Contents><Key>${escapeXml(key)}</Key><Generation>${object.generation}</Generation><MetaGeneration>1</MetaGeneration><LastModified>${object.lastModified.toISOString()}</LastModified><ETag>"${object.etag}"</ETag><Size>${object.bytes.length}</Size></Contents>`,
      );
    }
    const next =
      truncated && last !== undefined
        ? `<NextContinuationToken>${tokenOf(last)}</NextContinuationToken>`
        : '';
    const common = [...prefixes].map(
      (item) => `<CommonPrefixes><Prefix>${escapeXml(item)}</Prefix></CommonPrefixes>`,
    );
    return xml(
      `<ListBucketResult xmlns="http://doc.s3.amazonaws.com/2006-03-01"><Name>${escapeXml(bucket)}</Name><Prefix>${escapeXml(prefix)}</Prefix><MaxKeys>${maxKeys}</MaxKeys><KeyCount>${contents.length + prefixes.size}</KeyCount><IsTruncated>${truncated}</IsTruncated>${next}${contents.join('')}${common.join('')}</ListBucketResult>`,
    );
  }

  private put(r: XmlRequest, objects: Map<string, XmlObject>): Reply {
    const refused = badDigest(r);
    if (refused) return refused;
    const object = this.newObject(r.body, objectHeaders(r.headers), userMetadata(r.headers), md5Hex(r.body));
    objects.set(r.key!, object);
    return {
      status: 200,
      headers: { etag: `"${object.etag}"`, 'x-goog-generation': String(object.generation) },
    };
  }

  private copy(r: XmlRequest, objects: Map<string, XmlObject>): Reply {
    const source = String(r.headers['x-amz-copy-source']).replace(/^\//, '').split('?')[0]!;
    const slash = source.indexOf('/');
    const fromBucket = this.buckets.get(decodeURIComponent(source.slice(0, slash)));
    if (slash < 0 || !fromBucket) return noSuchBucket();
    const fromKey = decodeURIComponent(source.slice(slash + 1));
    const from = fromBucket.get(fromKey);
    if (!from) return noSuchKey();
    const replace = String(r.headers['x-amz-metadata-directive'] ?? 'COPY').toUpperCase() === 'REPLACE';
    if (!replace && fromBucket === objects && fromKey === r.key) {
      return gcsError(
        400,
        'InvalidArgument',
        'Invalid argument.',
        'a copy onto itself must replace the metadata',
      );
    }
    const headers = replace ? objectHeaders(r.headers) : { ...from.headers };
    const metadata = replace ? userMetadata(r.headers) : { ...from.metadata };
    const object = this.newObject(from.bytes, headers, metadata, from.etag);
    objects.set(r.key!, object);
    return xml(
      `<CopyObjectResult><LastModified>${object.lastModified.toISOString()}</LastModified><ETag>"${object.etag}"</ETag></CopyObjectResult>`,
    );
  }

  private deleteMany(r: XmlRequest, objects: Map<string, XmlObject>): Reply {
    if (!this.multiObjectDelete) {
      return gcsError(
        501,
        'NotImplemented',
        'A header or query you provided requested a function that is not implemented.',
        'POST ?delete is not implemented for objects.',
      );
    }
    const refused = badDigest(r);
    if (refused) return refused;
    const text = r.body.toString('utf8');
    const keys = [...text.matchAll(/<Key>([\s\S]*?)<\/Key>/g)].map((m) => unescapeXml(m[1]!));
    if (!/^\s*(<\?xml[^>]*>)?\s*<Delete[\s>]/.test(text) || keys.length === 0 || keys.length > MAX_DELETE) {
      return gcsError(400, 'MalformedXML', 'The XML you provided was not well-formed.');
    }
    const quiet = /<Quiet>\s*true\s*<\/Quiet>/i.test(text);
    const results: string[] = [];
    for (const key of keys) {
      const existed = objects.delete(key);
      if (!existed && this.missingKeysInDeleteResult === 'error') {
        results.push(
          `<Error><Key>${escapeXml(key)}</Key><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message></Error>`,
        );
      } else if (!quiet) {
        results.push(`<Deleted><Key>${escapeXml(key)}</Key></Deleted>`);
      }
    }
    return xml(
      `<DeleteResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">${results.join('')}</DeleteResult>`,
    );
  }

  private startUpload(r: XmlRequest): Reply {
    const uploadId = randomBytes(24).toString('base64url');
    this.uploads.set(uploadId, {
      bucket: r.bucket,
      key: r.key!,
      headers: objectHeaders(r.headers),
      metadata: userMetadata(r.headers),
      parts: new Map(),
    });
    return xml(
      `<InitiateMultipartUploadResult><Bucket>${escapeXml(r.bucket)}</Bucket><Key>${escapeXml(r.key!)}</Key><UploadId>${uploadId}</UploadId></InitiateMultipartUploadResult>`,
    );
  }

  private putPart(r: XmlRequest): Reply {
    const upload = this.uploads.get(r.query.uploadId!);
    if (!upload || upload.bucket !== r.bucket || upload.key !== r.key) return noSuchUpload();
    const partNumber = Number(r.query.partNumber);
    if (!Number.isInteger(partNumber) || partNumber < 1 || partNumber > 10_000) {
      return gcsError(400, 'InvalidArgument', 'Invalid argument.', 'partNumber');
    }
    const refused = badDigest(r);
    if (refused) return refused;
    const etag = md5Hex(r.body);
    upload.parts.set(partNumber, { bytes: r.body, etag });
    return { status: 200, headers: { etag: `"${etag}"` } };
  }

  private completeUpload(r: XmlRequest, objects: Map<string, XmlObject>): Reply {
    const upload = this.uploads.get(r.query.uploadId!);
    if (!upload || upload.bucket !== r.bucket || upload.key !== r.key) return noSuchUpload();
    const listed = [...r.body.toString('utf8').matchAll(/<Part>([\s\S]*?)<\/Part>/g)].map((m) => ({
      number: Number(/<PartNumber>(\d+)<\/PartNumber>/.exec(m[1]!)?.[1]),
      etag: unescapeXml(/<ETag>([^<]*)<\/ETag>/.exec(m[1]!)?.[1] ?? '').replace(/"/g, ''),
    }));
    if (listed.length === 0)
      return gcsError(400, 'MalformedXML', 'The XML you provided was not well-formed.');
    const parts: Buffer[] = [];
    for (const [index, item] of listed.entries()) {
      if (index > 0 && item.number <= listed[index - 1]!.number) {
        return gcsError(400, 'InvalidPartOrder', 'The list of parts was not in ascending order.');
      }
      const part = upload.parts.get(item.number);
      if (!part || part.etag !== item.etag)
        return gcsError(400, 'InvalidPart', 'One or more of the specified parts could not be found.');
      if (index < listed.length - 1 && part.bytes.length < MIN_PART_BYTES) {
        return gcsError(
          400,
          'EntityTooSmall',
          'Your proposed upload is smaller than the minimum allowed object size.',
        );
      }
      parts.push(part.bytes);
    }
    const md5s = Buffer.concat(listed.map((item) => Buffer.from(item.etag, 'hex')));
    const etag = `${md5Hex(md5s)}-${listed.length}`;
    objects.set(upload.key, this.newObject(Buffer.concat(parts), upload.headers, upload.metadata, etag));
    this.uploads.delete(r.query.uploadId!);
    return xml(
      `<CompleteMultipartUploadResult><Location>${this.endpoint}/${escapeXml(r.path.slice(1))}</Location><Bucket>${escapeXml(r.bucket)}</Bucket><Key>${escapeXml(upload.key)}</Key><ETag>"${etag}"</ETag></CompleteMultipartUploadResult>`,
    );
  }

  private newObject(
    bytes: Buffer,
    headers: Record<string, string>,
    metadata: Record<string, string>,
    etag: string,
  ): XmlObject {
    this.generation += 1;
    return { bytes, headers, metadata, etag, generation: this.generation, lastModified: new Date() };
  }
}

/** An object's GET or HEAD answer (a `bytes=a-b` range gives 206). */
function served(object: XmlObject, range: string | undefined): Reply {
  const headers: Record<string, string> = {
    ...object.headers,
    etag: `"${object.etag}"`,
    'last-modified': object.lastModified.toUTCString(),
    'accept-ranges': 'bytes',
    'x-goog-generation': String(object.generation),
    'x-goog-metageneration': '1',
    'x-goog-stored-content-length': String(object.bytes.length),
  };
  for (const [name, value] of Object.entries(object.metadata)) headers[`x-amz-meta-${name}`] = value;
  const match = range === undefined ? null : /^bytes=(\d+)-(\d*)$/.exec(range);
  if (match && object.bytes.length > 0) {
    const start = Number(match[1]);
    const end = Math.min(object.bytes.length - 1, match[2] ? Number(match[2]) : object.bytes.length - 1);
    const body = object.bytes.subarray(start, end + 1);
    headers['content-range'] = `bytes ${start}-${end}/${object.bytes.length}`;
    headers['content-length'] = String(body.length);
    return { status: 206, headers, body };
  }
  headers['content-length'] = String(object.bytes.length);
  return { status: 200, headers, body: object.bytes };
}

function objectHeaders(headers: IncomingHttpHeaders): Record<string, string> {
  const kept: Record<string, string> = {};
  for (const name of OBJECT_HEADERS) if (headers[name] !== undefined) kept[name] = String(headers[name]);
  return kept;
}

function userMetadata(headers: IncomingHttpHeaders): Record<string, string> {
  const metadata: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (name.startsWith('x-amz-meta-')) metadata[name.slice('x-amz-meta-'.length)] = String(value);
  }
  return metadata;
}

/** `400 BadDigest` when the request's Content-MD5 is not its body's. */
function badDigest(r: XmlRequest): Reply | undefined {
  const given = r.headers['content-md5'];
  if (given === undefined || given === createHash('md5').update(r.body).digest('base64')) return undefined;
  return gcsError(400, 'BadDigest', 'The Content-MD5 you specified did not match what we received.');
}

function gcsError(status: number, code: string, message: string, details?: string): Reply {
  return { status, headers: XML, body: errorBody(code, message, details) };
}

function errorBody(code: string, message: string, details?: string): string {
  const more = details === undefined ? '' : `<Details>${escapeXml(details)}</Details>`;
  return `<?xml version='1.0' encoding='UTF-8'?><Error><Code>${code}</Code><Message>${escapeXml(message)}</Message>${more}</Error>`;
}

function signatureMismatch(): Reply {
  return gcsError(
    403,
    'SignatureDoesNotMatch',
    'The request signature we calculated does not match the signature you provided. Check your Google secret key and signing method.',
  );
}

const noSuchBucket = () => gcsError(404, 'NoSuchBucket', 'The specified bucket does not exist.');
const noSuchKey = () => gcsError(404, 'NoSuchKey', 'The specified key does not exist.');
const noSuchUpload = () => gcsError(404, 'NoSuchUpload', 'The requested upload was not found.');

function xml(body: string): Reply {
  return { status: 200, headers: XML, body: `<?xml version='1.0' encoding='UTF-8'?>${body}` };
}

/** An opaque continuation token: the last name of the page, as GCS's encode a name (and generation). */
function tokenOf(name: string): string {
  return Buffer.from(JSON.stringify({ n: name }), 'utf8').toString('base64url');
}

function tokenName(token: string): string | undefined {
  try {
    const parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { n?: unknown };
    return typeof parsed.n === 'string' ? parsed.n : undefined;
  } catch {
    return undefined;
  }
}

function byteCompare(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

function parseQuery(raw: string): Record<string, string> {
  const query: Record<string, string> = {};
  for (const part of raw.split('&')) {
    if (part === '') continue;
    const [name = '', value = ''] = part.split(/=(.*)/s);
    query[decodeURIComponent(name)] = decodeURIComponent(value);
  }
  return query;
}

function amzDateOf(value: string): Date {
  return new Date(
    `${value.slice(0, 4)}-${value.slice(4, 6)}-${value.slice(6, 8)}T${value.slice(9, 11)}:${value.slice(11, 13)}:${value.slice(13, 15)}Z`,
  );
}

const ENTITY_OF: Record<string, string> = { '&': 'amp', '<': 'lt', '>': 'gt', '"': 'quot', "'": 'apos' };
const CHARACTER_OF: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&${ENTITY_OF[c]};`);
}

function unescapeXml(text: string): string {
  return text.replace(/&(#x[0-9a-f]+|#\d+|lt|gt|amp|quot|apos);/gi, (_, entity: string) => {
    if (entity[0] === '#') {
      const hex = entity[1] === 'x' || entity[1] === 'X';
      return String.fromCodePoint(Number.parseInt(entity.slice(hex ? 2 : 1), hex ? 16 : 10));
    }
    return CHARACTER_OF[entity.toLowerCase()]!;
  });
}

function md5Hex(bytes: Buffer): string {
  return createHash('md5').update(bytes).digest('hex');
}

function sha256Hex(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Node's crypto as the signer's hash constructor (a key makes it an HMAC). */
class NodeSha256 {
  private hash;
  constructor(secret?: string | ArrayBuffer | ArrayBufferView) {
    this.hash = secret === undefined ? createHash('sha256') : createHmac('sha256', bytesOf(secret));
  }
  update(data: string | ArrayBuffer | ArrayBufferView): void {
    this.hash.update(bytesOf(data));
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.hash.digest());
  }
  reset(): void {}
}

function bytesOf(data: string | ArrayBuffer | ArrayBufferView): Buffer {
  if (typeof data === 'string') return Buffer.from(data, 'utf8');
  if (ArrayBuffer.isView(data)) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return Buffer.from(data);
}

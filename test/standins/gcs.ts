/**
 * A stand-in Google Cloud Storage JSON API on 127.0.0.1, written from the JSON API reference
 * (objects.insert/get/list/delete/rewrite, buckets.insert/get/patch/getIamPolicy/setIamPolicy,
 * media downloads, multipart and resumable uploads), for the `gcs` driver's tests. It serves the
 * endpoints the driver uses and nothing else, and checks every request as GCS would:
 *
 * - `Authorization: Bearer <JWT>` signed by a registered service account (gcs-wire.ts); 401 else.
 * - paths with the object name percent-encoded as one segment (a raw `/` there is another path,
 *   which GCS does not serve: 404), the query parameters each endpoint takes (others are 400).
 * - uploads: multipart/related (JSON metadata, then the media) or the resumable protocol: a POST
 *   opens a session (`Location` answer), PUTs of chunks carry `Content-Range: bytes a-b/total|*`
 *   (non-final chunks a multiple of 256 KiB), 308 with `Range` until the last byte, then 200 with
 *   the object. An unfinished session is invisible; a request cut off stores none of its bytes.
 * - `md5Hash` in the metadata is checked against the bytes (400 as GCS words it); a name is
 *   checked against GCS's naming rules; the object resource's writable fields only.
 *
 * State is real: buckets with website/CORS/IAM config, objects with generations. `requests`
 * records every call, `uploads` the protocol each upload used, `violations` what GCS would refuse
 * for its shape that a test should never see.
 */
import { createHash, type KeyObject, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { GcsUploads, type UploadRecord } from './gcs-uploads.ts';
import {
  badObjectName,
  crc32c,
  gcsFailure,
  invalid,
  json,
  notFoundBucket,
  notFoundObject,
  publicKeyOf,
  type Reply,
  unauthenticated,
  verifyBearer,
} from './gcs-wire.ts';

export type { UploadRecord } from './gcs-uploads.ts';

export interface GcsObject {
  name: string;
  bytes: Buffer;
  generation: number;
  /** The resource's writable fields: contentType, cacheControl, …, metadata. */
  fields: Record<string, unknown>;
  created: Date;
}

export interface GcsBucket {
  name: string;
  project: string;
  objects: Map<string, GcsObject>;
  config: Record<string, unknown>;
  policy: { version: number; etag: string; bindings: Array<{ role: string; members: string[] }> };
  metageneration: number;
}

export interface Recorded {
  method: string;
  path: string;
  query: Record<string, string>;
  status: number;
  account: string | undefined;
}

const WRITABLE_FIELDS = new Set([
  'name',
  'contentType',
  'cacheControl',
  'contentEncoding',
  'contentDisposition',
  'contentLanguage',
  'metadata',
  'md5Hash',
  'crc32c',
]);
const BUCKET_PATCH_FIELDS = new Set(['website', 'cors', 'iamConfiguration']);
const COMMON_QUERY = new Set(['prettyPrint', 'alt', 'userProject', 'fields']);

export class GcsStandIn {
  readonly buckets = new Map<string, GcsBucket>();
  readonly accounts = new Map<string, KeyObject>();
  readonly requests: Recorded[] = [];
  readonly violations: string[] = [];
  /** Multipart and resumable uploads (gcs-uploads.ts). */
  readonly uploader: GcsUploads = new GcsUploads({
    baseUrl: () => this.baseUrl,
    violations: this.violations,
    buckets: this.buckets,
    commit: (bucket, name, fields, bytes) => this.commit(bucket, name, fields, bytes),
    badFields: (fields) => this.badFields(fields),
  });
  baseUrl = '';
  private server: Server | undefined;
  // Microseconds since the epoch, as GCS numbers generations (well below 2^53).
  private generation = Date.UTC(2023, 10, 14) * 1000;

  /** The protocol each upload used, in order. */
  get uploads(): UploadRecord[] {
    return this.uploader.records;
  }

  /** Resumable sessions not finished yet, by upload_id. */
  get sessions(): ReadonlyMap<string, unknown> {
    return this.uploader.sessions;
  }

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const reply = this.handle(req, Buffer.concat(chunks));
        const headers = {
          ...(reply.raw ? {} : { 'content-type': 'application/json; charset=UTF-8' }),
          ...reply.headers,
        };
        res.writeHead(reply.status, headers);
        if (reply.raw) res.end(req.method === 'HEAD' ? undefined : reply.raw);
        else res.end(reply.body === undefined ? '' : JSON.stringify(reply.body));
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    const { port } = this.server.address() as { port: number };
    this.baseUrl = `http://127.0.0.1:${port}`;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  /** A service account whose JWTs the stand-in accepts (the public half of the test's key). */
  addAccount(email: string, publicKeyPem: string): void {
    this.accounts.set(email, publicKeyOf(publicKeyPem));
  }

  addBucket(name: string, project = 'outlast-test'): GcsBucket {
    const bucket: GcsBucket = {
      name,
      project,
      objects: new Map(),
      config: { iamConfiguration: { uniformBucketLevelAccess: { enabled: false } } },
      policy: {
        version: 1,
        etag: 'CAE=',
        bindings: [
          { role: 'roles/storage.legacyBucketOwner', members: [`projectOwner:${project}`] },
          { role: 'roles/storage.legacyBucketReader', members: [`projectViewer:${project}`] },
        ],
      },
      metageneration: 1,
    };
    this.buckets.set(name, bucket);
    return bucket;
  }

  private handle(req: IncomingMessage, body: Buffer): Reply {
    const url = new URL(req.url ?? '/', 'http://stand-in');
    const method = req.method ?? 'GET';
    const query = Object.fromEntries(url.searchParams);
    const identity = verifyBearer(req.headers.authorization, this.accounts, `${this.baseUrl}/`);
    const record: Recorded = { method, path: url.pathname, query, status: 0, account: undefined };
    this.requests.push(record);
    let reply: Reply;
    // GCS: the session URI of a resumable upload is itself the credential; its PUTs need no token.
    const session =
      method === 'PUT' && url.pathname.startsWith('/upload/') && this.sessions.has(query.upload_id ?? '');
    if (session) {
      reply = this.route(method, url, query, req, body);
    } else if (method === 'GET' && !/^\/(storage|upload|download)\//.test(url.pathname)) {
      reply = this.publicRead(url.pathname, req);
    } else if ('why' in identity) {
      reply = unauthenticated();
    } else {
      record.account = identity.email;
      try {
        reply = this.route(method, url, query, req, body);
      } catch (error) {
        reply = gcsFailure(500, 'backendError', `stand-in bug: ${String(error)}`);
      }
    }
    record.status = reply.status;
    return reply;
  }

  private route(
    method: string,
    url: URL,
    query: Record<string, string>,
    req: IncomingMessage,
    body: Buffer,
  ): Reply {
    // The raw path: object names are one percent-encoded segment, so a raw `/` does not match.
    const path = url.pathname;
    const only = (...names: string[]) => this.onlyQuery(query, names);
    if (path === '/storage/v1/b' && method === 'POST')
      return only('project') ?? this.createBucket(query, body);
    const m1 = /^\/storage\/v1\/b\/([^/]+)$/.exec(path);
    if (m1) {
      const bucket = this.buckets.get(decodeURIComponent(m1[1]!));
      if (method === 'GET')
        return (
          only('projection') ??
          (bucket ? { status: 200, body: this.bucketResource(bucket) } : notFoundBucket())
        );
      if (method === 'PATCH')
        return only('projection') ?? (bucket ? this.patchBucket(bucket, body) : notFoundBucket());
    }
    const m2 = /^\/storage\/v1\/b\/([^/]+)\/iam$/.exec(path);
    if (m2) {
      const bucket = this.buckets.get(decodeURIComponent(m2[1]!));
      if (!bucket) return notFoundBucket();
      if (method === 'GET')
        return only('optionsRequestedPolicyVersion') ?? { status: 200, body: this.policyResource(bucket) };
      if (method === 'PUT') return only() ?? this.setPolicy(bucket, body);
    }
    const m3 = /^\/storage\/v1\/b\/([^/]+)\/o$/.exec(path);
    if (m3 && method === 'GET') {
      const bucket = this.buckets.get(decodeURIComponent(m3[1]!));
      return (
        only('prefix', 'maxResults', 'pageToken') ?? (bucket ? this.list(bucket, query) : notFoundBucket())
      );
    }
    const m4 = /^\/(?:download\/)?storage\/v1\/b\/([^/]+)\/o\/([^/]+)$/.exec(path);
    if (m4) {
      const bucket = this.buckets.get(decodeURIComponent(m4[1]!));
      if (!bucket) return notFoundBucket();
      const name = decodeURIComponent(m4[2]!);
      const object = bucket.objects.get(name);
      const generation = query.generation;
      const found =
        object && (generation === undefined || String(object.generation) === generation) ? object : undefined;
      if (method === 'GET') {
        const bad = only('alt', 'generation', 'projection');
        if (bad) return bad;
        if (!found) return notFoundObject(bucket.name, name);
        if (query.alt === 'media') return this.media(found, req);
        if (path.startsWith('/download/')) return invalid('Downloads need alt=media.');
        return { status: 200, body: this.objectResource(bucket, found) };
      }
      if (method === 'DELETE') {
        const bad = only('generation');
        if (bad) return bad;
        if (!found) return notFoundObject(bucket.name, name);
        bucket.objects.delete(name);
        return { status: 204 };
      }
    }
    const rewrite = /^\/storage\/v1\/b\/([^/]+)\/o\/([^/]+)\/rewriteTo\/b\/([^/]+)\/o\/([^/]+)$/.exec(path);
    if (rewrite && method === 'POST') {
      return (
        only('rewriteToken', 'sourceGeneration') ??
        this.rewrite(rewrite.slice(1).map(decodeURIComponent), body)
      );
    }
    const m5 = /^\/upload\/storage\/v1\/b\/([^/]+)\/o$/.exec(path);
    if (m5) {
      const bucket = this.buckets.get(decodeURIComponent(m5[1]!));
      if (method === 'POST' && query.uploadType === 'multipart')
        return (
          only('uploadType', 'name') ??
          (bucket ? this.uploader.multipart(bucket, query, req, body) : notFoundBucket())
        );
      if (method === 'POST' && query.uploadType === 'resumable')
        return (
          only('uploadType', 'name') ??
          (bucket ? this.uploader.openSession(bucket, query, req, body) : notFoundBucket())
        );
      if (method === 'PUT' && query.uploadType === 'resumable' && query.upload_id)
        return this.uploader.putChunk(query.upload_id, req, body);
      return invalid(`Upload type ${JSON.stringify(query.uploadType)} with ${method} is not supported here.`);
    }
    this.violations.push(`${method} ${path}: no such endpoint`);
    return gcsFailure(404, 'notFound', 'Not Found');
  }

  /**
   * `GET /<bucket>/<object>` without a token, as https://storage.googleapis.com serves a bucket
   * whose IAM policy grants allUsers roles/storage.objectViewer (403 otherwise).
   */
  private publicRead(path: string, req: IncomingMessage): Reply {
    const [, bucketName = '', ...rest] = path.split('/');
    const bucket = this.buckets.get(decodeURIComponent(bucketName));
    if (!bucket) return notFoundBucket();
    const open = bucket.policy.bindings.some(
      (binding) => binding.role === 'roles/storage.objectViewer' && binding.members.includes('allUsers'),
    );
    if (!open)
      return gcsFailure(403, 'forbidden', 'Anonymous caller does not have storage.objects.get access.');
    const object = bucket.objects.get(rest.map(decodeURIComponent).join('/'));
    return object
      ? this.media(object, req)
      : gcsFailure(404, 'notFound', 'The specified key does not exist.');
  }

  private onlyQuery(query: Record<string, string>, names: string[]): Reply | undefined {
    const unknown = Object.keys(query).filter((name) => !names.includes(name) && !COMMON_QUERY.has(name));
    if (unknown.length === 0) return undefined;
    this.violations.push(`unexpected query parameters ${unknown.join(', ')}`);
    return invalid(`Invalid argument: unknown parameter ${unknown[0]}`);
  }

  private createBucket(query: Record<string, string>, body: Buffer): Reply {
    if (!query.project) return gcsFailure(400, 'required', 'Required parameter: project');
    const resource = json(body);
    const name = typeof resource?.name === 'string' ? resource.name : '';
    if (!/^[a-z0-9][a-z0-9._-]{1,61}[a-z0-9]$/.test(name)) return invalid('Invalid bucket name');
    if (this.buckets.has(name)) {
      return gcsFailure(
        409,
        'conflict',
        'Your previous request to create the named bucket succeeded and you already own it.',
      );
    }
    const bucket = this.addBucket(name, query.project);
    const { name: _name, ...config } = resource as Record<string, unknown>;
    this.applyPatch(bucket, config);
    return { status: 200, body: this.bucketResource(bucket) };
  }

  private patchBucket(bucket: GcsBucket, body: Buffer): Reply {
    const patch = json(body);
    if (!patch) return invalid('The request body is not JSON.');
    const unknown = Object.keys(patch).filter((key) => !BUCKET_PATCH_FIELDS.has(key));
    if (unknown.length) {
      this.violations.push(`bucket patch of ${unknown.join(', ')}`);
      return invalid(`Unexpected fields ${unknown.join(', ')}`);
    }
    this.applyPatch(bucket, patch);
    return { status: 200, body: this.bucketResource(bucket) };
  }

  private applyPatch(bucket: GcsBucket, patch: Record<string, unknown>): void {
    for (const [key, value] of Object.entries(patch)) {
      if (value === null) delete bucket.config[key];
      else if (key === 'iamConfiguration')
        bucket.config[key] = { ...(bucket.config[key] as object), ...(value as object) };
      else if (key === 'website') {
        const next = Object.fromEntries(Object.entries(value as object).filter(([, item]) => item !== null));
        bucket.config[key] = next;
      } else bucket.config[key] = value;
    }
    bucket.metageneration++;
  }

  private bucketResource(bucket: GcsBucket): Record<string, unknown> {
    return {
      kind: 'storage#bucket',
      id: bucket.name,
      name: bucket.name,
      projectNumber: '123456789012',
      metageneration: String(bucket.metageneration),
      location: 'US',
      storageClass: 'STANDARD',
      etag: `CA${bucket.metageneration}=`,
      timeCreated: new Date(0).toISOString(),
      updated: new Date().toISOString(),
      ...bucket.config,
    };
  }

  private policyResource(bucket: GcsBucket): Record<string, unknown> {
    return { kind: 'storage#policy', resourceId: `projects/_/buckets/${bucket.name}`, ...bucket.policy };
  }

  private setPolicy(bucket: GcsBucket, body: Buffer): Reply {
    const policy = json(body) as
      | { etag?: string; bindings?: Array<{ role: string; members: string[] }> }
      | undefined;
    if (!policy || !Array.isArray(policy.bindings)) return invalid('A policy needs bindings.');
    if (policy.etag !== undefined && policy.etag !== bucket.policy.etag) {
      return gcsFailure(412, 'conditionNotMet', 'Precondition Failed');
    }
    for (const binding of policy.bindings) {
      if (typeof binding.role !== 'string' || !Array.isArray(binding.members))
        return invalid('A binding needs role and members.');
    }
    bucket.policy = { version: 1, etag: `CA${randomBytes(3).toString('hex')}=`, bindings: policy.bindings };
    return { status: 200, body: this.policyResource(bucket) };
  }

  private list(bucket: GcsBucket, query: Record<string, string>): Reply {
    const max = query.maxResults === undefined ? 1000 : Number(query.maxResults);
    if (!Number.isInteger(max) || max < 1) return invalid(`Invalid maxResults ${query.maxResults}`);
    const prefix = query.prefix ?? '';
    // Lexicographic order of the names' UTF-8 bytes, as GCS lists.
    const names = [...bucket.objects.keys()]
      .filter((name) => name.startsWith(prefix))
      .sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    const after =
      query.pageToken === undefined ? undefined : Buffer.from(query.pageToken, 'base64url').toString('utf8');
    const rest =
      after === undefined
        ? names
        : names.filter((name) => Buffer.compare(Buffer.from(name), Buffer.from(after)) > 0);
    const page = rest.slice(0, Math.min(1000, max));
    const body: Record<string, unknown> = { kind: 'storage#objects' };
    if (page.length) body.items = page.map((name) => this.objectResource(bucket, bucket.objects.get(name)!));
    if (rest.length > page.length) body.nextPageToken = Buffer.from(page.at(-1)!).toString('base64url');
    return { status: 200, body };
  }

  private media(object: GcsObject, req: IncomingMessage): Reply {
    const encoding = object.fields.contentEncoding as string | undefined;
    if (encoding === 'gzip' && !/\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''))) {
      this.violations.push(
        `download of gzip-encoded ${object.name} without Accept-Encoding: gzip (GCS would transcode)`,
      );
    }
    const headers: Record<string, string> = {
      'content-type': (object.fields.contentType as string | undefined) ?? 'application/octet-stream',
      'content-length': String(object.bytes.length),
      'x-goog-generation': String(object.generation),
      'x-goog-metageneration': '1',
      'x-goog-hash': `crc32c=${crc32c(object.bytes)},md5=${md5(object.bytes)}`,
      'x-goog-stored-content-length': String(object.bytes.length),
      'x-goog-stored-content-encoding': encoding ?? 'identity',
    };
    for (const [field, header] of [
      ['cacheControl', 'cache-control'],
      ['contentEncoding', 'content-encoding'],
      ['contentDisposition', 'content-disposition'],
      ['contentLanguage', 'content-language'],
    ] as const) {
      const value = object.fields[field];
      if (typeof value === 'string') headers[header] = value;
    }
    return { status: 200, headers, raw: object.bytes };
  }

  private rewrite([sourceBucket, sourceName, targetBucket, targetName]: string[], body: Buffer): Reply {
    const from = this.buckets.get(sourceBucket!);
    const to = this.buckets.get(targetBucket!);
    if (!from || !to) return notFoundBucket();
    const source = from.objects.get(sourceName!);
    if (!source) return notFoundObject(from.name, sourceName!);
    const bad = badObjectName(targetName!);
    if (bad) return invalid(bad);
    const override = body.length ? json(body) : {};
    if (!override) return invalid('The request body is not JSON.');
    const unknown = Object.keys(override).filter((key) => !WRITABLE_FIELDS.has(key));
    if (unknown.length) return invalid(`Unexpected fields ${unknown.join(', ')}`);
    // Without a resource in the body, the destination keeps the source's metadata.
    const fields = Object.keys(override).length ? override : structuredClone(source.fields);
    const object = this.store(to, targetName!, Buffer.from(source.bytes), fields);
    return {
      status: 200,
      body: {
        kind: 'storage#rewriteResponse',
        totalBytesRewritten: String(object.bytes.length),
        objectSize: String(object.bytes.length),
        done: true,
        resource: this.objectResource(to, object),
      },
    };
  }

  private badFields(fields: Record<string, unknown>): string | undefined {
    const unknown = Object.keys(fields).filter((key) => !WRITABLE_FIELDS.has(key));
    if (unknown.length) {
      this.violations.push(`object fields ${unknown.join(', ')}`);
      return `Unexpected object fields ${unknown.join(', ')}`;
    }
    const metadata = fields.metadata;
    if (metadata !== undefined && (typeof metadata !== 'object' || metadata === null))
      return 'metadata must be a map.';
    for (const value of Object.values((metadata ?? {}) as object)) {
      if (typeof value !== 'string') return 'Custom metadata values are strings.';
    }
    return undefined;
  }

  /** Stores an upload's object once its bytes are whole, after GCS's checks. */
  private commit(bucket: GcsBucket, name: string, fields: Record<string, unknown>, bytes: Buffer): Reply {
    const bad = badObjectName(name) ?? this.badFields(fields);
    if (bad) return invalid(bad);
    const { md5Hash, crc32c: wantedCrc, name: _name, ...kept } = fields;
    const actual = md5(bytes);
    if (typeof md5Hash === 'string' && md5Hash !== actual) {
      return invalid(`Provided MD5 hash "${md5Hash}" doesn't match calculated MD5 hash "${actual}".`);
    }
    if (typeof wantedCrc === 'string' && wantedCrc !== crc32c(bytes)) {
      return invalid(`Provided CRC32C "${wantedCrc}" doesn't match calculated CRC32C "${crc32c(bytes)}".`);
    }
    const object = this.store(bucket, name, bytes, kept);
    return { status: 200, body: this.objectResource(bucket, object) };
  }

  private store(bucket: GcsBucket, name: string, bytes: Buffer, fields: Record<string, unknown>): GcsObject {
    const object: GcsObject = { name, bytes, generation: this.generation++, fields, created: new Date() };
    bucket.objects.set(name, object);
    return object;
  }

  objectResource(bucket: GcsBucket, object: GcsObject): Record<string, unknown> {
    const encoded = encodeURIComponent(object.name);
    return {
      kind: 'storage#object',
      id: `${bucket.name}/${object.name}/${object.generation}`,
      selfLink: `${this.baseUrl}/storage/v1/b/${bucket.name}/o/${encoded}`,
      mediaLink: `${this.baseUrl}/download/storage/v1/b/${bucket.name}/o/${encoded}?generation=${object.generation}&alt=media`,
      name: object.name,
      bucket: bucket.name,
      generation: String(object.generation),
      metageneration: '1',
      storageClass: 'STANDARD',
      size: String(object.bytes.length),
      md5Hash: md5(object.bytes),
      crc32c: crc32c(object.bytes),
      etag: `C${object.generation.toString(36)}EAE=`,
      timeCreated: object.created.toISOString(),
      updated: object.created.toISOString(),
      timeStorageClassUpdated: object.created.toISOString(),
      ...structuredClone(object.fields),
    };
  }
}

function md5(bytes: Buffer): string {
  return createHash('md5').update(bytes).digest('base64');
}

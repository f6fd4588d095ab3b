// What the `s3` driver sends, where Swift's S3 API cannot show it (website, policy, CORS, Block
// Public Access, SigV4 details): a stand-in S3 on 127.0.0.1, written from the S3 API reference,
// that checks every request's SigV4 signature by recomputing it, keeps a bucket's configuration
// (so a second setup run can say `already`) and records the requests for the tests to inspect.
import assert from 'node:assert/strict';
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import { SignatureV4 } from '@smithy/signature-v4';
import { isOutlastError, type OutlastError } from '../../src/errors.ts';
import type { SetupOptions, StorageDriver } from '../../src/storage/driver.ts';
import { createS3Driver, type S3StorageConfig } from '../../src/storage/drivers/s3.ts';
import { createS3Client } from '../../src/storage/drivers/s3-client.ts';
import { createDirectPut } from '../../src/storage/drivers/s3-put-direct.ts';
import { BUFFER_LIMIT, MULTIPART_THRESHOLD, PART_SIZE } from '../../src/storage/drivers/s3-upload.ts';

const ACCESS_KEY_ID = 'AKIDOUTLASTTEST';
const SECRET = 'stand-in-secret-0123456789';
const ALL_USERS = 'http://acs.amazonaws.com/groups/global/AllUsers';

interface Recorded {
  method: string;
  /** The path as sent, percent-encoding included. */
  path: string;
  bucket: string;
  /** The decoded key, when the path has one. */
  key?: string;
  query: Record<string, string>;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

interface Reply {
  status: number;
  headers?: Record<string, string>;
  body?: string;
}

/** Node's crypto as the signer's hash constructor (a key makes it an HMAC). */
class Sha256 {
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

function errorXml(code: string, message: string): Reply {
  const body = `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>${message}</Message><RequestId>standin</RequestId></Error>`;
  const status = STATUS_OF[code] ?? 400;
  return { status, headers: { 'content-type': 'application/xml' }, body };
}

const STATUS_OF: Record<string, number> = {
  SignatureDoesNotMatch: 403,
  InvalidAccessKeyId: 403,
  AccessDenied: 403,
  NoSuchBucket: 404,
  NoSuchKey: 404,
  NoSuchBucketPolicy: 404,
  NoSuchWebsiteConfiguration: 404,
  NoSuchCORSConfiguration: 404,
  NotImplemented: 501,
  SlowDown: 503,
  InternalError: 500,
};

/** One bucket's S3, just enough for the driver: objects are not kept, configurations are. */
class StandInS3 {
  readonly requests: Recorded[] = [];
  /** The secret the stand-in signs with; change it to see the driver's signature refused. */
  secret = SECRET;
  bucketExists = true;
  /** Bucket sub-resources this store answers NotImplemented for, as Swift's s3api does for
   * `policy`, `website` and `cors`. */
  notImplemented = new Set<string>();
  /** AWS Block Public Access (BlockPublicPolicy) on the bucket. */
  blockPublicPolicy = false;
  policy: string | undefined;
  website: string | undefined;
  cors: string | undefined;
  publicAcl = false;
  /** Per-key errors DeleteObjects reports, by key. */
  deleteErrors: Record<string, string> = {};
  /** Answers given, in order, to the next requests instead of the normal ones (after the signature check). */
  nextReplies: Reply[] = [];
  private server: Server | undefined;
  endpoint = '';

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        void this.handle(req.method ?? 'GET', req.url ?? '/', req.headers, Buffer.concat(chunks)).then(
          (reply) => {
            res.writeHead(reply.status, reply.headers ?? {});
            res.end(req.method === 'HEAD' ? undefined : reply.body);
          },
          (error: unknown) => {
            res.writeHead(500);
            res.end(String(error));
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
    await new Promise<void>((resolve) => this.server?.close(() => resolve()));
  }

  /** The recorded requests with this query parameter (e.g. `website`). */
  withQuery(name: string, method?: string): Recorded[] {
    return this.requests.filter((r) => name in r.query && (method === undefined || r.method === method));
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
    const key = keyParts.length ? decodeURIComponent(keyParts.join('/')) : undefined;
    const recorded: Recorded = {
      method,
      path: rawPath,
      bucket,
      query,
      headers,
      body,
      ...(key ? { key } : {}),
    };
    this.requests.push(recorded);
    const refused = await this.checkSignature(recorded);
    if (refused) return refused;
    const next = this.nextReplies.shift();
    if (next) return next;
    return this.route(recorded);
  }

  /** Recomputes the SigV4 signature over what arrived; a mismatch is S3's 403. */
  private async checkSignature(request: Recorded): Promise<Reply | undefined> {
    const authorization = String(request.headers.authorization ?? '');
    const match =
      /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/s3\/aws4_request, ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]{64})$/.exec(
        authorization,
      );
    if (!match) return errorXml('AccessDenied', 'no SigV4 Authorization header');
    const [, keyId, , region, signedHeaders, signature] = match;
    if (keyId !== ACCESS_KEY_ID) {
      return errorXml(
        'InvalidAccessKeyId',
        'The AWS Access Key Id you provided does not exist in our records.',
      );
    }
    const names = signedHeaders!.split(';');
    const signed: Record<string, string> = {};
    for (const name of names) signed[name] = String(request.headers[name] ?? '');
    const payloadHash = signed['x-amz-content-sha256'];
    assert.ok(payloadHash, 'x-amz-content-sha256 is signed');
    if (payloadHash !== 'UNSIGNED-PAYLOAD') {
      assert.equal(payloadHash, createHash('sha256').update(request.body).digest('hex'), 'the payload hash');
    }
    const amzDate = signed['x-amz-date']!;
    const signingDate = new Date(
      `${amzDate.slice(0, 4)}-${amzDate.slice(4, 6)}-${amzDate.slice(6, 8)}T${amzDate.slice(9, 11)}:${amzDate.slice(11, 13)}:${amzDate.slice(13, 15)}Z`,
    );
    const signer = new SignatureV4({
      credentials: { accessKeyId: ACCESS_KEY_ID, secretAccessKey: this.secret },
      region: region!,
      service: 's3',
      sha256: Sha256,
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
      { signingDate, signableHeaders: new Set(names) },
    );
    const expectedSignature = /Signature=([0-9a-f]{64})/.exec(String(expected.headers.authorization))?.[1];
    if (expectedSignature !== signature) {
      return errorXml(
        'SignatureDoesNotMatch',
        'The request signature we calculated does not match the signature you provided. Check your key and signing method.',
      );
    }
    return undefined;
  }

  private route(r: Recorded): Reply {
    const ok: Reply = { status: 200, headers: { 'content-type': 'application/xml' }, body: '' };
    const xml = (body: string): Reply => ({
      status: 200,
      headers: { 'content-type': 'application/xml' },
      body,
    });
    if (r.key === undefined) {
      const plain = Object.keys(r.query).length === 0;
      if (r.method === 'HEAD' && plain) return { status: this.bucketExists ? 200 : 404 };
      if (r.method === 'PUT' && plain) {
        this.bucketExists = true;
        return ok;
      }
      if (!this.bucketExists) return errorXml('NoSuchBucket', 'The specified bucket does not exist');
      if (Object.keys(r.query).some((name) => this.notImplemented.has(name))) {
        return errorXml('NotImplemented', 'The requested resource is not implemented');
      }
      if ('policy' in r.query) {
        if (r.method === 'GET') {
          return this.policy === undefined
            ? errorXml('NoSuchBucketPolicy', 'The bucket policy does not exist')
            : { status: 200, headers: { 'content-type': 'application/json' }, body: this.policy };
        }
        if (this.blockPublicPolicy) {
          return errorXml(
            'AccessDenied',
            `User: arn:aws:iam::123456789012:user/deploy is not authorized to perform: s3:PutBucketPolicy on resource: "arn:aws:s3:::${r.bucket}" because public policies are blocked by the BlockPublicPolicy block public access setting.`,
          );
        }
        this.policy = r.body.toString('utf8');
        return { status: 204 };
      }
      if ('acl' in r.query) {
        if (r.method === 'PUT') {
          this.publicAcl = r.headers['x-amz-acl'] === 'public-read';
          return ok;
        }
        const publicGrant = this.publicAcl
          ? `<Grant><Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="Group"><URI>${ALL_USERS}</URI></Grantee><Permission>READ</Permission></Grant>`
          : '';
        return xml(
          `<AccessControlPolicy><Owner><ID>owner</ID></Owner><AccessControlList><Grant><Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="CanonicalUser"><ID>owner</ID></Grantee><Permission>FULL_CONTROL</Permission></Grant>${publicGrant}</AccessControlList></AccessControlPolicy>`,
        );
      }
      if ('website' in r.query) {
        if (r.method === 'PUT') {
          this.website = r.body.toString('utf8');
          return ok;
        }
        return this.website === undefined
          ? errorXml(
              'NoSuchWebsiteConfiguration',
              'The specified bucket does not have a website configuration',
            )
          : xml(this.website);
      }
      if ('cors' in r.query) {
        if (r.method === 'PUT') {
          this.cors = r.body.toString('utf8');
          return ok;
        }
        return this.cors === undefined
          ? errorXml('NoSuchCORSConfiguration', 'The CORS configuration does not exist')
          : xml(this.cors);
      }
      if ('delete' in r.query && r.method === 'POST') {
        const keys = [...r.body.toString('utf8').matchAll(/<Key>([^<]*)<\/Key>/g)].map((m) =>
          unescapeXml(m[1]!),
        );
        const errors = keys
          .filter((key) => this.deleteErrors[key])
          .map(
            (key) =>
              `<Error><Key>${escapeXml(key)}</Key><Code>${this.deleteErrors[key]}</Code><Message>refused</Message></Error>`,
          );
        return xml(`<DeleteResult>${errors.join('')}</DeleteResult>`);
      }
      return errorXml('NotImplemented', 'not in the stand-in');
    }
    if (!this.bucketExists) return errorXml('NoSuchBucket', 'The specified bucket does not exist');
    if (r.method === 'POST' && 'uploads' in r.query) {
      return xml(
        `<InitiateMultipartUploadResult><Bucket>${r.bucket}</Bucket><Key>${escapeXml(r.key)}</Key><UploadId>upload-1</UploadId></InitiateMultipartUploadResult>`,
      );
    }
    if (r.method === 'POST' && 'uploadId' in r.query) {
      return xml(
        '<CompleteMultipartUploadResult><ETag>"0123456789abcdef0123456789abcdef-3"</ETag></CompleteMultipartUploadResult>',
      );
    }
    if (r.method === 'PUT' && r.headers['x-amz-copy-source']) {
      return xml('<CopyObjectResult><ETag>"0123456789abcdef0123456789abcdef"</ETag></CopyObjectResult>');
    }
    if (r.method === 'PUT') {
      const etag = createHash('md5').update(r.body).digest('hex');
      return { status: 200, headers: { etag: `"${etag}"` } };
    }
    if (r.method === 'HEAD') return { status: 404 };
    return errorXml('NoSuchKey', 'The specified key does not exist.');
  }
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

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function unescapeXml(text: string): string {
  return text
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&amp;/g, '&');
}

function md5Base64(body: Buffer): string {
  return createHash('md5').update(body).digest('base64');
}

function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** An x-amz-date (20240501T100000Z) as milliseconds. */
function amzTime(value: string): number {
  const [, y, mo, d, h, mi, se] = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value) ?? [];
  return Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(se));
}

async function rejection(promise: Promise<unknown>): Promise<OutlastError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  assert.ok(isOutlastError(error), `expected an OutlastError, got ${String(error)}`);
  return error;
}

/** The request has no flexible-checksum header and no aws-chunked body. */
function assertPlainIntegrity(request: Recorded): void {
  const names = Object.keys(request.headers);
  assert.ok(
    !names.some((name) => /^x-amz-checksum-|^x-amz-sdk-checksum-algorithm$/.test(name)),
    names.join(),
  );
  assert.notEqual(request.headers['content-encoding'], 'aws-chunked');
  assert.equal(request.headers['x-amz-decoded-content-length'], undefined);
}

describe('s3 driver requests (stand-in S3 with SigV4 checks)', () => {
  const standIn = new StandInS3();
  const bucket = 'www.example.com';
  let scratch: string;
  const drivers: StorageDriver[] = [];
  const documents: SetupOptions = {
    indexDocument: 'index.html',
    errorDocument: '404.html',
    create: true,
    dryRun: false,
    cors: {
      allowedOrigins: ['https://example.com'],
      allowedMethods: ['GET', 'HEAD'],
      allowedHeaders: ['*'],
      maxAgeSeconds: 600,
    },
  };

  function driver(overrides: Partial<S3StorageConfig> = {}): StorageDriver {
    const created = createS3Driver({
      type: 's3',
      bucket,
      region: 'us-east-1',
      endpoint: standIn.endpoint,
      forcePathStyle: true,
      credentials: { accessKeyId: ACCESS_KEY_ID, secretAccessKey: SECRET },
      ...overrides,
    });
    drivers.push(created);
    return created;
  }

  before(async () => {
    await standIn.start();
    scratch = await mkdtemp(join(tmpdir(), 'outlast-s3-requests-'));
  });
  after(async () => {
    for (const created of drivers) await created.close?.();
    await standIn.stop();
    await rm(scratch, { recursive: true, force: true });
  });
  beforeEach(() => {
    standIn.requests.length = 0;
    Object.assign(standIn, {
      secret: SECRET,
      bucketExists: true,
      notImplemented: new Set<string>(),
      blockPublicPolicy: false,
      policy: undefined,
      website: undefined,
      cors: undefined,
      publicAcl: false,
      deleteErrors: {},
      nextReplies: [],
    });
  });

  it('sets up an AWS-like bucket: policy, website, CORS; a second run says already', async () => {
    standIn.bucketExists = false;
    const s3 = driver();
    const steps = await s3.setup!(documents);
    assert.deepEqual(
      steps.map((step) => [step.step, step.status]),
      [
        ['create bucket', 'done'],
        ['public read', 'done'],
        ['website', 'done'],
        ['cors', 'done'],
      ],
    );

    const create = standIn.requests.find(
      (r) => r.method === 'PUT' && r.key === undefined && !Object.keys(r.query).length,
    );
    assert.ok(create, 'CreateBucket');
    assert.doesNotMatch(
      create.body.toString(),
      /LocationConstraint/,
      'us-east-1 takes no LocationConstraint',
    );

    const [policyPut] = standIn.withQuery('policy', 'PUT');
    assert.ok(policyPut, 'PutBucketPolicy');
    const policy = JSON.parse(policyPut.body.toString('utf8')) as {
      Statement: Array<Record<string, unknown>>;
    };
    assert.deepEqual(policy.Statement, [
      {
        Sid: 'OutlastPublicRead',
        Effect: 'Allow',
        Principal: '*',
        Action: 's3:GetObject',
        Resource: `arn:aws:s3:::${bucket}/*`,
      },
    ]);

    const [websitePut] = standIn.withQuery('website', 'PUT');
    assert.ok(websitePut, 'PutBucketWebsite');
    // The element order inside WebsiteConfiguration does not matter to S3 (the SDK writes the
    // ErrorDocument first).
    const website = websitePut.body.toString('utf8');
    assert.match(
      website,
      /^<\?xml[^>]*\?><WebsiteConfiguration xmlns="http:\/\/s3\.amazonaws\.com\/doc\/2006-03-01\/">/,
    );
    assert.ok(website.includes('<IndexDocument><Suffix>index.html</Suffix></IndexDocument>'), website);
    assert.ok(website.includes('<ErrorDocument><Key>404.html</Key></ErrorDocument>'), website);
    assert.equal(websitePut.headers['content-md5'], md5Base64(websitePut.body));

    const [corsPut] = standIn.withQuery('cors', 'PUT');
    assert.ok(corsPut, 'PutBucketCors');
    const cors = corsPut.body.toString('utf8');
    assert.match(cors, /<CORSRule>/);
    assert.match(cors, /<AllowedOrigin>https:\/\/example\.com<\/AllowedOrigin>/);
    assert.match(cors, /<AllowedMethod>GET<\/AllowedMethod><AllowedMethod>HEAD<\/AllowedMethod>/);
    assert.match(cors, /<AllowedHeader>\*<\/AllowedHeader>/);
    assert.match(cors, /<MaxAgeSeconds>600<\/MaxAgeSeconds>/);
    // S3 requires an integrity header on PutBucketCors: Content-MD5, which every store knows.
    assert.equal(corsPut.headers['content-md5'], md5Base64(corsPut.body));
    for (const request of standIn.requests) assertPlainIntegrity(request);

    standIn.requests.length = 0;
    const again = await s3.setup!(documents);
    assert.deepEqual(
      again.map((step) => step.status),
      ['already', 'already', 'already', 'already'],
    );
    assert.deepEqual(
      standIn.requests.filter((r) => r.method !== 'GET' && r.method !== 'HEAD'),
      [],
      'a second run only reads',
    );
  });

  it('keeps other policy statements, scopes public read to the prefix, and sends the region', async () => {
    standIn.bucketExists = false;
    const other = { Sid: 'Theirs', Effect: 'Deny', Principal: '*', Action: 's3:DeleteObject', Resource: '*' };
    standIn.policy = JSON.stringify({ Version: '2012-10-17', Statement: [other] });
    const s3 = driver({ region: 'eu-west-1', prefix: 'site' });
    await s3.setup!({ ...documents, cors: undefined });
    const create = standIn.requests.find(
      (r) => r.method === 'PUT' && r.key === undefined && !Object.keys(r.query).length,
    );
    assert.match(create?.body.toString() ?? '', /<LocationConstraint>eu-west-1<\/LocationConstraint>/);
    assert.match(String(create?.headers.authorization), /\/eu-west-1\/s3\/aws4_request/);
    const policy = JSON.parse(standIn.policy) as { Statement: Array<{ Sid?: string; Resource?: string }> };
    assert.deepEqual(policy.Statement[0], other);
    assert.equal(policy.Statement[1]?.Resource, `arn:aws:s3:::${bucket}/site/*`);
  });

  it('changes nothing in a dry run', async () => {
    const steps = await driver().setup!({ ...documents, dryRun: true });
    assert.deepEqual(
      steps.map((step) => step.status),
      ['already', 'would', 'would', 'would'],
    );
    assert.deepEqual(
      standIn.requests
        .filter((r) => r.method !== 'GET' && r.method !== 'HEAD')
        .map((r) => `${r.method} ${r.path}`),
      [],
    );
  });

  it('falls back to the public-read ACL when the store has no bucket policies', async () => {
    standIn.notImplemented.add('policy');
    const s3 = driver();
    const [, publicRead] = await s3.setup!({ ...documents, cors: undefined });
    assert.equal(publicRead?.status, 'done');
    const [aclPut] = standIn.withQuery('acl', 'PUT');
    assert.equal(aclPut?.headers['x-amz-acl'], 'public-read');
    const [, again] = await s3.setup!({ ...documents, cors: undefined });
    assert.equal(again?.status, 'already');
  });

  it('says plainly when Block Public Access refuses the public policy', async () => {
    standIn.blockPublicPolicy = true;
    const error = await rejection(driver().setup!(documents));
    assert.equal(error.code, 'permission_denied');
    assert.match(
      error.message,
      /Block Public Access refuses the public-read bucket policy \(BlockPublicPolicy\)/,
    );
    assert.match(error.hint ?? '', /Block public access/);
    assert.match(error.hint ?? '', /CloudFront/);
  });

  it('puts with Content-MD5, the sha256 metadata and a payload hash the store can check', async () => {
    const bytes = new Uint8Array(Buffer.from('<h1>hello</h1>'));
    const sha256 = sha256Hex(bytes);
    await driver().put(
      'docs/caf\u00e9 page.html',
      { kind: 'bytes', bytes },
      { sha256, contentType: 'text/html', cacheControl: 'max-age=60', metadata: { build: '7' } },
    );
    const [put] = standIn.requests;
    assert.equal(put?.method, 'PUT');
    assert.equal(put?.path, `/${bucket}/docs/caf%C3%A9%20page.html`);
    assert.equal(put?.key, 'docs/caf\u00e9 page.html');
    assert.deepEqual(put?.body, Buffer.from(bytes));
    assert.equal(put?.headers['content-md5'], md5Base64(put!.body));
    assert.equal(put?.headers['x-amz-meta-outlast-sha256'], sha256);
    assert.equal(put?.headers['x-amz-meta-build'], '7');
    assert.equal(put?.headers['x-amz-content-sha256'], sha256);
    assert.equal(put?.headers['content-type'], 'text/html');
    assert.equal(put?.headers['cache-control'], 'max-age=60');
    assertPlainIntegrity(put!);
  });

  it('puts bytes the direct way: a proxy page is unavailable, an S3 error is mapped, entities decoded', async () => {
    const bytes = new Uint8Array(Buffer.from('<h1>hello</h1>'));
    const options = { sha256: sha256Hex(bytes), contentType: 'text/html' };
    standIn.nextReplies = [
      {
        status: 502,
        headers: { 'content-type': 'text/html' },
        body: '<html><body>Bad Gateway</body></html>',
      },
      errorXml('AccessDenied', 'Not for &quot;you&quot; &amp; yours'),
    ];
    const proxied = await rejection(driver().put('a.html', { kind: 'bytes', bytes }, options));
    assert.equal(proxied.code, 'unavailable');
    assert.equal(proxied.retryable, true);
    assert.match(proxied.message, /put "a\.html" in bucket "www\.example\.com"/);
    assert.match(proxied.message, /HTTP 502/);
    const denied = await rejection(driver().put('a.html', { kind: 'bytes', bytes }, options));
    assert.equal(denied.code, 'permission_denied');
    assert.match(denied.message, /AccessDenied/);
    assert.equal(standIn.requests.length, 2, 'one attempt per call');
  });

  it("signs later puts with the store's clock once it says ours is skewed, as the SDK does", async () => {
    const bytes = new Uint8Array(Buffer.from('<h1>hello</h1>'));
    const options = { sha256: sha256Hex(bytes), contentType: 'text/html' };
    const storeClock = new Date(Date.now() + 3_600_000);
    const skewed = errorXml(
      'RequestTimeTooSkewed',
      'The difference between the request time and the current time is too large.',
    );
    standIn.nextReplies = [{ ...skewed, headers: { ...skewed.headers, date: storeClock.toUTCString() } }];
    const put = driver();
    const first = await rejection(put.put('a.html', { kind: 'bytes', bytes }, options));
    assert.equal(first.code, 'permission_denied');
    await put.put('a.html', { kind: 'bytes', bytes }, options);
    const dates = standIn.requests.map((r) => amzTime(String(r.headers['x-amz-date'])));
    assert.ok(Math.abs(dates[0]! - Date.now()) < 600_000, 'the first put signed with our clock');
    assert.ok(Math.abs(dates[1]! - storeClock.getTime()) < 600_000, "the second with the store's");
  });

  it('leaves to the SDK a bucket whose endpoint wants another signature (S3 Express), sending nothing', async () => {
    const client = createS3Client({
      type: 's3',
      bucket: 'site--use1-az4--x-s3',
      region: 'us-east-1',
      endpoint: standIn.endpoint,
      credentials: { accessKeyId: ACCESS_KEY_ID, secretAccessKey: SECRET },
    });
    try {
      const direct = createDirectPut(client, {
        type: 's3',
        bucket: 'site--use1-az4--x-s3',
        region: 'us-east-1',
        endpoint: standIn.endpoint,
      });
      const sent = await direct.put({ Bucket: 'site--use1-az4--x-s3', Key: 'a.html' }, Buffer.from('x'), '');
      assert.equal(sent, false);
      assert.equal(standIn.requests.length, 0);
    } finally {
      client.destroy();
    }
  });

  it('streams a mid-size file with its length and MD5, not aws-chunked', async () => {
    const bytes = randomBytes(BUFFER_LIMIT + 12345);
    const path = join(scratch, 'mid.bin');
    await writeFile(path, bytes);
    await driver().put('mid.bin', { kind: 'file', path, size: bytes.length }, { sha256: sha256Hex(bytes) });
    const [put] = standIn.requests;
    assert.equal(put?.headers['content-length'], String(bytes.length));
    assert.equal(put?.headers['content-md5'], md5Base64(bytes));
    assert.equal(put?.headers['x-amz-content-sha256'], sha256Hex(bytes));
    assert.ok(put?.body.equals(bytes));
    assertPlainIntegrity(put!);
  });

  it('uploads a large file in parts, each with its Content-MD5, the metadata on the upload', async () => {
    const bytes = randomBytes(MULTIPART_THRESHOLD + 1);
    const path = join(scratch, 'large.bin');
    await writeFile(path, bytes);
    await driver().put(
      'large.bin',
      { kind: 'file', path, size: bytes.length },
      { sha256: sha256Hex(bytes), contentType: 'application/zip' },
    );
    const [create] = standIn.withQuery('uploads', 'POST');
    assert.equal(create?.headers['x-amz-meta-outlast-sha256'], sha256Hex(bytes));
    assert.equal(create?.headers['content-type'], 'application/zip');
    const parts = standIn
      .withQuery('partNumber', 'PUT')
      .sort((a, b) => Number(a.query.partNumber) - Number(b.query.partNumber));
    assert.deepEqual(
      parts.map((part) => [part.query.partNumber, part.query.uploadId, part.body.length]),
      [
        ['1', 'upload-1', PART_SIZE],
        ['2', 'upload-1', PART_SIZE],
        ['3', 'upload-1', 1],
      ],
    );
    for (const part of parts) {
      assert.equal(part.headers['content-md5'], md5Base64(part.body), `part ${part.query.partNumber}`);
      assertPlainIntegrity(part);
    }
    assert.ok(Buffer.concat(parts.map((part) => part.body)).equals(bytes));
    const [complete] = standIn.withQuery('uploadId', 'POST');
    assert.deepEqual(
      [...(complete?.body.toString('utf8') ?? '').matchAll(/<PartNumber>(\d+)<\/PartNumber>/g)].map(
        (m) => m[1],
      ),
      ['1', '2', '3'],
    );
  });

  it('deletes many with Content-MD5 over the body, and names the keys that failed', async () => {
    const keys = ['a.html', 'b & c.html', 'd<e>.html'];
    const s3 = driver();
    await s3.deleteMany!(keys);
    const [post] = standIn.withQuery('delete', 'POST');
    assert.ok(post, 'POST ?delete');
    assert.equal(post.headers['content-md5'], md5Base64(post.body));
    assertPlainIntegrity(post);
    const body = post.body.toString('utf8');
    assert.match(body, /<Quiet>true<\/Quiet>/);
    assert.deepEqual(
      [...body.matchAll(/<Key>([^<]*)<\/Key>/g)].map((m) => unescapeXml(m[1]!)),
      keys,
    );

    standIn.deleteErrors = { 'b & c.html': 'AccessDenied', 'd<e>.html': 'InternalError' };
    const error = await rejection(s3.deleteMany!(keys));
    assert.equal(error.code, 'permission_denied', 'a refusal wins over a transient failure');
    assert.match(error.message, /2 of 3 keys not deleted/);
    assert.match(error.message, /"b & c\.html" \(AccessDenied: refused\)/);
    assert.match(error.message, /"d<e>\.html" \(InternalError: refused\)/);

    standIn.deleteErrors = { 'a.html': 'InternalError' };
    const transient = await rejection(s3.deleteMany!(keys));
    assert.equal(transient.code, 'unavailable');
    assert.equal(transient.retryable, true);
  });

  it('copies with the source key encoded per segment', async () => {
    const from = 'odd dir/caf\u00e9+100%/x?y#z.html';
    await driver().copy!(from, 'dest.html');
    const [copy] = standIn.requests;
    const source = String(copy?.headers['x-amz-copy-source']);
    assert.equal(source, `${bucket}/odd%20dir/caf%C3%A9%2B100%25/x%3Fy%23z.html`);
    assert.equal(decodeURIComponent(source), `${bucket}/${from}`);
    assert.equal(copy?.headers['x-amz-metadata-directive'], 'COPY');
  });

  it('maps a wrong signature (the store has another secret) to permission_denied', async () => {
    standIn.secret = 'the-store-knows-another-one';
    const error = await rejection(driver().list({}));
    assert.equal(error.code, 'permission_denied');
    assert.match(error.message, /SignatureDoesNotMatch/);
    assert.match(error.message, /secret access key .* is wrong/);
    assert.ok(!error.message.includes(SECRET) && !(error.hint ?? '').includes(SECRET), 'never the secret');
  });

  it('maps an unknown access key id to permission_denied, saying so', async () => {
    const error = await rejection(
      driver({ credentials: { accessKeyId: 'AKIDNOBODY', secretAccessKey: SECRET } }).list({}),
    );
    assert.equal(error.code, 'permission_denied');
    assert.match(error.message, /does not know the access key id/);
    assert.match(error.message, /InvalidAccessKeyId/);
  });

  it('explains a HEAD refused without a reason by asking with a GET', async () => {
    standIn.secret = 'the-store-knows-another-one';
    const error = await rejection(driver().stat('a.html'));
    assert.equal(error.code, 'permission_denied');
    assert.match(error.message, /SignatureDoesNotMatch/);
    assert.deepEqual(
      standIn.requests.map((r) => `${r.method} ${r.headers.range ?? ''}`.trim()),
      ['HEAD', 'GET bytes=0-0'],
    );
  });

  it('maps 503 SlowDown to rate_limited, 500 to unavailable, both retryable', async () => {
    standIn.nextReplies = [
      errorXml('SlowDown', 'Please reduce your request rate.'),
      errorXml('InternalError', 'oops'),
    ];
    const slow = await rejection(driver().get('a.html'));
    assert.equal(slow.code, 'rate_limited');
    assert.equal(slow.retryable, true);
    assert.match(slow.message, /get "a\.html" in bucket "www\.example\.com"/);
    const broken = await rejection(driver().delete('a.html'));
    assert.equal(broken.code, 'unavailable');
    assert.equal(broken.retryable, true);
    assert.equal(standIn.requests.length, 2, 'one attempt per call: Store retries, not the SDK');
  });

  it('maps a bucket in another region to invalid_config, naming the region', async () => {
    standIn.nextReplies = [{ status: 301, headers: { 'x-amz-bucket-region': 'ap-southeast-2' } }];
    const error = await rejection(driver().stat('a.html'));
    assert.equal(error.code, 'invalid_config');
    assert.match(error.message, /ap-southeast-2/);
  });

  it('answers unsupported setup steps without throwing', async () => {
    standIn.notImplemented = new Set(['policy', 'acl', 'website', 'cors']);
    const steps = await driver().setup!(documents);
    assert.deepEqual(
      steps.map((step) => `${step.step}: ${step.status}`),
      ['create bucket: already', 'public read: unsupported', 'website: unsupported', 'cors: unsupported'],
    );
    assert.match(steps[1]!.detail, /neither bucket policies nor ACLs/);
    assert.match(steps[2]!.detail, /no website hosting \(NotImplemented\)/);
    assert.match(steps[3]!.detail, /no bucket CORS \(NotImplemented\)/);
  });
});

// The `gcs` driver against the GCS JSON API stand-in (test/standins/gcs.ts). Auth is real: the test
// makes an RSA key pair, hands the private key to the driver as a service account's credentials and
// the public key to the stand-in, which verifies the self-signed JWT of every request.
import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { isOutlastError, type OutlastError } from '../../src/errors.ts';
import type { ObjectSource, StorageDriver } from '../../src/storage/driver.ts';
import { CHUNK_SIZE, createGcsDriver, RESUMABLE_THRESHOLD } from '../../src/storage/drivers/gcs.ts';
import type { GcsStorageConfig } from '../../src/storage/drivers/gcs-options.ts';
import { Store } from '../../src/storage/store.ts';
import { testStorageDriver } from '../conformance/storage.ts';
import { GcsStandIn } from '../standins/gcs.ts';

const EMAIL = 'deployer@outlast-test.iam.gserviceaccount.com';
const keys = generateKeyPairSync('rsa', {
  modulusLength: 2048,
  publicKeyEncoding: { type: 'spki', format: 'pem' },
  privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
});

let standIn: GcsStandIn | undefined;
async function startedStandIn(): Promise<GcsStandIn> {
  if (!standIn) {
    const fresh = new GcsStandIn();
    await fresh.start();
    fresh.addAccount(EMAIL, keys.publicKey);
    standIn = fresh;
  }
  return standIn;
}
after(async () => {
  await standIn?.stop();
});

function bucketName(): string {
  return `outlast-test-${randomBytes(6).toString('hex')}`;
}

function config(
  server: GcsStandIn,
  bucket: string,
  overrides: Partial<GcsStorageConfig> = {},
): GcsStorageConfig {
  return {
    type: 'gcs',
    bucket,
    projectId: 'outlast-test',
    apiEndpoint: server.baseUrl,
    credentials: { client_email: EMAIL, private_key: keys.privateKey },
    ...overrides,
  };
}

function harness(name: string, prefix?: string) {
  return {
    name,
    checksMd5: true,
    ...(prefix === undefined ? {} : { prefix }),
    async create(): Promise<StorageDriver> {
      const server = await startedStandIn();
      const bucket = bucketName();
      server.addBucket(bucket);
      return createGcsDriver(config(server, bucket));
    },
    async createMissing(): Promise<StorageDriver> {
      return createGcsDriver(config(await startedStandIn(), bucketName()));
    },
  };
}

testStorageDriver(harness('gcs (JSON API stand-in)'));
testStorageDriver(harness('gcs (JSON API stand-in, prefix site/)', 'site/'));

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');
const text = (value: string) => new Uint8Array(Buffer.from(value, 'utf8'));

async function rejection(promise: Promise<unknown>): Promise<OutlastError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  assert.ok(isOutlastError(error), `expected an OutlastError, got ${String(error)}`);
  return error;
}

describe('gcs driver on the JSON API stand-in', () => {
  let server: GcsStandIn;
  let bucket: string;
  let driver: StorageDriver;
  let store: Store;
  let scratch: string;

  before(async () => {
    server = await startedStandIn();
    bucket = bucketName();
    server.addBucket(bucket);
    driver = createGcsDriver(config(server, bucket));
    store = new Store(driver, { originId: 'gcs', retryBaseMs: 10 });
    scratch = await mkdtemp(join(tmpdir(), 'outlast-gcs-'));
  });

  after(async () => {
    await driver?.close?.();
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  it('uploads past the threshold as a resumable session in 256 KiB-aligned chunks', async () => {
    const bytes = randomBytes(2 * CHUNK_SIZE + 1024 * 1024);
    assert.ok(bytes.length > RESUMABLE_THRESHOLD);
    const path = join(scratch, 'big.bin');
    await writeFile(path, bytes);
    const md5 = createHash('md5').update(bytes).digest('hex');
    await store.put(
      'big/resumable.bin',
      { kind: 'file', path, size: bytes.length },
      { sha256: sha256(bytes), md5, contentType: 'application/octet-stream', metadata: { build: '7' } },
    );
    const upload = server.uploads.findLast((item) => item.name === 'big/resumable.bin');
    assert.equal(upload?.kind, 'resumable');
    const total = bytes.length;
    // The library asks the session's offset first (`bytes */*`), then sends the chunks.
    assert.deepEqual(upload?.ranges, [
      'bytes */*',
      `bytes 0-${CHUNK_SIZE - 1}/${total}`,
      `bytes ${CHUNK_SIZE}-${2 * CHUNK_SIZE - 1}/${total}`,
      `bytes ${2 * CHUNK_SIZE}-${total - 1}/${total}`,
    ]);
    assert.deepEqual(upload?.statuses, [308, 308, 308, 200]);
    const info = await store.stat('big/resumable.bin');
    assert.equal(info?.size, total);
    assert.equal(info?.sha256, sha256(bytes));
    assert.equal(info?.contentType, 'application/octet-stream');
    assert.deepEqual(info?.metadata, { build: '7' });
    const got = await store.getBytes('big/resumable.bin');
    assert.ok(got && Buffer.from(got).equals(bytes), 'the bytes are identical');
  });

  it('a resumable upload whose bytes do not match their MD5 is refused, and the key keeps its object', async () => {
    const bytes = randomBytes(RESUMABLE_THRESHOLD + 1024);
    const wrong = createHash('md5').update('other').digest('hex');
    const once = new Store(driver, { originId: 'gcs', attempts: 1 });
    const error = await rejection(
      once.put('big/resumable.bin', { kind: 'bytes', bytes }, { sha256: sha256(bytes), md5: wrong }),
    );
    assert.match(error.message, /MD5/);
    assert.equal(
      (await store.stat('big/resumable.bin'))?.size,
      2 * CHUNK_SIZE + 1024 * 1024,
      'the old object',
    );
  });

  it('a resumable upload aborted after its first chunk is cancelled and leaves nothing visible', {
    timeout: 60_000,
  }, async () => {
    const size = 2 * CHUNK_SIZE;
    const controller = new AbortController();
    const first = CHUNK_SIZE + 1024 * 1024;
    const source: ObjectSource = {
      kind: 'stream',
      size,
      open: () => {
        let given = 0;
        return new Readable({
          read() {
            if (given >= first) {
              setImmediate(() => controller.abort());
              return;
            }
            const chunk = randomBytes(Math.min(1024 * 1024, first - given));
            given += chunk.length;
            this.push(chunk);
          },
        });
      },
    };
    const error = await rejection(
      store.put('abort/resumable.bin', source, { sha256: 'x'.repeat(64), signal: controller.signal }),
    );
    assert.equal(error.code, 'cancelled', error.message);
    assert.equal(await store.stat('abort/resumable.bin'), undefined);
    assert.deepEqual(await store.listAll('abort/'), []);
    const upload = server.uploads.findLast((item) => item.name === 'abort/resumable.bin');
    assert.equal(upload?.kind, 'resumable');
    assert.equal(upload?.finished, false, 'the session was never finished');
    // The status query, then the first chunk's 308 unless the abort cut that PUT off first.
    assert.ok(
      upload && upload.statuses.length >= 1 && upload.statuses.every((status) => status === 308),
      `only 308s: ${JSON.stringify(upload?.statuses)}`,
    );
  });

  it('a token signed by another key is refused (401), as permission_denied without the key in the message', async () => {
    const other = generateKeyPairSync('rsa', {
      modulusLength: 2048,
      publicKeyEncoding: { type: 'spki', format: 'pem' },
      privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    });
    const forged = createGcsDriver(
      config(server, bucket, { credentials: { client_email: EMAIL, private_key: other.privateKey } }),
    );
    const before = server.requests.length;
    for (const attempt of [
      () => forged.list({}),
      () => forged.stat('some/key.txt'),
      () => forged.put('some/key.txt', { kind: 'bytes', bytes: text('x') }, { sha256: sha256(text('x')) }),
    ]) {
      const error = await rejection(attempt());
      assert.equal(error.code, 'permission_denied', error.message);
      assert.equal(error.source, 'gcs');
      assert.equal(error.retryable, false);
      assert.match(error.message, /authError, HTTP 401/);
      assert.ok(error.message.includes(EMAIL), 'names the service account');
      const body = other.privateKey.split('\n')[1]!;
      for (const said of [error.message, error.hint ?? '', JSON.stringify(error)]) {
        assert.ok(!said.includes(body), 'never the private key');
      }
    }
    // Session PUTs (upload_id) need no token; an earlier test's may still arrive.
    const refused = server.requests.slice(before).filter((request) => request.query.upload_id === undefined);
    assert.ok(refused.length >= 3 && refused.every((request) => request.status === 401));
    assert.equal(await store.stat('some/key.txt'), undefined);
  });

  it('a key file that cannot be read is invalid_config, without its contents', async () => {
    const path = join(scratch, 'not-a-key.json');
    await writeFile(path, `{"private_key": "${'S'.repeat(40)}"`);
    const attempt = () =>
      createGcsDriver(config(server, bucket, { credentials: undefined, keyFilename: path }));
    const error = (() => {
      try {
        attempt();
      } catch (caught) {
        return caught;
      }
      return undefined;
    })();
    assert.ok(isOutlastError(error, 'invalid_config'), String(error));
    assert.ok(!error.message.includes('SSSS'));
  });

  it('a key file holding a service account key authenticates like inline credentials', async () => {
    const path = join(scratch, 'key.json');
    await writeFile(
      path,
      JSON.stringify({
        type: 'service_account',
        client_email: EMAIL,
        private_key: keys.privateKey,
        project_id: 'p',
      }),
    );
    const byFile = createGcsDriver(config(server, bucket, { credentials: undefined, keyFilename: path }));
    await byFile.put('keyfile.txt', { kind: 'bytes', bytes: text('k') }, { sha256: sha256(text('k')) });
    assert.equal((await byFile.stat('keyfile.txt'))?.size, 1);
  });

  it('a stopped server is unavailable, retryable', async () => {
    const gone = new GcsStandIn();
    await gone.start();
    gone.addAccount(EMAIL, keys.publicKey);
    gone.addBucket(bucket);
    const endpoint = gone.baseUrl;
    await gone.stop();
    const dead = createGcsDriver(config(gone, bucket));
    for (const attempt of [() => dead.stat('a.txt'), () => dead.list({})]) {
      const error = await rejection(attempt());
      assert.equal(error.code, 'unavailable', error.message);
      assert.equal(error.retryable, true);
      assert.match(error.message, /ECONNREFUSED/);
      assert.ok(error.message.includes(endpoint), error.message);
    }
  });

  it('sends no request GCS would refuse for its shape', () => {
    assert.deepEqual(server.violations, []);
  });
});

describe('gcs setup on the JSON API stand-in', () => {
  let server: GcsStandIn;
  const bucket = bucketName();
  let driver: StorageDriver;
  const documents = { indexDocument: 'index.html', errorDocument: '404.html' };
  const cors = {
    allowedOrigins: ['https://example.com'],
    allowedMethods: ['GET', 'HEAD'],
    allowedHeaders: ['Content-Type'],
    maxAgeSeconds: 600,
  };

  before(async () => {
    server = await startedStandIn();
    driver = createGcsDriver(config(server, bucket));
  });

  after(async () => {
    await driver?.close?.();
  });

  it('refuses a missing bucket without create, and changes nothing in a dry run', async () => {
    const error = await rejection(driver.setup!({ ...documents, create: false }));
    assert.equal(error.code, 'not_found');
    assert.ok(error.message.includes(bucket));
    const writes = server.requests.length;
    const steps = await driver.setup!({ ...documents, create: true, dryRun: true, cors });
    assert.deepEqual(
      steps.map((step) => [step.step, step.status]),
      [
        ['create bucket', 'would'],
        ['uniform access', 'would'],
        ['public read', 'would'],
        ['website', 'would'],
        ['cors', 'would'],
      ],
    );
    assert.equal(server.buckets.has(bucket), false);
    const sent = server.requests.slice(writes);
    assert.ok(
      sent.every((request) => request.method === 'GET'),
      'a dry run only reads',
    );
  });

  it('creates the bucket and makes it a public website', async () => {
    const steps = await driver.setup!({ ...documents, create: true, cors });
    assert.deepEqual(
      steps.map((step) => [step.step, step.status]),
      [
        ['create bucket', 'done'],
        ['uniform access', 'already'],
        ['public read', 'done'],
        ['website', 'done'],
        ['cors', 'done'],
      ],
    );
    const made = server.buckets.get(bucket)!;
    assert.equal(made.project, 'outlast-test');
    assert.deepEqual(made.config.website, { mainPageSuffix: 'index.html', notFoundPage: '404.html' });
    assert.deepEqual(made.config.iamConfiguration, { uniformBucketLevelAccess: { enabled: true } });
    assert.deepEqual(made.config.cors, [
      {
        origin: ['https://example.com'],
        method: ['GET', 'HEAD'],
        responseHeader: ['Content-Type'],
        maxAgeSeconds: 600,
      },
    ]);
    const viewer = made.policy.bindings.find((binding) => binding.role === 'roles/storage.objectViewer');
    assert.deepEqual(viewer?.members, ['allUsers']);
    assert.ok(
      made.policy.bindings.some((binding) => binding.role === 'roles/storage.legacyBucketOwner'),
      'others kept',
    );
  });

  it('says already for every step the second time, also in a dry run', async () => {
    const writes = server.requests.length;
    for (const dryRun of [false, true]) {
      const steps = await driver.setup!({ ...documents, create: true, dryRun, cors });
      assert.deepEqual(
        steps.map((step) => step.status),
        ['already', 'already', 'already', 'already', 'already'],
      );
    }
    assert.ok(
      server.requests.slice(writes).every((request) => request.method === 'GET'),
      'nothing written',
    );
  });

  it('turns on uniform access and fixes the website of a bucket set up by hand', async () => {
    const other = bucketName();
    const made = server.addBucket(other);
    made.config.website = { mainPageSuffix: 'home.html' };
    const byHand = createGcsDriver(config(server, other));
    const steps = await byHand.setup!({ indexDocument: 'index.html', create: false });
    assert.deepEqual(
      steps.map((step) => [step.step, step.status]),
      [
        ['create bucket', 'already'],
        ['uniform access', 'done'],
        ['public read', 'done'],
        ['website', 'done'],
      ],
    );
    assert.deepEqual(made.config.website, { mainPageSuffix: 'index.html' });
    assert.equal(
      (made.config.iamConfiguration as { uniformBucketLevelAccess: { enabled: boolean } })
        .uniformBucketLevelAccess.enabled,
      true,
    );
  });

  it('sends no request GCS would refuse for its shape', () => {
    assert.deepEqual(server.violations, []);
  });
});

/** A self-signed service-account JWT as google-auth-library makes it (RS256, storage scope). */
function bearer(privateKey: string, claims: Record<string, unknown> = {}): string {
  const now = Math.floor(Date.now() / 1000);
  const part = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const head = part({ alg: 'RS256', typ: 'JWT' });
  const body = part({
    iss: EMAIL,
    sub: EMAIL,
    scope: 'https://www.googleapis.com/auth/devstorage.full_control',
    iat: now,
    exp: now + 3600,
    ...claims,
  });
  const signature = sign('RSA-SHA256', Buffer.from(`${head}.${body}`), privateKey).toString('base64url');
  return `Bearer ${head}.${body}.${signature}`;
}

describe('the GCS stand-in refuses what GCS would', () => {
  const server = new GcsStandIn();
  const bucket = bucketName();

  before(async () => {
    await server.start();
    server.addAccount(EMAIL, keys.publicKey);
    server.addBucket(bucket).objects.set('a/b', {
      name: 'a/b',
      bytes: Buffer.from('x'),
      generation: 1,
      fields: {},
      created: new Date(),
    });
  });
  after(() => server.stop());

  async function call(path: string, authorization?: string, init: RequestInit = {}) {
    const response = await fetch(`${server.baseUrl}${path}`, {
      ...init,
      headers: authorization ? { authorization } : {},
    });
    return {
      status: response.status,
      body: (await response.json()) as { error?: { code: number; errors: Array<{ reason: string }> } },
    };
  }

  it('answers the JSON API with a valid token, and 401 authError without one or with a bad one', async () => {
    const good = bearer(keys.privateKey);
    assert.equal((await call(`/storage/v1/b/${bucket}/o/a%2Fb`, good)).status, 200);
    for (const authorization of [
      undefined,
      'Bearer not-a-jwt',
      bearer(keys.privateKey, { exp: Math.floor(Date.now() / 1000) - 10 }),
      bearer(keys.privateKey, { iss: 'someone@else.iam.gserviceaccount.com' }),
      bearer(keys.privateKey, { scope: 'https://www.googleapis.com/auth/userinfo.email' }),
      `${good.slice(0, -4)}AAAA`,
    ]) {
      const { status, body } = await call(`/storage/v1/b/${bucket}/o/a%2Fb`, authorization);
      assert.equal(status, 401, String(authorization));
      assert.equal(body.error?.code, 401);
      assert.equal(body.error?.errors[0]?.reason, 'authError');
    }
  });

  it('treats a raw slash in an object name as another path, and unknown endpoints and parameters as errors', async () => {
    const good = bearer(keys.privateKey);
    const raw = await call(`/storage/v1/b/${bucket}/o/a/b`, good);
    assert.equal(raw.status, 404);
    assert.equal(raw.body.error?.errors[0]?.reason, 'notFound');
    const unknown = await call(`/storage/v1/b/${bucket}/o?delimiter=/`, good);
    assert.equal(unknown.status, 400);
    assert.equal(unknown.body.error?.errors[0]?.reason, 'invalid');
    const missing = await call(`/storage/v1/b/no-such-bucket-here/o`, good);
    assert.equal(missing.status, 404);
    assert.deepEqual(server.violations, [
      `GET /storage/v1/b/${bucket}/o/a/b: no such endpoint`,
      'unexpected query parameters delimiter',
    ]);
  });

  it('refuses a multipart upload whose md5Hash does not match its bytes, storing nothing', async () => {
    const boundary = 'b0undary';
    const body = Buffer.concat([
      Buffer.from(`--${boundary}\r\nContent-Type: application/json\r\n\r\n`),
      Buffer.from(JSON.stringify({ md5Hash: createHash('md5').update('other').digest('base64') })),
      Buffer.from(`\r\n--${boundary}\r\nContent-Type: text/plain\r\n\r\nbytes\r\n--${boundary}--`),
    ]);
    const response = await fetch(
      `${server.baseUrl}/upload/storage/v1/b/${bucket}/o?uploadType=multipart&name=m.txt`,
      {
        method: 'POST',
        headers: {
          authorization: bearer(keys.privateKey),
          'content-type': `multipart/related; boundary=${boundary}`,
        },
        body,
      },
    );
    assert.equal(response.status, 400);
    assert.match(
      ((await response.json()) as { error: { message: string } }).error.message,
      /doesn't match calculated MD5/,
    );
    assert.equal(server.buckets.get(bucket)?.objects.has('m.txt'), false);
  });
});

// The `s3` driver against a real S3 API: OpenStack Swift's s3api on cluster A (test/servers/swift.ts).
// Each suite gets a fresh bucket with a random name, emptied and deleted afterwards. Request shapes
// that Swift cannot show (website, policy, CORS, SigV4 details) are in s3-requests.test.ts.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import {
  CreateBucketCommand,
  DeleteBucketCommand,
  ListMultipartUploadsCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { isOutlastError, type OutlastError } from '../../src/errors.ts';
import type { ObjectSource, StorageDriver } from '../../src/storage/driver.ts';
import { createS3Driver, type S3StorageConfig } from '../../src/storage/drivers/s3.ts';
import { BUFFER_LIMIT, MULTIPART_THRESHOLD, PART_SIZE } from '../../src/storage/drivers/s3-upload.ts';
import { Store } from '../../src/storage/store.ts';
import { testStorageDriver } from '../conformance/storage.ts';
import { eventually } from '../helpers/eventually.ts';
import { type SwiftCluster, swiftClustersForTests } from '../servers/swift.ts';

async function clusterA(): Promise<SwiftCluster> {
  return (await swiftClustersForTests()).a;
}

function s3Config(
  cluster: SwiftCluster,
  bucket: string,
  overrides: Partial<S3StorageConfig> = {},
): S3StorageConfig {
  return {
    type: 's3',
    bucket,
    region: cluster.s3Region,
    endpoint: cluster.s3Endpoint,
    forcePathStyle: true,
    credentials: { accessKeyId: cluster.s3AccessKeyId, secretAccessKey: cluster.s3SecretAccessKey },
    ...overrides,
  };
}

function rawClient(cluster: SwiftCluster): S3Client {
  return new S3Client({
    region: cluster.s3Region,
    endpoint: cluster.s3Endpoint,
    forcePathStyle: true,
    credentials: { accessKeyId: cluster.s3AccessKeyId, secretAccessKey: cluster.s3SecretAccessKey },
  });
}

function bucketName(): string {
  return `outlast-test-${randomBytes(6).toString('hex')}`;
}

async function createBucket(cluster: SwiftCluster): Promise<string> {
  const bucket = bucketName();
  const client = rawClient(cluster);
  try {
    await client.send(new CreateBucketCommand({ Bucket: bucket }));
  } finally {
    client.destroy();
  }
  return bucket;
}

/** Empties the bucket through the driver (DeleteObjects needs the driver's Content-MD5), then deletes it. */
async function removeBucket(cluster: SwiftCluster, bucket: string): Promise<void> {
  const driver = createS3Driver(s3Config(cluster, bucket));
  try {
    for (;;) {
      const page = await driver.list({}).catch((error: unknown) => {
        if (isOutlastError(error, 'not_found')) return { items: [] };
        throw error;
      });
      if (page.items.length === 0) break;
      await driver.deleteMany!(page.items.map((item) => item.key));
    }
  } finally {
    await driver.close?.();
  }
  const client = rawClient(cluster);
  try {
    await client.send(new DeleteBucketCommand({ Bucket: bucket })).catch(() => undefined);
  } finally {
    client.destroy();
  }
}

function swiftHarness(name: string, prefix?: string) {
  let cluster: SwiftCluster | undefined;
  let bucket = '';
  return {
    name,
    checksMd5: true,
    ...(prefix === undefined ? {} : { prefix }),
    async create(): Promise<StorageDriver> {
      cluster = await clusterA();
      bucket = await createBucket(cluster);
      return createS3Driver(s3Config(cluster, bucket));
    },
    async cleanup() {
      if (cluster && bucket) await removeBucket(cluster, bucket);
    },
    async createMissing(): Promise<StorageDriver> {
      return createS3Driver(s3Config(await clusterA(), bucketName()));
    },
  };
}

testStorageDriver(swiftHarness("s3 (Swift's S3 API)"));
testStorageDriver(swiftHarness("s3 (Swift's S3 API, prefix site/)", 'site/'));

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');
const md5Hex = (bytes: Uint8Array) => createHash('md5').update(bytes).digest('hex');
const text = (value: string) => new Uint8Array(Buffer.from(value, 'utf8'));

async function rejection(promise: Promise<unknown>): Promise<OutlastError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  assert.ok(isOutlastError(error), `expected an OutlastError, got ${String(error)}`);
  return error;
}

/**
 * A stream source of `body` whose stream that a put sends gives `sent` bytes, then, asked for
 * more, aborts `controller`: the put is cut off with its first bytes on the wire. Below the
 * multipart threshold the driver reads a first stream whole for the MD5 (s3-upload.ts).
 */
function cutOffSource(
  body: Uint8Array,
  sent: number,
  controller: AbortController,
  opens: number[],
): ObjectSource {
  return {
    kind: 'stream',
    size: body.byteLength,
    open: () => {
      opens.push(opens.length + 1);
      if (opens.length < 2 && body.byteLength < MULTIPART_THRESHOLD)
        return Readable.from([Buffer.from(body)]);
      let offset = 0;
      return new Readable({
        read() {
          if (offset >= sent) {
            setImmediate(() => controller.abort());
            return;
          }
          const chunk = body.subarray(offset, Math.min(sent, offset + 1024 * 1024));
          offset += chunk.byteLength;
          this.push(chunk);
        },
      });
    },
  };
}

/** A port on 127.0.0.1 that nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe("s3 driver on Swift's S3 API", () => {
  let cluster: SwiftCluster;
  let bucket: string;
  let driver: StorageDriver;
  let store: Store;
  let scratch: string;

  before(async () => {
    cluster = await clusterA();
    bucket = await createBucket(cluster);
    driver = createS3Driver(s3Config(cluster, bucket));
    store = new Store(driver, { originId: 'swift-s3', retryBaseMs: 10 });
    scratch = await mkdtemp(join(tmpdir(), 'outlast-s3-'));
  });

  after(async () => {
    await driver?.close?.();
    if (cluster && bucket) await removeBucket(cluster, bucket);
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  it('uploads a 20 MiB file in parts, and stat still gives its sha256', async () => {
    const bytes = randomBytes(20 * 1024 * 1024);
    assert.ok(bytes.length >= MULTIPART_THRESHOLD);
    const path = join(scratch, 'big20m.bin');
    await writeFile(path, bytes);
    await store.put(
      'big/20m.bin',
      { kind: 'file', path, size: bytes.length },
      { sha256: sha256(bytes), contentType: 'application/octet-stream', metadata: { build: '7' } },
    );
    const info = await store.stat('big/20m.bin');
    assert.equal(info?.size, bytes.length);
    assert.equal(info?.sha256, sha256(bytes));
    assert.equal(info?.contentType, 'application/octet-stream');
    assert.deepEqual(info?.metadata, { build: '7' });
    const parts = Math.ceil(bytes.length / PART_SIZE);
    assert.match(info?.etag ?? '', new RegExp(`^[0-9a-f]{32}-${parts}$`), 'a multipart ETag');
    const got = await store.getBytes('big/20m.bin');
    assert.ok(got && Buffer.from(got).equals(bytes), 'the bytes are identical');
  });

  it('streams a file between the buffer limit and the multipart threshold, with its MD5', async () => {
    const bytes = randomBytes(10 * 1024 * 1024);
    const path = join(scratch, 'mid10m.bin');
    await writeFile(path, bytes);
    await store.put('big/10m.bin', { kind: 'file', path, size: bytes.length }, { sha256: sha256(bytes) });
    const info = await store.stat('big/10m.bin');
    assert.equal(info?.etag, md5Hex(bytes), 'a single PUT: the ETag is the MD5');
    assert.equal(info?.sha256, sha256(bytes));
  });

  // A driver that ignored the signal would wait for the rest of the body for ever: fail instead.
  it('a streamed put aborted with its first bytes on the wire is cancelled and leaves nothing', {
    timeout: 60_000,
  }, async () => {
    const body = randomBytes(BUFFER_LIMIT + 1024 * 1024);
    const controller = new AbortController();
    const opens: number[] = [];
    const source = cutOffSource(body, 1024 * 1024, controller, opens);
    const error = await rejection(
      store.put('abort/streamed.bin', source, { sha256: sha256(body), signal: controller.signal }),
    );
    assert.equal(error.code, 'cancelled', error.message);
    assert.equal(error.retryable, false);
    assert.deepEqual(opens, [1, 2], 'hashed, then being sent');
    assert.equal(await store.stat('abort/streamed.bin'), undefined);
    assert.deepEqual(await store.listAll('abort/'), []);
  });

  it('a multipart put aborted midway is cancelled, and the upload is aborted at the store', {
    timeout: 60_000,
  }, async () => {
    const body = randomBytes(MULTIPART_THRESHOLD + PART_SIZE);
    const controller = new AbortController();
    const source = cutOffSource(body, PART_SIZE + 1024 * 1024, controller, []);
    const error = await rejection(
      store.put('abort/parts.bin', source, { sha256: sha256(body), signal: controller.signal }),
    );
    assert.equal(error.code, 'cancelled', error.message);
    assert.equal(await store.stat('abort/parts.bin'), undefined);
    assert.deepEqual(await store.listAll('abort/'), []);
    // AbortMultipartUpload goes out once the parts in flight have stopped, after the put rejected.
    const client = rawClient(cluster);
    try {
      let uploads: unknown[] | undefined;
      await eventually(
        'no upload left at the store',
        async () => {
          const out = await client.send(
            new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: 'abort/' }),
          );
          uploads = out.Uploads ?? [];
          return uploads.length === 0;
        },
        10_000,
      ).catch(() => undefined);
      assert.deepEqual(uploads, [], 'no upload left at the store');
    } finally {
      client.destroy();
    }
  });

  it('refuses bytes that do not match the sha256 (the store checks x-amz-content-sha256)', async () => {
    const bytes = text('actual bytes');
    const error = await rejection(
      driver.put('wrong-hash.txt', { kind: 'bytes', bytes }, { sha256: sha256(text('other bytes')) }),
    );
    assert.equal(error.code, 'unavailable');
    assert.match(error.message, /other bytes than outlast hashed/);
    assert.equal(await store.stat('wrong-hash.txt'), undefined);
  });

  it('refuses a file whose size changed since the scan', async () => {
    const path = join(scratch, 'changed.txt');
    await writeFile(path, 'longer than announced');
    const error = await rejection(
      driver.put('changed.txt', { kind: 'file', path, size: 3 }, { sha256: 'x' }),
    );
    assert.equal(error.code, 'conflict');
    assert.equal(error.retryable, false);
  });

  // DeleteObjects past 1,000 keys (two requests for 1,100) is the conformance suite's "deletes many
  // keys, past one batch"; Swift's s3api deletes about 60 keys a second, so it is not repeated here.
  it('takes at most 1,000 keys per DeleteObjects, and deletes missing keys fine', async () => {
    const tooMany = Array.from({ length: 1001 }, (_, i) => `batch/k${i}`);
    assert.equal((await rejection(driver.deleteMany!(tooMany))).code, 'invalid_argument');
    await store.putBytes('batch/exists', text('x'));
    await driver.deleteMany!(['batch/exists', 'batch/never-existed']);
    assert.deepEqual(await store.listAll('batch/'), []);
  });

  it('copies odd keys server-side with their headers and metadata', async () => {
    const odd = [
      'copy odd/with space.txt',
      'copy odd/hash#frag?x=1&y=2',
      'copy odd/percent%20literal%',
      'copy odd/plus+plus',
      'copy odd/quote\'single"double',
      'copy odd/(parens) [brackets] {braces}!*$,;@~',
      'copy odd/caf\u00e9-\u6f22\u5b57-\u{1f680}',
    ];
    for (const key of odd) {
      const bytes = text(`bytes of ${key}`);
      await store.putBytes(key, bytes, {
        contentType: 'text/plain; charset=utf-8',
        cacheControl: 'max-age=60',
        contentDisposition: 'inline',
        metadata: { color: 'blue' },
      });
      const target = `${key} copy/\u00e9+%`;
      await driver.copy!(key, target);
      const info = await store.stat(target);
      assert.equal(info?.sha256, sha256(bytes), key);
      assert.equal(info?.contentType, 'text/plain; charset=utf-8', key);
      assert.equal(info?.cacheControl, 'max-age=60', key);
      assert.equal(info?.contentDisposition, 'inline', key);
      assert.deepEqual(info?.metadata, { color: 'blue' }, key);
      assert.deepEqual(await store.getBytes(target), bytes, key);
    }
  });

  it('maps a wrong secret to permission_denied, without the secret in the message', async () => {
    const secret = 'not-the-secret-4711';
    const wrong = createS3Driver(
      s3Config(cluster, bucket, {
        credentials: { accessKeyId: cluster.s3AccessKeyId, secretAccessKey: secret },
      }),
    );
    try {
      for (const attempt of [
        () => wrong.list({}),
        () => wrong.stat('some/key.txt'),
        () => wrong.put('some/key.txt', { kind: 'bytes', bytes: text('x') }, { sha256: sha256(text('x')) }),
      ]) {
        const error = await rejection(attempt());
        assert.equal(error.code, 'permission_denied', error.message);
        assert.equal(error.source, 's3');
        assert.equal(error.retryable, false);
        assert.match(error.message, /SignatureDoesNotMatch/);
        assert.match(error.message, /secret access key/);
        assert.ok(error.message.includes(bucket), 'names the bucket');
        assert.ok(!error.message.includes(secret), 'never the secret');
        assert.ok(!(error.hint ?? '').includes(secret));
      }
    } finally {
      await wrong.close?.();
    }
  });

  it('maps an unknown access key to permission_denied', async () => {
    const unknown = createS3Driver(
      s3Config(cluster, bucket, {
        credentials: { accessKeyId: 'nobody:nothing', secretAccessKey: 'whatever' },
      }),
    );
    try {
      const error = await rejection(unknown.list({}));
      assert.equal(error.code, 'permission_denied');
      // Swift's s3api (tempauth) cannot tell an unknown key id from a wrong secret; AWS says
      // InvalidAccessKeyId (see s3-requests.test.ts). The message covers both.
      assert.match(error.message, /access key id/);
    } finally {
      await unknown.close?.();
    }
  });

  it('takes its credentials from a named profile of the shared files', async () => {
    const credentials = join(scratch, 'credentials');
    await writeFile(
      credentials,
      `[outlast-test]\naws_access_key_id = ${cluster.s3AccessKeyId}\naws_secret_access_key = ${cluster.s3SecretAccessKey}\n`,
    );
    const saved = { file: process.env.AWS_SHARED_CREDENTIALS_FILE, config: process.env.AWS_CONFIG_FILE };
    process.env.AWS_SHARED_CREDENTIALS_FILE = credentials;
    process.env.AWS_CONFIG_FILE = join(scratch, 'no-config');
    const byProfile = createS3Driver({
      ...s3Config(cluster, bucket),
      credentials: undefined,
      profile: 'outlast-test',
    });
    try {
      await byProfile.put('profile.txt', { kind: 'bytes', bytes: text('p') }, { sha256: sha256(text('p')) });
      assert.equal((await byProfile.stat('profile.txt'))?.size, 1);
      const missing = createS3Driver({
        ...s3Config(cluster, bucket),
        credentials: undefined,
        profile: 'nope',
      });
      const error = await rejection(missing.list({}));
      await missing.close?.();
      assert.equal(error.code, 'permission_denied');
      assert.match(error.message, /profile "nope"/);
    } finally {
      await byProfile.close?.();
      for (const [name, value] of [
        ['AWS_SHARED_CREDENTIALS_FILE', saved.file],
        ['AWS_CONFIG_FILE', saved.config],
      ] as const) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
    }
  });

  it('maps a missing bucket to not_found naming the bucket', async () => {
    const missing = bucketName();
    const nowhere = createS3Driver(s3Config(cluster, missing));
    try {
      for (const attempt of [
        () => nowhere.list({}),
        () => nowhere.stat('a.txt'),
        () => nowhere.get('a.txt'),
        () => nowhere.put('a.txt', { kind: 'bytes', bytes: text('x') }, { sha256: sha256(text('x')) }),
      ]) {
        const error = await rejection(attempt());
        assert.equal(error.code, 'not_found', error.message);
        assert.match(error.message, new RegExp(`bucket "${missing}" does not exist`));
      }
    } finally {
      await nowhere.close?.();
    }
  });

  it('maps a dead endpoint to unavailable, retryable', async () => {
    const endpoint = `http://127.0.0.1:${await closedPort()}`;
    const dead = createS3Driver(s3Config(cluster, bucket, { endpoint }));
    try {
      const error = await rejection(dead.stat('a.txt'));
      assert.equal(error.code, 'unavailable');
      assert.equal(error.retryable, true);
      assert.match(error.message, /ECONNREFUSED/);
      assert.ok(error.message.includes(endpoint), error.message);
    } finally {
      await dead.close?.();
    }
  });
});

describe("s3 setup on Swift's S3 API", () => {
  let cluster: SwiftCluster;
  const bucket = bucketName();
  let driver: StorageDriver;
  const documents = { indexDocument: 'index.html', errorDocument: '404.html' };
  const cors = {
    allowedOrigins: ['https://example.com'],
    allowedMethods: ['GET', 'HEAD'],
    allowedHeaders: ['*'],
    maxAgeSeconds: 600,
  };

  before(async () => {
    cluster = await clusterA();
    driver = createS3Driver(s3Config(cluster, bucket));
  });

  after(async () => {
    await driver?.close?.();
    if (cluster) await removeBucket(cluster, bucket);
  });

  it('refuses a missing bucket without create, and changes nothing in a dry run', async () => {
    const error = await rejection(driver.setup!({ ...documents, create: false, dryRun: false }));
    assert.equal(error.code, 'not_found');
    assert.ok(error.message.includes(bucket));
    const steps = await driver.setup!({ ...documents, create: true, dryRun: true, cors });
    assert.deepEqual(
      steps.map((step) => [step.step, step.status]),
      [
        ['create bucket', 'would'],
        ['public read', 'would'],
        ['website', 'would'],
        ['cors', 'would'],
      ],
    );
    assert.deepEqual((await rejection(driver.list({}))).code, 'not_found');
  });

  it('creates the bucket, makes it public through the ACL, and says what Swift cannot do', async () => {
    const steps = await driver.setup!({ ...documents, create: true, dryRun: false, cors });
    const byName = Object.fromEntries(steps.map((step) => [step.step, step]));
    assert.equal(byName['create bucket']?.status, 'done');
    assert.equal(byName['public read']?.status, 'done');
    assert.match(byName['public read']!.detail, /public-read ACL/);
    assert.equal(byName.website?.status, 'unsupported');
    assert.match(byName.website!.detail, /no website hosting \(NotImplemented\)/);
    assert.match(byName.website!.detail, /swift post -m web-index:index\.html/);
    assert.equal(byName.cors?.status, 'unsupported');
    assert.match(byName.cors!.detail, /no bucket CORS/);

    const store = new Store(driver, { originId: 'setup' });
    await store.putBytes('hello world.html', text('<h1>hi</h1>'), { contentType: 'text/html' });
    // Swift serves a public container to anyone through its native URL (no token).
    const response = await fetch(`${cluster.storageUrl}/${bucket}/hello%20world.html`);
    assert.equal(response.status, 200);
    assert.equal(await response.text(), '<h1>hi</h1>');
  });

  it('says already for the bucket the second time', async () => {
    const steps = await driver.setup!({ ...documents, create: true, dryRun: false });
    assert.deepEqual(
      steps.map((step) => [step.step, step.status]),
      [
        ['create bucket', 'already'],
        // Swift's s3api applies the ACL but does not report it back: it is set again, harmlessly.
        ['public read', 'done'],
        ['website', 'unsupported'],
      ],
    );
    const dry = await driver.setup!({ ...documents, create: false, dryRun: true });
    assert.deepEqual(
      dry.map((step) => step.status),
      ['already', 'would', 'unsupported'],
    );
  });
});

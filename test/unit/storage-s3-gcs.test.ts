// The `s3` driver on Google Cloud Storage's S3-interoperability route: its XML API with an HMAC key
// (test/standins/gcs-xml.ts, which checks every request's SigV4 signature with the key's secret).
// The config is what Google documents: endpoint storage.googleapis.com (here the stand-in), the
// HMAC access ID and secret as the credentials, region `auto` as Google's S3-SDK samples sign.
// Path style, which GCS takes besides virtual hosts: a host name per bucket would need DNS here.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { ListObjectsCommand, S3Client } from '@aws-sdk/client-s3';
import { isOutlastError, type OutlastError } from '../../src/errors.ts';
import type { ObjectSource, StorageDriver } from '../../src/storage/driver.ts';
import { createS3Driver, type S3StorageConfig } from '../../src/storage/drivers/s3.ts';
import { MULTIPART_THRESHOLD, PART_SIZE } from '../../src/storage/drivers/s3-upload.ts';
import { Store } from '../../src/storage/store.ts';
import { testStorageDriver } from '../conformance/storage.ts';
import { eventually } from '../helpers/eventually.ts';
import { GcsXmlStandIn } from '../standins/gcs-xml.ts';

// A service account's HMAC key has a 61-character access ID and a 40-character base64 secret.
const ACCESS_ID = `GOOG1E${randomBytes(40).toString('hex').toUpperCase().slice(0, 55)}`;
const SECRET = randomBytes(30).toString('base64');

const standIns: GcsXmlStandIn[] = [];
async function newStandIn(options: Partial<Pick<GcsXmlStandIn, 'multiObjectDelete'>> = {}) {
  const standIn = new GcsXmlStandIn();
  Object.assign(standIn, options);
  await standIn.start();
  standIns.push(standIn);
  standIn.addHmacKey(ACCESS_ID, SECRET);
  return standIn;
}
let shared: Promise<GcsXmlStandIn> | undefined;
const sharedStandIn = () => {
  shared ??= newStandIn();
  return shared;
};
after(async () => {
  for (const standIn of standIns) await standIn.stop();
});

function bucketName(): string {
  return `outlast-test-${randomBytes(6).toString('hex')}`;
}

function config(
  standIn: GcsXmlStandIn,
  bucket: string,
  overrides: Partial<S3StorageConfig> = {},
): S3StorageConfig {
  return {
    type: 's3',
    bucket,
    region: 'auto',
    endpoint: standIn.endpoint,
    forcePathStyle: true,
    credentials: { accessKeyId: ACCESS_ID, secretAccessKey: SECRET },
    ...overrides,
  };
}

/** A fresh bucket per suite; `old` plays GCS before multi-object delete (501 NotImplemented). */
function harness(name: string, options: { prefix?: string; old?: boolean } = {}) {
  let standIn: Promise<GcsXmlStandIn> | undefined;
  const server = () => {
    standIn ??= options.old ? newStandIn({ multiObjectDelete: false }) : sharedStandIn();
    return standIn;
  };
  return {
    name,
    checksMd5: true,
    ...(options.prefix === undefined ? {} : { prefix: options.prefix }),
    async create(): Promise<StorageDriver> {
      const bucket = bucketName();
      (await server()).addBucket(bucket);
      return createS3Driver(config(await server(), bucket));
    },
    async createMissing(): Promise<StorageDriver> {
      return createS3Driver(config(await server(), bucketName()));
    },
  };
}

testStorageDriver(harness('s3 (GCS XML API stand-in, HMAC key)'));
testStorageDriver(harness('s3 (GCS XML API stand-in, HMAC key, prefix site/)', { prefix: 'site/' }));
testStorageDriver(harness('s3 (GCS XML API stand-in without multi-object delete)', { old: true }));

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

/** A stream source of `body` whose streams give `sent` bytes, then, asked for more, abort `controller`. */
function cutOffSource(body: Uint8Array, sent: number, controller: AbortController): ObjectSource {
  return {
    kind: 'stream',
    size: body.byteLength,
    open: () => {
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

describe('s3 driver on the GCS XML API stand-in', () => {
  let standIn: GcsXmlStandIn;
  let bucket: string;
  let driver: StorageDriver;
  let store: Store;
  let scratch: string;

  before(async () => {
    standIn = await sharedStandIn();
    bucket = bucketName();
    standIn.addBucket(bucket);
    driver = createS3Driver(config(standIn, bucket));
    store = new Store(driver, { originId: 'gcs-xml', retryBaseMs: 10 });
    scratch = await mkdtemp(join(tmpdir(), 'outlast-s3-gcs-'));
  });

  after(async () => {
    await driver?.close?.();
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  it('signs every request with the HMAC access ID for region auto', async () => {
    await store.putBytes('sign/a.txt', text('a'));
    await store.stat('sign/a.txt');
    const signed = standIn.requests.filter((request) => request.path.startsWith(`/${bucket}`));
    assert.ok(signed.length >= 2);
    for (const request of signed) {
      assert.equal(request.accessId, ACCESS_ID, `${request.method} ${request.path}`);
      assert.equal(request.region, 'auto', `${request.method} ${request.path}`);
    }
  });

  it('a wrong HMAC secret is permission_denied, without either secret in the message', async () => {
    await store.putBytes('auth/kept.txt', text('kept'));
    const wrong = randomBytes(30).toString('base64');
    const bad = createS3Driver(
      config(standIn, bucket, { credentials: { accessKeyId: ACCESS_ID, secretAccessKey: wrong } }),
    );
    try {
      const bytes = text('never');
      for (const attempt of [
        () => bad.list({}),
        () => bad.stat('auth/kept.txt'),
        () => bad.get('auth/kept.txt'),
        () => bad.put('auth/kept.txt', { kind: 'bytes', bytes }, { sha256: sha256(bytes) }),
        () => bad.delete('auth/kept.txt'),
      ]) {
        const error = await rejection(attempt());
        assert.equal(error.code, 'permission_denied', error.message);
        assert.match(error.message, /signature does not match/i);
        assert.ok(
          !error.message.includes(wrong) && !error.message.includes(SECRET),
          'no secret in the message',
        );
      }
    } finally {
      await bad.close?.();
    }
    assert.deepEqual(await store.getBytes('auth/kept.txt'), text('kept'));
  });

  it('an access ID GCS does not know is permission_denied', async () => {
    const stranger = createS3Driver(
      config(standIn, bucket, {
        credentials: { accessKeyId: `GOOG1E${'X'.repeat(55)}`, secretAccessKey: SECRET },
      }),
    );
    try {
      const error = await rejection(stranger.list({}));
      assert.equal(error.code, 'permission_denied', error.message);
      assert.match(error.message, /access key id/i);
    } finally {
      await stranger.close?.();
    }
  });

  it('deleting a missing key succeeds though GCS answers 404 NoSuchKey', async () => {
    const before = standIn.requests.length;
    await driver.delete('gone/never-existed');
    const sent = standIn.requests.slice(before);
    assert.deepEqual(
      sent.map((request) => [request.method, request.status]),
      [['DELETE', 404]],
    );
  });

  it('deletes many keys in one POST ?delete, missing keys included, whatever GCS says of them', async () => {
    for (const mode of ['error', 'deleted'] as const) {
      standIn.missingKeysInDeleteResult = mode;
      await Promise.all(['many/a', 'many/b'].map((key) => store.putBytes(key, text(key))));
      const before = standIn.requests.length;
      await driver.deleteMany!(['many/a', 'many/never-existed', 'many/b']);
      const sent = standIn.requests.slice(before);
      assert.deepEqual(
        sent.map((request) => [request.method, 'delete' in request.query, request.status]),
        [['POST', true, 200]],
        mode,
      );
      assert.deepEqual(await store.listAll('many/'), [], mode);
    }
    standIn.missingKeysInDeleteResult = 'error';
  });

  it('uploads a 20 MiB file in parts, visible only once completed', { timeout: 60_000 }, async () => {
    const bytes = randomBytes(MULTIPART_THRESHOLD + PART_SIZE / 2);
    const path = join(scratch, 'big.bin');
    await writeFile(path, bytes);
    await store.put(
      'big/parts.bin',
      { kind: 'file', path, size: bytes.length },
      { sha256: sha256(bytes), contentType: 'application/octet-stream', metadata: { build: '7' } },
    );
    const info = await store.stat('big/parts.bin');
    assert.equal(info?.sha256, sha256(bytes));
    assert.deepEqual(info?.metadata, { build: '7' });
    assert.match(
      info?.etag ?? '',
      new RegExp(`-${Math.ceil(bytes.length / PART_SIZE)}$`),
      'a multipart ETag',
    );
    const got = await store.getBytes('big/parts.bin');
    assert.ok(got && Buffer.from(got).equals(bytes), 'the bytes are identical');
    const parts = standIn.requests.filter(
      (request) =>
        request.path.endsWith('/big/parts.bin') && 'partNumber' in request.query && request.status === 200,
    );
    assert.equal(parts.length, Math.ceil(bytes.length / PART_SIZE));
    assert.equal(standIn.uploads.size, 0, 'no upload left open');
  });

  it('a multipart put aborted midway leaves no object and no upload', { timeout: 60_000 }, async () => {
    const body = randomBytes(MULTIPART_THRESHOLD + PART_SIZE);
    const controller = new AbortController();
    const source = cutOffSource(body, PART_SIZE + 1024 * 1024, controller);
    const error = await rejection(
      store.put('abort/parts.bin', source, { sha256: sha256(body), signal: controller.signal }),
    );
    assert.equal(error.code, 'cancelled', error.message);
    assert.equal(await store.stat('abort/parts.bin'), undefined);
    assert.deepEqual(await store.listAll('abort/'), []);
    // AbortMultipartUpload goes out once the parts in flight have stopped, after the put rejected.
    await eventually('no upload left open', async () => standIn.uploads.size === 0, 10_000);
  });
});

describe('s3 driver on a GCS that refuses multi-object delete (501 NotImplemented)', () => {
  let standIn: GcsXmlStandIn;
  let bucket: string;
  let driver: StorageDriver;
  let store: Store;

  before(async () => {
    standIn = await newStandIn({ multiObjectDelete: false });
    bucket = bucketName();
    standIn.addBucket(bucket);
    driver = createS3Driver(config(standIn, bucket));
    store = new Store(driver, { originId: 'gcs-xml-old', retryBaseMs: 10 });
  });

  after(async () => {
    await driver?.close?.();
  });

  it('falls back to single deletes once, and remembers it', async () => {
    const keys = Array.from({ length: 40 }, (_, i) => `fallback/k${i}`);
    await Promise.all(keys.map((key) => store.putBytes(key, text(key))));
    let before = standIn.requests.length;
    await driver.deleteMany!([...keys.slice(0, 20), 'fallback/never-existed']);
    let sent = standIn.requests.slice(before);
    assert.deepEqual(
      sent.filter((request) => request.method === 'POST').map((request) => request.status),
      [501],
      'one refused POST ?delete',
    );
    assert.equal(sent.filter((request) => request.method === 'DELETE').length, 21);
    assert.deepEqual(
      (await store.listAll('fallback/')).map((item) => item.key),
      [...keys.slice(20)].sort(),
    );
    before = standIn.requests.length;
    await driver.deleteMany!(keys.slice(20));
    sent = standIn.requests.slice(before);
    assert.ok(
      sent.every((request) => request.method === 'DELETE'),
      'no second POST ?delete',
    );
    assert.equal(sent.length, 20);
    assert.deepEqual(await store.listAll('fallback/'), []);
  });

  it('a key-by-key deleteMany that fails names the keys, with the code of the refusal', async () => {
    await store.putBytes('fail/a', text('a'));
    standIn.buckets.delete(bucket);
    try {
      const error = await rejection(driver.deleteMany!(['fail/a', 'fail/b']));
      assert.equal(error.code, 'not_found', error.message);
      assert.match(error.message, /key by key/);
      assert.match(
        error.message,
        /2 of 2 keys not deleted: "fail\/a" \(not_found\), "fail\/b" \(not_found\)/,
      );
    } finally {
      standIn.addBucket(bucket);
    }
  });

  it('an aborted signal cancels a key-by-key deleteMany before any request', async () => {
    const before = standIn.requests.length;
    const error = await rejection(driver.deleteMany!(['fail/a'], { signal: AbortSignal.abort() }));
    assert.equal(error.code, 'cancelled');
    assert.equal(standIn.requests.length, before);
  });
});

describe('the GCS XML API stand-in refuses what GCS would', () => {
  let standIn: GcsXmlStandIn;

  before(async () => {
    standIn = await newStandIn();
    standIn.addBucket('refusals');
  });

  it('refuses an unsigned request with 403 AccessDenied, and records it', async () => {
    const unsigned = await fetch(`${standIn.endpoint}/refusals?list-type=2`);
    assert.equal(unsigned.status, 403);
    assert.match(await unsigned.text(), /<Code>AccessDenied<\/Code>/);
    assert.equal(standIn.violations.length, 1, 'recorded');
    standIn.violations.length = 0;
  });

  it('records a request it does not serve (ListObjects v1), answering 501 NotImplemented', async () => {
    const client = new S3Client({
      region: 'auto',
      endpoint: standIn.endpoint,
      forcePathStyle: true,
      credentials: { accessKeyId: ACCESS_ID, secretAccessKey: SECRET },
    });
    try {
      const error = await client.send(new ListObjectsCommand({ Bucket: 'refusals' })).then(
        () => undefined,
        (caught: unknown) => caught as { name?: string; $metadata?: { httpStatusCode?: number } },
      );
      assert.equal(error?.$metadata?.httpStatusCode, 501);
      assert.equal(error?.name, 'NotImplemented');
      assert.equal(standIn.violations.length, 1, 'recorded');
      standIn.violations.length = 0;
    } finally {
      client.destroy();
    }
  });

  it('refuses a put whose Content-MD5 is not its bytes with 400 BadDigest, keeping the key', async () => {
    const driver = createS3Driver(config(standIn, 'refusals'));
    try {
      const bytes = text('first');
      await driver.put('md5.txt', { kind: 'bytes', bytes }, { sha256: sha256(bytes) });
      const other = text('other');
      const md5 = createHash('md5').update(bytes).digest('hex');
      const error = await rejection(
        driver.put('md5.txt', { kind: 'bytes', bytes: other }, { sha256: sha256(other), md5 }),
      );
      assert.match(error.message, /BadDigest/);
      assert.equal(standIn.requests.at(-1)?.status, 400);
      assert.deepEqual(standIn.buckets.get('refusals')?.get('md5.txt')?.bytes, Buffer.from(bytes));
    } finally {
      await driver.close?.();
    }
  });
});

describe('every GCS XML API stand-in', () => {
  it('saw no request GCS would not serve, no unsigned request and no wrong payload hash', () => {
    assert.ok(standIns.length >= 3, 'the stand-ins of the suites above');
    for (const standIn of standIns) assert.deepEqual(standIn.violations, []);
  });
});

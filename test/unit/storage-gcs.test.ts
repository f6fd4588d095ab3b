// The `gcs` driver against the GCS JSON API stand-in (test/standins/gcs.ts). Auth is real: the test
// makes an RSA key pair, hands the private key to the driver as a service account's credentials and
// the public key to the stand-in, which verifies the self-signed JWT of every request.
import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
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

  it('sends no request GCS would refuse for its shape', () => {
    assert.deepEqual(server.violations, []);
  });
});

// The `azure` driver against Azurite (test/servers/azurite.ts), the Azure Storage emulator: the
// conformance suite on a fresh container per suite, then what is Azure's own: the metadata name
// encoding, staged-block puts, setup ($web's static website, a public container, CORS, dry
// runs), SAS logins, and errors (a stopped Azurite, a wrong key) that never show a secret.
// Azurite does not serve the static website endpoint itself: index and 404 documents are only
// checked as settings here.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import {
  AccountSASPermissions,
  AccountSASResourceTypes,
  AccountSASServices,
  BlobServiceClient,
  generateAccountSASQueryParameters,
  StorageSharedKeyCredential,
} from '@azure/storage-blob';
import { isOutlastError, type OutlastError } from '../../src/errors.ts';
import type { ObjectSource, StorageDriver } from '../../src/storage/driver.ts';
import { type AzureStorageConfig, createAzureDriver } from '../../src/storage/drivers/azure.ts';
import { decodeMetadata, encodeMetadata } from '../../src/storage/drivers/azure-metadata.ts';
import { azureStorageSchema } from '../../src/storage/drivers/azure-options.ts';
import { BLOCK_SIZE, SINGLE_SHOT_LIMIT } from '../../src/storage/drivers/azure-upload.ts';
import { Store } from '../../src/storage/store.ts';
import { createWriteGate } from '../../src/writes.ts';
import { testStorageDriver } from '../conformance/storage.ts';
import {
  AZURITE_ACCOUNT,
  AZURITE_KEY,
  type Azurite,
  azuriteForTests,
  startAzurite,
} from '../servers/azurite.ts';

const containerName = () => `outlast-test-${randomBytes(6).toString('hex')}`;

function keyConfig(azurite: Azurite, container: string): AzureStorageConfig {
  return {
    type: 'azure',
    container,
    account: AZURITE_ACCOUNT,
    accountKey: AZURITE_KEY,
    endpoint: azurite.endpoint,
  };
}

function rawService(azurite: Azurite): BlobServiceClient {
  return BlobServiceClient.fromConnectionString(azurite.connectionString);
}

function harness(name: string, login: 'key' | 'connectionString', prefix?: string) {
  let azurite: Azurite | undefined;
  let container = '';
  const config = (server: Azurite, name: string): AzureStorageConfig =>
    login === 'key'
      ? keyConfig(server, name)
      : { type: 'azure', container: name, connectionString: server.connectionString };
  return {
    name,
    checksMd5: true,
    ...(prefix === undefined ? {} : { prefix }),
    async create(): Promise<StorageDriver> {
      azurite = await azuriteForTests();
      container = containerName();
      await rawService(azurite).getContainerClient(container).create();
      return createAzureDriver(config(azurite, container));
    },
    async cleanup() {
      if (azurite && container) await rawService(azurite).getContainerClient(container).deleteIfExists();
    },
    async createMissing(): Promise<StorageDriver> {
      return createAzureDriver(config(await azuriteForTests(), containerName()));
    },
  };
}

testStorageDriver(harness('azure (Azurite, account key)', 'key'));
testStorageDriver(harness('azure (Azurite, connection string, prefix site/)', 'connectionString', 'site/'));

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

describe('azure metadata names', () => {
  it('round-trips the contract keys through C# identifiers', () => {
    const metadata = {
      'outlast-sha256': 'ab'.repeat(32),
      color: 'blue',
      'x-build': '2024',
      '1st-x': 'y',
      empty: '',
    };
    const encoded = encodeMetadata(metadata);
    for (const name of Object.keys(encoded)) assert.match(name, /^[A-Za-z_][A-Za-z0-9_]*$/, name);
    assert.equal(encoded.o_outlast_sha256, 'ab'.repeat(32));
    assert.equal(encoded.o_1st_x, 'y');
    assert.notEqual(encoded.oe_empty, '', 'an empty value travels in the name');
    assert.deepEqual(decodeMetadata(encoded), metadata);
  });

  it('leaves names outlast did not write out, and reads names in any case', () => {
    assert.deepEqual(decodeMetadata({ author: 'someone', O_Color: 'red', oe_x: '-', other_key: 'v' }), {
      color: 'red',
      x: '',
    });
  });

  it('accepts exactly one login in the config', () => {
    const base = { type: 'azure', container: 'site' } as const;
    assert.ok(azureStorageSchema.safeParse({ ...base, account: 'acct1', accountKey: 'k' }).success);
    assert.ok(azureStorageSchema.safeParse({ ...base, account: 'acct1', sasToken: 'sv=1&sig=x' }).success);
    assert.ok(azureStorageSchema.safeParse({ ...base, account: 'acct1' }).success);
    assert.ok(
      azureStorageSchema.safeParse({ ...base, connectionString: 'AccountName=a;AccountKey=b' }).success,
    );
    assert.ok(azureStorageSchema.safeParse({ type: 'azure', container: '$web', account: 'acct1' }).success);
    assert.ok(!azureStorageSchema.safeParse(base).success, 'no login');
    assert.ok(
      !azureStorageSchema.safeParse({ ...base, account: 'acct1', accountKey: 'k', sasToken: 's' }).success,
    );
    assert.ok(!azureStorageSchema.safeParse({ ...base, account: 'acct1', connectionString: 'c' }).success);
    assert.ok(!azureStorageSchema.safeParse({ ...base, container: 'Bad_Name', account: 'acct1' }).success);
  });
});

describe('azure driver on Azurite', () => {
  let azurite: Azurite;
  let container: string;
  let driver: StorageDriver;
  let store: Store;

  before(async () => {
    azurite = await azuriteForTests();
    container = containerName();
    await rawService(azurite).getContainerClient(container).create();
    driver = createAzureDriver(keyConfig(azurite, container));
    store = new Store(driver, { originId: 'azurite', retryBaseMs: 10 });
  });

  after(async () => {
    await driver?.close?.();
    if (azurite && container) await rawService(azurite).getContainerClient(container).deleteIfExists();
  });

  it('stores sha256 and metadata under C# identifiers, and reads them back', async () => {
    const bytes = text('named');
    await store.putBytes('names/a.txt', bytes, { metadata: { 'x-build': '7', empty: '' } });
    const raw = await rawService(azurite)
      .getContainerClient(container)
      .getBlobClient('names/a.txt')
      .getProperties();
    assert.equal(raw.metadata?.o_outlast_sha256, sha256(bytes));
    assert.equal(raw.metadata?.o_x_build, '7');
    const info = await store.stat('names/a.txt');
    assert.equal(info?.sha256, sha256(bytes));
    assert.deepEqual(info?.metadata, { 'x-build': '7', empty: '' });
  });

  it('puts past the single-shot limit in staged blocks, with headers, metadata and its MD5', async () => {
    const bytes = randomBytes(BLOCK_SIZE * 2 + 12_345);
    assert.ok(bytes.length > SINGLE_SHOT_LIMIT);
    await store.put(
      'big/blocks.bin',
      { kind: 'bytes', bytes },
      { sha256: sha256(bytes), md5: md5Hex(bytes), contentType: 'application/x-test', metadata: { a: 'b' } },
    );
    const info = await store.stat('big/blocks.bin');
    assert.equal(info?.size, bytes.length);
    assert.equal(info?.sha256, sha256(bytes));
    assert.equal(info?.contentType, 'application/x-test');
    assert.deepEqual(info?.metadata, { a: 'b' });
    const blob = rawService(azurite).getContainerClient(container).getBlockBlobClient('big/blocks.bin');
    const { committedBlocks = [] } = await blob.getBlockList('committed');
    assert.equal(committedBlocks.length, 3);
    const got = await store.getBytes('big/blocks.bin');
    assert.ok(got && Buffer.from(got).equals(bytes));
  });

  it('refuses a staged put whose bytes do not match the MD5 given, and the key keeps what it had', async () => {
    const old = text('old');
    await store.putBytes('big/md5.bin', old);
    const bytes = randomBytes(SINGLE_SHOT_LIMIT + 1);
    const once = new Store(driver, { originId: 'azurite', attempts: 1 });
    const error = await rejection(
      once.put('big/md5.bin', { kind: 'bytes', bytes }, { sha256: sha256(bytes), md5: md5Hex(old) }),
    );
    assert.equal(error.code, 'unavailable', 'a file changed since the scan is worth reading again');
    assert.deepEqual(await store.getBytes('big/md5.bin'), old);
  });

  it('a staged put aborted midway is cancelled and leaves no blob', { timeout: 60_000 }, async () => {
    const body = randomBytes(BLOCK_SIZE * 3);
    const controller = new AbortController();
    let sent = 0;
    const source: ObjectSource = {
      kind: 'stream',
      size: body.length,
      open: () =>
        new Readable({
          read() {
            if (sent >= BLOCK_SIZE * 2) {
              setImmediate(() => controller.abort());
              return;
            }
            const chunk = body.subarray(sent, sent + 1024 * 1024);
            sent += chunk.length;
            this.push(chunk);
          },
        }),
    };
    const error = await rejection(
      store.put('abort/staged.bin', source, { sha256: sha256(body), signal: controller.signal }),
    );
    assert.equal(error.code, 'cancelled');
    assert.equal(await store.stat('abort/staged.bin'), undefined);
    assert.deepEqual(await store.listAll('abort/'), []);
  });

  it('refuses a file whose size changed since the scan, shorter or longer, single-shot or staged', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'outlast-azure-'));
    try {
      const path = join(dir, 'changed.txt');
      await writeFile(path, 'longer than announced');
      for (const size of [3, 1_000, SINGLE_SHOT_LIMIT + 5]) {
        const error = await rejection(
          driver.put('changed.txt', { kind: 'file', path, size }, { sha256: sha256(text('x')) }),
        );
        assert.equal(error.code, 'conflict', `${size}: ${error.message}`);
        assert.equal(error.retryable, false);
        assert.match(error.message, /changed\.txt has 21 bytes/);
      }
      assert.equal(await driver.stat('changed.txt'), undefined);
      const gone = await rejection(
        driver.put(
          'gone.txt',
          { kind: 'file', path: join(dir, 'nope'), size: 1 },
          { sha256: sha256(text('x')) },
        ),
      );
      assert.equal(gone.code, 'not_found');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('copies odd keys server-side with their headers and metadata', async () => {
    const keys = ['copy/with space#hash?q=1', 'copy/percent%20+plus', 'copy/caf\u00e9-\u{1f680}/\u6f22.html'];
    for (const [index, key] of keys.entries()) {
      await store.putBytes(key, text(key), {
        contentType: 'text/html',
        cacheControl: 'no-cache',
        metadata: { n: String(index) },
      });
      await driver.copy!(key, `${key}.copy`);
      const info = await store.stat(`${key}.copy`);
      assert.equal(info?.sha256, sha256(text(key)), key);
      assert.equal(info?.contentType, 'text/html');
      assert.equal(info?.cacheControl, 'no-cache');
      assert.deepEqual(info?.metadata, { n: String(index) });
      assert.deepEqual(await store.getBytes(`${key}.copy`), text(key));
    }
  });

  it('deletes a batch with missing keys among them', async () => {
    await store.putBytes('batch/a', text('a'));
    await store.putBytes('batch/b c', text('b'));
    await driver.deleteMany!(['batch/a', 'batch/never', 'batch/b c']);
    assert.deepEqual(await store.listAll('batch/'), []);
  });

  it('works with a SAS token: put, copy, list, and single deletes instead of a batch', async () => {
    const sas = generateAccountSASQueryParameters(
      {
        expiresOn: new Date(Date.now() + 3_600_000),
        permissions: AccountSASPermissions.parse('rwdlac'),
        resourceTypes: AccountSASResourceTypes.parse('sco').toString(),
        services: AccountSASServices.parse('b').toString(),
      },
      new StorageSharedKeyCredential(AZURITE_ACCOUNT, AZURITE_KEY),
    ).toString();
    const sasDriver = createAzureDriver({
      type: 'azure',
      container,
      account: AZURITE_ACCOUNT,
      sasToken: `?${sas}`,
      endpoint: azurite.endpoint,
    });
    try {
      assert.equal(sasDriver.capabilities.deleteMany, false, 'Azurite refuses a batch made with a SAS');
      const sasStore = new Store(sasDriver, { originId: 'azurite-sas', retryBaseMs: 10 });
      const bytes = text('through a SAS');
      await sasStore.putBytes('sas/x.html', bytes, { contentType: 'text/html', metadata: { k: 'v' } });
      await sasStore.copy('sas/x.html', 'sas/y.html');
      const listed = await sasStore.listAll('sas/');
      assert.deepEqual(
        listed.map((item) => [item.key, item.sha256, item.contentType, item.metadata]),
        [
          ['sas/x.html', sha256(bytes), 'text/html', { k: 'v' }],
          ['sas/y.html', sha256(bytes), 'text/html', { k: 'v' }],
        ],
      );
      await sasStore.deleteMany(['sas/x.html', 'sas/y.html']);
      assert.deepEqual(await sasStore.listAll('sas/'), []);
    } finally {
      await sasDriver.close?.();
    }
  });

  it('maps a wrong account key to permission_denied, without the key in the message', async () => {
    const wrongKey = randomBytes(64).toString('base64');
    const wrong = createAzureDriver({ ...keyConfig(azurite, container), accountKey: wrongKey });
    for (const attempt of [
      () => wrong.list({}),
      () => wrong.stat('a'),
      () => wrong.put('a', { kind: 'bytes', bytes: text('x') }, { sha256: sha256(text('x')) }),
    ]) {
      const error = await rejection(attempt());
      assert.equal(error.code, 'permission_denied', error.message);
      assert.match(error.message, /account key of "devstoreaccount1"/);
      assert.ok(!error.message.includes(wrongKey) && !(error.hint ?? '').includes(wrongKey));
    }
  });

  it('maps a missing container to not_found naming the container', async () => {
    const name = containerName();
    const missing = createAzureDriver(keyConfig(azurite, name));
    const error = await rejection(missing.list({}));
    assert.equal(error.code, 'not_found');
    assert.match(error.message, new RegExp(`container "${name}" does not exist`));
    assert.match(error.hint ?? '', /outlast setup/);
  });
});

describe('azure errors from a stopped Azurite', () => {
  let stopped: Azurite;

  before(async () => {
    stopped = await startAzurite();
    await stopped.stop();
  });

  it('is unavailable and retryable, naming the endpoint, never the secrets', async () => {
    const sas = 'sv=2024-01-01&ss=b&srt=sco&sp=rl&se=2099-01-01T00:00:00Z&sig=SeCrEtSiGnAtUrE%3D';
    const configs: AzureStorageConfig[] = [
      keyConfig(stopped, 'site'),
      { type: 'azure', container: 'site', connectionString: stopped.connectionString },
      {
        type: 'azure',
        container: 'site',
        account: AZURITE_ACCOUNT,
        sasToken: sas,
        endpoint: stopped.endpoint,
      },
    ];
    for (const config of configs) {
      const driver = createAzureDriver(config);
      for (const attempt of [
        () => driver.list({}),
        () => driver.stat('a.txt'),
        () => driver.get('a.txt'),
        () => driver.put('a.txt', { kind: 'bytes', bytes: text('x') }, { sha256: sha256(text('x')) }),
        () => driver.delete('a.txt'),
      ]) {
        const error = await rejection(attempt());
        assert.equal(error.code, 'unavailable', error.message);
        assert.equal(error.retryable, true);
        assert.equal(error.source, 'azure');
        assert.match(error.message, new RegExp(`cannot reach ${stopped.endpoint.replace(/[./]/g, '\\$&')}`));
        for (const secret of [AZURITE_KEY, 'SeCrEtSiGnAtUrE']) {
          assert.ok(!error.message.includes(secret), `no secret in: ${error.message}`);
          assert.ok(!(error.hint ?? '').includes(secret));
        }
      }
    }
  });
});

describe('azure setup on Azurite', () => {
  let azurite: Azurite;

  before(async () => {
    azurite = await startAzurite();
  });

  after(async () => {
    await azurite?.stop();
  });

  const setupOptions = {
    indexDocument: 'index.html',
    errorDocument: '404.html',
    create: true,
    cors: {
      allowedOrigins: ['https://example.org'],
      allowedMethods: ['GET', 'HEAD'],
      allowedHeaders: ['*'],
      maxAgeSeconds: 600,
    },
  };

  it('a dry run on $web says what it would do and changes nothing', async () => {
    const driver = createAzureDriver(keyConfig(azurite, '$web'));
    const gate = createWriteGate({ dryRun: true });
    const steps = await driver.setup!({ ...setupOptions, gate });
    assert.deepEqual(
      steps.map((step) => [step.step, step.status]),
      [
        ['create container', 'would'],
        ['website', 'would'],
        ['cors', 'would'],
      ],
    );
    assert.equal(gate.skipped().length, 3);
    const service = rawService(azurite);
    assert.equal(await service.getContainerClient('$web').exists(), false);
    const properties = await service.getProperties();
    assert.notEqual(properties.staticWebsite?.enabled, true);
    assert.deepEqual(properties.cors ?? [], []);
  });

  it('refuses a missing container without create', async () => {
    const driver = createAzureDriver(keyConfig(azurite, '$web'));
    const error = await rejection(driver.setup!({ ...setupOptions, create: false }));
    assert.equal(error.code, 'not_found');
  });

  it('sets up $web and the static website, then says already', async () => {
    const driver = createAzureDriver(keyConfig(azurite, '$web'));
    const first = await driver.setup!(setupOptions);
    assert.deepEqual(
      first.map((step) => [step.step, step.status]),
      [
        ['create container', 'done'],
        ['website', 'done'],
        ['cors', 'done'],
      ],
    );
    const properties = await rawService(azurite).getProperties();
    assert.equal(properties.staticWebsite?.enabled, true);
    assert.equal(properties.staticWebsite?.indexDocument, 'index.html');
    assert.equal(properties.staticWebsite?.errorDocument404Path, '404.html');
    assert.equal(properties.cors?.length, 1);
    assert.equal(properties.cors?.[0]?.allowedOrigins, 'https://example.org');
    const access = await rawService(azurite).getContainerClient('$web').getAccessPolicy();
    assert.equal(access.blobPublicAccess, undefined, '$web stays private: the web endpoint serves it');
    const again = await driver.setup!(setupOptions);
    assert.deepEqual(
      again.map((step) => step.status),
      ['already', 'already', 'already'],
    );
  });

  it('makes another container publicly readable, so an anonymous GET returns the bytes and type', async () => {
    const name = containerName();
    const driver = createAzureDriver(keyConfig(azurite, name));
    const dry = await driver.setup!({ ...setupOptions, cors: undefined, dryRun: true });
    assert.deepEqual(
      dry.map((step) => [step.step, step.status]),
      [
        ['create container', 'would'],
        ['public read', 'would'],
        ['website', 'unsupported'],
      ],
    );
    assert.equal(await rawService(azurite).getContainerClient(name).exists(), false);
    const first = await driver.setup!({ ...setupOptions, cors: undefined });
    assert.deepEqual(
      first.map((step) => step.status),
      ['done', 'already', 'unsupported'],
    );
    const store = new Store(driver, { originId: 'public' });
    const bytes = text('<!doctype html><p>hé');
    await store.putBytes('dir/page one.html', bytes, { contentType: 'text/html; charset=utf-8' });
    const response = await fetch(`${azurite.endpoint}/${name}/dir/page%20one.html`);
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('content-type'), 'text/html; charset=utf-8');
    assert.ok(Buffer.from(await response.arrayBuffer()).equals(Buffer.from(bytes)));
    const listing = await fetch(`${azurite.endpoint}/${name}?restype=container&comp=list`);
    await listing.body?.cancel();
    assert.notEqual(listing.status, 200, 'blob access lets nobody list');
    const again = await driver.setup!({ ...setupOptions, cors: undefined });
    assert.deepEqual(
      again.map((step) => step.status),
      ['already', 'already', 'unsupported'],
    );
  });

  it('makes an existing private container public, keeping its stored access policies', async () => {
    const name = containerName();
    const raw = rawService(azurite).getContainerClient(name);
    await raw.create();
    await raw.setAccessPolicy(undefined, [
      { id: 'kept', accessPolicy: { permissions: 'r', expiresOn: new Date(Date.now() + 86_400_000) } },
    ]);
    const driver = createAzureDriver(keyConfig(azurite, name));
    const steps = await driver.setup!({ ...setupOptions, cors: undefined, create: false });
    assert.deepEqual(
      steps.map((step) => [step.step, step.status]),
      [
        ['create container', 'already'],
        ['public read', 'done'],
        ['website', 'unsupported'],
      ],
    );
    const policy = await raw.getAccessPolicy();
    assert.equal(policy.blobPublicAccess, 'blob');
    assert.deepEqual(
      policy.signedIdentifiers.map((item) => item.id),
      ['kept'],
    );
  });
});

// The swift driver against a real Swift cluster (A, tempauth): the conformance suite without and
// with a prefix, then what only Swift has: bulk delete in batches, re-login after a revoked
// token, refused and unreachable logins, a missing container, and setup served by staticweb.
import assert from 'node:assert/strict';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import pLimit from 'p-limit';
import { Agent, type Dispatcher, MockAgent } from 'undici';
import { isOutlastError, type OutlastError } from '../../src/errors.ts';
import type { ObjectSource, SetupOptions, StorageDriver } from '../../src/storage/driver.ts';
import { createSwiftDriver, type SwiftStorageConfig } from '../../src/storage/drivers/swift.ts';
import { Store } from '../../src/storage/store.ts';
import { testStorageDriver } from '../conformance/storage.ts';
import { FaultProxy } from '../helpers/fault-proxy.ts';
import { type SwiftCluster, swiftClustersForTests } from '../servers/swift.ts';

/** swift.sh's tempauth user for this file alone: its token gets revoked here (see swift.sh). */
const OWN_USER = 'outlast:swiftdriver';
const OWN_KEY = 'swiftdriver';

interface Account {
  authUrl: string;
  user: string;
  key: string;
}

const mainAccount = (cluster: SwiftCluster): Account => ({
  authUrl: cluster.authUrl,
  user: cluster.user,
  key: cluster.key,
});
const ownAccount = (cluster: SwiftCluster): Account => ({
  authUrl: cluster.authUrl,
  user: OWN_USER,
  key: OWN_KEY,
});

function config(account: Account, container: string): SwiftStorageConfig {
  return {
    type: 'swift',
    container,
    interface: 'public',
    auth: { type: 'tempauth', url: account.authUrl, user: account.user, key: account.key },
  };
}

/** Raw Swift calls for the test's own setup and checks, independent of the driver. */
async function login(account: Account): Promise<{ token: string; storageUrl: string }> {
  const response = await fetch(account.authUrl, {
    headers: { 'X-Auth-User': account.user, 'X-Auth-Key': account.key },
  });
  await response.arrayBuffer();
  assert.equal(response.status, 200, `tempauth login of ${account.user}`);
  return { token: response.headers.get('x-auth-token')!, storageUrl: response.headers.get('x-storage-url')! };
}

async function raw(account: Account, method: string, path: string, headers: Record<string, string> = {}) {
  const { token, storageUrl } = await login(account);
  const response = await fetch(`${storageUrl}${path}`, {
    method,
    headers: { ...headers, 'X-Auth-Token': token },
  });
  const body = await response.text();
  return { status: response.status, headers: response.headers, body };
}

async function createContainer(account: Account, container: string): Promise<void> {
  const { status } = await raw(account, 'PUT', `/${container}`);
  assert.ok(status === 201 || status === 202, `create container ${container}: ${status}`);
}

/** Deletes the container and whatever a failed test left in it. */
async function removeContainer(account: Account, container: string): Promise<void> {
  for (;;) {
    const listed = await raw(account, 'GET', `/${container}?format=json&limit=1000`);
    if (listed.status === 404) return;
    const names = (JSON.parse(listed.body || '[]') as Array<{ name: string }>).map((item) => item.name);
    if (names.length === 0) break;
    const limit = pLimit(16);
    await Promise.all(
      names.map((name) =>
        limit(() =>
          raw(account, 'DELETE', `/${container}/${name.split('/').map(encodeURIComponent).join('/')}`),
        ),
      ),
    );
  }
  await raw(account, 'DELETE', `/${container}`);
}

const newContainerName = (label: string) => `outlast-${label}-${randomUUID().slice(0, 8)}`;

function swiftHarness(name: string, prefix?: string) {
  let account: Account;
  let container: string;
  return {
    name,
    checksMd5: true,
    ...(prefix === undefined ? {} : { prefix }),
    async create(): Promise<StorageDriver> {
      const { a } = await swiftClustersForTests();
      account = mainAccount(a);
      container = newContainerName('conf');
      await createContainer(account, container);
      return createSwiftDriver(config(account, container));
    },
    async cleanup() {
      if (container) await removeContainer(account, container);
    },
    async createMissing(): Promise<StorageDriver> {
      const { a } = await swiftClustersForTests();
      return createSwiftDriver(config(mainAccount(a), newContainerName('missing')));
    },
  };
}

testStorageDriver(swiftHarness('swift'));
testStorageDriver(swiftHarness('swift (prefix site/)', 'site/'));

/** An agent that records every request's method and path. */
function recordingAgent(): {
  agent: Dispatcher;
  requests: Array<{ method: string; path: string }>;
  close(): Promise<void>;
} {
  const requests: Array<{ method: string; path: string }> = [];
  const base = new Agent();
  const agent = base.compose((dispatch) => (options, handler) => {
    requests.push({ method: options.method, path: options.path });
    return dispatch(options, handler);
  });
  return { agent, requests, close: () => base.close() };
}

/** Revokes a tempauth token the way an expiry does: tempauth keeps tokens in memcache only. */
async function revokeToken(cluster: SwiftCluster, token: string): Promise<void> {
  const env = await readFile(join(cluster.dataDir, 'env'), 'utf8').catch(() => '');
  const port = Number(/^SWIFT_MEMCACHED_PORT=(\d+)$/m.exec(env)?.[1] ?? cluster.port + 4);
  // Swift's memcache client stores md5(key); tempauth's key is `<reseller prefix>/token/<token>`.
  const key = createHash('md5').update(`AUTH_/token/${token}`).digest('hex');
  const answer = await new Promise<string>((resolve, reject) => {
    const socket = connect(port, cluster.ip, () => socket.write(`delete ${key}\r\n`));
    socket.setEncoding('utf8');
    socket.once('data', (data: string) => {
      socket.end();
      resolve(data.trim());
    });
    socket.once('error', reject);
  });
  assert.equal(answer, 'DELETED', 'the token was in memcache');
}

async function caught(promise: Promise<unknown>): Promise<OutlastError> {
  const error = await promise.then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  assert.ok(isOutlastError(error), `expected an OutlastError, got ${String(error)}`);
  return error;
}

const text = (value: string) => new Uint8Array(Buffer.from(value));
const authRequests = (requests: Array<{ path: string }>) =>
  requests.filter((r) => r.path.startsWith('/auth/'));

describe('swift driver on a real cluster', () => {
  let cluster: SwiftCluster;
  let account: Account;
  let container: string;
  let scratch: string;

  before(async () => {
    ({ a: cluster } = await swiftClustersForTests());
    account = ownAccount(cluster);
    container = newContainerName('own');
    await createContainer(account, container);
    scratch = await mkdtemp(join(tmpdir(), 'outlast-swift-'));
  });

  after(async () => {
    if (container) await removeContainer(account, container);
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  it('bulk-deletes in batches of the configured size, and long Unicode keys one by one', async () => {
    const recorder = recordingAgent();
    const driver = createSwiftDriver(config(account, container), {
      dispatcher: recorder.agent,
      bulkDeleteLimit: 100,
    });
    try {
      const store = new Store(driver, { originId: 'bulk' });
      // 1,000 bytes of "é" is 3,000 characters once percent-encoded: over the middleware's line limit.
      const keys = [
        ...Array.from({ length: 250 }, (_, i) => `bulk/k${i}`),
        'bulk/odd key #?%+',
        `bulk/${'\u00e9'.repeat(495)}`,
      ];
      const limit = pLimit(32);
      await Promise.all(keys.map((key) => limit(() => store.putBytes(key, text(key)))));
      assert.equal(driver.capabilities.maxDeleteBatch, 100);
      recorder.requests.length = 0;
      await store.deleteMany(keys);
      const bulkPosts = recorder.requests.filter(
        (r) => r.method === 'POST' && r.path.endsWith('?bulk-delete'),
      );
      assert.equal(bulkPosts.length, 3, '252 keys in batches of 100');
      const single = recorder.requests.filter((r) => r.method === 'DELETE');
      assert.equal(single.length, 1, 'only the over-long key alone');
      assert.deepEqual(await store.listAll('bulk/'), []);
      assert.equal(driver.capabilities.deleteMany, true, '/info lists bulk_delete');
    } finally {
      await driver.close?.();
      await recorder.close();
    }
  });

  it('without bulk_delete in /info, deletes one by one and turns the capability off', async () => {
    const base = new MockAgent();
    base.enableNetConnect(); // only /info is mocked, everything else reaches the cluster
    const origin = new URL(cluster.authUrl).origin;
    base
      .get(origin)
      .intercept({ path: '/info', method: 'GET' })
      .reply(200, { swift: { version: '2.30.1' } });
    const requests: Array<{ method: string; path: string }> = [];
    const agent = base.compose((dispatch) => (options, handler) => {
      requests.push({ method: options.method, path: options.path });
      return dispatch(options, handler);
    });
    const driver = createSwiftDriver(config(account, container), { dispatcher: agent });
    try {
      const store = new Store(driver, { originId: 'no-bulk' });
      const keys = Array.from({ length: 20 }, (_, i) => `nobulk/k${i}`);
      await Promise.all(keys.map((key) => store.putBytes(key, text(key))));
      assert.equal(driver.capabilities.deleteMany, true, 'assumed until /info is read');
      await store.deleteMany(keys);
      assert.equal(requests.filter((r) => r.path.includes('bulk-delete')).length, 0);
      assert.equal(requests.filter((r) => r.method === 'DELETE').length, keys.length);
      assert.equal(driver.capabilities.deleteMany, false, 'Store deletes one by one from now on');
      assert.deepEqual(await store.listAll('nobulk/'), []);
    } finally {
      await driver.close?.();
      await base.close();
    }
  });

  it('when /info is hidden, tries bulk delete and keeps it', async () => {
    const base = new MockAgent();
    base.enableNetConnect();
    base.get(new URL(cluster.authUrl).origin).intercept({ path: '/info', method: 'GET' }).reply(403, '');
    const driver = createSwiftDriver(config(account, container), { dispatcher: base });
    try {
      const store = new Store(driver, { originId: 'hidden-info' });
      const keys = ['hidden/a', 'hidden/b'];
      await Promise.all(keys.map((key) => store.putBytes(key, text(key))));
      await store.deleteMany(keys);
      assert.deepEqual(await store.listAll('hidden/'), []);
      assert.equal(driver.capabilities.deleteMany, true);
    } finally {
      await driver.close?.();
      await base.close();
    }
  });

  it('logs in again once when Swift no longer accepts the token, also for file puts and bulk deletes', async () => {
    const recorder = recordingAgent();
    const driver = createSwiftDriver(config(account, container), { dispatcher: recorder.agent });
    try {
      const store = new Store(driver, { originId: 'relogin', attempts: 1 });
      await store.putBytes('relogin/a.txt', text('a'));
      assert.equal(authRequests(recorder.requests).length, 1);
      // tempauth hands the same user the token it already has: the driver's, revoked here.
      await revokeToken(cluster, (await login(account)).token);
      assert.equal((await store.stat('relogin/a.txt'))?.size, 1);
      assert.equal(authRequests(recorder.requests).length, 2, 'one login after the 401');

      const bytes = randomBytes(300_000);
      const path = join(scratch, 'relogin.bin');
      await writeFile(path, bytes);
      await revokeToken(cluster, (await login(account)).token);
      const sha256 = createHash('sha256').update(bytes).digest('hex');
      await store.put('relogin/file.bin', { kind: 'file', path, size: bytes.length }, { sha256 });
      assert.ok(
        Buffer.from((await store.getBytes('relogin/file.bin'))!).equals(bytes),
        'the file was sent again whole',
      );
      assert.equal(authRequests(recorder.requests).length, 3);

      // Concurrent requests that all meet the revoked token share one login.
      await revokeToken(cluster, (await login(account)).token);
      await Promise.all(Array.from({ length: 8 }, () => store.stat('relogin/a.txt')));
      assert.equal(authRequests(recorder.requests).length, 4, 'one login for eight 401s');

      // bulk runs before tempauth: a revoked token shows as a 401 per object inside a 200.
      await revokeToken(cluster, (await login(account)).token);
      await store.deleteMany(['relogin/a.txt', 'relogin/file.bin']);
      assert.equal(authRequests(recorder.requests).length, 5);
      assert.deepEqual(await store.listAll('relogin/'), []);
    } finally {
      await driver.close?.();
      await recorder.close();
    }
  });

  it('a refused login is permission_denied naming the URL and user, never the key', async () => {
    const secret = `wrong-${randomUUID()}`;
    const driver = createSwiftDriver(config({ ...account, key: secret }, container));
    try {
      const error = await caught(driver.stat('x'));
      assert.equal(error.code, 'permission_denied');
      assert.equal(error.source, 'swift');
      assert.match(error.message, new RegExp(cluster.authUrl.replace(/[.]/g, '\\.')));
      assert.ok(error.message.includes(OWN_USER), error.message);
      assert.ok(!error.message.includes(secret), 'the key is not in the message');
      assert.ok(!JSON.stringify(error).includes(secret), 'nor anywhere in the error');
    } finally {
      await driver.close?.();
    }
  });

  it('a missing container is not_found naming it', async () => {
    const missing = newContainerName('missing');
    const driver = createSwiftDriver(config(account, missing));
    try {
      for (const attempt of [
        () => driver.list({}),
        () => driver.stat('a'),
        () => driver.get('a'),
        () => driver.put('a', { kind: 'bytes', bytes: text('x') }, { sha256: 'x' }),
        () => driver.copy!('a', 'b'),
      ]) {
        const error = await caught(attempt());
        assert.equal(error.code, 'not_found');
        assert.ok(error.message.includes(missing), error.message);
      }
    } finally {
      await driver.close?.();
    }
  });

  // A driver that ignored the signal would wait for the rest of the body for ever: fail instead.
  it('a put aborted with its first bytes on the wire is cancelled and leaves nothing', {
    timeout: 60_000,
  }, async () => {
    const driver = createSwiftDriver(config(account, container));
    try {
      const store = new Store(driver, { originId: 'abort' });
      const body = randomBytes(1024 * 1024);
      const controller = new AbortController();
      let opens = 0;
      // The first stream is the MD5 pass; the second, the one sent, stops after 64 KiB.
      const source: ObjectSource = {
        kind: 'stream',
        size: body.length,
        open: () => {
          opens++;
          if (opens === 1) return Readable.from([body]);
          let given = false;
          return new Readable({
            read() {
              if (given) return void setImmediate(() => controller.abort());
              given = true;
              this.push(body.subarray(0, 64 * 1024));
            },
          });
        },
      };
      const sha256 = createHash('sha256').update(body).digest('hex');
      const error = await caught(store.put('abort/wire.bin', source, { sha256, signal: controller.signal }));
      assert.equal(error.code, 'cancelled', error.message);
      assert.equal(opens, 2, 'hashed, then being sent');
      assert.equal(await store.stat('abort/wire.bin'), undefined);
      const listed = await raw(account, 'GET', `/${container}?format=json&prefix=abort/`);
      assert.deepEqual(JSON.parse(listed.body || '[]'), []);
    } finally {
      await driver.close?.();
    }
  });

  it('an unreachable endpoint is unavailable and retryable', async () => {
    const driver = createSwiftDriver(
      config({ authUrl: 'http://127.0.0.1:9/auth/v1.0', user: 'u', key: 'k' }, container),
    );
    try {
      const error = await caught(driver.stat('a'));
      assert.equal(error.code, 'unavailable');
      assert.equal(error.retryable, true);
    } finally {
      await driver.close?.();
    }
  });

  describe('setup and staticweb', () => {
    const site = newContainerName('site');
    const options: SetupOptions = {
      create: true,
      dryRun: false,
      indexDocument: 'index.html',
      errorDocument: '404.html',
      cors: {
        allowedOrigins: ['https://www.example.com'],
        allowedMethods: ['GET'],
        allowedHeaders: [],
        maxAgeSeconds: 600,
      },
    };
    let driver: StorageDriver;
    const statuses = (steps: Array<{ step: string; status: string }>) =>
      steps.map((s) => `${s.step}: ${s.status}`);
    const publicUrl = async (path: string) => `${(await login(account)).storageUrl}/${site}/${path}`;

    before(() => {
      driver = createSwiftDriver(config(account, site));
    });
    after(async () => {
      await driver.close?.();
      await removeContainer(account, site);
    });

    it('a missing container without create is not_found; a dry run changes nothing', async () => {
      const error = await caught(driver.setup!({ ...options, create: false }));
      assert.equal(error.code, 'not_found');
      assert.ok(error.message.includes(site));
      const steps = await driver.setup!({ ...options, dryRun: true });
      assert.deepEqual(statuses(steps), [
        'create container: would',
        'public read: would',
        'website: would',
        'cors: would',
      ]);
      assert.equal((await raw(account, 'HEAD', `/${site}`)).status, 404, 'still no container');
    });

    it('creates and configures the container, then says already', async () => {
      const first = await driver.setup!(options);
      assert.deepEqual(statuses(first), [
        'create container: done',
        'public read: done',
        'website: done',
        'cors: done',
      ]);
      const head = await raw(account, 'HEAD', `/${site}`);
      assert.equal(head.headers.get('x-container-read'), '.r:*,.rlistings');
      assert.equal(head.headers.get('x-container-meta-web-index'), 'index.html');
      assert.equal(head.headers.get('x-container-meta-web-error'), '404.html');
      assert.equal(
        head.headers.get('x-container-meta-access-control-allow-origin'),
        'https://www.example.com',
      );
      const second = await driver.setup!(options);
      assert.deepEqual(statuses(second), [
        'create container: already',
        'public read: already',
        'website: already',
        'cors: already',
      ]);
      for (const step of second) assert.ok(step.detail.length > 0);
      const dry = await driver.setup!({ ...options, dryRun: true, indexDocument: 'home.html' });
      assert.deepEqual(statuses(dry), [
        'create container: already',
        'public read: already',
        'website: would',
        'cors: already',
      ]);
      assert.equal(
        (await raw(account, 'HEAD', `/${site}`)).headers.get('x-container-meta-web-index'),
        'index.html',
      );
    });

    it('staticweb serves the index, the error page through its alias, and CORS', async () => {
      const store = new Store(driver, { originId: 'site' });
      const html = { contentType: 'text/html; charset=utf-8' };
      await store.putBytes('index.html', text('<h1>home</h1>'), html);
      await store.putBytes('404.html', text('<h1>missing</h1>'), html);
      const aliases = driver.siteAliases!({ indexDocument: 'index.html', errorDocument: '404.html' });
      assert.deepEqual(aliases, { '404404.html': '404.html' });
      for (const [alias, page] of Object.entries(aliases)) await store.copy(page, alias);
      assert.deepEqual(driver.siteAliases!({ indexDocument: 'index.html' }), {});

      const index = await fetch(await publicUrl(''));
      assert.equal(index.status, 200);
      assert.equal(await index.text(), '<h1>home</h1>');
      const missing = await fetch(await publicUrl('no/such/page.html'));
      assert.equal(missing.status, 404);
      assert.equal(await missing.text(), '<h1>missing</h1>');

      const origin = 'https://www.example.com';
      const preflight = await fetch(await publicUrl('index.html'), {
        method: 'OPTIONS',
        headers: { Origin: origin, 'Access-Control-Request-Method': 'GET' },
      });
      await preflight.arrayBuffer();
      assert.equal(preflight.status, 200);
      assert.equal(preflight.headers.get('access-control-allow-origin'), origin);
      assert.equal(preflight.headers.get('access-control-max-age'), '600');
      const get = await fetch(await publicUrl('index.html'), { headers: { Origin: origin } });
      await get.arrayBuffer();
      assert.equal(get.headers.get('access-control-allow-origin'), origin);
      assert.match(get.headers.get('access-control-expose-headers') ?? '', /etag/i);
      const other = await fetch(await publicUrl('index.html'), {
        headers: { Origin: 'https://evil.example' },
      });
      await other.arrayBuffer();
      assert.equal(other.headers.get('access-control-allow-origin'), null);
    });
  });
});

describe('swift driver limits', () => {
  it("maxObjectBytes is the cluster's max_file_size from /info", async () => {
    const { a: cluster } = await swiftClustersForTests();
    const info = (await (await fetch(new URL('/info', cluster.authUrl))).json()) as {
      swift: { max_file_size: number };
    };
    const driver = createSwiftDriver(config(mainAccount(cluster), newContainerName('limits')));
    try {
      assert.ok(info.swift.max_file_size > 0);
      assert.equal(await driver.maxObjectBytes?.(), info.swift.max_file_size);
    } finally {
      await driver.close?.();
    }
  });
});

describe('swift driver when the cluster answers errors', () => {
  it('a 5xx or 429 to a HEAD or a DELETE (whose bodies are drained first) is an error, not a crash', async () => {
    const { a: cluster } = await swiftClustersForTests();
    const account = mainAccount(cluster);
    const container = newContainerName('errors');
    await createContainer(account, container);
    const proxy = new FaultProxy({
      target: { host: cluster.ip, port: cluster.port },
      seed: 5,
      eligible: ({ method }) => method === 'HEAD' || method === 'DELETE',
      rate: 1,
      kinds: ['status'],
    });
    await proxy.start();
    const driver = createSwiftDriver(
      config({ ...account, authUrl: `${proxy.url}${new URL(cluster.authUrl).pathname}` }, container),
    );
    try {
      // Before the fix, undici 7 threw from a microtask here (nodejs/undici#5614): the process died.
      for (const call of [() => driver.stat('missing.txt'), () => driver.delete('missing.txt')]) {
        await assert.rejects(call(), (error: OutlastError) => {
          assert.ok(isOutlastError(error), String(error));
          assert.ok(['unavailable', 'rate_limited', 'internal'].includes(error.code), error.code);
          assert.match(error.message, /HTTP (500|503|429)/);
          return true;
        });
      }
      assert.ok(proxy.faults().length >= 2, 'the faults reached the driver');
    } finally {
      await driver.close?.();
      await proxy.stop();
      await removeContainer(account, container);
    }
  });
});

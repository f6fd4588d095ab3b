import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { isOutlastError, OutlastError } from '../../src/errors.ts';
import type { StorageDriver } from '../../src/storage/driver.ts';
import { createMemoryDriver, type MemoryDriver } from '../../src/storage/drivers/memory.ts';
import { createDriver, createStore } from '../../src/storage/index.ts';
import { Store, type StoreOptions } from '../../src/storage/store.ts';
import { createWriteGate, gateOf, LIVE } from '../../src/writes.ts';

const bytes = new TextEncoder().encode('payload');
const unavailable = () => new OutlastError('unavailable', 'backend said 503', { source: 'memory' });

/** A store whose waits are recorded instead of slept, and whose log lines are kept. */
function storeWith(driver: StorageDriver, options: Partial<StoreOptions> = {}) {
  const delays: number[] = [];
  const logs: Array<Record<string, unknown>> = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => logs.push(JSON.parse(line)) });
  const store = new Store(driver, {
    originId: 'local-a',
    retryBaseMs: 100,
    retryMaxMs: 1000,
    logger,
    sleep: async (ms) => {
      delays.push(ms);
    },
    ...options,
  });
  return { store, delays, logs };
}

describe('Store retries', () => {
  it('succeeds after two retryable faults, counting every attempt', async () => {
    const driver = createMemoryDriver();
    driver.failNext('put', unavailable(), 2);
    const { store, delays, logs } = storeWith(driver);
    await store.putBytes('a.txt', bytes);
    assert.deepEqual(await store.getBytes('a.txt'), bytes);
    const line = (level: number, attempt: number) =>
      logs.find((log) => log.level === level && log.msg === 'put' && log.attempt === attempt);
    assert.equal(line(20, 1)?.key, 'a.txt', 'each call is logged at debug');
    assert.equal(line(20, 3)?.origin, 'local-a');
    assert.equal(line(40, 1)?.code, 'unavailable', 'each retry is logged at warn');
    assert.equal(line(40, 2)?.retryInMs, delays[1]);
    assert.equal(line(40, 3), undefined, 'the successful attempt is no retry');
    assert.equal(store.requestCounts.put, 3);
    assert.equal(store.requests, 4);
    assert.equal(delays.length, 2);
    assert.ok(delays[0]! >= 0 && delays[0]! <= 100, `first backoff within [0, 100]: ${delays[0]}`);
    assert.ok(delays[1]! >= 0 && delays[1]! <= 200, `second backoff within [0, 200]: ${delays[1]}`);
  });

  it('gives up after `attempts`, naming the origin and keeping code and cause', async () => {
    const driver = createMemoryDriver();
    const fault = unavailable();
    driver.failNext('stat', fault, 10);
    const { store, delays } = storeWith(driver, { attempts: 4 });
    const error = await store.stat('a.txt').catch((caught: unknown) => caught);
    assert.ok(isOutlastError(error, 'unavailable'));
    assert.equal(error.cause, fault);
    assert.equal(error.retryable, true);
    assert.equal(error.source, 'origin "local-a"');
    assert.match(error.message, /^origin "local-a": memory: backend said 503 \(gave up after 4 attempts\)$/);
    assert.equal(store.requestCounts.stat, 4);
    assert.equal(delays.length, 3);
  });

  it('caps the backoff and honours retryAfterMs', async () => {
    const driver = createMemoryDriver();
    driver.failNext('list', unavailable(), 6);
    driver.failNext(
      'list',
      new OutlastError('rate_limited', 'slow down', { source: 'memory', retryAfterMs: 3000 }),
    );
    const { store, delays } = storeWith(driver, { attempts: 10, retryBaseMs: 100, retryMaxMs: 400 });
    assert.deepEqual(await store.listAll(), []);
    assert.equal(delays.length, 7);
    assert.ok(
      delays.slice(0, 6).every((delay) => delay <= 400),
      delays.join(),
    );
    assert.ok(delays[6]! >= 3000, 'waits at least what the backend asked');
  });

  it('does not retry a non-retryable error', async () => {
    const driver = createMemoryDriver();
    const fault = new OutlastError('permission_denied', 'access denied', { source: 'memory' });
    driver.failNext('get', fault);
    const { store, delays } = storeWith(driver);
    const error = await store.get('a.txt').catch((caught: unknown) => caught);
    assert.ok(isOutlastError(error, 'permission_denied'));
    assert.equal(error.message, 'origin "local-a": memory: access denied');
    assert.equal(error.cause, fault);
    assert.equal(store.requests, 1);
    assert.deepEqual(delays, []);
  });

  it('turns a foreign throw into internal, keeping it', async () => {
    const driver = createMemoryDriver();
    const fault = new TypeError('undefined is not a function');
    driver.failNext('delete', fault);
    const { store } = storeWith(driver);
    const error = await store.delete('x').catch((caught: unknown) => caught);
    assert.ok(isOutlastError(error, 'internal'));
    assert.equal(error.retryable, false);
    assert.match(error.message, /^origin "local-a": memory: delete "x": undefined is not a function$/);
    assert.equal((error.cause as Error).cause, fault);
    assert.equal(store.requests, 1);
  });

  it('makes one request per attempt in getBytes, retrying a failed read', async () => {
    const driver = createMemoryDriver();
    const { store } = storeWith(driver);
    await store.putBytes('a', bytes);
    driver.failNext('get', unavailable());
    assert.deepEqual(await store.getBytes('a'), bytes);
    assert.equal(store.requestCounts.get, 2);
  });
});

describe('Store keys and prefix', () => {
  it('validates keys, quoting them in the message, before any request', async () => {
    const { store } = storeWith(createMemoryDriver());
    await assert.rejects(store.putBytes('a\nb', bytes), (error) => {
      assert.ok(isOutlastError(error, 'invalid_argument'));
      assert.equal(error.message, 'origin "local-a": put: invalid key "a\\nb": contains a control character');
      return true;
    });
    assert.equal(store.requests, 0);
  });

  it('prepends the prefix, normalizing `site` to `site/`, and strips it from listings', async () => {
    const driver = createMemoryDriver();
    const { store } = storeWith(driver, { prefix: 'site' });
    const outside = storeWith(driver).store;
    assert.equal(store.prefix, 'site/');
    await outside.putBytes('site-other/x', bytes);
    await outside.putBytes('elsewhere', bytes);
    await store.putBytes('a/b.txt', bytes);
    assert.ok(await driver.stat('site/a/b.txt'));
    assert.deepEqual(
      (await store.listAll()).map((item) => item.key),
      ['a/b.txt'],
    );
    assert.equal((await store.stat('a/b.txt'))?.key, 'a/b.txt');
    assert.equal((await store.get('a/b.txt')).info.key, 'a/b.txt');
    await store.copy('a/b.txt', 'c.txt');
    assert.ok(await driver.stat('site/c.txt'));
    await store.deleteMany(['a/b.txt', 'c.txt']);
    assert.deepEqual(
      (await outside.listAll()).map((item) => item.key),
      ['elsewhere', 'site-other/x'],
    );
  });

  it('rejects a bad prefix and keys too long once prefixed', async () => {
    for (const prefix of ['/site', 'a//b/', '../x', 'site//']) {
      assert.throws(
        () => new Store(createMemoryDriver(), { originId: 'x', prefix }),
        (error) => isOutlastError(error, 'invalid_argument'),
        prefix,
      );
    }
    const { store } = storeWith(createMemoryDriver(), { prefix: 'p'.repeat(100) });
    await assert.rejects(store.putBytes('k'.repeat(1000), bytes), /with prefix p+\/, is longer than 1024/);
    assert.equal(store.requests, 0);
  });
});

describe('Store helpers', () => {
  it('reads JSON, and names origin and key when it is not JSON', async () => {
    const { store } = storeWith(createMemoryDriver());
    await store.putBytes('ok.json', new TextEncoder().encode('{"a":1}'));
    assert.deepEqual(await store.getJson('ok.json'), { a: 1 });
    await store.putBytes('bad.json', new TextEncoder().encode('{not json'));
    await assert.rejects(store.getJson('bad.json'), (error) => {
      assert.ok(isOutlastError(error, 'internal'));
      assert.match(error.message, /^origin "local-a": "bad\.json" is not valid JSON/);
      return true;
    });
  });

  it('batches deleteMany by maxDeleteBatch', async () => {
    const driver = createMemoryDriver();
    const { store } = storeWith(driver);
    const keys = Array.from({ length: 2500 }, (_, i) => `k${i}`);
    await Promise.all(keys.map((key) => store.putBytes(key, bytes)));
    await store.deleteMany(keys);
    assert.equal(store.requestCounts.deleteMany, 3);
    assert.deepEqual(await store.listAll(), []);
  });

  it('falls back to 16 concurrent deletes, and to get + put for copy', async () => {
    const memory = createMemoryDriver();
    let inFlight = 0;
    let most = 0;
    const plain: StorageDriver = {
      ...withoutOptional(memory),
      capabilities: { ...memory.capabilities, copy: false, deleteMany: false },
      async delete(key) {
        inFlight++;
        most = Math.max(most, inFlight);
        await new Promise((resolve) => setTimeout(resolve, 1));
        await memory.delete(key);
        inFlight--;
      },
    };
    const { store } = storeWith(plain);
    await store.putBytes('src', bytes, { contentType: 'text/plain', metadata: { a: 'b' } });
    await store.copy('src', 'dst');
    const copied = await store.stat('dst');
    assert.equal(copied?.contentType, 'text/plain');
    assert.deepEqual(copied?.metadata, { a: 'b' });
    assert.equal(store.requestCounts.copy, 0);
    assert.equal(store.requestCounts.get, 1);
    const keys = Array.from({ length: 100 }, (_, i) => `k${i}`);
    await store.deleteMany(keys);
    assert.equal(most, 16);
    assert.equal(store.requestCounts.delete, 100);
    await assert.rejects(store.copy('missing', 'x'), (error) => isOutlastError(error, 'not_found'));
  });
});

describe('Store dry run', () => {
  /** A memory driver that records every call it gets. */
  function recordingDriver() {
    const memory = createMemoryDriver();
    const calls: string[] = [];
    const record =
      <A extends unknown[], R>(name: string, method: (...args: A) => Promise<R>) =>
      (...args: A) => {
        calls.push(`${name} ${String(args[0])}`);
        return method(...args);
      };
    const driver: StorageDriver = {
      ...withoutOptional(memory),
      list: record('list', memory.list.bind(memory)),
      stat: record('stat', memory.stat.bind(memory)),
      put: record('put', memory.put.bind(memory)),
      delete: record('delete', memory.delete.bind(memory)),
      deleteMany: record('deleteMany', memory.deleteMany!.bind(memory)),
      copy: record('copy', memory.copy!.bind(memory)),
      async setup(options) {
        const gate = gateOf(options);
        return [
          await gate.step(
            'website',
            { what: 'serve index.html', done: 'now serves index.html' },
            async () => {
              calls.push('setup website');
            },
          ),
        ];
      },
    };
    return { memory, driver, calls };
  }

  it("a dry-run store's puts, deletes and copies reach no driver call and are listed as skipped", async () => {
    const { memory, driver, calls } = recordingDriver();
    await memory.put('site/old.txt', { kind: 'bytes', bytes }, { sha256: 'x'.repeat(64) });
    const gate = createWriteGate({ dryRun: true });
    const { store } = storeWith(driver, { gate, prefix: 'site' });
    await store.putBytes('new.txt', bytes);
    await store.put('a b.txt', { kind: 'bytes', bytes }, { sha256: 'y'.repeat(64) });
    await store.delete('old.txt');
    await store.deleteMany(['x', 'y', 'z']);
    await store.deleteMany([]);
    await store.copy('old.txt', 'copy.txt');
    assert.deepEqual(calls, []);
    assert.equal(store.requests, 0);
    assert.deepEqual(gate.skipped(), [
      'would put "new.txt"',
      'would put "a b.txt"',
      'would delete "old.txt"',
      'would delete "x" (+2 more)',
      'would copy "old.txt" to "copy.txt"',
    ]);
    assert.deepEqual(
      (await memory.list({})).items.map((item) => item.key),
      ['site/old.txt'],
    );
    // Keys are checked as always, reads go through.
    await assert.rejects(store.putBytes('../x', bytes), (error) => isOutlastError(error, 'invalid_argument'));
    assert.equal(await store.stat('new.txt'), undefined);
    assert.deepEqual(calls, ['stat site/new.txt']);
  });

  it("a dry-run store's setup is a dry run, whatever the options say; a live one writes", async () => {
    const dry = recordingDriver();
    const gate = createWriteGate({ dryRun: true });
    const steps = await storeWith(dry.driver, { gate }).store.setup({
      create: true,
      dryRun: false,
      gate: LIVE,
      indexDocument: 'index.html',
    });
    assert.deepEqual(steps, [{ step: 'website', status: 'would', detail: 'would serve index.html' }]);
    assert.deepEqual(gate.skipped(), ['would serve index.html']);
    assert.deepEqual(dry.calls, []);

    const live = recordingDriver();
    const { store } = storeWith(live.driver);
    const asked = await store.setup({ create: true, dryRun: true, indexDocument: 'index.html' });
    assert.equal(asked[0]?.status, 'would', 'dryRun in the options still makes it a dry run');
    const [done] = await store.setup({ create: true, indexDocument: 'index.html' });
    assert.deepEqual(done, { step: 'website', status: 'done', detail: 'now serves index.html' });
    assert.deepEqual(live.calls, ['setup website']);
  });
});

describe('createDriver and createStore', () => {
  it('builds stores from origin config', async () => {
    const store = await createStore({
      id: 'mem',
      storage: { type: 'memory', name: 'create-store', prefix: 'p' },
    });
    assert.equal(store.originId, 'mem');
    assert.equal(store.prefix, 'p/');
    assert.equal(store.driver.name, 'memory');
    await store.putBytes('x', bytes);
    const driver = await createDriver({ type: 'memory', name: 'create-store' });
    assert.ok(await driver.stat('p/x'));
    assert.equal((await createDriver({ type: 'fs', path: '/nonexistent/outlast' })).name, 'fs');
    await store.close();
  });
});

function withoutOptional(driver: MemoryDriver): StorageDriver {
  const { name, capabilities } = driver;
  return {
    name,
    capabilities,
    list: (options) => driver.list(options),
    stat: (key) => driver.stat(key),
    get: (key) => driver.get(key),
    put: (key, source, options) => driver.put(key, source, options),
    delete: (key) => driver.delete(key),
  };
}

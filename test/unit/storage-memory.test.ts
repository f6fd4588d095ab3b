import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isOutlastError, OutlastError } from '../../src/errors.ts';
import { createMemoryDriver, resetMemoryStore } from '../../src/storage/drivers/memory.ts';
import { Store } from '../../src/storage/store.ts';
import { testStorageDriver } from '../conformance/storage.ts';

testStorageDriver({
  name: 'memory',
  create: async () => createMemoryDriver(),
  createMissing: async () => createMemoryDriver({ missing: true }),
});
testStorageDriver({
  name: 'memory (prefix site/)',
  prefix: 'site/',
  create: async () => createMemoryDriver(),
  createMissing: async () => createMemoryDriver({ missing: true }),
});

describe('memory driver', () => {
  it('shares objects between drivers of the same name, and only those', async () => {
    const a = new Store(createMemoryDriver({ name: 'shared-test' }), { originId: 'a' });
    const b = new Store(createMemoryDriver({ name: 'shared-test' }), { originId: 'b' });
    const other = new Store(createMemoryDriver({ name: 'other-test' }), { originId: 'c' });
    const anonymous = new Store(createMemoryDriver(), { originId: 'd' });
    await a.putBytes('k', new Uint8Array([1, 2, 3]));
    assert.deepEqual(await b.getBytes('k'), new Uint8Array([1, 2, 3]));
    assert.equal(await other.stat('k'), undefined);
    assert.equal(await anonymous.stat('k'), undefined);
    resetMemoryStore('shared-test');
    assert.equal(await b.stat('k'), undefined);
    assert.deepEqual(await a.listAll(), []);
  });

  it('copies bytes in and out', async () => {
    const store = new Store(createMemoryDriver(), { originId: 'copy' });
    const bytes = new Uint8Array([1, 2, 3]);
    await store.putBytes('k', bytes);
    bytes[0] = 9;
    const got = (await store.getBytes('k'))!;
    assert.deepEqual(got, new Uint8Array([1, 2, 3]));
    got[1] = 9;
    assert.deepEqual(await store.getBytes('k'), new Uint8Array([1, 2, 3]));
    const info = (await store.stat('k'))!;
    info.metadata!.changed = 'yes';
    assert.deepEqual((await store.stat('k'))!.metadata, {});
  });

  it("stops a Store's retries once its signal is aborted", async () => {
    const driver = createMemoryDriver();
    const controller = new AbortController();
    driver.failNext('stat', new OutlastError('unavailable', 'down', { source: 'memory' }), 3);
    const store = new Store(driver, {
      originId: 'cancel',
      signal: controller.signal,
      // Aborted while it waits before the second attempt.
      sleep: async () => controller.abort(),
    });
    await assert.rejects(store.stat('k'), (error) => {
      assert.ok(isOutlastError(error, 'cancelled'), String(error));
      assert.match(error.message, /origin "cancel": stat "k": cancelled/);
      return true;
    });
    assert.equal(store.requests, 1, 'no attempt after the abort');
  });

  it('fails the next calls of one operation on demand', async () => {
    const driver = createMemoryDriver();
    const boom = new Error('boom');
    driver.failNext('stat', boom, 2);
    await assert.rejects(driver.stat('k'), boom);
    assert.equal(
      await driver.get('k').catch(() => 'other operations still work'),
      'other operations still work',
    );
    await assert.rejects(driver.stat('k'), boom);
    assert.equal(await driver.stat('k'), undefined);
  });
});

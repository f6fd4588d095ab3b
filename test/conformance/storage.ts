/**
 * The storage driver contract as tests (see src/storage/driver.ts). Every driver's test file is
 * one call of `testStorageDriver` with a harness; the suite imports no driver code. Tests go
 * through a `Store` (with the harness's prefix), as the app does, and straight to the driver where
 * the contract is about the driver itself (missing objects, pages, error sources). A capability the
 * driver lacks skips the tests that need it; it never fails them.
 *
 * Tests run in order and each one uses its own key namespace (`rt/`, `odd/`, `many/`…), so a
 * failure in one does not cascade; the last test deletes everything and expects an empty store.
 *
 * Cancelling (go-cloud's drivertest does the same): a put whose body stream stops after its first
 * bytes is aborted there, and must reject with `cancelled` and leave the key as it was; a call
 * whose signal is aborted already must be `cancelled` and change nothing.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import pLimit from 'p-limit';
import { type ErrorCode, isOutlastError } from '../../src/errors.ts';
import type {
  ObjectHeaders,
  ObjectInfo,
  ObjectSource,
  StorageDriver,
  UserMetadata,
} from '../../src/storage/driver.ts';
import { compareKeys, MAX_KEY_BYTES } from '../../src/storage/keys.ts';
import { Store } from '../../src/storage/store.ts';

export interface StorageHarness {
  /** Shown in the test names, e.g. `fs (prefix site/)`. */
  name: string;
  /** A driver on an empty store (bucket, container, folder). Called once per suite run. */
  create(): Promise<StorageDriver>;
  /** Removes what `create` made, after the driver is closed. */
  cleanup?(): Promise<void>;
  /** The key prefix the suite's `Store` uses (`site/`); default none. */
  prefix?: string;
  /** A driver on a bucket (container) that does not exist; absent for a backend that has no such
   * thing (a missing folder is an empty `fs` origin). Closed by the suite. */
  createMissing?(): Promise<StorageDriver>;
  /** The backend checks a put's bytes against the MD5 it is given (PutOptions.md5), so a wrong
   * one must be refused; a driver that ignores it may store the bytes instead. */
  checksMd5?: boolean;
}

const ALL_HEADERS: Required<ObjectHeaders> = {
  contentType: 'text/html; charset=utf-8',
  cacheControl: 'public, max-age=60, must-revalidate',
  contentEncoding: 'gzip',
  contentDisposition: 'attachment; filename="report.html"',
  contentLanguage: 'fr-CA',
};
const METADATA: UserMetadata = { color: 'blue', 'x-build': '2024-05-01T10:00:00Z', empty: '' };
/** More than one page of a default listing and more than one S3 delete batch. */
const MANY = 1100;

export function testStorageDriver(harness: StorageHarness): void {
  const prefix = harness.prefix ?? '';

  describe(`storage driver: ${harness.name}`, () => {
    let driver: StorageDriver;
    let store: Store;
    let scratch: string;
    const newStore = () => new Store(driver, { originId: 'conformance', prefix, retryBaseMs: 10 });

    before(async () => {
      driver = await harness.create();
      store = newStore();
      scratch = await mkdtemp(join(tmpdir(), 'outlast-conformance-'));
    });

    after(async () => {
      await driver?.close?.();
      await harness.cleanup?.();
      if (scratch) await rm(scratch, { recursive: true, force: true });
    });

    it('an empty store lists nothing', async () => {
      assert.deepEqual(await store.listAll(), []);
      const page = await driver.list({ prefix });
      assert.deepEqual(page.items, []);
      assert.equal(page.cursor, undefined);
    });

    it('puts and gets bytes', async () => {
      const bytes = text('hello, world\n');
      await store.putBytes('rt/hello.txt', bytes, { contentType: 'text/plain' });
      assert.deepEqual(await store.getBytes('rt/hello.txt'), bytes);
      const { info, body } = await store.get('rt/hello.txt');
      assert.deepEqual(await readAll(body), Buffer.from(bytes));
      assert.equal(info.key, 'rt/hello.txt');
      assert.equal(info.size, bytes.byteLength);
      assert.equal(info.sha256, sha256(bytes));
      const stat = await store.stat('rt/hello.txt');
      assert.equal(stat?.key, 'rt/hello.txt');
      assert.equal(stat?.size, bytes.byteLength);
      assert.equal(stat?.sha256, sha256(bytes));
      if (stat?.lastModified !== undefined) assert.ok(stat.lastModified instanceof Date);
    });

    it('puts from a file, and the driver sees the prefixed key', async () => {
      const bytes = randomBytes(100_000);
      const path = join(scratch, 'source.bin');
      await writeFile(path, bytes);
      await store.put(
        'rt/from-file.bin',
        { kind: 'file', path, size: bytes.length },
        { sha256: sha256(bytes) },
      );
      assert.deepEqual(Buffer.from((await store.getBytes('rt/from-file.bin'))!), bytes);
      const direct = await driver.stat(`${prefix}rt/from-file.bin`);
      assert.equal(direct?.key, `${prefix}rt/from-file.bin`);
      assert.equal(direct?.size, bytes.length);
      assert.equal(direct?.sha256, sha256(bytes));
    });

    it('round-trips sha256, every header and user metadata through stat and get', async () => {
      const bytes = text('<!doctype html>');
      await store.putBytes('meta/page.html', bytes, { ...ALL_HEADERS, metadata: METADATA });
      assertInfo(await store.stat('meta/page.html'), bytes, ALL_HEADERS, METADATA);
      const { info, body } = await store.get('meta/page.html');
      body.resume();
      assertInfo(info, bytes, ALL_HEADERS, METADATA);
    });

    it('round-trips sha256, headers and metadata through list', async (t) => {
      if (!driver.capabilities.listHasMetadata) return t.skip('listHasMetadata is false');
      const [item, ...rest] = await store.listAll('meta/page.html');
      assert.equal(rest.length, 0);
      assertInfo(item, text('<!doctype html>'), ALL_HEADERS, METADATA);
    });

    it('overwrites bytes, headers and metadata', async () => {
      await store.putBytes('rt/over.txt', text('first version, longer'), {
        contentType: 'text/plain',
        cacheControl: 'no-cache',
        contentLanguage: 'en',
        metadata: { first: '1' },
      });
      const second = text('second');
      await store.putBytes('rt/over.txt', second, { contentType: 'text/html', metadata: { second: '2' } });
      assert.deepEqual(await store.getBytes('rt/over.txt'), second);
      const info = await store.stat('rt/over.txt');
      assertInfo(info, second, { contentType: 'text/html' }, { second: '2' });
      assert.equal(info?.cacheControl, undefined, 'a header the new put does not set is gone');
      assert.equal(info?.contentLanguage, undefined);
      const listed = await store.listAll('rt/over.txt');
      assert.deepEqual(
        listed.map((item) => [item.key, item.size]),
        [['rt/over.txt', second.byteLength]],
      );
    });

    it('puts with the MD5 the caller knows; a wrong one never stores bytes it does not match', async () => {
      const bytes = text('bytes whose MD5 the caller knows');
      const md5 = createHash('md5').update(bytes).digest('hex');
      await store.put('md5/bytes.txt', { kind: 'bytes', bytes }, { sha256: sha256(bytes), md5 });
      assert.deepEqual(await store.getBytes('md5/bytes.txt'), bytes);
      const path = join(scratch, 'md5.txt');
      await writeFile(path, bytes);
      await store.put(
        'md5/file.txt',
        { kind: 'file', path, size: bytes.length },
        { sha256: sha256(bytes), md5 },
      );
      assert.deepEqual(await store.getBytes('md5/file.txt'), bytes);
      assertInfo(await store.stat('md5/file.txt'), bytes, {}, {});

      const other = text('other bytes for the same key');
      const once = new Store(driver, { originId: 'conformance', prefix, attempts: 1 });
      const refused = await once
        .put('md5/bytes.txt', { kind: 'bytes', bytes: other }, { sha256: sha256(other), md5 })
        .then(
          () => undefined,
          (error: unknown) => error,
        );
      const now = await store.getBytes('md5/bytes.txt');
      if (harness.checksMd5) {
        assert.ok(isOutlastError(refused), 'a put whose bytes do not match their MD5 is refused');
        assert.deepEqual(now, bytes, 'and the key keeps what it had');
      } else {
        assert.deepEqual(now, refused === undefined ? other : bytes, 'stored whole, or refused');
      }
    });

    it('stat of a missing key is undefined, also for a "folder"', async () => {
      await store.putBytes('missing/inside/file.txt', text('x'));
      assert.equal(await store.stat('missing/nothing-here'), undefined);
      assert.equal(await store.stat('missing/inside'), undefined);
      assert.equal(await driver.stat(`${prefix}missing/nothing-here`), undefined);
      assert.equal(await driver.stat(`${prefix}missing/inside/file.txt/deeper`), undefined);
    });

    it('get of a missing key is not_found', async () => {
      await expectCode(store.get('missing/nothing-here'), 'not_found', /origin "conformance"/);
      await expectCode(store.get('missing/inside'), 'not_found');
      assert.equal(await store.getBytes('missing/nothing-here'), undefined);
      assert.equal(await store.getJson('missing/nothing-here'), undefined);
      const error = await driver.get(`${prefix}missing/nothing-here`).catch((caught: unknown) => caught);
      assert.ok(isOutlastError(error, 'not_found'), `expected not_found, got ${String(error)}`);
      assert.equal(error.source, driver.name, "a driver's errors name the driver");
    });

    it('delete is idempotent', async () => {
      await store.delete('del/never-existed');
      await driver.delete(`${prefix}del/never-existed`);
      await store.putBytes('del/once.txt', text('x'));
      await store.delete('del/once.txt');
      await store.delete('del/once.txt');
      assert.equal(await store.stat('del/once.txt'), undefined);
      assert.deepEqual(await store.listAll('del/'), []);
    });

    it('round-trips odd keys exactly through put, list, get and delete', async () => {
      const keys = oddKeys(prefix);
      await Promise.all(keys.map((key) => store.putBytes(key, text(key))));
      const listed = await store.listAll('odd/');
      assert.deepEqual(
        listed.map((item) => item.key),
        [...keys].sort(compareKeys),
      );
      for (const key of keys) {
        assert.deepEqual(await store.getBytes(key), text(key), `bytes of ${JSON.stringify(key)}`);
        assert.equal((await store.stat(key))?.key, key);
      }
      const direct = await driver.stat(`${prefix}${keys[0]}`);
      assert.equal(direct?.key, `${prefix}${keys[0]}`);
      await Promise.all(keys.map((key) => store.delete(key)));
      assert.deepEqual(await store.listAll('odd/'), []);
    });

    it('rejects invalid keys without a request', async () => {
      const fresh = newStore();
      const bad = [
        '',
        '/lead',
        'a//b',
        'trail/',
        './a',
        'a/../b',
        'a/..',
        'nul\u0000',
        'line\nfeed',
        'del\u007f',
      ];
      bad.push('cafe\u0301', 'lone\ud800', 'x'.repeat(MAX_KEY_BYTES + 1));
      for (const key of bad) {
        const quoted = JSON.stringify(key).slice(0, 40);
        const mentions = (error: unknown) => String((error as Error).message).includes(quoted);
        for (const attempt of [
          () => fresh.stat(key),
          () => fresh.get(key),
          () => fresh.getBytes(key),
          () => fresh.putBytes(key, text('x')),
          () => fresh.delete(key),
          () => fresh.deleteMany(['ok', key]),
          () => fresh.copy(key, 'ok'),
          () => fresh.copy('ok', key),
        ]) {
          const error = await attempt().catch((caught: unknown) => caught);
          assert.ok(isOutlastError(error, 'invalid_argument'), `${quoted}: expected invalid_argument`);
          assert.ok(mentions(error), `${quoted}: the message names the key: ${(error as Error).message}`);
        }
      }
      await expectCode(fresh.listAll('/lead'), 'invalid_argument');
      assert.equal(fresh.requests, 0);
    });

    it('lists in UTF-8 byte order', async () => {
      // UTF-16 order would put the emoji (a surrogate pair) before U+FF61; a walk of folders
      // would put `a/b` before `a-b`.
      const expected = [
        'A',
        'B',
        'a b',
        'a-b',
        'a.b',
        'a/b',
        'a0',
        'ab',
        '~',
        '\u00e9',
        '\uff61',
        '\u{1f600}',
      ];
      const keys = expected.map((name) => `order/${name}`);
      for (const key of [...keys].reverse()) await store.putBytes(key, text(key));
      assert.deepEqual(
        (await store.listAll('order/')).map((item) => item.key),
        keys,
      );
      assert.deepEqual([...keys].sort(compareKeys), keys);
      const pages: string[][] = [];
      let cursor: string | undefined;
      do {
        const page = await driver.list({ prefix: `${prefix}order/`, pageSize: 5, cursor });
        assert.ok(page.items.length <= 5, 'a page holds at most pageSize items');
        pages.push(page.items.map((item) => item.key));
        cursor = page.cursor;
      } while (cursor !== undefined);
      assert.deepEqual(
        pages.flat(),
        keys.map((key) => `${prefix}${key}`),
      );
    });

    it('filters by prefix, including a partial segment', async () => {
      const keys = ['pfx/ap', 'pfx/app.js', 'pfx/apple/x', 'pfx/apples.txt', 'pfx/b/app', 'pfxx/other'];
      await Promise.all(keys.map((key) => store.putBytes(key, text(key))));
      const keysOf = async (listPrefix: string) => (await store.listAll(listPrefix)).map((item) => item.key);
      assert.deepEqual(await keysOf('pfx/app'), ['pfx/app.js', 'pfx/apple/x', 'pfx/apples.txt']);
      assert.deepEqual(await keysOf('pfx/apple/'), ['pfx/apple/x']);
      assert.deepEqual(await keysOf('pfx/apple'), ['pfx/apple/x', 'pfx/apples.txt']);
      assert.deepEqual(await keysOf('pfx/'), keys.slice(0, 5));
      assert.deepEqual(await keysOf('pfx'), keys);
      assert.deepEqual(await keysOf('pfx/b'), ['pfx/b/app']);
      assert.deepEqual(await keysOf('pfx/zzz'), []);
      assert.deepEqual(await keysOf('pfx/nothing/here/'), []);
    });

    let many: Promise<string[]> | undefined;
    const putMany = () => {
      many ??= (async () => {
        const keys = Array.from({ length: MANY }, (_, i) =>
          i % 3 === 0 ? `many/flat-${i}` : `many/d${i % 10}/k-${String(i).padStart(5, '0')}`,
        );
        const limit = pLimit(32);
        await Promise.all(keys.map((key) => limit(() => store.putBytes(key, text(key)))));
        return keys;
      })();
      return many;
    };

    it(`paginates past 1,000 keys (${MANY} objects)`, async () => {
      const keys = await putMany();
      const expected = [...keys].sort(compareKeys);
      const counting = newStore();
      const listed = (await counting.listAll('many/')).map((item) => item.key);
      assert.equal(new Set(listed).size, listed.length, 'no duplicates');
      assert.deepEqual(listed, expected);
      assert.ok(counting.requestCounts.list >= 2, 'more than one page');
      const direct: string[] = [];
      let cursor: string | undefined;
      do {
        const page = await driver.list({ prefix: `${prefix}many/`, cursor });
        assert.ok(page.items.length <= 1000);
        direct.push(...page.items.map((item) => item.key));
        cursor = page.cursor;
      } while (cursor !== undefined);
      assert.deepEqual(
        direct,
        expected.map((key) => `${prefix}${key}`),
      );
    });

    it('deletes many keys, past one batch', async () => {
      const keys = await putMany();
      const counting = newStore();
      await counting.deleteMany([]);
      assert.equal(counting.requests, 0, 'an empty deleteMany makes no request');
      await counting.deleteMany(keys);
      const { capabilities } = driver;
      if (capabilities.deleteMany && driver.deleteMany) {
        assert.equal(counting.requestCounts.deleteMany, Math.ceil(keys.length / capabilities.maxDeleteBatch));
      } else {
        assert.equal(counting.requestCounts.delete, keys.length);
      }
      assert.deepEqual(await store.listAll('many/'), []);
      await store.deleteMany([...keys.slice(0, 3), 'many/never-existed']);
    });

    it('copies an object with its headers and metadata (driver copy or Store fallback)', async () => {
      const bytes = text('copy me');
      await store.putBytes('copy/source.html', bytes, { ...ALL_HEADERS, metadata: METADATA });
      await store.copy('copy/source.html', 'copy/target/dest.html');
      assert.deepEqual(await store.getBytes('copy/target/dest.html'), bytes);
      assertInfo(await store.stat('copy/target/dest.html'), bytes, ALL_HEADERS, METADATA);
      assert.deepEqual(await store.getBytes('copy/source.html'), bytes, 'the source stays');
      await expectCode(store.copy('copy/missing', 'copy/never'), 'not_found');
      assert.equal(await store.stat('copy/never'), undefined);
    });

    it('copies server-side when capable', async (t) => {
      if (!driver.capabilities.copy || !driver.copy) return t.skip('copy is not a capability');
      const bytes = text('direct copy');
      await store.putBytes('copy/direct-src', bytes, { contentType: 'text/plain', metadata: { a: 'b' } });
      await driver.copy(`${prefix}copy/direct-src`, `${prefix}copy/direct-dst`);
      assertInfo(await store.stat('copy/direct-dst'), bytes, { contentType: 'text/plain' }, { a: 'b' });
      await expectCode(driver.copy(`${prefix}copy/nothing`, `${prefix}copy/x`), 'not_found');
    });

    it('stores zero-byte objects', async () => {
      const empty = new Uint8Array(0);
      await store.putBytes('zero/empty', empty, { contentType: 'text/plain' });
      assert.deepEqual(await store.getBytes('zero/empty'), empty);
      const info = await store.stat('zero/empty');
      assert.equal(info?.size, 0);
      assert.equal(info?.sha256, sha256(empty));
      assert.deepEqual(
        (await store.listAll('zero/')).map((item) => [item.key, item.size]),
        [['zero/empty', 0]],
      );
      const path = join(scratch, 'empty');
      await writeFile(path, empty);
      await store.put('zero/from-file', { kind: 'file', path, size: 0 }, { sha256: sha256(empty) });
      assert.equal((await store.stat('zero/from-file'))?.size, 0);
    });

    it('stores a 5 MiB object, from bytes and from a file', async () => {
      const bytes = randomBytes(5 * 1024 * 1024);
      await store.putBytes('big/bytes.bin', bytes);
      const got = await store.getBytes('big/bytes.bin');
      assert.ok(got && Buffer.from(got).equals(bytes), 'the bytes are identical');
      assert.equal((await store.stat('big/bytes.bin'))?.size, bytes.length);
      const path = join(scratch, 'big.bin');
      await writeFile(path, bytes);
      await store.put('big/file.bin', { kind: 'file', path, size: bytes.length }, { sha256: sha256(bytes) });
      const { info, body } = await store.get('big/file.bin');
      assert.ok((await readAll(body)).equals(bytes));
      assert.equal(info.sha256, sha256(bytes));
    });

    it('takes concurrent puts to different keys', async () => {
      const keys = Array.from({ length: 40 }, (_, i) => `conc/d${i % 4}/sub/f${i}.txt`);
      await Promise.all(keys.map((key) => store.putBytes(key, text(key))));
      for (const key of keys) assert.deepEqual(await store.getBytes(key), text(key));
      assert.equal((await store.listAll('conc/')).length, keys.length);
    });

    it('holds a key and keys under it only when capable', async () => {
      if (driver.capabilities.fileAndDirectorySameName) {
        await store.putBytes('same/a', text('file'));
        await store.putBytes('same/a/b', text('below'));
        assert.deepEqual(
          (await store.listAll('same/')).map((item) => item.key),
          ['same/a', 'same/a/b'],
        );
        assert.deepEqual(await store.getBytes('same/a'), text('file'));
        return;
      }
      await store.putBytes('same/a', text('file'));
      await expectEither(store.putBytes('same/a/b', text('below')), ['conflict', 'invalid_argument']);
      await store.putBytes('same/c/d', text('below'));
      await expectEither(store.putBytes('same/c', text('file')), ['conflict', 'invalid_argument']);
      assert.deepEqual(
        (await store.listAll('same/')).map((item) => item.key),
        ['same/a', 'same/c/d'],
      );
    });

    it('counts requests in the Store', async () => {
      const counting = newStore();
      await counting.putBytes('count/one', text('1'));
      await counting.stat('count/one');
      await counting.getBytes('count/one');
      await counting.listAll('count/');
      await counting.delete('count/one');
      assert.deepEqual(counting.requestCounts, {
        list: 1,
        stat: 1,
        get: 1,
        put: 1,
        delete: 1,
        deleteMany: 0,
        copy: 0,
      });
      assert.equal(counting.requests, 5);
    });

    it('a missing bucket is not_found for list, stat and get', async (t) => {
      if (!harness.createMissing) return t.skip('the harness makes no missing bucket (createMissing)');
      const missing = await harness.createMissing();
      try {
        for (const [operation, attempt] of [
          ['list', () => missing.list({ prefix })],
          ['stat', () => missing.stat(`${prefix}missing-bucket/a.txt`)],
          ['get', () => missing.get(`${prefix}missing-bucket/a.txt`)],
        ] as const) {
          const error = await attempt().then(
            () => undefined,
            (caught: unknown) => caught,
          );
          assert.ok(
            isOutlastError(error, 'not_found'),
            `${operation}: expected not_found, got ${String(error)}`,
          );
          assert.equal(error.source, missing.name, `${operation}: a driver's errors name the driver`);
        }
      } finally {
        await missing.close?.();
      }
    });

    // A driver that ignores the signal would wait for the rest of the body for ever: fail instead.
    it('a put aborted midway rejects with cancelled and leaves the key as it was', {
      timeout: 60_000,
    }, async () => {
      await store.putBytes('abort/old.txt', text('old'), { contentType: 'text/plain' });
      const body = randomBytes(256 * 1024);
      for (const key of ['abort/new.bin', 'abort/old.txt']) {
        const controller = new AbortController();
        const source = stoppingSource(body, 64 * 1024, controller);
        const put = store.put(key, source, { sha256: sha256(body), signal: controller.signal });
        await expectCode(put, 'cancelled', /cancelled/);
        assert.ok(controller.signal.aborted, 'the driver read the first bytes before the abort');
      }
      assert.equal(await store.stat('abort/new.bin'), undefined, 'nothing at the new key');
      assert.deepEqual(await store.getBytes('abort/old.txt'), text('old'), 'the old bytes at the old key');
      assert.equal((await store.stat('abort/old.txt'))?.contentType, 'text/plain');
      assert.deepEqual(
        (await store.listAll('abort/')).map((item) => item.key),
        ['abort/old.txt'],
      );
    });

    it('a call whose signal is aborted already is cancelled and changes nothing', async () => {
      const signal = AbortSignal.abort();
      const kept = `${prefix}abort/old.txt`;
      const never = `${prefix}abort/never.txt`;
      const bytes = text('never');
      const attempts: Array<[string, () => Promise<unknown>]> = [
        ['list', () => driver.list({ prefix, signal })],
        ['stat', () => driver.stat(kept, { signal })],
        ['get', () => driver.get(kept, { signal })],
        ['put', () => driver.put(never, { kind: 'bytes', bytes }, { sha256: sha256(bytes), signal })],
        ['delete', () => driver.delete(kept, { signal })],
      ];
      if (driver.capabilities.deleteMany && driver.deleteMany) {
        const deleteMany = driver.deleteMany.bind(driver);
        attempts.push(['deleteMany', () => deleteMany([kept], { signal })]);
      }
      if (driver.capabilities.copy && driver.copy) {
        const copy = driver.copy.bind(driver);
        attempts.push(['copy', () => copy(kept, never, { signal })]);
      }
      for (const [operation, attempt] of attempts) {
        const error = await attempt().then(
          () => undefined,
          (caught: unknown) => caught,
        );
        assert.ok(
          isOutlastError(error, 'cancelled'),
          `${operation}: expected cancelled, got ${String(error)}`,
        );
        assert.equal(error.source, driver.name, `${operation}: a driver's errors name the driver`);
        assert.equal(error.retryable, false);
      }
      assert.equal(await store.stat('abort/never.txt'), undefined);
      assert.deepEqual(await store.getBytes('abort/old.txt'), text('old'));

      // A Store's own signal: no attempt is made, and the error names the origin.
      const cancelled = new Store(driver, { originId: 'conformance', prefix, signal });
      await expectCode(cancelled.putBytes('abort/never.txt', bytes), 'cancelled', /origin "conformance"/);
      await expectCode(cancelled.listAll('abort/'), 'cancelled');
      await expectCode(cancelled.delete('abort/old.txt'), 'cancelled');
      assert.equal(cancelled.requests, 0);
      assert.deepEqual(
        (await store.listAll('abort/')).map((item) => item.key),
        ['abort/old.txt'],
      );
    });

    it('deleting every object leaves an empty store', async () => {
      const all = await store.listAll();
      await store.deleteMany(all.map((item) => item.key));
      assert.deepEqual(await store.listAll(), []);
      assert.deepEqual((await driver.list({ prefix })).items, []);
    });
  });
}

/** Keys that trip URL encoders, signers and filesystems, all valid (see keys.ts). */
function oddKeys(prefix: string): string[] {
  const deep = `odd/deep/${Array.from({ length: 19 }, (_, i) => `d${i + 1}`).join('/')}/leaf.txt`;
  // About 1,000 bytes with the prefix, in segments short enough for any filesystem (255 bytes).
  let long = 'odd/long';
  while (Buffer.byteLength(`${prefix}${long}`) < 1000 - 101) long += `/${'L'.repeat(100)}`;
  long += `/${'z'.repeat(1000 - 1 - Buffer.byteLength(`${prefix}${long}`))}`;
  return [
    'odd/with space.txt',
    'odd/a b/c d.txt',
    'odd/hash#fragment',
    'odd/question?x=1&y=2',
    'odd/percent%',
    'odd/percent%20literal',
    'odd/slash%2Fescaped',
    'odd/plus+plus',
    'odd/amp&equals=',
    "odd/quote'single",
    'odd/quote"double',
    'odd/semi;colon',
    'odd/at@sign',
    'odd/tilde~',
    'odd/caf\u00e9.html',
    'odd/emoji-\u{1f680}\u{1f600}.txt',
    'odd/cjk-\u6f22\u5b57-\u65e5\u672c\u8a9e.txt',
    'odd/rtl-\u05e9\u05dc\u05d5\u05dd-\u0645\u0631\u062d\u0628\u0627.txt',
    'odd/.well-known/dotfile',
    'odd/(parens) [brackets] {braces}!*$,',
    deep,
    long,
  ];
}

/**
 * A stream source of `body` (as many streams as the driver opens) whose streams give the first
 * `first` bytes, then, asked for more, abort `controller` and give nothing else: the driver is
 * midway through reading, and (for a driver that streams) through sending, when the abort comes.
 */
function stoppingSource(body: Uint8Array, first: number, controller: AbortController): ObjectSource {
  return {
    kind: 'stream',
    size: body.byteLength,
    open: () => {
      let given = false;
      return new Readable({
        read() {
          if (!given) {
            given = true;
            this.push(body.subarray(0, first));
            return;
          }
          // Asked for more: never pushed. The abort comes from outside this call, as it would.
          setImmediate(() => controller.abort());
        },
      });
    },
  };
}

function text(value: string): Uint8Array {
  return new Uint8Array(Buffer.from(value, 'utf8'));
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

async function readAll(body: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(Buffer.from(chunk as Uint8Array));
  return Buffer.concat(chunks);
}

function assertInfo(
  info: ObjectInfo | undefined,
  bytes: Uint8Array,
  headers: ObjectHeaders,
  metadata: UserMetadata,
): void {
  assert.ok(info, 'the object exists');
  assert.equal(info.size, bytes.byteLength);
  assert.equal(info.sha256, sha256(bytes));
  for (const [name, value] of Object.entries(headers)) {
    assert.equal(info[name as keyof ObjectHeaders], value, name);
  }
  assert.deepEqual(info.metadata ?? {}, metadata, 'user metadata, without the sha256 key');
}

async function expectCode(promise: Promise<unknown>, code: ErrorCode, message?: RegExp): Promise<void> {
  await expectEither(promise, [code], message);
}

async function expectEither(promise: Promise<unknown>, codes: ErrorCode[], message?: RegExp): Promise<void> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  assert.ok(isOutlastError(error), `expected an OutlastError (${codes.join(' or ')}), got ${String(error)}`);
  assert.ok(
    codes.includes(error.code),
    `expected ${codes.join(' or ')}, got ${error.code}: ${error.message}`,
  );
  if (message) assert.match(error.message, message);
}

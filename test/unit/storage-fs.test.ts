import assert from 'node:assert/strict';
import {
  chmod,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  rm,
  stat,
  symlink,
  utimes,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { isOutlastError } from '../../src/errors.ts';
import type { StorageDriver } from '../../src/storage/driver.ts';
import {
  createFsDriver,
  FS_RESERVED_DIR,
  type FsSidecar,
  objectPath,
  sidecarPath,
} from '../../src/storage/drivers/fs.ts';
import { Store } from '../../src/storage/store.ts';
import { testStorageDriver } from '../conformance/storage.ts';
import { eventually } from '../helpers/eventually.ts';

function fsHarness(name: string, prefix?: string) {
  let root = '';
  return {
    name,
    ...(prefix === undefined ? {} : { prefix }),
    async create(): Promise<StorageDriver> {
      root = await mkdtemp(join(tmpdir(), 'outlast-fs-'));
      return createFsDriver({ root });
    },
    async cleanup() {
      await rm(root, { recursive: true, force: true });
    },
  };
}

testStorageDriver(fsHarness('fs'));
testStorageDriver(fsHarness('fs (prefix site/)', 'site/'));

describe('fs driver layout', () => {
  let root: string;
  let driver: StorageDriver;
  let store: Store;
  const bytes = new TextEncoder().encode('<h1>hi</h1>');

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'outlast-fs-layout-'));
    driver = createFsDriver({ root });
    store = new Store(driver, { originId: 'layout' });
  });
  after(() => rm(root, { recursive: true, force: true }));

  it('maps keys to paths', () => {
    assert.equal(objectPath('/srv/www', 'a/b c/d.html'), join('/srv/www', 'a', 'b c', 'd.html'));
    assert.equal(
      sidecarPath('/srv/www', 'a/b.html'),
      join('/srv/www', FS_RESERVED_DIR, 'meta', 'a', 'b.html.json'),
    );
  });

  it('writes the object as a plain file and its metadata as a sidecar', async () => {
    await store.putBytes('docs/page.html', bytes, { contentType: 'text/html', metadata: { build: '7' } });
    assert.deepEqual(new Uint8Array(await readFile(join(root, 'docs', 'page.html'))), bytes);
    const sidecar = JSON.parse(await readFile(sidecarPath(root, 'docs/page.html'), 'utf8')) as FsSidecar;
    const info = (await store.stat('docs/page.html'))!;
    assert.equal(sidecar.version, 1);
    assert.equal(sidecar.size, bytes.byteLength);
    assert.equal(sidecar.sha256, info.sha256);
    assert.deepEqual(sidecar.headers, { contentType: 'text/html' });
    assert.deepEqual(sidecar.metadata, { build: '7' });
  });

  it('leaves no temp files behind', async () => {
    await Promise.all(Array.from({ length: 20 }, (_, i) => store.putBytes(`tmp-check/${i}`, bytes)));
    await store.copy('tmp-check/0', 'tmp-check/copy');
    assert.deepEqual(await readdir(join(root, FS_RESERVED_DIR, 'tmp')), []);
  });

  it('removes its temp file when a put is aborted midway', async () => {
    const controller = new AbortController();
    const tmp = join(root, FS_RESERVED_DIR, 'tmp');
    const first = new Uint8Array(64 * 1024);
    /** Aborts once the temp file holds the first bytes: the put is midway. */
    async function abortWhenWritten(): Promise<void> {
      await eventually(
        'the temp file holds the first bytes',
        async () => {
          const [temp] = await readdir(tmp);
          return temp !== undefined && (await stat(join(tmp, temp))).size === first.length;
        },
        10_000,
      );
      controller.abort();
    }
    let given = false;
    const source = {
      kind: 'stream' as const,
      size: 2 * first.length,
      open: () =>
        new Readable({
          read() {
            if (given) return void abortWhenWritten();
            given = true;
            this.push(first);
          },
        }),
    };
    await assert.rejects(
      store.put('tmp-check/aborted', source, { sha256: 'x', signal: controller.signal }),
      (error) => isOutlastError(error, 'cancelled'),
    );
    assert.deepEqual(await readdir(tmp), []);
    await assert.rejects(stat(join(root, 'tmp-check', 'aborted')), { code: 'ENOENT' });
  });

  it('never lists the reserved folder, nor symlinks or stray files in it', async () => {
    await writeFile(join(root, FS_RESERVED_DIR, 'tmp', 'stray.tmp'), 'x');
    await symlink(join(root, 'docs', 'page.html'), join(root, 'docs', 'link.html'));
    const keys = (await store.listAll()).map((item) => item.key);
    assert.ok(
      keys.every((key) => !key.startsWith(FS_RESERVED_DIR)),
      keys.join(),
    );
    assert.ok(!keys.includes('docs/link.html'), 'a symlink is not an object');
    assert.equal(await store.stat('docs/link.html'), undefined);
    await rm(join(root, 'docs', 'link.html'));
    await rm(join(root, FS_RESERVED_DIR, 'tmp', 'stray.tmp'));
  });

  it('refuses keys in the reserved folder', async () => {
    for (const attempt of [
      () => driver.put(`${FS_RESERVED_DIR}/x`, { kind: 'bytes', bytes }, { sha256: 'x' }),
      () => driver.stat(`${FS_RESERVED_DIR}/meta/docs/page.html.json`),
      () => driver.delete(`${FS_RESERVED_DIR}/tmp`),
    ]) {
      await assert.rejects(attempt(), (error) => isOutlastError(error, 'invalid_argument'));
    }
    assert.deepEqual((await driver.list({ prefix: `${FS_RESERVED_DIR}/` })).items, []);
    assert.deepEqual((await driver.list({ prefix: '.outlast' })).items, []);
  });

  it('explains a file/folder name clash', async () => {
    await store.putBytes('clash/a', bytes);
    await assert.rejects(store.putBytes('clash/a/b', bytes), (error) => {
      assert.ok(isOutlastError(error, 'conflict'));
      assert.match(error.message, /origin "layout": fs: put "clash\/a\/b": "clash\/a" is an object/);
      return true;
    });
    await assert.rejects(stat(join(root, FS_RESERVED_DIR, 'meta', 'clash', 'a')), { code: 'ENOENT' });
    await store.putBytes('clash/c/d', bytes);
    await assert.rejects(store.putBytes('clash/c', bytes), /objects exist under "clash\/c\/"/);
    await assert.rejects(stat(sidecarPath(root, 'clash/c')), { code: 'ENOENT' });
  });

  it('prunes empty folders on delete, keeping the root', async () => {
    await store.putBytes('p/q/r/s.txt', bytes);
    await store.putBytes('p/keep.txt', bytes);
    await store.delete('p/q/r/s.txt');
    await assert.rejects(stat(join(root, 'p', 'q')), { code: 'ENOENT' });
    await assert.rejects(stat(join(root, FS_RESERVED_DIR, 'meta', 'p', 'q')), { code: 'ENOENT' });
    assert.ok((await stat(join(root, 'p'))).isDirectory());
    await store.delete('p/keep.txt');
    await assert.rejects(stat(join(root, 'p')), { code: 'ENOENT' });
    assert.ok((await stat(root)).isDirectory());
  });

  it('ignores a sidecar that no longer matches its file', async () => {
    await store.putBytes('stale/a.txt', bytes, { contentType: 'text/plain' });
    await writeFile(join(root, 'stale', 'a.txt'), 'replaced by hand, another size');
    const resized = (await store.stat('stale/a.txt'))!;
    assert.equal(resized.sha256, undefined);
    assert.equal(resized.contentType, undefined);
    await store.putBytes('stale/b.txt', bytes, { contentType: 'text/plain' });
    await utimes(join(root, 'stale', 'b.txt'), new Date(), new Date(Date.now() - 60_000));
    assert.equal((await store.stat('stale/b.txt'))!.sha256, undefined, 'same size, other mtime');
    assert.equal((await store.listAll('stale/'))[1]!.sha256, undefined);
  });

  it('treats a missing root as an empty origin, and creates it on put', async () => {
    const missing = join(root, 'not', 'yet');
    const fresh = new Store(createFsDriver({ root: missing }), { originId: 'fresh' });
    assert.deepEqual(await fresh.listAll(), []);
    assert.equal(await fresh.stat('a'), undefined);
    await fresh.delete('a');
    await fresh.putBytes('a', bytes);
    assert.deepEqual(new Uint8Array(await readFile(join(missing, 'a'))), bytes);
  });

  it('maps permission errors', async (t) => {
    if (process.getuid?.() === 0) return t.skip('root ignores file permissions');
    const locked = join(root, 'locked');
    await mkdir(locked);
    await chmod(locked, 0o500);
    try {
      await assert.rejects(store.putBytes('locked/x', bytes), (error) =>
        isOutlastError(error, 'permission_denied'),
      );
    } finally {
      await chmod(locked, 0o700);
    }
  });

  it('maps an over-long path segment to invalid_argument', async () => {
    await assert.rejects(store.putBytes('n'.repeat(300), bytes), (error) =>
      isOutlastError(error, 'invalid_argument'),
    );
  });
});

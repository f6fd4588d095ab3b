import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import type { SiteConfig } from '../../src/config/schema.ts';
import { scanSite } from '../../src/site/scan.ts';

const tempRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'outlast-hash-cache-'));
after(() => fs.rmSync(tempRoot, { recursive: true, force: true }));

let fixtures = 0;
/** A site folder and a cache folder beside it; every file's times are set an hour back (not racy). */
function fixture(files: Record<string, string>): { dir: string; cacheDir: string } {
  const root = path.join(tempRoot, `case-${++fixtures}`);
  const dir = path.join(root, 'site');
  for (const [name, content] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    fs.writeFileSync(path.join(dir, name), content);
    age(path.join(dir, name));
  }
  return { dir, cacheDir: path.join(root, 'cache') };
}

const HOUR_AGO = () => new Date(Date.now() - 3600_000);
function age(file: string, when = HOUR_AGO()): void {
  fs.utimesSync(file, when, when);
}

function siteOf(dir: string): SiteConfig {
  return {
    dir,
    hostname: 'www.example.com',
    exclude: [],
    indexDocument: 'index.html',
    keepReleases: 3,
    headers: [],
  };
}

function cacheFile(cacheDir: string): string {
  const names = fs.readdirSync(cacheDir);
  assert.equal(names.length, 1, `one cache file, got ${names.join(', ')}`);
  return path.join(cacheDir, names[0]!);
}

describe('hash cache', () => {
  const files = {
    'index.html': '<h1>hi</h1>',
    'a/b.css': 'body{}',
    'a/c/d.js': 'x()',
    'e.txt': 'e'.repeat(5000),
  };

  it('gives the same manifest and release id with and without the cache, and skips unchanged files', async () => {
    const { dir, cacheDir } = fixture(files);
    const plain = await scanSite(siteOf(dir));
    const cold = await scanSite(siteOf(dir), { cacheDir });
    const warm = await scanSite(siteOf(dir), { cacheDir });
    for (const scan of [cold, warm]) {
      assert.equal(scan.manifestJson, plain.manifestJson);
      assert.equal(scan.releaseId, plain.releaseId);
      assert.deepEqual(scan.files, plain.files);
      assert.equal(scan.totalBytes, plain.totalBytes);
    }
    // Every entry of the warm cache is trusted: the files are an hour old and unchanged.
    const { HashCache } = await import('../../src/site/hash-cache.ts');
    const cache = await HashCache.load(cacheDir, fs.realpathSync(dir));
    for (const file of plain.files) {
      const hit = cache.lookup(file.path, fs.statSync(file.path, { bigint: true }));
      assert.deepEqual(hit, { size: file.size, sha256: file.sha256, md5: file.md5 }, file.key);
    }
    assert.ok(fs.statSync(cacheFile(cacheDir)).size > 0);
  });

  it('writes nothing when every entry was confirmed, and rewrites the file when one was not', async () => {
    const { dir, cacheDir } = fixture(files);
    await scanSite(siteOf(dir), { cacheDir });
    const file = cacheFile(cacheDir);
    const written = fs.statSync(file, { bigint: true });
    const bytes = fs.readFileSync(file);
    await scanSite(siteOf(dir), { cacheDir });
    const after = fs.statSync(file, { bigint: true });
    assert.equal(after.ino, written.ino, 'a no-op scan leaves the cache file in place');
    assert.equal(after.mtimeNs, written.mtimeNs);
    assert.ok(fs.readFileSync(file).equals(bytes));
    // One file changed: its new hash is recorded (the file is replaced: rename gives a new inode).
    fs.writeFileSync(path.join(dir, 'e.txt'), 'f'.repeat(5000));
    age(path.join(dir, 'e.txt'));
    await scanSite(siteOf(dir), { cacheDir });
    assert.notEqual(fs.statSync(cacheFile(cacheDir), { bigint: true }).ino, written.ino);
    // One file gone: its entry is dropped, so the file is written again too.
    const beforeRemoval = fs.statSync(cacheFile(cacheDir), { bigint: true }).ino;
    fs.rmSync(path.join(dir, 'a/b.css'));
    await scanSite(siteOf(dir), { cacheDir });
    assert.notEqual(fs.statSync(cacheFile(cacheDir), { bigint: true }).ino, beforeRemoval);
  });

  it('detects a same-size change whose mtime was put back (ctime differs)', async () => {
    const { dir, cacheDir } = fixture(files);
    await scanSite(siteOf(dir), { cacheDir });
    const file = path.join(dir, 'a/b.css');
    const before = fs.statSync(file);
    fs.writeFileSync(file, 'BODY{}'); // same size
    fs.utimesSync(file, before.atime, before.mtime); // mtime restored; ctime is now
    assert.equal(fs.statSync(file).mtimeMs, before.mtimeMs);
    const scan = await scanSite(siteOf(dir), { cacheDir });
    const plain = await scanSite(siteOf(dir));
    assert.equal(scan.manifestJson, plain.manifestJson);
    assert.equal(scan.manifest.files['a/b.css']!.sha256, plain.manifest.files['a/b.css']!.sha256);
    assert.notEqual(scan.manifest.files['a/b.css']!.sha256, undefined);
  });

  it('re-hashes a file replaced by another (new inode) with the same size and times', async () => {
    const { dir, cacheDir } = fixture(files);
    const first = await scanSite(siteOf(dir), { cacheDir });
    const file = path.join(dir, 'index.html');
    const times = fs.statSync(file);
    const other = path.join(dir, '..', 'other.html');
    fs.writeFileSync(other, '<h1>HI</h1>');
    fs.utimesSync(other, times.atime, times.mtime);
    fs.renameSync(other, file);
    const scan = await scanSite(siteOf(dir), { cacheDir });
    assert.notEqual(scan.releaseId, first.releaseId);
    assert.equal(scan.manifestJson, (await scanSite(siteOf(dir))).manifestJson);
  });

  it('does not trust an entry of a file modified within 2 s of the scan that cached it (racy rule)', async () => {
    const { dir, cacheDir } = fixture(files);
    const file = path.join(dir, 'a/c/d.js');
    const now = new Date();
    age(file, now);
    const first = await scanSite(siteOf(dir), { cacheDir });
    const { HashCache } = await import('../../src/site/hash-cache.ts');
    const cache = await HashCache.load(cacheDir, fs.realpathSync(dir));
    const stats = fs.statSync(fs.realpathSync(file), { bigint: true });
    assert.equal(cache.lookup(fs.realpathSync(file), stats), undefined, 'a racy entry is not trusted');
    const old = path.join(dir, 'index.html');
    assert.ok(cache.lookup(fs.realpathSync(old), fs.statSync(fs.realpathSync(old), { bigint: true })));
    assert.equal(first.files.length, 4);
    // Change it in place, same size, mtime put back: only the racy rule stands between this and a
    // stale hash on a file system whose ctime did not move either.
    fs.writeFileSync(file, 'y()');
    age(file, now);
    const second = await scanSite(siteOf(dir), { cacheDir });
    assert.notEqual(second.releaseId, first.releaseId);
    assert.equal(second.manifestJson, (await scanSite(siteOf(dir))).manifestJson);
  });

  it('ignores a corrupt, truncated or foreign cache file', async () => {
    const { dir, cacheDir } = fixture(files);
    const plain = await scanSite(siteOf(dir));
    await scanSite(siteOf(dir), { cacheDir });
    const file = cacheFile(cacheDir);
    const good = fs.readFileSync(file);
    const flipped = Buffer.from(good);
    flipped[flipped.length - 40]! ^= 0xff; // inside the last entry's hash
    const versioned = Buffer.from(good);
    versioned.writeUInt32BE(99, 4);
    for (const bad of [
      flipped,
      good.subarray(0, good.length - 10),
      Buffer.from('not a cache'),
      Buffer.alloc(0),
      versioned,
    ]) {
      fs.writeFileSync(file, bad);
      const scan = await scanSite(siteOf(dir), { cacheDir });
      assert.equal(scan.manifestJson, plain.manifestJson);
      assert.equal(scan.releaseId, plain.releaseId);
    }
    // Each bad cache was replaced by a good one after the scan.
    assert.deepEqual(fs.readFileSync(file).subarray(0, 8), good.subarray(0, 8));
  });

  it('uses no cache placed inside the site (it would be published)', async () => {
    const { dir } = fixture(files);
    const scan = await scanSite(siteOf(dir), { cacheDir: path.join(dir, '.cache') });
    assert.equal(fs.existsSync(path.join(dir, '.cache')), false);
    assert.equal(scan.files.length, 4);
  });
});

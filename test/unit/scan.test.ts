import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { SiteConfig } from '../../src/config/schema.ts';
import { isOutlastError } from '../../src/errors.ts';
import { canonicalManifestJson, releaseIdOf } from '../../src/release/manifest.ts';
import { scanSite } from '../../src/site/scan.ts';
import { compareKeys } from '../../src/storage/keys.ts';

const tempRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'outlast-scan-'));
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CHILD = fileURLToPath(new URL('../helpers/scan-child.ts', import.meta.url));
after(() => fs.rmSync(tempRoot, { recursive: true, force: true }));

let fixtures = 0;
/** A fresh folder with `files` (relative path → content) written into it. */
function fixture(files: Record<string, string | Buffer> = {}): string {
  const dir = path.join(tempRoot, `site-${++fixtures}`);
  fs.mkdirSync(dir);
  for (const [name, content] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    fs.writeFileSync(path.join(dir, name), content);
  }
  return dir;
}

function siteOf(dir: string, extra: Partial<SiteConfig> = {}): SiteConfig {
  return {
    dir,
    hostname: 'www.example.com',
    exclude: [],
    indexDocument: 'index.html',
    keepReleases: 3,
    headers: [],
    ...extra,
  };
}

const sha = (bytes: string | Buffer) => createHash('sha256').update(bytes).digest('hex');

/** Expects scanSite to fail with invalid_site whose message matches every pattern. */
async function expectInvalid(site: SiteConfig, patterns: RegExp[]): Promise<string> {
  let message = '';
  await assert.rejects(scanSite(site), (error: unknown) => {
    assert.ok(isOutlastError(error, 'invalid_site'), `expected invalid_site, got ${String(error)}`);
    message = error.message;
    return true;
  });
  for (const pattern of patterns) assert.match(message, pattern);
  return message;
}

describe('scanSite', () => {
  it('keys odd names, nested folders and unicode (NFD becomes NFC), with sizes and hashes', async () => {
    const files: Record<string, string | Buffer> = {
      'index.html': '<h1>hi</h1>',
      'a b/c d.html': 'spaces',
      'hash#1.html': 'hash',
      'q?.html': 'question',
      'pct%20.html': 'percent',
      'plus+.html': 'plus',
      'deep/er/est/x.txt': 'deep',
      'cafe\u0301.html': 'nfd',
      '😀/🎉.txt': 'emoji',
      '.hidden': 'dot',
      ['__proto__']: 'proto', // computed: a plain `__proto__:` would set the prototype
      constructor: 'ctor',
      'big.bin': Buffer.alloc(3 * 1024 * 1024 + 7, 0xab),
      'empty.txt': '',
    };
    const dir = fixture(files);
    const progress: [number, number][] = [];
    const scan = await scanSite(siteOf(dir, { errorDocument: '404.html' }), {
      concurrency: 3,
      onProgress: (done, total) => progress.push([done, total]),
    });
    const byNfcKey = new Map(
      Object.entries(files).map(([name, content]) => [name.normalize('NFC'), content]),
    );
    const keys = scan.files.map((file) => file.key);
    assert.deepEqual(keys, [...byNfcKey.keys()].sort(compareKeys));
    assert.ok(keys.includes('caf\u00e9.html'));
    for (const file of scan.files) {
      const content = byNfcKey.get(file.key)!;
      assert.equal(file.size, Buffer.byteLength(content), file.key);
      assert.equal(file.sha256, sha(content), file.key);
      assert.equal(fs.realpathSync(file.path), file.path);
      assert.deepEqual(fs.readFileSync(file.path), Buffer.from(content));
    }
    assert.equal(
      scan.files.find((file) => file.key === 'cafe\u0301.html'.normalize('NFC'))?.path,
      path.join(fs.realpathSync(dir), 'cafe\u0301.html'),
    );
    assert.equal(
      scan.totalBytes,
      scan.files.reduce((sum, file) => sum + file.size, 0),
    );
    assert.equal(
      scan.files.find((file) => file.key === 'index.html')?.headers.contentType,
      'text/html; charset=utf-8',
    );
    assert.deepEqual(Object.keys(scan.manifest.files), keys);
    assert.deepEqual(scan.manifest.site, { indexDocument: 'index.html', errorDocument: '404.html' });
    assert.equal(scan.manifestJson, canonicalManifestJson(scan.manifest));
    assert.deepEqual(releaseIdOf(scan.manifestJson), {
      releaseId: scan.releaseId,
      sha256: scan.manifestSha256,
    });
    const n = keys.length;
    assert.deepEqual(progress[0], [0, n]);
    assert.deepEqual(progress.at(-1), [n, n]);
    assert.equal(progress.length, n + 1);
  });

  it('gives the same release for the same content wherever it lives', async () => {
    const files = { 'index.html': 'x', 'a/b.css': 'y' };
    const one = await scanSite(siteOf(fixture(files)));
    const two = await scanSite(siteOf(fixture(files)), { concurrency: 1 });
    assert.equal(one.releaseId, two.releaseId);
    const three = await scanSite(siteOf(fixture({ ...files, 'a/b.css': 'z' })));
    assert.notEqual(three.releaseId, one.releaseId);
  });

  it('applies header rules', async () => {
    const dir = fixture({ 'index.html': 'x', 'assets/a.js': 'y' });
    const scan = await scanSite(
      siteOf(dir, {
        headers: [
          { match: 'assets/**', cacheControl: 'immutable' },
          { match: '**', cacheControl: 'no-cache' },
        ],
      }),
    );
    assert.deepEqual(
      scan.files.map((file) => [file.key, file.headers.cacheControl]),
      [
        ['assets/a.js', 'immutable'],
        ['index.html', 'no-cache'],
      ],
    );
  });

  it('leaves out excluded files and does not enter excluded folders', async () => {
    const dir = fixture({
      'index.html': 'x',
      'app.js.map': 'm',
      'a/b.js.map': 'm',
      'drafts/x.html': 'd',
      'private/y.html': 'p',
      '.git/HEAD': 'h',
    });
    // A FIFO inside an excluded folder would be a problem if the folder were entered.
    execFileSync('mkfifo', [path.join(dir, 'private', 'pipe')]);
    const scan = await scanSite(siteOf(dir, { exclude: ['**/*.map', 'drafts', 'private/**', '.git/**'] }));
    assert.deepEqual(
      scan.files.map((file) => file.key),
      ['index.html'],
    );
  });

  it('follows symlinks to files and folders inside the site', async () => {
    const dir = fixture({ 'index.html': 'x', 'real/a.txt': 'a', 'real/sub/b.txt': 'b' });
    fs.symlinkSync('real', path.join(dir, 'linked'));
    fs.symlinkSync('real/a.txt', path.join(dir, 'alias.txt'));
    fs.symlinkSync('../index.html', path.join(dir, 'real', 'home.html'));
    const scan = await scanSite(siteOf(dir));
    const real = fs.realpathSync(dir);
    const paths = Object.fromEntries(scan.files.map((file) => [file.key, file.path]));
    assert.deepEqual(paths, {
      'alias.txt': path.join(real, 'real/a.txt'),
      'index.html': path.join(real, 'index.html'),
      'linked/a.txt': path.join(real, 'real/a.txt'),
      'linked/home.html': path.join(real, 'index.html'),
      'linked/sub/b.txt': path.join(real, 'real/sub/b.txt'),
      'real/a.txt': path.join(real, 'real/a.txt'),
      'real/home.html': path.join(real, 'index.html'),
      'real/sub/b.txt': path.join(real, 'real/sub/b.txt'),
    });
    assert.equal(scan.files.find((file) => file.key === 'linked/sub/b.txt')?.sha256, sha('b'));
  });

  it('refuses a symlink that leads outside the site', async () => {
    const outside = fixture({ 'secret.txt': 's' });
    const dir = fixture({ 'index.html': 'x' });
    fs.symlinkSync(path.join(outside, 'secret.txt'), path.join(dir, 'secret.txt'));
    fs.symlinkSync(outside, path.join(dir, 'out'));
    await expectInvalid(siteOf(dir), [
      /: 2 problems\n/,
      new RegExp(`  out: is a symlink to ${fs.realpathSync(outside)}, outside the site`),
      / {2}secret\.txt: is a symlink to .*secret\.txt, outside the site/,
    ]);
  });

  it('refuses broken symlinks and loops', async () => {
    const dir = fixture({ 'index.html': 'x', 'a/b.txt': 'b' });
    fs.symlinkSync('nothing-here.html', path.join(dir, 'gone.html'));
    fs.symlinkSync('self', path.join(dir, 'self'));
    fs.symlinkSync('..', path.join(dir, 'a', 'up'));
    await expectInvalid(siteOf(dir), [
      / {2}gone\.html: is a broken symlink \(leads to nothing-here\.html/,
      / {2}self: is a symlink loop \(leads to self\)/,
      / {2}a\/up: is a symlink loop \(leads to .*, a folder that contains it\)/,
    ]);
  });

  it('refuses a name that is not UTF-8, naming its folder and bytes', async () => {
    const dir = fixture({ 'index.html': 'x', 'sub/ok.txt': 'y' });
    const name = Buffer.from([0x63, 0x61, 0x66, 0xe9, 0x2e, 0x68, 0x74, 0x6d, 0x6c]);
    fs.writeFileSync(Buffer.concat([Buffer.from(`${dir}/sub/`), name]), 'latin-1');
    await expectInvalid(siteOf(dir), [/ {2}sub\/caf\\xe9\.html: name is not valid UTF-8/]);
  });

  it('refuses a FIFO', async () => {
    const dir = fixture({ 'index.html': 'x' });
    execFileSync('mkfifo', [path.join(dir, 'pipe')]);
    await expectInvalid(siteOf(dir), [/ {2}pipe: is a FIFO/]);
  });

  it('refuses files under the reserved .well-known/outlast/ folder', async () => {
    const dir = fixture({
      'index.html': 'x',
      '.well-known/outlast/x': 'y',
      '.well-known/security.txt': 'ok',
    });
    await expectInvalid(siteOf(dir), [
      /: 1 problem\n {2}\.well-known\/outlast\/x: is under \.well-known\/outlast\//,
    ]);
  });

  it('refuses two names that differ only by Unicode normalization, naming both', async () => {
    const dir = fixture({ 'index.html': 'x', 'caf\u00e9.txt': 'nfc', 'cafe\u0301.txt': 'nfd' });
    await expectInvalid(siteOf(dir), [
      /caf.*\.txt \((NFC|NFD)\): has the same name as caf.*\.txt \((NFC|NFD)\) in Unicode NFC; rename one/,
    ]);
  });

  describe('unreadable files, scanned as a user who may not read them', () => {
    // Root reads every file, so the scan runs in a child process: as `nobody` when this suite runs
    // as root (as CI does), else as this user (who cannot read a file of mode 000 either).
    const asOther = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : {};
    const scanAs = (
      dir: string,
      cacheDir?: string,
      as: { uid?: number; gid?: number } = asOther,
    ): { releaseId?: string; error?: string; code?: string } => {
      const args = ['--import', 'tsx', CHILD, dir, ...(cacheDir === undefined ? [] : [cacheDir])];
      const out = execFileSync(process.execPath, args, { ...as, cwd: ROOT, encoding: 'utf8' });
      return JSON.parse(out.trim().split('\n').at(-1)!);
    };
    /** A site the other user can enter, with a cache folder it can write. */
    const openFixture = (files: Record<string, string>) => {
      const dir = fixture(files);
      for (let at = dir; at !== path.dirname(tempRoot); at = path.dirname(at)) fs.chmodSync(at, 0o755);
      const cacheDir = path.join(path.dirname(dir), `${path.basename(dir)}-cache`);
      fs.mkdirSync(cacheDir, { mode: 0o777 });
      fs.chmodSync(cacheDir, 0o777);
      return { dir, cacheDir };
    };

    it('refuses a file it cannot read, with no cache and after a cache that had it', () => {
      const { dir, cacheDir } = openFixture({ 'index.html': 'x', 'locked.txt': 'y' });
      const readable = scanAs(dir, cacheDir);
      assert.equal(readable.error, undefined, 'readable at first');
      assert.match(readable.releaseId ?? '', /^r[0-9a-f]{20}$/);
      fs.chmodSync(path.join(dir, 'locked.txt'), 0o000);
      // The cache holds locked.txt's hash; the chmod moved its ctime, so the entry is not trusted.
      for (const result of [scanAs(dir), scanAs(dir, cacheDir)]) {
        assert.equal(result.code, 'invalid_site');
        assert.match(result.error ?? '', / {2}locked\.txt: cannot be read \(permission denied\)/);
      }
    });

    it('does not trust a cache entry made while the user was in a group that let it read the file', (t) => {
      if (process.getuid?.() !== 0) {
        t.skip('needs root, to run the scan as one user in two groups');
        return;
      }
      const { dir, cacheDir } = openFixture({ 'index.html': 'x', 'group.txt': 'y' });
      const file = path.join(dir, 'group.txt');
      fs.chownSync(file, 0, 1); // root:daemon, readable by the group only
      fs.chmodSync(file, 0o640);
      const inGroup = scanAs(dir, cacheDir, { uid: 65534, gid: 1 });
      assert.equal(inGroup.error, undefined, 'in the group, the file is read and cached');
      // Same user, same file, same ctime, but no longer in the group: the cache must not vouch.
      const result = scanAs(dir, cacheDir, { uid: 65534, gid: 65534 });
      assert.match(result.error ?? '', /group\.txt: cannot be read \(permission denied\)/);
    });

    it('lists an unreadable file together with the problems the walk found', () => {
      const { dir } = openFixture({
        'index.html': 'x',
        'locked.txt': 'y',
        '.well-known/outlast/x.json': '{}',
      });
      fs.chmodSync(path.join(dir, 'locked.txt'), 0o000);
      const result = scanAs(dir);
      assert.match(result.error ?? '', /2 problems/);
      assert.match(result.error ?? '', /locked\.txt: cannot be read \(permission denied\)/);
      assert.match(result.error ?? '', /\.well-known\/outlast\/x\.json: is under \.well-known\/outlast\//);
    });
  });

  it('reports all problems together, before hashing anything', async () => {
    const dir = fixture({
      'index.html': 'x',
      '.well-known/outlast/release.json': '{}',
      'ctl\u0001.txt': 'c',
    });
    execFileSync('mkfifo', [path.join(dir, 'pipe')]);
    fs.symlinkSync('/etc/hostname', path.join(dir, 'host'));
    fs.symlinkSync('missing', path.join(dir, 'broken'));
    let hashed = false;
    await assert.rejects(
      scanSite(siteOf(dir), { onProgress: () => (hashed = true) }),
      (error: unknown) => isOutlastError(error, 'invalid_site') && /: 5 problems\n/.test(error.message),
    );
    const message = await expectInvalid(siteOf(dir), [
      /ctl\\x01\.txt: key "ctl\\x01\.txt" contains a control character/,
    ]);
    assert.equal(message.split('\n').length, 6);
    assert.equal(hashed, false);
  });

  it('lists at most 20 problems, then counts the rest', async () => {
    const dir = fixture({ 'index.html': 'x' });
    for (let i = 0; i < 25; i++)
      fs.symlinkSync(`missing-${i}`, path.join(dir, `broken-${String(i).padStart(2, '0')}`));
    const message = await expectInvalid(siteOf(dir), [/: 25 problems\n/, /\n {2}… and 5 more$/]);
    assert.equal(message.split('\n').length, 22);
  });

  it('refuses an empty site, a missing folder and a file', async () => {
    await expectInvalid(siteOf(fixture()), [/has no files to publish$/]);
    await expectInvalid(siteOf(fixture({ 'a.map': 'x' }), { exclude: ['*.map'] }), [
      /no files to publish \(1 left out by site\.exclude\)/,
    ]);
    const missing = path.join(tempRoot, 'no-such-dir');
    await expectInvalid(siteOf(missing), [new RegExp(`site folder ${missing} does not exist`)]);
    const file = path.join(fixture({ 'f.txt': 'x' }), 'f.txt');
    await expectInvalid(siteOf(file), [/is a file, not a folder/]);
    await assert.rejects(
      scanSite(siteOf(fixture())),
      (error: unknown) => isOutlastError(error) && /site\.dir/.test(error.hint ?? ''),
    );
  });
});

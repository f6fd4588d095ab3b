import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { pino } from 'pino';
import type { Beacon, Manifest, ManifestEntry } from '../../src/release/types.ts';
import { describeObject } from '../../src/serve/release-state.ts';
import { type RunningServer, startServer } from '../../src/serve/server.ts';
import type { ObjectHeaders } from '../../src/storage/driver.ts';

const silent = pino({ level: 'silent' });
const RELEASE_1 = `r${'1'.repeat(20)}`;
const RELEASE_2 = `r${'2'.repeat(20)}`;

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** One request with the path sent exactly as given (no URL normalization), no keep-alive. */
function send(
  server: RunningServer,
  path: string,
  options: { method?: string; headers?: Record<string, string> } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port: server.port,
        path,
        method: options.method ?? 'GET',
        headers: options.headers,
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end();
  });
}

/** The URL path of a key, as a browser would send it. */
function urlPath(key: string): string {
  return `/${key.split('/').map(encodeURIComponent).join('/')}`;
}

async function put(root: string, key: string, bytes: string | Buffer): Promise<Buffer> {
  const path = join(root, ...key.split('/'));
  await mkdir(dirname(path), { recursive: true });
  const buffer = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes, 'utf8');
  await writeFile(path, buffer);
  return buffer;
}

function entry(bytes: Buffer, headers: ObjectHeaders): ManifestEntry {
  return { sha256: createHash('sha256').update(bytes).digest('hex'), size: bytes.length, headers };
}

/** Writes the manifest, then the beacon by rename, in the fs driver's layout and deploy order. */
async function deploy(root: string, id: string, manifest: Manifest, deploying?: string): Promise<void> {
  await put(root, `.well-known/outlast/releases/${id}.json`, JSON.stringify(manifest));
  const beacon: Beacon = {
    release: id,
    manifestSha256: '0'.repeat(64),
    deployedAt: new Date().toISOString(),
    files: Object.keys(manifest.files).length,
    bytes: 0,
    releases: [id],
    pendingCleanup: [],
    ...(deploying ? { deploying } : {}),
    writer: 'test',
  };
  const temp = join(root, '.outlast-fs', 'tmp', `beacon-${id}`);
  await put(root, `.outlast-fs/tmp/beacon-${id}`, JSON.stringify(beacon));
  await rename(temp, join(root, '.well-known', 'outlast', 'release.json'));
}

// Each differs from what `mime` would guess, so a test that sees it proves the manifest was used.
const CONTENT_TYPES: Record<string, string> = {
  'index.html': 'text/html; charset=utf-8',
  '404.html': 'text/html; charset=utf-8',
  'style.css': 'text/x-custom-css',
};

const ODD_KEYS = [
  'odd/a b.txt',
  'odd/#hash.txt',
  'odd/what?.txt',
  'odd/100%.txt',
  'odd/a+b.txt',
  'odd/héllo ☃ 日本.txt',
];

describe('outlast serve', () => {
  let parent: string;
  let root: string;
  let server: RunningServer;
  const files: Record<string, Buffer> = {};
  let manifest: Manifest;

  before(async () => {
    parent = await mkdtemp(join(tmpdir(), 'outlast-serve-'));
    root = join(parent, 'origin');
    await put(parent, 'secret.txt', 'top secret');
    files['index.html'] = await put(root, 'index.html', '<h1>home</h1>');
    files['sub/index.html'] = await put(root, 'sub/index.html', '<h1>sub</h1>');
    files['404.html'] = await put(root, '404.html', '<h1>not here</h1>');
    files['style.css'] = await put(root, 'style.css', 'body{}');
    files['data.txt'] = await put(root, 'data.txt', '0123456789abcdefghij');
    for (const key of ODD_KEYS) files[key] = await put(root, key, `odd ${key}`);
    await put(root, 'extra.json', '{"kept":"from an older release"}');
    await put(root, '.outlast-fs/meta/index.html.json', '{"private":true}');
    manifest = {
      version: 1,
      site: { indexDocument: 'index.html', errorDocument: '404.html' },
      files: Object.fromEntries(
        Object.entries(files).map(([key, bytes]) => [
          key,
          entry(bytes, {
            contentType: CONTENT_TYPES[key] ?? 'text/plain; charset=utf-8',
            cacheControl: key === 'index.html' ? 'max-age=60' : 'max-age=3600',
            contentLanguage: key === '404.html' ? 'en' : undefined,
          }),
        ]),
      ),
    };
    // A deploy in progress has already replaced this file; the manifest still describes the old one.
    await put(root, 'replaced.css', 'new bytes, longer than the old');
    manifest.files['replaced.css'] = entry(Buffer.from('old'), { contentType: 'text/x-old' });
    await deploy(root, RELEASE_1, manifest);
    server = await startServer({ dir: root, host: '127.0.0.1', port: 0, logger: silent });
  });

  after(async () => {
    await server.close();
    await rm(parent, { recursive: true, force: true });
  });

  test('serves the index document at / and in folders, and redirects a folder without its slash', async () => {
    const home = await send(server, '/');
    assert.equal(home.status, 200);
    assert.equal(home.body.toString(), '<h1>home</h1>');
    assert.equal(home.headers['content-type'], 'text/html; charset=utf-8');
    assert.equal(home.headers['cache-control'], 'max-age=60');
    assert.equal(home.headers['content-length'], String(files['index.html']!.length));
    assert.equal(home.headers['accept-ranges'], 'bytes');
    assert.ok(home.headers['last-modified']);

    const sub = await send(server, '/sub/?x=1');
    assert.equal(sub.status, 200);
    assert.equal(sub.body.toString(), '<h1>sub</h1>');

    const redirect = await send(server, '/sub?x=1&y=2');
    assert.equal(redirect.status, 302);
    assert.equal(redirect.headers.location, '/sub/?x=1&y=2');
    assert.equal((await send(server, '/sub')).headers.location, '/sub/');
  });

  test('answers a missing key with the error document and status 404', async () => {
    for (const path of ['/nope.html', '/sub/nope/', '/a//b', '/.outlast-fs/meta/index.html.json']) {
      const answer = await send(server, path);
      assert.equal(answer.status, 404, path);
      assert.equal(answer.body.toString(), '<h1>not here</h1>', path);
      assert.equal(answer.headers['content-type'], 'text/html; charset=utf-8');
      assert.equal(answer.headers['content-language'], 'en');
      assert.equal(answer.headers['content-length'], String(files['404.html']!.length));
    }
    const head = await send(server, '/nope.html', { method: 'HEAD' });
    assert.equal(head.status, 404);
    assert.equal(head.body.length, 0);
    assert.equal(head.headers['content-length'], String(files['404.html']!.length));
  });

  test("uses the manifest's headers and ETag, and guesses for files it does not name", async () => {
    const css = await send(server, '/style.css?v=3');
    assert.equal(css.status, 200);
    assert.equal(css.headers['content-type'], 'text/x-custom-css');
    assert.equal(css.headers['cache-control'], 'max-age=3600');
    assert.equal(css.headers.etag, `"${manifest.files['style.css']!.sha256}"`);

    const extra = await send(server, '/extra.json');
    assert.equal(extra.status, 200);
    assert.equal(extra.headers['content-type'], 'application/json');
    assert.equal(extra.headers['cache-control'], undefined);
    assert.match(String(extra.headers.etag), /^W\/"[0-9a-f]+-[0-9a-f]+"$/);

    const replaced = await send(server, '/replaced.css');
    assert.equal(replaced.headers['content-type'], 'text/css');
    assert.match(String(replaced.headers.etag), /^W\//);

    const beacon = await send(server, '/.well-known/outlast/release.json');
    assert.equal(beacon.status, 200);
    assert.equal(JSON.parse(beacon.body.toString()).release, RELEASE_1);
    assert.equal(beacon.headers['content-type'], 'application/json');
  });

  test('answers If-None-Match with 304 (lists, *, weak comparison)', async () => {
    const etag = String((await send(server, '/data.txt')).headers.etag);
    for (const ifNoneMatch of [etag, `"other", ${etag}`, '*', `W/${etag}`]) {
      const answer = await send(server, '/data.txt', { headers: { 'if-none-match': ifNoneMatch } });
      assert.equal(answer.status, 304, ifNoneMatch);
      assert.equal(answer.headers.etag, etag);
      assert.equal(answer.body.length, 0);
    }
    const changed = await send(server, '/data.txt', { headers: { 'if-none-match': '"other"' } });
    assert.equal(changed.status, 200);

    const weak = String((await send(server, '/extra.json')).headers.etag);
    const weakAnswer = await send(server, '/extra.json', { headers: { 'if-none-match': weak } });
    assert.equal(weakAnswer.status, 304);
  });

  test('serves one byte range with 206, the whole object for several, 416 when unsatisfiable', async () => {
    const part = await send(server, '/data.txt', { headers: { range: 'bytes=2-5' } });
    assert.equal(part.status, 206);
    assert.equal(part.body.toString(), '2345');
    assert.equal(part.headers['content-range'], 'bytes 2-5/20');
    assert.equal(part.headers['content-length'], '4');

    const suffix = await send(server, '/data.txt', { headers: { range: 'bytes=-3' } });
    assert.equal(suffix.status, 206);
    assert.equal(suffix.body.toString(), 'hij');
    assert.equal(suffix.headers['content-range'], 'bytes 17-19/20');

    const open = await send(server, '/data.txt', { headers: { range: 'bytes=15-' } });
    assert.equal(open.body.toString(), 'fghij');

    const several = await send(server, '/data.txt', { headers: { range: 'bytes=0-1,5-6' } });
    assert.equal(several.status, 200);
    assert.equal(several.body.toString(), '0123456789abcdefghij');

    const beyond = await send(server, '/data.txt', { headers: { range: 'bytes=20-30' } });
    assert.equal(beyond.status, 416);
    assert.equal(beyond.headers['content-range'], 'bytes */20');

    const staleIfRange = await send(server, '/data.txt', {
      headers: { range: 'bytes=0-1', 'if-range': '"stale"' },
    });
    assert.equal(staleIfRange.status, 200);
  });

  test('HEAD has the headers of GET and no body; other methods get 405', async () => {
    const get = await send(server, '/style.css');
    const head = await send(server, '/style.css', { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.body.length, 0);
    for (const name of ['content-length', 'content-type', 'etag', 'cache-control', 'last-modified']) {
      assert.equal(head.headers[name], get.headers[name], name);
    }
    const post = await send(server, '/style.css', { method: 'POST' });
    assert.equal(post.status, 405);
    assert.equal(post.headers.allow, 'GET, HEAD');
  });

  test('decodes odd keys as S3 does: %20, %23, %3F, %25, a literal +, UTF-8', async () => {
    for (const key of ODD_KEYS) {
      const answer = await send(server, urlPath(key));
      assert.equal(answer.status, 200, key);
      assert.equal(answer.body.toString(), `odd ${key}`);
    }
    assert.equal((await send(server, '/odd/a%2Bb.txt')).status, 200);
    // `+` is not a space in a path.
    assert.equal((await send(server, '/odd/a+b.txt')).body.toString(), 'odd odd/a+b.txt');
    assert.equal((await send(server, '/odd%2Fa%20b.txt')).status, 200);
    assert.equal((await send(server, '/odd/100%.txt')).status, 400);
    assert.equal((await send(server, '/odd/%ff.txt')).status, 400);
  });

  test('never serves anything outside the folder or in the private folder', async () => {
    for (const path of [
      '/../secret.txt',
      '/%2e%2e/secret.txt',
      '/%2E%2E%2Fsecret.txt',
      '/a/../../secret.txt',
      '/sub/..%2f..%2fsecret.txt',
      '/./index.html',
      '/x%00.txt',
    ]) {
      const answer = await send(server, path);
      assert.ok(answer.status === 400 || answer.status === 404, `${path}: ${answer.status}`);
      assert.ok(!answer.body.toString().includes('top secret'), path);
    }
    const privateFile = await send(server, '/.outlast-fs/meta/index.html.json');
    assert.equal(privateFile.status, 404);
    assert.ok(!privateFile.body.toString().includes('private'));
    assert.equal((await send(server, '/.outlast-fs/')).status, 404);
  });

  test('picks up a new release when the beacon changes, without a restart', async () => {
    const before = await send(server, '/style.css');
    assert.equal(before.headers['content-type'], 'text/x-custom-css');
    const next = structuredClone(manifest);
    next.site.errorDocument = undefined;
    next.files['style.css']!.headers = { contentType: 'text/css; charset=utf-8', cacheControl: 'no-store' };
    await deploy(root, RELEASE_2, next);

    const after = await send(server, '/style.css');
    assert.equal(after.headers['content-type'], 'text/css; charset=utf-8');
    assert.equal(after.headers['cache-control'], 'no-store');
    const missing = await send(server, '/nope.html');
    assert.equal(missing.status, 404);
    assert.equal(missing.body.toString(), '404 Not Found\n');

    await deploy(root, RELEASE_1, manifest);
    assert.equal((await send(server, '/style.css')).headers['content-type'], 'text/x-custom-css');
  });

  test('during a deploy, trusts an entry of either release only when the file matches it', async () => {
    const live = await put(root, 'moving.css', 'a{}');
    const next = structuredClone(manifest);
    manifest.files['moving.css'] = entry(live, { contentType: 'text/x-live' });
    await deploy(root, RELEASE_1, manifest);
    assert.equal(
      (await send(server, '/moving.css')).headers.etag,
      `"${manifest.files['moving.css']!.sha256}"`,
    );

    // The deploy writes release 2's manifest and marks the beacon, then replaces files.
    const incoming = await put(root, 'moving.css', 'b{color:red}');
    next.files['moving.css'] = entry(incoming, { contentType: 'text/x-incoming' });
    next.files['same-size.css'] = entry(Buffer.from('new'), { contentType: 'text/x-incoming' });
    manifest.files['same-size.css'] = entry(Buffer.from('old'), { contentType: 'text/x-live' });
    await put(root, `.well-known/outlast/releases/${RELEASE_2}.json`, JSON.stringify(next));
    await put(root, 'same-size.css', 'new');
    await deploy(root, RELEASE_1, manifest, RELEASE_2);

    const moved = await send(server, '/moving.css');
    assert.equal(moved.headers['content-type'], 'text/x-incoming');
    assert.equal(moved.headers.etag, `"${next.files['moving.css']!.sha256}"`);
    const ambiguous = await send(server, '/same-size.css');
    assert.equal(ambiguous.body.toString(), 'new');
    assert.equal(ambiguous.headers['content-type'], 'text/x-live');
    assert.match(String(ambiguous.headers.etag), /^W\//);

    delete manifest.files['moving.css'];
    delete manifest.files['same-size.css'];
    await deploy(root, RELEASE_1, manifest);
  });

  test('finishes a download on the old bytes when a deploy replaces the file mid-request', async () => {
    const big = await put(root, 'big.bin', Buffer.alloc(8 * 1024 * 1024, 7));
    const body = await new Promise<Buffer>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: server.port, path: '/big.bin', agent: false }, (res) => {
        const chunks: Buffer[] = [];
        res.pause();
        // The fs driver replaces by rename: the open descriptor keeps the old file.
        put(root, '.outlast-fs/tmp/big', 'new')
          .then(() => rename(join(root, '.outlast-fs', 'tmp', 'big'), join(root, 'big.bin')))
          .then(() => {
            res.on('data', (chunk: Buffer) => chunks.push(chunk));
            res.on('end', () => resolve(Buffer.concat(chunks)));
            res.resume();
          }, reject);
      });
      req.on('error', reject);
      req.end();
    });
    assert.equal(body.length, big.length);
    assert.equal((await send(server, '/big.bin')).body.toString(), 'new');
  });
});

describe('outlast serve with nothing deployed', () => {
  let root: string;
  let server: RunningServer;

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'outlast-serve-empty-'));
    await put(root, 'site/home.htm', '<p>hi</p>');
    await put(root, 'site/docs/home.htm', '<p>docs</p>');
    await put(root, 'site/oops.htm', '<p>oops</p>');
    await put(root, 'site/app.js', 'let a;');
    await put(root, 'outside-prefix.txt', 'not in the prefix');
    server = await startServer({
      dir: root,
      host: '127.0.0.1',
      port: 0,
      prefix: 'site',
      indexDocument: 'home.htm',
      errorDocument: 'oops.htm',
      logger: silent,
    });
  });

  after(async () => {
    await server.close();
    await rm(root, { recursive: true, force: true });
  });

  test('serves every file under the prefix with guessed types and weak ETags', async () => {
    assert.equal(server.url, `http://127.0.0.1:${server.port}`);
    const home = await send(server, '/');
    assert.equal(home.status, 200);
    assert.equal(home.body.toString(), '<p>hi</p>');
    assert.equal(home.headers['content-type'], 'text/html');
    const js = await send(server, '/app.js');
    assert.equal(js.headers['content-type'], 'text/javascript');
    assert.match(String(js.headers.etag), /^W\//);
    assert.equal((await send(server, '/docs')).headers.location, '/docs/');
    assert.equal((await send(server, '/docs/')).body.toString(), '<p>docs</p>');
    const missing = await send(server, '/outside-prefix.txt');
    assert.equal(missing.status, 404);
    assert.equal(missing.body.toString(), '<p>oops</p>');
  });

  test('refuses a prefix that is not a key', async () => {
    await assert.rejects(
      startServer({ dir: root, host: '127.0.0.1', port: 0, prefix: '../up/', logger: silent }),
      { name: 'OutlastError', code: 'invalid_argument' },
    );
  });

  test('closes promptly with a keep-alive connection open', async () => {
    const other = await startServer({ dir: root, host: '127.0.0.1', port: 0, logger: silent });
    const answer = await fetch(`${other.url}/site/app.js`);
    assert.equal(await answer.text(), 'let a;');
    await other.close();
    await other.close();
  });
});

test('describeObject: files of deploys interrupted before the one in progress are candidates too', () => {
  const at = (sha: string, size: number, contentType: string): ManifestEntry => ({
    sha256: sha.padEnd(64, '0'),
    size,
    headers: { contentType },
  });
  const release = {
    id: 'r1',
    indexDocument: 'index.html',
    errorDocument: undefined,
    files: new Map([['a.css', at('1', 3, 'text/x-live')]]),
    incoming: new Map([['a.css', at('2', 9, 'text/x-incoming')]]),
    interrupted: [new Map([['a.css', at('3', 5, 'text/x-interrupted')]])],
  };
  // A file of 5 bytes is the interrupted deploy's: its headers, its sha256.
  assert.deepEqual(describeObject(release, 'a.css', 5), {
    headers: { contentType: 'text/x-interrupted' },
    sha256: '3'.padEnd(64, '0'),
  });
  assert.equal(describeObject({ ...release, interrupted: [] }, 'a.css', 5), undefined);
  // The live size with other bytes in an interrupted release: not sure which, so no sha256.
  const ambiguous = { ...release, interrupted: [new Map([['a.css', at('4', 3, 'text/x-interrupted')]])] };
  assert.equal(describeObject(ambiguous, 'a.css', 3)?.sha256, undefined);
});

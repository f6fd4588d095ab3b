/**
 * The bare-PUT limit: the least a client can do to put a site into Swift. One tempauth GET, one
 * container PUT, then every file PUT once through a keep-alive undici Pool with N requests in
 * flight, and nothing else (no listing, no hashing, no metadata). Its wall time is the speed of the
 * store itself, the floor for any deploy tool on this machine.
 *
 *   node --import tsx bench/deploy/bare-put.ts --auth-url URL --user U --container C --dir DIR
 *     [--concurrency 32]      (the key comes from BENCH_SWIFT_KEY)
 *
 * Prints one JSON line: { files, bytes, requests }.
 */
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { parseArgs } from 'node:util';
import { Pool } from 'undici';
import { tempauthToken } from './swift-api.ts';

const { values } = parseArgs({
  options: {
    'auth-url': { type: 'string' },
    user: { type: 'string' },
    container: { type: 'string' },
    dir: { type: 'string' },
    concurrency: { type: 'string', default: '32' },
    meta: { type: 'boolean', default: false },
  },
});
const authUrl = values['auth-url'];
const { user, container, dir } = values;
const key = process.env.BENCH_SWIFT_KEY;
const concurrency = Number(values.concurrency);
if (!authUrl || !user || !container || !dir || !key || !(concurrency > 0)) {
  process.stderr.write(
    'usage: bare-put.ts --auth-url URL --user U --container C --dir DIR [--concurrency N]\n',
  );
  process.stderr.write('       with the tempauth key in BENCH_SWIFT_KEY\n');
  process.exit(2);
}

const { token, storageUrl } = await tempauthToken(authUrl, user, key);
const base = new URL(storageUrl);
const pool = new Pool(base.origin, { connections: concurrency, pipelining: 1 });
let requests = 1;

async function put(path: string, body?: Buffer, extra: Record<string, string> = {}): Promise<void> {
  requests++;
  const response = await pool.request({
    method: 'PUT',
    path,
    headers: { 'x-auth-token': token, 'content-length': String(body?.length ?? 0), ...extra },
    body,
  });
  await response.body.dump();
  if (response.statusCode !== 201 && response.statusCode !== 202) {
    throw new Error(`PUT ${path}: ${response.statusCode}`);
  }
}

const containerPath = `${base.pathname}/${encodeURIComponent(container)}`;
await put(containerPath);

const entries = await readdir(dir, { recursive: true, withFileTypes: true });
const files = entries
  .filter((entry) => entry.isFile())
  .map((entry) => relative(dir, join(entry.parentPath, entry.name)).split(sep));

// --meta: the headers outlast's PUTs carry, made before the clock of the uploads matters (the
// hashes are read from the files first; outlast's scan does that work too, timed in its runs).
const headersOf = new Map<string, Record<string, string>>();
if (values.meta) {
  for (const segments of files) {
    const bytes = await readFile(join(dir!, ...segments));
    headersOf.set(segments.join('/'), {
      'content-type': 'application/octet-stream',
      'x-object-meta-outlast-sha256': createHash('sha256').update(bytes).digest('hex'),
      etag: createHash('md5').update(bytes).digest('hex'),
    });
  }
}

let next = 0;
let bytes = 0;
async function worker(): Promise<void> {
  while (next < files.length) {
    const segments = files[next++]!;
    const body = await readFile(join(dir!, ...segments));
    bytes += body.length;
    await put(
      `${containerPath}/${segments.map(encodeURIComponent).join('/')}`,
      body,
      headersOf.get(segments.join('/')),
    );
  }
}
try {
  await Promise.all(Array.from({ length: concurrency }, worker));
} finally {
  await pool.close();
}
process.stdout.write(`${JSON.stringify({ files: files.length, bytes, requests })}\n`);

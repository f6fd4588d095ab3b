/**
 * The bare S3 PUT: bare-put.ts through the cluster's S3 API (s3api) instead of its native one. One
 * bucket PUT (path style), then every file PUT once through a keep-alive undici Pool with N
 * requests in flight, each signed with SigV4 and an unsigned payload (`UNSIGNED-PAYLOAD`: the
 * client hashes nothing), and nothing else. Against bare-put.ts on the same cluster it is the
 * store's own cost of its S3 layer (s3api, SigV4 checked on the server); against `outlast-s3` the
 * client's share of an S3 deploy.
 *
 *   node --import tsx bench/deploy/bare-s3-put.ts --endpoint URL --bucket B --dir DIR
 *     [--concurrency 32] [--region us-east-1]
 *   (the keys come from BENCH_S3_ACCESS_KEY_ID and BENCH_S3_SECRET_ACCESS_KEY)
 *
 * Prints one JSON line: { files, bytes, requests }.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { parseArgs } from 'node:util';
import { Sha256 } from '@smithy/core/checksum';
import { SignatureV4 } from '@smithy/signature-v4';
import { Pool } from 'undici';
import { S3_KEY_VAR, S3_SECRET_VAR } from './target.ts';

const { values } = parseArgs({
  options: {
    endpoint: { type: 'string' },
    bucket: { type: 'string' },
    dir: { type: 'string' },
    concurrency: { type: 'string', default: '32' },
    region: { type: 'string', default: 'us-east-1' },
  },
});
const { endpoint, bucket, dir, region } = values;
const accessKeyId = process.env[S3_KEY_VAR];
const secretAccessKey = process.env[S3_SECRET_VAR];
const concurrency = Number(values.concurrency);
if (!endpoint || !bucket || !dir || !accessKeyId || !secretAccessKey || !(concurrency > 0)) {
  process.stderr.write(
    'usage: bare-s3-put.ts --endpoint URL --bucket B --dir DIR [--concurrency N] [--region R]\n',
  );
  process.stderr.write(`       with the keys in ${S3_KEY_VAR} and ${S3_SECRET_VAR}\n`);
  process.exit(2);
}

const base = new URL(endpoint);
const pool = new Pool(base.origin, { connections: concurrency, pipelining: 1 });
// @smithy/core/checksum's Sha256 is @smithy/hash-node's Hash('sha256') in this SDK (node:crypto).
// The paths are escaped once here, as S3 wants them signed (no second escape by the signer).
const signer = new SignatureV4({
  credentials: { accessKeyId, secretAccessKey },
  region: region!,
  service: 's3',
  sha256: Sha256,
  uriEscapePath: false,
  applyChecksum: false,
});
const prefix = base.pathname.replace(/\/+$/, '');
let requests = 0;

/** A signed PUT; `ok` are the statuses taken as success. */
async function put(path: string, body: Buffer | undefined, ok: number[]): Promise<void> {
  requests++;
  const signed = await signer.sign({
    method: 'PUT',
    protocol: base.protocol,
    hostname: base.hostname,
    port: base.port ? Number(base.port) : undefined,
    path,
    query: {},
    headers: {
      host: base.host,
      'content-length': String(body?.length ?? 0),
      'x-amz-content-sha256': 'UNSIGNED-PAYLOAD',
    },
  });
  const response = await pool.request({
    method: 'PUT',
    path,
    headers: signed.headers,
    body,
  });
  if (ok.includes(response.statusCode)) {
    await response.body.dump();
    return;
  }
  const text = await response.body.text();
  // A bucket of ours that exists already (s3api's answer to a second PUT of it) is fine.
  if (response.statusCode === 409 && text.includes('BucketAlreadyOwnedByYou')) return;
  throw new Error(`PUT ${path}: ${response.statusCode} ${text.slice(0, 300)}`);
}

/** SigV4's escape of a path segment: everything but A–Z a–z 0–9 - _ . ~ */
const escapeSegment = (segment: string) =>
  encodeURIComponent(segment).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

const bucketPath = `${prefix}/${escapeSegment(bucket)}`;
await put(bucketPath, undefined, [200]);

const entries = await readdir(dir, { recursive: true, withFileTypes: true });
const files = entries
  .filter((entry) => entry.isFile())
  .map((entry) => relative(dir, join(entry.parentPath, entry.name)).split(sep));

let next = 0;
let bytes = 0;
async function worker(): Promise<void> {
  while (next < files.length) {
    const segments = files[next++]!;
    const body = await readFile(join(dir!, ...segments));
    bytes += body.length;
    await put(`${bucketPath}/${segments.map(escapeSegment).join('/')}`, body, [200]);
  }
}
try {
  await Promise.all(Array.from({ length: concurrency }, worker));
} finally {
  await pool.close();
}
process.stdout.write(`${JSON.stringify({ files: files.length, bytes, requests })}\n`);

/**
 * Deploys under faults (issue 14): `outlast deploy` to Swift through its S3 API (cluster A) and
 * through its native API (cluster B), each behind its own fault proxy (test/helpers/fault-proxy.ts)
 * failing 10 % of requests in every way it knows, plus an fs origin beside them, for RUNS seeded
 * runs over site versions that add, change and remove files. After every run, read straight from
 * the stores (no proxy):
 * - the outcome is honest: exit 0 and every origin ok, or exit 1 with the failing origin named
 *   and a message saying why (and the fs origin, never faulted, always ok);
 * - every origin is truthful: its beacon names no release whose files are not all in place, and
 *   every kept release can be restored;
 * - an origin that succeeded has converged: exactly the kept releases' objects, every local file
 *   byte for byte, and `plan --verify` (a full listing with stored sha256s) finds nothing to do;
 * - no delete was sent before the deploy's commit (the beacon of the new release) on that
 *   origin: a deploy that fails before its commit deletes nothing;
 * - failed runs are followed by more faulted ones (up to three in a row), then a deploy without
 *   faults converges.
 * The figures (runs, faults by kind, retries, outcomes) are printed at the end.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { loadConfig } from '../../src/config/load.ts';
import { runDeploy } from '../../src/deploy/engine.ts';
import { createStore, type Store } from '../../src/storage/index.ts';
import { FaultProxy, prng } from '../helpers/fault-proxy.ts';
import { checkConverged, checkTruthful, fsOriginView, type OriginView } from '../helpers/kill.ts';
import { tempDir } from '../helpers/site.ts';
import { type SwiftCluster, swiftClustersForTests } from '../servers/swift.ts';

const BIN = fileURLToPath(new URL('../../bin/outlast.js', import.meta.url));
const RUNS = Number(process.env.OUTLAST_TEST_FAULT_RUNS ?? 30);
const RATE = Number(process.env.OUTLAST_TEST_FAULT_RATE ?? 0.1);
const SEED = Number(process.env.OUTLAST_TEST_SEED ?? 14);
const FILES = 40;
const VERSIONS = 4;

const root = tempDir('deploy-faults');
const bucket = `faults-${randomBytes(4).toString('hex')}`;
const container = `faults-${randomBytes(4).toString('hex')}`;
const fsOrigin = join(root, 'fs-origin');
let a: SwiftCluster;
let b: SwiftCluster;
let s3Proxy: FaultProxy;
let swiftProxy: FaultProxy;
const stores: Store[] = [];
const views = new Map<string, OriginView>();
const env = { CI: '1', FAULTS_S3_KEY: '', FAULTS_S3_SECRET: '', FAULTS_SWIFT_KEY: '' };

/** Site version `v` in its own folder: a few files absent, a third changed, pages naming assets. */
function writeSite(v: number): string {
  const dir = join(root, `site-${v}`);
  rmSync(dir, { recursive: true, force: true });
  for (let i = 0; i < FILES; i++) {
    if ((i + v) % 5 === 0) continue;
    const changed = i % 3 === v % 3;
    const name = i % 4 === 0 ? `pages/p${i}.html` : `assets/a${i}.${i % 2 ? 'css' : 'js'}`;
    const body = `${name} ${changed ? `v${v}` : 'stable'} ${'x'.repeat(300 + ((i * 977) % 20_000))}`;
    mkdirSync(join(dir, name.split('/')[0]!), { recursive: true });
    writeFileSync(join(dir, name), body);
  }
  writeFileSync(join(dir, 'index.html'), `<h1>version ${v}</h1>`);
  return dir;
}

function writeConfig(name: string, siteDir: string, viaProxies: boolean): string {
  const file = join(root, name);
  const auth = new URL(b.authUrl);
  writeFileSync(
    file,
    stringify({
      site: { dir: siteDir, hostname: 'www.example.test', keepReleases: 2 },
      deploy: { attempts: 5 },
      watch: { stateDir: join(root, 'state') },
      origins: [
        {
          id: 'swift-s3',
          storage: {
            type: 's3',
            bucket,
            endpoint: viaProxies ? s3Proxy.url : a.s3Endpoint,
            region: a.s3Region,
            forcePathStyle: true,
            credentials: { accessKeyId: '${FAULTS_S3_KEY}', secretAccessKey: '${FAULTS_S3_SECRET}' },
          },
        },
        {
          id: 'swift-native',
          storage: {
            type: 'swift',
            container,
            auth: {
              type: 'tempauth',
              url: viaProxies ? `${swiftProxy.url}${auth.pathname}` : b.authUrl,
              user: b.user,
              key: '${FAULTS_SWIFT_KEY}',
            },
          },
        },
        { id: 'fs', storage: { type: 'fs', path: fsOrigin } },
      ],
    }),
  );
  return file;
}

interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Asynchronously: the fault proxies live in this process and must go on answering. */
function outlast(args: string[]): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
    });
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** An origin read through the product's own store, past the proxies: bytes hashed here (each
 * object once per ETag: an ETag is the MD5 of a whole-object put, so equal ETags, equal bytes). */
function storeView(store: Store): OriginView {
  const hashed = new Map<string, string>();
  return {
    read: async (key) => {
      const bytes = await store.getBytes(key);
      return bytes ? Buffer.from(bytes) : undefined;
    },
    contents: async () => {
      const contents = new Map<string, string>();
      for (const info of await store.listAll()) {
        const id = `${info.key}\0${info.etag}\0${info.size}`;
        let sha = info.etag ? hashed.get(id) : undefined;
        if (sha === undefined) {
          const bytes = await store.getBytes(info.key);
          if (!bytes) continue;
          sha = createHash('sha256').update(bytes).digest('hex');
          hashed.set(id, sha);
        }
        contents.set(info.key, sha);
      }
      return contents;
    },
  };
}

/** Requests that delete objects: S3's DELETE and DeleteObjects, Swift's DELETE and bulk delete. */
function isDelete(record: { method: string; path: string }): boolean {
  return (
    record.method === 'DELETE' || (record.method === 'POST' && /[?&](delete|bulk-delete)\b/.test(record.path))
  );
}

before(async () => {
  ({ a, b } = await swiftClustersForTests());
  env.FAULTS_S3_KEY = a.s3AccessKeyId;
  env.FAULTS_S3_SECRET = a.s3SecretAccessKey;
  env.FAULTS_SWIFT_KEY = b.key;
  // The checks load the same configs in this process.
  Object.assign(process.env, env);
  s3Proxy = new FaultProxy({ target: { host: a.ip, port: a.port }, seed: SEED });
  swiftProxy = new FaultProxy({ target: { host: b.ip, port: b.port }, seed: SEED + 1 });
  await Promise.all([s3Proxy.start(), swiftProxy.start()]);
  const plain = writeConfig('plain.yaml', writeSite(0), false);
  const setup = await outlast(['setup', '--create', '--config', plain]);
  assert.equal(setup.code, 0, setup.stdout + setup.stderr);
  // The checks read with the product's store, straight from the clusters.
  const { config } = await loadConfig(plain);
  for (const origin of config.origins) {
    if (origin.storage.type === 'fs') {
      views.set(origin.id, fsOriginView(fsOrigin));
      continue;
    }
    const store = await createStore(origin, { attempts: 5 });
    stores.push(store);
    views.set(origin.id, storeView(store));
  }
});

after(async () => {
  await Promise.all(stores.map((store) => store.close()));
  await Promise.all([s3Proxy?.stop(), swiftProxy?.stop()]);
  rmSync(root, { recursive: true, force: true });
});

interface OriginJson {
  id: string;
  ok: boolean;
  release: string | null;
  retries: number;
  error: { code: string; message: string } | null;
}

test(`deploys with ${RATE * 100} % of requests faulted, ${RUNS} seeded runs (seed ${SEED}): honest, truthful, converging`, async () => {
  const random = prng(SEED);
  const started = Date.now();
  let deployMs = 0;
  let failedInARow = 0;
  const figures = {
    runs: 0,
    ok: 0,
    failedOrigins: 0,
    retries: 0,
    recoveries: 0,
    faults: {} as Record<string, number>,
  };
  for (let run = 0; run < RUNS; run++) {
    const version = Math.floor(random() * VERSIONS);
    const siteDir = writeSite(version);
    const proxied = writeConfig('proxied.yaml', siteDir, true);
    const plain = writeConfig('plain.yaml', siteDir, false);
    const from = { 'swift-s3': s3Proxy.log.length, 'swift-native': swiftProxy.log.length };
    for (const proxy of [s3Proxy, swiftProxy]) proxy.setRate(RATE);
    const deployStart = Date.now();
    const deploy = await outlast(['deploy', '--json', '--no-progress', '--config', proxied]);
    deployMs += Date.now() - deployStart;
    for (const proxy of [s3Proxy, swiftProxy]) proxy.setRate(0);
    const label = `run ${run} (version ${version})`;
    figures.runs++;

    // An honest outcome.
    assert.ok(deploy.code === 0 || deploy.code === 1, `${label}: exit ${deploy.code}: ${deploy.stderr}`);
    let report: { release: string; origins: OriginJson[] };
    try {
      report = JSON.parse(deploy.stdout);
    } catch {
      assert.fail(
        `${label}: deploy --json printed no report (exit ${deploy.code}): ${deploy.stdout}${deploy.stderr}`,
      );
    }
    const failed = report.origins.filter((origin) => !origin.ok);
    assert.equal(deploy.code, failed.length === 0 ? 0 : 1, `${label}: exit code vs origins`);
    assert.ok(
      report.origins.find((origin) => origin.id === 'fs')?.ok,
      `${label}: the fs origin is never faulted`,
    );
    for (const origin of failed) {
      assert.ok(
        origin.error && origin.error.message.length > 10,
        `${label}: ${origin.id} failed without a cause`,
      );
      assert.ok(
        deploy.stderr.includes(origin.id) || origin.error.message.includes(origin.id),
        `${label}: ${origin.id} named`,
      );
    }
    figures.ok += deploy.code === 0 ? 1 : 0;
    figures.failedOrigins += failed.length;
    figures.retries += report.origins.reduce((sum, origin) => sum + origin.retries, 0);

    for (const [id, proxy] of [
      ['swift-s3', s3Proxy],
      ['swift-native', swiftProxy],
    ] as const) {
      const records = proxy.log.slice(from[id]);
      for (const record of records) {
        if (record.fault !== 'none') figures.faults[record.fault] = (figures.faults[record.fault] ?? 0) + 1;
      }
      const view = views.get(id)!;
      const live = await checkTruthful(view, `${label} ${id}`);
      // A delete goes out only after the commit: then the beacon names the new release.
      if (records.some(isDelete)) {
        assert.equal(
          live,
          report.release,
          `${label} ${id}: deletes were sent, yet the release was not committed`,
        );
      }
      const outcome = report.origins.find((origin) => origin.id === id)!;
      if (outcome.ok) await checkConverged(view, `${label} ${id}`, report.release, siteDir);
    }
    await checkConverged(views.get('fs')!, `${label} fs`, report.release, siteDir);

    if (deploy.code === 0) {
      failedInARow = 0;
      // The listing with stored checksums agrees: nothing to upload, nothing to delete.
      const { config } = await loadConfig(plain);
      const verify = await runDeploy({ config, dryRun: true, verify: true, cacheDir: null });
      for (const origin of verify.origins) {
        assert.equal(
          origin.error,
          undefined,
          `${label} ${origin.originId}: verify failed: ${origin.error?.message}`,
        );
        assert.deepEqual(
          { uploads: origin.plan!.uploads.map((u) => u.key), deletes: origin.plan!.deletes },
          { uploads: [], deletes: [] },
          `${label} ${origin.originId}: deploy said ok but a listing disagrees`,
        );
      }
    } else {
      failedInARow++;
    }
    // A failed run is followed by more faulted ones (deploys interrupted in a row are where
    // objects used to be forgotten); after the third in a row, and after the last run, a deploy
    // without faults must converge.
    if (failedInARow >= 3 || (run === RUNS - 1 && failedInARow > 0)) {
      const again = await outlast(['deploy', '--json', '--no-progress', '--config', plain]);
      assert.equal(
        again.code,
        0,
        `${label}: the deploy after the faults failed: ${again.stdout} ${again.stderr}`,
      );
      for (const id of ['swift-s3', 'swift-native', 'fs']) {
        await checkConverged(views.get(id)!, `${label} ${id} after a clean deploy`, report.release, siteDir);
      }
      figures.recoveries++;
      failedInARow = 0;
    }
  }
  console.log(
    `deploy-faults figures (seed ${SEED}, rate ${RATE}): ${JSON.stringify(figures)}; faulted deploys ${(deployMs / 1000).toFixed(0)} s of ${((Date.now() - started) / 1000).toFixed(0)} s`,
  );
  assert.ok(
    Object.keys(figures.faults).length >= 6,
    `most kinds of fault drawn: ${JSON.stringify(figures.faults)}`,
  );
});

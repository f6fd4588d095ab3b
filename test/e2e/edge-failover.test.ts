/**
 * `outlast edge` in front of real origins, under faults (issue 17, item 7): a Swift cluster of
 * this test's own (X, 127.0.0.4), a directory origin served by an `outlast serve` child (D), and
 * the shared Swift cluster B, in that order. The edge's cache is kept too small to hold the site,
 * so requests keep going to the origins. Clients fetch continuously and check every body against
 * the files of the release the answer names:
 *
 * 1. X's proxy is killed (SIGKILL) while it serves: no request fails, D takes over;
 * 2. D is frozen (SIGSTOP) while it serves: no request fails, B takes over (after the first-byte
 *    timeout), then D is thawed;
 * 3. a deploy half-way on D (the next release's bytes under the keys, its beacon still on the
 *    old one) while B still serves the old release: every answer is the old release whole; then B
 *    commits the new release and every answer after is the new one whole, never the old again.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Agent, request } from 'undici';
import { stringify } from 'yaml';
import { loadConfig } from '../../src/config/load.ts';
import { type RunningEdge, startEdge } from '../../src/edge/edge.ts';
import { eventually } from '../helpers/eventually.ts';
import { freePort } from '../helpers/ports.ts';
import {
  removeContainer,
  type SwiftCluster,
  startSwiftClusterOnFreePort,
  swiftClustersForTests,
} from '../servers/swift.ts';

const BIN = fileURLToPath(new URL('../../bin/outlast.js', import.meta.url));
const PAGES = 20;
const ASSETS = 60;
const WORKERS = 4;
const sha256 = (bytes: Uint8Array | string) => createHash('sha256').update(bytes).digest('hex');

/** The site at version `v`: pages and assets of 10–40 KB, every one different in each version. */
function siteFiles(v: number): Record<string, Buffer> {
  const files: Record<string, Buffer> = {};
  for (let i = 0; i < PAGES; i++)
    files[`p${i}.html`] = Buffer.from(`<h1>page ${i} v${v}</h1>\n${'.'.repeat(10_000 + i * 700)}`);
  for (let i = 0; i < ASSETS; i++)
    files[`assets/a${i}.js`] = Buffer.from(`// a${i} v${v}\n${'x'.repeat(12_000 + i * 450)}`);
  files['index.html'] = Buffer.from(`<h1>home v${v}</h1>\n`);
  return files;
}

function writeFiles(dir: string, files: Record<string, Buffer>): void {
  for (const [key, bytes] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, key)), { recursive: true });
    writeFileSync(join(dir, key), bytes);
  }
}

function outlast(args: string[]): string {
  const result = spawnSync(process.execPath, [BIN, ...args], {
    encoding: 'utf8',
    env: { ...process.env, CI: '1' },
  });
  assert.equal(result.status, 0, `outlast ${args.join(' ')}:\n${result.stdout}${result.stderr}`);
  return result.stdout;
}

/** The PID of one server of a cluster, from its run/pids. */
function serverPid(cluster: SwiftCluster, name: string): number {
  const line = readFileSync(join(cluster.dataDir, 'run', 'pids'), 'utf8')
    .split('\n')
    .find((row) => row.split(' ')[1] === name);
  assert.ok(line, `no ${name} in ${cluster.dataDir}/run/pids`);
  return Number(line.split(' ')[0]);
}

interface Seen {
  total: number;
  failures: string[];
  bySource: Map<string, number>;
  releases: string[];
  /** Every 200: the release the answer named, the key, the body's sha256 (checked by `wrong`). */
  bodies: { release: string; key: string; sha256: string }[];
}

/** The answers whose body is not that key's file in the release they named. */
function wrong(seen: Seen, releases: Map<string, Map<string, string>>): string[] {
  return seen.bodies
    .filter((body) => releases.get(body.release)?.get(body.key) !== body.sha256)
    .map((body) => `${body.key}: not its bytes in ${body.release}`);
}

/** Workers that GET random paths through the edge until `stop`, noting every answer. */
function clients(base: string, keys: string[]) {
  const dispatcher = new Agent({ connections: WORKERS });
  const seen: Seen = { total: 0, failures: [], bySource: new Map(), releases: [], bodies: [] };
  let stopped = false;
  const worker = async (n: number) => {
    let last: string | undefined;
    while (!stopped) {
      const key = keys[Math.floor(Math.random() * keys.length)]!;
      try {
        const answer = await request(`${base}/${key}`, {
          dispatcher,
          headersTimeout: 30_000,
          bodyTimeout: 30_000,
        });
        const body = Buffer.from(await answer.body.arrayBuffer());
        const release = String(answer.headers['x-outlast-release']);
        const source = String(answer.headers['x-outlast-source']);
        seen.total += 1;
        seen.bySource.set(source, (seen.bySource.get(source) ?? 0) + 1);
        if (answer.statusCode !== 200)
          seen.failures.push(`${key}: status ${answer.statusCode} ${body.toString().slice(0, 120)}`);
        else seen.bodies.push({ release, key, sha256: sha256(body) });
        if (last !== release) {
          seen.releases.push(`${n}:${release}`);
          last = release;
        }
      } catch (error) {
        seen.failures.push(`${key}: ${String(error)}`);
      }
    }
  };
  const running = Promise.all(Array.from({ length: WORKERS }, (_, n) => worker(n)));
  return {
    seen,
    served: (source: string) => seen.bySource.get(source) ?? 0,
    async stop() {
      stopped = true;
      await running;
      await dispatcher.close();
    },
  };
}

describe('outlast edge over two Swift clusters and a directory, under faults', () => {
  const dir = mkdtempSync(join(tmpdir(), 'outlast-edge-faults-'));
  const container = `edge-${randomBytes(4).toString('hex')}`;
  const siteDir = join(dir, 'site');
  const originDir = join(dir, 'origin-d');
  let x: SwiftCluster;
  let b: SwiftCluster;
  let d: ChildProcess | undefined;
  let edge: RunningEdge;
  const releases = new Map<string, Map<string, string>>();
  let keys: string[];

  const config = (origins: string[]) => {
    const file = join(dir, `outlast-${origins.join('')}.yaml`);
    const swift = (cluster: SwiftCluster, id: string) => ({
      id,
      storage: {
        type: 'swift',
        container,
        // biome-ignore lint/suspicious/noTemplateCurlyInString: the config's own env reference
        auth: { type: 'tempauth', url: cluster.authUrl, user: cluster.user, key: '${EDGE_TEST_KEY}' },
      },
      url: `${cluster.storageUrl}/${container}`,
    });
    const all = {
      x: swift(x, 'x'),
      b: swift(b, 'b'),
      d: { id: 'd', storage: { type: 'fs', path: originDir }, url: `http://127.0.0.1:${dPort}` },
    };
    writeFileSync(
      file,
      stringify({
        site: { dir: siteDir, hostname: 'www.example.test' },
        origins: origins.map((id) => all[id as keyof typeof all]),
        failover: { order: origins },
        edge: {
          listen: '127.0.0.1:0',
          admin: '127.0.0.1:0',
          firstByteTimeout: '1s',
          idleTimeout: '2s',
          requestTimeout: '10s',
          releasePoll: '300ms',
          cooldown: '2s',
          accessLog: false,
          cache: { dir: join(dir, 'cache'), maxMegabytes: 1, memoryMegabytes: 0, warm: false },
        },
      }),
    );
    return file;
  };
  let dPort: number;

  const remember = (files: Record<string, Buffer>, release: string) =>
    releases.set(release, new Map(Object.entries(files).map(([key, bytes]) => [key, sha256(bytes)])));

  before(async () => {
    [x, { b }] = await Promise.all([startSwiftClusterOnFreePort('127.0.0.4', 8600), swiftClustersForTests()]);
    process.env.EDGE_TEST_KEY = x.key;
    assert.equal(b.key, x.key, 'both clusters use the same test key');
    dPort = await freePort();
    const v1 = siteFiles(1);
    writeFiles(siteDir, v1);
    keys = Object.keys(v1);
    const file = config(['x', 'd', 'b']);
    outlast(['setup', '--config', file, '--create']);
    outlast(['deploy', '--config', file]);
    d = spawn(process.execPath, [BIN, 'serve', '--dir', originDir, '--listen', `127.0.0.1:${dPort}`], {
      stdio: 'ignore',
    });
    const { config: loaded } = await loadConfig(file);
    edge = await startEdge({ config: loaded });
    const release = edge.status().release?.id;
    assert.ok(release, 'the edge knows the release');
    remember(v1, release);
    await eventually('every origin answers the edge', async () =>
      edge.status().origins.every((o) => o.release === release),
    );
  });

  after(async () => {
    await edge?.close();
    if (d?.pid !== undefined && d.exitCode === null) {
      process.kill(d.pid, 'SIGCONT');
      d.kill('SIGKILL');
    }
    await x?.stop();
    if (b) await removeContainer(b, container);
    rmSync(dir, { recursive: true, force: true });
  });

  test('the origin in use killed, then the next one frozen: no request fails', async () => {
    const load = clients(edge.urls[0]!, keys);
    try {
      await eventually('X serves', async () => load.served('x') >= 40, 60_000);
      process.kill(serverPid(x, 'proxy'), 'SIGKILL');
      const dBefore = load.served('d');
      await eventually('D serves in its place', async () => load.served('d') >= dBefore + 60, 60_000);
      assert.equal(edge.status().origins[0]!.state, 'skipped');

      process.kill(d!.pid!, 'SIGSTOP');
      const bBefore = load.served('b');
      await eventually('B serves while D is frozen', async () => load.served('b') >= bBefore + 60, 60_000);
      assert.equal(edge.status().origins[1]!.state, 'skipped');
      process.kill(d!.pid!, 'SIGCONT');
    } finally {
      await load.stop();
    }
    assert.deepEqual(
      load.seen.failures,
      [],
      `${load.seen.failures.length} of ${load.seen.total} requests failed`,
    );
    assert.deepEqual(wrong(load.seen, releases), []);
    assert.ok(edge.status().requests.failedOver > 0, 'some requests needed another origin');
  });

  test('a deploy half-way on one origin: every answer is one whole release', async () => {
    const [v1Release] = [...releases.keys()];
    await eventually('D is used again', async () => edge.status().origins[1]!.state === 'ok', 30_000);
    const v2 = siteFiles(2);
    // D half-way: the next release's bytes under every key, its beacon still on v1.
    writeFiles(originDir, v2);
    const load = clients(edge.urls[0]!, keys);
    try {
      await eventually('answers while D is half-way', async () => load.seen.total >= 150, 60_000);
      assert.match(
        await edge.metrics(),
        /outlast_edge_origin_attempts_total\{origin="d",outcome="mismatch"\} [1-9]/,
      );
      assert.ok(load.served('b') > 0, 'B supplied the v1 bytes D no longer holds');
      // B commits v2 (D's content stays as it is).
      writeFiles(siteDir, v2);
      outlast(['deploy', '--config', config(['b'])]);
      await eventually('the edge serves v2', async () => edge.status().release?.id !== v1Release, 30_000);
      remember(v2, edge.status().release!.id);
      const after = load.seen.total;
      await eventually('answers of v2', async () => load.seen.total >= after + 150, 60_000);
    } finally {
      await load.stop();
    }
    assert.deepEqual(
      load.seen.failures,
      [],
      `${load.seen.failures.length} of ${load.seen.total} requests failed`,
    );
    assert.deepEqual(wrong(load.seen, releases), [], "every answer is its release's bytes");
    const v2Release = [...releases.keys()][1]!;
    // Each client saw v1, then v2, and never v1 again.
    for (let n = 0; n < WORKERS; n++) {
      const own = load.seen.releases
        .filter((entry) => entry.startsWith(`${n}:`))
        .map((entry) => entry.slice(2));
      assert.deepEqual(own, [v1Release, v2Release].slice(0, own.length), `client ${n}: ${own.join(' → ')}`);
    }
  });
});

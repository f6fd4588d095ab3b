/**
 * Seeing a watcher cluster (issue 13, item 6): a real three-member etcd (test/servers/etcd.ts),
 * a PowerDNS of this file's with a zone of its own, two fs origins served by `outlast serve`'s
 * server, and two `outlast watch` processes in one cluster. Then:
 *
 *   - `outlast status --json` (and its text) shows both watchers, their views and the leader;
 *     with etcd out of reach it says so in one line and still exits 0;
 *   - GET /metrics: outlast_cluster_leader 1 on the leader, 0 on the follower;
 *   - the dashboard (Chromium) shows the Cluster section: this watcher, both watchers, the leader,
 *     the cluster's verdict per origin.
 *
 * Every wait polls a condition with a deadline; no timing is asserted.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import type { Browser } from 'playwright-core';
import { stringify } from 'yaml';
import { runDeploy } from '../../src/deploy/engine.ts';
import { type RunningServer, startServer } from '../../src/serve/server.ts';
import { ensureChromium, launch, WAIT as PAGE_WAIT, testid, textOf } from '../helpers/browser.ts';
import { eventually } from '../helpers/eventually.ts';
import { setupFsDeploy } from '../helpers/site.ts';
import { type DnsServer, startDnsServer } from '../servers/dns.ts';
import { type EtcdCluster, startEtcdCluster } from '../servers/etcd.ts';

const BIN = fileURLToPath(new URL('../../bin/outlast.js', import.meta.url));
const ZONE = `visible-${process.pid}.test`;
const NAME = `www.${ZONE}`;
const ORIGINS = ['o0', 'o1'] as const;
const ADDRESS = { o0: '192.0.2.10', o1: '192.0.2.11' } as const;
const HOSTS = { o0: '127.0.0.2', o1: '127.0.0.3' } as const;
const WATCHERS = ['w1', 'w2'] as const;
type WatcherId = (typeof WATCHERS)[number];
const WAIT = 60_000;
const silent = pino({ level: 'silent' });

interface ClusterStatusJson {
  id: string;
  leader?: string;
  leading: boolean;
  watchers: Array<{ id: string; origins: Record<string, { state: string }> }>;
  origins: Record<string, { health: string; up: number; down: number }>;
}

/** `outlast status --json`'s cluster, as this test reads it. */
interface StatusCluster {
  ok: boolean;
  error: { code: string; message: string } | null;
  leader: string | null;
  quorum: number;
  watchers: Array<{
    id: string;
    leader: boolean;
    counted: boolean;
    origins: Record<string, { state: string }>;
  }>;
  origins: Record<string, { health: string; up: number; down: number }>;
}

/** Runs the CLI (dist/) without blocking this process, which serves the origins. */
function outlast(args: string[], cwd: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { cwd, timeout: 60_000 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

describe('seeing a cluster of two watchers: status, metrics, dashboard', { timeout: 300_000 }, () => {
  const setup = setupFsDeploy({ origins: 2, files: { 'index.html': '<h1>one</h1>', '404.html': 'nope' } });
  let etcd: EtcdCluster | undefined;
  let pdns: DnsServer | undefined;
  let browser: Browser | undefined;
  const servers: RunningServer[] = [];
  const urls: Partial<Record<(typeof ORIGINS)[number], string>> = {};
  const watchers: Partial<Record<WatcherId, { child: ChildProcess; output: string; base: string }>> = {};

  const writeConfig = (id: string, endpoints: string[]) => {
    const file = join(setup.root, `${id}.yaml`);
    writeFileSync(
      file,
      stringify({
        site: { dir: setup.siteDir, hostname: NAME, errorDocument: '404.html' },
        origins: ORIGINS.map((origin, index) => ({
          id: origin,
          storage: { type: 'fs', path: setup.origins[index] },
          url: urls[origin],
          dns: { a: [ADDRESS[origin]] },
        })),
        health: { interval: '500ms', retryInterval: '200ms', timeout: '1s', fall: 2, rise: 2 },
        failover: { holdDown: '1s' },
        dns: {
          name: NAME,
          ttl: 5,
          providers: [{ type: 'powerdns', url: pdns!.apiUrl, zone: ZONE, apiKey: pdns!.apiKey }],
        },
        watch: {
          listen: '127.0.0.1:0',
          stateDir: join(setup.root, `state-${id}`),
          cluster: { id, etcd: { endpoints }, leaseTtl: '2s' },
        },
      }),
    );
    return file;
  };

  const status = async (id: WatcherId): Promise<{ cluster: ClusterStatusJson } | undefined> => {
    const entry = watchers[id];
    if (!entry?.base) return undefined;
    try {
      return (await (await fetch(`${entry.base}/status`)).json()) as { cluster: ClusterStatusJson };
    } catch {
      return undefined;
    }
  };

  /** The one watcher that leads, once both name it and both see both watchers with o0 and o1 up. */
  const settledLeader = async (): Promise<WatcherId | undefined> => {
    const views = await Promise.all(WATCHERS.map((id) => status(id)));
    const leading = WATCHERS.filter((_, index) => views[index]?.cluster.leading);
    if (leading.length !== 1) return undefined;
    for (const view of views) {
      const cluster = view?.cluster;
      if (!cluster || cluster.leader !== leading[0] || cluster.watchers.length !== 2) return undefined;
      if (!ORIGINS.every((origin) => cluster.origins[origin]?.up === 2)) return undefined;
    }
    return leading[0];
  };

  before(async () => {
    ensureChromium();
    etcd = await startEtcdCluster();
    pdns = await startDnsServer('pdns');
    const created = await fetch(`${pdns.apiUrl}/api/v1/servers/localhost/zones`, {
      method: 'POST',
      headers: { 'X-API-Key': pdns.apiKey!, 'content-type': 'application/json' },
      body: JSON.stringify({ name: `${ZONE}.`, kind: 'Native', nameservers: [`ns1.${ZONE}.`] }),
    });
    assert.equal(created.status, 201, await created.text());
    const deployed = await runDeploy({ config: setup.config, cacheDir: null });
    assert.ok(deployed.origins.every((origin) => !origin.error));
    for (const [index, origin] of ORIGINS.entries()) {
      const server = await startServer({
        dir: setup.origins[index]!,
        host: HOSTS[origin],
        port: 0,
        logger: silent,
      });
      servers.push(server);
      urls[origin] = `http://${HOSTS[origin]}:${server.port}`;
    }
    for (const id of WATCHERS) {
      const child = spawn(process.execPath, [BIN, 'watch', '--config', writeConfig(id, etcd.endpoints)], {
        cwd: setup.root,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const entry = { child, output: '', base: '' };
      const keep = (chunk: Buffer) => {
        entry.output += chunk;
      };
      child.stdout!.on('data', keep);
      child.stderr!.on('data', keep);
      watchers[id] = entry;
    }
    for (const id of WATCHERS) {
      const entry = watchers[id]!;
      await eventually(
        `${id} says where its status is`,
        async () => {
          if (entry.child.exitCode !== null) throw new Error(`${id} exited: ${entry.output}`);
          return /status: http:\S+\/status/.test(entry.output);
        },
        WAIT,
      );
      entry.base = /status: (http:\S+)\/status/.exec(entry.output)![1]!;
    }
    await eventually(
      'one leader both name; both see both watchers, o0 and o1 up',
      async () => (await settledLeader()) !== undefined,
      WAIT,
    );
  });

  after(async () => {
    await browser?.close().catch(() => undefined);
    await Promise.all(
      Object.values(watchers).map(async (entry) => {
        const child = entry?.child;
        if (!child || child.exitCode !== null || child.signalCode !== null) return;
        const gone = () => child.exitCode !== null || child.signalCode !== null;
        child.kill('SIGTERM');
        // A clean stop resigns and exits; one that has not within the deadline is killed.
        await eventually('the watcher stops on SIGTERM', async () => gone(), 15_000).catch(() => {
          child.kill('SIGKILL');
        });
        await eventually('the watcher is gone', async () => gone(), 15_000);
      }),
    );
    await Promise.all(servers.map((server) => server.close().catch(() => undefined)));
    await etcd?.stop().catch(() => undefined);
    await pdns?.stop().catch(() => undefined);
    setup.cleanup();
  });

  it('outlast status shows both watchers, their views and the leader', async () => {
    const leader = (await settledLeader())!;
    assert.ok(leader, 'a settled leader');
    const config = join(setup.root, 'w1.yaml');
    const json = await outlast(['status', '--config', config, '--json'], setup.root);
    assert.equal(json.code, 0, json.stderr);
    const cluster = (JSON.parse(json.stdout) as { cluster: StatusCluster }).cluster;
    assert.equal(cluster.ok, true, JSON.stringify(cluster.error));
    assert.equal(cluster.leader, leader);
    assert.deepEqual(
      cluster.watchers.map((watcher) => [watcher.id, watcher.leader, watcher.counted]),
      WATCHERS.map((id) => [id, id === leader, true]),
    );
    for (const watcher of cluster.watchers) {
      assert.deepEqual(
        ORIGINS.map((origin) => watcher.origins[origin]?.state),
        ['up', 'up'],
        `${watcher.id}'s view`,
      );
    }
    assert.deepEqual(cluster.origins, {
      o0: { health: 'up', up: 2, down: 0 },
      o1: { health: 'up', up: 2, down: 0 },
    });

    const text = await outlast(['status', '--config', config], setup.root);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, new RegExp(`^ {2}leader: ${leader} \\(marked \\*\\)$`, 'm'));
    assert.match(text.stdout, new RegExp(`^ {2}\\* ${leader} +UP`, 'm'));
    assert.match(text.stdout, /^ {4}quorum +UP \(2 up, 0 down\) +UP \(2 up, 0 down\)$/m);

    // etcd out of reach: one line, and the exit code is the origins' (0).
    const away = writeConfig('w9', ['http://127.0.0.1:1']);
    const unreachable = await outlast(['status', '--config', away], setup.root);
    assert.equal(unreachable.code, 0, unreachable.stderr);
    const lines = unreachable.stdout.split('\n').filter((line) => line.startsWith('cluster'));
    assert.equal(lines.length, 1, unreachable.stdout);
    assert.match(lines[0]!, /^cluster {2}UNREACHABLE: etcd http:\/\/127\.0\.0\.1:1: /);
  });

  it('/metrics: outlast_cluster_leader is 1 on the leader, 0 on the follower', async () => {
    const leader = (await settledLeader())!;
    assert.ok(leader, 'a settled leader');
    for (const id of WATCHERS) {
      const text = await (await fetch(`${watchers[id]!.base}/metrics`)).text();
      assert.match(text, new RegExp(`^outlast_cluster_leader ${id === leader ? 1 : 0}$`, 'm'), id);
      assert.match(text, /^outlast_cluster_watchers 2$/m, id);
      assert.match(text, /^outlast_cluster_etcd_reachable 1$/m, id);
      assert.match(text, /^outlast_cluster_origin_watchers\{origin="o0",state="up"\} 2$/m, id);
    }
  });

  it('the dashboard shows the Cluster section: this watcher, both watchers, the leader', async () => {
    const leader = (await settledLeader())!;
    assert.ok(leader, 'a settled leader');
    const follower = WATCHERS.find((id) => id !== leader)!;
    browser = await launch();
    const page = await browser.newPage();
    const problems: string[] = [];
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
    page.on('console', (message) => {
      if (message.type() === 'error' && !/^Failed to load resource/.test(message.text())) {
        problems.push(message.text());
      }
    });
    for (const id of [follower, leader]) {
      await page.goto(`${watchers[id]!.base}/`);
      await page.locator(`${testid('cluster')}:not([hidden])`).waitFor(PAGE_WAIT);
      await page.locator(`${testid(`cluster-watcher-${leader}`)}[data-leader="true"]`).waitFor(PAGE_WAIT);
      assert.equal(await textOf(page, testid('cluster-id')), id);
      for (const watcher of WATCHERS) {
        const row = testid(`cluster-watcher-${watcher}`);
        await page
          .locator(`${row}[data-counted="true"] td[data-origin="o0"][data-state="up"]`)
          .waitFor(PAGE_WAIT);
        await page.locator(`${row} td[data-origin="o1"][data-state="up"]`).waitFor(PAGE_WAIT);
      }
      assert.equal(
        await page.locator(`${testid('cluster-watchers')} tr[data-leader="true"]`).count(),
        1,
        'one leader row',
      );
      for (const origin of ORIGINS) {
        await page.locator(`${testid(`cluster-verdict-${origin}`)}[data-health="up"]`).waitFor(PAGE_WAIT);
        assert.match(await textOf(page, testid(`cluster-verdict-${origin}`)), /up 2 · down 0/);
      }
      assert.match(
        await textOf(page, testid('cluster-leader')),
        id === leader ? /^This watcher leads since / : new RegExp(`^Leader: ${leader}\\.$`),
      );
      assert.equal(await textOf(page, testid('cluster-role')), id === leader ? 'leader' : 'follower');
      assert.equal(await page.locator(`${testid('cluster-etcd-error')}:not([hidden])`).count(), 0);
      assert.equal(await page.locator(`${testid('cluster-quorum-lost')}:not([hidden])`).count(), 0);
    }
    assert.deepEqual(problems, []);
  });
});

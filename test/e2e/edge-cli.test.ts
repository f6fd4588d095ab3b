/**
 * The edge as a user runs it: `outlast edge --config F` (what it prints, its access log, /status,
 * /metrics, a config without an edge section refused), and `outlast watch --edge`, where the edge
 * uses the watcher's health checks and shows in the watcher's /status and /metrics.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { runDeploy } from '../../src/deploy/engine.ts';
import type { EdgeStatus } from '../../src/edge/types.ts';
import { type RunningServer, startServer } from '../../src/serve/server.ts';
import { eventually } from '../helpers/eventually.ts';
import { setupFsDeploy, type TestSetup } from '../helpers/site.ts';

const BIN = fileURLToPath(new URL('../../bin/outlast.js', import.meta.url));
const FILES = { 'index.html': '<h1>edge cli</h1>\n', '404.html': 'nope\n', 'a.css': 'body{}\n' };

function writeConfig(setup: TestSetup, servers: RunningServer[], extra: object): string {
  const file = join(setup.root, `outlast-${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(
    file,
    stringify({
      site: { dir: setup.siteDir, hostname: 'www.edge.test', errorDocument: '404.html' },
      origins: setup.origins.map((path, i) => ({
        id: `o${i}`,
        storage: { type: 'fs', path },
        url: servers[i]!.url,
        dns: { a: [`192.0.2.${i + 1}`] },
      })),
      ...extra,
    }),
  );
  return file;
}

function start(args: string[]) {
  const child: ChildProcess = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const io = { stdout: '', stderr: '' };
  child.stdout!.on('data', (chunk) => {
    io.stdout += chunk;
  });
  child.stderr!.on('data', (chunk) => {
    io.stderr += chunk;
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, io, exited };
}

test('outlast edge: says where it serves, logs each request as JSON, serves /status and /metrics', {
  timeout: 120_000,
}, async () => {
  const setup = setupFsDeploy({ origins: 2, files: FILES });
  await runDeploy({ config: setup.config });
  const servers = await Promise.all(
    setup.origins.map((dir) => startServer({ dir, host: '127.0.0.1', port: 0 })),
  );
  const file = writeConfig(setup, servers, {
    edge: { listen: '127.0.0.1:0', admin: '127.0.0.1:0', cache: { dir: join(setup.root, 'cache') } },
  });
  const edge = start(['edge', '--config', file]);
  try {
    await eventually('the edge says where it serves', async () =>
      /status: http:\S+\/status/.test(edge.io.stderr),
    );
    const site = /serving www\.edge\.test at (http:\S+)/.exec(edge.io.stderr)![1]!;
    const admin = /status: (http:\S+)\/status/.exec(edge.io.stderr)![1]!;
    assert.match(edge.io.stderr, /origins o0 → o1; first byte 2s/);
    assert.match(edge.io.stderr, /release r[0-9a-f]{20} \(3 files\)/);
    const page = await fetch(`${site}/`);
    assert.equal(page.status, 200);
    assert.equal(await page.text(), FILES['index.html']);
    assert.equal((await fetch(`${site}/missing`)).status, 404);
    await eventually('two access log lines', async () => edge.io.stdout.trim().split('\n').length >= 2);
    const lines = edge.io.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    assert.equal(lines[0].path, '/');
    assert.equal(lines[0].status, 200);
    assert.ok(['o0', 'cache'].includes(lines[0].source), lines[0].source);
    assert.equal(typeof lines[0].ms, 'number');
    assert.equal(lines[1].status, 404);
    const status = (await (await fetch(`${admin}/status`)).json()) as EdgeStatus;
    assert.equal(status.requests.total, 2);
    assert.deepEqual(
      status.origins.map((origin: { id: string }) => origin.id),
      ['o0', 'o1'],
    );
    const metrics = await (await fetch(`${admin}/metrics`)).text();
    assert.match(metrics, /outlast_edge_requests_total\{source="[a-z0-9]+",status="2xx"\} 1/);
    assert.match(metrics, /outlast_edge_cache_hit_ratio /);
  } finally {
    edge.child.kill('SIGTERM');
    const code = await edge.exited;
    await Promise.all(servers.map((server) => server.close()));
    setup.cleanup();
    assert.equal(code, 0, edge.io.stderr);
  }
});

test('outlast edge refuses a config without an edge section, naming the file', () => {
  const setup = setupFsDeploy({ origins: 1, files: FILES });
  try {
    const result = spawnSync(process.execPath, [BIN, 'edge', '--config', setup.configFile], {
      encoding: 'utf8',
    });
    assert.equal(result.status, 2, result.stderr);
    assert.ok(result.stderr.includes(setup.configFile), result.stderr);
    assert.match(result.stderr, /no edge section/);
  } finally {
    setup.cleanup();
  }
});

test('outlast watch --edge: the edge follows the watcher’s health and shows in its /status and /metrics', {
  timeout: 120_000,
}, async () => {
  const setup = setupFsDeploy({ origins: 2, files: FILES });
  await runDeploy({ config: setup.config });
  const servers = await Promise.all(
    setup.origins.map((dir) => startServer({ dir, host: '127.0.0.1', port: 0 })),
  );
  const file = writeConfig(setup, servers, {
    health: { interval: '300ms', retryInterval: '100ms', timeout: '1s', fall: 2, rise: 2 },
    dns: {
      name: 'www.edge.test',
      ttl: 60,
      providers: [{ type: 'memory', name: `edge-watch-${process.pid}` }],
    },
    watch: { listen: '127.0.0.1:0', stateDir: join(setup.root, 'state') },
    // Beacon polls rarely: what the edge knows of o0 going down comes from the watcher.
    edge: {
      listen: '127.0.0.1:0',
      admin: '127.0.0.1:0',
      releasePoll: '60s',
      cache: { dir: join(setup.root, 'cache'), warm: false },
    },
  });
  const watch = start(['watch', '--edge', '--config', file]);
  try {
    await eventually('the watcher says where the edge serves', async () =>
      /edge: serving www\.edge\.test at http:\S+/.test(watch.io.stdout),
    );
    const base = /status: (http:\S+)\/status/.exec(watch.io.stdout)![1]!;
    const site = /edge: serving www\.edge\.test at (http:\S+?),/.exec(watch.io.stdout)![1]!;
    assert.equal((await fetch(`${site}/a.css`)).status, 200);
    const edgesOf = async () =>
      ((await (await fetch(`${base}/status`)).json()) as { edges?: EdgeStatus[] }).edges;
    await eventually('the watcher shows the edge', async () => (await edgesOf())?.[0]?.requests.total === 1);
    assert.match(await (await fetch(`${base}/metrics`)).text(), /outlast_edge_requests_total/);
    await servers[0]!.close();
    await eventually(
      'the edge sees o0 down by the watcher',
      async () => (await edgesOf())?.[0]?.origins[0]?.state === 'down',
      30_000,
    );
    // Not fetched before, and no warming: it must come from an origin, and o0 (down by the
    // watcher) is not even tried first.
    const page = await fetch(`${site}/`);
    assert.equal(page.status, 200);
    assert.equal(page.headers.get('x-outlast-source'), 'o1');
    const [edge] = (await edgesOf())!;
    assert.equal(edge!.origins[0]!.failed, 0, 'o0 was not tried');
    assert.equal(edge!.requests.failedOver, 0);
  } finally {
    watch.child.kill('SIGINT');
    const code = await watch.exited;
    await Promise.all(servers.map((server) => server.close()));
    setup.cleanup();
    assert.equal(code, 0, watch.io.stdout + watch.io.stderr);
  }
});

/**
 * `outlast edge` in one process against real directory origins (`outlast serve`'s server on
 * 127.0.0.1): the release's bytes with the manifest's headers and validators, conditional and
 * range requests, the error document, a tampered body never served, failover when an origin
 * goes, passive health, the cache serving the site with every origin down (also after a restart),
 * and a new deploy taking over whole.
 */
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Config } from '../../src/config/schema.ts';
import { runDeploy } from '../../src/deploy/engine.ts';
import { type RunningEdge, startEdge } from '../../src/edge/edge.ts';
import { edgeSchema } from '../../src/edge/options.ts';
import { PassiveHealth } from '../../src/edge/passive-health.ts';
import { chooseRelease } from '../../src/edge/release-view.ts';
import { type RunningServer, startServer } from '../../src/serve/server.ts';
import { eventually } from '../helpers/eventually.ts';
import { setupFsDeploy, sha256, type TestSetup, writeSite } from '../helpers/site.ts';

const FILES: Record<string, string> = {
  'index.html': '<h1>home v1</h1>\n',
  'docs/index.html': '<h1>docs v1</h1>\n',
  '404.html': '<h1>not here</h1>\n',
  'assets/app.js': `console.log("v1");\n${'x'.repeat(5000)}\n`,
};

function edgeConfig(
  setup: TestSetup,
  servers: RunningServer[],
  cacheDir: string,
  extra: object = {},
): Config {
  return {
    ...setup.config,
    origins: setup.config.origins.map((origin, index) => ({ ...origin, url: servers[index]!.url })),
    edge: edgeSchema.parse({
      listen: '127.0.0.1:0',
      admin: '127.0.0.1:0',
      firstByteTimeout: '500ms',
      idleTimeout: '500ms',
      requestTimeout: '3s',
      releasePoll: '100ms',
      cooldown: '300ms',
      accessLog: false,
      cache: { dir: cacheDir, warm: false },
      ...extra,
    }),
  };
}

async function get(edge: RunningEdge, path: string, headers: Record<string, string> = {}, method = 'GET') {
  const response = await fetch(`${edge.urls[0]}${path}`, { method, headers, redirect: 'manual' });
  const body = Buffer.from(await response.arrayBuffer());
  return { status: response.status, headers: response.headers, body };
}

describe('outlast edge over directory origins', () => {
  let setup: TestSetup;
  let servers: RunningServer[];
  let edge: RunningEdge;
  let release: string;

  before(async () => {
    setup = setupFsDeploy({ origins: 2, files: FILES });
    const outcome = await runDeploy({ config: setup.config });
    release = outcome.releaseId;
    servers = await Promise.all(setup.origins.map((dir) => startServer({ dir, host: '127.0.0.1', port: 0 })));
    edge = await startEdge({ config: edgeConfig(setup, servers, join(setup.root, 'cache')) });
  });

  after(async () => {
    await edge?.close();
    await Promise.all((servers ?? []).map((server) => server.close()));
    setup?.cleanup();
  });

  test('serves the release with the manifest’s headers and validators', async () => {
    assert.equal(edge.status().release?.id, release);
    const page = await get(edge, '/');
    assert.equal(page.status, 200);
    assert.equal(page.body.toString(), FILES['index.html']);
    assert.equal(page.headers.get('etag'), `"${sha256(FILES['index.html']!)}"`);
    assert.equal(page.headers.get('x-outlast-release'), release);
    assert.equal(page.headers.get('cache-control'), 'public, max-age=60');
    assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
    assert.equal(page.headers.get('x-outlast-source'), 'o0');
    const again = await get(edge, '/');
    assert.equal(again.headers.get('x-outlast-source'), 'cache');
    const asset = await get(edge, '/assets/app.js');
    assert.equal(asset.headers.get('cache-control'), 'public, max-age=31536000, immutable');
    assert.equal(sha256(asset.body), sha256(FILES['assets/app.js']!));
  });

  test('conditional and range requests, HEAD, redirects, the error document, methods', async () => {
    const etag = `"${sha256(FILES['assets/app.js']!)}"`;
    const notModified = await get(edge, '/assets/app.js', { 'if-none-match': etag });
    assert.equal(notModified.status, 304);
    assert.equal(notModified.body.length, 0);
    const lastModified = (await get(edge, '/assets/app.js')).headers.get('last-modified')!;
    assert.equal((await get(edge, '/assets/app.js', { 'if-modified-since': lastModified })).status, 304);
    assert.equal((await get(edge, '/assets/app.js', { 'if-match': '"other"' })).status, 412);
    const range = await get(edge, '/assets/app.js', { range: 'bytes=8-11' });
    assert.equal(range.status, 206);
    assert.equal(range.body.toString(), FILES['assets/app.js']!.slice(8, 12));
    assert.equal(
      range.headers.get('content-range'),
      `bytes 8-11/${Buffer.byteLength(FILES['assets/app.js']!)}`,
    );
    assert.equal((await get(edge, '/assets/app.js', { range: 'bytes=99999-' })).status, 416);
    const head = await get(edge, '/docs/', {}, 'HEAD');
    assert.equal(head.status, 200);
    assert.equal(head.headers.get('content-length'), String(Buffer.byteLength(FILES['docs/index.html']!)));
    assert.equal(head.body.length, 0);
    const folder = await get(edge, '/docs?x=1');
    assert.equal(folder.status, 302);
    assert.equal(folder.headers.get('location'), '/docs/?x=1');
    const missing = await get(edge, '/no/such/page');
    assert.equal(missing.status, 404);
    assert.equal(missing.body.toString(), FILES['404.html']);
    assert.equal((await get(edge, '/', {}, 'POST')).status, 405);
  });

  test('a body that is not the manifest’s is never served: the next origin’s is', async () => {
    // o0 holds other bytes under the key (as while a deploy is half-way there).
    writeFileSync(join(setup.origins[0]!, 'docs', 'index.html'), '<h1>docs v2 (not the release)</h1>\n');
    const docs = await get(edge, '/docs/');
    assert.equal(docs.status, 200);
    assert.equal(docs.body.toString(), FILES['docs/index.html']);
    assert.equal(docs.headers.get('x-outlast-source'), 'o1');
    assert.match(
      await edge.metrics(),
      /outlast_edge_origin_attempts_total\{origin="o0",outcome="mismatch"\} 1/,
    );
    // A mismatch is not the origin failing.
    assert.equal(edge.status().origins[0]!.state, 'ok');
  });
});

describe('outlast edge when origins go', () => {
  let setup: TestSetup;
  let servers: RunningServer[];
  let edge: RunningEdge;
  let cacheDir: string;

  before(async () => {
    setup = setupFsDeploy({ origins: 2, files: FILES });
    await runDeploy({ config: setup.config });
    servers = await Promise.all(setup.origins.map((dir) => startServer({ dir, host: '127.0.0.1', port: 0 })));
    cacheDir = join(setup.root, 'cache');
  });

  after(async () => {
    await edge?.close();
    await Promise.all((servers ?? []).map((server) => server.close()));
    setup?.cleanup();
  });

  test('fails over within the request, skips an origin that keeps failing, and takes it back', async () => {
    edge = await startEdge({
      config: edgeConfig(setup, servers, cacheDir, {
        cache: { dir: cacheDir, warm: false, maxMegabytes: 1, memoryMegabytes: 0 },
      }),
    });
    const port = Number(new URL(servers[0]!.url).port);
    await servers[0]!.close();
    const page = await get(edge, '/assets/app.js');
    assert.equal(page.status, 200);
    assert.equal(page.headers.get('x-outlast-source'), 'o1');
    await eventually('o0 is skipped', async () => edge.status().origins[0]!.state === 'skipped', 10_000);
    assert.equal(edge.status().origins[0]!.lastError, 'connection refused');
    assert.ok(edge.status().requests.failedOver >= 1);
    servers[0] = await startServer({ dir: setup.origins[0]!, host: '127.0.0.1', port });
    await eventually('o0 is used again', async () => edge.status().origins[0]!.state === 'ok', 10_000);
    await edge.close();
  });

  test('with every origin down the cache serves the release, and says so; also after a restart', async () => {
    rmSync(cacheDir, { recursive: true, force: true });
    edge = await startEdge({
      config: edgeConfig(setup, servers, cacheDir, { cache: { dir: cacheDir, warm: true } }),
    });
    const release = edge.status().release!.id;
    await eventually('the cache is warm', async () => {
      const { warm } = edge.status().cache;
      return !warm.running && warm.held === warm.total && warm.total === Object.keys(FILES).length;
    });
    await Promise.all(servers.map((server) => server.close()));
    await eventually('every origin is skipped', async () => edge.status().cacheOnly, 10_000);
    const page = await get(edge, '/');
    assert.equal(page.status, 200);
    assert.equal(page.body.toString(), FILES['index.html']);
    assert.match(page.headers.get('x-outlast-edge') ?? '', /^cache-only/);
    assert.equal(edge.status().requests.cacheOnly, 1);
    await edge.close();

    edge = await startEdge({
      config: edgeConfig(setup, servers, cacheDir, { cache: { dir: cacheDir, warm: true } }),
    });
    assert.equal(edge.status().release?.id, release);
    const restarted = await get(edge, '/assets/app.js');
    assert.equal(restarted.status, 200);
    assert.equal(sha256(restarted.body), sha256(FILES['assets/app.js']!));
    assert.equal(restarted.headers.get('x-outlast-release'), release);
  });
});

describe('outlast edge and a new deploy', () => {
  test('switches to the new release once an origin serves it, and never goes back', async () => {
    const setup = setupFsDeploy({ origins: 2, files: FILES });
    const servers: RunningServer[] = [];
    let edge: RunningEdge | undefined;
    try {
      const first = (await runDeploy({ config: setup.config })).releaseId;
      for (const dir of setup.origins) servers.push(await startServer({ dir, host: '127.0.0.1', port: 0 }));
      edge = await startEdge({ config: edgeConfig(setup, servers, join(setup.root, 'cache')) });
      assert.equal((await get(edge, '/')).headers.get('x-outlast-release'), first);
      writeSite(setup.siteDir, { 'index.html': '<h1>home v2</h1>\n' });
      // Only o1 gets it: the newest release anywhere is the one served, from where its bytes are.
      const second = (await runDeploy({ config: setup.config, only: ['o1'] })).releaseId;
      assert.notEqual(second, first);
      const running = edge;
      await eventually(
        'the edge serves the new release',
        async () => running.status().release?.id === second,
      );
      const page = await get(edge, '/');
      assert.equal(page.body.toString(), '<h1>home v2</h1>\n');
      assert.equal(page.headers.get('x-outlast-source'), 'o1');
      assert.equal(page.headers.get('x-outlast-release'), second);
      const asset = await get(edge, '/assets/app.js');
      assert.equal(asset.headers.get('x-outlast-release'), second);
    } finally {
      await edge?.close();
      await Promise.all(servers.map((server) => server.close()));
      setup.cleanup();
    }
  });
});

describe('outlast edge and large files', () => {
  test('a body past the in-memory limit goes through a file, verified, and serves ranges from disk', async () => {
    // 9 MiB: fetched to a temp file of the cache (past 8 MiB), kept on disk only (past 1 MiB).
    const big = Buffer.alloc(9 * 1024 * 1024);
    for (let i = 0; i < big.length; i += 4096) big.writeUInt32BE(i, i);
    const setup = setupFsDeploy({ origins: 1, files: { 'index.html': 'home\n', 'big.bin': big } });
    const servers: RunningServer[] = [];
    let edge: RunningEdge | undefined;
    try {
      await runDeploy({ config: setup.config });
      servers.push(await startServer({ dir: setup.origins[0]!, host: '127.0.0.1', port: 0 }));
      edge = await startEdge({ config: edgeConfig(setup, servers, join(setup.root, 'cache')) });
      const whole = await get(edge, '/big.bin');
      assert.equal(whole.status, 200);
      assert.equal(whole.headers.get('x-outlast-source'), 'o0');
      assert.equal(sha256(whole.body), sha256(big));
      const range = await get(edge, '/big.bin', { range: 'bytes=8192-8199' });
      assert.equal(range.status, 206);
      assert.equal(range.headers.get('x-outlast-source'), 'cache');
      assert.deepEqual(range.body, big.subarray(8192, 8200));
    } finally {
      await edge?.close();
      await Promise.all(servers.map((server) => server.close()));
      setup.cleanup();
    }
  });
});

describe('edge cores', () => {
  test('chooseRelease: the release made live last, from the origins that name it', () => {
    const beacon = (release: string, deployedAt: string) => ({
      release,
      deployedAt,
      manifestSha256: `${release}-sha`,
    });
    assert.equal(chooseRelease([{ origin: 'a', error: 'down' }]), undefined);
    assert.deepEqual(
      chooseRelease([
        { origin: 'a', beacon: beacon('r1', '2026-01-01T00:00:00Z') },
        { origin: 'b', beacon: beacon('r2', '2026-01-02T00:00:00Z') },
        { origin: 'c', beacon: beacon('r2', '2026-01-02T00:00:00Z') },
      ]),
      { release: 'r2', manifestSha256: 'r2-sha', deployedAt: '2026-01-02T00:00:00Z', from: ['b', 'c'] },
    );
    // A tie goes to the origin first in order.
    assert.equal(
      chooseRelease([
        { origin: 'a', beacon: beacon('r1', '2026-01-01T00:00:00Z') },
        { origin: 'b', beacon: beacon('r2', '2026-01-01T00:00:00Z') },
      ])?.release,
      'r1',
    );
  });

  test('PassiveHealth: skipped after N failures, last in order, due after the cooldown', () => {
    let watcher: 'up' | 'down' = 'up';
    const health = new PassiveHealth(['a', 'b', 'c'], {
      failures: 2,
      cooldownMs: 1000,
      watcher: { state: () => watcher },
    });
    assert.deepEqual(health.order(), ['a', 'b', 'c']);
    assert.equal(health.failed('a', 'refused', 0), false);
    assert.equal(health.failed('a', 'refused', 0), true);
    assert.deepEqual(health.order(), ['b', 'c', 'a']);
    assert.equal(health.state('a'), 'skipped');
    assert.deepEqual(health.due(999), []);
    assert.deepEqual(health.due(1000), ['a']);
    health.stillFailing('a', 'refused', 1000);
    assert.deepEqual(health.due(1500), []);
    health.succeeded('a');
    assert.deepEqual(health.order(), ['a', 'b', 'c']);
    watcher = 'down';
    assert.equal(health.state('b'), 'down');
    // Every origin down by the watcher: all are still tried, as a last resort.
    assert.deepEqual(health.order(), ['a', 'b', 'c']);
    assert.equal(health.usable('a'), false);
  });
});

/**
 * The watcher's side of `outlast edge` in the same process (src/daemon/watcher.ts): `attachEdge`
 * puts each attached edge's status under `edges` in the watcher's status (and GET status), absent
 * when none is attached, each detach removing its own; `healthView` reads the health engine's
 * rise/fall state live (`unknown` before the first verdict, `undefined` for an id not probed).
 * A real watcher: two fs origins served on 127.0.0.2 and 127.0.0.3, the memory DNS provider.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { stringify } from 'yaml';
import { parseConfig } from '../../src/config/load.ts';
import { startStatusServer } from '../../src/daemon/http.ts';
import { Watcher } from '../../src/daemon/watcher.ts';
import { runDeploy } from '../../src/deploy/engine.ts';
import type { EdgeStatus } from '../../src/edge/types.ts';
import { type RunningServer, startServer } from '../../src/serve/server.ts';
import { componentLogger } from '../../src/util/log.ts';
import { eventually } from '../helpers/eventually.ts';
import { setupFsDeploy } from '../helpers/site.ts';

const NAME = 'www.watcher-edge.test';

function edgeStatus(served: number): EdgeStatus {
  return {
    urls: ['http://127.0.0.1:8080'],
    startedAt: new Date().toISOString(),
    cacheOnly: false,
    origins: [
      {
        id: 'a',
        url: 'http://a.test',
        state: 'ok',
        consecutiveFailures: 0,
        served,
        bytes: served * 100,
        failed: 0,
      },
    ],
    cache: {
      files: 0,
      bytes: 0,
      maxBytes: 1024,
      hits: 0,
      misses: 0,
      warm: { held: 0, total: 0, running: false },
    },
    requests: { total: served, failedOver: 0, cacheOnly: 0, errors: 0 },
  };
}

test('attachEdge shows each attached edge under edges, and healthView follows the probes', {
  timeout: 120_000,
}, async () => {
  const setup = setupFsDeploy({ origins: 2, files: { 'index.html': '<h1>hi</h1>', '404.html': 'nope' } });
  const servers: RunningServer[] = [];
  let watcher: Watcher | undefined;
  let http: { url: string; close(): Promise<void> } | undefined;
  try {
    const deployed = await runDeploy({ config: setup.config });
    assert.ok(deployed.origins.every((origin) => !origin.error));
    servers.push(await startServer({ dir: setup.origins[0]!, host: '127.0.0.2', port: 0 }));
    servers.push(await startServer({ dir: setup.origins[1]!, host: '127.0.0.3', port: 0 }));
    const text = stringify({
      site: { dir: setup.siteDir, hostname: NAME },
      origins: ['a', 'b'].map((id, index) => ({
        id,
        storage: { type: 'fs', path: setup.origins[index] },
        url: servers[index]!.url,
        dns: { a: [`192.0.2.${index + 1}`] },
      })),
      health: { interval: '300ms', retryInterval: '100ms', timeout: '2s', fall: 2, rise: 2 },
      failover: { policy: 'priority', failback: 'auto', holdDown: '2s' },
      dns: { name: NAME, ttl: 60, providers: [{ type: 'memory', name: `watcher-edge-${process.pid}` }] },
      watch: { listen: '127.0.0.1:0', stateDir: join(setup.root, 'state') },
    });
    const { config } = parseConfig(text, join(setup.root, 'outlast.yaml'));
    const logger = componentLogger('test-watcher-edge');
    watcher = new Watcher({ config, logger });

    // Before start: configured origins are unknown, others not known at all; the same view stays live.
    const view = watcher.healthView();
    assert.equal(view.state('a'), 'unknown');
    assert.equal(view.state('b'), 'unknown');
    assert.equal(view.state('nope'), undefined);
    assert.equal('edges' in watcher.status(), false, 'no edge attached: no edges field');

    await watcher.start();
    await eventually(
      'both origins are up in the view',
      async () => view.state('a') === 'up' && view.state('b') === 'up',
    );
    assert.equal(view.state('nope'), undefined);
    assert.equal(watcher.healthView().state('a'), 'up', 'a new view reads the same engine');

    // Edges: a plain status source whose numbers change between reads.
    let served = 1;
    const first = { status: () => edgeStatus(served) };
    const detachFirst = watcher.attachEdge(first);
    assert.deepEqual(
      watcher.status().edges?.map((edge) => edge.origins[0]!.served),
      [1],
    );
    served = 7;
    assert.equal(watcher.status().edges?.[0]?.requests.total, 7, 'read anew at every status');
    const second = { status: () => ({ ...edgeStatus(2), urls: ['https://127.0.0.1:8443'] }) };
    const detachSecond = watcher.attachEdge(second);
    assert.deepEqual(
      watcher.status().edges?.map((edge) => edge.urls[0]),
      ['http://127.0.0.1:8080', 'https://127.0.0.1:8443'],
    );
    // A source that throws is left out (and logged); the others still show.
    const detachBroken = watcher.attachEdge({
      status: () => {
        throw new Error('broken edge');
      },
    });
    assert.equal(watcher.status().edges?.length, 2);
    detachBroken();

    // GET status carries them as JSON.
    const token = await watcher.store.token();
    http = await startStatusServer(watcher, { host: '127.0.0.1', port: 0, token, logger });
    const json = (await (await fetch(`${http.url}/status`)).json()) as { edges?: EdgeStatus[] };
    assert.deepEqual(json.edges?.[0]?.origins[0], edgeStatus(7).origins[0]);
    assert.equal(json.edges?.[1]?.urls[0], 'https://127.0.0.1:8443');

    detachFirst();
    detachFirst();
    assert.deepEqual(
      watcher.status().edges?.map((edge) => edge.urls[0]),
      ['https://127.0.0.1:8443'],
      'a detach removes its own edge only, twice is harmless',
    );
    detachSecond();
    assert.equal('edges' in watcher.status(), false, 'all detached: no edges field');

    // The view follows a transition without being asked again.
    await servers[1]!.close();
    await eventually('b is down in the view', async () => view.state('b') === 'down');
    assert.equal(view.state('a'), 'up');
  } finally {
    await http?.close();
    await watcher?.stop();
    for (const server of servers) await server.close().catch(() => undefined);
    setup.cleanup();
  }
});

/**
 * A whole failover and failback, end to end: two origins served over HTTP by `outlast serve`,
 * the watcher probing them, and real DNS servers — PowerDNS through its API and Knot through
 * RFC 2136 with TSIG — asked with real DNS queries. Then a restart that finds the records right
 * and writes nothing, and the status server's read-only and token-protected parts.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { stringify } from 'yaml';
import { parseConfig } from '../../src/config/load.ts';
import { startStatusServer } from '../../src/daemon/http.ts';
import { Watcher } from '../../src/daemon/watcher.ts';
import { runDeploy } from '../../src/deploy/engine.ts';
import { type RunningServer, startServer } from '../../src/serve/server.ts';
import { componentLogger } from '../../src/util/log.ts';
import { eventually } from '../helpers/eventually.ts';
import { setupFsDeploy } from '../helpers/site.ts';
import { type DnsServer, dnsServersForTests, lockZone, query, resetZone } from '../servers/dns.ts';

const NAME = 'www.example.test';
const A_ADDRESS = '192.0.2.10';
const B_ADDRESS = '192.0.2.20';

async function answers(server: DnsServer): Promise<string[]> {
  const result = await query(server, NAME, 'A');
  return result.answers
    .filter((answer) => answer.type === 'A')
    .map((answer) => answer.data)
    .sort();
}

let pdns: DnsServer;
let knot: DnsServer;
const unlocks: (() => Promise<void>)[] = [];

before(async () => {
  ({ pdns, knot } = await dnsServersForTests());
  unlocks.push(await lockZone(pdns), await lockZone(knot));
  await Promise.all([resetZone(pdns), resetZone(knot)]);
});

after(async () => {
  await Promise.all([pdns && resetZone(pdns), knot && resetZone(knot)].filter(Boolean));
  for (const unlock of unlocks.reverse()) await unlock();
});

test('the watcher fails over to the healthy origin and back, in PowerDNS and Knot', async () => {
  const setup = setupFsDeploy({ origins: 2, files: { 'index.html': '<h1>hello</h1>', '404.html': 'nope' } });
  const servers: RunningServer[] = [];
  let watcher: Watcher | undefined;
  try {
    const deployed = await runDeploy({ config: setup.config });
    assert.ok(deployed.origins.every((origin) => !origin.error));
    servers.push(await startServer({ dir: setup.origins[0]!, host: '127.0.0.2', port: 0 }));
    servers.push(await startServer({ dir: setup.origins[1]!, host: '127.0.0.3', port: 0 }));
    const [serverA, serverB] = servers as [RunningServer, RunningServer];
    const tsig = knot.tsig[0]!;
    const text = stringify({
      site: { dir: setup.siteDir, hostname: NAME },
      origins: [
        {
          id: 'a',
          storage: { type: 'fs', path: setup.origins[0] },
          url: serverA.url,
          dns: { a: [A_ADDRESS] },
        },
        {
          id: 'b',
          storage: { type: 'fs', path: setup.origins[1] },
          url: serverB.url,
          dns: { a: [B_ADDRESS] },
        },
      ],
      health: { interval: '300ms', retryInterval: '100ms', timeout: '2s', fall: 2, rise: 2 },
      failover: { policy: 'priority', failback: 'auto', holdDown: '2s' },
      dns: {
        name: NAME,
        ttl: 5,
        providers: [
          { type: 'powerdns', url: pdns.apiUrl, zone: pdns.zone, apiKey: pdns.apiKey },
          {
            type: 'rfc2136',
            server: `${knot.host}:${knot.port}`,
            zone: knot.zone,
            tsig: { name: tsig.name, algorithm: tsig.algorithm, secret: tsig.secret },
          },
        ],
      },
      watch: { listen: '127.0.0.1:0', stateDir: join(setup.root, 'state') },
    });
    const { config } = parseConfig(text, join(setup.root, 'outlast.yaml'));
    const logger = componentLogger('test-watch');

    watcher = new Watcher({ config, logger });
    await watcher.start();
    const token = await watcher.store.token();
    const http = await startStatusServer(watcher, { host: '127.0.0.1', port: 0, token, logger });
    try {
      // 1. Both up: the preferred origin is chosen and both DNS hosts answer it.
      await eventually(
        'DNS answers origin a',
        async () => (await answers(pdns)).join() === A_ADDRESS && (await answers(knot)).join() === A_ADDRESS,
      );
      const status = (await (await fetch(`${http.url}/status`)).json()) as {
        active: string[];
        origins: { state: string }[];
      };
      assert.deepEqual(status.active, ['a']);

      // 2. Nothing changes: nothing is written.
      await watcher.settled();
      const writesBefore = watcher.status().providers.map((provider) => provider.lastWriteAt);
      await new Promise((resolve) => setTimeout(resolve, 1500));
      assert.deepEqual(
        watcher.status().providers.map((provider) => provider.lastWriteAt),
        writesBefore,
        'no DNS write while nothing changes',
      );

      // 3. Origin a stops (connection refused): DNS moves to b.
      await serverA.close();
      await eventually(
        'DNS answers origin b',
        async () => (await answers(pdns)).join() === B_ADDRESS && (await answers(knot)).join() === B_ADDRESS,
      );
      assert.ok(
        watcher.status().events.some((event) => event.kind === 'failover'),
        'a failover event',
      );

      // 4. Origin a comes back on the same address: after hold-down, DNS returns to it.
      const port = Number(new URL(serverA.url).port);
      servers[0] = await startServer({ dir: setup.origins[0]!, host: '127.0.0.2', port });
      await eventually(
        'DNS answers origin a again',
        async () => (await answers(pdns)).join() === A_ADDRESS && (await answers(knot)).join() === A_ADDRESS,
      );
      assert.ok(
        watcher.status().events.some((event) => event.kind === 'failback'),
        'a failback event',
      );

      // 5. The status server: read-only without the token.
      const refused = await fetch(`${http.url}/actions/pause`, { method: 'POST' });
      assert.equal(refused.status, 401);
      assert.equal(watcher.status().paused, false);
      const paused = await fetch(`${http.url}/actions/pause`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}` },
      });
      assert.equal(paused.status, 202);
      assert.equal(watcher.status().paused, true);
      const metrics = await (await fetch(`${http.url}/metrics`)).text();
      assert.match(metrics, /outlast_origin_up\{origin="a"\} 1/);
    } finally {
      await http.close();
      await watcher.stop();
    }

    // 6. A restart finds the records as they should be and writes nothing.
    watcher = new Watcher({ config, logger });
    await watcher.start();
    await eventually('both origins probed', async () =>
      watcher!.status().origins.every((origin) => origin.state === 'up'),
    );
    await watcher.settled();
    assert.deepEqual(
      watcher.status().providers.map((provider) => provider.lastWriteAt),
      [undefined, undefined],
      'the records already match: no write at start',
    );
    assert.equal(watcher.status().paused, true, 'an operator pause survives a restart');
    await watcher.stop();
    watcher = undefined;
  } finally {
    await watcher?.stop();
    for (const server of servers) await server.close().catch(() => undefined);
    setup.cleanup();
  }
});

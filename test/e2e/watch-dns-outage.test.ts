/**
 * Issue 14, item 4: a DNS host down during a failover. PowerDNS's API sits behind the fault proxy
 * and is down for OUTAGE_MS (HTTP 5xx first, then requests that hang until the client's timeout)
 * while the origin in use dies; Knot (RFC 2136) is written at once; PowerDNS is retried with
 * backoff; the watcher is restarted in the middle of the outage and the new one still writes the
 * pending decision when the API is back. "Written" is read from the servers themselves (DNS
 * queries); "once" is counted at PowerDNS (PATCHes the proxy let through, the SOA serial) and at
 * Knot (its SOA serial).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { stringify } from 'yaml';
import { parseConfig } from '../../src/config/load.ts';
import { Watcher } from '../../src/daemon/watcher.ts';
import { runDeploy } from '../../src/deploy/engine.ts';
import { type RunningServer, startServer } from '../../src/serve/server.ts';
import { componentLogger } from '../../src/util/log.ts';
import { eventually } from '../helpers/eventually.ts';
import { FaultProxy } from '../helpers/fault-proxy.ts';
import { setupFsDeploy } from '../helpers/site.ts';
import { type DnsServer, dnsServersForTests, lockZone, query, resetZone } from '../servers/dns.ts';

/** The 30 s: the API is down this long from the moment the origin in use dies. */
const OUTAGE_MS = 30_000;
const NAME = 'www.example.test';
const A_ADDRESS = '192.0.2.10';
const B_ADDRESS = '192.0.2.20';
const SEED = Number(process.env.OUTLAST_TEST_SEED ?? 14_004);

async function answers(server: DnsServer): Promise<string> {
  const result = await query(server, NAME, 'A');
  return result.answers
    .filter((answer) => answer.type === 'A')
    .map((answer) => answer.data)
    .sort()
    .join();
}

async function serial(server: DnsServer): Promise<number> {
  const result = await query(server, server.zone, 'SOA');
  const soa = result.answers.find((answer) => answer.type === 'SOA');
  assert.ok(soa, `${server.kind} answers its SOA`);
  return Number(soa.data.split(' ')[2]);
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

test('PowerDNS down while the origin dies: Knot at once, PowerDNS once when back, across a restart', {
  timeout: 240_000,
}, async () => {
  console.log(`seed ${SEED}; outage ${OUTAGE_MS} ms`);
  const setup = setupFsDeploy({ origins: 2, files: { 'index.html': '<h1>hello</h1>', '404.html': 'nope' } });
  const proxy = new FaultProxy({
    target: { host: '127.0.0.1', port: Number(new URL(pdns.apiUrl!).port) },
    seed: SEED,
    // A stalled request hangs past the provider's 5 s timeout: the API "times out".
    stallMs: 120_000,
  });
  await proxy.start();
  const servers: RunningServer[] = [];
  let watcher: Watcher | undefined;
  try {
    const deployed = await runDeploy({ config: setup.config });
    assert.ok(deployed.origins.every((origin) => !origin.error));
    servers.push(await startServer({ dir: setup.origins[0]!, host: '127.0.0.2', port: 0 }));
    servers.push(await startServer({ dir: setup.origins[1]!, host: '127.0.0.3', port: 0 }));
    const tsig = knot.tsig[0]!;
    const stateDir = join(setup.root, 'state');
    const text = stringify({
      site: { dir: setup.siteDir, hostname: NAME },
      origins: [
        {
          id: 'a',
          storage: { type: 'fs', path: setup.origins[0] },
          url: servers[0]!.url,
          dns: { a: [A_ADDRESS] },
        },
        {
          id: 'b',
          storage: { type: 'fs', path: setup.origins[1] },
          url: servers[1]!.url,
          dns: { a: [B_ADDRESS] },
        },
      ],
      health: { interval: '300ms', retryInterval: '100ms', timeout: '2s', fall: 2, rise: 2 },
      // No failback within the test: the one decision to carry is a → b.
      failover: { policy: 'priority', failback: 'auto', holdDown: '600s' },
      dns: {
        name: NAME,
        ttl: 5,
        providers: [
          { type: 'powerdns', url: proxy.url, zone: pdns.zone, apiKey: pdns.apiKey },
          {
            type: 'rfc2136',
            server: `${knot.host}:${knot.port}`,
            zone: knot.zone,
            tsig: { name: tsig.name, algorithm: tsig.algorithm, secret: tsig.secret },
          },
        ],
      },
      watch: { listen: '127.0.0.1:0', stateDir },
    });
    const { config } = parseConfig(text, join(setup.root, 'outlast.yaml'));
    const logger = componentLogger('test-watch-outage');
    const pdnsDescribed = (w: Watcher) => w.status().providers[0]!;

    watcher = new Watcher({ config, logger });
    await watcher.start();
    await eventually(
      'both hosts answer origin a',
      async () => (await answers(pdns)) === A_ADDRESS && (await answers(knot)) === A_ADDRESS,
    );
    await watcher.settled();
    const serialsBefore = { pdns: await serial(pdns), knot: await serial(knot) };
    const logFrom = proxy.log.length;

    // The outage starts, and the origin in use dies.
    proxy.outage('status');
    const outageStart = Date.now();
    await servers[0]!.close();

    await eventually(
      'Knot answers origin b at once',
      async () => (await answers(knot)) === B_ADDRESS,
      20_000,
    );
    const knotAfterMs = Date.now() - outageStart;
    assert.equal(await answers(pdns), A_ADDRESS, 'PowerDNS, down, still has origin a');
    const first = watcher;
    await eventually(
      'PowerDNS retried three times',
      async () => first.status().events.filter((event) => event.kind === 'dns-error').length >= 3,
      OUTAGE_MS,
    );
    const delays = first
      .status()
      .events.filter((event) => event.kind === 'dns-error')
      .map((event) => Number(/retrying in (\d+) s/.exec(event.message)?.[1]));
    assert.ok(
      delays.every((delay) => Number.isFinite(delay)),
      `retry delays announced: ${delays.join(', ')}`,
    );
    for (let i = 1; i < delays.length; i++) {
      assert.ok(
        delays[i]! >= delays[i - 1]!,
        `backoff: each delay at least the last (${delays.join(', ')} s)`,
      );
    }
    assert.ok(delays.at(-1)! > delays[0]!, `backoff grows (${delays.join(', ')} s)`);
    assert.equal(pdnsDescribed(first).pending, true, 'the PowerDNS write is pending');

    // A restart during the outage; from now on the API hangs instead of answering 5xx.
    await first.stop();
    proxy.outage('stall');
    watcher = new Watcher({ config, logger });
    await watcher.start();
    const second = watcher;
    const restartedAtMs = Date.now() - outageStart;
    assert.ok(restartedAtMs < OUTAGE_MS, `restarted within the outage (at ${restartedAtMs} ms)`);
    assert.ok(
      second.status().events.some((event) => event.kind === 'dns-pending'),
      'the restarted watcher knows the PowerDNS write is pending',
    );
    await eventually(
      'the restarted watcher retries PowerDNS',
      async () => pdnsDescribed(second).attempts >= 1 && pdnsDescribed(second).lastWriteOk === false,
      OUTAGE_MS,
    );
    assert.equal(await answers(pdns), A_ADDRESS, 'PowerDNS still unwritten during the outage');
    assert.equal(await answers(knot), B_ADDRESS);

    // The outage ends after OUTAGE_MS (the scenario's length, not a wait for a condition).
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, outageStart + OUTAGE_MS - Date.now())));
    proxy.outage(undefined);
    const back = Date.now();
    await eventually(
      'PowerDNS answers origin b once back',
      async () => (await answers(pdns)) === B_ADDRESS,
      120_000,
    );
    const writtenAfterBackMs = Date.now() - back;
    await second.settled();
    assert.equal(pdnsDescribed(second).pending, false);

    // Once each: one PATCH reached PowerDNS, each serial moved by one.
    const since = proxy.log.slice(logFrom);
    const patches = since.filter((record) => record.method === 'PATCH');
    const applied = patches.filter((record) => record.fault === 'none');
    const failed = since.filter((record) => record.fault !== 'none');
    assert.equal(applied.length, 1, `one PATCH reached PowerDNS: ${JSON.stringify(patches)}`);
    assert.equal(applied[0]!.status, 204);
    assert.equal((await serial(pdns)) - serialsBefore.pdns, 1, 'PowerDNS written once');
    assert.equal((await serial(knot)) - serialsBefore.knot, 1, 'Knot written once');
    const log = readFileSync(join(stateDir, 'events.jsonl'), 'utf8')
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line) as { kind: string; message: string });
    const failovers = log.filter((event) => event.kind === 'failover');
    assert.equal(failovers.length, 1, 'one decision, made once, across both watchers');
    const dnsWrites = log.filter(
      (event) => event.kind === 'dns' && / now A 5 192\.0\.2\.20$/.test(event.message),
    );
    assert.equal(
      dnsWrites.length,
      2,
      `each host written once: ${dnsWrites.map((e) => e.message).join(' | ')}`,
    );

    console.log(
      `figures: outage ${OUTAGE_MS} ms; Knot written ${knotAfterMs} ms after the origin died; ` +
        `watcher restarted at ${restartedAtMs} ms; PowerDNS written ${writtenAfterBackMs} ms after it was back; ` +
        `failed API requests during the outage ${failed.length} (${JSON.stringify(proxy.counts())}); ` +
        `first watcher's announced retry delays ${delays.join(', ')} s; PATCHes applied ${applied.length}; ` +
        `serials +${(await serial(pdns)) - serialsBefore.pdns} pdns, +${(await serial(knot)) - serialsBefore.knot} knot`,
    );
    await second.stop();
    watcher = undefined;
  } finally {
    await watcher?.stop();
    await proxy.stop();
    for (const server of servers) await server.close().catch(() => undefined);
    setup.cleanup();
  }
});

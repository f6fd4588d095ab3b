/**
 * Native failover on Cloudflare Load Balancing, against the stand-in (test/standins/cloudflare.ts
 * with cloudflare-lb.ts), which checks every request as Cloudflare does and probes the origins
 * with the monitors' semantics, so its answer moves with no watcher running. The origins are
 * small HTTP servers on 127.0.0.2 and 127.0.0.3 serving a release beacon.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { createNativeFailover } from '../../src/dns/native/index.ts';
import { ANY_RELEASE_MATCH, releaseMatch } from '../../src/dns/native/spec.ts';
import type { NativeFailover, NativeSpec } from '../../src/dns/native/types.ts';
import { createCloudflareNative, MARKER } from '../../src/dns/providers/cloudflare-native.ts';
import { cloudflareOptionsSchema } from '../../src/dns/providers/cloudflare-options.ts';
import { isOutlastError } from '../../src/errors.ts';
import { eventually } from '../helpers/eventually.ts';
import { freePort } from '../helpers/ports.ts';
import { type CfZone, CloudflareStandIn } from '../standins/cloudflare.ts';
import { LoadBalancingStandIn } from '../standins/cloudflare-lb.ts';

const TOKEN = 'native-token';
const ZONE = 'example.test';
const NAME = `www.${ZONE}`;
const BEACON = '/.well-known/outlast/release.json';
const R1 = 'r11111111111111111111';
const R2 = 'r22222222222222222222';

/** One origin: an HTTP server serving a beacon of `release`, which can be stopped and started. */
class Origin {
  release = R1;
  port = 0;
  private server: Server | undefined;
  constructor(readonly host: string) {}
  async start(): Promise<void> {
    this.port ||= await freePort(this.host);
    this.server = createServer((req, res) => {
      if (req.url !== BEACON) {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          release: this.release,
          deployedAt: '2024-01-01T00:00:00Z',
          releases: [this.release],
        }),
      );
    });
    await new Promise<void>((resolve) => this.server!.listen(this.port, this.host, resolve));
  }
  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()));
  }
}

describe('native failover on Cloudflare Load Balancing (stand-in), no watcher running', () => {
  const standIn = new CloudflareStandIn();
  const lb = new LoadBalancingStandIn();
  const a = new Origin('127.0.0.2');
  const b = new Origin('127.0.0.3');
  let zone: CfZone;
  let account = '';
  let native: NativeFailover;

  const spec = (release: string | undefined): NativeSpec => ({
    name: NAME,
    ttl: 60,
    policy: 'priority',
    failback: 'auto',
    origins: [a, b].map((origin, index) => ({
      id: index === 0 ? 'a' : 'b',
      checkUrl: `http://${origin.host}:${origin.port}${BEACON}`,
      hostHeader: 'origin.example.net',
      target: { a: [origin.host] },
    })),
    currentRelease: release,
    currentMatch: release === undefined ? undefined : releaseMatch(release),
    anyMatch: ANY_RELEASE_MATCH,
    health: { intervalMs: 5_000, timeoutMs: 2_000, fall: 2, rise: 2, expectStatus: [200] },
  });
  const answer = () => lb.answer(zone.id, NAME);
  const answers = (address: string, pool: RegExp) => async () => {
    const now = answer();
    return now !== undefined && now.addresses.join() === address && pool.test(now.pool);
  };
  const ours = () => ({
    monitors: [...lb.monitors.values()].filter((item) => item.description.startsWith(MARKER)).length,
    pools: [...lb.pools.values()].filter((item) => item.description.startsWith(MARKER)).length,
  });

  before(async () => {
    await standIn.start();
    standIn.extensions.push(lb);
    standIn.addToken(TOKEN);
    zone = standIn.addZone(ZONE);
    account = lb.addAccount();
    lb.intervalMs = 40;
    lb.start(10);
    await a.start();
    await b.start();
    native = createCloudflareNative({
      zone: ZONE,
      zoneId: zone.id,
      apiToken: TOKEN,
      accountId: account,
      baseUrl: standIn.baseUrl,
    });
  });

  after(async () => {
    lb.stop();
    await native.close();
    await Promise.all([a.stop(), b.stop(), standIn.stop()]);
  });

  it('needs accountId with failover: native, and says why', () => {
    const parsed = cloudflareOptionsSchema.safeParse({
      type: 'cloudflare',
      zone: ZONE,
      apiToken: 't',
      failover: 'native',
    });
    assert.equal(parsed.success, false);
    assert.match(parsed.error!.issues[0]!.message, /failover: native needs accountId/);
    assert.deepEqual(parsed.error!.issues[0]!.path, ['accountId']);
    const watcher = cloudflareOptionsSchema.safeParse({ type: 'cloudflare', zone: ZONE, apiToken: 't' });
    assert.equal(watcher.success, true);
    assert.equal(watcher.data!.failover, 'watcher');
  });

  it('is the native failover of a cloudflare provider with failover: native', async () => {
    const config = cloudflareOptionsSchema.parse({
      type: 'cloudflare',
      zone: ZONE,
      zoneId: zone.id,
      apiToken: TOKEN,
      accountId: account,
      baseUrl: standIn.baseUrl,
      failover: 'native',
    });
    const host = await createNativeFailover(config);
    assert.match(
      host.describe(),
      new RegExp(`^cloudflare ${ZONE} \\(load balancing, account ${account}\\)$`),
    );
    await host.close();
  });

  it('provisions monitors, pools and a load balancer; a second plan is empty and reads only', async () => {
    const plan = await native.plan(spec(R1));
    assert.deepEqual(
      plan.changes.map((change) => `${change.action} ${change.what}`),
      [
        'create monitor current:a',
        'create monitor current:b',
        'create monitor any:a',
        'create monitor any:b',
        `create pool outlast-www_example_test-current-a`,
        `create pool outlast-www_example_test-current-b`,
        `create pool outlast-www_example_test-any-a`,
        `create pool outlast-www_example_test-any-b`,
        `create load balancer ${NAME}`,
      ],
    );
    assert.deepEqual(plan.foreign, []);
    assert.ok(
      plan.notes.some((note) => /checks every 10 s \(health.interval is 5 s/.test(note)),
      plan.notes.join('\n'),
    );
    assert.ok(plan.notes.some((note) => /case-insensitively/.test(note)));
    assert.ok(plan.notes.some((note) => /two tiers/.test(note)));
    await native.apply(plan, { force: false });
    assert.deepEqual([...standIn.violations, ...lb.violations], []);

    const monitor = [...lb.monitors.values()].find((item) => item.description.endsWith('current:a'))!;
    assert.equal(monitor.type, 'http');
    assert.equal(monitor.path, BEACON);
    assert.equal(monitor.port, a.port);
    assert.deepEqual(monitor.header, { Host: ['origin.example.net'] });
    assert.equal(monitor.expected_body, `"release":"${R1}"`);
    assert.equal(monitor.expected_codes, '200');
    assert.deepEqual([monitor.interval, monitor.timeout, monitor.retries], [10, 2, 0]);
    assert.deepEqual([monitor.consecutive_down, monitor.consecutive_up], [2, 2]);
    const balancer = [...lb.loadBalancers.values()][0]!;
    const poolNames = balancer.default_pools.map((id) => lb.pools.get(id)!.name);
    assert.deepEqual(poolNames, [
      'outlast-www_example_test-current-a',
      'outlast-www_example_test-current-b',
      'outlast-www_example_test-any-a',
      'outlast-www_example_test-any-b',
    ]);
    assert.equal(balancer.fallback_pool, balancer.default_pools[3]);
    assert.equal(balancer.steering_policy, 'off');
    assert.equal(balancer.proxied, false);
    assert.equal(balancer.ttl, 60);
    const pool = lb.pools.get(balancer.default_pools[0]!)!;
    assert.deepEqual(pool.origins[0], {
      name: 'a-1',
      address: '127.0.0.2',
      enabled: true,
      header: { Host: ['origin.example.net'] },
    });

    const before = standIn.requests.length;
    const again = await native.plan(spec(R1));
    assert.deepEqual(again.changes, [], 'nothing left to change');
    const made = standIn.requests
      .slice(before)
      .map((request) => `${request.method} ${request.path.replace(/[0-9a-f]{32}/g, '{id}')}`);
    assert.deepEqual(made, [
      'GET /client/v4/accounts/{id}/load_balancers/monitors',
      'GET /client/v4/accounts/{id}/load_balancers/pools',
      'GET /client/v4/zones/{id}/load_balancers',
      'GET /client/v4/zones/{id}/dns_records',
    ]);
    await native.apply(again, { force: false });
    assert.equal(standIn.requests.length, before + 4, 'applying an empty plan makes no request');
  });

  it('answers a, moves to b when a dies and back when it returns; pool health says so', async () => {
    await eventually('the load balancer answers a', answers('127.0.0.2', /current-a$/), 10_000);
    await a.stop();
    await eventually('the load balancer answers b', answers('127.0.0.3', /current-b$/), 10_000);
    const poolId = [...lb.pools.values()].find((pool) => pool.name.endsWith('current-a'))!.id;
    const health = await fetch(
      `${standIn.baseUrl}/accounts/${account}/load_balancers/pools/${poolId}/health`,
      {
        headers: { authorization: `Bearer ${TOKEN}` },
      },
    );
    const body = (await health.json()) as { result: { pop_health: { healthy: boolean } } };
    assert.equal(body.result.pop_health.healthy, false);
    await a.start();
    await eventually('the load balancer answers a again', answers('127.0.0.2', /current-a$/), 10_000);
  });

  it("view() reads Cloudflare's pool health of each origin's current-tier pool, and writes nothing", async () => {
    const from = standIn.requests.length;
    const view = () => native.view!(spec(R1));
    await eventually(
      'Cloudflare says a and b up',
      async () => {
        const { origins } = await view();
        return origins.a?.up === true && origins.b?.up === true;
      },
      10_000,
    );
    assert.deepEqual(Object.keys((await view()).origins).sort(), ['a', 'b']);
    await a.stop();
    try {
      await eventually(
        'Cloudflare says a down and b up',
        async () => {
          const { origins } = await view();
          return origins.a?.up === false && origins.b?.up === true;
        },
        10_000,
      );
      assert.match((await view()).origins.a!.detail ?? '', /^pool unhealthy; 127\.0\.0\.2 unhealthy/);
    } finally {
      await a.start();
    }
    await eventually('the load balancer answers a again', answers('127.0.0.2', /current-a$/), 10_000);
    assert.deepEqual(
      standIn.requests
        .slice(from)
        .filter((request) => request.method !== 'GET')
        .map((request) => request.path),
      [],
      'view() only reads',
    );
  });

  it('a release deployed to b only is answered before the stale a, and a is better than nothing', async () => {
    b.release = R2;
    const plan = await native.plan(spec(R2));
    assert.deepEqual(
      plan.changes.map((change) => `${change.action} ${change.what}`),
      ['update monitor current:a', 'update monitor current:b'],
      'only the match moves',
    );
    await native.apply(plan, { force: false });
    assert.deepEqual(lb.violations, []);
    await eventually(
      'the load balancer answers b, on the new release',
      answers('127.0.0.3', /current-b$/),
      10_000,
    );
    await b.stop();
    await eventually('it falls back to a, on any release', answers('127.0.0.2', /any-a$/), 10_000);
    await b.start();
    await eventually('b is answered again', answers('127.0.0.3', /current-b$/), 10_000);
    a.release = R2;
    await eventually('a, on the new release too, is first again', answers('127.0.0.2', /current-a$/), 10_000);
  });

  it('a record at the name that outlast did not write is replaced only with --force', async () => {
    standIn.put(zone.id, NAME, 'A', 300, ['198.51.100.7']);
    const plan = await native.plan(spec(R2));
    assert.deepEqual(plan.foreign, [`A ${NAME} 198.51.100.7, not any origin's target`]);
    await assert.rejects(
      native.apply(plan, { force: false }),
      (error) => isOutlastError(error) && error.code === 'guard_refused',
    );
    assert.deepEqual(standIn.served(zone.id, NAME, 'A'), ['198.51.100.7'], 'left as it was');
    // A record the watcher wrote (an origin's target) goes without --force.
    standIn.put(zone.id, NAME, 'A', 300, ['127.0.0.3']);
    const watcher = await native.plan(spec(R2));
    assert.deepEqual(watcher.foreign, []);
    await native.apply(watcher, { force: false });
    assert.deepEqual(standIn.served(zone.id, NAME, 'A'), []);
    standIn.put(zone.id, NAME, 'A', 300, ['198.51.100.7']);
    await native.apply(await native.plan(spec(R2)), { force: true });
    assert.deepEqual(standIn.served(zone.id, NAME, 'A'), []);
    assert.deepEqual((await native.plan(spec(R2))).changes, []);
  });

  it("a load balancer at the name that is not outlast's is refused, and destroy leaves only what is not outlast's", async () => {
    standIn.put(zone.id, `mail.${ZONE}`, 'A', 300, ['198.51.100.25']);
    const destroy = await native.planDestroy(NAME);
    assert.equal(destroy.changes.length, 9);
    await native.apply(destroy, { force: false });
    assert.deepEqual(ours(), { monitors: 0, pools: 0 });
    assert.equal(lb.loadBalancers.size, 0);
    assert.deepEqual((await native.planDestroy(NAME)).changes, [], 'destroy again: nothing to do');

    // The user's own load balancer at the name, with their own monitor and pool.
    const headers = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' };
    const post = async (path: string, body: unknown) => {
      const response = await fetch(`${standIn.baseUrl}${path}`, {
        method: 'POST',
        headers,
        body: JSON.stringify(body),
      });
      assert.equal(response.status, 200, await response.clone().text());
      return ((await response.json()) as { result: { id: string } }).result.id;
    };
    const monitor = await post(`/accounts/${account}/load_balancers/monitors`, {
      type: 'http',
      description: 'mine',
    });
    const pool = await post(`/accounts/${account}/load_balancers/pools`, {
      name: 'my-pool',
      monitor,
      origins: [{ name: 'x', address: '198.51.100.9' }],
    });
    await post(`/zones/${zone.id}/load_balancers`, {
      name: NAME,
      default_pools: [pool],
      fallback_pool: pool,
      description: 'my own',
    });

    const plan = await native.plan(spec(R2));
    assert.deepEqual(plan.foreign, [`a load balancer at ${NAME} that outlast did not make (my own)`]);
    await assert.rejects(
      native.apply(plan, { force: false }),
      (error) => isOutlastError(error) && error.code === 'guard_refused',
    );
    assert.deepEqual(ours(), { monitors: 0, pools: 0 }, 'nothing made');
    const untouched = await native.planDestroy(NAME);
    assert.deepEqual(untouched.changes, []);
    assert.match(untouched.notes.join('\n'), /not made by outlast: left as it is/);

    await native.apply(plan, { force: true });
    assert.deepEqual(lb.violations, []);
    assert.equal([...lb.loadBalancers.values()][0]!.description, `${MARKER} ${NAME} load-balancer`);
    await native.apply(await native.planDestroy(NAME), { force: false });
    assert.equal(lb.loadBalancers.size, 0);
    assert.deepEqual(
      [...lb.monitors.values()].map((item) => item.description),
      ['mine'],
    );
    assert.deepEqual(
      [...lb.pools.values()].map((item) => item.name),
      ['my-pool'],
    );
    assert.deepEqual(standIn.served(zone.id, `mail.${ZONE}`, 'A'), ['198.51.100.25']);
    assert.deepEqual([...standIn.violations, ...lb.violations], []);
  });
});

/** The cluster's pure parts: the quorum view (src/cluster/quorum.ts) and the shared state (shared-state.ts). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { clusterSchema } from '../../src/cluster/options.ts';
import { type OriginObservation, quorumView, type WatcherView } from '../../src/cluster/quorum.ts';
import { fromShared, toShared } from '../../src/cluster/shared-state.ts';
import { parseConfig } from '../../src/config/load.ts';
import type { Health, MachineState } from '../../src/failover/types.ts';

const ORIGINS = ['a', 'b'];

function view(id: string, states: Record<string, Health | OriginObservation>): WatcherView {
  return {
    id,
    at: '2026-01-01T00:00:00Z',
    origins: Object.fromEntries(
      Object.entries(states).map(([origin, state]) => [
        origin,
        typeof state === 'string' ? { state } : state,
      ]),
    ),
  };
}

const health = (views: WatcherView[], quorum?: number, previous: Record<string, Health> = {}) => {
  const result = quorumView({ views, origins: ORIGINS, quorum, previous });
  return Object.fromEntries(Object.entries(result.origins).map(([id, item]) => [id, item.health]));
};

describe('quorumView', () => {
  it('an origin is down when a majority of the watchers see it down', () => {
    const views = [
      view('w1', { a: 'down', b: 'up' }),
      view('w2', { a: 'down', b: 'up' }),
      view('w3', { a: 'up', b: 'up' }),
    ];
    assert.deepEqual(health(views, undefined, { a: 'up', b: 'up' }), { a: 'down', b: 'up' });
  });

  it('one watcher cut off from one origin moves nothing', () => {
    const views = [
      view('w1', { a: 'up', b: 'up' }),
      view('w2', { a: 'up', b: 'up' }),
      view('w3', { a: 'down', b: 'up' }),
    ];
    const result = quorumView({ views, origins: ORIGINS, quorum: 2, previous: { a: 'up', b: 'up' } });
    assert.equal(result.origins.a!.health, 'up');
    assert.deepEqual([result.origins.a!.up, result.origins.a!.down], [2, 1]);
  });

  it('a watcher that sees every origin down counts for nothing', () => {
    const views = [
      view('w1', { a: 'down', b: 'down' }),
      view('w2', { a: 'up', b: 'up' }),
      view('w3', { a: 'up', b: 'up' }),
    ];
    const result = quorumView({ views, origins: ORIGINS, quorum: undefined, previous: {} });
    assert.deepEqual(result.counted, ['w2', 'w3']);
    assert.equal(result.ignored[0]!.id, 'w1');
    assert.match(result.ignored[0]!.why, /every origin down/);
    assert.equal(result.quorum, 2);
    assert.equal(result.origins.a!.health, 'up');
  });

  it('without a quorum of counted watchers nothing changes, and says so', () => {
    const views = [view('w1', { a: 'down', b: 'up' })];
    const result = quorumView({ views, origins: ORIGINS, quorum: 2, previous: { a: 'up', b: 'up' } });
    assert.equal(result.quorumLost, true);
    assert.equal(result.origins.a!.health, 'up');
  });

  it('between the thresholds the verdict stands (hysteresis), and unknown stays unknown', () => {
    const views = [view('w1', { a: 'down', b: 'unknown' }), view('w2', { a: 'up', b: 'unknown' })];
    assert.deepEqual(health(views, 2, { a: 'down' }), { a: 'down', b: 'unknown' });
    assert.deepEqual(health(views, 2, { a: 'up' }), { a: 'up', b: 'unknown' });
  });

  it('the release is the newest one the watchers that see the origin up report', () => {
    const views = [
      view('w1', { a: { state: 'up', release: 'r1', deployedAt: '2026-01-01T00:00:00Z' }, b: 'up' }),
      view('w2', { a: { state: 'up', release: 'r2', deployedAt: '2026-01-02T00:00:00Z' }, b: 'up' }),
      view('w3', { a: { state: 'down', release: 'r3', deployedAt: '2026-01-03T00:00:00Z' }, b: 'up' }),
    ];
    const result = quorumView({ views, origins: ORIGINS, quorum: undefined, previous: {} });
    assert.equal(result.origins.a!.release, 'r2');
  });

  it('quorum 1 with two watchers that disagree keeps the verdict', () => {
    const views = [view('w1', { a: 'down', b: 'up' }), view('w2', { a: 'up', b: 'up' })];
    assert.deepEqual(health(views, 1, { a: 'up', b: 'up' }), { a: 'up', b: 'up' });
  });
});

describe('shared state', () => {
  const state: MachineState = {
    origins: { a: { id: 'a', health: 'down' }, b: { id: 'b', health: 'up' } },
    active: ['b'],
    changedAt: 10_000,
    paused: false,
    awaitingFailback: true,
    held: { originIds: ['a'], until: 25_000 },
    noHealthySince: 4_000,
    reason: 'a is down',
  };

  it('holds durations, not another machine clock', () => {
    const shared = toShared(state, 20_000, 'w1');
    assert.equal(shared.machine.changedAgoMs, 10_000);
    assert.deepEqual(shared.machine.held, { originIds: ['a'], inMs: 5_000 });
    assert.equal(shared.machine.noHealthyForMs, 16_000);
    assert.ok(!('changedAt' in shared.machine));
    // Read on a machine whose clock is 1,000,000 ms ahead.
    const read = fromShared(JSON.parse(JSON.stringify(shared)), 1_020_000)!;
    assert.equal(read.changedAt, 1_010_000);
    assert.deepEqual(read.held, { originIds: ['a'], until: 1_025_000 });
    assert.equal(read.noHealthySince, 1_004_000);
    assert.deepEqual([read.active, read.awaitingFailback, read.reason], [['b'], true, 'a is down']);
  });

  it('a form it does not know is undefined', () => {
    assert.equal(fromShared({ version: 99, machine: {} }, 0), undefined);
    assert.equal(fromShared('nonsense', 0), undefined);
    assert.equal(fromShared(undefined, 0), undefined);
  });
});

describe('watch.cluster options', () => {
  it('defaults and whole-second leases', () => {
    const parsed = clusterSchema.parse({ id: 'eu-1', etcd: { endpoints: ['http://127.0.0.1:2379'] } });
    assert.equal(parsed.leaseTtl, 5000);
    assert.equal(parsed.quorum, undefined);
    const bad = clusterSchema.safeParse({ etcd: { endpoints: ['http://x:1'] }, leaseTtl: '1500ms' });
    assert.equal(bad.success, false);
    assert.match(bad.error!.issues[0]!.message, /whole seconds, at least 2s/);
    const none = clusterSchema.safeParse({ etcd: { endpoints: [] } });
    assert.match(none.error!.issues[0]!.message, /at least one etcd endpoint/);
  });
});

describe('watch.cluster in a config file', () => {
  const text = (cluster: string) => `site: { dir: ./site, hostname: www.example.test }
origins:
  - { id: a, storage: { type: fs, path: ./a }, url: "http://127.0.0.2", dns: { a: [192.0.2.1] } }
dns: { name: www.example.test, providers: [{ type: memory }] }
watch:
  cluster: ${cluster}
`;

  it("resolves the etcd TLS files against the config's folder", () => {
    const { config } = parseConfig(
      text(
        '{ id: eu-1, etcd: { endpoints: ["https://127.0.0.1:2379"], tls: { ca: ./ca.pem, cert: certs/c.pem, key: /k.pem } } }',
      ),
      '/etc/outlast/outlast.yaml',
    );
    assert.deepEqual(config.watch.cluster!.etcd.tls, {
      ca: '/etc/outlast/ca.pem',
      cert: '/etc/outlast/certs/c.pem',
      key: '/k.pem',
    });
  });

  it('a mistake names the path in the file', () => {
    assert.throws(
      () =>
        parseConfig(text('{ etcd: { endpoints: ["etcd-1:2379"] }, quorum: 0 }'), '/etc/outlast/outlast.yaml'),
      (error: Error) =>
        /outlast\.yaml:6:34 watch\.cluster\.etcd\.endpoints\[0\]: /.test(error.message) &&
        /expected an http\(s\) URL/.test(error.message) &&
        /watch\.cluster\.quorum/.test(error.message),
    );
  });
});

/**
 * The pure planner of native failover on Cloudflare (cloudflare-native-plan.ts), with tables over
 * plain data: what is wanted from a spec, what a plan does against what is held, which things at
 * the name are foreign, and the notes on what Cloudflare rounds. No client, no stand-in.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ANY_RELEASE_MATCH, releaseMatch } from '../../src/dns/native/spec.ts';
import type { NativeSpec } from '../../src/dns/native/types.ts';
import {
  type Held,
  MARKER,
  type Payload,
  partsOf,
  planNative,
  planNativeDestroy,
} from '../../src/dns/providers/cloudflare-native-plan.ts';

const NAME = 'www.example.test';
const R1 = 'r11111111111111111111';

function spec(overrides: Partial<NativeSpec> = {}, health: Partial<NativeSpec['health']> = {}): NativeSpec {
  return {
    name: NAME,
    ttl: 60,
    policy: 'priority',
    failback: 'auto',
    origins: [
      {
        id: 'o0',
        checkUrl: 'https://a.example.test/.well-known/outlast/release.json',
        target: { a: ['192.0.2.10'] },
      },
      {
        id: 'o1',
        checkUrl: 'http://127.0.0.3:8080/beacon?x=1',
        hostHeader: 'b.example.test',
        target: { cname: 'B.Origin.Example.' },
      },
    ],
    currentRelease: R1,
    currentMatch: releaseMatch(R1),
    anyMatch: ANY_RELEASE_MATCH,
    ...overrides,
    health: { intervalMs: 5_000, timeoutMs: 2_000, fall: 3, rise: 2, expectStatus: [200], ...health },
  };
}
const noRelease = () => spec({ currentRelease: undefined, currentMatch: undefined });

const empty = (): Held => ({ monitors: new Map(), pools: new Map(), loadBalancer: undefined, records: [] });

/** What Cloudflare holds after applying the plan for `wanted` (ids m-/p-<key>, the load balancer lb-1). */
function heldAfter(wanted: NativeSpec): Held {
  const held = empty();
  const parts = partsOf(wanted);
  for (const part of parts) {
    held.monitors.set(part.key, { id: `m-${part.key}`, ...part.monitor });
    held.pools.set(part.key, { id: `p-${part.key}`, monitor: `m-${part.key}`, ...part.pool });
  }
  const pools = parts.map((part) => `p-${part.key}`);
  held.loadBalancer = {
    id: 'lb-1',
    name: NAME,
    description: `${MARKER} ${NAME} load-balancer`,
    enabled: true,
    steering_policy: 'off',
    proxied: false,
    ttl: wanted.ttl,
    default_pools: pools,
    fallback_pool: pools[pools.length - 1]!,
  };
  return held;
}

const kinds = (payload: Payload) => payload.steps.map((step) => step.kind);

describe('cloudflare native planner: what is wanted', () => {
  const table: Array<{ name: string; spec: NativeSpec; keys: string[]; bodies: string[] }> = [
    {
      name: 'with a current release: the current tier first, then any release',
      spec: spec(),
      keys: ['current:o0', 'current:o1', 'any:o0', 'any:o1'],
      bodies: [releaseMatch(R1), releaseMatch(R1), ANY_RELEASE_MATCH, ANY_RELEASE_MATCH],
    },
    {
      name: 'with no release known: one tier, any release',
      spec: noRelease(),
      keys: ['any:o0', 'any:o1'],
      bodies: [ANY_RELEASE_MATCH, ANY_RELEASE_MATCH],
    },
  ];
  for (const row of table) {
    it(row.name, () => {
      const parts = partsOf(row.spec);
      assert.deepEqual(
        parts.map((part) => part.key),
        row.keys,
      );
      assert.deepEqual(
        parts.map((part) => part.monitor.expected_body),
        row.bodies,
      );
      for (const part of parts) {
        assert.equal(part.monitor.description, `${MARKER} ${NAME} ${part.key}`);
        assert.equal(part.pool.description, part.monitor.description);
        assert.equal(part.monitor.retries, 0);
        assert.equal(part.monitor.consecutive_down, 3);
        assert.equal(part.monitor.consecutive_up, 2);
      }
    });
  }

  it("takes the type, path, port and Host from each origin's URL, and the pool's origins from its target", () => {
    const [o0, o1] = partsOf(noRelease());
    assert.equal(o0!.monitor.type, 'https');
    assert.equal(o0!.monitor.path, '/.well-known/outlast/release.json');
    assert.equal(o0!.monitor.port, undefined);
    assert.deepEqual(o0!.monitor.header, { Host: ['a.example.test'] });
    assert.deepEqual(
      o0!.pool.origins.map((origin) => origin.address),
      ['192.0.2.10'],
    );
    assert.equal(o0!.pool.name, 'outlast-www_example_test-any-o0');
    assert.equal(o1!.monitor.type, 'http');
    assert.equal(o1!.monitor.path, '/beacon?x=1');
    assert.equal(o1!.monitor.port, 8080);
    assert.deepEqual(o1!.monitor.header, { Host: ['b.example.test'] });
    assert.deepEqual(o1!.pool.origins, [
      { name: 'o1-1', address: 'b.origin.example', enabled: true, header: { Host: ['b.example.test'] } },
    ]);
  });

  const intervals: Array<{ intervalMs: number; timeoutMs: number; interval: number; timeout: number }> = [
    { intervalMs: 5_000, timeoutMs: 2_000, interval: 10, timeout: 2 },
    { intervalMs: 12_200, timeoutMs: 1_200, interval: 13, timeout: 2 },
    { intervalMs: 7_200_000, timeoutMs: 200, interval: 3600, timeout: 1 },
  ];
  for (const row of intervals) {
    it(`rounds interval ${row.intervalMs} ms to ${row.interval} s and timeout ${row.timeoutMs} ms to ${row.timeout} s, and says so`, () => {
      const wanted = spec({}, { intervalMs: row.intervalMs, timeoutMs: row.timeoutMs });
      for (const part of partsOf(wanted)) {
        assert.equal(part.monitor.interval, row.interval);
        assert.equal(part.monitor.timeout, row.timeout);
      }
      const plan = planNative(wanted, empty(), false);
      assert.match(
        plan.notes[0]!,
        new RegExp(`^checks every ${row.interval} s \\(health.interval is ${row.intervalMs / 1000} s;`),
      );
      assert.match(plan.notes[1]!, new RegExp(`^timeout ${row.timeout} s per check`));
      // Two tiers: each origin is checked twice per interval.
      assert.equal(plan.checkerRequestsPerMonth, Math.round((2 * 30 * 86_400) / row.interval));
    });
  }

  const codes: Array<{ expectStatus: number[]; codes: string; noted: boolean }> = [
    { expectStatus: [200], codes: '200', noted: false },
    { expectStatus: [204], codes: '204', noted: false },
    { expectStatus: [200, 204], codes: '2xx', noted: true },
    { expectStatus: [200, 301], codes: '200', noted: true },
  ];
  for (const row of codes) {
    it(`expected_codes ${row.codes} for expectStatus ${row.expectStatus.join(', ')}`, () => {
      const wanted = spec({}, { expectStatus: row.expectStatus });
      assert.deepEqual(
        new Set(partsOf(wanted).map((part) => part.monitor.expected_codes)),
        new Set([row.codes]),
      );
      const note = planNative(wanted, empty(), false).notes.find((line) => line.startsWith('expected_codes'));
      assert.equal(note !== undefined, row.noted);
      if (note)
        assert.ok(note.includes(`${row.codes} for health.expectStatus ${row.expectStatus.join(', ')}`));
    });
  }
});

describe('cloudflare native planner: against what is held', () => {
  it('creates everything in dependency order when nothing is there', () => {
    const plan = planNative(spec(), empty(), false);
    assert.deepEqual(kinds(plan.payload), [
      ...Array(4).fill('monitor'),
      ...Array(4).fill('pool'),
      'load-balancer',
    ]);
    assert.ok(plan.changes.every((change) => change.action === 'create'));
    const lb = plan.payload.steps.at(-1)!;
    assert.ok(lb.kind === 'load-balancer');
    assert.deepEqual(lb.poolKeys, ['current:o0', 'current:o1', 'any:o0', 'any:o1']);
    assert.equal(lb.body.ttl, 60);
    assert.deepEqual(plan.foreign, []);
  });

  it('proxied: no TTL on the load balancer, and the note says proxied', () => {
    const plan = planNative(spec(), empty(), true);
    const lb = plan.payload.steps.at(-1)!;
    assert.ok(lb.kind === 'load-balancer');
    assert.equal(lb.body.proxied, true);
    assert.equal('ttl' in lb.body, false);
    assert.match(plan.notes.at(-1)!, /^proxied:/);
  });

  it('plans nothing once applied, and passes on the held ids', () => {
    const plan = planNative(spec(), heldAfter(spec()), false);
    assert.deepEqual(plan.payload.steps, []);
    assert.deepEqual(plan.changes, []);
    assert.equal(plan.payload.monitorIds['any:o1'], 'm-any:o1');
    assert.equal(plan.payload.poolIds['current:o0'], 'p-current:o0');
  });

  it('updates only the monitor whose check changed', () => {
    const plan = planNative(spec({}, { fall: 5 }), heldAfter(spec()), false);
    assert.deepEqual(kinds(plan.payload), ['monitor', 'monitor', 'monitor', 'monitor']);
    assert.ok(plan.payload.steps.every((step) => step.kind === 'monitor' && step.id === `m-${step.key}`));
    assert.ok(plan.changes.every((change) => change.action === 'update'));
  });

  it('drops the current tier, pools before monitors, when no release is known any more', () => {
    const plan = planNative(noRelease(), heldAfter(spec()), false);
    assert.deepEqual(kinds(plan.payload), [
      'load-balancer',
      'delete-pool',
      'delete-pool',
      'delete-monitor',
      'delete-monitor',
    ]);
    assert.deepEqual(
      plan.payload.steps.filter((step) => step.kind === 'delete-monitor').map((step) => step.id),
      ['m-current:o0', 'm-current:o1'],
    );
  });

  const records: Array<{ name: string; record: { type: string; content: string }; foreign: boolean }> = [
    { name: "the watcher's A record", record: { type: 'A', content: '192.0.2.10' }, foreign: false },
    {
      name: "the watcher's CNAME, any case, trailing dot",
      record: { type: 'CNAME', content: 'B.origin.example.' },
      foreign: false,
    },
    { name: 'an A record to no origin', record: { type: 'A', content: '203.0.113.9' }, foreign: true },
    {
      name: "an origin's address as the wrong type",
      record: { type: 'AAAA', content: '192.0.2.10' },
      foreign: true,
    },
    {
      name: "a CNAME to an origin's address",
      record: { type: 'CNAME', content: '192.0.2.10' },
      foreign: true,
    },
  ];
  for (const row of records) {
    it(`deletes a record at the name: ${row.name}${row.foreign ? ', foreign' : ''}`, () => {
      const held = heldAfter(spec());
      held.records = [{ id: 'rec-1', ...row.record }];
      const plan = planNative(spec(), held, false);
      assert.deepEqual(plan.payload.steps, [{ kind: 'delete-records', ids: ['rec-1'] }]);
      assert.deepEqual(
        plan.foreign,
        row.foreign ? [`${row.record.type} ${NAME} ${row.record.content}, not any origin's target`] : [],
      );
    });
  }

  it('replaces a load balancer outlast did not make, and calls it foreign', () => {
    const held = heldAfter(spec());
    held.loadBalancer = { ...held.loadBalancer!, description: 'made by hand' };
    const plan = planNative(spec(), held, false);
    assert.deepEqual(kinds(plan.payload), ['load-balancer']);
    assert.equal(plan.payload.steps[0]!.kind === 'load-balancer' && plan.payload.steps[0]!.id, 'lb-1');
    assert.deepEqual(plan.foreign, [`a load balancer at ${NAME} that outlast did not make (made by hand)`]);
  });
});

describe('cloudflare native planner: destroy', () => {
  it("removes outlast's load balancer, then its pools, then its monitors", () => {
    const plan = planNativeDestroy(NAME, heldAfter(noRelease()));
    assert.deepEqual(plan.payload.steps, [
      { kind: 'delete-load-balancer', id: 'lb-1' },
      { kind: 'delete-pool', id: 'p-any:o0' },
      { kind: 'delete-pool', id: 'p-any:o1' },
      { kind: 'delete-monitor', id: 'm-any:o0' },
      { kind: 'delete-monitor', id: 'm-any:o1' },
    ]);
    assert.equal(plan.checkerRequestsPerMonth, 0);
    assert.deepEqual(plan.notes, []);
  });

  it('leaves a load balancer outlast did not make, and says so', () => {
    const held = heldAfter(noRelease());
    held.loadBalancer = { ...held.loadBalancer!, description: undefined };
    const plan = planNativeDestroy(NAME, held);
    assert.equal(kinds(plan.payload).includes('delete-load-balancer'), false);
    assert.deepEqual(plan.notes, [`the load balancer at ${NAME} was not made by outlast: left as it is`]);
    assert.deepEqual(plan.foreign, []);
  });
});

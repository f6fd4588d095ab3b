// The pure planner of native failover on Route 53 (src/dns/providers/route53-native-plan.ts and
// route53-native-checks.ts), with tables and no Route 53 at all: the failover chain for 1 to 3
// origins with and without a current release, how health.interval and health.fall are rounded and
// noted, which sets at the name are foreign, and that planning what a plan made is empty.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { HealthCheck, ResourceRecordSet } from '@aws-sdk/client-route-53';
import type { NativeSpec } from '../../src/dns/native/types.ts';
import { notesFor, rolesOf } from '../../src/dns/providers/route53-native-checks.ts';
import {
  failoverSets,
  type Held,
  intentOf,
  planFailover,
  withCheckIds,
} from '../../src/dns/providers/route53-native-plan.ts';
import { isOutlastError } from '../../src/errors.ts';

const NAME = 'www.example.com';

function spec(origins: number, release: string | undefined, change: Partial<NativeSpec> = {}): NativeSpec {
  return {
    name: NAME,
    ttl: 60,
    policy: 'priority',
    failback: 'auto',
    origins: Array.from({ length: origins }, (_, index) => ({
      id: `o${index + 1}`,
      checkUrl: `http://o${index + 1}.example.net/.well-known/outlast.json`,
      target: { a: [`192.0.2.${index + 1}`] },
    })),
    currentRelease: release,
    currentMatch: release === undefined ? undefined : `"release":"${release}"`,
    anyMatch: '"outlast":',
    health: { intervalMs: 10_000, timeoutMs: 5_000, fall: 3, rise: 3, expectStatus: [200] },
    ...change,
  };
}

function health(change: Partial<NativeSpec['health']>): Partial<NativeSpec> {
  return { health: { ...spec(1, undefined).health, ...change } };
}

/** Each set as `name failover identifier → what it answers`, checked legs with their check. */
function chainOf(sets: ResourceRecordSet[]): string[] {
  return sets.map((set) => {
    const answer = set.AliasTarget
      ? `alias ${set.AliasTarget.DNSName}`
      : `${set.ResourceRecords!.map((record) => record.Value).join(',')}${set.HealthCheckId ? ` [${set.HealthCheckId}]` : ''}`;
    return `${set.Name} ${set.Failover} ${set.SetIdentifier} → ${answer}`;
  });
}

function empty(): Held {
  return { zoneId: 'Z1', checks: [], sets: [] };
}

describe('route53 native planner: the failover chain', () => {
  const cases: Array<{ origins: number; release?: string; chain: string[] }> = [
    {
      origins: 1,
      chain: [
        'www.example.com. PRIMARY outlast-o1-any → 192.0.2.1 [o1-any]',
        'www.example.com. SECONDARY outlast-o1-fallback → 192.0.2.1',
      ],
    },
    {
      origins: 2,
      chain: [
        'www.example.com. PRIMARY outlast-o1-any → 192.0.2.1 [o1-any]',
        'www.example.com. SECONDARY outlast-o2-any → 192.0.2.2 [o2-any]',
      ],
    },
    {
      origins: 2,
      release: 'r2',
      chain: [
        'www.example.com. PRIMARY outlast-o1-current → 192.0.2.1 [o1-current]',
        'www.example.com. SECONDARY outlast-next → alias _outlast-1.www.example.com.',
        '_outlast-1.www.example.com. PRIMARY outlast-o2-current → 192.0.2.2 [o2-current]',
        '_outlast-1.www.example.com. SECONDARY outlast-next → alias _outlast-2.www.example.com.',
        '_outlast-2.www.example.com. PRIMARY outlast-o1-any → 192.0.2.1 [o1-any]',
        '_outlast-2.www.example.com. SECONDARY outlast-o2-any → 192.0.2.2 [o2-any]',
      ],
    },
    {
      origins: 3,
      chain: [
        'www.example.com. PRIMARY outlast-o1-any → 192.0.2.1 [o1-any]',
        'www.example.com. SECONDARY outlast-next → alias _outlast-1.www.example.com.',
        '_outlast-1.www.example.com. PRIMARY outlast-o2-any → 192.0.2.2 [o2-any]',
        '_outlast-1.www.example.com. SECONDARY outlast-o3-any → 192.0.2.3 [o3-any]',
      ],
    },
    {
      origins: 3,
      release: 'r2',
      chain: [
        'www.example.com. PRIMARY outlast-o1-current → 192.0.2.1 [o1-current]',
        'www.example.com. SECONDARY outlast-next → alias _outlast-1.www.example.com.',
        '_outlast-1.www.example.com. PRIMARY outlast-o2-current → 192.0.2.2 [o2-current]',
        '_outlast-1.www.example.com. SECONDARY outlast-next → alias _outlast-2.www.example.com.',
        '_outlast-2.www.example.com. PRIMARY outlast-o3-current → 192.0.2.3 [o3-current]',
        '_outlast-2.www.example.com. SECONDARY outlast-next → alias _outlast-3.www.example.com.',
        '_outlast-3.www.example.com. PRIMARY outlast-o1-any → 192.0.2.1 [o1-any]',
        '_outlast-3.www.example.com. SECONDARY outlast-next → alias _outlast-4.www.example.com.',
        '_outlast-4.www.example.com. PRIMARY outlast-o2-any → 192.0.2.2 [o2-any]',
        '_outlast-4.www.example.com. SECONDARY outlast-o3-any → 192.0.2.3 [o3-any]',
      ],
    },
  ];
  for (const { origins, release, chain } of cases) {
    it(`${origins} origin(s), ${release ? 'a current release' : 'no release yet'}`, () => {
      const wanted = spec(origins, release);
      const sets = failoverSets(
        wanted,
        'Z1',
        ['A', 'AAAA'],
        rolesOf(wanted),
        (role) => `${role.origin.id}-${role.tier}`,
      );
      assert.deepEqual(chainOf(sets), chain);
      // Every alias evaluates the health of what it points at, in the same zone.
      for (const set of sets.filter((item) => item.AliasTarget)) {
        assert.deepEqual(set.AliasTarget, {
          ...set.AliasTarget,
          HostedZoneId: 'Z1',
          EvaluateTargetHealth: true,
        });
      }
    });
  }

  it('from nothing: one check per origin and tier, and a batch that creates aliases after their targets', () => {
    const planned = planFailover(spec(2, 'r2'), intentOf(spec(2, 'r2')), empty(), () => 'n0nce');
    assert.equal(planned.payload.creates.length, 4);
    assert.ok(planned.payload.creates.every((create) => create.reference.endsWith(`${create.role}-n0nce`)));
    assert.ok(planned.payload.batch.every((change) => change.Action === 'CREATE'));
    const names = planned.payload.batch.map((change) => change.ResourceRecordSet!.Name);
    assert.deepEqual(names, [
      '_outlast-2.www.example.com.',
      '_outlast-2.www.example.com.',
      '_outlast-1.www.example.com.',
      '_outlast-1.www.example.com.',
      'www.example.com.',
      'www.example.com.',
    ]);
    assert.equal(planned.checkerRequestsPerMonth, Math.round((2 * 3 * 30 * 86_400) / 10));
    assert.ok(planned.notes.some((note) => note.startsWith('a new health check counts as healthy')));
  });

  it('planning again what a plan made changes nothing', () => {
    const wanted = spec(3, 'r2');
    const first = planFailover(wanted, intentOf(wanted), empty(), () => 'n0nce');
    const ids = new Map(first.payload.creates.map((create, index) => [create.role, `HC${index}`]));
    const checks: HealthCheck[] = first.payload.creates.map((create) => ({
      Id: ids.get(create.role)!,
      CallerReference: create.reference,
      HealthCheckConfig: create.config,
      HealthCheckVersion: 1,
    }));
    const sets = first.payload.batch.map((change) => withCheckIds(change, ids).ResourceRecordSet!);
    assert.ok(sets.every((set) => !set.HealthCheckId?.startsWith('new:')));
    const again = planFailover(wanted, intentOf(wanted), { zoneId: 'Z1', checks, sets }, () => 'other');
    assert.deepEqual(again.changes, []);
    assert.deepEqual(again.payload.batch, []);
    assert.deepEqual(again.payload.creates, []);
    assert.deepEqual(again.payload.deletes, []);
    assert.equal(
      again.notes.some((note) => note.startsWith('a new health check')),
      false,
    );

    // A new release changes only the search string of the current tier's checks: updates in place.
    const next = spec(3, 'r3');
    const moved = planFailover(next, intentOf(next), { zoneId: 'Z1', checks, sets }, () => 'other');
    assert.equal(moved.payload.updates.length, 3);
    assert.ok(moved.payload.updates.every((update) => update.SearchString === '"release":"r3"'));
    assert.deepEqual(moved.payload.creates, []);
    assert.deepEqual(moved.payload.batch, []);
  });
});

describe('route53 native planner: RequestInterval and FailureThreshold', () => {
  const cases: Array<{
    health: Partial<NativeSpec['health']>;
    interval: 10 | 30;
    threshold: number;
    said: RegExp[];
    unsaid: RegExp[];
  }> = [
    { health: { intervalMs: 10_000 }, interval: 10, threshold: 3, said: [], unsaid: [/^checks every/] },
    {
      health: { intervalMs: 5_000 },
      interval: 10,
      threshold: 3,
      said: [/^checks every 10 s .*is 5 s/],
      unsaid: [],
    },
    {
      health: { intervalMs: 20_000 },
      interval: 10,
      threshold: 3,
      said: [/^checks every 10 s .*is 20 s/],
      unsaid: [],
    },
    { health: { intervalMs: 20_001 }, interval: 30, threshold: 3, said: [/^checks every 30 s/], unsaid: [] },
    { health: { intervalMs: 30_000 }, interval: 30, threshold: 3, said: [], unsaid: [/^checks every/] },
    {
      health: { intervalMs: 60_000 },
      interval: 30,
      threshold: 3,
      said: [/^checks every 30 s .*is 60 s/],
      unsaid: [],
    },
    {
      health: { fall: 3, rise: 3 },
      interval: 10,
      threshold: 3,
      said: [/^FailureThreshold 3: .* after 3 passing ones$/],
      unsaid: [/cannot be set apart/, /more than Route 53's 10/],
    },
    {
      health: { fall: 3, rise: 2 },
      interval: 10,
      threshold: 3,
      said: [/^FailureThreshold 3: .*\(health\.rise 2 cannot be set apart\)$/],
      unsaid: [/more than Route 53's 10/],
    },
    {
      health: { fall: 12, rise: 10 },
      interval: 10,
      threshold: 10,
      said: [/^FailureThreshold 10: .*\(health\.fall 12 is more than Route 53's 10\)$/],
      unsaid: [/cannot be set apart/],
    },
    {
      health: { fall: 12, rise: 12 },
      interval: 10,
      threshold: 10,
      said: [/health\.fall 12 is more than Route 53's 10\) \(health\.rise 12 cannot be set apart\)$/],
      unsaid: [],
    },
    { health: { fall: 0, rise: 1 }, interval: 10, threshold: 1, said: [/^FailureThreshold 1: /], unsaid: [] },
  ];
  for (const { health: change, interval, threshold, said, unsaid } of cases) {
    it(JSON.stringify(change), () => {
      const wanted = spec(2, 'r1', health(change));
      const roles = rolesOf(wanted);
      assert.equal(roles.length, 4);
      for (const role of roles) {
        assert.equal(role.config.RequestInterval, interval);
        assert.equal(role.config.FailureThreshold, threshold);
      }
      const notes = notesFor(wanted, false);
      for (const pattern of said)
        assert.ok(
          notes.some((note) => pattern.test(note)),
          `${pattern} in ${notes}`,
        );
      for (const pattern of unsaid) assert.ok(!notes.some((note) => pattern.test(note)), `no ${pattern}`);
      const perMonth = planFailover(wanted, intentOf(wanted), empty(), () => 'n').checkerRequestsPerMonth;
      assert.equal(perMonth, Math.round((2 * 3 * 30 * 86_400) / interval));
    });
  }
});

describe('route53 native planner: what at the name is foreign', () => {
  const plain = (values: string[], extra: Partial<ResourceRecordSet> = {}): ResourceRecordSet => ({
    Name: `${NAME}.`,
    Type: 'A',
    TTL: 300,
    ResourceRecords: values.map((value) => ({ Value: value })),
    ...extra,
  });
  const cases: Array<{ what: string; set: ResourceRecordSet; foreign: boolean; deleted: boolean }> = [
    { what: "the watcher's set for o1", set: plain(['192.0.2.1']), foreign: false, deleted: true },
    { what: "the watcher's set for o2", set: plain(['192.0.2.2']), foreign: false, deleted: true },
    { what: 'a plain set of another address', set: plain(['198.51.100.7']), foreign: true, deleted: true },
    { what: 'both origins at once', set: plain(['192.0.2.1', '192.0.2.2']), foreign: true, deleted: true },
    {
      what: "a weighted set of o1's address, not outlast's",
      set: plain(['192.0.2.1'], { SetIdentifier: 'blue', Weight: 1 }),
      foreign: true,
      deleted: true,
    },
    {
      what: 'an alias at the name',
      set: {
        Name: `${NAME}.`,
        Type: 'A',
        AliasTarget: { HostedZoneId: 'Z9', DNSName: 'lb.example.net.', EvaluateTargetHealth: false },
      },
      foreign: true,
      deleted: true,
    },
    {
      what: "a stale set of outlast's",
      set: plain(['192.0.2.9'], { SetIdentifier: 'outlast-o9-any', Failover: 'PRIMARY' }),
      foreign: false,
      deleted: true,
    },
    {
      what: 'a TXT at the name (not a managed type)',
      set: { Name: `${NAME}.`, Type: 'TXT', TTL: 300, ResourceRecords: [{ Value: '"v=spf1 -all"' }] },
      foreign: false,
      deleted: false,
    },
    {
      what: 'a set at another name below',
      set: { ...plain(['198.51.100.7']), Name: `api.${NAME}.` },
      foreign: false,
      deleted: false,
    },
  ];
  for (const { what, set, foreign, deleted } of cases) {
    it(what, () => {
      const wanted = spec(2, undefined);
      const planned = planFailover(wanted, intentOf(wanted), { ...empty(), sets: [set] }, () => 'n');
      assert.equal(planned.foreign.length, foreign ? 1 : 0, planned.foreign.join('; '));
      const deletes = planned.payload.batch.filter((change) => change.Action === 'DELETE');
      assert.deepEqual(
        deletes.map((change) => change.ResourceRecordSet),
        deleted ? [set] : [],
      );
      // The deletes come first in the one batch.
      assert.ok(planned.payload.batch.slice(0, deletes.length).every((change) => change.Action === 'DELETE'));
    });
  }
});

describe('route53 native planner: invalid_config before anything is read', () => {
  const cases: Array<{ what: string; spec: NativeSpec; message: RegExp }> = [
    {
      what: 'a cname origin beside address origins',
      spec: (() => {
        const mixed = spec(2, undefined);
        mixed.origins[1] = { ...mixed.origins[1]!, target: { cname: 'o2.example.net' } };
        return mixed;
      })(),
      message: /o2 use cname, the others addresses/,
    },
    {
      what: 'a loopback address in the url',
      spec: (() => {
        const local = spec(2, undefined);
        local.origins[0] = {
          ...local.origins[0]!,
          checkUrl: 'http://127.0.0.1:8080/.well-known/outlast.json',
        };
        return local;
      })(),
      message: /o1's url has the address 127\.0\.0\.1, which Route 53 does not check/,
    },
  ];
  for (const { what, spec: wanted, message } of cases) {
    it(what, () => {
      assert.throws(
        () => intentOf(wanted),
        (error: unknown) =>
          isOutlastError(error) && error.code === 'invalid_config' && message.test(error.message),
      );
    });
  }

  it('a CNAME chain beside a TXT at the name, once read', () => {
    const cnames = spec(2, undefined);
    cnames.origins = cnames.origins.map((origin) => ({
      ...origin,
      target: { cname: `${origin.id}.example.net` },
    }));
    const txt: ResourceRecordSet = {
      Name: `${NAME}.`,
      Type: 'TXT',
      TTL: 300,
      ResourceRecords: [{ Value: '"x"' }],
    };
    const intent = intentOf(cnames);
    assert.deepEqual(intent.types, ['CNAME']);
    assert.throws(
      () => planFailover(cnames, intent, { ...empty(), sets: [txt] }, () => 'n'),
      (error: unknown) => isOutlastError(error) && /a CNAME cannot sit beside the TXT/.test(error.message),
    );
  });
});

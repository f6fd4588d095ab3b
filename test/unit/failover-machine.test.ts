import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  choose,
  type Effect,
  initialState,
  type MachineConfig,
  type MachineEvent,
  type MachineState,
  machineConfig,
  step,
} from '../../src/failover/machine.ts';

// Times are written in seconds and converted: the machine works in milliseconds.
const ms = (seconds: number) => seconds * 1000;
/** r1 was deployed at second 1 of the year, r2 at second 2, …: a later release is a newer deploy. */
const deployedAt = (release: string) =>
  new Date(Date.UTC(2026, 0, 1, 0, 0, Number(release.slice(1)))).toISOString();

const up = (id: string, at: number, release?: string): MachineEvent => ({
  type: 'health',
  at: ms(at),
  originId: id,
  health: 'up',
  ...(release === undefined ? {} : { release, deployedAt: deployedAt(release) }),
});
const down = (id: string, at: number): MachineEvent => ({
  type: 'health',
  at: ms(at),
  originId: id,
  health: 'down',
});
const tick = (at: number): MachineEvent => ({ type: 'tick', at: ms(at) });
const observed = (at: number, ...active: string[]): MachineEvent => ({
  type: 'observed',
  at: ms(at),
  active,
});
const force = (at: number, ...originIds: string[]): MachineEvent => ({
  type: 'force',
  at: ms(at),
  originIds,
});
const failback = (at: number): MachineEvent => ({ type: 'failback', at: ms(at) });
const pause = (at: number): MachineEvent => ({ type: 'pause', at: ms(at) });
const resume = (at: number): MachineEvent => ({ type: 'resume', at: ms(at) });

const base: MachineConfig = {
  policy: 'priority',
  order: ['a', 'b', 'c'],
  failback: 'auto',
  holdDownMs: ms(60),
};
const allHealthy: Partial<MachineConfig> = { policy: 'all-healthy' };
const manual: Partial<MachineConfig> = { failback: 'manual' };
/** Every origin up on r1 at t=0: a priority machine then routes to a, an all-healthy one to all. */
const allUp = [up('a', 0, 'r1'), up('b', 0, 'r1'), up('c', 0, 'r1')];

/** One step: the event, `active` after it, its effects (`route:a,b` or a timeline kind), and extra checks. */
type Step = [event: MachineEvent, active: string[], effects: string[], expect?: Partial<MachineState>];
interface Case {
  name: string;
  config?: Partial<MachineConfig>;
  /** Applied first; their results are not checked. */
  given?: MachineEvent[];
  steps: Step[];
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}

/** `step` on a deep-frozen state (a mutation throws), checked to be deterministic. */
function frozenStep(config: MachineConfig, state: MachineState, event: MachineEvent) {
  const input = deepFreeze(structuredClone(state));
  const result = step(config, input, event);
  assert.deepEqual(step(config, input, event), result, 'step is deterministic');
  assert.deepEqual(input, state, 'the input state is unchanged');
  return result;
}

function summary(effects: Effect[]): string[] {
  return effects.map((effect) =>
    effect.type === 'route' ? `route:${effect.originIds.join(',')}` : effect.event.kind,
  );
}

function run(config: MachineConfig, events: MachineEvent[], state = initialState(config)): MachineState {
  return events.reduce((current, event) => frozenStep(config, current, event).state, state);
}

const cases: Case[] = [
  {
    name: 'unknown at start: waits until every origin is known',
    steps: [
      [up('b', 0), [], ['health']],
      [down('c', 1), [], ['health']],
      [up('a', 2), ['a'], ['health', 'route:a', 'route']],
    ],
  },
  {
    name: 'unknown at start: the preferred origin up decides without waiting for the standbys',
    steps: [[up('a', 0), ['a'], ['health', 'route:a', 'route']]],
  },
  {
    name: 'unknown at start: a dead preferred origin and an up second choice decide; c is not waited for',
    steps: [
      [down('a', 0), [], ['health']],
      [up('b', 1), ['b'], ['health', 'route:b', 'route']],
    ],
  },
  {
    name: 'unknown at start, all-healthy: waits for the whole set',
    config: allHealthy,
    steps: [
      [up('a', 0), [], ['health']],
      [up('b', 1), [], ['health']],
      [down('c', 2), ['a', 'b'], ['health', 'route:a,b', 'route']],
    ],
  },
  {
    name: 'observed = choice: no write',
    steps: [
      [observed(0, 'a'), ['a'], []],
      [up('a', 1), ['a'], ['health']],
      [up('b', 2), ['a'], ['health']],
    ],
  },
  {
    name: 'observed ≠ choice: routes at once (an observation starts no hold-down)',
    steps: [
      [observed(0, 'b'), ['b'], []],
      [up('a', 1), ['a'], ['health', 'route:a', 'route']],
    ],
  },
  {
    name: 'observed nothing: the first decision routes',
    steps: [
      [observed(0), [], []],
      [up('a', 1), ['a'], ['health', 'route:a', 'route']],
    ],
  },
  {
    name: 'observed a dead origin: fails over as soon as something is up, unknowns notwithstanding',
    steps: [
      [observed(0, 'a'), ['a'], []],
      [down('a', 1), ['a'], ['health']],
      [up('c', 2), ['c'], ['health', 'route:c', 'failover']],
    ],
  },
  {
    name: 'priority: failover is immediate; auto failback waits for hold-down and a tick applies it',
    given: allUp,
    steps: [
      [down('a', 100), ['b'], ['health', 'route:b', 'failover'], { changedAt: ms(100) }],
      [up('a', 110), ['b'], ['health', 'held-down'], { held: { originIds: ['a'], until: ms(160) } }],
      [tick(130), ['b'], []],
      [down('a', 131), ['b'], ['health']],
      [up('a', 132), ['b'], ['health'], { held: { originIds: ['a'], until: ms(160) } }],
      [tick(159.999), ['b'], []],
      [tick(160), ['a'], ['route:a', 'failback'], { held: undefined }],
    ],
  },
  {
    name: 'priority: a recovery after the window fails back at once',
    given: allUp,
    steps: [
      [down('a', 100), ['b'], ['health', 'route:b', 'failover']],
      [up('a', 170), ['a'], ['health', 'route:a', 'failback']],
    ],
  },
  {
    name: 'priority: the second choice fails too: on to the third, then back to the first after hold-down',
    given: allUp,
    steps: [
      [down('a', 100), ['b'], ['health', 'route:b', 'failover']],
      [down('b', 110), ['c'], ['health', 'route:c', 'failover']],
      [up('b', 120), ['c'], ['health', 'held-down']],
      [up('a', 130), ['c'], ['health', 'held-down']],
      [tick(170), ['a'], ['route:a', 'failback']],
    ],
  },
  {
    name: 'manual failback: stays after recovery until a failback event, which ignores hold-down',
    config: manual,
    given: allUp,
    steps: [
      [down('a', 100), ['b'], ['health', 'route:b', 'failover'], { awaitingFailback: true }],
      [up('a', 110), ['b'], ['health', 'held-down'], { held: { originIds: ['a'] } }],
      [tick(1000), ['b'], []],
      [failback(1001), ['a'], ['route:a', 'failback'], { awaitingFailback: false }],
      [down('a', 1010), ['b'], ['health', 'route:b', 'failover'], { awaitingFailback: true }],
      [up('a', 1011), ['b'], ['health', 'held-down']],
      [failback(1012), ['a'], ['route:a', 'failback']],
    ],
  },
  {
    name: 'manual failback: a failure that lands back on the preferred origin ends the wait',
    config: manual,
    given: allUp,
    steps: [
      [down('a', 100), ['b'], ['health', 'route:b', 'failover'], { awaitingFailback: true }],
      [up('a', 110), ['b'], ['health', 'held-down']],
      [down('b', 120), ['a'], ['health', 'route:a', 'failover'], { awaitingFailback: false }],
    ],
  },
  {
    name: 'manual failback: the wait survives the standby being the only choice',
    config: manual,
    given: allUp,
    steps: [
      [down('a', 100), ['b'], ['health', 'route:b', 'failover'], { awaitingFailback: true }],
      [tick(500), ['b'], [], { awaitingFailback: true }],
      [up('a', 501), ['b'], ['health', 'held-down']],
    ],
  },
  {
    name: 'manual failback: a failback with nothing better says so and writes nothing',
    config: manual,
    given: allUp,
    steps: [
      [failback(10), ['a'], ['failback']],
      [pause(20), ['a'], ['paused'], { paused: true }],
      [failback(30), ['a'], ['resumed', 'failback'], { paused: false }],
    ],
  },
  {
    name: 'all-healthy: remove at once, add back after hold-down',
    config: allHealthy,
    given: allUp,
    steps: [
      [down('b', 100), ['a', 'c'], ['health', 'route:a,c', 'failover']],
      [up('b', 110), ['a', 'c'], ['health', 'held-down']],
      [tick(160), ['a', 'b', 'c'], ['route:a,b,c', 'failback']],
    ],
  },
  {
    name: 'all-healthy: a removal does not add a held origin early; its hold restarts',
    config: allHealthy,
    given: allUp,
    steps: [
      [down('b', 100), ['a', 'c'], ['health', 'route:a,c', 'failover']],
      [
        up('b', 110),
        ['a', 'c'],
        ['health', 'held-down'],
        { held: { originIds: ['a', 'b', 'c'], until: ms(160) } },
      ],
      [
        down('c', 120),
        ['a'],
        ['health', 'route:a', 'failover', 'held-down'],
        { held: { originIds: ['a', 'b'], until: ms(180) } },
      ],
      [tick(170), ['a'], []],
      [tick(180), ['a', 'b'], ['route:a,b', 'failback']],
    ],
  },
  {
    name: 'all-healthy manual: removed origins come back only on failback',
    config: { ...allHealthy, ...manual },
    given: allUp,
    steps: [
      [down('c', 100), ['a', 'b'], ['health', 'route:a,b', 'failover'], { awaitingFailback: true }],
      [up('c', 110), ['a', 'b'], ['health', 'held-down']],
      [tick(500), ['a', 'b'], []],
      [failback(501), ['a', 'b', 'c'], ['route:a,b,c', 'failback'], { awaitingFailback: false }],
    ],
  },
  {
    name: 'degraded: the origins on the new release go down; the old release is served, loudly, once',
    given: allUp,
    steps: [
      [up('a', 100, 'r2'), ['a'], ['release'], { currentRelease: 'r2' }],
      [down('a', 110), ['b'], ['health', 'route:b', 'failover', 'degraded']],
      [tick(120), ['b'], []],
      [down('b', 121), ['c'], ['health', 'route:c', 'failover', 'degraded']],
      [up('b', 122, 'r1'), ['c'], ['health', 'held-down']],
      // Back on the current release: leaving a knowingly degraded origin is a better choice, held.
      [up('a', 130, 'r2'), ['c'], ['health', 'held-down']],
      [tick(181), ['a'], ['route:a', 'failback'], { degraded: undefined }],
    ],
  },
  {
    name: 'degraded all-healthy: serves only the newest release among the up origins, never a mix',
    config: allHealthy,
    given: [up('a', 0, 'r3'), up('b', 0, 'r2'), up('c', 0, 'r1')],
    steps: [
      [
        down('a', 100),
        ['b'],
        ['health', 'route:b', 'failover', 'degraded'],
        { degraded: { originIds: ['b'], release: 'r2', currentRelease: 'r3' } },
      ],
    ],
  },
  {
    name: 'degraded from the start: an old release everywhere still gets served',
    given: [down('a', 0), up('b', 0, 'r1'), up('c', 0, 'r1')],
    steps: [[up('a', 1, 'r2'), ['a'], ['health', 'release', 'route:a', 'failover']]],
  },
  {
    name: 'none up: no route, one event per episode',
    given: allUp,
    steps: [
      [down('a', 100), ['b'], ['health', 'route:b', 'failover']],
      [down('b', 101), ['c'], ['health', 'route:c', 'failover']],
      [down('c', 102), ['c'], ['health', 'no-healthy-origin'], { noHealthySince: ms(102) }],
      [tick(103), ['c'], []],
      [tick(400), ['c'], []],
      [up('b', 500), ['b'], ['health', 'route:b', 'failover'], { noHealthySince: undefined }],
      [down('b', 510), ['b'], ['health', 'no-healthy-origin']],
    ],
  },
  {
    name: 'none up at start: nothing to route, one event',
    steps: [
      [down('a', 0), [], ['health']],
      [down('b', 0), [], ['health']],
      [down('c', 0), [], ['health', 'no-healthy-origin']],
      [tick(10), [], []],
    ],
  },
  {
    name: 'a new release reaches b first: moving off a stale a is immediate, the return is held',
    given: allUp,
    steps: [
      [up('b', 100, 'r2'), ['b'], ['release', 'route:b', 'failover'], { currentRelease: 'r2' }],
      [up('a', 105, 'r2'), ['b'], ['held-down']],
      [up('c', 106, 'r2'), ['b'], []],
      [tick(160), ['a'], ['route:a', 'failback']],
    ],
  },
  {
    name: 'a new release with manual failback: a stale origin did not fail, so the return is automatic',
    config: manual,
    given: allUp,
    steps: [
      [up('b', 100, 'r2'), ['b'], ['release', 'route:b', 'failover'], { awaitingFailback: false }],
      [up('a', 105, 'r2'), ['b'], ['held-down']],
      [tick(160), ['a'], ['route:a', 'failback']],
    ],
  },
  {
    name: 'a new release on the active origin first: nothing moves',
    given: allUp,
    steps: [
      [up('a', 100, 'r2'), ['a'], ['release']],
      [up('b', 101, 'r2'), ['a'], []],
    ],
  },
  {
    name: 'all-healthy, a new release on a first: the stale origins leave at once and return after hold-down',
    config: allHealthy,
    given: allUp,
    steps: [
      [up('a', 100, 'r2'), ['a'], ['release', 'route:a', 'failover']],
      [up('b', 101, 'r2'), ['a'], ['held-down']],
      [up('c', 102, 'r2'), ['a'], ['held-down']],
      [tick(160), ['a', 'b', 'c'], ['route:a,b,c', 'failback']],
    ],
  },
  {
    name: 'force: routes at once even to a down origin, pauses; resume moves away from it at once',
    given: [...allUp, down('c', 50)],
    steps: [
      [force(100, 'c'), ['c'], ['route:c', 'forced'], { paused: true }],
      [down('a', 110), ['c'], ['health']],
      [tick(130), ['c'], []],
      [resume(140), ['b'], ['resumed', 'route:b', 'failover'], { paused: false }],
    ],
  },
  {
    name: 'force then resume: hold-down counts from the force',
    given: allUp,
    steps: [
      [force(100, 'b'), ['b'], ['route:b', 'forced']],
      [resume(110), ['b'], ['resumed', 'held-down']],
      [tick(160), ['a'], ['route:a', 'failback']],
    ],
  },
  {
    name: 'force: ids not configured are dropped; none left changes nothing',
    given: allUp,
    steps: [
      [force(100, 'x'), ['a'], ['forced'], { paused: false }],
      [force(101, 'c', 'x', 'b'), ['b', 'c'], ['route:b,c', 'forced'], { paused: true }],
    ],
  },
  {
    name: 'pause: health is tracked, nothing routes; resume fails over at once',
    given: allUp,
    steps: [
      [pause(100), ['a'], ['paused'], { paused: true }],
      [pause(101), ['a'], []],
      [down('a', 110), ['a'], ['health']],
      [tick(120), ['a'], []],
      [resume(130), ['b'], ['resumed', 'route:b', 'failover']],
    ],
  },
  {
    name: 'pause: a recovery while paused obeys hold-down after resume',
    given: allUp,
    steps: [
      [down('a', 100), ['b'], ['health', 'route:b', 'failover']],
      [pause(101), ['b'], ['paused']],
      [up('a', 110), ['b'], ['health']],
      [resume(120), ['b'], ['resumed', 'held-down']],
      [tick(160), ['a'], ['route:a', 'failback']],
    ],
  },
  {
    name: 'health events for origins not in the config are ignored',
    given: allUp,
    steps: [[down('x', 100), ['a'], []]],
  },
];

describe('failover machine', () => {
  for (const { name, config: override, given = [], steps } of cases) {
    test(name, () => {
      const config = { ...base, ...override };
      let state = run(config, given);
      steps.forEach(([event, active, effects, expect], index) => {
        const result = frozenStep(config, state, event);
        const where = `step ${index} (${event.type} at ${event.at / 1000}s)`;
        assert.deepEqual(result.state.active, active, `${where}: active`);
        assert.deepEqual(summary(result.effects), effects, `${where}: effects`);
        for (const [key, value] of Object.entries(expect ?? {})) {
          assert.deepEqual(result.state[key as keyof MachineState], value, `${where}: ${key}`);
        }
        state = result.state;
      });
    });
  }

  test('messages say what matters: force to a down origin, a down active origin while paused, held until', () => {
    const config = base;
    let state = run(config, [...allUp, down('c', 50)]);
    const forced = frozenStep(config, state, force(100, 'c'));
    assert.match(messages(forced.effects)[0]!, /forced to c by the operator although c \(down\)/);
    state = forced.state;
    const paused = frozenStep(config, run(config, [force(101, 'a')], state), down('a', 110));
    assert.match(messages(paused.effects)[0]!, /origin a is down: it is active and automation is paused/);
    // The resume at 120 fails over to b at once, so a's return is held until 120 + 60.
    const held = run(config, [resume(120), up('a', 140)], paused.state);
    assert.deepEqual(held.held, { originIds: ['a'], until: ms(180) });
    const announced = frozenStep(config, run(config, [resume(120)], paused.state), up('a', 140));
    assert.match(
      messages(announced.effects)[1]!,
      /a would be preferred; held down until 1970-01-01T00:03:00.000Z/,
    );
    const degraded = frozenStep(config, run(config, [...allUp, up('a', 100, 'r2')]), down('a', 110));
    assert.match(
      messages(degraded.effects).at(-1)!,
      /serving release r1 from b: no origin on the current release r2 is healthy/,
    );
  });

  test('route effects always come with their timeline event, and event times are ISO', () => {
    const result = frozenStep(base, run(base, allUp), down('a', 100));
    assert.deepEqual(result.effects[1], { type: 'route', originIds: ['b'], reason: 'b up on release r1' });
    assert.equal(
      result.effects[2]?.type === 'event' && result.effects[2].event.at,
      '1970-01-01T00:01:40.000Z',
    );
  });

  test('a flapping origin (up/down every second for a minute, holdDown 60s) routes at most twice', () => {
    for (const policy of ['priority', 'all-healthy'] as const) {
      const config: MachineConfig = { ...base, policy, order: ['a', 'b'] };
      let state = run(config, [up('a', 0), up('b', 0)]);
      let routes = 0;
      for (let second = 1; second <= 60; second++) {
        for (const event of [second % 2 === 1 ? down('a', second) : up('a', second), tick(second + 0.5)]) {
          const result = frozenStep(config, state, event);
          routes += result.effects.filter((effect) => effect.type === 'route').length;
          state = result.state;
        }
      }
      assert.ok(routes <= 2, `${policy}: ${routes} route effects`);
      assert.equal(routes, 1, `${policy}: the failover only`);
    }
  });

  test('choose: the policy alone', () => {
    const table: Array<[Partial<MachineConfig>, MachineEvent[], ReturnType<typeof choose>]> = [
      [
        {},
        [],
        {
          originIds: [],
          reason: 'waiting for the first verdict on a, b, c',
          degraded: false,
          blocked: 'unknown',
        },
      ],
      [{}, [down('a', 0), up('b', 0)], { originIds: ['b'], reason: 'b up', degraded: false }],
      [
        allHealthy,
        [down('a', 0), up('b', 0)],
        { originIds: [], reason: 'waiting for the first verdict on c', degraded: false, blocked: 'unknown' },
      ],
      [
        allHealthy,
        [...allUp, up('b', 1, 'r2')],
        { originIds: ['b'], reason: 'b up on release r2', degraded: false },
      ],
      [
        {},
        [...allUp.map((event) => ({ ...event, health: 'down' as const }))],
        { originIds: [], reason: 'no origin is up', degraded: false, blocked: 'no-healthy-origin' },
      ],
    ];
    for (const [override, events, expected] of table) {
      const config = { ...base, ...override };
      assert.deepEqual(choose(config, run(config, events)), expected);
    }
  });

  test('machineConfig: order defaults to the origins, listed ones first', () => {
    const failover = { policy: 'priority', failback: 'auto', holdDown: 60_000 } as const;
    assert.deepEqual(machineConfig(failover, ['x', 'y']), { ...base, order: ['x', 'y'] });
    assert.deepEqual(machineConfig({ ...failover, order: ['y'] }, ['x', 'y', 'z']).order, ['y', 'x', 'z']);
  });
});

describe('failover machine properties', () => {
  /** mulberry32: a small seeded PRNG, so a failure replays. */
  function prng(seed: number): () => number {
    let a = seed;
    return () => {
      a = (a + 0x6d2b79f5) | 0;
      let t = Math.imul(a ^ (a >>> 15), 1 | a);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
  }

  const configs: MachineConfig[] = (['priority', 'all-healthy'] as const).flatMap((policy) =>
    (['auto', 'manual'] as const).map((failback) => ({
      ...base,
      order: ['a', 'b', 'c', 'd'],
      policy,
      failback,
    })),
  );

  for (const config of configs) {
    test(`${config.policy}/${config.failback}: never routes to a down or unknown origin unless forced; no route within holdDown unless moving away or operator-driven`, () => {
      for (const seed of [1, 2, 3]) {
        const random = prng(seed * 7919);
        const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
        let state = initialState(config);
        let at = 0;
        let release = 1;
        let lastRoute: number | undefined;
        for (let i = 0; i < 3000; i++) {
          at += Math.floor(random() * 20_000);
          const roll = random();
          if (roll < 0.02) release++;
          const event: MachineEvent =
            i === 0
              ? { type: 'observed', at, active: [pick(config.order)] }
              : roll < 0.6
                ? {
                    type: 'health',
                    at,
                    originId: pick(config.order),
                    health: random() < 0.55 ? 'up' : 'down',
                    ...(random() < 0.5
                      ? { release: `r${release}`, deployedAt: deployedAt(`r${release}`) }
                      : {}),
                  }
                : roll < 0.9
                  ? { type: 'tick', at }
                  : pick<MachineEvent>([
                      { type: 'failback', at },
                      { type: 'force', at, originIds: [pick(config.order)] },
                      { type: 'pause', at },
                      { type: 'resume', at },
                      { type: 'resume', at },
                    ]);
          const result = frozenStep(config, state, event);
          const routes = result.effects.filter((effect) => effect.type === 'route');
          const where = `seed ${seed} step ${i} (${event.type})`;
          assert.ok(routes.length <= 1, `${where}: one route at most`);
          for (const route of routes) {
            const operator = event.type === 'force' || event.type === 'failback';
            if (event.type !== 'force') {
              for (const id of route.originIds) {
                assert.equal(result.state.origins[id]?.health, 'up', `${where}: routed to ${id}`);
              }
            }
            if (state.paused) assert.ok(operator || event.type === 'resume', `${where}: routed while paused`);
            const next = result.state;
            const movingAway =
              state.active.length === 0 ||
              state.active.some(
                (id) =>
                  next.origins[id]?.health === 'down' ||
                  (next.origins[id]?.health === 'up' && next.origins[id]?.release !== next.currentRelease),
              );
            if (lastRoute !== undefined && at < lastRoute + config.holdDownMs) {
              assert.ok(
                operator || movingAway,
                `${where}: a second route ${at - lastRoute}ms after the last`,
              );
            }
            lastRoute = at;
          }
          state = result.state;
        }
      }
    });
  }
});

function messages(effects: Effect[]): string[] {
  return effects.flatMap((effect) => (effect.type === 'event' ? [effect.event.message] : []));
}

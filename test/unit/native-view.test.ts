/** The comparison of a DNS host's own view with the watcher's (src/daemon/native-view.ts). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type CompareInput, type CompareResult, compareNativeView } from '../../src/daemon/native-view.ts';

const base = { provider: 'route53 Z1', intervalMs: 1000 };

const cases: Array<{
  name: string;
  input: Omit<CompareInput, 'provider' | 'intervalMs'>;
  want: CompareResult;
}> = [
  {
    name: 'agreement: nothing',
    input: {
      previous: {},
      host: { a: { up: true }, b: { up: false } },
      watcher: { a: 'up', b: 'down' },
      at: 10,
    },
    want: { disagreements: {}, events: [] },
  },
  {
    name: 'a new disagreement is recorded, not raised',
    input: { previous: {}, host: { a: { up: false } }, watcher: { a: 'up' }, at: 10 },
    want: { disagreements: { a: { host: 'down', watcher: 'up', since: 10, raised: false } }, events: [] },
  },
  {
    name: 'exactly one interval: not yet',
    input: {
      previous: { a: { host: 'down', watcher: 'up', since: 10, raised: false } },
      host: { a: { up: false } },
      watcher: { a: 'up' },
      at: 1010,
    },
    want: { disagreements: { a: { host: 'down', watcher: 'up', since: 10, raised: false } }, events: [] },
  },
  {
    name: 'longer than one interval: raised once',
    input: {
      previous: { a: { host: 'down', watcher: 'up', since: 10, raised: false } },
      host: { a: { up: false } },
      watcher: { a: 'up' },
      at: 1011,
    },
    want: {
      disagreements: { a: { host: 'down', watcher: 'up', since: 10, raised: true } },
      events: [
        {
          kind: 'native-disagrees',
          provider: 'route53 Z1',
          origin: 'a',
          host: 'down',
          watcher: 'up',
          since: 10,
        },
      ],
    },
  },
  {
    name: 'already raised: not again',
    input: {
      previous: { a: { host: 'down', watcher: 'up', since: 10, raised: true } },
      host: { a: { up: false } },
      watcher: { a: 'up' },
      at: 5000,
    },
    want: { disagreements: { a: { host: 'down', watcher: 'up', since: 10, raised: true } }, events: [] },
  },
  {
    name: 'a raised disagreement ends: agrees',
    input: {
      previous: { a: { host: 'down', watcher: 'up', since: 10, raised: true } },
      host: { a: { up: true } },
      watcher: { a: 'up' },
      at: 6000,
    },
    want: {
      disagreements: {},
      events: [
        { kind: 'native-agrees', provider: 'route53 Z1', origin: 'a', host: 'up', watcher: 'up', since: 10 },
      ],
    },
  },
  {
    name: 'a short disagreement ends silently',
    input: {
      previous: { a: { host: 'down', watcher: 'up', since: 10, raised: false } },
      host: { a: { up: false } },
      watcher: { a: 'down' },
      at: 500,
    },
    want: { disagreements: {}, events: [] },
  },
  {
    name: 'the sides flip: the disagreement goes on from its start',
    input: {
      previous: { a: { host: 'down', watcher: 'up', since: 10, raised: false } },
      host: { a: { up: true } },
      watcher: { a: 'down' },
      at: 2000,
    },
    want: {
      disagreements: { a: { host: 'up', watcher: 'down', since: 10, raised: true } },
      events: [
        {
          kind: 'native-disagrees',
          provider: 'route53 Z1',
          origin: 'a',
          host: 'up',
          watcher: 'down',
          since: 10,
        },
      ],
    },
  },
  {
    name: 'the watcher does not know yet: not compared, what was stands',
    input: {
      previous: { a: { host: 'down', watcher: 'up', since: 10, raised: true } },
      host: { a: { up: false }, b: { up: false } },
      watcher: { a: 'unknown', b: 'unknown' },
      at: 9000,
    },
    want: { disagreements: { a: { host: 'down', watcher: 'up', since: 10, raised: true } }, events: [] },
  },
  {
    name: 'the host says nothing about an origin: not compared',
    input: { previous: {}, host: {}, watcher: { a: 'up', b: 'down' }, at: 10 },
    want: { disagreements: {}, events: [] },
  },
  {
    name: 'two origins, one raised, one new',
    input: {
      previous: { a: { host: 'down', watcher: 'up', since: 10, raised: false } },
      host: { a: { up: false }, b: { up: true } },
      watcher: { a: 'up', b: 'down' },
      at: 3000,
    },
    want: {
      disagreements: {
        a: { host: 'down', watcher: 'up', since: 10, raised: true },
        b: { host: 'up', watcher: 'down', since: 3000, raised: false },
      },
      events: [
        {
          kind: 'native-disagrees',
          provider: 'route53 Z1',
          origin: 'a',
          host: 'down',
          watcher: 'up',
          since: 10,
        },
      ],
    },
  },
];

for (const { name, input, want } of cases) {
  test(`compareNativeView: ${name}`, () => {
    const before = structuredClone(input.previous);
    assert.deepEqual(compareNativeView({ ...base, ...input }), want);
    assert.deepEqual(input.previous, before, 'the previous state is not changed');
  });
}

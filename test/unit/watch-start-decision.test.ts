/**
 * What a starting watcher takes for the decision in force (src/daemon/start-decision.ts): a write
 * pending at the last stop is carried on to the providers behind, a saved decision some provider
 * has is restored, otherwise DNS as found is respected; and which providers must be written.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { originsServing, type StartInput, startDecision } from '../../src/daemon/start-decision.ts';
import type { DnsTarget } from '../../src/dns/plan.ts';
import type { RecordSet } from '../../src/dns/provider.ts';

const NAME = 'www.example.test';
const targets = new Map<string, DnsTarget>([
  ['a', { a: ['192.0.2.10'] }],
  ['b', { a: ['192.0.2.20'] }],
  ['c', { cname: 'c.example.net' }],
]);
const base = { name: NAME, ttl: 5, policy: 'priority' as const, order: ['a', 'b', 'c'], targets };
const at = (address: string): RecordSet[] => [{ name: NAME, type: 'A', ttl: 5, values: [address] }];
const A = at('192.0.2.10');
const B = at('192.0.2.20');
const down = new Error('HTTP 503');

const cases: {
  what: string;
  input: Omit<StartInput, keyof typeof base>;
  want: ReturnType<typeof startDecision>;
}[] = [
  {
    what: 'a pending decision, one provider down: the down one is behind',
    input: { reads: [down, B], saved: { active: ['b'], pending: true } },
    want: { active: ['b'], from: 'pending', behind: [0] },
  },
  {
    what: 'a pending decision no provider has yet (killed before the first write)',
    input: { reads: [A, A], saved: { active: ['b'], pending: true } },
    want: { active: ['b'], from: 'pending', behind: [0, 1] },
  },
  {
    what: 'a pending decision every provider has (killed before the save after the writes)',
    input: { reads: [B, B], saved: { active: ['b'], pending: true } },
    want: { active: ['b'], from: 'pending', behind: [] },
  },
  {
    what: 'nothing pending, all agree: nothing to write',
    input: { reads: [A, A], saved: { active: ['a'], pending: false } },
    want: { active: ['a'], from: 'saved', behind: [] },
  },
  {
    what: 'the saved decision on one provider, another changed since: brought back',
    input: { reads: [B, A], saved: { active: ['a'], pending: false } },
    want: { active: ['a'], from: 'saved', behind: [0] },
  },
  {
    what: 'DNS moved by hand while no watcher ran: respected',
    input: { reads: [B, B], saved: { active: ['a'], pending: false } },
    want: { active: ['b'], from: 'observed', behind: [] },
  },
  {
    what: 'no state folder: the first provider read',
    input: { reads: [down, A, B] },
    want: { active: ['a'], from: 'observed', behind: [0, 2] },
  },
  {
    what: 'no state, nothing readable or matching: no decision, nothing written',
    input: { reads: [down, []] },
    want: { active: [], from: 'none', behind: [] },
  },
  {
    what: 'a saved origin no longer configured is dropped',
    input: { reads: [A], saved: { active: ['gone'], pending: true } },
    want: { active: ['a'], from: 'observed', behind: [] },
  },
];

for (const { what, input, want } of cases) {
  test(`start decision: ${what}`, () => {
    assert.deepEqual(startDecision({ ...base, ...input }), want);
  });
}

test('origins serving: priority matches one origin exactly; all-healthy the exact set', () => {
  assert.deepEqual(originsServing(base, A), ['a']);
  assert.deepEqual(originsServing(base, [{ name: NAME, type: 'CNAME', ttl: 5, values: ['c.example.net'] }]), [
    'c',
  ]);
  assert.deepEqual(originsServing(base, [{ name: NAME, type: 'A', ttl: 5, values: ['192.0.2.99'] }]), []);
  const both: RecordSet[] = [{ name: NAME, type: 'A', ttl: 5, values: ['192.0.2.10', '192.0.2.20'] }];
  assert.deepEqual(originsServing({ ...base, policy: 'all-healthy' }, both), ['a', 'b']);
  assert.deepEqual(originsServing(base, both), []);
});

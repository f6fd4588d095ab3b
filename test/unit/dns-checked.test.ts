// The DNS wrapper (src/dns/checked.ts) around hosts written here: what it refuses before any host
// call, its emulated compare-and-set for a host without one (one fetch per name, the write gets
// only what is still to make, with what was fetched), and how it settles a refused write of a host
// with compare-and-set (already there: done; still `before`: sent once more; else a conflict).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkedDnsProvider, type DnsHost } from '../../src/dns/checked.ts';
import { desiredRecords, planDns } from '../../src/dns/plan.ts';
import type { DnsChange, RecordSet } from '../../src/dns/provider.ts';
import { MANAGED_TYPES } from '../../src/dns/provider.ts';
import { isOutlastError, OutlastError } from '../../src/errors.ts';
import { createWriteGate } from '../../src/writes.ts';
import { expectCode } from '../helpers/errors.ts';

const ZONE = 'example.test';
const WWW = `www.${ZONE}`;

/** A host on a map of sets, recording its calls; `compareAndSet` as asked. */
function fakeHost(options: { compareAndSet: boolean; refuseFirstWrite?: boolean }) {
  const sets = new Map<string, RecordSet>();
  const calls: string[] = [];
  const writes: DnsChange[][] = [];
  let refusals = options.refuseFirstWrite ? 1 : 0;
  const host: DnsHost = {
    name: 'fake',
    capabilities: { compareAndSet: options.compareAndSet, atomic: true, minTtl: 30, types: MANAGED_TYPES },
    maxTtl: 3600,
    describe: () => `fake ${ZONE}`,
    zone: () => ZONE,
    async fetch(name) {
      calls.push(`fetch ${name}`);
      return [...sets.values()].filter((set) => set.name === name);
    },
    foreign: (set) =>
      set.values.some((value) => value.startsWith('alias:'))
        ? { what: 'an alias', hint: 'leave it' }
        : undefined,
    async write(changes, held) {
      calls.push(`write ${changes.length} (held: ${[...held.keys()].join(',')})`);
      writes.push(changes);
      if (refusals > 0) {
        refusals--;
        throw new OutlastError('conflict', 'refused', { source: 'fake' });
      }
      for (const change of changes) {
        const key = `${change.name} ${change.type}`;
        if (change.after) sets.set(key, change.after);
        else sets.delete(key);
      }
    },
  };
  return { host, sets, calls, writes, provider: checkedDnsProvider(host) };
}

const a = (values: string[], ttl = 60): RecordSet => ({ name: WWW, type: 'A', ttl, values });

describe('checkedDnsProvider', () => {
  it('refuses before any host call: a name outside the zone, a TTL out of range, a bad value, a foreign set', async () => {
    const { provider, calls } = fakeHost({ compareAndSet: false });
    await expectCode(provider.read('www.example.invalid'), 'invalid_argument');
    await expectCode(provider.read('bad..name.example.test'), 'invalid_argument');
    for (const after of [
      a(['192.0.2.1'], 29),
      a(['192.0.2.1'], 3601),
      a(['192.0.2.1'], 60.5),
      a(['2001:db8::1']),
    ]) {
      await expectCode(
        provider.apply([{ name: WWW, type: 'A', before: undefined, after }]),
        'invalid_argument',
      );
    }
    const alias = await expectCode(
      provider.apply([
        { name: WWW, type: 'A', before: a(['alias:cdn.example.net'], 0), after: a(['192.0.2.1']) },
      ]),
      'invalid_argument',
    );
    assert.match(alias.message, /is an alias, which outlast does not manage/);
    assert.equal(alias.hint, 'leave it');
    assert.deepEqual(calls, []);
    assert.deepEqual(provider.requests(), { reads: 0, writes: 0 });
  });

  it('takes a `before` with a TTL below the smallest writable one: it is what was read', async () => {
    const { provider, sets } = fakeHost({ compareAndSet: false });
    sets.set(`${WWW} A`, a(['192.0.2.1'], 1));
    await provider.apply(planDns(await provider.read(WWW), desiredRecords(WWW, 60, [{ a: ['192.0.2.2'] }])));
    assert.deepEqual(await provider.read(WWW), [a(['192.0.2.2'])]);
  });

  it('emulates compare-and-set: one fetch per name, the write gets only what is left, with what was fetched', async () => {
    const { provider, sets, calls, writes } = fakeHost({ compareAndSet: false });
    const alt = `alt.${ZONE}`;
    sets.set(`${alt} A`, { name: alt, type: 'A', ttl: 60, values: ['192.0.2.9'] });
    const changes: DnsChange[] = [
      { name: WWW, type: 'A', before: undefined, after: a(['192.0.2.1']) },
      // Already there: dropped.
      {
        name: alt,
        type: 'A',
        before: undefined,
        after: { name: alt, type: 'A', ttl: 60, values: ['192.0.2.9'] },
      },
    ];
    await provider.apply(changes);
    assert.deepEqual(calls, [`fetch ${WWW}`, `fetch ${alt}`, `write 1 (held: ${WWW},${alt})`]);
    assert.equal(writes[0]![0]!.name, WWW);
    assert.deepEqual(provider.requests(), { reads: 2, writes: 1 });

    calls.length = 0;
    await provider.apply(changes);
    assert.deepEqual(calls, [`fetch ${WWW}`, `fetch ${alt}`], 'nothing left to write: no write');

    sets.set(`${WWW} A`, a(['192.0.2.99']));
    const error = await expectCode(
      provider.apply([{ name: WWW, type: 'A', before: a(['192.0.2.1']), after: a(['192.0.2.2']) }]),
      'conflict',
    );
    assert.match(error.message, /www\.example\.test A is 60 192\.0\.2\.99, expected 60 192\.0\.2\.1/);
    assert.deepEqual(sets.get(`${WWW} A`), a(['192.0.2.99']), "the other writer's set stays");
  });

  it('settles a refused write of a compare-and-set host: sent once more while the sets are still as read', async () => {
    const { host, calls } = fakeHost({ compareAndSet: true, refuseFirstWrite: true });
    const provider = checkedDnsProvider({ ...host, settleConflicts: true });
    await provider.apply([{ name: WWW, type: 'A', before: undefined, after: a(['192.0.2.1']) }]);
    assert.deepEqual(calls, ['write 1 (held: )', `fetch ${WWW}`, 'write 1 (held: )']);
    assert.deepEqual(await provider.read(WWW), [a(['192.0.2.1'])]);
  });

  it('a refused write whose sets are already `after` is done; one at neither is a conflict', async () => {
    const done = fakeHost({ compareAndSet: true, refuseFirstWrite: true });
    done.sets.set(`${WWW} A`, a(['192.0.2.1']));
    const settled = checkedDnsProvider({ ...done.host, settleConflicts: true });
    await settled.apply([{ name: WWW, type: 'A', before: undefined, after: a(['192.0.2.1']) }]);
    assert.deepEqual(done.calls, ['write 1 (held: )', `fetch ${WWW}`]);

    const lost = fakeHost({ compareAndSet: true, refuseFirstWrite: true });
    lost.sets.set(`${WWW} A`, a(['192.0.2.99']));
    const provider = checkedDnsProvider({ ...lost.host, settleConflicts: true });
    const error = await expectCode(
      provider.apply([{ name: WWW, type: 'A', before: undefined, after: a(['192.0.2.1']) }]),
      'conflict',
    );
    assert.ok(isOutlastError(error.cause, 'conflict'), "the host's refusal is the cause");
    assert.deepEqual(lost.sets.get(`${WWW} A`), a(['192.0.2.99']));
  });

  it('in a dry run writes nothing and lists what it would write, after the same checks and reads', async () => {
    const gate = createWriteGate({ dryRun: true });
    const emulated = fakeHost({ compareAndSet: false });
    const alt = `alt.${ZONE}`;
    emulated.sets.set(`${alt} A`, { name: alt, type: 'A', ttl: 60, values: ['192.0.2.9'] });
    const provider = checkedDnsProvider(emulated.host, { gate });
    await provider.apply([
      { name: WWW, type: 'A', before: undefined, after: a(['192.0.2.1']) },
      {
        name: alt,
        type: 'A',
        before: { name: alt, type: 'A', ttl: 60, values: ['192.0.2.9'] },
        after: undefined,
      },
    ]);
    assert.deepEqual(emulated.calls, [`fetch ${WWW}`, `fetch ${alt}`], 'read as always, no write');
    assert.deepEqual(provider.requests(), { reads: 2, writes: 0 });
    assert.equal(emulated.sets.size, 1);
    // What is already there is no change; a conflict is one still.
    await provider.apply([
      {
        name: alt,
        type: 'A',
        before: undefined,
        after: { name: alt, type: 'A', ttl: 60, values: ['192.0.2.9'] },
      },
    ]);
    await expectCode(
      provider.apply([{ name: WWW, type: 'A', before: a(['192.0.2.7']), after: a(['192.0.2.8']) }]),
      'conflict',
    );
    await expectCode(
      provider.apply([{ name: WWW, type: 'A', before: undefined, after: a(['192.0.2.1'], 5) }]),
      'invalid_argument',
    );

    const atomic = fakeHost({ compareAndSet: true });
    await checkedDnsProvider(atomic.host, { gate }).apply([
      { name: WWW, type: 'A', before: undefined, after: a(['192.0.2.2']) },
    ]);
    assert.deepEqual(atomic.calls, []);
    assert.deepEqual(gate.skipped(), [
      `would write to fake: set ${WWW} A to 60 192.0.2.1; delete ${alt} A (60 192.0.2.9)`,
      `would write to fake: set ${WWW} A to 60 192.0.2.2`,
    ]);
  });

  it('without settleConflicts, a host refusal is the answer', async () => {
    const { provider, calls } = fakeHost({ compareAndSet: true, refuseFirstWrite: true });
    await expectCode(
      provider.apply([{ name: WWW, type: 'A', before: undefined, after: a(['192.0.2.1']) }]),
      'conflict',
    );
    assert.deepEqual(calls, ['write 1 (held: )']);
  });
});

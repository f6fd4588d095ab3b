/**
 * The DNS provider contract as tests (see src/dns/provider.ts). Every provider's test file is one
 * call of `testDnsProvider` with a harness; the suite imports no provider code. The core's own
 * planner (`planDns`) computes every change, as in the app, so the suite also proves that the
 * planner's change sets are ones each host takes (deletes before adds, CNAME beside nothing).
 *
 * The heart is dnscontrol's integration test: a table of desired states, and after each step
 * plan → apply → read back (equal to the desired state) → plan again (no changes) → when the
 * harness can ask the server itself, a real DNS query answers the new values. A capability the
 * provider lacks skips the tests that need it; it never fails them.
 *
 * Each test uses its own names (`www.`/`alt.` for the steps, `cas.`, `odd.`…), so a failure in one
 * does not cascade into the others.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  canonicalAddress,
  canonicalValues,
  type DnsTarget,
  desiredRecords,
  planDns,
  sameSet,
} from '../../src/dns/plan.ts';
import type { DnsChange, DnsProvider, ManagedType, RecordSet } from '../../src/dns/provider.ts';
import { normalizeName } from '../../src/dns/provider.ts';
import { type ErrorCode, isOutlastError } from '../../src/errors.ts';
import { eventually } from '../helpers/eventually.ts';

export interface DnsHarness {
  /** Shown in the test names, e.g. `powerdns 4.7 (gsqlite3)`. */
  name: string;
  /** A provider on `zone`. Called once per suite run. */
  create(): Promise<DnsProvider>;
  /** The zone the provider manages, e.g. `example.test`; the suite writes names under it. */
  zone: string;
  /** The provider takes any name (it has no zone): the out-of-zone test is skipped. */
  zoneless?: boolean;
  /** What a real DNS query at the server answers: the values of the `type` records owned by `name`
   * (addresses, or CNAME targets without the trailing dot; [] for NXDOMAIN or no data). Proves a
   * change is served, not just stored. */
  resolve?(name: string, type: ManagedType): Promise<string[]>;
  /** Removes every managed set the suite may have written; called before and after the suite. */
  reset?(): Promise<void>;
  /** Writes (`set`) or deletes (undefined) one set the way another writer would, bypassing the
   * provider under test: for the compare-and-set tests. */
  changeBehindBack?(set: RecordSet | undefined, name: string, type: ManagedType): Promise<void>;
}

interface Step {
  title: string;
  ttl: number;
  www: DnsTarget[];
  alt: DnsTarget[];
}

/** Walks through every transition the failover machine makes: grow, shrink, A ↔ CNAME, TTL. */
const STEPS: Step[] = [
  { title: 'nothing at either name', ttl: 300, www: [], alt: [] },
  { title: 'create A with one address', ttl: 300, www: [{ a: ['192.0.2.1'] }], alt: [] },
  {
    title: 'add a second address; create A at alt in the same apply',
    ttl: 300,
    www: [{ a: ['192.0.2.1', '192.0.2.2'] }],
    alt: [{ a: ['192.0.2.10'] }],
  },
  {
    title: 'add AAAA beside A',
    ttl: 300,
    www: [{ a: ['192.0.2.1', '192.0.2.2'], aaaa: ['2001:db8::1'] }],
    alt: [{ a: ['192.0.2.10'] }],
  },
  {
    title: 'replace A and AAAA with a CNAME; alt A → AAAA',
    ttl: 300,
    www: [{ cname: 'a.example.net' }],
    alt: [{ aaaa: ['2001:db8::10'] }],
  },
  {
    title: 'change the CNAME target and the TTL; alt AAAA → CNAME',
    ttl: 120,
    www: [{ cname: 'b.example.net' }],
    alt: [{ cname: 'a.example.net' }],
  },
  {
    title: 'replace the CNAMEs with A',
    ttl: 120,
    www: [{ a: ['192.0.2.1'] }],
    alt: [{ a: ['192.0.2.10', '192.0.2.11'] }],
  },
  { title: 'delete everything', ttl: 120, www: [], alt: [] },
];

export function testDnsProvider(harness: DnsHarness): void {
  const zone = normalizeName(harness.zone);
  const at = (label: string) => `${label}.${zone}`;

  describe(`dns provider: ${harness.name}`, () => {
    let provider: DnsProvider;
    const ttlOf = (ttl: number) => Math.max(ttl, provider.capabilities.minTtl);
    const supports = (sets: RecordSet[]) =>
      sets.every((set) => provider.capabilities.types.includes(set.type));

    /**
     * provider.apply as the DNS writer (src/daemon/dns-writer.ts) uses it: while the server answers
     * `unavailable` (a shared PowerDNS whose database other test files write answered HTTP 500),
     * the change is sent again, until a deadline. Any other error fails the test at once.
     */
    async function apply(changes: DnsChange[]): Promise<void> {
      let refused: unknown;
      let unavailable: unknown;
      try {
        await eventually(
          'the server takes the change',
          async () => {
            try {
              await provider.apply(changes);
              return true;
            } catch (error) {
              if (isOutlastError(error, 'unavailable') && error.retryable) {
                unavailable = error;
                return false;
              }
              refused = error;
              return true;
            }
          },
          5000,
        );
      } catch {
        throw unavailable;
      }
      if (refused !== undefined) throw refused;
    }

    /** planDns(read(), desired), then apply: the app's own pipeline. */
    async function converge(names: string[], desired: RecordSet[]): Promise<DnsChange[]> {
      const current = (await Promise.all(names.map((name) => provider.read(name)))).flat();
      const changes = planDns(current, desired);
      await apply(changes);
      return changes;
    }

    /** read() equals `desired`, values canonical and sorted, and a new plan is empty. */
    async function assertConverged(names: string[], desired: RecordSet[]): Promise<void> {
      const current: RecordSet[] = [];
      for (const name of names) {
        const sets = await provider.read(name);
        for (const set of sets) {
          assert.equal(set.name, name, 'read names the set as asked, lowercase without the dot');
          assert.deepEqual(
            set.values,
            canonicalValues(set),
            `${name} ${set.type}: values canonical and sorted`,
          );
        }
        assertSameSets(
          sets,
          desired.filter((set) => set.name === name),
          name,
        );
        current.push(...sets);
      }
      assert.deepEqual(planDns(current, desired), [], 'planning again finds no changes');
    }

    /** A real DNS query at the server answers exactly the desired values, for every managed type. */
    async function assertServed(names: string[], desired: RecordSet[]): Promise<void> {
      if (!harness.resolve) return;
      for (const name of names) {
        for (const type of provider.capabilities.types) {
          const wanted = desired.find((set) => set.name === name && set.type === type);
          const answered = await harness.resolve(name, type);
          assert.deepEqual(
            canonicalSorted(type, answered),
            wanted ? canonicalValues(wanted) : [],
            `a DNS query for ${name} ${type} answers the new values`,
          );
        }
      }
    }

    before(async () => {
      provider = await harness.create();
      await harness.reset?.();
    });

    after(async () => {
      await harness.reset?.();
      await provider?.close?.();
    });

    it('describes itself in one line', () => {
      const line = provider.describe();
      assert.ok(line.length > 0 && !line.includes('\n'), `one line: ${JSON.stringify(line)}`);
      assert.ok(provider.capabilities.types.length > 0, 'manages at least one type');
      assert.ok(Number.isInteger(provider.capabilities.minTtl) && provider.capabilities.minTtl >= 0);
    });

    it('reads nothing at a name with no records', async () => {
      assert.deepEqual(await provider.read(at('nothing-here')), []);
      assert.deepEqual(await provider.read(at('deeper.nothing-here')), []);
    });

    it('applies an empty change list without changing anything', async () => {
      const before = await provider.read(at('www'));
      await apply([]);
      assert.deepEqual(await provider.read(at('www')), before);
    });

    describe('steps: apply, read back, plan again, query', () => {
      const names = [at('www'), at('alt')];
      for (const step of STEPS) {
        it(step.title, async (t) => {
          const desired = [
            ...desiredRecords(names[0]!, ttlOf(step.ttl), step.www),
            ...desiredRecords(names[1]!, ttlOf(step.ttl), step.alt),
          ];
          if (!supports(desired)) return t.skip(`needs ${desired.map((set) => set.type).join('+')}`);
          await converge(names, desired);
          await assertConverged(names, desired);
          await assertServed(names, desired);
        });
      }
    });

    it('reads concurrently', async () => {
      const name = at('conc');
      const desired = desiredRecords(name, ttlOf(300), [{ a: ['192.0.2.30'] }]);
      await converge([name], desired);
      const reads = await Promise.all(Array.from({ length: 8 }, () => provider.read(name)));
      for (const sets of reads) assertSameSets(sets, desired, name);
      await converge([name], []);
    });

    it('applies the same change twice: the second is a no-op', async () => {
      const name = at('idem');
      const desired = desiredRecords(name, ttlOf(300), [{ a: ['192.0.2.20'] }]);
      const changes = planDns(await provider.read(name), desired);
      assert.equal(changes.length, 1);
      await apply(changes);
      await apply(changes);
      await assertConverged([name], desired);
      await assertServed([name], desired);
      const removal = planDns(await provider.read(name), []);
      await apply(removal);
      await apply(removal);
      await assertConverged([name], []);
    });

    it('takes values in odd forms and reads them back canonical', async (t) => {
      const name = at('odd');
      const ttl = ttlOf(300);
      const aaaa: RecordSet = { name, type: 'AAAA', ttl, values: ['2001:DB8:0:0:0:0:0:1', '2001:db8:0::2'] };
      const cname: RecordSet = { name: at('odd2'), type: 'CNAME', ttl, values: ['Target.Example.NET.'] };
      if (!supports([aaaa, cname])) return t.skip('needs AAAA and CNAME');
      await apply([
        { name: aaaa.name, type: 'AAAA', before: undefined, after: aaaa },
        { name: cname.name, type: 'CNAME', before: undefined, after: cname },
      ]);
      const expected = [
        { name, type: 'AAAA' as const, ttl, values: ['2001:db8::1', '2001:db8::2'] },
        { name: at('odd2'), type: 'CNAME' as const, ttl, values: ['target.example.net'] },
      ];
      for (const set of expected) {
        const [read, ...rest] = await provider.read(set.name);
        assert.equal(rest.length, 0);
        assert.deepEqual(read, set, 'exact canonical form');
      }
      await assertConverged([name, at('odd2')], expected);
      await assertServed([name, at('odd2')], expected);
      await converge([name, at('odd2')], []);
      await assertConverged([name, at('odd2')], []);
    });

    it('reads a name given in odd form (uppercase, trailing dot)', async () => {
      const name = at('case');
      const desired = desiredRecords(name, ttlOf(300), [{ a: ['192.0.2.40'] }]);
      await converge([name], desired);
      const sets = await provider.read(`${name.toUpperCase()}.`);
      assertSameSets(sets, desired, name);
      assert.equal(sets[0]?.name, name, 'the name comes back normalized');
      await converge([name], []);
    });

    it('keeps a set at exactly the smallest TTL, and refuses a smaller one', async () => {
      const name = at('ttl');
      const { minTtl } = provider.capabilities;
      const desired = desiredRecords(name, Math.max(minTtl, 1), [{ a: ['192.0.2.50'] }]);
      await converge([name], desired);
      await assertConverged([name], desired);
      if (minTtl > 0) {
        const lower = desiredRecords(name, minTtl - 1, [{ a: ['192.0.2.51'] }]);
        await expectCode(provider.apply(planDns(await provider.read(name), lower)), 'invalid_argument');
        await assertConverged([name], desired);
      }
      await converge([name], []);
    });

    it('refuses an invalid value with invalid_argument', async () => {
      const name = at('bad');
      const bad: RecordSet = { name, type: 'A', ttl: ttlOf(300), values: ['192.0.2.999'] };
      await expectCode(
        provider.apply([{ name, type: 'A', before: undefined, after: bad }]),
        'invalid_argument',
        provider.name,
      );
      assert.deepEqual(await provider.read(name), []);
    });

    it('an aborted call sends nothing: it rejects with cancelled and changes nothing', async () => {
      const name = at('aborted');
      const aborted = AbortSignal.abort();
      const sent = provider.requests();
      await expectCode(provider.read(name, { signal: aborted }), 'cancelled', provider.name);
      const desired = desiredRecords(name, ttlOf(300), [{ a: ['192.0.2.80'] }]);
      await expectCode(provider.apply(planDns([], desired), { signal: aborted }), 'cancelled', provider.name);
      assert.deepEqual(provider.requests(), sent, 'no call reached the host');
      assert.deepEqual(await provider.read(name), []);
    });

    it('counts its calls to the host: reads for a read, a write for an apply that changes something', async () => {
      const name = at('counted');
      const start = provider.requests();
      await provider.read(name);
      const afterRead = provider.requests();
      assert.ok(afterRead.reads > start.reads, 'a read is counted');
      assert.equal(afterRead.writes, start.writes, 'a read writes nothing');
      await converge([name], desiredRecords(name, ttlOf(300), [{ a: ['192.0.2.81'] }]));
      assert.ok(provider.requests().writes > afterRead.writes, 'an apply that changes something writes');
      await converge([name], []);
    });

    it('applies all changes or none when atomic', async (t) => {
      if (!provider.capabilities.atomic) return t.skip('atomic is false');
      const good = at('atomic-good');
      const bad = at('atomic-bad');
      const set: RecordSet = { name: good, type: 'A', ttl: ttlOf(300), values: ['192.0.2.60'] };
      const invalid: RecordSet = { name: bad, type: 'A', ttl: ttlOf(300), values: ['not-an-address'] };
      await expectCode(
        provider.apply([
          { name: good, type: 'A', before: undefined, after: set },
          { name: bad, type: 'A', before: undefined, after: invalid },
        ]),
        'invalid_argument',
      );
      assert.deepEqual(await provider.read(good), [], 'the valid change was not applied either');
    });

    it('refuses names outside the zone with invalid_argument', async (t) => {
      if (harness.zoneless) return t.skip('the provider has no zone');
      const set = (name: string): RecordSet => ({ name, type: 'A', ttl: ttlOf(300), values: ['192.0.2.70'] });
      // `evil<zone>` ends with the zone's text but is not under it.
      for (const name of [
        'www.example.invalid',
        `evil${zone}`,
        zone.split('.').slice(1).join('.') || 'test',
      ]) {
        await expectCode(provider.read(name), 'invalid_argument', provider.name);
        await expectCode(
          provider.apply([{ name, type: 'A', before: undefined, after: set(name) }]),
          'invalid_argument',
          provider.name,
        );
      }
    });

    describe('compare-and-set', () => {
      const skipUnless = (t: { skip(reason: string): void }): boolean => {
        if (!provider.capabilities.compareAndSet) t.skip('compareAndSet is false');
        else if (!harness.changeBehindBack) t.skip('the harness cannot change a set behind the back');
        else return false;
        return true;
      };

      it('a set changed since it was read is a conflict, and keeps what the other writer put', async (t) => {
        if (skipUnless(t)) return;
        const name = at('cas');
        await converge([name], desiredRecords(name, ttlOf(300), [{ a: ['192.0.2.80'] }]));
        const stale = await provider.read(name);
        const theirs: RecordSet = { name, type: 'A', ttl: ttlOf(300), values: ['192.0.2.99'] };
        await harness.changeBehindBack!(theirs, name, 'A');
        const ours = planDns(stale, desiredRecords(name, ttlOf(300), [{ a: ['192.0.2.81'] }]));
        await expectCode(provider.apply(ours), 'conflict', provider.name);
        assertSameSets(await provider.read(name), [theirs], name);
        await converge([name], []);
      });

      it('a set created since the read (before: none) is a conflict', async (t) => {
        if (skipUnless(t)) return;
        const name = at('cas-new');
        const theirs: RecordSet = { name, type: 'A', ttl: ttlOf(300), values: ['192.0.2.98'] };
        await harness.changeBehindBack!(theirs, name, 'A');
        const ours = planDns([], desiredRecords(name, ttlOf(300), [{ a: ['192.0.2.82'] }]));
        await expectCode(provider.apply(ours), 'conflict');
        assertSameSets(await provider.read(name), [theirs], name);
        await converge([name], []);
      });

      it('a set deleted since the read is a conflict, and nothing of the apply happens', async (t) => {
        if (skipUnless(t)) return;
        const name = at('cas-gone');
        const other = at('cas-other');
        const start = desiredRecords(name, ttlOf(300), [{ a: ['192.0.2.83'] }]);
        await converge([name], start);
        await harness.changeBehindBack!(undefined, name, 'A');
        const ours = planDns(start, desiredRecords(name, ttlOf(300), [{ a: ['192.0.2.84'] }]));
        const extra = planDns([], desiredRecords(other, ttlOf(300), [{ a: ['192.0.2.85'] }]));
        await expectCode(provider.apply([...extra, ...ours]), 'conflict');
        assert.deepEqual(await provider.read(name), []);
        if (provider.capabilities.atomic) assert.deepEqual(await provider.read(other), []);
        await converge([other], []);
      });
    });
  });
}

function assertSameSets(actual: RecordSet[], expected: RecordSet[], where: string): void {
  const byType = (sets: RecordSet[]) => [...sets].sort((a, b) => a.type.localeCompare(b.type));
  const got = byType(actual);
  const want = byType(expected);
  const same = got.length === want.length && got.every((set, index) => sameSet(set, want[index]!));
  assert.ok(same, `${where}: read ${JSON.stringify(got)}, expected ${JSON.stringify(want)}`);
}

function canonicalSorted(type: ManagedType, values: string[]): string[] {
  const canonical = type === 'CNAME' ? values.map(normalizeName) : values.map(canonicalAddress);
  return [...new Set(canonical)].sort();
}

async function expectCode(promise: Promise<unknown>, code: ErrorCode, source?: string): Promise<void> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  assert.ok(isOutlastError(error), `expected an OutlastError (${code}), got ${String(error)}`);
  assert.equal(error.code, code, `expected ${code}, got ${error.code}: ${error.message}`);
  if (source !== undefined) assert.equal(error.source, source, "a provider's errors name the provider");
}

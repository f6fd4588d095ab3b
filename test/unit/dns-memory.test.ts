// The memory DNS provider: the conformance suite (which also tests the suite itself), then what
// only memory has: registries shared by name, the strict CNAME rule, and fault injection.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { desiredRecords, planDns } from '../../src/dns/plan.ts';
import {
  createMemoryDnsProvider,
  failNextApply,
  memoryDnsRecords,
  resetMemoryDns,
} from '../../src/dns/providers/memory.ts';
import { isOutlastError, OutlastError } from '../../src/errors.ts';
import { testDnsProvider } from '../conformance/dns.ts';

const SUITE_REGISTRY = 'conformance';

testDnsProvider({
  name: 'memory',
  zone: 'example.test',
  zoneless: true,
  create: async () => createMemoryDnsProvider({ name: SUITE_REGISTRY }),
  reset: async () => resetMemoryDns(SUITE_REGISTRY),
  // Another provider on the same registry is another writer: it reads and writes without the
  // stale `before` the provider under test holds.
  async changeBehindBack(set, name, type) {
    const other = createMemoryDnsProvider({ name: SUITE_REGISTRY });
    const before = (await other.read(name)).find((held) => held.type === type);
    await other.apply([{ name, type, before, after: set }]);
  },
});

describe('memory dns provider', () => {
  it('shares records between providers of the same name, and only those', async () => {
    const a = createMemoryDnsProvider({ name: 'shared-dns' });
    const b = createMemoryDnsProvider({ name: 'shared-dns' });
    const other = createMemoryDnsProvider({ name: 'other-dns' });
    const desired = desiredRecords('www.example.com', 60, [{ a: ['192.0.2.1'] }]);
    await a.apply(planDns(await a.read('www.example.com'), desired));
    assert.deepEqual(await b.read('www.example.com'), desired);
    assert.deepEqual(await other.read('www.example.com'), []);
    assert.deepEqual(memoryDnsRecords('shared-dns'), desired);
    assert.equal(a.describe(), 'memory shared-dns');
    resetMemoryDns('shared-dns');
    assert.deepEqual(await b.read('www.example.com'), []);
    assert.deepEqual(memoryDnsRecords('shared-dns'), []);
  });

  it('hands out copies: changing what read returned changes nothing stored', async () => {
    const provider = createMemoryDnsProvider({ name: 'copies-dns' });
    await provider.apply(planDns([], desiredRecords('www.example.com', 60, [{ a: ['192.0.2.1'] }])));
    const [set] = await provider.read('www.example.com');
    set!.values.push('192.0.2.2');
    memoryDnsRecords('copies-dns')[0]!.values.push('192.0.2.3');
    assert.deepEqual((await provider.read('www.example.com'))[0]!.values, ['192.0.2.1']);
    resetMemoryDns('copies-dns');
  });

  it('refuses a CNAME beside other data, as a real host does, and changes nothing', async () => {
    const provider = createMemoryDnsProvider({ name: 'cname-dns' });
    const name = 'www.example.com';
    const a = desiredRecords(name, 60, [{ a: ['192.0.2.1'] }]);
    await provider.apply(planDns([], a));
    const cname = desiredRecords(name, 60, [{ cname: 'a.example.net' }])[0]!;
    const error = await provider
      .apply([{ name, type: 'CNAME', before: undefined, after: cname }])
      .catch((caught: unknown) => caught);
    assert.ok(isOutlastError(error, 'invalid_argument'), String(error));
    assert.match(error.message, /CNAME cannot coexist/);
    assert.deepEqual(await provider.read(name), a);
    // The planner's order (delete A, then add CNAME) in one apply is fine.
    await provider.apply(planDns(a, [cname]));
    assert.deepEqual(await provider.read(name), [cname]);
    resetMemoryDns('cname-dns');
  });

  it('fails the next apply on demand, before changing anything', async () => {
    const provider = createMemoryDnsProvider({ name: 'fault-dns' });
    const boom = new OutlastError('unavailable', 'injected', { source: 'memory' });
    failNextApply('fault-dns', boom);
    const changes = planDns([], desiredRecords('www.example.com', 60, [{ a: ['192.0.2.1'] }]));
    await assert.rejects(provider.apply(changes), boom);
    assert.deepEqual(await provider.read('www.example.com'), []);
    await provider.apply(changes);
    assert.equal((await provider.read('www.example.com')).length, 1);
    resetMemoryDns('fault-dns');
  });

  it('uses one default registry when no name is given', async () => {
    const a = createMemoryDnsProvider({});
    const b = createMemoryDnsProvider();
    assert.equal(a.describe(), 'memory default');
    await a.apply(planDns([], desiredRecords('x.example.com', 60, [{ cname: 'y.example.net' }])));
    assert.equal((await b.read('x.example.com'))[0]?.values[0], 'y.example.net');
    resetMemoryDns();
  });
});

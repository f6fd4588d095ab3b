// The write gate (src/writes.ts), the one place a dry run lives: what a live and a dry-run gate do
// with a write and a setup step, how options that carry a gate or a flag resolve, and the gate
// reaching DNS providers that their host modules built (createDnsProvider, gateDnsProvider).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { gateDnsProvider } from '../../src/dns/checked.ts';
import { createDnsProvider } from '../../src/dns/index.ts';
import type { DnsProvider, RecordSet } from '../../src/dns/provider.ts';
import { createEmbeddedProvider } from '../../src/dns/providers/embedded.ts';
import { memoryDnsRecords, resetMemoryDns } from '../../src/dns/providers/memory.ts';
import { isOutlastError } from '../../src/errors.ts';
import { createWriteGate, gateOf, LIVE } from '../../src/writes.ts';

const ZONE = 'example.test';
const www = (values: string[]): RecordSet => ({ name: `www.${ZONE}`, type: 'A', ttl: 60, values });

describe('WriteGate', () => {
  it('live: runs each write and returns what it returns; records nothing', async () => {
    const gate = createWriteGate({ dryRun: false });
    const ran: string[] = [];
    assert.equal(
      await gate.run('put "a"', async () => {
        ran.push('a');
        return 7;
      }),
      7,
    );
    const done = await gate.step('website', { what: 'serve x', done: 'now serves x' }, async () => {
      ran.push('website');
    });
    assert.deepEqual(done, { step: 'website', status: 'done', detail: 'now serves x' });
    const already = await gate.step('create bucket', { what: 'create b', done: 'created b' }, async () => ({
      step: 'create bucket',
      status: 'already' as const,
      detail: 'b exists',
    }));
    assert.equal(already.status, 'already', 'a write may report another outcome');
    await assert.rejects(
      gate.run('delete "b"', async () => {
        throw new Error('refused');
      }),
      /refused/,
    );
    assert.deepEqual(ran, ['a', 'website']);
    assert.deepEqual(gate.skipped(), []);
    assert.deepEqual(LIVE.skipped(), []);
    assert.equal(LIVE.dryRun, false);
  });

  it('dry run: runs nothing, lists `would …` in order, and a step says would', async () => {
    const gate = createWriteGate({ dryRun: true });
    let ran = 0;
    const write = async () => {
      ran++;
      return 1;
    };
    assert.equal(await gate.run('put "a"', write), undefined);
    const step = await gate.step('cors', { what: 'set CORS', done: 'set CORS' }, async () => {
      ran++;
    });
    assert.deepEqual(step, { step: 'cors', status: 'would', detail: 'would set CORS' });
    assert.equal(ran, 0);
    assert.deepEqual(gate.skipped(), ['would put "a"', 'would set CORS']);
    const copy = gate.skipped() as string[];
    copy.length = 0;
    assert.equal(gate.skipped().length, 2, 'skipped() is a copy');
  });

  it('gateOf: the gate given, else one from dryRun; a dry run wins', () => {
    const dry = createWriteGate({ dryRun: true });
    assert.equal(gateOf({}), LIVE);
    assert.equal(gateOf({ dryRun: false }), LIVE);
    assert.equal(gateOf({ gate: dry }), dry);
    assert.equal(gateOf({ gate: dry, dryRun: false }), dry);
    assert.equal(gateOf({ dryRun: true }).dryRun, true);
    assert.equal(gateOf({ gate: LIVE, dryRun: true }).dryRun, true);
  });
});

describe('DNS providers through a gate', () => {
  it('createDnsProvider with a dry-run gate: the memory host is never written', async () => {
    resetMemoryDns('writes-test');
    const live = await createDnsProvider({ type: 'memory', name: 'writes-test' });
    await live.apply([{ name: `www.${ZONE}`, type: 'A', before: undefined, after: www(['192.0.2.1']) }]);
    const gate = createWriteGate({ dryRun: true });
    const dry = await createDnsProvider({ type: 'memory', name: 'writes-test' }, { gate });
    await dry.apply([
      { name: `www.${ZONE}`, type: 'A', before: www(['192.0.2.1']), after: www(['192.0.2.2']) },
    ]);
    assert.deepEqual(memoryDnsRecords('writes-test'), [www(['192.0.2.1'])]);
    assert.deepEqual(dry.requests(), { reads: 0, writes: 0 });
    assert.deepEqual(gate.skipped(), [`would write to memory: set www.${ZONE} A to 60 192.0.2.2`]);
    resetMemoryDns('writes-test');
  });

  it('reaches a provider its host module spread into its own object (embedded)', async () => {
    const gate = createWriteGate({ dryRun: true });
    const provider = gateDnsProvider(
      await createEmbeddedProvider({
        zone: ZONE,
        nameservers: ['ns1.example.test.'],
        records: [{ name: 'ns1', type: 'A', value: '127.0.0.1' }],
        listen: ['127.0.0.1:0'],
      }),
      gate,
    );
    try {
      const serial = provider.serial();
      await provider.apply([
        { name: `www.${ZONE}`, type: 'A', before: undefined, after: www(['192.0.2.1']) },
      ]);
      assert.deepEqual(await provider.read(`www.${ZONE}`), []);
      assert.equal(provider.serial(), serial);
      assert.equal(gate.skipped().length, 1);
    } finally {
      await provider.close();
    }
  });

  it('refuses a dry-run gate for a provider whose writes do not pass through checkedDnsProvider', () => {
    const bare: DnsProvider = {
      name: 'bare',
      capabilities: { compareAndSet: false, atomic: false, minTtl: 1, types: ['A'] },
      describe: () => 'bare',
      read: async () => [],
      apply: async () => undefined,
      requests: () => ({ reads: 0, writes: 0 }),
    };
    assert.equal(gateDnsProvider(bare, LIVE), bare);
    assert.throws(
      () => gateDnsProvider(bare, createWriteGate({ dryRun: true })),
      (error) => isOutlastError(error, 'internal'),
    );
  });
});

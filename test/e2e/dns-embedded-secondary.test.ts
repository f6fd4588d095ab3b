// The embedded server as the primary of a real secondary: a Knot DNS 3.2 (Debian's knotd, started
// for this file) configured as secondary of example.test transfers the zone from the embedded
// server (TSIG-signed, hmac-sha256), answers the managed name; then a failover `apply` changes the
// name (A → other A, then A → CNAME), the embedded server sends NOTIFY, and the secondary serves
// the new value within seconds (polled with real queries, 20 s at most). The SOA refresh is an
// hour, so only the NOTIFY can have brought the change.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { RecordSet } from '../../src/dns/provider.ts';
import { createEmbeddedProvider, type EmbeddedDnsProvider } from '../../src/dns/providers/embedded.ts';
import type { TsigKey } from '../../src/dns/tsig.ts';
import { query } from '../servers/dns.ts';
import { freePort, KnotPortTakenError, type KnotServer, startKnot } from '../servers/embedded-dns.ts';

const ZONE = 'example.test';
const WWW = `www.${ZONE}`;
const KEY: TsigKey = {
  name: 'transfer-key',
  algorithm: 'hmac-sha256',
  secret: 'ZYuwmHCZe8EPlhMZhoaZ/C5y7GdX9+cBkOdzHBk1TD4=',
};
const POLL_TIMEOUT_MS = 20_000;

const aSet = (address: string): RecordSet => ({ name: WWW, type: 'A', ttl: 60, values: [address] });

describe('a Knot secondary of the embedded server', () => {
  let provider: EmbeddedDnsProvider;
  let knot: KnotServer;

  /** Polls the secondary until `name type` answers `expected` (data joined); the time it took. */
  async function waitFor(name: string, type: 'A' | 'CNAME' | 'SOA', expected: string): Promise<number> {
    const started = Date.now();
    let last = '';
    while (Date.now() - started < POLL_TIMEOUT_MS) {
      const { rcode, answers } = await query(knot, name, type).catch(() => ({ rcode: 'ERROR', answers: [] }));
      last = `${rcode} ${answers.map((answer) => `${answer.type} ${answer.data}`).join(', ')}`;
      const data = answers.filter((answer) => answer.type === type).map((answer) => answer.data);
      if (rcode === 'NOERROR' && data.join(' ') === expected) return Date.now() - started;
      await sleep(50);
    }
    assert.fail(
      `the secondary still answers "${last}" for ${name} ${type}, not ${expected}\n${knot.log().slice(-3000)}`,
    );
  }

  before(async () => {
    // The primary must know the secondary's port before Knot starts (its NOTIFY target) and Knot
    // the primary's: a free port is picked for Knot first. Should something else take it before
    // knotd binds it, both start again on another one (a start retry, not a test retry).
    for (let attempt = 0; ; attempt++) {
      const knotPort = await freePort();
      provider = await createEmbeddedProvider({
        listen: ['127.0.0.1:0'],
        zone: ZONE,
        nameservers: [`ns1.${ZONE}.`],
        records: [{ name: 'ns1', type: 'A', value: '127.0.0.1' }],
        soa: { refresh: 3600, retry: 600 },
        secondaries: { notify: [`127.0.0.1:${knotPort}`], allowTransfer: ['127.0.0.1'], tsig: KEY },
      });
      await provider.apply([{ name: WWW, type: 'A', before: undefined, after: aSet('192.0.2.1') }]);
      const primary = provider.addresses()[0]!;
      try {
        knot = await startKnot({
          port: knotPort,
          yaml: () => `key:
  - id: ${KEY.name}
    algorithm: ${KEY.algorithm}
    secret: ${KEY.secret}

remote:
  - id: outlast
    address: ${primary.host}@${primary.port}
    key: ${KEY.name}

acl:
  - id: notify-from-outlast
    address: ${primary.host}
    key: ${KEY.name}
    action: notify

zone:
  - domain: ${ZONE}
    master: outlast
    acl: notify-from-outlast
`,
          // Up as soon as it answers at all (SERVFAIL until the first transfer is in).
          ready: async (server) => {
            await query(server, ZONE, 'SOA');
            return true;
          },
        });
        return;
      } catch (error) {
        await provider.close();
        if (!(error instanceof KnotPortTakenError) || attempt >= 20) throw error;
      }
    }
  });

  after(async () => {
    if (process.env.OUTLAST_SHOW_KNOT_LOG) console.log(knot?.log());
    await knot?.stop();
    await provider?.close();
  });

  it('transfers the zone by AXFR and answers the managed name', async () => {
    await waitFor(ZONE, 'SOA', `ns1.${ZONE} hostmaster.${ZONE} ${provider.serial()} 3600 600 604800 60`);
    await waitFor(WWW, 'A', '192.0.2.1');
    assert.match(knot.log(), /AXFR, incoming|IXFR, incoming/);
  });

  it('serves a failover change after the NOTIFY: A → another A', async () => {
    await provider.apply([{ name: WWW, type: 'A', before: aSet('192.0.2.1'), after: aSet('192.0.2.2') }]);
    const took = await waitFor(WWW, 'A', '192.0.2.2');
    await waitFor(ZONE, 'SOA', `ns1.${ZONE} hostmaster.${ZONE} ${provider.serial()} 3600 600 604800 60`);
    console.log(`# secondary answered the new A ${took} ms after apply`);
    assert.match(knot.log(), /notify, incoming/i);
  });

  it('serves a failover change after the NOTIFY: A → CNAME', async () => {
    const cname: RecordSet = { name: WWW, type: 'CNAME', ttl: 60, values: ['origin-b.example.net'] };
    await provider.apply([
      { name: WWW, type: 'A', before: aSet('192.0.2.2'), after: undefined },
      { name: WWW, type: 'CNAME', before: undefined, after: cname },
    ]);
    const took = await waitFor(WWW, 'CNAME', 'origin-b.example.net');
    const { answers } = await query(knot, WWW, 'A');
    assert.deepEqual(
      answers.map((answer) => answer.type),
      ['CNAME'],
      'the old A is gone on the secondary too',
    );
    console.log(`# secondary answered the CNAME ${took} ms after apply`);
  });
});

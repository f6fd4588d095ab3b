// The powerdns provider against a real PowerDNS Authoritative 4.7 (gsqlite3, HTTP API), started by
// test/servers/dns.ts: the conformance suite, with real DNS queries proving each change is served
// at once (the API purges the packet cache), then what only PowerDNS has: refused and unknown keys,
// zones and servers, dead and hanging APIs, the server's own 422s, one PATCH per apply (the SOA
// serial moves once, or not at all for a no-op), and the emulated compare-and-set.
//
// The server is shared with other test files running at the same time, and resetZone() empties
// example.test whenever one of them starts; so this file works in a zone of its own, created here
// through the API and deleted at the end.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { createServer as createTcpServer } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { desiredRecords, planDns } from '../../src/dns/plan.ts';
import type { DnsProvider, ManagedType, RecordSet } from '../../src/dns/provider.ts';
import { createPowerDnsProvider, type PowerDnsOptions } from '../../src/dns/providers/powerdns.ts';
import type { ErrorCode } from '../../src/errors.ts';
import { testDnsProvider } from '../conformance/dns.ts';
import { expectCode as expectErrorCode } from '../helpers/errors.ts';
import { dnsServersForTests, query } from '../servers/dns.ts';

const { pdns } = await dnsServersForTests();
const { apiUrl, apiKey } = pdns;
if (!apiUrl || !apiKey) throw new Error('the PowerDNS test server has no API');
const API = apiUrl;
const API_KEY = apiKey;
const SERVER_ID = 'localhost';
/** The powerdns provider's timeout when none is configured (src/dns/providers/powerdns.ts). */
const POWERDNS_DEFAULT_TIMEOUT_MS = 5000;
const ZONE = `powerdns-provider-${process.pid}.test`;
const zoneUrl = (zone = ZONE) => `${API}/api/v1/servers/${SERVER_ID}/zones/${zone}.`;

async function api(method: string, url: string, body?: unknown): Promise<Response> {
  return fetch(url, {
    method,
    headers: { 'X-API-Key': API_KEY, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
}

async function expectStatus(response: Response, status: number): Promise<void> {
  const text = await response.text();
  assert.equal(response.status, status, text);
}

/** Straight to the API, as another writer (a person in the PowerDNS admin UI, another tool). */
async function patchBehindBack(rrsets: unknown[]): Promise<void> {
  await expectStatus(await api('PATCH', zoneUrl(), { rrsets }), 204);
}

/** Deletes every set of the zone but its SOA and NS. */
async function clearZone(): Promise<void> {
  const zone = (await (await api('GET', zoneUrl())).json()) as {
    rrsets: Array<{ name: string; type: string }>;
  };
  const rrsets = zone.rrsets
    .filter((set) => set.type !== 'SOA' && set.type !== 'NS')
    .map((set) => ({ name: set.name, type: set.type, changetype: 'DELETE' }));
  if (rrsets.length > 0) await patchBehindBack(rrsets);
}

async function soaSerial(): Promise<number> {
  return ((await (await api('GET', zoneUrl())).json()) as { serial: number }).serial;
}

async function resolve(name: string, type: ManagedType): Promise<string[]> {
  const { rcode, answers } = await query(pdns, name, type);
  assert.ok(rcode === 'NOERROR' || rcode === 'NXDOMAIN', `${name} ${type}: ${rcode}`);
  return answers
    .filter((answer) => answer.name === name && answer.type === type)
    .map((answer) => answer.data);
}

function options(overrides: Partial<PowerDnsOptions> = {}): PowerDnsOptions {
  return { url: API, serverId: SERVER_ID, zone: ZONE, apiKey: API_KEY, ...overrides };
}

await expectStatus(
  await api('POST', `${API}/api/v1/servers/${SERVER_ID}/zones`, {
    name: `${ZONE}.`,
    kind: 'Native',
    nameservers: [`ns1.${pdns.zone}.`],
  }),
  201,
);
after(async () => {
  await expectStatus(await api('DELETE', zoneUrl()), 204);
});

testDnsProvider({
  name: 'powerdns 4.7 (gsqlite3)',
  zone: ZONE,
  create: async () => createPowerDnsProvider(options()),
  resolve,
  reset: clearZone,
  async changeBehindBack(set: RecordSet | undefined, name: string, type: ManagedType) {
    await patchBehindBack([
      set
        ? {
            name: `${name}.`,
            type,
            ttl: set.ttl,
            changetype: 'REPLACE',
            records: set.values.map((value) => ({
              content: type === 'CNAME' ? `${value}.` : value,
              disabled: false,
            })),
          }
        : { name: `${name}.`, type, changetype: 'DELETE' },
    ]);
  },
});

describe('powerdns provider', () => {
  let provider: DnsProvider;
  const www = `www.${ZONE}`;

  before(async () => {
    await clearZone();
    provider = createPowerDnsProvider(options());
  });

  after(async () => {
    await provider?.close?.();
    await clearZone();
  });

  it('describes zone and API without the key', () => {
    assert.equal(provider.describe(), `powerdns ${ZONE} @ ${API}`);
    assert.equal(provider.capabilities.compareAndSet, false, 'emulated only: a race window remains');
    assert.equal(provider.capabilities.atomic, true);
  });

  it('serves a change at once, even over a cached answer', async () => {
    await provider.apply(planDns(await provider.read(www), desiredRecords(www, 300, [{ a: ['192.0.2.1'] }])));
    // Twice, so the answer is in the packet cache (cache-ttl 20 s by default) before the change.
    assert.deepEqual(await resolve(www, 'A'), ['192.0.2.1']);
    assert.deepEqual(await resolve(www, 'A'), ['192.0.2.1']);
    await provider.apply(
      planDns(await provider.read(www), desiredRecords(www, 300, [{ cname: 'origin-b.example.net' }])),
    );
    assert.deepEqual(await resolve(www, 'CNAME'), ['origin-b.example.net']);
    assert.deepEqual(await resolve(www, 'A'), []);
  });

  it('sends one PATCH per apply, and none when nothing changes (the SOA serial tells)', async () => {
    const desired = [
      ...desiredRecords(www, 300, [{ a: ['192.0.2.1', '192.0.2.2'], aaaa: ['2001:db8::1'] }]),
      ...desiredRecords(`alt.${ZONE}`, 300, [{ a: ['192.0.2.3'] }]),
    ];
    const current = [...(await provider.read(www)), ...(await provider.read(`alt.${ZONE}`))];
    const changes = planDns(current, desired);
    assert.equal(changes.length, 4, 'delete CNAME, add A, add AAAA, add alt A');
    const serial = await soaSerial();
    await provider.apply(changes);
    // soa_edit_api DEFAULT moves a serial to YYYYMMDD01 or adds 1, so "moved" is all one can say.
    const changed = await soaSerial();
    assert.ok(changed > serial, 'the PATCH bumped the serial');
    await provider.apply(changes);
    await provider.apply([]);
    assert.equal(await soaSerial(), changed, 'a change already there is not sent again');
  });

  it('emulates compare-and-set: a set changed since the read is a conflict', async () => {
    const start = desiredRecords(www, 300, [{ a: ['192.0.2.10'] }]);
    await provider.apply(planDns(await provider.read(www), start));
    const stale = await provider.read(www);
    await patchBehindBack([
      {
        name: `${www}.`,
        type: 'A',
        ttl: 300,
        changetype: 'REPLACE',
        records: [{ content: '192.0.2.99', disabled: false }],
      },
    ]);
    const error = await expectCode(
      provider.apply(planDns(stale, desiredRecords(www, 300, [{ a: ['192.0.2.11'] }]))),
      'conflict',
    );
    assert.match(error.message, /192\.0\.2\.99/, 'says what is there now');
    assert.deepEqual((await provider.read(www))[0]?.values, ['192.0.2.99']);
    assert.deepEqual(await resolve(www, 'A'), ['192.0.2.99']);
  });

  it("passes PowerDNS's 422 on as invalid_argument, and applies nothing of that PATCH", async () => {
    const name = `txt.${ZONE}`;
    // A TXT record (not managed by outlast) makes a CNAME at the same name impossible.
    await patchBehindBack([
      {
        name: `${name}.`,
        type: 'TXT',
        ttl: 300,
        changetype: 'REPLACE',
        records: [{ content: '"keep me"', disabled: false }],
      },
    ]);
    const other = `other.${ZONE}`;
    const changes = [
      ...planDns([], desiredRecords(other, 300, [{ a: ['192.0.2.20'] }])),
      ...planDns([], desiredRecords(name, 300, [{ cname: 'a.example.net' }])),
    ];
    const error = await expectCode(provider.apply(changes), 'invalid_argument');
    assert.match(error.message, /Conflicts with pre-existing RRset/, "PowerDNS's own words");
    assert.deepEqual(await provider.read(other), [], 'the valid change of the same apply was not made');
    assert.deepEqual(await resolve(other, 'A'), []);
  });

  it('ignores disabled records: they are not served', async () => {
    const name = `disabled.${ZONE}`;
    await patchBehindBack([
      {
        name: `${name}.`,
        type: 'A',
        ttl: 300,
        changetype: 'REPLACE',
        records: [
          { content: '192.0.2.30', disabled: true },
          { content: '192.0.2.31', disabled: false },
        ],
      },
    ]);
    assert.deepEqual((await provider.read(name))[0]?.values, ['192.0.2.31']);
    assert.deepEqual(await resolve(name, 'A'), ['192.0.2.31']);
  });

  it('refuses names of the other zones on the same server', async () => {
    for (const zone of [pdns.zone, pdns.otherZone ?? 'other.test']) {
      await expectCode(provider.read(`www.${zone}`), 'invalid_argument');
    }
  });

  it('a wrong API key is permission_denied, and the message has no key', async () => {
    const wrongKey = 'not-the-key-0123456789';
    const refused = createPowerDnsProvider(options({ apiKey: wrongKey }));
    try {
      for (const attempt of [
        () => refused.read(www),
        () => refused.apply(planDns([], desiredRecords(`new.${ZONE}`, 300, [{ a: ['192.0.2.40'] }]))),
      ]) {
        const error = await expectCode(attempt(), 'permission_denied');
        for (const key of [wrongKey, API_KEY]) {
          assert.ok(!error.message.includes(key), `no key in: ${error.message}`);
          assert.ok(!JSON.stringify(error.hint ?? '').includes(key));
        }
        assert.equal(error.retryable, false);
      }
      assert.ok(!refused.describe().includes(wrongKey));
    } finally {
      await refused.close?.();
    }
  });

  it('an unknown zone or server id is not_found, naming both', async () => {
    for (const overrides of [{ zone: 'nope.test' }, { serverId: 'no-such-server' }]) {
      const missing = createPowerDnsProvider(options(overrides));
      try {
        const error = await expectCode(missing.read(`www.${overrides.zone ?? ZONE}`), 'not_found');
        assert.match(
          error.message,
          new RegExp(`${overrides.zone ?? ZONE}.*${overrides.serverId ?? SERVER_ID}`),
        );
      } finally {
        await missing.close?.();
      }
    }
  });

  it('a dead API is unavailable and retryable', async () => {
    const port = await freePort();
    const dead = createPowerDnsProvider(options({ url: `http://127.0.0.1:${port}` }));
    try {
      const error = await expectCode(dead.read(www), 'unavailable');
      assert.equal(error.retryable, true);
      assert.match(error.message, /ECONNREFUSED/);
      // A name outside the zone is refused before any request, so not `unavailable`.
      await expectCode(dead.read('www.example.invalid'), 'invalid_argument');
    } finally {
      await dead.close?.();
    }
  });

  it('an API that answers 5xx is unavailable; one that hangs is timeout', async () => {
    const failing = await listen(
      createServer((_request, response) => {
        response.writeHead(503, { 'content-type': 'application/json' });
        response.end('{"error": "backend down"}');
      }),
    );
    const hanging = createTcpServer(() => {
      // Accepts the connection and never answers.
    });
    await new Promise<void>((done) => hanging.listen(0, '127.0.0.1', done));
    const hangingPort = (hanging.address() as { port: number }).port;
    const down = createPowerDnsProvider(options({ url: failing.url }));
    const slow = createPowerDnsProvider(options({ url: `http://127.0.0.1:${hangingPort}`, timeoutMs: 300 }));
    try {
      const error = await expectCode(down.read(www), 'unavailable');
      assert.match(error.message, /503 backend down/);
      const started = Date.now();
      const timedOut = await expectCode(slow.read(www), 'timeout');
      assert.equal(timedOut.retryable, true);
      // Bounded by the provider's default (5 s), not by a guess at how fast this machine is: an
      // ignored timeoutMs still fails it, a loaded machine's delays do not.
      const took = Date.now() - started;
      assert.ok(took < POWERDNS_DEFAULT_TIMEOUT_MS, `gives up after timeoutMs (took ${took} ms)`);
    } finally {
      await down.close?.();
      await slow.close?.();
      failing.server.closeAllConnections();
      failing.server.close();
      hanging.close();
    }
  });
});

const expectCode = (promise: Promise<unknown>, code: ErrorCode) => expectErrorCode(promise, code, 'powerdns');

async function freePort(): Promise<number> {
  const server = createTcpServer();
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as { port: number };
  await new Promise((done) => server.close(done));
  return port;
}

async function listen(server: Server): Promise<{ server: Server; url: string }> {
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as { port: number };
  return { server, url: `http://127.0.0.1:${port}` };
}

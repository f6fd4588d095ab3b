// The dnsmadeeasy provider against a stand-in DNS Made Easy API v2.0 (test/standins/dnsmadeeasy.ts)
// that checks every request as the service would (HMAC-SHA1 of the request date, the date's skew,
// the request budget, paths, bodies, relative names): the conformance suite, then what only DNS
// Made Easy has: the signature, the number of requests each operation spends, relative CNAME
// values, the apex, the emulated compare-and-set, records of DNS Made Easy's own failover left
// alone, a half-done apply, and the errors (key, secret or clock refused, unknown domain, rate
// limit with and without Retry-After, 5xx, dead and hanging APIs). A live test runs only with real
// keys.
import assert from 'node:assert/strict';
import { createServer as createTcpServer } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { desiredRecords, planDns } from '../../src/dns/plan.ts';
import type { DnsProvider, ManagedType, RecordSet } from '../../src/dns/provider.ts';
import {
  createDnsMadeEasyProvider,
  type DnsMadeEasyOptions,
  dnsMadeEasySignature,
} from '../../src/dns/providers/dnsmadeeasy.ts';
import type { ErrorCode } from '../../src/errors.ts';
import { testDnsProvider } from '../conformance/dns.ts';
import { expectCode as expectErrorCode } from '../helpers/errors.ts';
import { DnsMadeEasyStandIn } from '../standins/dnsmadeeasy.ts';

const API_KEY = 'dme-api-key-0123456789';
const SECRET_KEY = 'dme-secret-key-abcdefghij';
const standin = new DnsMadeEasyStandIn();
await standin.start();
standin.keys.set(API_KEY, SECRET_KEY);
const domain = standin.addDomain('example.test');
after(() => standin.stop());

function options(overrides: Partial<DnsMadeEasyOptions> = {}): DnsMadeEasyOptions {
  return {
    domain: domain.name,
    apiKey: API_KEY,
    secretKey: SECRET_KEY,
    baseUrl: standin.baseUrl,
    ...overrides,
  };
}

const relative = (host: string) => (host === domain.name ? '' : host.slice(0, -(domain.name.length + 1)));

testDnsProvider({
  name: 'dnsmadeeasy (stand-in)',
  zone: domain.name,
  async create() {
    // The suite spends more than one 5-minute window of a real account; the budget has its own test.
    standin.requestLimit = 100_000;
    return createDnsMadeEasyProvider(options());
  },
  resolve: async (name: string, type: ManagedType) => standin.served(domain.id, name, type),
  reset: async () => standin.reset(domain.id),
  async changeBehindBack(set: RecordSet | undefined, name: string, type: ManagedType) {
    const values = set?.values.map((value) => (type === 'CNAME' ? `${value}.` : value)) ?? [];
    standin.put(domain.id, relative(name), type, set?.ttl ?? 60, values);
  },
});

describe('dnsmadeeasy provider', () => {
  let provider: DnsProvider;
  const www = `www.${domain.name}`;
  const requestsSince = (count: number) =>
    standin.requests.slice(count).map((request) => {
      const tail = request.path.replace(`/V2.0/dns/managed/${domain.id}`, '');
      return `${request.method} ${tail}${request.query.size > 0 ? `?${request.query}` : ''}`;
    });

  before(() => {
    standin.reset(domain.id);
    standin.requestLimit = 150;
    standin.resetWindow();
    provider = createDnsMadeEasyProvider(options());
  });

  after(async () => {
    await provider.close?.();
    standin.reset(domain.id);
  });

  it('signs with the hex HMAC-SHA1 of the request date (a known vector), dated in GMT', async () => {
    // The vector of go-acme/lego's DNS Made Easy client tests.
    assert.equal(
      dnsMadeEasySignature('secret', 'Tue, 02 Jun 2015 02:36:07 UTC'),
      '6b6c8432119c31e1d3776eb4cd3abd92fae4a71c',
    );
    const count = standin.requests.length;
    await provider.read(www);
    const sent = standin.requests[count]!;
    assert.match(String(sent.headers['x-dnsme-requestdate']), / GMT$/);
    assert.equal(sent.headers['x-dnsme-apikey'], API_KEY);
    assert.equal(
      sent.headers['x-dnsme-hmac'],
      dnsMadeEasySignature(SECRET_KEY, String(sent.headers['x-dnsme-requestdate'])),
    );
    assert.equal(provider.describe(), `dnsmadeeasy ${domain.name} @ ${standin.baseUrl}`);
    assert.ok(!provider.describe().includes(SECRET_KEY) && !provider.describe().includes(API_KEY));
  });

  it('spends as few requests as it can: one per read, a re-read and at most three writes per apply', async () => {
    const fresh = createDnsMadeEasyProvider(options());
    try {
      let count = standin.requests.length;
      await fresh.read(www);
      assert.deepEqual(requestsSince(count), [
        `GET /V2.0/dns/managed/name?domainname=${domain.name}`,
        'GET /records?recordName=www',
      ]);
      const step = async (desired: RecordSet[], expected: string[]) => {
        const changes = planDns(await fresh.read(www), desired);
        count = standin.requests.length;
        await fresh.apply(changes);
        assert.deepEqual(
          requestsSince(count).map((line) =>
            line.replace(/\/\d+$/, '/ID').replace(/ids=\d+&ids=\d+/, 'ids=…'),
          ),
          expected,
        );
      };
      await step(desiredRecords(www, 300, [{ a: ['192.0.2.1', '192.0.2.2'] }]), [
        'GET /records?recordName=www',
        'POST /records/createMulti',
      ]);
      await step(desiredRecords(www, 300, [{ a: ['192.0.2.1', '192.0.2.3'] }]), [
        'GET /records?recordName=www',
        'PUT /records/ID',
      ]);
      await step(desiredRecords(www, 120, [{ a: ['192.0.2.4', '192.0.2.3'] }]), [
        'GET /records?recordName=www',
        'PUT /records/updateMulti',
      ]);
      await step(desiredRecords(www, 120, [{ cname: 'origin.example.net' }]), [
        'GET /records?recordName=www',
        'DELETE /records?ids=…',
        'POST /records',
      ]);
      // Already there (another watcher made the same move): the re-read only.
      const same = planDns([], desiredRecords(www, 120, [{ cname: 'origin.example.net' }]));
      count = standin.requests.length;
      await fresh.apply(same);
      assert.deepEqual(requestsSince(count), ['GET /records?recordName=www']);
      await step([], ['GET /records?recordName=www', 'DELETE /records/ID']);
      const posted = standin.requests.filter((request) => request.method === 'POST').at(-1)!.body;
      assert.deepEqual(posted, {
        name: 'www',
        type: 'CNAME',
        value: 'origin.example.net.',
        ttl: 120,
        gtdLocation: 'DEFAULT',
      });
    } finally {
      await fresh.close?.();
    }
  });

  it('reads CNAME values relative to the domain or absolute, and the apex across pages', async () => {
    standin.put(domain.id, 'rel', 'CNAME', 300, ['origin']);
    standin.put(domain.id, 'abs', 'CNAME', 300, ['Origin.Example.NET.']);
    assert.deepEqual((await provider.read(`rel.${domain.name}`))[0]?.values, [`origin.${domain.name}`]);
    assert.deepEqual((await provider.read(`abs.${domain.name}`))[0]?.values, ['origin.example.net']);
    standin.put(domain.id, '', 'A', 300, ['192.0.2.9']);
    standin.pageSize = 2;
    try {
      const count = standin.requests.length;
      assert.deepEqual(await provider.read(domain.name), [
        { name: domain.name, type: 'A', ttl: 300, values: ['192.0.2.9'] },
      ]);
      assert.deepEqual(requestsSince(count), ['GET /records', 'GET /records?page=2']);
      await provider.apply(
        planDns(await provider.read(domain.name), desiredRecords(domain.name, 300, [{ a: ['192.0.2.8'] }])),
      );
      assert.deepEqual(standin.served(domain.id, domain.name, 'A'), ['192.0.2.8']);
    } finally {
      standin.pageSize = 1000;
      standin.put(domain.id, '', 'A', 300, []);
    }
  });

  it('emulates compare-and-set: a set changed since the read is a conflict, and nothing is written', async () => {
    const name = `cas.${domain.name}`;
    await provider.apply(planDns([], desiredRecords(name, 300, [{ a: ['192.0.2.20'] }])));
    const stale = await provider.read(name);
    standin.put(domain.id, 'cas', 'A', 300, ['192.0.2.99']);
    const count = standin.requests.length;
    const error = await expectCode(
      provider.apply(planDns(stale, desiredRecords(name, 300, [{ a: ['192.0.2.21'] }]))),
      'conflict',
    );
    assert.match(error.message, /192\.0\.2\.99/);
    assert.deepEqual(requestsSince(count), ['GET /records?recordName=cas'], 'only the re-read');
  });

  it('a record gone between the re-read and the write is a conflict', async () => {
    const name = `gone.${domain.name}`;
    await provider.apply(planDns([], desiredRecords(name, 300, [{ a: ['192.0.2.30'] }])));
    standin.onRequest = (request, domains) => {
      if (request.method === 'PUT')
        domains.get(domain.id)!.records = domains
          .get(domain.id)!
          .records.filter((record) => record.name !== 'gone');
      return undefined;
    };
    try {
      await expectCode(
        provider.apply(
          planDns(await provider.read(name), desiredRecords(name, 300, [{ a: ['192.0.2.31'] }])),
        ),
        'conflict',
      );
    } finally {
      standin.onRequest = undefined;
    }
  });

  it('a write failing after the delete says the apply is half done, and the next apply finishes it', async () => {
    const name = `half.${domain.name}`;
    await provider.apply(planDns([], desiredRecords(name, 300, [{ a: ['192.0.2.40'] }])));
    standin.onRequest = (request) =>
      request.method === 'POST' ? { status: 500, body: { error: ['Internal error'] } } : undefined;
    try {
      const error = await expectCode(
        provider.apply(
          planDns(await provider.read(name), desiredRecords(name, 300, [{ cname: 'b.example.net' }])),
        ),
        'unavailable',
      );
      assert.match(error.message, /after the delete/);
      assert.equal(error.retryable, true);
    } finally {
      standin.onRequest = undefined;
    }
    await provider.apply(
      planDns(await provider.read(name), desiredRecords(name, 300, [{ cname: 'b.example.net' }])),
    );
    assert.deepEqual(standin.served(domain.id, name, 'CNAME'), ['b.example.net']);
  });

  it("reads records of DNS Made Easy's own failover and GTD, and refuses to write them", async () => {
    standin.put(domain.id, 'dmefo', 'A', 60, ['192.0.2.50'], { failover: true, monitor: true });
    standin.put(domain.id, 'gtd', 'A', 60, ['192.0.2.51'], { gtdLocation: 'EUROPE' });
    assert.deepEqual((await provider.read(`dmefo.${domain.name}`))[0]?.values, ['dme-failover:192.0.2.50']);
    assert.deepEqual((await provider.read(`gtd.${domain.name}`))[0]?.values, ['gtd:EUROPE']);
    for (const name of [`dmefo.${domain.name}`, `gtd.${domain.name}`]) {
      const count = standin.requests.length;
      await expectCode(
        provider.apply(planDns(await provider.read(name), desiredRecords(name, 60, [{ a: ['192.0.2.52'] }]))),
        'invalid_argument',
      );
      assert.ok(
        standin.requests.slice(count).every((request) => request.method === 'GET'),
        'nothing written',
      );
    }
  });

  it('a refused key, secret or clock is permission_denied, and no key is shown', async () => {
    const tenMinutesAgo = () => new Date(Date.now() - 10 * 60_000);
    for (const overrides of [
      { apiKey: 'unknown-api-key-000' },
      { secretKey: 'wrong-secret-key-000' },
      { now: tenMinutesAgo },
    ]) {
      const refused = createDnsMadeEasyProvider(options(overrides));
      try {
        const error = await expectCode(refused.read(www), 'permission_denied');
        assert.equal(error.retryable, false);
        for (const secret of [SECRET_KEY, API_KEY, 'wrong-secret-key-000', 'unknown-api-key-000']) {
          assert.ok(!error.message.includes(secret), error.message);
        }
        assert.match(error.hint ?? '', /clock/);
      } finally {
        await refused.close?.();
      }
    }
  });

  it('an unknown domain is not_found', async () => {
    const missing = createDnsMadeEasyProvider(options({ domain: 'absent.test' }));
    try {
      const error = await expectCode(missing.read('www.absent.test'), 'not_found');
      assert.match(error.message, /absent\.test/);
    } finally {
      await missing.close?.();
    }
  });

  it('the request limit is rate_limited and retryable, with Retry-After when sent', async () => {
    for (const [seconds, retryAfterMs] of [
      [undefined, undefined],
      [30, 30_000],
    ] as const) {
      standin.retryAfterSeconds = seconds;
      standin.requestLimit = 0;
      try {
        const error = await expectCode(provider.read(www), 'rate_limited');
        assert.equal(error.retryable, true);
        assert.equal(error.retryAfterMs, retryAfterMs);
        assert.match(error.hint ?? '', /150 requests per 5 minutes/);
      } finally {
        standin.requestLimit = 150;
        standin.retryAfterSeconds = undefined;
        standin.resetWindow();
      }
    }
  });

  it('a 5xx is unavailable; a dead API unavailable; a hanging one timeout', async () => {
    standin.nextReplies.push({ status: 503, body: { error: ['Service Unavailable'] } });
    assert.equal((await expectCode(provider.read(www), 'unavailable')).retryable, true);
    const port = await freePort();
    const dead = createDnsMadeEasyProvider(options({ baseUrl: `http://127.0.0.1:${port}/V2.0` }));
    const hanging = createTcpServer(() => {});
    await new Promise<void>((done) => hanging.listen(0, '127.0.0.1', done));
    const slow = createDnsMadeEasyProvider(
      options({
        baseUrl: `http://127.0.0.1:${(hanging.address() as { port: number }).port}/V2.0`,
        timeoutMs: 300,
      }),
    );
    try {
      assert.match((await expectCode(dead.read(www), 'unavailable')).message, /ECONNREFUSED/);
      await expectCode(slow.read(www), 'timeout');
    } finally {
      await dead.close?.();
      await slow.close?.();
      hanging.close();
    }
  });

  it('sent nothing DNS Made Easy would refuse or misread', () => {
    assert.deepEqual(standin.violations, []);
  });
});

describe('dnsmadeeasy live', () => {
  const { DME_API_KEY: apiKey, DME_SECRET_KEY: secretKey, OUTLAST_LIVE_DME_DOMAIN: liveDomain } = process.env;
  it('creates, changes and deletes records in a real domain (OUTLAST_LIVE_DME_BASE_URL for the sandbox)', async (t) => {
    if (!apiKey || !secretKey || !liveDomain) {
      return t.skip('DME_API_KEY, DME_SECRET_KEY and OUTLAST_LIVE_DME_DOMAIN not set');
    }
    const baseUrl = process.env.OUTLAST_LIVE_DME_BASE_URL;
    const live = createDnsMadeEasyProvider({
      domain: liveDomain,
      apiKey,
      secretKey,
      ...(baseUrl ? { baseUrl } : {}),
    });
    const name = `outlast-live-${process.pid}.${liveDomain.replace(/\.$/, '')}`;
    try {
      assert.deepEqual(await live.read(name), []);
      for (const targets of [[{ a: ['192.0.2.1'] }], [{ cname: 'example.net' }], []]) {
        const desired = desiredRecords(name, 60, targets);
        await live.apply(planDns(await live.read(name), desired));
        assert.deepEqual(planDns(await live.read(name), desired), []);
      }
    } finally {
      await live.apply(planDns(await live.read(name), [])).catch(() => undefined);
      await live.close?.();
    }
  });
});

const expectCode = (promise: Promise<unknown>, code: ErrorCode) =>
  expectErrorCode(promise, code, 'dnsmadeeasy');

async function freePort(): Promise<number> {
  const server = createTcpServer();
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as { port: number };
  await new Promise((done) => server.close(done));
  return port;
}

// The cloudflare provider against a stand-in Cloudflare API (test/standins/cloudflare.ts) that
// checks every request as the service would (bearer token and its scopes, query parameters, the
// batch body, record rules): the conformance suite twice (zone by name; zone by id), then what
// only Cloudflare has: one batch per apply after one read per name, records reused, proxied flags
// and comments kept, the emulated compare-and-set, and the errors (token refused or too narrow,
// unknown zone, 429 with Retry-After, 5xx, dead and hanging APIs). A live test runs only with a
// real token.
import assert from 'node:assert/strict';
import { createServer as createTcpServer } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { desiredRecords, planDns } from '../../src/dns/plan.ts';
import type { DnsProvider, ManagedType, RecordSet } from '../../src/dns/provider.ts';
import { type CloudflareOptions, createCloudflareProvider } from '../../src/dns/providers/cloudflare.ts';
import type { ErrorCode } from '../../src/errors.ts';
import { testDnsProvider } from '../conformance/dns.ts';
import { expectCode as expectErrorCode } from '../helpers/errors.ts';
import { type CfZone, CloudflareStandIn, failed } from '../standins/cloudflare.ts';

const TOKEN = 'cf-stand-in-token-0123456789abcdef';
/** The cloudflare provider's timeout when none is configured (src/dns/providers/cloudflare.ts). */
const CLOUDFLARE_DEFAULT_TIMEOUT_MS = 10_000;
const standin = new CloudflareStandIn();
await standin.start();
standin.addToken(TOKEN);
const zone = standin.addZone('example.test');
const byId = standin.addZone('byid.test');
after(() => standin.stop());

function options(overrides: Partial<CloudflareOptions> = {}): CloudflareOptions {
  return { zone: zone.name, apiToken: TOKEN, baseUrl: standin.baseUrl, ...overrides };
}

function harness(name: string, hosted: CfZone, create: () => DnsProvider) {
  return {
    name,
    zone: hosted.name,
    create: async () => create(),
    resolve: async (host: string, type: ManagedType) => standin.served(hosted.id, host, type),
    reset: async () => standin.reset(hosted.id),
    async changeBehindBack(set: RecordSet | undefined, host: string, type: ManagedType) {
      standin.put(hosted.id, host, type, set?.ttl ?? 1, set?.values ?? []);
    },
  };
}

testDnsProvider(
  harness('cloudflare by zone name (stand-in)', zone, () => createCloudflareProvider(options())),
);
testDnsProvider(
  harness('cloudflare by zone id (stand-in)', byId, () =>
    createCloudflareProvider(options({ zone: undefined, zoneId: byId.id })),
  ),
);

describe('cloudflare provider', () => {
  let provider: DnsProvider;
  const www = `www.${zone.name}`;
  const batches = () => standin.calls('POST', /\/dns_records\/batch$/);

  before(() => {
    standin.reset(zone.id);
    provider = createCloudflareProvider(options());
  });

  after(async () => {
    await provider.close?.();
    standin.reset(zone.id);
  });

  async function converge(name: string, desired: RecordSet[], on = provider): Promise<void> {
    await on.apply(planDns(await on.read(name), desired));
  }

  it('describes the zone and its id, never the token; emulated compare-and-set, atomic batches', async () => {
    await provider.read(www);
    assert.equal(provider.describe(), `cloudflare ${zone.name} (${zone.id})`);
    assert.ok(!provider.describe().includes(TOKEN));
    assert.equal(provider.capabilities.compareAndSet, false);
    assert.equal(provider.capabilities.atomic, true);
    assert.equal(provider.capabilities.minTtl, 60);
  });

  it('reads the name once, then sends one batch; a changed value patches the record it replaces', async () => {
    await converge(www, desiredRecords(www, 300, [{ a: ['192.0.2.1', '192.0.2.2'] }]));
    const ids = standin
      .at(zone.id, www)
      .map((record) => record.id)
      .sort();
    const count = standin.requests.length;
    await converge(www, desiredRecords(www, 120, [{ a: ['192.0.2.1', '192.0.2.3'] }]));
    const sent = standin.requests
      .slice(count)
      .map((request) => `${request.method} ${request.path.split('/').at(-1)}`);
    assert.deepEqual(
      sent,
      ['GET dns_records', 'GET dns_records', 'POST batch'],
      "the caller's read, the re-read, the batch",
    );
    const body = batches().at(-1)!.body as { patches?: unknown[]; posts?: unknown[]; deletes?: unknown[] };
    assert.equal(body.patches?.length, 2, 'TTL of the kept one, content and TTL of the other');
    assert.equal(body.posts, undefined);
    assert.equal(body.deletes, undefined);
    assert.deepEqual(
      standin
        .at(zone.id, www)
        .map((record) => record.id)
        .sort(),
      ids,
      'the same records',
    );
    assert.deepEqual(standin.served(zone.id, www, 'A').sort(), ['192.0.2.1', '192.0.2.3']);
    assert.ok(standin.at(zone.id, www).every((record) => record.ttl === 120));
    const moved = planDns(
      await provider.read(www),
      desiredRecords(www, 120, [{ cname: 'origin.example.net' }]),
    );
    await provider.apply(moved);
    const move = batches().at(-1)!.body as { posts?: Array<{ type: string }>; deletes?: unknown[] };
    assert.equal(move.deletes?.length, 2);
    assert.deepEqual(
      move.posts?.map((post) => post.type),
      ['CNAME'],
    );
  });

  it('keeps proxied flags and comments it was not told to set; a proxied TTL is left to Cloudflare', async () => {
    const name = `proxy.${zone.name}`;
    standin.put(zone.id, name, 'A', 1, ['192.0.2.10'], { proxied: true, comment: 'set by hand' });
    const read = await provider.read(name);
    assert.deepEqual(read, [{ name, type: 'A', ttl: 1, values: ['192.0.2.10'] }]);
    const count = batches().length;
    await provider.apply(planDns(read, desiredRecords(name, 60, [{ a: ['192.0.2.10'] }])));
    assert.equal(batches().length, count, 'same values on a proxied record: nothing to send');
    await converge(name, desiredRecords(name, 60, [{ a: ['192.0.2.11'] }]));
    assert.deepEqual(
      standin
        .at(zone.id, name)
        .map(({ content, proxied, comment, ttl }) => ({ content, proxied, comment, ttl })),
      [{ content: '192.0.2.11', proxied: true, comment: 'set by hand', ttl: 1 }],
    );
    await converge(name, desiredRecords(name, 60, [{ cname: 'origin.example.net' }]));
    assert.deepEqual(
      standin.at(zone.id, name).map(({ type, proxied, comment }) => ({ type, proxied, comment })),
      [{ type: 'CNAME', proxied: true, comment: 'set by hand' }],
      'the record that replaces them looks like them',
    );
  });

  it('sets proxied and comment when configured', async () => {
    const name = `configured.${zone.name}`;
    const proxying = createCloudflareProvider(options({ proxied: true, comment: 'outlast' }));
    const plain = createCloudflareProvider(options({ proxied: false }));
    await converge(name, desiredRecords(name, 60, [{ a: ['192.0.2.20'] }]), proxying);
    assert.deepEqual(
      standin.at(zone.id, name).map(({ proxied, comment, ttl }) => ({ proxied, comment, ttl })),
      [{ proxied: true, comment: 'outlast', ttl: 1 }],
    );
    await converge(name, desiredRecords(name, 60, [{ a: ['192.0.2.20'] }]), plain);
    assert.deepEqual(
      standin.at(zone.id, name).map(({ proxied, comment, ttl }) => ({ proxied, comment, ttl })),
      [{ proxied: false, comment: 'outlast', ttl: 60 }],
    );
  });

  it('emulates compare-and-set: a set changed since the read is a conflict, and no batch is sent', async () => {
    const name = `cas.${zone.name}`;
    await converge(name, desiredRecords(name, 300, [{ a: ['192.0.2.30'] }]));
    const stale = await provider.read(name);
    standin.put(zone.id, name, 'A', 300, ['192.0.2.99']);
    const count = batches().length;
    const error = await expectCode(
      provider.apply(planDns(stale, desiredRecords(name, 300, [{ a: ['192.0.2.31'] }]))),
      'conflict',
    );
    assert.match(error.message, /192\.0\.2\.99/);
    assert.equal(batches().length, count);
    assert.deepEqual(standin.served(zone.id, name, 'A'), ['192.0.2.99']);
  });

  it('a record that changes between the re-read and the batch fails the whole batch: conflict', async () => {
    const name = `race.${zone.name}`;
    const other = `race-other.${zone.name}`;
    await converge(name, desiredRecords(name, 300, [{ a: ['192.0.2.40'] }]));
    const changes = [
      ...planDns([], desiredRecords(other, 300, [{ a: ['192.0.2.41'] }])),
      ...planDns(await provider.read(name), desiredRecords(name, 300, [{ cname: 'a.example.net' }])),
    ];
    standin.onBatch = (hosted) => {
      hosted.records = hosted.records.filter((record) => record.name !== name);
    };
    try {
      const error = await expectCode(provider.apply(changes), 'conflict');
      assert.match(error.message, /81044/);
    } finally {
      standin.onBatch = undefined;
    }
    assert.deepEqual(standin.served(zone.id, other, 'A'), [], 'nothing of the batch was applied');
  });

  it('reads a name with more records than one page holds', async () => {
    const name = `many.${zone.name}`;
    const addresses = Array.from({ length: 120 }, (_, index) => `192.0.2.${index}`);
    standin.put(zone.id, name, 'A', 300, addresses);
    const count = standin.calls('GET', /\/dns_records$/).length;
    const [set] = await provider.read(name);
    assert.equal(set?.values.length, 120);
    const pages = standin.calls('GET', /\/dns_records$/).slice(count);
    assert.deepEqual(
      pages.map((page) => page.query.page),
      ['1', '2'],
    );
    assert.equal(pages[0]!.query['name.exact'], name);
  });

  it('a refused or too narrow token is permission_denied, and the token is never shown', async () => {
    const wrong = 'not-the-token-0123456789';
    standin.addToken('read-only-token', { dnsEdit: false });
    standin.addToken('other-zone-token', { zones: new Set([byId.id]) });
    const refused = createCloudflareProvider(options({ apiToken: wrong }));
    const readOnly = createCloudflareProvider(options({ apiToken: 'read-only-token' }));
    const elsewhere = createCloudflareProvider(
      options({ zone: undefined, zoneId: zone.id, apiToken: 'other-zone-token' }),
    );
    try {
      for (const attempt of [
        () => refused.read(www),
        () => readOnly.apply(planDns([], desiredRecords(`ro.${zone.name}`, 60, [{ a: ['192.0.2.50'] }]))),
        () => elsewhere.read(www),
      ]) {
        const error = await expectCode(attempt(), 'permission_denied');
        assert.equal(error.retryable, false);
        assert.ok(!error.message.includes(wrong) && !error.message.includes(TOKEN), error.message);
        assert.ok(error.hint);
      }
      assert.deepEqual(await readOnly.read(www), await provider.read(www), 'reading needs no DNS:Edit');
      standin.nextReplies.push(failed(401, { code: 1000, message: 'Invalid API Token' }));
      await expectCode(provider.read(www), 'permission_denied');
    } finally {
      for (const item of [refused, readOnly, elsewhere]) await item.close?.();
    }
  });

  it('an unknown zone is not_found', async () => {
    standin.addToken('no-zone-read', { zoneRead: false });
    for (const overrides of [
      { zone: 'absent.test' },
      { zone: undefined, zoneId: 'not-a-zone-id' },
      { apiToken: 'no-zone-read' },
    ]) {
      const missing = createCloudflareProvider(options(overrides));
      try {
        await expectCode(missing.read(`www.${overrides.zone ?? zone.name}`), 'not_found');
      } finally {
        await missing.close?.();
      }
    }
  });

  it('429 is rate_limited with Retry-After; the SDK does not retry by itself', async () => {
    for (const [headers, retryAfterMs] of [
      [{ 'retry-after': '7' }, 7000],
      [{}, undefined],
    ] as const) {
      standin.nextReplies.push(
        failed(
          429,
          { code: 971, message: 'Please wait and consider throttling your request speed' },
          headers,
        ),
      );
      const count = standin.requests.length;
      const error = await expectCode(provider.read(www), 'rate_limited');
      assert.equal(error.retryable, true);
      assert.equal(error.retryAfterMs, retryAfterMs);
      assert.equal(standin.requests.length, count + 1);
    }
  });

  it('a 5xx is unavailable; a dead API unavailable; a hanging one timeout', async () => {
    standin.nextReplies.push(failed(502, { code: 0, message: 'bad gateway' }));
    const count = standin.requests.length;
    assert.equal((await expectCode(provider.read(www), 'unavailable')).retryable, true);
    assert.equal(standin.requests.length, count + 1, 'not retried by the SDK');
    const port = await freePort();
    const dead = createCloudflareProvider(options({ baseUrl: `http://127.0.0.1:${port}/client/v4` }));
    const hanging = createTcpServer(() => {});
    await new Promise<void>((done) => hanging.listen(0, '127.0.0.1', done));
    const slow = createCloudflareProvider(
      options({
        baseUrl: `http://127.0.0.1:${(hanging.address() as { port: number }).port}/client/v4`,
        timeoutMs: 300,
      }),
    );
    try {
      const refused = await expectCode(dead.read(www), 'unavailable');
      assert.match(refused.message, /ECONNREFUSED/);
      const started = Date.now();
      await expectCode(slow.read(www), 'timeout');
      // timeoutMs (300) and not the provider's default (10 s); the default is the bound so that a
      // loaded machine's delays cannot fail this, while an ignored timeoutMs still does.
      const took = Date.now() - started;
      assert.ok(took < CLOUDFLARE_DEFAULT_TIMEOUT_MS, `gave up after ${took} ms`);
    } finally {
      await dead.close?.();
      await slow.close?.();
      hanging.close();
    }
  });

  it('sent nothing Cloudflare would refuse for its shape', () => {
    assert.deepEqual(standin.violations, []);
  });
});

describe('cloudflare live', () => {
  const token = process.env.CF_API_TOKEN;
  const liveZone = process.env.OUTLAST_LIVE_CF_ZONE;
  it('creates, changes and deletes records in a real zone (OUTLAST_LIVE_CF_ZONE: its name)', async (t) => {
    if (!token || !liveZone) return t.skip('CF_API_TOKEN and OUTLAST_LIVE_CF_ZONE not set');
    const live = createCloudflareProvider({ zone: liveZone, apiToken: token });
    const name = `outlast-live-${process.pid}.${liveZone.replace(/\.$/, '')}`;
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
  expectErrorCode(promise, code, 'cloudflare');

async function freePort(): Promise<number> {
  const server = createTcpServer();
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as { port: number };
  await new Promise((done) => server.close(done));
  return port;
}

// The route53 provider against a stand-in Route 53 (test/standins/route53.ts) that checks every
// request as the service would (SigV4 recomputed, the ChangeResourceRecordSets XML validated, a
// DELETE must match the stored set exactly): the conformance suite twice (zone by id; zone by
// name with waitForSync), then what only Route 53 has: one batch per apply, the server's own
// compare-and-set in both forms of InvalidChangeBatch, stored forms, zones found by name, alias and
// routing-policy sets left alone, pagination, INSYNC polling, and the errors (credentials, unknown
// zone, throttling, 5xx, dead and hanging endpoints). A live test runs only with real credentials.
import assert from 'node:assert/strict';
import { createServer as createTcpServer } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { type DnsTarget, desiredRecords, planDns } from '../../src/dns/plan.ts';
import type { DnsProvider, ManagedType, RecordSet } from '../../src/dns/provider.ts';
import { createRoute53Provider, type Route53Options } from '../../src/dns/providers/route53.ts';
import type { ErrorCode } from '../../src/errors.ts';
import { testDnsProvider } from '../conformance/dns.ts';
import { expectCode as expectErrorCode } from '../helpers/errors.ts';
import { errorResponse, Route53StandIn } from '../standins/route53.ts';

const ZONE = 'example.test';
/** The route53 provider's defaults (src/dns/providers/route53.ts): request timeout, INSYNC wait. */
const ROUTE53_DEFAULT_TIMEOUT_MS = 10_000;
const ROUTE53_DEFAULT_SYNC_WAIT_MS = 120_000;
const ZONE_ID = 'Z0123456789ABCDEFGHIJ';
const BY_NAME_ZONE = 'byname.test';
const BY_NAME_ID = 'Z0BYNAME000000000001';

const standin = new Route53StandIn();
await standin.start();
standin.addZone(ZONE_ID, ZONE);
standin.addZone(BY_NAME_ID, BY_NAME_ZONE);
after(() => standin.stop());

function options(overrides: Partial<Route53Options> = {}): Route53Options {
  return {
    hostedZoneId: ZONE_ID,
    endpoint: standin.endpoint,
    credentials: { accessKeyId: standin.accessKeyId, secretAccessKey: standin.secretAccessKey },
    ...overrides,
  };
}

/** The harness of one hosted zone of the stand-in. */
function harness(name: string, zone: string, zoneId: string, create: () => DnsProvider) {
  return {
    name,
    zone,
    create: async () => create(),
    resolve: async (host: string, type: ManagedType) => standin.served(zoneId, host, type),
    reset: async () => standin.reset(zoneId),
    async changeBehindBack(set: RecordSet | undefined, host: string, type: ManagedType) {
      const values = set?.values.map((value) => (type === 'CNAME' ? `${value}.` : value));
      standin.put(zoneId, host, type, set?.ttl ?? 0, values);
    },
  };
}

testDnsProvider(
  harness('route53 by hosted zone id (stand-in)', ZONE, ZONE_ID, () => createRoute53Provider(options())),
);
testDnsProvider(
  harness('route53 by zone name, waiting for INSYNC (stand-in)', BY_NAME_ZONE, BY_NAME_ID, () =>
    createRoute53Provider(
      options({ hostedZoneId: undefined, zone: BY_NAME_ZONE, waitForSync: true, syncPollMs: 1 }),
    ),
  ),
);

describe('route53 provider', () => {
  let provider: DnsProvider;
  const www = `www.${ZONE}`;

  before(() => {
    standin.reset(ZONE_ID);
    provider = createRoute53Provider(options());
  });

  after(async () => {
    await provider.close?.();
    standin.reset(ZONE_ID);
  });

  async function converge(name: string, desired: RecordSet[]): Promise<void> {
    await provider.apply(planDns(await provider.read(name), desired));
  }

  it('describes the zone and its id, never a secret', async () => {
    await provider.read(www);
    assert.equal(provider.describe(), `route53 ${ZONE} (${ZONE_ID})`);
    assert.ok(!provider.describe().includes(standin.secretAccessKey));
    assert.deepEqual(
      { ...provider.capabilities, types: [...provider.capabilities.types] },
      { compareAndSet: true, atomic: true, minTtl: 1, types: ['A', 'AAAA', 'CNAME'] },
    );
  });

  it('sends one ChangeResourceRecordSets per apply: DELETE the set as read, then CREATE', async () => {
    await converge(www, desiredRecords(www, 300, [{ a: ['192.0.2.1', '192.0.2.2'] }]));
    const posts = standin.calls('POST', /\/rrset\/?$/).length;
    const changes = planDns(
      await provider.read(www),
      desiredRecords(www, 120, [{ cname: 'origin.example.net' }]),
    );
    assert.equal(changes.length, 2, 'delete A, create CNAME');
    await provider.apply(changes);
    const sent = standin.calls('POST', /\/rrset\/?$/);
    assert.equal(sent.length, posts + 1, 'one batch');
    const body = sent.at(-1)!.body;
    const actions = [
      ...body.matchAll(/<Action>(\w+)<\/Action><ResourceRecordSet><Name>([^<]+)<\/Name><Type>(\w+)<\/Type>/g),
    ];
    assert.deepEqual(
      actions.map((match) => `${match[1]} ${match[2]} ${match[3]}`),
      [`DELETE ${www}. A`, `CREATE ${www}. CNAME`],
    );
    assert.match(
      body,
      /<TTL>300<\/TTL><ResourceRecords><ResourceRecord><Value>192\.0\.2\.1<\/Value><\/ResourceRecord><ResourceRecord><Value>192\.0\.2\.2<\/Value>/,
    );
    assert.deepEqual(standin.served(ZONE_ID, www, 'CNAME'), ['origin.example.net']);
    assert.deepEqual(standin.served(ZONE_ID, www, 'A'), []);
  });

  for (const form of ['messages', 'error-response'] as const) {
    it(`a stale DELETE fails the whole batch: conflict (InvalidChangeBatch, ${form} form)`, async () => {
      standin.invalidChangeBatchForm = form;
      try {
        const name = `stale-${form}.${ZONE}`;
        const other = `other-${form}.${ZONE}`;
        await converge(name, desiredRecords(name, 300, [{ a: ['192.0.2.10'] }]));
        const stale = await provider.read(name);
        standin.put(ZONE_ID, name, 'A', 300, ['192.0.2.99']);
        const changes = [
          ...planDns([], desiredRecords(other, 300, [{ a: ['192.0.2.12'] }])),
          ...planDns(stale, desiredRecords(name, 300, [{ a: ['192.0.2.11'] }])),
        ];
        const error = await expectCode(provider.apply(changes), 'conflict');
        assert.match(error.message, /192\.0\.2\.99/, 'says what is there now');
        assert.match(
          causeChain(error),
          /Tried to delete resource record set \[name='stale-/,
          "Route 53's own words",
        );
        assert.deepEqual(standin.served(ZONE_ID, other, 'A'), [], 'nothing of the batch was made');
        assert.deepEqual(standin.served(ZONE_ID, name, 'A'), ['192.0.2.99']);
      } finally {
        standin.invalidChangeBatchForm = 'messages';
      }
    });
  }

  it('a set created behind its back makes the CREATE fail: conflict', async () => {
    const name = `created.${ZONE}`;
    standin.put(ZONE_ID, name, 'AAAA', 60, ['2001:db8::99']);
    const error = await expectCode(
      provider.apply(planDns([], desiredRecords(name, 60, [{ aaaa: ['2001:db8::1'] }]))),
      'conflict',
    );
    assert.match(causeChain(error), /but it already exists/);
  });

  it('deletes a set in the form Route 53 stores it, even when read by another instance', async () => {
    const name = `stored.${ZONE}`;
    standin.put(ZONE_ID, name, 'AAAA', 300, ['2001:DB8:0:0::1', '2001:db8::2']);
    const read = await provider.read(name);
    assert.deepEqual(read[0]?.values, ['2001:db8::1', '2001:db8::2'], 'read canonical');
    const posts = () => standin.calls('POST', /\/rrset\/?$/).length;
    let before = posts();
    await provider.apply(planDns(read, desiredRecords(name, 300, [{ aaaa: ['2001:db8::3'] }])));
    assert.equal(posts(), before + 1, 'the stored form was used at once');
    // Another provider holds no stored form: its DELETE (canonical) is refused, then sent again.
    standin.put(ZONE_ID, name, 'AAAA', 300, ['2001:DB8:0:0:0:0:0:3']);
    const fresh = createRoute53Provider(options());
    try {
      before = posts();
      const canonical: RecordSet = { name, type: 'AAAA', ttl: 300, values: ['2001:db8::3'] };
      await fresh.apply(planDns([canonical], desiredRecords(name, 300, [{ aaaa: ['2001:db8::4'] }])));
      assert.equal(posts(), before + 2, 'refused once, then sent in the stored form');
      assert.deepEqual(standin.served(ZONE_ID, name, 'AAAA'), ['2001:db8::4']);
    } finally {
      await fresh.close?.();
    }
  });

  it('applying what is already there costs one refused batch and one read, nothing more', async () => {
    const name = `again.${ZONE}`;
    const changes = planDns([], desiredRecords(name, 300, [{ a: ['192.0.2.30'] }]));
    await provider.apply(changes);
    const count = standin.requests.length;
    await provider.apply(changes);
    const calls = standin.requests.slice(count).map((request) => request.method);
    assert.deepEqual(calls, ['POST', 'GET']);
  });

  it('reads alias and routing-policy sets, and refuses to touch them', async () => {
    const alias = `cdn.${ZONE}`;
    const weighted = `weighted.${ZONE}`;
    standin.add(ZONE_ID, {
      name: alias,
      type: 'A',
      alias: {
        hostedZoneId: 'Z2FDTNDATAQYW2',
        dnsName: 'd111111abcdef8.cloudfront.net.',
        evaluateTargetHealth: false,
      },
    });
    for (const [id, address] of [
      ['blue', '192.0.2.40'],
      ['green', '192.0.2.41'],
    ]) {
      standin.add(ZONE_ID, {
        name: weighted,
        type: 'A',
        ttl: 60,
        values: [address!],
        setIdentifier: id!,
        weight: 50,
      });
    }
    assert.deepEqual(await provider.read(alias), [
      { name: alias, type: 'A', ttl: 0, values: ['alias:d111111abcdef8.cloudfront.net'] },
    ]);
    assert.deepEqual(await provider.read(weighted), [
      { name: weighted, type: 'A', ttl: 60, values: ['policy:blue', 'policy:green'] },
    ]);
    const posts = standin.calls('POST', /\/rrset\/?$/).length;
    const attempts: Array<[string, DnsTarget]> = [
      [alias, { a: ['192.0.2.42'] }],
      [weighted, { cname: 'elsewhere.example.net' }],
    ];
    for (const [name, target] of attempts) {
      const error = await expectCode(
        provider.apply(planDns(await provider.read(name), desiredRecords(name, 60, [target]))),
        'invalid_argument',
      );
      assert.match(error.message, /not manage/);
      assert.ok(error.hint);
    }
    assert.equal(standin.calls('POST', /\/rrset\/?$/).length, posts, 'no batch was sent');
  });

  it('pages through a name with more sets than one page holds', async () => {
    const name = `many.${ZONE}`;
    for (let index = 0; index < 120; index++) {
      standin.add(ZONE_ID, {
        name,
        type: 'A',
        ttl: 60,
        values: [`192.0.2.${index}`],
        setIdentifier: `w${String(index).padStart(3, '0')}`,
        weight: 1,
      });
    }
    standin.put(ZONE_ID, `zz.many.${ZONE}`, 'A', 60, ['192.0.2.200']);
    const count = standin.calls('GET', /\/rrset\/?$/).length;
    const [set, ...rest] = await provider.read(name);
    assert.equal(rest.length, 0);
    assert.equal(set?.values.length, 120);
    const pages = standin.calls('GET', /\/rrset\/?$/).slice(count);
    assert.equal(pages.length, 2);
    assert.deepEqual(pages[1]!.query, { name: `${name}.`, type: 'A', identifier: 'w100', maxitems: '100' });
  });

  it('waits for INSYNC when asked, polling GetChange, and gives up quietly at the bound', async () => {
    const waiting = createRoute53Provider(options({ waitForSync: true, syncPollMs: 1 }));
    const slow = createRoute53Provider(
      options({ waitForSync: true, syncPollMs: 5, waitForSyncTimeoutMs: 200 }),
    );
    try {
      const name = `sync.${ZONE}`;
      let gets = standin.calls('GET', /\/change\//).length;
      standin.syncAfterPolls = 2;
      await waiting.apply(planDns([], desiredRecords(name, 60, [{ a: ['192.0.2.50'] }])));
      assert.equal(standin.calls('GET', /\/change\//).length - gets, 3, 'PENDING, PENDING, INSYNC');
      standin.syncAfterPolls = 1000;
      gets = standin.calls('GET', /\/change\//).length;
      const started = Date.now();
      await slow.apply(planDns(await slow.read(name), []));
      // Bounded by waitForSyncTimeoutMs (200 ms), not the default 120 s: the default is the bound,
      // so that a loaded machine's delays cannot fail this while an ignored option still does.
      const took = Date.now() - started;
      assert.ok(took < ROUTE53_DEFAULT_SYNC_WAIT_MS, `bounded (took ${took} ms)`);
      assert.ok(standin.calls('GET', /\/change\//).length - gets >= 1, 'polled until the bound');
    } finally {
      standin.syncAfterPolls = 2;
      await waiting.close?.();
      await slow.close?.();
    }
  });

  it('finds the zone by name: the public one, a lone private one, never a guess', async () => {
    const make = (zone: string) => createRoute53Provider(options({ hostedZoneId: undefined, zone }));
    standin.addZone('Z0SPLITPUBLIC0000001', 'split.test');
    standin.addZone('Z0SPLITPRIVATE000001', 'split.test', { private: true });
    standin.addZone('Z0ONLYPRIVATE0000001', 'inside.test', { private: true });
    standin.addZone('Z0TWINA0000000000001', 'twins.test');
    standin.addZone('Z0TWINB0000000000001', 'twins.test');
    const split = make('split.test');
    const inside = make('Inside.Test.');
    const twins = make('twins.test');
    const none = make('absent.test');
    try {
      await split.read('www.split.test');
      assert.equal(split.describe(), 'route53 split.test (Z0SPLITPUBLIC0000001)');
      await inside.read('www.inside.test');
      assert.equal(inside.describe(), 'route53 inside.test (Z0ONLYPRIVATE0000001)');
      const error = await expectCode(twins.read('www.twins.test'), 'invalid_config');
      assert.match(error.message, /Z0TWINA0000000000001, Z0TWINB0000000000001/);
      await expectCode(none.read('www.absent.test'), 'not_found');
      const lookups = standin.calls('GET', /\/hostedzonesbyname$/);
      assert.equal(lookups.at(-1)!.query.dnsname, 'absent.test');
    } finally {
      for (const item of [split, inside, twins, none]) await item.close?.();
    }
  });

  it('an unknown hosted zone id is not_found', async () => {
    for (const extra of [{}, { zone: ZONE }]) {
      const missing = createRoute53Provider(options({ hostedZoneId: 'Z0NOSUCHZONE00000001', ...extra }));
      try {
        const error = await expectCode(missing.read(www), 'not_found');
        assert.match(error.message, /Z0NOSUCHZONE00000001/);
      } finally {
        await missing.close?.();
      }
    }
  });

  it('refused credentials are permission_denied, not retryable, and no secret is shown', async () => {
    const wrongSecret = 'wrong-secret-abcdefghijklmnop';
    for (const credentials of [
      { accessKeyId: standin.accessKeyId, secretAccessKey: wrongSecret },
      { accessKeyId: 'AKIDUNKNOWN', secretAccessKey: wrongSecret },
    ]) {
      const refused = createRoute53Provider(options({ credentials }));
      try {
        for (const attempt of [
          () => refused.read(www),
          () => refused.apply(planDns([], desiredRecords(`new.${ZONE}`, 60, [{ a: ['192.0.2.60'] }]))),
        ]) {
          const error = await expectCode(attempt(), 'permission_denied');
          assert.equal(error.retryable, false);
          for (const secret of [wrongSecret, standin.secretAccessKey]) {
            assert.ok(!error.message.includes(secret), `no secret in: ${error.message}`);
            assert.ok(!(error.hint ?? '').includes(secret));
          }
          assert.match(error.message, /SignatureDoesNotMatch|InvalidClientTokenId/);
        }
        assert.ok(!refused.describe().includes(wrongSecret));
      } finally {
        await refused.close?.();
      }
    }
  });

  it('throttling is rate_limited and retryable, with Retry-After when sent, after one attempt', async () => {
    const cases: Array<[ReturnType<typeof errorResponse>, number | undefined]> = [
      [errorResponse(400, 'Throttling', 'Rate exceeded'), undefined],
      [
        errorResponse(
          400,
          'PriorRequestNotComplete',
          'The request was rejected because Route 53 was still processing a prior request.',
        ),
        undefined,
      ],
      [errorResponse(400, 'Throttling', 'Rate exceeded', { 'retry-after': '3' }), 3000],
    ];
    for (const [reply, retryAfterMs] of cases) {
      standin.nextReplies.push(reply);
      const count = standin.requests.length;
      const error = await expectCode(provider.read(www), 'rate_limited');
      assert.equal(error.retryable, true);
      assert.equal(error.retryAfterMs, retryAfterMs);
      assert.equal(standin.requests.length, count + 1, 'the SDK does not retry by itself');
    }
    standin.nextReplies.push(errorResponse(400, 'Throttling', 'Rate exceeded'));
    await expectCode(
      provider.apply(planDns([], desiredRecords(`thr.${ZONE}`, 60, [{ a: ['192.0.2.61'] }]))),
      'rate_limited',
    );
  });

  it('a 5xx is unavailable; a dead endpoint unavailable; a hanging one timeout', async () => {
    standin.nextReplies.push(errorResponse(500, 'InternalFailure', 'We encountered an internal error.'));
    const error = await expectCode(provider.read(www), 'unavailable');
    assert.equal(error.retryable, true);
    const port = await freePort();
    const dead = createRoute53Provider(options({ endpoint: `http://127.0.0.1:${port}` }));
    const hanging = createTcpServer(() => {});
    await new Promise<void>((done) => hanging.listen(0, '127.0.0.1', done));
    const slow = createRoute53Provider(
      options({
        endpoint: `http://127.0.0.1:${(hanging.address() as { port: number }).port}`,
        timeoutMs: 300,
      }),
    );
    try {
      const refused = await expectCode(dead.read(www), 'unavailable');
      assert.match(refused.message, /ECONNREFUSED/);
      const started = Date.now();
      const timedOut = await expectCode(slow.read(www), 'timeout');
      assert.equal(timedOut.retryable, true);
      // timeoutMs (300) and not the provider's default (10 s), which is the bound: a loaded
      // machine's delays cannot fail this, an ignored timeoutMs still does.
      const took = Date.now() - started;
      assert.ok(took < ROUTE53_DEFAULT_TIMEOUT_MS, `gave up after ${took} ms`);
    } finally {
      await dead.close?.();
      await slow.close?.();
      hanging.close();
    }
  });

  it('sent nothing Route 53 would refuse for its shape', () => {
    assert.deepEqual(standin.violations, []);
  });
});

describe('route53 live', () => {
  const zone = process.env.OUTLAST_LIVE_ROUTE53_ZONE;
  it('creates, changes and deletes a set in a real hosted zone (OUTLAST_LIVE_ROUTE53_ZONE: its name)', async (t) => {
    if (!process.env.AWS_ACCESS_KEY_ID || !zone) {
      return t.skip('AWS_ACCESS_KEY_ID and OUTLAST_LIVE_ROUTE53_ZONE not set');
    }
    // The zone by name, as a user would configure it; a dedicated test zone is best.
    const live = createRoute53Provider({ zone, waitForSync: true });
    const name = `outlast-live-${process.pid}.${zone.replace(/\.$/, '')}`;
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

const expectCode = (promise: Promise<unknown>, code: ErrorCode) => expectErrorCode(promise, code, 'route53');

/** Every message down the `cause` chain, for asserting on the service's own words. */
function causeChain(error: unknown): string {
  const messages: string[] = [];
  for (let at: unknown = error; at instanceof Error; at = at.cause) {
    messages.push(at.message);
    const listed = (at as { Messages?: { Message?: string | string[] } }).Messages?.Message;
    if (listed !== undefined) messages.push(...[listed].flat());
  }
  return messages.join('\n');
}

async function freePort(): Promise<number> {
  const server = createTcpServer();
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as { port: number };
  await new Promise((done) => server.close(done));
  return port;
}

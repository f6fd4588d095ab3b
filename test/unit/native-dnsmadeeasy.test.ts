// Native failover on DNS Made Easy against the stand-in (test/standins/dnsmadeeasy.ts), which
// verifies every request as the service does (the HMAC, paths, the monitor's fields and limits)
// and evaluates what was provisioned: it probes each ip's origin with DNS Made Easy's semantics
// (sensitivity consecutive failures, the query string in the body) and moves the answer, with no
// watcher running. Provision; a second plan is empty and reads only; the answer is origin a, b
// when a dies or falls behind, a again; a cname origin is invalid_config before any request; a
// monitor outlast did not make is refused without force; destroy leaves only what is not outlast's.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { exitCodeFor } from '../../src/cli/exit.ts';
import { ANY_RELEASE_MATCH, releaseMatch } from '../../src/dns/native/spec.ts';
import type { NativeFailover, NativeSpec } from '../../src/dns/native/types.ts';
import {
  createDnsMadeEasyNative,
  MAX_QUERY_STRING,
  MONITOR_MARKER,
} from '../../src/dns/providers/dnsmadeeasy-native.ts';
import { isOutlastError } from '../../src/errors.ts';
import { eventually } from '../helpers/eventually.ts';
import { DnsMadeEasyStandIn } from '../standins/dnsmadeeasy.ts';

const API_KEY = 'dme-native-key-0123456789';
const SECRET_KEY = 'dme-native-secret-abcdefghij';
const SITE = 'www.example.test';
const BEACON_PATH = '/.well-known/outlast/release.json';
const RELEASE = 'r0123456789abcdef0123';
const OLD_RELEASE = 'r9999999999abcdef0123';
const IP = { a: '192.0.2.10', b: '192.0.2.11', c: '192.0.2.12' } as const;

/** A local origin serving a beacon for Host SITE; `up` false answers 503. */
interface Origin {
  up: boolean;
  release: string;
  server: Server;
  url: string;
}

async function startOrigin(): Promise<Origin> {
  const origin = { up: true, release: RELEASE, url: '' } as Origin;
  origin.server = createServer((req, res) => {
    if (!origin.up || req.url !== BEACON_PATH || req.headers.host !== SITE) {
      res.writeHead(origin.up ? 404 : 503).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ release: origin.release, manifestSha256: 'ab'.repeat(32), files: 1 }));
  });
  await new Promise<void>((resolve) => origin.server.listen(0, '127.0.0.1', resolve));
  origin.url = `http://127.0.0.1:${(origin.server.address() as { port: number }).port}`;
  return origin;
}

const standin = new DnsMadeEasyStandIn();
await standin.start();
standin.keys.set(API_KEY, SECRET_KEY);
const domain = standin.addDomain('example.test');
const origins = { a: await startOrigin(), b: await startOrigin(), c: await startOrigin() };
for (const id of ['a', 'b', 'c'] as const) standin.ipOrigins.set(IP[id], origins[id].url);
after(async () => {
  await standin.stop();
  for (const origin of Object.values(origins)) {
    origin.server.closeAllConnections();
    await new Promise((resolve) => origin.server.close(resolve));
  }
});

function native(): NativeFailover {
  return createDnsMadeEasyNative({
    domain: domain.name,
    apiKey: API_KEY,
    secretKey: SECRET_KEY,
    baseUrl: standin.baseUrl,
  });
}

function spec(overrides: Partial<NativeSpec> = {}, ids: Array<'a' | 'b' | 'c'> = ['a', 'b']): NativeSpec {
  return {
    name: SITE,
    ttl: 60,
    policy: 'priority',
    failback: 'auto',
    origins: ids.map((id) => ({ id, checkUrl: `http://${SITE}${BEACON_PATH}`, target: { a: [IP[id]] } })),
    currentRelease: RELEASE,
    currentMatch: releaseMatch(RELEASE),
    anyMatch: ANY_RELEASE_MATCH,
    health: { intervalMs: 10_000, timeoutMs: 2_000, fall: 3, rise: 2, expectStatus: [200] },
    ...overrides,
  };
}

const requestsSince = (count: number) =>
  standin.requests.slice(count).map((request) => {
    const tail = request.path
      .replace('/V2.0', '')
      .replace(`/dns/managed/${domain.id}`, '/dns/managed/{domain}');
    return `${request.method} ${tail}${request.query.size > 0 ? `?${request.query}` : ''}`;
  });

const answer = () => standin.served(domain.id, SITE, 'A');
const recordAt = (name: string) =>
  domain.records.find((record) => record.name === name && record.type === 'A');

describe('native failover on dnsmadeeasy (stand-in)', () => {
  let host: NativeFailover;

  before(() => {
    host = native();
  });

  after(async () => {
    standin.stopChecks();
    await host.close();
  });

  it('provisions the A record and its monitor and failover', async () => {
    const plan = await host.plan(spec());
    assert.deepEqual(
      plan.changes.map((change) => `${change.action} ${change.what}`),
      [`create A ${SITE}`, `create monitor and failover of A ${SITE}`],
    );
    assert.deepEqual(plan.foreign, []);
    assert.ok(plan.notes.some((note) => note.includes('cut to') && note.includes('16')));
    assert.ok(plan.notes.some((note) => note.includes('only the current release passes')));
    await host.apply(plan, { force: false });
    const record = recordAt('www')!;
    assert.equal(record.value, IP.a);
    assert.equal(record.ttl, 60);
    assert.equal(record.failover, true);
    const fields = standin.monitors.get(record.id)!.fields;
    assert.equal(fields.ip1, IP.a);
    assert.equal(fields.ip2, IP.b);
    assert.equal(fields.ip3, undefined);
    assert.equal(fields.protocolId, 3);
    assert.equal(fields.port, 80);
    assert.equal(fields.httpFqdn, SITE);
    assert.equal(fields.httpFile, BEACON_PATH);
    assert.equal(fields.httpQueryString, releaseMatch(RELEASE).slice(0, MAX_QUERY_STRING));
    assert.equal((fields.httpQueryString as string).length, MAX_QUERY_STRING);
    assert.equal(fields.sensitivity, 3);
    assert.equal(fields.autoFailover, false);
    assert.ok(String(fields.systemDescription).startsWith(MONITOR_MARKER));
    assert.deepEqual(standin.violations, []);
  });

  it('plans nothing the second time, with reads only', async () => {
    const fresh = native();
    const before = standin.requests.length;
    try {
      const plan = await fresh.plan(spec());
      assert.deepEqual(plan.changes, []);
      assert.deepEqual(plan.foreign, []);
      await fresh.apply(plan, { force: false });
    } finally {
      await fresh.close();
    }
    assert.deepEqual(requestsSince(before), [
      'GET /dns/managed/name?domainname=example.test',
      'GET /dns/managed/{domain}/records?recordName=www',
      `GET /monitor/${recordAt('www')!.id}`,
    ]);
  });

  it('answers origin a, b once a dies (no watcher), and a again when it is back', async () => {
    standin.startChecks(20);
    const rounds = standin.checkRounds;
    await eventually('a round of checks ran', async () => standin.checkRounds > rounds);
    assert.deepEqual(answer(), [IP.a]);
    origins.a.up = false;
    await eventually('the answer moved to b', async () => answer()[0] === IP.b);
    const monitor = (await (await fetchMonitor(recordAt('www')!.id)).json()) as Record<string, unknown>;
    assert.equal(monitor.ip1Failed, true);
    assert.equal(monitor.ip2Failed, false);
    origins.a.up = true;
    await eventually('the answer is back on a', async () => answer()[0] === IP.a);
  });

  it('never answers an origin behind the current release', async () => {
    origins.a.release = OLD_RELEASE;
    await eventually('the answer moved to b', async () => answer()[0] === IP.b);
    origins.a.release = RELEASE;
    await eventually('the answer is back on a', async () => answer()[0] === IP.a);
    standin.stopChecks();
  });

  it("view() reads DNS Made Easy's per-IP failed flags, mapped to the origins, and writes nothing", async () => {
    const from = standin.requests.length;
    standin.startChecks(20);
    try {
      const view = () => host.view!(spec());
      await eventually(
        'DNS Made Easy says a and b up',
        async () => {
          const { origins } = await view();
          return origins.a?.up === true && origins.b?.up === true;
        },
        10_000,
      );
      assert.deepEqual(Object.keys((await view()).origins).sort(), ['a', 'b']);
      origins.a.up = false;
      await eventually(
        'DNS Made Easy says a down and b up',
        async () => {
          const { origins: seen } = await view();
          return seen.a?.up === false && seen.b?.up === true;
        },
        10_000,
      );
      assert.match((await view()).origins.a!.detail ?? '', /^ip1 192\.0\.2\.10: failed/);
    } finally {
      origins.a.up = true;
    }
    await eventually('the answer is back on a', async () => answer()[0] === IP.a, 10_000);
    standin.stopChecks();
    assert.deepEqual(
      requestsSince(from).filter((request) => !request.startsWith('GET ')),
      [],
      'view() only reads',
    );
  });

  it('updates the monitor when the release or the order moves, and again plans nothing', async () => {
    const next = spec({ currentRelease: OLD_RELEASE, currentMatch: releaseMatch(OLD_RELEASE) }, [
      'a',
      'b',
      'c',
    ]);
    const plan = await host.plan(next);
    assert.deepEqual(
      plan.changes.map((change) => `${change.action} ${change.what}`),
      [`update monitor and failover of A ${SITE}`],
    );
    await host.apply(plan, { force: false });
    assert.equal(standin.monitors.get(recordAt('www')!.id)!.fields.ip3, IP.c);
    assert.deepEqual((await host.plan(next)).changes, []);
    await host.apply(await host.plan(spec()), { force: false });
    assert.equal(standin.monitors.get(recordAt('www')!.id)!.fields.ip3, undefined);
    assert.deepEqual((await host.plan(spec())).changes, []);
    assert.deepEqual(standin.violations, []);
  });

  it('refuses a cname origin (exit 2) before any request', async () => {
    const before = standin.requests.length;
    const cname = spec();
    cname.origins[1] = { ...cname.origins[1]!, target: { cname: 'b.cdn.example.net' } };
    await assert.rejects(host.plan(cname), (error: unknown) => {
      assert.ok(isOutlastError(error, 'invalid_config'));
      assert.match(error.message, /A records only/);
      assert.match(error.hint ?? '', /failover: watcher/);
      assert.equal(exitCodeFor(error), 2);
      return true;
    });
    for (const bad of [spec({}, ['a']), spec({ policy: 'all-healthy' })]) {
      await assert.rejects(host.plan(bad), (error: unknown) => isOutlastError(error, 'invalid_config'));
    }
    assert.equal(standin.requests.length, before);
  });

  it('refuses to replace a monitor outlast did not make, unless forced', async () => {
    const ops = `ops.${domain.name}`;
    standin.put(domain.id, 'ops', 'A', 300, ['198.51.100.7']);
    const theirs = {
      monitor: true,
      failover: true,
      autoFailover: false,
      systemDescription: 'the ops team',
      maxEmails: 5,
      sensitivity: 5,
      protocolId: 1,
      port: 22,
      ip1: '198.51.100.7',
      ip2: '198.51.100.8',
    };
    standin.putMonitor(recordAt('ops')!.id, theirs);
    const plan = await host.plan(spec({ name: ops }));
    assert.equal(plan.foreign.length, 1);
    assert.match(plan.foreign[0]!, /the ops team/);
    const before = standin.requests.length;
    await assert.rejects(host.apply(plan, { force: false }), (error: unknown) => {
      assert.ok(isOutlastError(error, 'guard_refused'));
      assert.equal(exitCodeFor(error), 3);
      return true;
    });
    assert.equal(standin.requests.length, before);
    assert.deepEqual(standin.monitors.get(recordAt('ops')!.id)!.fields, theirs);

    // The same at another name, forced: outlast's from then on.
    standin.put(domain.id, 'legacy', 'A', 300, ['198.51.100.9']);
    standin.putMonitor(recordAt('legacy')!.id, { ...theirs, ip1: '198.51.100.9' });
    const legacy = spec({ name: `legacy.${domain.name}` });
    await host.apply(await host.plan(legacy), { force: true });
    assert.ok(
      String(standin.monitors.get(recordAt('legacy')!.id)!.fields.systemDescription).startsWith(
        MONITOR_MARKER,
      ),
    );
    assert.equal(recordAt('legacy')!.value, IP.a);
    assert.deepEqual((await host.plan(legacy)).foreign, []);
    assert.deepEqual(standin.violations, []);
  });

  it('destroy turns off and removes only what outlast made', async () => {
    standin.put(domain.id, 'www', 'TXT', 300, ['"keep me"']);
    const plan = await host.planDestroy(SITE);
    assert.deepEqual(
      plan.changes.map((change) => `${change.action} ${change.what}`),
      [`delete monitor and failover of A ${SITE}`, `delete A ${SITE}`],
    );
    await host.apply(plan, { force: false });
    assert.equal(recordAt('www'), undefined);
    assert.deepEqual(
      domain.records.filter((record) => record.name === 'www').map((record) => record.type),
      ['TXT'],
    );
    const ops = await host.planDestroy(`ops.${domain.name}`);
    assert.deepEqual(ops.changes, []);
    assert.match(ops.notes.join('\n'), /not made by outlast/);
    await host.apply(ops, { force: false });
    assert.equal(standin.monitors.get(recordAt('ops')!.id)!.fields.systemDescription, 'the ops team');
    assert.deepEqual((await host.planDestroy(SITE)).changes, []);
    assert.deepEqual(standin.violations, []);
  });
});

/** GET monitor/{recordId}, signed, as any client would. */
async function fetchMonitor(recordId: number): Promise<Response> {
  const { dnsMadeEasySignature } = await import('../../src/dns/providers/dnsmadeeasy.ts');
  const date = new Date().toUTCString();
  return fetch(`${standin.baseUrl}/monitor/${recordId}`, {
    headers: {
      'x-dnsme-apiKey': API_KEY,
      'x-dnsme-requestDate': date,
      'x-dnsme-hmac': dnsMadeEasySignature(SECRET_KEY, date),
    },
  });
}

// Native failover on Route 53 (src/dns/providers/route53-native.ts) against the stand-in Route 53
// (test/standins/route53.ts, route53-health.ts), which checks every request as the service does and
// evaluates what was provisioned: its checkers probe the origins (outlast serve on 127.0.0.x, fs
// origins deployed by runDeploy) with Route 53's semantics, and TestDNSAnswer gives the answer Route
// 53 would. No watcher runs: the answer moves because the stand-in's checks see an origin die or
// fall behind. Also: plan again is empty and reads only, a foreign alias is refused (exit 3), over
// the health-check quota nothing is left, destroy leaves what is not outlast's.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CreateHealthCheckCommand, Route53Client, TestDNSAnswerCommand } from '@aws-sdk/client-route-53';
import pino from 'pino';
import { stringify } from 'yaml';
import { dnsCommand } from '../../src/cli/commands/dns.ts';
import { EXIT } from '../../src/cli/exit.ts';
import { parseConfig } from '../../src/config/load.ts';
import type { Config } from '../../src/config/schema.ts';
import { runDeploy } from '../../src/deploy/engine.ts';
import { nativeSpec } from '../../src/dns/native/spec.ts';
import type { NativeFailover, NativePlan } from '../../src/dns/native/types.ts';
import { createRoute53Native } from '../../src/dns/providers/route53-native.ts';
import { type RunningServer, startServer } from '../../src/serve/server.ts';
import { expectCode } from '../helpers/errors.ts';
import { eventually } from '../helpers/eventually.ts';
import { freePort } from '../helpers/ports.ts';
import { setupFsDeploy } from '../helpers/site.ts';
import { Route53StandIn, type StoredSet } from '../standins/route53.ts';

const ZONE = 'example.test';
const ZONE_ID = 'Z0NATIVE000000000001';
const NAME = `www.${ZONE}`;
const IDS = ['o0', 'o1', 'o2'] as const;
type Id = (typeof IDS)[number];
const HOSTS: Record<Id, string> = { o0: '127.0.0.2', o1: '127.0.0.3', o2: '127.0.0.4' };
const ADDRESS: Record<Id, string> = { o0: '192.0.2.10', o1: '192.0.2.11', o2: '192.0.2.12' };
const silent = pino({ level: 'silent' });

const standin = new Route53StandIn();
await standin.start();
standin.addZone(ZONE_ID, ZONE);
// Probes every 100 ms instead of every 10 s: the results, not the pace, are Route 53's.
standin.health.probeIntervalMs = 100;
for (const id of IDS) standin.health.resolve.set(`${id}.origins.test`, HOSTS[id]);
// The SDK's notice about Node < 22 (the providers turn it off the same way).
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const credentials = { accessKeyId: standin.accessKeyId, secretAccessKey: standin.secretAccessKey };
const sdk = new Route53Client({
  region: 'us-east-1',
  endpoint: standin.endpoint,
  credentials,
  maxAttempts: 1,
});

/** What Route 53 answers for NAME A now. */
async function answer(): Promise<string[]> {
  const out = await sdk.send(
    new TestDNSAnswerCommand({ HostedZoneId: ZONE_ID, RecordName: NAME, RecordType: 'A' }),
  );
  assert.equal(out.ResponseCode, 'NOERROR');
  return out.RecordData ?? [];
}

/** The sets at NAME and below it, as `TYPE name FAILOVER id`, sorted. */
function setsAtName(): string[] {
  return standin.zones
    .get(ZONE_ID)!
    .sets.filter((set) => set.name === `${NAME}.` || set.name.endsWith(`.${NAME}.`))
    .map((set) => `${set.type} ${set.name} ${set.failover ?? '-'} ${set.setIdentifier ?? '-'}`)
    .sort();
}

function setAt(name: string, failover: 'PRIMARY' | 'SECONDARY'): StoredSet {
  const found = standin.zones
    .get(ZONE_ID)!
    .sets.find((set) => set.name === `${name}.` && set.type === 'A' && set.failover === failover);
  assert.ok(found, `a ${failover} A set at ${name}`);
  return found;
}

/** The requests made while `run` ran, as `METHOD path`. */
async function requestsOf(run: () => Promise<unknown>): Promise<string[]> {
  const from = standin.requests.length;
  await run();
  return standin.requests.slice(from).map((request) => `${request.method} ${request.path}`);
}

describe('native failover on Route 53 (stand-in), no watcher running', { timeout: 120_000 }, () => {
  const setup = setupFsDeploy({ origins: 3, files: { 'index.html': '<h1>one</h1>', '404.html': 'nope' } });
  const servers: Partial<Record<Id, RunningServer>> = {};
  const ports: Partial<Record<Id, number>> = {};
  let native: NativeFailover;
  let r1 = '';

  const serve = async (id: Id) => {
    servers[id] = await startServer({
      dir: setup.origins[IDS.indexOf(id)]!,
      host: HOSTS[id],
      port: ports[id] ?? 0,
      logger: silent,
    });
    ports[id] = Number(new URL(servers[id].url).port);
  };
  const kill = async (id: Id) => {
    await servers[id]!.close();
    servers[id] = undefined;
  };
  const doc = (ids: readonly Id[], urls: Partial<Record<Id, string>> = {}) => ({
    site: { dir: setup.siteDir, hostname: NAME, errorDocument: '404.html' },
    origins: ids.map((id) => ({
      id,
      storage: { type: 'fs', path: setup.origins[IDS.indexOf(id)] },
      url: urls[id] ?? `http://${id}.origins.test:${ports[id]}`,
      dns: { a: [ADDRESS[id]] },
    })),
    dns: {
      name: NAME,
      ttl: 30,
      providers: [{ type: 'route53', hostedZoneId: ZONE_ID, endpoint: standin.endpoint, failover: 'native' }],
    },
  });
  const configOf = (ids: readonly Id[], urls: Partial<Record<Id, string>> = {}): Config =>
    parseConfig(stringify(doc(ids, urls)), join(setup.root, 'outlast.yaml')).config;
  const apply = async (plan: NativePlan, force = false) => native.apply(plan, { force });

  before(async () => {
    for (const id of IDS) {
      ports[id] = await freePort(HOSTS[id]);
      await serve(id);
    }
    r1 = (await runDeploy({ config: configOf(IDS), cacheDir: null })).releaseId;
    native = createRoute53Native({ hostedZoneId: ZONE_ID, endpoint: standin.endpoint, credentials });
  });

  after(async () => {
    await native?.close();
    await Promise.all(Object.values(servers).map((server) => server?.close()));
    sdk.destroy();
    await standin.stop();
    setup.cleanup();
  });

  it('two origins before any release: one check each, a PRIMARY/SECONDARY pair at the name', async () => {
    const spec = nativeSpec(configOf(['o0', 'o1']), undefined);
    await apply(await native.plan(spec));
    assert.deepEqual(setsAtName(), [
      `A ${NAME}. PRIMARY outlast-o0-any`,
      `A ${NAME}. SECONDARY outlast-o1-any`,
    ]);
    const checks = [...standin.health.checks.values()];
    assert.equal(checks.length, 2);
    const primary = standin.health.checks.get(setAt(NAME, 'PRIMARY').healthCheckId!)!;
    assert.deepEqual(
      { ...primary.config, regions: primary.config.regions?.length },
      {
        type: 'HTTP_STR_MATCH',
        port: ports.o0,
        resourcePath: '/.well-known/outlast/release.json',
        fqdn: 'o0.origins.test',
        searchString: '"release":"r',
        requestInterval: 10,
        failureThreshold: 3,
        measureLatency: false,
        inverted: false,
        disabled: false,
        regions: 3,
      },
    );
    assert.match(primary.reference, /^outlast-[0-9a-f]{12}-[0-9a-f]{8}-[0-9a-z]+$/);
    assert.equal(primary.tags.get('Name'), `outlast ${NAME} o0 any`);

    const again = await native.plan(spec);
    assert.deepEqual(again.changes, []);
  });

  it('with a release, two origins become two tiers: current first, then any (nested failover sets)', async () => {
    const plan = await native.plan(nativeSpec(configOf(['o0', 'o1']), r1));
    assert.equal(plan.foreign.length, 0);
    assert.deepEqual(
      plan.changes.filter((change) => change.what.startsWith('health check')).map((change) => change.action),
      ['create', 'create'],
      'the two current-release checks; the any-release ones are kept',
    );
    await apply(plan);
    assert.deepEqual(setsAtName(), [
      `A _outlast-1.${NAME}. PRIMARY outlast-o1-current`,
      `A _outlast-1.${NAME}. SECONDARY outlast-next`,
      `A _outlast-2.${NAME}. PRIMARY outlast-o0-any`,
      `A _outlast-2.${NAME}. SECONDARY outlast-o1-any`,
      `A ${NAME}. PRIMARY outlast-o0-current`,
      `A ${NAME}. SECONDARY outlast-next`,
    ]);
    assert.deepEqual(setAt(NAME, 'SECONDARY').alias, {
      hostedZoneId: ZONE_ID,
      dnsName: `_outlast-1.${NAME}.`,
      evaluateTargetHealth: true,
    });
    const current = standin.health.checks.get(setAt(NAME, 'PRIMARY').healthCheckId!)!;
    assert.equal(current.config.searchString, `"release":"${r1}"`);
    assert.equal(standin.health.checks.size, 4);
    assert.deepEqual(await answer(), [ADDRESS.o0]);
  });

  it('destroy removes exactly what outlast made', async () => {
    const plan = await native.planDestroy(NAME);
    assert.equal(plan.changes.length, 6 + 4);
    await apply(plan);
    assert.deepEqual(setsAtName(), []);
    assert.equal(standin.health.checks.size, 0);
    assert.deepEqual((await native.planDestroy(NAME)).changes, []);
  });

  it('three origins: provisioned, a second plan is empty and makes two reads', async () => {
    const spec = nativeSpec(configOf(IDS), r1);
    const plan = await native.plan(spec);
    assert.ok(
      plan.notes.some((note) => /every 10 s .*health\.interval is 5 s/.test(note)),
      plan.notes.join('\n'),
    );
    assert.ok(plan.notes.some((note) => /FailureThreshold 3/.test(note)));
    assert.equal(plan.checkerRequestsPerMonth, (2 * 3 * (30 * 86_400)) / 10);
    await apply(plan);
    assert.equal(standin.health.checks.size, 6);
    assert.equal(setsAtName().length, 10, 'five failover pairs for six legs');
    let again: NativePlan | undefined;
    const made = await requestsOf(async () => {
      again = await native.plan(spec);
    });
    assert.deepEqual(again!.changes, []);
    assert.deepEqual(made, ['GET /2013-04-01/healthcheck', `GET /2013-04-01/hostedzone/${ZONE_ID}/rrset`]);
    assert.deepEqual(await requestsOf(() => apply(again!)), [], 'applying an empty plan sends nothing');
    assert.deepEqual(await answer(), [ADDRESS.o0]);
  });

  it('o0 dies: the answer moves to o1, and back when o0 returns', async () => {
    await kill('o0');
    await eventually('Route 53 answers o1', async () => (await answer()).join() === ADDRESS.o1, 20_000);
    await serve('o0');
    await eventually('Route 53 answers o0 again', async () => (await answer()).join() === ADDRESS.o0, 20_000);
  });

  it('a release deployed to o1 only is answered before the stale o0; o0 only when o1 is down', async () => {
    writeFileSync(join(setup.siteDir, 'index.html'), '<h1>two</h1>');
    const config = configOf(IDS);
    const r2 = (await runDeploy({ config, only: ['o1'], cacheDir: null })).releaseId;
    assert.notEqual(r2, r1);
    const plan = await native.plan(nativeSpec(config, r2));
    assert.deepEqual(
      plan.changes.map((change) => change.action),
      ['update', 'update', 'update'],
      'the current-release checks move to r2; the records stay',
    );
    await apply(plan);
    await eventually('Route 53 answers o1', async () => (await answer()).join() === ADDRESS.o1, 20_000);
    // Over the next five probes of o0's current-release check, o0 (first in order, but behind) never wins.
    const o0 = standin.health.checks.get(setAt(NAME, 'PRIMARY').healthCheckId!)!;
    const until = o0.probes + 5;
    await eventually(
      'five more probes of o0',
      async () => {
        assert.deepEqual(await answer(), [ADDRESS.o1], 'the stale o0 is not answered');
        return o0.probes >= until;
      },
      20_000,
    );
    await kill('o1');
    await eventually(
      'with o1 down, o0 on the older release',
      async () => (await answer()).join() === ADDRESS.o0,
      20_000,
    );
    await serve('o1');
    await eventually('o1 again', async () => (await answer()).join() === ADDRESS.o1, 20_000);
    await apply(await native.plan(nativeSpec(config, r1)));
    await runDeploy({ config, cacheDir: null });
  });

  it('a foreign alias at the name is refused (exit 3 through the CLI, guard_refused here) and nothing changes', async () => {
    await apply(await native.planDestroy(NAME));
    standin.add(ZONE_ID, {
      name: NAME,
      type: 'A',
      alias: {
        hostedZoneId: 'Z2FDTNDATAQYW2',
        dnsName: 'd111111abcdef8.cloudfront.net.',
        evaluateTargetHealth: false,
      },
    });
    const before = JSON.stringify(standin.zones.get(ZONE_ID)!.sets);
    const file = join(setup.root, 'native.yaml');
    writeFileSync(file, stringify(doc(IDS)));
    const cli = await withEnv(
      { AWS_ACCESS_KEY_ID: credentials.accessKeyId, AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey },
      () => quietly(() => dnsCommand('apply', { config: file })),
    );
    assert.equal(cli.result, EXIT.refused, cli.output);
    assert.match(cli.output, /NOT OURS A www\.example\.test .*alias to d111111abcdef8\.cloudfront\.net/);
    const plan = await native.plan(nativeSpec(configOf(IDS), r1));
    const sent = await requestsOf(() => expectCode(apply(plan), 'guard_refused'));
    assert.deepEqual(sent, [], 'refused before any request');
    assert.equal(JSON.stringify(standin.zones.get(ZONE_ID)!.sets), before);
    assert.equal(standin.health.checks.size, 0);

    await apply(plan, true);
    assert.ok(!standin.zones.get(ZONE_ID)!.sets.some((set) => set.alias?.dnsName.includes('cloudfront')));
    assert.deepEqual(await answer(), [ADDRESS.o0]);
  });

  it("the watcher's plain set at the name is replaced without --force", async () => {
    await apply(await native.planDestroy(NAME));
    standin.put(ZONE_ID, NAME, 'A', 30, [ADDRESS.o1]);
    const plan = await native.plan(nativeSpec(configOf(IDS), r1));
    assert.deepEqual(plan.foreign, []);
    assert.ok(plan.changes.some((change) => change.action === 'delete' && change.what === `A ${NAME}`));
    await apply(plan);
    assert.ok(!setsAtName().includes(`A ${NAME}. - -`), 'no plain set left');
    assert.deepEqual(await answer(), [ADDRESS.o0]);
  });

  it('over the health-check quota: a clear error, exit 2, and nothing left', async () => {
    await apply(await native.planDestroy(NAME));
    const before = JSON.stringify(standin.zones.get(ZONE_ID)!.sets);
    standin.health.maxHealthChecks = 4;
    try {
      const plan = await native.plan(nativeSpec(configOf(IDS), r1));
      const error = await expectCode(apply(plan), 'invalid_config');
      assert.match(error.message, /quota of active health checks \(TooManyHealthChecks\)/);
      assert.match(error.message, /the 4 health check\(s\) this apply created were deleted again/);
      assert.match(error.hint ?? '', /Service Quotas/);
      assert.equal(standin.health.checks.size, 0, 'no health check left');
      assert.equal(JSON.stringify(standin.zones.get(ZONE_ID)!.sets), before, 'no record set written');
    } finally {
      standin.health.maxHealthChecks = 200;
    }
  });

  it('a setting Route 53 keeps for life (RequestInterval) replaces the checks: new ones first, the old after the records', async () => {
    await apply(await native.plan(nativeSpec(configOf(IDS), r1)));
    const old = new Set(standin.health.checks.keys());
    const config = configOf(IDS);
    config.health.interval = 30_000;
    const plan = await native.plan(nativeSpec(config, r1));
    const actions = (action: string) =>
      plan.changes.filter((change) => change.action === action && change.what.startsWith('health check'));
    assert.equal(actions('create').length, 6);
    assert.equal(actions('delete').length, 6);
    const sent = await requestsOf(() => apply(plan));
    const batch = sent.indexOf(`POST /2013-04-01/hostedzone/${ZONE_ID}/rrset`);
    assert.equal(sent.lastIndexOf('POST /2013-04-01/healthcheck'), batch - 2, 'created (and tagged) before');
    assert.deepEqual(
      sent.slice(batch + 1).sort(),
      [...old].map((id) => `DELETE /2013-04-01/healthcheck/${id}`).sort(),
      'the old ones deleted after',
    );
    assert.equal(standin.health.checks.size, 6);
    assert.ok([...standin.health.checks.values()].every((check) => check.config.requestInterval === 30));
    assert.deepEqual((await native.plan(nativeSpec(config, r1))).changes, []);
    assert.deepEqual(await answer(), [ADDRESS.o0]);
  });

  it('destroy leaves what is not outlast: the user’s own sets and health checks', async () => {
    await apply(await native.plan(nativeSpec(configOf(IDS), r1)));
    standin.put(ZONE_ID, `mail.${ZONE}`, 'A', 300, ['198.51.100.25']);
    standin.put(ZONE_ID, NAME, 'TXT', 300, ['"v=spf1 -all"']);
    const own = await sdk.send(
      new CreateHealthCheckCommand({
        CallerReference: 'the-users-own-check',
        HealthCheckConfig: { Type: 'HTTP', FullyQualifiedDomainName: 'o2.origins.test', Port: ports.o2 },
      }),
    );
    await apply(await native.planDestroy(NAME));
    assert.deepEqual(setsAtName(), [`TXT ${NAME}. - -`]);
    assert.deepEqual(standin.served(ZONE_ID, `mail.${ZONE}`, 'A'), ['198.51.100.25']);
    assert.deepEqual([...standin.health.checks.keys()], [own.HealthCheck!.Id]);
  });

  it('cname origins: the same chain of CNAME failover sets, and answers follow the checks', async () => {
    const config = configOf(IDS);
    for (const origin of config.origins) origin.dns = { cname: `${origin.id}.cdn.example.net` };
    const cname = async () =>
      (
        await sdk.send(
          new TestDNSAnswerCommand({ HostedZoneId: ZONE_ID, RecordName: NAME, RecordType: 'CNAME' }),
        )
      ).RecordData ?? [];
    const sent = await requestsOf(async () => {
      const error = await expectCode(native.plan(nativeSpec(config, r1)), 'invalid_config');
      assert.match(error.message, /a CNAME cannot sit beside the TXT at www\.example\.test/);
    });
    assert.ok(
      sent.every((request) => request.startsWith('GET ')),
      'reads only',
    );
    standin.put(ZONE_ID, NAME, 'TXT', 300, undefined);
    await apply(await native.plan(nativeSpec(config, r1)));
    assert.ok(
      setsAtName().every((set) => set.startsWith('CNAME ')),
      setsAtName().join('\n'),
    );
    assert.equal(setsAtName().length, 10);
    assert.deepEqual((await native.plan(nativeSpec(config, r1))).changes, []);
    assert.deepEqual(await cname(), ['o0.cdn.example.net']);
    await kill('o0');
    await eventually(
      'Route 53 answers o1',
      async () => (await cname()).join() === 'o1.cdn.example.net',
      20_000,
    );
    await serve('o0');
    await apply(await native.planDestroy(NAME));
    assert.deepEqual(setsAtName(), []);
  });

  it('an origin at an address Route 53 does not check is a config error, before any request', async () => {
    const config = configOf(IDS, { o2: `http://${HOSTS.o2}:${ports.o2}` });
    const sent = await requestsOf(() => expectCode(native.plan(nativeSpec(config, r1)), 'invalid_config'));
    assert.deepEqual(sent, []);
  });

  it('an HTTPS origin gets an HTTPS_STR_MATCH check with SNI, and the plan says what Route 53 rounds', async () => {
    const config = configOf(IDS, { o2: `https://o2.origins.test:${ports.o2}` });
    config.health.interval = 25_000;
    config.health.fall = 12;
    const plan = await native.plan(nativeSpec(config, r1));
    // Nothing is provisioned (destroyed above): a plan only.
    const created = plan.changes.filter(
      (change) => change.action === 'create' && change.what.startsWith('health check'),
    );
    assert.equal(created.length, 6);
    const o2 = created.find((change) => change.what.endsWith(' o2 current'))!;
    assert.match(
      o2.detail,
      /^HTTPS_STR_MATCH o2\.origins\.test:\d+\/\.well-known\/outlast\/release\.json for "release":"r[0-9a-f]{20}", every 30 s, 10 in a row, from 3 regions$/,
    );
    for (const note of [
      /checks every 30 s \(Route 53 takes 10 or 30; health\.interval is 25 s\)/,
      /FailureThreshold 10: .*health\.fall 12 is more than Route 53's 10.*health\.rise 3 cannot be set apart/,
      /o2: Route 53 does not verify the certificate/,
      /a new health check counts as healthy until it has results/,
    ]) {
      assert.ok(
        plan.notes.some((item) => note.test(item)),
        `a note matching ${note}:\n${plan.notes.join('\n')}`,
      );
    }
  });

  it("view() reads Route 53's own verdict per origin (GetHealthCheckStatus), and writes nothing", async () => {
    // The release the origins serve now (the release test above deployed another one to all).
    const live = (await runDeploy({ config: configOf(IDS), cacheDir: null })).releaseId;
    const spec = nativeSpec(configOf(['o0', 'o1']), live);
    await apply(await native.plan(spec));
    let seen: Awaited<ReturnType<NonNullable<NativeFailover['view']>>> | undefined;
    const writes: string[] = [];
    const view = async () => {
      const made = await requestsOf(async () => {
        seen = await native.view!(spec);
      });
      writes.push(...made.filter((request) => !request.startsWith('GET ')));
      return seen!;
    };
    await eventually(
      'Route 53 says o0 and o1 up',
      async () => {
        const { origins } = await view();
        return origins.o0?.up === true && origins.o1?.up === true;
      },
      20_000,
    );
    assert.match(seen!.origins.o0!.detail ?? '', /^3 of 3 checkers: Success/);
    assert.deepEqual(Object.keys(seen!.origins).sort(), ['o0', 'o1']);
    await kill('o0');
    try {
      await eventually(
        'Route 53 says o0 down and o1 up',
        async () => {
          const { origins } = await view();
          return origins.o0?.up === false && origins.o1?.up === true;
        },
        20_000,
      );
      assert.match(seen!.origins.o0!.detail ?? '', /^0 of 3 checkers: Failure/);
    } finally {
      await serve('o0');
    }
    assert.deepEqual(writes, [], 'view() only reads');
    await apply(await native.planDestroy(NAME));
  });

  it('sent nothing Route 53 would refuse for its shape', () => {
    assert.deepEqual(standin.violations, []);
  });
});

/** `run` with these environment variables set, restored after. */
async function withEnv<T>(vars: Record<string, string>, run: () => Promise<T>): Promise<T> {
  const saved = Object.fromEntries(Object.keys(vars).map((key) => [key, process.env[key]]));
  Object.assign(process.env, vars);
  try {
    return await run();
  } finally {
    for (const [key, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  }
}

/** `run`, with what it prints on stdout captured instead of shown. */
async function quietly<T>(run: () => Promise<T>): Promise<{ result: T; output: string }> {
  const write = process.stdout.write;
  let output = '';
  process.stdout.write = ((chunk: string | Uint8Array) => {
    output += String(chunk);
    return true;
  }) as typeof process.stdout.write;
  try {
    return { result: await run(), output };
  } finally {
    process.stdout.write = write;
  }
}

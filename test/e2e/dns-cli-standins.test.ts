/**
 * `outlast dns plan|apply|destroy` and `outlast check` through the CLI (bin/outlast.js, as a user
 * runs them) on every DNS host that cannot run here: Route 53, DNS Made Easy and Cloudflare, each
 * against its stand-in (test/standins/), which verifies every request as the service does and
 * evaluates what was provisioned. The real PowerDNS is covered the same way in
 * native-failover.test.ts. Per host: the first plan creates and changes nothing; apply makes it
 * so; a second plan is empty and reads only; check says in sync; the host's evaluated answer is
 * origin o0; destroy removes everything outlast made, and the next plan would create it all again.
 * Secrets reach the CLI through the environment only, and never appear in its output.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { stringify } from 'yaml';
import { runDeploy } from '../../src/deploy/engine.ts';
import { type RunningServer, startServer } from '../../src/serve/server.ts';
import { eventually } from '../helpers/eventually.ts';
import { setupFsDeploy } from '../helpers/site.ts';
import { CloudflareStandIn } from '../standins/cloudflare.ts';
import { LoadBalancingStandIn } from '../standins/cloudflare-lb.ts';
import { DnsMadeEasyStandIn } from '../standins/dnsmadeeasy.ts';
import { Route53StandIn } from '../standins/route53.ts';

const BIN = fileURLToPath(new URL('../../bin/outlast.js', import.meta.url));
const ZONE = 'example.test';
const NAME = `www.${ZONE}`;
const IDS = ['o0', 'o1'] as const;
type Id = (typeof IDS)[number];
const HOSTS: Record<Id, string> = { o0: '127.0.0.2', o1: '127.0.0.3' };
const ADDRESS: Record<Id, string> = { o0: '192.0.2.10', o1: '192.0.2.11' };
const silent = pino({ level: 'silent' });

const SECRETS = {
  AWS_SECRET_ACCESS_KEY: '',
  DME_SECRET_KEY: 'dme-cli-secret-0123456789abcdef',
  CF_API_TOKEN: 'cf-cli-token-0123456789abcdef',
};

/** One host behind its stand-in: the provider's config, its origins' URLs, and what it holds. */
interface Host {
  name: string;
  provider: Record<string, unknown>;
  url(id: Id): string;
  hostHeader?: string;
  /** The origin's DNS target: an address the stand-in never connects to, unless it must probe it. */
  address(id: Id): string;
  /** The methods and paths of the requests it got. */
  requests(): Array<{ method: string; path: string }>;
  /** The host's evaluated answer for NAME A now. */
  answer(): string[];
  /** How many things outlast made that the host holds (checks, monitors, pools, sets…). */
  held(): number;
  violations(): string[];
}

function run(args: string[], cwd: string, env: Record<string, string>) {
  return new Promise<{ code: number | null; output: string }>((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    const keep = (chunk: Buffer) => {
      output += chunk;
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    child.on('exit', (code) => resolve({ code, output }));
  });
}

/** Two origin servers on one port (DNS Made Easy checks every IP of a record on one port). */
async function startOrigins(dirs: string[]): Promise<{ servers: RunningServer[]; port: number }> {
  for (let attempt = 0; ; attempt++) {
    const first = await startServer({ dir: dirs[0]!, host: HOSTS.o0, port: 0, logger: silent });
    const port = Number(new URL(first.url).port);
    try {
      const second = await startServer({ dir: dirs[1]!, host: HOSTS.o1, port, logger: silent });
      return { servers: [first, second], port };
    } catch (error) {
      await first.close();
      if (attempt >= 20) throw error;
    }
  }
}

describe('outlast dns through the CLI on the stand-in hosts', { timeout: 180_000 }, () => {
  const setup = setupFsDeploy({ origins: 2, files: { 'index.html': '<h1>one</h1>', '404.html': 'nope' } });
  let servers: RunningServer[] = [];
  let port = 0;
  const route53 = new Route53StandIn();
  const dme = new DnsMadeEasyStandIn();
  const cloudflare = new CloudflareStandIn();
  const lb = new LoadBalancingStandIn();
  const hosts: Host[] = [];
  let env: Record<string, string> = {};

  const configFor = (host: Host) => {
    const file = join(setup.root, `${host.name}.yaml`);
    writeFileSync(
      file,
      stringify({
        site: { dir: setup.siteDir, hostname: NAME, errorDocument: '404.html' },
        origins: IDS.map((id, index) => ({
          id,
          storage: { type: 'fs', path: setup.origins[index] },
          url: host.url(id),
          ...(host.hostHeader ? { hostHeader: host.hostHeader } : {}),
          dns: { a: [host.address(id)] },
        })),
        health: { interval: '10s', fall: 1, rise: 1 },
        dns: { name: NAME, ttl: 60, providers: [{ ...host.provider, failover: 'native' }] },
      }),
    );
    return file;
  };

  before(async () => {
    ({ servers, port } = await startOrigins(setup.origins));
    // Deploy with no DNS at all: the first `dns plan` below is what provisions.
    const deployed = await runDeploy({
      config: {
        ...setup.config,
        origins: setup.config.origins.map((origin, index) => ({ ...origin, url: servers[index]!.url })),
      },
      cacheDir: null,
    });
    assert.ok(deployed.origins.every((origin) => !origin.error));

    await route53.start();
    const zoneId = 'Z0CLI00000000000000001';
    route53.addZone(zoneId, ZONE);
    route53.health.probeIntervalMs = 100;
    for (const id of IDS) route53.health.resolve.set(`${id}.origins.test`, HOSTS[id]);
    SECRETS.AWS_SECRET_ACCESS_KEY = route53.secretAccessKey;

    await dme.start();
    dme.keys.set('dme-cli-key', SECRETS.DME_SECRET_KEY);
    const domain = dme.addDomain(ZONE);
    for (const id of IDS) dme.ipOrigins.set(ADDRESS[id], `http://${HOSTS[id]}:${port}`);
    dme.startChecks(50);

    await cloudflare.start();
    cloudflare.extensions.push(lb);
    cloudflare.addToken(SECRETS.CF_API_TOKEN);
    const zone = cloudflare.addZone(ZONE);
    const account = lb.addAccount();
    lb.intervalMs = 40;
    lb.start(10);

    env = {
      AWS_ACCESS_KEY_ID: route53.accessKeyId,
      AWS_SECRET_ACCESS_KEY: SECRETS.AWS_SECRET_ACCESS_KEY,
      AWS_REGION: 'us-east-1',
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      DME_SECRET_KEY: SECRETS.DME_SECRET_KEY,
      CF_API_TOKEN: SECRETS.CF_API_TOKEN,
    };
    const direct = (id: Id) => `http://${HOSTS[id]}:${port}`;
    hosts.push(
      {
        name: 'route53',
        provider: { type: 'route53', hostedZoneId: zoneId, endpoint: route53.endpoint },
        url: (id) => `http://${id}.origins.test:${port}`,
        address: (id) => ADDRESS[id],
        requests: () => route53.requests,
        answer: () => route53.answer(zoneId, NAME, 'A'),
        held: () =>
          route53.health.checks.size +
          route53.zones
            .get(zoneId)!
            .sets.filter((set) => set.name === `${NAME}.` || set.name.endsWith(`.${NAME}.`)).length,
        violations: () => route53.violations,
      },
      {
        name: 'dnsmadeeasy',
        provider: {
          type: 'dnsmadeeasy',
          domain: ZONE,
          apiKey: 'dme-cli-key',
          // biome-ignore lint/suspicious/noTemplateCurlyInString: outlast's own ${VAR} reference
          secretKey: '${DME_SECRET_KEY}',
          baseUrl: dme.baseUrl,
        },
        url: direct,
        hostHeader: NAME,
        address: (id) => ADDRESS[id],
        requests: () => dme.requests,
        answer: () => dme.served(domain.id, NAME, 'A'),
        held: () =>
          domain.records.filter((record) => record.name === 'www').length +
          [...dme.monitors.values()].filter((monitor) => monitor.fields.failover === true).length,
        violations: () => dme.violations,
      },
      {
        name: 'cloudflare',
        provider: {
          type: 'cloudflare',
          zone: ZONE,
          zoneId: zone.id,
          // biome-ignore lint/suspicious/noTemplateCurlyInString: outlast's own ${VAR} reference
          apiToken: '${CF_API_TOKEN}',
          accountId: account,
          baseUrl: cloudflare.baseUrl,
        },
        url: direct,
        // Cloudflare probes a pool origin at the address it answers: a loopback one here.
        address: (id) => HOSTS[id],
        requests: () => cloudflare.requests,
        answer: () => lb.answer(zone.id, NAME)?.addresses ?? [],
        held: () => lb.monitors.size + lb.pools.size + lb.loadBalancers.size,
        violations: () => cloudflare.violations,
      },
    );
  });

  after(async () => {
    lb.stop();
    await Promise.all([
      ...servers.map((server) => server.close()),
      route53.stop(),
      dme.stop(),
      cloudflare.stop(),
    ]);
    setup.cleanup();
  });

  for (const name of ['route53', 'dnsmadeeasy', 'cloudflare']) {
    it(`${name}: plan, apply, an empty plan of reads only, check, the answer, destroy`, async () => {
      const host = hosts.find((item) => item.name === name)!;
      const file = configFor(host);
      const plan = async () => {
        const result = await run(['dns', 'plan', '--config', file, '--json'], setup.root, env);
        assert.equal(result.code, 0, result.output);
        return (JSON.parse(result.output) as { hosts: Array<{ changes: Array<{ action: string }> }> })
          .hosts[0]!.changes;
      };
      const outputs: string[] = [];

      const before = host.requests().length;
      const first = await plan();
      assert.ok(first.length > 0, 'the first plan has changes');
      assert.ok(
        first.every((change) => change.action === 'create'),
        JSON.stringify(first),
      );
      assert.ok(
        host
          .requests()
          .slice(before)
          .every((request) => request.method === 'GET'),
        'a plan only reads',
      );
      assert.equal(host.held(), 0, 'a plan changes nothing');

      const applied = await run(['dns', 'apply', '--config', file], setup.root, env);
      outputs.push(applied.output);
      assert.equal(applied.code, 0, applied.output);
      assert.ok(host.held() > 0, 'apply made the checks and records');

      const from = host.requests().length;
      assert.deepEqual(await plan(), [], 'a second plan is empty');
      const reads = host.requests().slice(from);
      assert.ok(reads.length > 0);
      assert.deepEqual(
        reads
          .filter((request) => request.method !== 'GET')
          .map((request) => `${request.method} ${request.path}`),
        [],
        'the second plan only reads',
      );

      const checked = await run(['check', '--config', file], setup.root, env);
      outputs.push(checked.output);
      assert.match(checked.output, /native failover in sync with the config/, checked.output);

      await eventually(`${name} answers o0`, async () => host.answer().join() === host.address('o0'), 30_000);

      const destroyed = await run(['dns', 'destroy', '--config', file], setup.root, env);
      outputs.push(destroyed.output);
      assert.equal(destroyed.code, 0, destroyed.output);
      assert.equal(host.held(), 0, 'destroy removed everything outlast made');
      const again = await plan();
      assert.ok(again.length > 0 && again.every((change) => change.action === 'create'));

      assert.deepEqual(host.violations(), [], 'no request the service would refuse');
      for (const output of outputs) {
        for (const secret of Object.values(SECRETS)) assert.ok(!output.includes(secret), 'no secret printed');
      }
    });
  }
});

/**
 * The stand-in hosts of the failover bench: Route 53 and DNS Made Easy cannot run here, so the
 * repository's stand-ins simulate them (test/standins/route53.ts + route53-health.ts,
 * test/standins/dnsmadeeasy.ts). Each verifies every request as the service would and *evaluates*
 * what was provisioned: it probes the origins itself, with the host's documented semantics, and
 * answers as the host would. outlast provisions both with its native failover, through the built
 * CLI (`node bin/outlast.js dns apply`, the provider's `endpoint` / `baseUrl` pointing at a counting
 * forwarder in front of the stand-in), at the fastest settings each host documents:
 *
 * - Route 53: health.interval 10 s → RequestInterval 10, health.fall 1 → FailureThreshold 1
 *   (src/dns/providers/route53-native-checks.ts). The stand-in probes every RequestInterval (its
 *   real pace: no `probeIntervalMs`). The answer is TestDNSAnswer through the stand-in's API.
 * - DNS Made Easy: health.fall 3 → sensitivity 3 (High, the fewest checks). Its check interval is
 *   not settable; DNS Made Easy documents a "2 to 4-minute monitoring window", and the bench runs
 *   the stand-in's check rounds every `--dme-interval` (default 120 s, the short end; an
 *   assumption: see README). The answer is the stand-in's evaluated answer (`served`).
 *
 * Both probe the same origin processes as the other contestants (origin a on 127.0.0.2, b on
 * 127.0.0.3). Each failure (SIGKILL or SIGSTOP of a) is watched by every stand-in host of the run
 * at once; the time is from the signal to the first answer naming origin b, polled every 50 ms.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Route53Client, TestDNSAnswerCommand } from '@aws-sdk/client-route-53';
import { stringify } from 'yaml';
import { messageOf } from '../../src/errors.ts';
import { DnsMadeEasyStandIn } from '../../test/standins/dnsmadeeasy.ts';
import { Route53StandIn } from '../../test/standins/route53.ts';
import { loadWindow } from './cpu.ts';
import {
  type CountingForwarder,
  type NativeApplyRun,
  runDnsApply,
  startCountingForwarder,
} from './native.ts';
import type { OriginProcess } from './origins.ts';
import { AnswerTimeline } from './poll.ts';
import type { Scenario, StandinCheck, StandinEvent, StandinHost, StandinReport } from './report.ts';

const ZONE = 'example.test';
const ZONE_ID = 'Z0BENCHSTANDIN0001';
const NAMES: Record<StandinHost, string> = { route53: 'r53.example.test', dnsmadeeasy: 'dme.example.test' };
const TTL = 60; // DNS Made Easy's floor in outlast; Route 53's guide recommends ≤ 60 with health checks
const DME_API_KEY = 'bench-dme-key-0123456789';
const DME_SECRET = 'bench-dme-secret-abcdefghij';
/** route53-health.ts: a round looks for due checks every second; a check fails without a status 2 s after connecting. */
const R53_TICK_MS = 1000;
const R53_ANSWER_TIMEOUT_MS = 2000;
/** dnsmadeeasy.ts: PROBE_TIMEOUT_MS. */
const DME_PROBE_TIMEOUT_MS = 2000;
/** The fastest settings: Route 53 RequestInterval 10 (from interval ≤ 20 s) and FailureThreshold 1; DNS Made Easy sensitivity 3. */
const HEALTH: Record<StandinHost, { intervalMs: number; timeoutMs: number; fall: number; rise: number }> = {
  route53: { intervalMs: 10_000, timeoutMs: 1000, fall: 1, rise: 1 },
  dnsmadeeasy: { intervalMs: 10_000, timeoutMs: 1000, fall: 3, rise: 3 },
};

export interface StandinOptions {
  hosts: StandinHost[];
  rounds: number;
  /** DNS Made Easy: ms between two check rounds (assumed; not settable at the service). */
  dmeIntervalMs: number;
  pollMs: number;
  a: OriginProcess;
  b: OriginProcess;
  siteDir: string;
  originDirs: [string, string];
  /** What each origin's A record answers (a, b). */
  addresses: [string, string];
  scratch: string;
  /** CPU seconds of the bench's other processes (for the disturbance measure). */
  oursCpu: () => number;
  maxForeign: number;
  /** Waits (up to --quiet-wait) until other processes calm down; returns how long it waited (ms). */
  waitQuiet: () => Promise<number>;
  log: (line: string) => void;
}

/** One host of the run: how to provision it, read its answer, and what it checked. */
interface HostRun {
  id: StandinHost;
  name: string;
  configFile: string;
  forwarder: CountingForwarder;
  env: Record<string, string | undefined>;
  answer(): Promise<string>;
  /** Its checks of origin a, oldest first (performance.now() times). */
  checks: { at: number; result: string }[];
  /** How long to wait for the move to b, and for the way back to a. */
  limitMs: number;
  backLimitMs: number;
  /** DNS Made Easy: sets the next check round `inMs` from now. */
  rephase?(inMs: number): void;
  /** Reads back what outlast provisioned into the report (after the first apply). */
  describe(): void;
  /** Requests the stand-in has received so far (to cross-check the forwarder). */
  requestCount(): number;
  violations(): string[];
  stop(): Promise<void>;
}

/** The Route 53 and/or DNS Made Easy contestants: provision, measure, report. */
export async function runStandinHosts(o: StandinOptions): Promise<StandinReport> {
  const report: StandinReport = {
    hosts: o.hosts,
    rounds: o.rounds,
    pollMs: o.pollMs,
    events: [],
    applies: {},
    violations: {},
    notes: [],
  };
  const runs: HostRun[] = [];
  try {
    if (o.hosts.includes('route53')) runs.push(await startRoute53(o, report));
    if (o.hosts.includes('dnsmadeeasy')) runs.push(await startDnsMadeEasy(o, report));

    for (const run of runs) {
      for (const label of ['first', 'again']) {
        const before = run.requestCount();
        const result = await runDnsApply(label, run.configFile, run.forwarder, run.env);
        report.applies[run.id] = [...(report.applies[run.id] ?? []), result];
        logApply(o, run, result, run.requestCount() - before);
        if (result.exitCode !== 0)
          throw new Error(`outlast dns apply (${run.id}, ${label}) failed: ${result.output ?? ''}`);
      }
    }
    for (const run of runs) run.describe();
    // Warm-up: every host has checked the origins and answers a.
    for (const run of runs) {
      await until(`${run.id} has checked origin a and answers a`, run.backLimitMs, async () => {
        return run.checks.length > 0 && (await run.answer()) === o.addresses[0];
      });
    }
    o.log(`stand-ins: ${runs.map((run) => `${run.id} answers ${o.addresses[0]}`).join(', ')}; measuring`);

    for (let round = 1; round <= o.rounds; round++) {
      for (const scenario of ['refused', 'hung'] as Scenario[]) {
        report.events.push(await failureEvent(o, runs, scenario, round));
      }
    }

    for (const run of runs) {
      const before = run.requestCount();
      const result = await runDnsApply('again, after the failures', run.configFile, run.forwarder, run.env);
      report.applies[run.id]!.push(result);
      logApply(o, run, result, run.requestCount() - before);
    }
    report.notes.push(...methodNotes(o, report));
  } finally {
    for (const run of runs) {
      report.violations[run.id] = [...run.violations()];
      await run
        .stop()
        .catch((error: unknown) => o.log(`stopping the ${run.id} stand-in: ${messageOf(error)}`));
    }
  }
  return report;
}

/** What the stand-in rows are and are not: printed under the stand-in section of the report. */
function methodNotes(o: StandinOptions, report: StandinReport): string[] {
  const notes = [
    `SIMULATED: no request reaches Route 53 or DNS Made Easy. What is real: outlast's code (\`node bin/outlast.js dns apply\`, the compiled dist/) and what it provisions (read back above), sent to stand-ins on 127.0.0.1 that verify each request as the service would; the origin processes and their failures (the same as the PowerDNS contestants'). What is simulated: the host's checkers and its answer, by the stand-in, from the semantics the hosts document.`,
    'One vantage point: each stand-in probes from this machine, and one probe result stands for all of the host\'s checker locations. Real Route 53 aggregates many uncoordinated checkers (healthy while more than 18 % of them say so), DNS Made Easy needs the IP to fail "from two different monitoring locations"; either can take longer than one checker.',
    "Not included: the time a real host needs to aggregate its checkers' results and to propagate the new answer to all its name servers, the API latency of the host, and resolvers' caches (TTL 60 here; a resolver may keep the old answer that long after the host changed it).",
    `The answer is read every ${o.pollMs} ms: Route 53 by TestDNSAnswer through the stand-in's API (SigV4-signed, as a client would), DNS Made Easy by the stand-in's evaluated answer (served(), in-process: DNS Made Easy has no answer-testing API). Time = first answer naming origin b (${o.addresses[1]}) − the signal.`,
    "Phase: before each signal the bench waits a random 0–10 s (Route 53's checkers keep their own clock: the failure falls at any phase of the 10 s interval), and sets DNS Made Easy's next check round at a random point 0–interval after the signal (then every interval, start to start): the same spread a failure at a random moment meets, without waiting minutes for it.",
    `Each failure is watched by every stand-in host of the run at once and lasts until all have moved (or passed their limit); origin a then comes back and the next failure waits until all answer a again. A disturbed measurement (more than ${o.maxForeign} foreign cores) is marked but not repeated: these times are set by the hosts' schedules (seconds to minutes), not by milliseconds of CPU.`,
  ];
  if (report.dnsmadeeasy) {
    notes.push(
      `DNS Made Easy's check interval is ASSUMED: ${report.dnsmadeeasy.intervalMs / 1000} s between check rounds (--dme-interval). DNS Made Easy documents that its monitoring nodes check "on a 2 to 4-minute monitoring window" (support.dnsmadeeasy.com, "Configure DNS Failover with Round Robin"; its blog: "every 2-4 minutes") and offers no setting; the bench takes the short end, one check of each IP per window, and the stand-in fails an IP over after \`sensitivity\` failed checks in a row (High = 3; whether DNS Made Easy counts its sensitivity in whole windows is not documented).`,
    );
  }
  return notes;
}

function logApply(o: StandinOptions, run: HostRun, result: NativeApplyRun, seenByStandin: number): void {
  o.log(
    `outlast dns apply ${run.id} (${result.label}): exit ${result.exitCode}, ${result.ms} ms, changes [${result.changes.join('; ')}], ${result.requests.length} requests (${result.writes} writes; the stand-in counted ${seenByStandin}): ${result.requests.map((item) => `${item.method} ${item.path} ${item.status}`).join(', ')}`,
  );
}

/** The Route 53 stand-in: a hosted zone, checkers at the real pace, answers by TestDNSAnswer. */
async function startRoute53(o: StandinOptions, report: StandinReport): Promise<HostRun> {
  const standin = new Route53StandIn();
  await standin.start();
  standin.addZone(ZONE_ID, ZONE);
  // Route 53 does not check loopback addresses: the origins go by names the checkers resolve.
  const port = new URL(o.a.url).port;
  standin.health.resolve.set('a.origins.test', new URL(o.a.url).hostname);
  standin.health.resolve.set('b.origins.test', new URL(o.b.url).hostname);
  const forwarder = await startCountingForwarder(standin.endpoint, { keepHost: true });
  const configFile = join(o.scratch, 'outlast-route53.yaml');
  writeConfig(configFile, o, {
    name: NAMES.route53,
    urls: [`http://a.origins.test:${port}`, `http://b.origins.test:${port}`],
    health: HEALTH.route53,
    provider: { type: 'route53', hostedZoneId: ZONE_ID, endpoint: forwarder.url, failover: 'native' },
  });
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const sdk = new Route53Client({
    region: 'us-east-1',
    endpoint: standin.endpoint,
    credentials: { accessKeyId: standin.accessKeyId, secretAccessKey: standin.secretAccessKey },
    maxAttempts: 1,
  });
  // The checks of origin a (both release tiers), sampled for when they ran and what they found.
  const checks: HostRun['checks'] = [];
  const seen = new Map<string, string>();
  const sampler = setInterval(() => {
    for (const check of standin.health.checks.values()) {
      if (check.config.fqdn !== 'a.origins.test' || !check.lastStatus) continue;
      if (seen.get(check.id) === check.lastStatus.at) continue;
      seen.set(check.id, check.lastStatus.at);
      const tier = check.config.searchString === '"release":"r' ? 'any release' : 'current release';
      // probedAt is the wall clock at the round's start; convert to performance.now().
      checks.push({
        at: performance.now() - (Date.now() - check.probedAt),
        result: `${tier}: ${check.lastStatus.status}`,
      });
    }
  }, 25);
  sampler.unref();
  return {
    id: 'route53',
    name: NAMES.route53,
    configFile,
    forwarder,
    env: {
      AWS_ACCESS_KEY_ID: standin.accessKeyId,
      AWS_SECRET_ACCESS_KEY: standin.secretAccessKey,
      AWS_SESSION_TOKEN: undefined,
      AWS_PROFILE: undefined,
      AWS_DEFAULT_PROFILE: undefined,
      // Never ask an instance metadata service (traffic stays on 127.0.0.0/8).
      AWS_EC2_METADATA_DISABLED: 'true',
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    },
    async answer() {
      try {
        const out = await sdk.send(
          new TestDNSAnswerCommand({ HostedZoneId: ZONE_ID, RecordName: NAMES.route53, RecordType: 'A' }),
        );
        if (out.ResponseCode !== 'NOERROR') return out.ResponseCode ?? '?';
        return [...(out.RecordData ?? [])].sort().join(',') || '(no A)';
      } catch (error) {
        return `error: ${messageOf(error)}`;
      }
    },
    checks,
    limitMs: 40_000,
    backLimitMs: 40_000,
    describe() {
      const held = [...standin.health.checks.values()];
      const one = (values: number[]) => {
        const set = [...new Set(values)];
        if (set.length !== 1) throw new Error(`the Route 53 checks differ: ${set.join(', ')}`);
        return set[0]!;
      };
      report.route53 = {
        name: NAMES.route53,
        requestIntervalSeconds: one(held.map((check) => check.config.requestInterval)),
        failureThreshold: one(held.map((check) => check.config.failureThreshold)),
        tickMs: R53_TICK_MS,
        answerTimeoutMs: R53_ANSWER_TIMEOUT_MS,
        checks: held.map(
          (check) =>
            `${check.config.type} ${check.config.fqdn}:${check.config.port}${check.config.resourcePath} for \`${check.config.searchString}\`, RequestInterval ${check.config.requestInterval}, FailureThreshold ${check.config.failureThreshold}, ${check.config.regions?.length ?? 'all'} regions`,
        ),
      };
      const sets = standin.zones
        .get(ZONE_ID)!
        .sets.filter((set) => set.name.endsWith(`${NAMES.route53}.`))
        .map(
          (set) =>
            `${set.name.replace(/\.$/, '')} ${set.type} ${set.failover} ${set.alias ? `alias ${set.alias.dnsName.replace(/\.$/, '')}` : set.values?.join(',')}`,
        );
      report.notes.push(`Route 53 stand-in, record sets outlast made: ${sets.join('; ')}.`);
    },
    requestCount: () => standin.requests.length,
    violations: () => standin.violations,
    async stop() {
      clearInterval(sampler);
      sdk.destroy();
      await forwarder.close();
      await standin.stop();
    },
  };
}

/** The DNS Made Easy stand-in: a domain, check rounds every `dmeIntervalMs`, its evaluated answer. */
async function startDnsMadeEasy(o: StandinOptions, report: StandinReport): Promise<HostRun> {
  const standin = new DnsMadeEasyStandIn();
  await standin.start();
  standin.keys.set(DME_API_KEY, DME_SECRET);
  const domain = standin.addDomain(ZONE);
  // A monitor's ip stands for the origin process that serves it.
  standin.ipOrigins.set(o.addresses[0], o.a.url);
  standin.ipOrigins.set(o.addresses[1], o.b.url);
  const base = new URL(standin.baseUrl);
  const forwarder = await startCountingForwarder(base.origin, { keepHost: true });
  const configFile = join(o.scratch, 'outlast-dnsmadeeasy.yaml');
  writeConfig(configFile, o, {
    name: NAMES.dnsmadeeasy,
    urls: [o.a.url, o.b.url],
    // One monitor checks every ip with the same Host, port and path.
    hostHeader: NAMES.dnsmadeeasy,
    health: HEALTH.dnsmadeeasy,
    provider: {
      type: 'dnsmadeeasy',
      domain: ZONE,
      apiKey: DME_API_KEY,
      secretKey: DME_SECRET,
      baseUrl: `${forwarder.url}${base.pathname}`,
      failover: 'native',
    },
  });
  const label = NAMES.dnsmadeeasy.slice(0, -(ZONE.length + 1));
  const monitorOfA = () => {
    const record = domain.records.find((item) => item.name === label && item.type === 'A');
    return record === undefined ? undefined : standin.monitors.get(record.id);
  };
  const checks: HostRun['checks'] = [];
  const rounds = new CheckRounds(o.dmeIntervalMs, async () => {
    const at = performance.now();
    await standin.evaluate();
    const monitor = monitorOfA();
    if (monitor && monitor.fields.ip1 === o.addresses[0]) {
      const failures = monitor.failures[0] ?? 0;
      checks.push({
        at,
        result:
          failures === 0
            ? 'ip1 passed'
            : `ip1 failed (${failures} in a row${monitor.failed[0] ? ', ip1Failed' : ''})`,
      });
    }
  });
  rounds.arm(o.dmeIntervalMs);
  const run: HostRun = {
    id: 'dnsmadeeasy',
    name: NAMES.dnsmadeeasy,
    configFile,
    forwarder,
    env: {},
    answer: async () => standin.served(domain.id, NAMES.dnsmadeeasy, 'A').sort().join(',') || '(no A)',
    checks,
    limitMs: 0,
    backLimitMs: 2 * o.dmeIntervalMs + 30_000,
    rephase: (inMs: number) => rounds.arm(inMs),
    describe() {
      const monitor = monitorOfA();
      if (!monitor) throw new Error(`no monitor at ${NAMES.dnsmadeeasy} after outlast dns apply`);
      const sensitivity = Number(monitor.fields.sensitivity);
      report.dnsmadeeasy = {
        name: NAMES.dnsmadeeasy,
        intervalMs: o.dmeIntervalMs,
        sensitivity,
        probeTimeoutMs: DME_PROBE_TIMEOUT_MS,
        monitor: { ...monitor.fields },
      };
      // The move comes at the sensitivity-th failed round: wait one interval more than that.
      run.limitMs = (sensitivity + 1) * o.dmeIntervalMs + 10_000;
    },
    requestCount: () => standin.requests.length,
    violations: () => standin.violations,
    async stop() {
      await rounds.stop();
      await forwarder.close();
      await standin.stop();
    },
  };
  return run;
}

/** Check rounds every `intervalMs`, start to start; `arm` sets when the next one comes. */
class CheckRounds {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;

  constructor(
    private readonly intervalMs: number,
    private readonly round: () => Promise<void>,
  ) {}

  arm(inMs: number): void {
    clearTimeout(this.timer);
    if (this.stopped) return;
    this.timer = setTimeout(() => this.fire(), Math.max(0, inMs));
  }

  private fire(): void {
    this.arm(this.intervalMs);
    // A round still probing (a hung origin: 2 s) is not overtaken.
    if (this.running) return;
    this.running = this.round().finally(() => {
      this.running = undefined;
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }
}

function writeConfig(
  file: string,
  o: StandinOptions,
  c: {
    name: string;
    urls: [string, string];
    hostHeader?: string;
    health: { intervalMs: number; timeoutMs: number; fall: number; rise: number };
    provider: Record<string, unknown>;
  },
): void {
  const ids = ['a', 'b'] as const;
  writeFileSync(
    file,
    stringify({
      site: { dir: o.siteDir, hostname: c.name },
      origins: ids.map((id, index) => ({
        id,
        storage: { type: 'fs', path: o.originDirs[index] },
        url: c.urls[index],
        ...(c.hostHeader === undefined ? {} : { hostHeader: c.hostHeader }),
        dns: { a: [o.addresses[index]] },
      })),
      health: {
        interval: `${c.health.intervalMs}ms`,
        timeout: `${c.health.timeoutMs}ms`,
        fall: c.health.fall,
        rise: c.health.rise,
      },
      failover: { policy: 'priority', failback: 'auto' },
      dns: { name: c.name, ttl: TTL, providers: [c.provider] },
      watch: { listen: '127.0.0.1:0', stateDir: join(o.scratch, `state-${c.name}`) },
    }),
  );
}

async function until(what: string, timeoutMs: number, check: () => Promise<boolean>): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    if (await check()) return;
    await sleep(50);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting until ${what}`);
}

/** One failure of origin a, watched by every stand-in host at once. */
async function failureEvent(
  o: StandinOptions,
  runs: HostRun[],
  scenario: Scenario,
  round: number,
): Promise<StandinEvent> {
  const [A, B] = o.addresses;
  for (const run of runs) {
    await until(`${run.id} answers origin a`, run.backLimitMs, async () => (await run.answer()) === A);
  }
  const quietWaitMs = await o.waitQuiet();
  // Route 53's checkers run on their own clock: a random wait puts the failure at any phase of
  // the 10 s interval. DNS Made Easy's next round is set at a random point of its interval.
  const r53 = runs.some((run) => run.id === 'route53');
  const waitMs = Math.round(Math.random() * (r53 ? 10_000 : 1000));
  await sleep(waitMs);
  const dme = runs.find((run) => run.rephase !== undefined);
  const dmeNextRoundMs = dme ? Math.round(Math.random() * o.dmeIntervalMs) : null;
  const window = loadWindow(o.oursCpu);
  const timeline = new AnswerTimeline();
  const t0 = performance.now();
  if (dmeNextRoundMs !== null) dme?.rephase?.(dmeNextRoundMs);
  if (scenario === 'refused') await o.a.kill();
  else o.a.stop();
  const pending = new Set(runs);
  let next = performance.now();
  while (pending.size > 0) {
    await Promise.all(
      [...pending].map(async (run) => {
        const answer = await run.answer();
        const at = performance.now() - t0;
        timeline.see(run.id, answer, at);
        if (answer === B || at > run.limitMs) pending.delete(run);
      }),
    );
    next += o.pollMs;
    const now = performance.now();
    if (next < now) next = now;
    await sleep(next - now);
  }
  const endMs = performance.now() - t0;
  const load = window.end();
  if (scenario === 'refused') await o.a.start();
  else o.a.cont();
  const event: StandinEvent = {
    scenario,
    round,
    seconds: {},
    checksOfA: {},
    quietWaitMs,
    waitMs,
    dmeNextRoundMs,
    loadBefore: load.loadBefore,
    loadAfter: load.loadAfter,
    foreignCores: Math.round(load.foreignCores * 1000) / 1000,
    disturbed: load.foreignCores > o.maxForeign,
    changes: timeline.changes.map((change) => ({ ...change, atMs: Math.round(change.atMs) })),
  };
  for (const run of runs) {
    const movedMs = timeline.firstAt(run.id, B);
    event.seconds[run.id] = movedMs === undefined ? null : Math.round(movedMs) / 1000;
    // The checks that led to the move: those that started before it (all of them when it never came).
    event.checksOfA[run.id] = run.checks
      .filter((check) => check.at >= t0 && check.at - t0 <= (movedMs ?? endMs))
      .map((check): StandinCheck => ({ atMs: Math.round(check.at - t0), result: check.result }));
  }
  o.log(
    `stand-ins ${scenario} round ${round}: ${runs
      .map(
        (run) =>
          `${run.id} ${event.seconds[run.id] === null ? 'never' : `${event.seconds[run.id]!.toFixed(3)} s`} (checks of a: ${event.checksOfA[run.id]!.map((check) => `${(check.atMs / 1000).toFixed(1)} s ${check.result}`).join('; ')})`,
      )
      .join(
        ', ',
      )} (wait ${waitMs} ms${dmeNextRoundMs === null ? '' : `, DNS Made Easy's next round at ${dmeNextRoundMs} ms`}, load ${load.loadBefore}, foreign ${load.foreignCores.toFixed(2)} cores${event.disturbed ? ', DISTURBED' : ''})`,
  );
  return event;
}

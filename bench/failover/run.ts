/**
 * The failover bench: how fast DNS moves when the origin in use fails, for three contestants on the
 * same PowerDNS and the same two origin processes, in one run: outlast's watcher writing plain
 * records, PowerDNS's own health-checked LUA record written by hand, and outlast's native failover
 * (the LUA record `outlast dns apply` provisions); then outlast's native failover on Route 53 and
 * DNS Made Easy as their stand-ins simulate them (standin-hosts.ts). Also counts the API requests
 * of a `dns apply` with nothing to change.
 *
 *   node --import tsx bench/failover/run.ts [--rounds 5] [--retry-intervals 500ms,250ms]
 *        [--flap-seconds 30] [--steady-seconds 30] [--out bench/out] [--retries 2] [--verbose]
 *        [--hosts pdns,route53,dnsmadeeasy] [--standin-rounds N] [--dme-interval 120s]
 *
 * See README.md for what it does and how to read the table.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import { parseConfig } from '../../src/config/load.ts';
import { Watcher } from '../../src/daemon/watcher.ts';
import { runDeploy } from '../../src/deploy/engine.ts';
import { parseDuration } from '../../src/util/duration.ts';
import { rootLogger } from '../../src/util/log.ts';
import { setupFsDeploy } from '../../test/helpers/site.ts';
import { type DnsServer, startDnsServer } from '../../test/servers/dns.ts';
import { loadAverages, loadWindow, processCpuSeconds } from './cpu.ts';
import { type CountingForwarder, runDnsApply, startCountingForwarder, writeNativeConfig } from './native.ts';
import { findFreePort, OriginProcess, originsCpuSeconds, stopAllOrigins } from './origins.ts';
import { luaContent, luaRecordsAt, putLuaRecord } from './pdns-lua.ts';
import { type AnswerTimeline, answerOf, pollAnswers } from './poll.ts';
import {
  type CountMeasurement,
  type EventMeasurement,
  type FailoverReport,
  markdown,
  rows,
  type Scenario,
  STANDIN_HOSTS,
  STANDIN_LABELS,
  type StandinHost,
} from './report.ts';
import { runStandinHosts } from './standin-hosts.ts';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const WWW = 'www.example.test';
const LUA = 'lua.example.test';
const NATIVE = 'native.example.test';
const NAMES = [WWW, LUA, NATIVE];
const A_ADDRESS = '192.0.2.10';
const B_ADDRESS = '192.0.2.20';
const TTL = 5;
const BEACON = '/.well-known/outlast/release.json';
const POLL_MS = 20;
/** How often the stand-in hosts' answers are read (TestDNSAnswer, DNS Made Easy's evaluated answer). */
const STANDIN_POLL_MS = 50;
/** A system that has not moved DNS after this long counts as "never moved" for that event. */
const EVENT_LIMIT_MS = 20_000;
const HEALTH = { intervalMs: 1000, timeoutMs: 1000, fall: 3, rise: 3 };
const HOLD_DOWN = '60s';
const LUA_TIMEOUT_S = 1;
const LUA_INTERVAL_S = 1; // scripts/servers/dns.sh: lua-health-checks-interval (PDNS_LUA_INTERVAL)

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '5' },
    'retry-intervals': { type: 'string', default: '500ms,250ms' },
    'flap-seconds': { type: 'string', default: '30' },
    'steady-seconds': { type: 'string', default: '30' },
    out: { type: 'string', default: 'bench/out' },
    retries: { type: 'string', default: '2' },
    'max-foreign': { type: 'string', default: '0.5' },
    'quiet-wait': { type: 'string', default: '20' },
    verbose: { type: 'boolean', default: false },
    hosts: { type: 'string', default: 'pdns,route53,dnsmadeeasy' },
    'standin-rounds': { type: 'string' },
    'dme-interval': { type: 'string', default: '120s' },
    help: { type: 'boolean', short: 'h' },
  },
});
if (values.help) {
  process.stdout.write(
    `${readFileSync(fileURLToPath(import.meta.url), 'utf8')
      .split('\n')
      .slice(1, 11)
      .join('\n')}\n`,
  );
  process.exit(0);
}
const rounds = Number(values.rounds);
const retryIntervals = values['retry-intervals'].split(',').map((text) => parseDuration(text.trim()));
const flapSeconds = Number(values['flap-seconds']);
const steadySeconds = Number(values['steady-seconds']);
const retries = Number(values.retries);
const maxForeign = Number(values['max-foreign']);
const quietWaitSeconds = Number(values['quiet-wait']);
const hosts = values.hosts.split(',').map((host) => host.trim());
const withPdns = hosts.includes('pdns');
const standinHosts = STANDIN_HOSTS.filter((host) => hosts.includes(host));
const standinRounds = Number(values['standin-rounds'] ?? rounds);
const dmeIntervalMs = parseDuration(values['dme-interval']);
if (
  hosts.some((host) => host !== 'pdns' && !STANDIN_HOSTS.includes(host as StandinHost)) ||
  !(Number.isInteger(standinRounds) && standinRounds >= 1) ||
  dmeIntervalMs === undefined ||
  !(dmeIntervalMs >= 1000)
) {
  process.stderr.write(
    `bad arguments: --hosts LIST (of pdns, ${STANDIN_HOSTS.join(', ')}), --standin-rounds N (≥1), --dme-interval DURATION (≥1s)\n`,
  );
  process.exit(2);
}
if (
  !(Number.isInteger(rounds) && rounds >= 1) ||
  retryIntervals.some((ms) => ms === undefined || ms <= 0) ||
  !(flapSeconds >= 0) ||
  !(steadySeconds >= 0) ||
  !(retries >= 0) ||
  !(maxForeign > 0) ||
  !(quietWaitSeconds >= 0)
) {
  process.stderr.write(
    'bad arguments: --rounds N (≥1), --retry-intervals 500ms,250ms, --flap-seconds S, --steady-seconds S, --retries N, --max-foreign CORES, --quiet-wait S\n',
  );
  process.exit(2);
}
const outDir = resolve(values.out);
const command = `node --import tsx bench/failover/run.ts ${process.argv.slice(2).join(' ')}`.trim();
const log = (line: string) =>
  process.stderr.write(`[failover ${new Date().toISOString().slice(11, 23)}] ${line}\n`);

// -- cleanup: the origin processes (by PID), PowerDNS (test/servers/dns.ts stops it at exit), the temp dir.
const scratch = mkdtempSync(join(tmpdir(), 'outlast-bench-failover-'));
let keepScratch = false;
process.on('exit', () => {
  stopAllOrigins();
  if (!keepScratch) rmSync(scratch, { recursive: true, force: true });
});
for (const [signal, code] of [
  ['SIGINT', 130],
  ['SIGTERM', 143],
  ['SIGHUP', 129],
] as const) {
  process.on(signal, () => {
    log(`${signal}: stopping`);
    process.exit(code);
  });
}

const startedAt = new Date();
const report: FailoverReport = {
  startedAt: startedAt.toISOString(),
  finishedAt: '',
  command,
  machine: {
    cpus: cpus().length,
    node: process.version,
    pdns: withPdns ? 'PowerDNS Authoritative' : 'PowerDNS not started (--hosts)',
  },
  settings: {
    rounds,
    retryIntervalsMs: retryIntervals,
    health: { ...HEALTH, holdDown: HOLD_DOWN },
    ttl: TTL,
    pollMs: POLL_MS,
    flapSeconds,
    steadySeconds,
    luaTimeoutSeconds: LUA_TIMEOUT_S,
    luaIntervalSeconds: LUA_INTERVAL_S,
    maxForeignCores: maxForeign,
    retriesOfDisturbed: retries,
    quietWaitSeconds,
    hosts,
  },
  events: [],
  counts: [],
  nativeApply: [],
  notes: [],
};

let pdns: DnsServer;
let a: OriginProcess;
let b: OriginProcess;
let watcher: Watcher | undefined;
let forwarder: CountingForwarder | undefined;
/** outlast's timeline events since the watcher started, with performance.now() times. */
let outlastEvents: { at: number; kind: string; message: string; originId?: string; to?: string }[] = [];

/** CPU of the bench's other processes: PowerDNS and the origins (dead ones included). */
const oursCpu = () => processCpuSeconds(pdns?.pid ?? 0) + originsCpuSeconds();

async function eventually(
  what: string,
  check: () => Promise<boolean> | boolean,
  timeoutMs = 60_000,
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    if (await check()) return;
    await sleep(50);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting until ${what}`);
}

function pdnsVersion(): string {
  try {
    const text = readFileSync(join(pdns.dataDir, 'log', 'pdns.log'), 'utf8');
    const match = /PowerDNS Authoritative Server (\S+)/.exec(text);
    return match ? `PowerDNS Authoritative ${match[1]}` : 'PowerDNS Authoritative';
  } catch {
    return 'PowerDNS Authoritative';
  }
}

async function startWatcher(retryMs: number, setup: ReturnType<typeof setupFsDeploy>): Promise<Watcher> {
  const text = stringify({
    site: { dir: setup.siteDir, hostname: WWW },
    origins: [
      { id: 'a', storage: { type: 'fs', path: setup.origins[0] }, url: a.url, dns: { a: [A_ADDRESS] } },
      { id: 'b', storage: { type: 'fs', path: setup.origins[1] }, url: b.url, dns: { a: [B_ADDRESS] } },
    ],
    health: {
      interval: `${HEALTH.intervalMs}ms`,
      timeout: `${HEALTH.timeoutMs}ms`,
      retryInterval: `${retryMs}ms`,
      fall: HEALTH.fall,
      rise: HEALTH.rise,
    },
    failover: { policy: 'priority', failback: 'auto', holdDown: HOLD_DOWN },
    dns: {
      name: WWW,
      ttl: TTL,
      providers: [{ type: 'powerdns', url: pdns.apiUrl, zone: pdns.zone, apiKey: pdns.apiKey }],
    },
    watch: { listen: '127.0.0.1:0', stateDir: join(scratch, `state-${retryMs}`) },
  });
  const { config } = parseConfig(text, join(scratch, `outlast-${retryMs}.yaml`));
  const logger = rootLogger.child(
    { component: 'bench-watch' },
    { level: values.verbose ? 'info' : 'silent' },
  );
  const created = new Watcher({ config, logger });
  outlastEvents = [];
  created.subscribe((event) => {
    const originId = typeof event.data?.originId === 'string' ? event.data.originId : undefined;
    // The health engine's transitions carry `to`; the machine's own 'health' echo does not.
    const to = typeof event.data?.to === 'string' ? event.data.to : undefined;
    outlastEvents.push({
      at: performance.now(),
      kind: event.kind,
      message: event.message,
      ...(originId ? { originId } : {}),
      ...(to ? { to } : {}),
    });
  });
  await created.start();
  return created;
}

function originState(id: string): string {
  return watcher?.status().origins.find((origin) => origin.originId === id)?.state ?? 'unknown';
}

/** Origin a serves, outlast sees it up and routes to it, and all three names answer a. */
async function ensureOnA(): Promise<void> {
  const w = watcher!;
  await eventually('outlast sees origin a up', () => originState('a') === 'up');
  if (w.status().active.join() !== 'a') {
    // Failback by the operator action: holdDown stays 60 s (what the flap test needs), the round
    // does not wait for it. It applies the policy's choice at once (see README).
    w.act({ type: 'failback' });
  }
  await eventually('every name answers origin a', async () =>
    (await Promise.all(NAMES.map((name) => answerOf(pdns, name)))).every((answer) => answer === A_ADDRESS),
  );
  await w.settled();
}

/** Waits (1 s samples, at most --quiet-wait seconds) until other processes use ≤ --max-foreign cores. */
async function waitQuiet(): Promise<number> {
  const started = performance.now();
  while ((performance.now() - started) / 1000 < quietWaitSeconds) {
    const window = loadWindow(oursCpu);
    await sleep(1000);
    if (window.end().foreignCores <= maxForeign) break;
  }
  return Math.round(performance.now() - started);
}

function writesSoFar(): number {
  return outlastEvents.filter((event) => event.kind === 'dns').length;
}

/** One failure of origin a, seen by the three contestants at once. */
async function failureEvent(
  scenario: Scenario,
  retryMs: number,
  round: number,
  attempt: number,
): Promise<EventMeasurement> {
  await ensureOnA();
  const quietWaitMs = await waitQuiet();
  const phaseMs = Math.round(Math.random() * 1000);
  await sleep(phaseMs);
  const window = loadWindow(oursCpu);
  const eventsBefore = outlastEvents.length;
  const t0 = performance.now();
  if (scenario === 'refused') await a.kill();
  else a.stop();
  const timeline = await pollAnswers(pdns, NAMES, {
    everyMs: POLL_MS,
    t0,
    until: (seen, elapsed) =>
      elapsed > EVENT_LIMIT_MS || NAMES.every((name) => seen.firstAt(name, B_ADDRESS) !== undefined),
  });
  const load = window.end();
  // Bring a back: a new process on the same address, or the frozen one resumed.
  if (scenario === 'refused') await a.start();
  else a.cont();
  const outlastMs = timeline.firstAt(WWW, B_ADDRESS);
  const luaMs = timeline.firstAt(LUA, B_ADDRESS);
  const nativeMs = timeline.firstAt(NATIVE, B_ADDRESS);
  const during = outlastEvents.slice(eventsBefore);
  const firstOf = (kind: string, originId?: string) => {
    const event = during.find(
      (e) => e.kind === kind && (originId === undefined || (e.originId === originId && e.to !== undefined)),
    );
    return event === undefined ? undefined : Math.round(event.at - t0);
  };
  const measurement: EventMeasurement = {
    scenario,
    retryIntervalMs: retryMs,
    round,
    attempt,
    outlastSeconds: outlastMs === undefined ? undefined : outlastMs / 1000,
    luaSeconds: luaMs === undefined ? undefined : luaMs / 1000,
    nativeSeconds: nativeMs === undefined ? undefined : nativeMs / 1000,
    outlastDownAtMs: firstOf('health', 'a'),
    outlastWriteAtMs: firstOf('dns'),
    phaseMs,
    quietWaitMs,
    loadBefore: load.loadBefore,
    loadAfter: load.loadAfter,
    foreignCores: round3(load.foreignCores),
    disturbed: load.foreignCores > maxForeign,
    used: false,
    changes: timeline.changes.map((change) => ({ ...change, atMs: Math.round(change.atMs) })),
    outlastEvents: during.map((event) => ({
      atMs: Math.round(event.at - t0),
      kind: event.kind,
      message: event.message,
    })),
  };
  log(
    `${scenario} retry ${retryMs}ms round ${round}.${attempt}: outlast ${fmtS(measurement.outlastSeconds)} (down verdict ${measurement.outlastDownAtMs} ms, write ${measurement.outlastWriteAtMs} ms), PowerDNS LUA ${fmtS(measurement.luaSeconds)}, outlast native ${fmtS(measurement.nativeSeconds)} (phase ${phaseMs} ms, load ${load.loadBefore}, foreign ${load.foreignCores.toFixed(2)} cores${measurement.disturbed ? ', DISTURBED' : ''})`,
  );
  return measurement;
}

function round3(value: number): number {
  return Math.round(value * 1000) / 1000;
}

function fmtS(seconds: number | undefined): string {
  return seconds === undefined ? 'never' : `${seconds.toFixed(3)} s`;
}

/** Repeats a disturbed measurement up to `retries` times; the first quiet (else the least disturbed) one is used. */
async function measureEvent(scenario: Scenario, retryMs: number, round: number): Promise<void> {
  const attempts: EventMeasurement[] = [];
  for (let attempt = 1; attempt <= retries + 1; attempt++) {
    const measurement = await failureEvent(scenario, retryMs, round, attempt);
    attempts.push(measurement);
    report.events.push(measurement);
    if (!measurement.disturbed) break;
  }
  const best =
    attempts.find((m) => !m.disturbed) ??
    attempts.reduce((x, y) => (y.foreignCores < x.foreignCores ? y : x));
  best.used = true;
}

/** Polls the three names for `seconds` while `drive` runs (it fails origin a or not), and counts. */
async function countWindow(
  scenario: string,
  retryMs: number,
  seconds: number,
  drive: (until: number) => Promise<{ downMs?: number[]; upMs?: number[] }>,
): Promise<CountMeasurement> {
  await ensureOnA();
  await waitQuiet();
  const window = loadWindow(oursCpu);
  const writesBefore = writesSoFar();
  const eventsBefore = outlastEvents.length;
  const lastWriteAt = () =>
    watcher!
      .status()
      .providers.map((provider) => provider.lastWriteAt ?? '')
      .join();
  let lastSeen = lastWriteAt();
  let lastWriteAtChanges = 0;
  const t0 = performance.now();
  const end = t0 + seconds * 1000;
  const wwwAnswers: Record<string, number> = {};
  const luaAnswers: Record<string, number> = {};
  const nativeAnswers: Record<string, number> = {};
  const tally = (counts: Record<string, number>, answer: string | undefined) => {
    counts[answer ?? '?'] = (counts[answer ?? '?'] ?? 0) + 1;
  };
  const polling = pollAnswers(pdns, NAMES, {
    everyMs: POLL_MS,
    t0,
    until: (timeline: AnswerTimeline) => {
      tally(wwwAnswers, timeline.current.get(WWW));
      tally(luaAnswers, timeline.current.get(LUA));
      tally(nativeAnswers, timeline.current.get(NATIVE));
      const now = lastWriteAt();
      if (now !== lastSeen) {
        lastWriteAtChanges++;
        lastSeen = now;
      }
      return performance.now() >= end;
    },
  });
  const cycles = await drive(end);
  const timeline = await polling;
  const writes = writesSoFar() - writesBefore;
  const load = window.end();
  const transitions = outlastEvents
    .slice(eventsBefore)
    .filter((event) => event.kind === 'health' && event.originId === 'a' && event.to !== undefined).length;
  // A failover that the last down phase set off lands in the next seconds: counted apart.
  await sleep(5000);
  const events = outlastEvents
    .slice(eventsBefore)
    .filter((event) => event.kind !== 'started' && event.kind !== 'stopped')
    .map((event) => ({ atMs: Math.round(event.at - t0), kind: event.kind, message: event.message }));
  const measurement: CountMeasurement = {
    scenario,
    retryIntervalMs: retryMs,
    seconds: (performance.now() - t0 - 5000) / 1000,
    outlastWrites: writes,
    outlastWritesAfter: writesSoFar() - writesBefore - writes,
    lastWriteAtChanges,
    outlastHealthTransitions: transitions,
    wwwAnswerChanges: timeline.changeCount(WWW),
    luaAnswerChanges: timeline.changeCount(LUA),
    nativeAnswerChanges: timeline.changeCount(NATIVE),
    wwwAnswers,
    luaAnswers,
    nativeAnswers,
    ...cycles,
    outlastEvents: events,
    loadBefore: load.loadBefore,
    loadAfter: load.loadAfter,
    foreignCores: round3(load.foreignCores),
    disturbed: load.foreignCores > maxForeign,
    attempt: 1,
    used: false,
  };
  log(
    `${scenario} retry ${retryMs}ms: outlast ${writes} writes (+${measurement.outlastWritesAfter} after), ${transitions} health transitions of a; answer changes www ${measurement.wwwAnswerChanges}, lua ${measurement.luaAnswerChanges}, native ${measurement.nativeAnswerChanges} (load ${load.loadBefore}, foreign ${load.foreignCores.toFixed(2)} cores${measurement.disturbed ? ', DISTURBED' : ''})`,
  );
  return measurement;
}

/** A count window, repeated like an event when disturbed. */
async function measureCounts(
  scenario: string,
  retryMs: number,
  seconds: number,
  drive: (until: number) => Promise<{ downMs?: number[]; upMs?: number[] }>,
): Promise<void> {
  const attempts: CountMeasurement[] = [];
  for (let attempt = 1; attempt <= retries + 1; attempt++) {
    const measurement = await countWindow(scenario, retryMs, seconds, drive);
    measurement.attempt = attempt;
    attempts.push(measurement);
    report.counts.push(measurement);
    if (!measurement.disturbed) break;
  }
  const best =
    attempts.find((m) => !m.disturbed) ??
    attempts.reduce((x, y) => (y.foreignCores < x.foreignCores ? y : x));
  best.used = true;
}

/** Origin a down (SIGKILL) and up (a new process) about every second until `until`. */
async function flapKill(until: number): Promise<{ downMs: number[]; upMs: number[] }> {
  const downMs: number[] = [];
  const upMs: number[] = [];
  const starts = [a.lastStartMs || 700];
  const startEstimate = () => {
    const recent = starts.slice(-3);
    return recent.reduce((sum, ms) => sum + ms, 0) / recent.length;
  };
  while (performance.now() < until) {
    const down = performance.now();
    await a.kill();
    // Start the next process early by its start-up time, so a is unreachable for about 1 s.
    await sleep(Math.max(0, 1000 - startEstimate() - (performance.now() - down)));
    await a.start();
    starts.push(a.lastStartMs);
    const up = performance.now();
    downMs.push(Math.round(up - down));
    if (up >= until) break;
    await sleep(Math.max(0, Math.min(1000, until - up)));
    upMs.push(Math.round(performance.now() - up));
  }
  return { downMs, upMs };
}

/** Origin a frozen (SIGSTOP) and resumed (SIGCONT), 1 s each, until `until`. */
async function flapStop(until: number): Promise<{ downMs: number[]; upMs: number[] }> {
  const downMs: number[] = [];
  const upMs: number[] = [];
  while (performance.now() < until) {
    const down = performance.now();
    a.stop();
    await sleep(1000);
    a.cont();
    const up = performance.now();
    downMs.push(Math.round(up - down));
    if (up >= until) break;
    await sleep(Math.max(0, Math.min(1000, until - up)));
    upMs.push(Math.round(performance.now() - up));
  }
  return { downMs, upMs };
}

async function main(): Promise<void> {
  log(`load ${loadAverages()}; scratch ${scratch}`);
  const setup = setupFsDeploy({
    origins: 2,
    files: { 'index.html': '<h1>outlast failover bench</h1>', '404.html': 'not found' },
  });
  try {
    const deployed = await runDeploy({ config: setup.config });
    const failed = deployed.origins.filter((origin) => origin.error);
    if (failed.length > 0) throw new Error(`deploy failed: ${JSON.stringify(failed)}`);

    const port = await findFreePort(['127.0.0.2', '127.0.0.3']);
    a = new OriginProcess({
      id: 'a',
      dir: setup.origins[0]!,
      host: '127.0.0.2',
      port,
      logFile: join(scratch, 'origin-a.log'),
    });
    b = new OriginProcess({
      id: 'b',
      dir: setup.origins[1]!,
      host: '127.0.0.3',
      port,
      logFile: join(scratch, 'origin-b.log'),
    });
    await Promise.all([a.start(), b.start()]);
    log(`origins: a ${a.url} (pid ${a.pid}), b ${b.url} (pid ${b.pid})`);

    if (withPdns) {
      pdns = await startDnsServer('pdns');
      report.machine.pdns = pdnsVersion();
      log(`PowerDNS ${pdns.host}:${pdns.port}, API ${pdns.apiUrl} (pid ${pdns.pid}), ${report.machine.pdns}`);

      const content = luaContent(
        [
          { address: A_ADDRESS, checkUrl: `${a.url}${BEACON}` },
          { address: B_ADDRESS, checkUrl: `${b.url}${BEACON}` },
        ],
        { stringmatch: 'release', timeoutSeconds: LUA_TIMEOUT_S },
      );
      await putLuaRecord(pdns, LUA, TTL, content);
      report.settings.luaRecord = `${LUA}. ${TTL} IN LUA ${content}`;
      // PowerDNS registers a check at the first query and counts every address as down until the
      // check has run (the first answers come from backupSelector): warm up before measuring.

      // The third contestant: outlast provisions its own LUA record at NATIVE, through a forwarder
      // that counts the API requests; a second apply has nothing to change (target: reads only).
      forwarder = await startCountingForwarder(pdns.apiUrl!);
      const nativeConfig = join(scratch, 'outlast-native.yaml');
      writeNativeConfig({
        file: nativeConfig,
        name: NATIVE,
        siteDir: setup.siteDir,
        originDirs: [setup.origins[0]!, setup.origins[1]!],
        originUrls: [a.url, b.url],
        addresses: [A_ADDRESS, B_ADDRESS],
        ttl: TTL,
        health: HEALTH,
        apiUrl: forwarder.url,
        zone: pdns.zone,
        apiKey: pdns.apiKey!,
        stateDir: join(scratch, 'state-native'),
      });
      for (const label of ['first', 'again']) {
        const run = await runDnsApply(label, nativeConfig, forwarder);
        report.nativeApply.push(run);
        log(
          `outlast dns apply (${label}): exit ${run.exitCode}, ${run.ms} ms, changes [${run.changes.join('; ')}], ${run.requests.length} requests (${run.writes} writes): ${run.requests.map((item) => `${item.method} ${item.path} ${item.status}`).join(', ')}`,
        );
        if (run.exitCode !== 0) throw new Error(`outlast dns apply (${label}) failed: ${run.output ?? ''}`);
      }
      report.settings.nativeRecords = (await luaRecordsAt(pdns, NATIVE)).map(
        (content) => `${NATIVE}. ${TTL} IN LUA ${content}`,
      );

      // PowerDNS registers a check at the first query and counts every address as down until the
      // check has run (the first answers come from backupSelector): warm up before measuring.
      const firstAnswers: Record<string, string[]> = { [LUA]: [], [NATIVE]: [] };
      for (let i = 0; i < 5; i++) {
        for (const name of [LUA, NATIVE]) firstAnswers[name]!.push(await answerOf(pdns, name));
      }
      await sleep(2500);
      for (const name of [LUA, NATIVE]) {
        await eventually(`${name} answers a`, async () => (await answerOf(pdns, name)) === A_ADDRESS, 10_000);
      }
      report.notes.push(
        `PowerDNS LUA warm-up: answers to the first 5 queries (before any check ran): ${LUA} ${firstAnswers[LUA]!.join(', ')}; ${NATIVE} ${firstAnswers[NATIVE]!.join(', ')}; 2.5 s later both answered ${A_ADDRESS}.`,
      );

      for (const retryMs of retryIntervals as number[]) {
        log(`== outlast watcher with retryInterval ${retryMs} ms`);
        watcher = await startWatcher(retryMs, setup);
        await eventually('www answers a', async () => (await answerOf(pdns, WWW)) === A_ADDRESS, 30_000);
        for (let round = 1; round <= rounds; round++) {
          await measureEvent('refused', retryMs, round);
          await measureEvent('hung', retryMs, round);
        }
        if (steadySeconds > 0) await measureCounts('steady', retryMs, steadySeconds, async () => ({}));
        if (flapSeconds > 0) {
          await measureCounts('flap-kill', retryMs, flapSeconds, flapKill);
          await measureCounts('flap-stop', retryMs, flapSeconds, flapStop);
        }
        await ensureOnA();
        await watcher.stop();
        watcher = undefined;
      }
      // After every failure, the record outlast provisioned is still what the config says.
      const last = await runDnsApply('again, after the failures', nativeConfig, forwarder);
      report.nativeApply.push(last);
      log(
        `outlast dns apply (after the failures): exit ${last.exitCode}, changes [${last.changes.join('; ')}], ${last.requests.length} requests (${last.writes} writes)`,
      );
    }
    if (standinHosts.length > 0) {
      log(`== stand-in hosts (simulated): ${standinHosts.join(', ')}`);
      report.standins = await runStandinHosts({
        hosts: standinHosts,
        rounds: standinRounds,
        dmeIntervalMs: dmeIntervalMs as number,
        pollMs: STANDIN_POLL_MS,
        a,
        b,
        siteDir: setup.siteDir,
        originDirs: [setup.origins[0]!, setup.origins[1]!],
        addresses: [A_ADDRESS, B_ADDRESS],
        scratch,
        oursCpu,
        maxForeign,
        waitQuiet,
        log,
      });
    }
  } finally {
    await watcher?.stop().catch(() => undefined);
    await forwarder?.close().catch(() => undefined);
    await a?.close().catch(() => undefined);
    await b?.close().catch(() => undefined);
    await pdns?.stop().catch((error: unknown) => log(`PowerDNS stop: ${String(error)}`));
    setup.cleanup();
  }

  report.finishedAt = new Date().toISOString();
  const disturbedUsed = report.events.filter((event) => event.used && event.disturbed).length;
  if (withPdns)
    report.notes.push(
      `A measurement is "disturbed" when other processes used more than ${maxForeign} cores meanwhile (busy time from /proc/stat minus this process, PowerDNS and the origins); it is repeated up to ${retries} times. Used measurements still disturbed: ${disturbedUsed}.`,
      `The three contestants watch the same failure: one signal at t0, then ${WWW} (outlast watcher), ${LUA} (hand-written PowerDNS LUA) and ${NATIVE} (outlast native: the LUA record outlast dns apply wrote) are asked every ${POLL_MS} ms over UDP; the time is the first reply with ${B_ADDRESS}. A random wait of 0–1000 ms before each signal spreads the failure over the probe timers' phase.`,
      `Between events outlast fails back by the operator action (watcher.act failback) once it sees a up again (rise ${HEALTH.rise}); holdDown stays ${HOLD_DOWN} throughout.`,
      `outlast's schedule (src/health/engine.ts): while passing, the next probe starts \`interval\` after the previous one ENDED; after a failure, retries start every \`retryInterval\` start to start, even while earlier ones are in flight (at most fall at once); fall ${HEALTH.fall} needs ${HEALTH.fall} failures in a row. Refused ≈ phase (0–interval) + ${HEALTH.fall - 1} × retryInterval; hung ≈ phase + 2 × timeout + ${HEALTH.fall - 2} × retryInterval (the first retry waits for the first failure, the later ones overlap). The machine then moves at once (moving away from a down origin is never held down) and the writer does GET + PATCH (see "a down verdict / write done").`,
      `PowerDNS 4.7 runs every check once per lua-health-checks-interval, all in parallel, and one failed check marks an address down (no threshold): refused ≈ phase (0–interval), hung ≈ phase + timeout. The flip side shows in the flap rows.`,
      `outlast native is the same PowerDNS mechanism with outlast's code around it: ifurlextup on each origin's beacon, first with the match "release":"<live release>", then (only when no origin on the live release is up) with "release":"r; the check timeout is health.timeout rounded up to whole seconds, the interval is the server's, fall/rise cannot be expressed (see the plan's notes above). Its rows pool all rounds, like the hand-written record's.`,
      `outlast dns apply runs as a child process (node bin/outlast.js, i.e. the compiled dist/) with the provider's url pointing at a counting HTTP forwarder on 127.0.0.1 in front of the PowerDNS API; the forwarder records method, path and status of each request (no headers).`,
    );
  const table = rows(report, HEALTH, LUA_TIMEOUT_S * 1000, LUA_INTERVAL_S * 1000);
  const md = markdown(report, table, {
    title: 'outlast failover bench',
    intro: [
      ...(withPdns
        ? [
            `outlast watcher (in-process, provider powerdns, ${WWW} A ${A_ADDRESS} ↔ ${B_ADDRESS}, ttl ${TTL}, holdDown ${HOLD_DOWN}) against a hand-written PowerDNS LUA record (\`${LUA}\`, ifurlextup) and outlast native failover (\`${NATIVE}\`, the LUA record \`outlast dns apply\` provisioned with \`failover: native\`), same PowerDNS, same two \`outlast serve\` processes on 127.0.0.2/127.0.0.3. ${rounds} rounds per scenario and setting.`,
          ]
        : []),
      ...(standinHosts.length > 0
        ? [
            `Then outlast native failover on ${standinHosts.map((host) => STANDIN_LABELS[host]).join(' and ')}: SIMULATED by the repository's stand-ins (test/standins/), which probe the same two origin processes with the host's documented semantics at its fastest documented settings, from one vantage point, without the real services' propagation. ${standinRounds} rounds per scenario. See "Stand-in hosts" below.`,
          ]
        : []),
    ],
  });
  mkdirSync(outDir, { recursive: true });
  const stamp = startedAt
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
  const base = join(outDir, `failover-${stamp}`);
  writeFileSync(`${base}.json`, `${JSON.stringify({ ...report, table }, null, 2)}\n`);
  writeFileSync(`${base}.md`, md);
  writeFileSync(join(outDir, 'failover-latest.json'), `${JSON.stringify({ ...report, table }, null, 2)}\n`);
  writeFileSync(join(outDir, 'failover-latest.md'), md);
  process.stdout.write(`${md}\n`);
  log(`wrote ${relative(REPO, base)}.md and .json`);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    keepScratch = true;
    log(`failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    log(`origin logs kept in ${scratch}`);
    process.exit(1);
  },
);

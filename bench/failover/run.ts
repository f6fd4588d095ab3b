/**
 * The failover bench: how fast outlast moves DNS when the origin in use fails, against PowerDNS's
 * own health-checked LUA records, on the same PowerDNS and the same two origin processes, in one run.
 *
 *   node --import tsx bench/failover/run.ts [--rounds 5] [--retry-intervals 500ms,250ms]
 *        [--flap-seconds 30] [--steady-seconds 30] [--out bench/out] [--retries 2] [--verbose]
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
import { findFreePort, OriginProcess, originsCpuSeconds, stopAllOrigins } from './origins.ts';
import { luaContent, putLuaRecord } from './pdns-lua.ts';
import { type AnswerTimeline, answerOf, pollAnswers } from './poll.ts';
import {
  type CountMeasurement,
  type EventMeasurement,
  type FailoverReport,
  markdown,
  rows,
  type Scenario,
} from './report.ts';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const WWW = 'www.example.test';
const LUA = 'lua.example.test';
const A_ADDRESS = '192.0.2.10';
const B_ADDRESS = '192.0.2.20';
const TTL = 5;
const BEACON = '/.well-known/outlast/release.json';
const POLL_MS = 20;
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
    help: { type: 'boolean', short: 'h' },
  },
});
if (values.help) {
  process.stdout.write(
    `${readFileSync(fileURLToPath(import.meta.url), 'utf8')
      .split('\n')
      .slice(1, 8)
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
  machine: { cpus: cpus().length, node: process.version, pdns: 'PowerDNS Authoritative' },
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
  },
  events: [],
  counts: [],
  notes: [],
};

let pdns: DnsServer;
let a: OriginProcess;
let b: OriginProcess;
let watcher: Watcher | undefined;
/** outlast's timeline events since the watcher started, with performance.now() times. */
let outlastEvents: { at: number; kind: string; message: string; originId?: string; to?: string }[] = [];

/** CPU of the bench's other processes: PowerDNS and the origins (dead ones included). */
const oursCpu = () => processCpuSeconds(pdns.pid ?? 0) + originsCpuSeconds();

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

/** Origin a serves, outlast sees it up and routes to it, and both names answer a. */
async function ensureOnA(): Promise<void> {
  const w = watcher!;
  await eventually('outlast sees origin a up', () => originState('a') === 'up');
  if (w.status().active.join() !== 'a') {
    // Failback by the operator action: holdDown stays 60 s (what the flap test needs), the round
    // does not wait for it. It applies the policy's choice at once (see README).
    w.act({ type: 'failback' });
  }
  await eventually(
    'both names answer origin a',
    async () => (await answerOf(pdns, WWW)) === A_ADDRESS && (await answerOf(pdns, LUA)) === A_ADDRESS,
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

/** One failure of origin a, seen by both systems at once. */
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
  const timeline = await pollAnswers(pdns, [WWW, LUA], {
    everyMs: POLL_MS,
    t0,
    until: (seen, elapsed) =>
      elapsed > EVENT_LIMIT_MS ||
      (seen.firstAt(WWW, B_ADDRESS) !== undefined && seen.firstAt(LUA, B_ADDRESS) !== undefined),
  });
  const load = window.end();
  // Bring a back: a new process on the same address, or the frozen one resumed.
  if (scenario === 'refused') await a.start();
  else a.cont();
  const outlastMs = timeline.firstAt(WWW, B_ADDRESS);
  const luaMs = timeline.firstAt(LUA, B_ADDRESS);
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
    `${scenario} retry ${retryMs}ms round ${round}.${attempt}: outlast ${fmtS(measurement.outlastSeconds)} (down verdict ${measurement.outlastDownAtMs} ms, write ${measurement.outlastWriteAtMs} ms), PowerDNS LUA ${fmtS(measurement.luaSeconds)} (phase ${phaseMs} ms, load ${load.loadBefore}, foreign ${load.foreignCores.toFixed(2)} cores${measurement.disturbed ? ', DISTURBED' : ''})`,
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

/** Polls both names for `seconds` while `drive` runs (it fails origin a or not), and counts. */
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
  const polling = pollAnswers(pdns, [WWW, LUA], {
    everyMs: POLL_MS,
    t0,
    until: (timeline: AnswerTimeline) => {
      const www = timeline.current.get(WWW) ?? '?';
      const lua = timeline.current.get(LUA) ?? '?';
      wwwAnswers[www] = (wwwAnswers[www] ?? 0) + 1;
      luaAnswers[lua] = (luaAnswers[lua] ?? 0) + 1;
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
    wwwAnswers,
    luaAnswers,
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
    `${scenario} retry ${retryMs}ms: outlast ${writes} writes (+${measurement.outlastWritesAfter} after), ${transitions} health transitions of a; answer changes www ${measurement.wwwAnswerChanges}, lua ${measurement.luaAnswerChanges} (load ${load.loadBefore}, foreign ${load.foreignCores.toFixed(2)} cores${measurement.disturbed ? ', DISTURBED' : ''})`,
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
    const firstAnswers: string[] = [];
    for (let i = 0; i < 5; i++) firstAnswers.push(await answerOf(pdns, LUA));
    await sleep(2500);
    await eventually('lua answers a', async () => (await answerOf(pdns, LUA)) === A_ADDRESS, 10_000);
    report.notes.push(
      `PowerDNS LUA warm-up: answers to the first 5 queries (before any check ran): ${firstAnswers.join(', ')}; 2.5 s later it answered ${A_ADDRESS}.`,
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
  } finally {
    await watcher?.stop().catch(() => undefined);
    await a?.close().catch(() => undefined);
    await b?.close().catch(() => undefined);
    await pdns?.stop().catch((error: unknown) => log(`PowerDNS stop: ${String(error)}`));
    setup.cleanup();
  }

  report.finishedAt = new Date().toISOString();
  const disturbedUsed = report.events.filter((event) => event.used && event.disturbed).length;
  report.notes.push(
    `A measurement is "disturbed" when other processes used more than ${maxForeign} cores meanwhile (busy time from /proc/stat minus this process, PowerDNS and the origins); it is repeated up to ${retries} times. Used measurements still disturbed: ${disturbedUsed}.`,
    `Both systems watch the same failure: one signal at t0, then ${WWW} (outlast) and ${LUA} (PowerDNS LUA) are asked every ${POLL_MS} ms over UDP; the time is the first reply with ${B_ADDRESS}. A random wait of 0–1000 ms before each signal spreads the failure over the probe timers' phase.`,
    `Between events outlast fails back by the operator action (watcher.act failback) once it sees a up again (rise ${HEALTH.rise}); holdDown stays ${HOLD_DOWN} throughout.`,
    `outlast's schedule (src/health/engine.ts): the next probe starts \`retryInterval\` (after a failure) or \`interval\` (after a pass) after the previous probe ENDED, and probes never overlap; fall ${HEALTH.fall} needs ${HEALTH.fall} failures in a row. Refused ≈ phase (0–interval) + ${HEALTH.fall - 1} × retryInterval; hung ≈ phase + ${HEALTH.fall} × timeout + ${HEALTH.fall - 1} × retryInterval. The machine then moves at once (moving away from a down origin is never held down) and the writer does GET + PATCH (see "a down verdict / write done").`,
    `PowerDNS 4.7 runs every check once per lua-health-checks-interval, all in parallel, and one failed check marks an address down (no threshold): refused ≈ phase (0–interval), hung ≈ phase + timeout. The flip side shows in the flap rows.`,
  );
  const table = rows(report, HEALTH, LUA_TIMEOUT_S * 1000, LUA_INTERVAL_S * 1000);
  const md = markdown(report, table, {
    title: 'outlast failover bench',
    intro: [
      `outlast watcher (in-process, provider powerdns, ${WWW} A ${A_ADDRESS} ↔ ${B_ADDRESS}, ttl ${TTL}, holdDown ${HOLD_DOWN}) against PowerDNS LUA records (\`${LUA}\`, ifurlextup), same PowerDNS, same two \`outlast serve\` processes on 127.0.0.2/127.0.0.3. ${rounds} rounds per scenario and setting.`,
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

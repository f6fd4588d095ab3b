/**
 * The cluster bench (issue 13): one `outlast watch` alone against three as a cluster on a real
 * 3-member etcd (quorum 2, leaseTtl 2s), on a real PowerDNS and two origin processes, in one run:
 * failover time (refused, hung), leader handover after a SIGKILL and the DNS writes it makes, and
 * the cost per watcher (CPU, etcd traffic through counting proxies, etcd's own counters).
 *
 *   node --import tsx bench/cluster/run.ts [--rounds 5] [--handovers 20] [--steady-seconds 60]
 *        [--out bench/out] [--retries 2] [--max-foreign 0.5] [--quiet-wait 20] [--poll-ms 10]
 *        [--status-poll-ms 20]
 *
 * Run `npm run build` first: the watchers are `node bin/outlast.js watch` (the compiled dist/,
 * copied into the scratch folder at the start). See README.md.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { runDeploy } from '../../src/deploy/engine.ts';
import { setupFsDeploy } from '../../test/helpers/site.ts';
import { type DnsServer, startDnsServer } from '../../test/servers/dns.ts';
import { type EtcdCluster, startEtcdCluster } from '../../test/servers/etcd.ts';
import { loadAverages, loadWindow, processCpuSeconds } from '../failover/cpu.ts';
import { findFreePort, OriginProcess, originsCpuSeconds, stopAllOrigins } from '../failover/origins.ts';
import { answerOf, pollAnswers } from '../failover/poll.ts';
import { byLabel, diffSamples, firstTotal, type Samples, scrape, sumSamples } from './etcd-metrics.ts';
import { addCounts, CountingProxy, diffCounts, type TrafficCounts, zeroCounts } from './proxy.ts';
import {
  type ClusterReport,
  type FailoverEvent,
  fmtRequests,
  type HandoverMeasurement,
  markdown,
  type Scenario,
  type SteadyMeasurement,
  type WatcherCost,
} from './report.ts';
import { type StatusJson, stopAllWatchers, WatcherProcess, writeWatcherConfig } from './watchers.ts';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const LONE_ZONE = 'lone.test';
const CLUSTER_ZONE = 'cluster.test';
const LONE_NAME = `www.${LONE_ZONE}`;
const CLUSTER_NAME = `www.${CLUSTER_ZONE}`;
const NAMES = [LONE_NAME, CLUSTER_NAME];
const A_ADDRESS = '192.0.2.10';
const B_ADDRESS = '192.0.2.20';
const TTL = 5;
const HEALTH = { interval: '1s', timeout: '1s', fall: 3, rise: 3 };
const RETRY_INTERVAL = '500ms';
/** Short, so that DNS is back on a a few seconds after a returns (moving away is never held down). */
const HOLD_DOWN = '5s';
const QUORUM = 2;
const LEASE_TTL_MS = 2000;
const MEMBER_IDS = ['w1', 'w2', 'w3'] as const;
/** A failover not seen after this long counts as "never" for that event. */
const EVENT_LIMIT_MS = 20_000;
const HANDOVER_LIMIT_MS = 30_000;
/** After a new leader is agreed, how long the bench waits before reading the SOA serial again. */
const HANDOVER_SETTLE_MS = 3000;
const WAIT_MS = 120_000;

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '5' },
    handovers: { type: 'string', default: '20' },
    'steady-seconds': { type: 'string', default: '60' },
    out: { type: 'string', default: 'bench/out' },
    retries: { type: 'string', default: '2' },
    'max-foreign': { type: 'string', default: '0.5' },
    'quiet-wait': { type: 'string', default: '20' },
    'poll-ms': { type: 'string', default: '10' },
    'status-poll-ms': { type: 'string', default: '20' },
    help: { type: 'boolean', short: 'h' },
  },
});
if (values.help) {
  process.stdout.write(
    `${readFileSync(fileURLToPath(import.meta.url), 'utf8')
      .split('\n')
      .slice(1, 13)
      .join('\n')}\n`,
  );
  process.exit(0);
}
const rounds = Number(values.rounds);
const handovers = Number(values.handovers);
const steadySeconds = Number(values['steady-seconds']);
const retries = Number(values.retries);
const maxForeign = Number(values['max-foreign']);
const quietWaitSeconds = Number(values['quiet-wait']);
const pollMs = Number(values['poll-ms']);
const statusPollMs = Number(values['status-poll-ms']);
if (
  !(Number.isInteger(rounds) && rounds >= 0) ||
  !(Number.isInteger(handovers) && handovers >= 0) ||
  !(steadySeconds >= 0) ||
  !(Number.isInteger(retries) && retries >= 0) ||
  !(maxForeign > 0) ||
  !(quietWaitSeconds >= 0) ||
  !(pollMs >= 1) ||
  !(statusPollMs >= 1)
) {
  process.stderr.write(
    'bad arguments: --rounds N (≥0), --handovers N (≥0), --steady-seconds S (0 skips), --retries N, --max-foreign CORES, --quiet-wait S, --poll-ms MS, --status-poll-ms MS\n',
  );
  process.exit(2);
}
const outDir = resolve(values.out);
const command = `node --import tsx bench/cluster/run.ts ${process.argv.slice(2).join(' ')}`.trim();
const log = (line: string) =>
  process.stderr.write(`[cluster ${new Date().toISOString().slice(11, 23)}] ${line}\n`);

// -- cleanup: watcher and origin processes by PID (exit hooks), PowerDNS and etcd (test/servers'
// exit hooks), the proxies (closed in main's finally), the scratch folder.
const scratch = mkdtempSync(join(tmpdir(), 'outlast-bench-cluster-'));
let keepScratch = false;
process.on('exit', () => {
  stopAllWatchers();
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
const report: ClusterReport = {
  startedAt: startedAt.toISOString(),
  finishedAt: '',
  command,
  machine: { cpus: cpus().length, node: process.version, pdns: 'PowerDNS', etcd: 'etcd', build: '' },
  settings: {
    rounds,
    handovers,
    steadySeconds,
    health: { ...HEALTH, retryInterval: RETRY_INTERVAL },
    holdDown: HOLD_DOWN,
    ttl: TTL,
    quorum: QUORUM,
    leaseTtlMs: LEASE_TTL_MS,
    pollMs,
    statusPollMs,
    maxForeignCores: maxForeign,
    retriesOfDisturbed: retries,
    quietWaitSeconds,
  },
  events: [],
  handovers: [],
  notes: [],
};

let pdns: DnsServer | undefined;
let etcd: EtcdCluster | undefined;
let a: OriginProcess;
let b: OriginProcess;
let lone: WatcherProcess;
const members = new Map<string, WatcherProcess>();
const proxies = new Map<string, CountingProxy[]>();

/** CPU of the bench's other processes: PowerDNS, etcd, origins, watchers (dead ones included). */
const oursCpu = () =>
  processCpuSeconds(pdns?.pid ?? 0) +
  etcdCpu() +
  originsCpuSeconds() +
  [lone, ...members.values()].reduce((sum, watcher) => sum + (watcher?.cpuSeconds() ?? 0), 0);
const etcdCpu = () => (etcd?.members ?? []).reduce((sum, member) => sum + processCpuSeconds(member.pid), 0);

async function eventually(
  what: string,
  check: () => Promise<boolean> | boolean,
  timeoutMs = WAIT_MS,
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    if (await check()) return;
    await sleep(50);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting until ${what}\n${await describeCluster()}`);
}

/** Copies the compiled CLI (bin/, dist/, package.json) so that a rebuild meanwhile changes nothing here. */
function snapshotCli(): { bin: string; build: string } {
  const dir = join(scratch, 'cli');
  mkdirSync(dir, { recursive: true });
  cpSync(join(REPO, 'dist'), join(dir, 'dist'), { recursive: true });
  cpSync(join(REPO, 'bin'), join(dir, 'bin'), { recursive: true });
  cpSync(join(REPO, 'package.json'), join(dir, 'package.json'));
  symlinkSync(join(REPO, 'node_modules'), join(dir, 'node_modules'));
  const git = (...args: string[]) => {
    try {
      return execFileSync('git', args, { cwd: REPO, encoding: 'utf8' }).trim();
    } catch {
      return '?';
    }
  };
  const head = git('rev-parse', '--short', 'HEAD');
  const dirty = git('status', '--porcelain', '--', 'src').split('\n').filter(Boolean).length;
  return {
    bin: join(dir, 'bin', 'outlast.js'),
    build: `dist/ as built at the start (HEAD ${head}${dirty ? `, plus ${dirty} uncommitted changed file(s) under src/ in the shared tree` : ''}), copied to the scratch folder`,
  };
}

async function api(method: string, path: string, body?: unknown): Promise<Response> {
  return fetch(`${pdns!.apiUrl}${path}`, {
    method,
    headers: { 'X-API-Key': pdns!.apiKey!, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
}

async function createZone(zone: string): Promise<void> {
  const response = await api('POST', '/api/v1/servers/localhost/zones', {
    name: `${zone}.`,
    kind: 'Native',
    nameservers: [`ns1.${zone}.`],
  });
  if (response.status !== 201)
    throw new Error(`creating ${zone}: ${response.status} ${await response.text()}`);
}

/** The zone's SOA serial: every write through the API moves it (SOA-EDIT-API). */
async function serial(zone: string): Promise<number> {
  const response = await api('GET', `/api/v1/servers/localhost/zones/${zone}.`);
  return ((await response.json()) as { serial: number }).serial;
}

/** The zone's API requests in PowerDNS's log (--webserver-loglevel=normal), by method. */
function apiRequests(zone: string): Record<string, number> {
  const text = readFileSync(join(pdns!.dataDir, 'log', 'pdns.log'), 'utf8');
  const pattern = new RegExp(
    `"(GET|PATCH|PUT|POST|DELETE) /api/v1/servers/localhost/zones/${zone.replace(/\./g, '\\.')}\\.?[ ?/"]`,
  );
  const counts: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const match = pattern.exec(line);
    if (match) counts[match[1]!] = (counts[match[1]!] ?? 0) + 1;
  }
  return counts;
}

function diffRequests(after: Record<string, number>, before: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [method, count] of Object.entries(after)) {
    const delta = count - (before[method] ?? 0);
    if (delta > 0) out[method] = delta;
  }
  return out;
}

const aliveMembers = () => [...members.values()].filter((watcher) => watcher.alive());

async function statuses(): Promise<Map<string, StatusJson | undefined>> {
  const entries = await Promise.all(
    aliveMembers().map(async (watcher) => [watcher.id, await watcher.status()] as const),
  );
  return new Map(entries);
}

/** The one leader every live member names, which alone says it leads; with `count` watchers in its view. */
async function agreedLeader(count?: number): Promise<string | undefined> {
  const all = await statuses();
  const leading = [...all].filter(([, status]) => status?.cluster?.leading).map(([id]) => id);
  if (leading.length !== 1) return undefined;
  const leader = leading[0]!;
  for (const [, status] of all) if (status?.cluster?.leader !== leader) return undefined;
  if (count !== undefined && all.get(leader)?.cluster?.watchers.length !== count) return undefined;
  return leader;
}

async function describeCluster(): Promise<string> {
  const lines: string[] = [];
  for (const watcher of [lone, ...members.values()]) {
    if (!watcher) continue;
    const view = await watcher.status();
    const events = view?.events
      .slice(-5)
      .map((event) => `${event.kind}: ${event.message}`)
      .join(' | ');
    lines.push(
      `${watcher.id} (pid ${watcher.pid ?? '-'}, ${watcher.alive() ? 'alive' : 'gone'}): active ${view?.active.join(',')}, a ${view?.origins.find((o) => o.originId === 'a')?.state}, leader ${view?.cluster?.leader}, leading ${view?.cluster?.leading}; ${events}`,
    );
  }
  return lines.join('\n');
}

/** Origin a serves, every watcher sees it up, the cluster's quorum too, and both names answer a. */
async function ensureOnA(): Promise<void> {
  const aUp = (status: StatusJson | undefined) =>
    status?.origins.find((origin) => origin.originId === 'a')?.state === 'up';
  await eventually('every watcher sees a up, both names answer a', async () => {
    const views = [await lone.status(), ...(await statuses()).values()];
    if (!views.every(aUp)) return false;
    const leader = await agreedLeader();
    if (!leader) return false;
    const answers = await Promise.all(NAMES.map((name) => answerOf(pdns!, name)));
    return answers.every((answer) => answer === A_ADDRESS);
  });
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

/** ms since `wall0` (Date.now() at the signal) of the first event matching, at or after it. */
function firstEventMs(
  status: StatusJson | undefined,
  wall0: number,
  match: (event: StatusJson['events'][number]) => boolean,
): number | undefined {
  const event = status?.events.find((item) => Date.parse(item.at) >= wall0 - 5 && match(item));
  return event === undefined ? undefined : Date.parse(event.at) - wall0;
}

const downOfA = (event: StatusJson['events'][number]) =>
  event.data?.originId === 'a' && event.data?.to === 'down';

async function failureEvent(scenario: Scenario, round: number, attempt: number): Promise<FailoverEvent> {
  await ensureOnA();
  const leader = await agreedLeader();
  const quietWaitMs = await waitQuiet();
  const phaseMs = Math.round(Math.random() * 1000);
  await sleep(phaseMs);
  const window = loadWindow(oursCpu);
  const wall0 = Date.now();
  const t0 = performance.now();
  if (scenario === 'refused') await a.kill();
  else a.stop();
  const timeline = await pollAnswers(pdns!, NAMES, {
    everyMs: pollMs,
    t0,
    until: (seen, elapsed) =>
      elapsed > EVENT_LIMIT_MS || NAMES.every((name) => seen.firstAt(name, B_ADDRESS) !== undefined),
  });
  const load = window.end();
  if (scenario === 'refused') await a.start();
  else a.cont();
  const loneStatus = await lone.status();
  const memberStatus = await statuses();
  const leaderStatus = leader ? memberStatus.get(leader) : undefined;
  const viewsAtMs: Record<string, number | undefined> = {};
  for (const id of MEMBER_IDS) {
    viewsAtMs[id] = firstEventMs(memberStatus.get(id), wall0, (e) => e.kind === 'view' && downOfA(e));
  }
  const loneMs = timeline.firstAt(LONE_NAME, B_ADDRESS);
  const clusterMs = timeline.firstAt(CLUSTER_NAME, B_ADDRESS);
  const event: FailoverEvent = {
    scenario,
    round,
    attempt,
    phaseMs,
    quietWaitMs,
    loneSeconds: loneMs === undefined ? undefined : loneMs / 1000,
    clusterSeconds: clusterMs === undefined ? undefined : clusterMs / 1000,
    lone: {
      downAtMs: firstEventMs(loneStatus, wall0, (e) => e.kind === 'health' && downOfA(e)),
      writeAtMs: firstEventMs(loneStatus, wall0, (e) => e.kind === 'dns'),
    },
    cluster: {
      ...(leader ? { leader } : {}),
      viewsAtMs,
      verdictAtMs: firstEventMs(leaderStatus, wall0, (e) => e.kind === 'health' && downOfA(e)),
      writeAtMs: firstEventMs(leaderStatus, wall0, (e) => e.kind === 'dns'),
    },
    loadBefore: load.loadBefore,
    loadAfter: load.loadAfter,
    foreignCores: Math.round(load.foreignCores * 1000) / 1000,
    disturbed: load.foreignCores > maxForeign,
    used: false,
  };
  const fmt = (seconds: number | undefined) => (seconds === undefined ? 'never' : `${seconds.toFixed(3)} s`);
  log(
    `${scenario} round ${round}.${attempt}: one watcher ${fmt(event.loneSeconds)} (verdict ${event.lone.downAtMs} ms, write ${event.lone.writeAtMs} ms), cluster ${fmt(event.clusterSeconds)} (views ${MEMBER_IDS.map((id) => viewsAtMs[id]).join('/')} ms, leader ${leader} verdict ${event.cluster.verdictAtMs} ms, write ${event.cluster.writeAtMs} ms) (phase ${phaseMs} ms, load ${load.loadBefore}, foreign ${load.foreignCores.toFixed(2)} cores${event.disturbed ? ', DISTURBED' : ''})`,
  );
  return event;
}

/** Repeats a disturbed failure up to --retries times; the first quiet (else the least disturbed) one is used. */
async function measureFailure(scenario: Scenario, round: number): Promise<void> {
  const attempts: FailoverEvent[] = [];
  for (let attempt = 1; attempt <= retries + 1; attempt++) {
    const event = await failureEvent(scenario, round, attempt);
    attempts.push(event);
    report.events.push(event);
    if (!event.disturbed) break;
  }
  const best =
    attempts.find((event) => !event.disturbed) ??
    attempts.reduce((x, y) => (y.foreignCores < x.foreignCores ? y : x));
  best.used = true;
}

function trafficOf(id: string): TrafficCounts {
  return (proxies.get(id) ?? []).reduce((sum, proxy) => addCounts(sum, proxy.snapshot()), zeroCounts());
}

async function scrapeEtcd(errors: string[]): Promise<Samples[]> {
  return Promise.all(
    etcd!.members.map((member) =>
      scrape(member.clientUrl).catch((error: unknown) => {
        errors.push(`${member.name}: ${String(error)}`);
        return new Map() as Samples;
      }),
    ),
  );
}

async function steadyWindow(): Promise<SteadyMeasurement> {
  await ensureOnA();
  await sleep(5000);
  const leaderAtStart = await agreedLeader(3);
  const watchers = [lone, ...members.values()];
  const errors: string[] = [];
  const cpuBefore = watchers.map((watcher) => watcher.liveCpuSeconds());
  const pidsBefore = watchers.map((watcher) => watcher.pid);
  const trafficBefore = MEMBER_IDS.map((id) => trafficOf(id));
  const etcdCpuBefore = etcdCpu();
  const pdnsCpuBefore = processCpuSeconds(pdns!.pid ?? 0);
  const serialsBefore = [await serial(LONE_ZONE), await serial(CLUSTER_ZONE)];
  const requestsBefore = [apiRequests(LONE_ZONE), apiRequests(CLUSTER_ZONE)];
  const metricsBefore = await scrapeEtcd(errors);
  const window = loadWindow(oursCpu);
  const t0 = performance.now();
  log(`steady window: ${steadySeconds} s, leader ${leaderAtStart}`);
  // The window in slices (about 10 s each): a periodic task or a late warm-up shows as a spread.
  const slices = Math.max(1, Math.round(steadySeconds / 10));
  const sliceRates: number[][] = watchers.map(() => []);
  let sliceCpu = cpuBefore;
  let sliceStart = t0;
  for (let slice = 1; slice <= slices; slice++) {
    await sleep(Math.max(0, t0 + (steadySeconds * 1000 * slice) / slices - performance.now()));
    const now = performance.now();
    const cpuNow = watchers.map((watcher) => watcher.liveCpuSeconds());
    for (const [index, cpu] of cpuNow.entries()) {
      sliceRates[index]!.push(((cpu - sliceCpu[index]!) / ((now - sliceStart) / 1000)) * 60);
    }
    sliceCpu = cpuNow;
    sliceStart = now;
  }
  const seconds = (performance.now() - t0) / 1000;
  const cpuAfter = sliceCpu;
  const trafficAfter = MEMBER_IDS.map((id) => trafficOf(id));
  const etcdCpuAfter = etcdCpu();
  const pdnsCpuAfter = processCpuSeconds(pdns!.pid ?? 0);
  const metricsAfter = await scrapeEtcd(errors);
  const load = window.end();
  const serialsAfter = [await serial(LONE_ZONE), await serial(CLUSTER_ZONE)];
  const requestsAfter = [apiRequests(LONE_ZONE), apiRequests(CLUSTER_ZONE)];
  const leaderAtEnd = await agreedLeader();
  if (watchers.some((watcher, index) => watcher.pid !== pidsBefore[index]))
    throw new Error('a watcher restarted during the steady window');
  const diff = sumSamples(metricsAfter.map((after, index) => diffSamples(after, metricsBefore[index]!)));
  const costs: WatcherCost[] = watchers.map((watcher, index) => {
    const cpu = cpuAfter[index]! - cpuBefore[index]!;
    const memberIndex = MEMBER_IDS.indexOf(watcher.id as (typeof MEMBER_IDS)[number]);
    return {
      id: watcher.id,
      role: watcher === lone ? 'lone' : watcher.id === leaderAtStart ? 'leader' : 'follower',
      cpuSeconds: cpu,
      cpuSecondsPerMinute: (cpu / seconds) * 60,
      sliceCpuSecondsPerMinute: sliceRates[index]!.map((rate) => Math.round(rate * 1000) / 1000),
      ...(memberIndex === -1
        ? {}
        : { traffic: diffCounts(trafficAfter[memberIndex]!, trafficBefore[memberIndex]!) }),
    };
  });
  const measurement: SteadyMeasurement = {
    seconds,
    ...(leaderAtStart ? { leaderAtStart } : {}),
    ...(leaderAtEnd ? { leaderAtEnd } : {}),
    watchers: costs,
    etcdCpuSecondsPerMinute: ((etcdCpuAfter - etcdCpuBefore) / seconds) * 60,
    pdnsCpuSecondsPerMinute: ((pdnsCpuAfter - pdnsCpuBefore) / seconds) * 60,
    serialDeltas: {
      lone: serialsAfter[0]! - serialsBefore[0]!,
      cluster: serialsAfter[1]! - serialsBefore[1]!,
    },
    dnsRequests: {
      lone: diffRequests(requestsAfter[0]!, requestsBefore[0]!),
      cluster: diffRequests(requestsAfter[1]!, requestsBefore[1]!),
    },
    etcd: {
      members: etcd!.members.length,
      msgReceivedByMethod: byLabel(diff, 'grpc_server_msg_received_total', 'grpc_method'),
      handledByMethod: byLabel(diff, 'grpc_server_handled_total', 'grpc_method'),
      startedByMethod: byLabel(diff, 'grpc_server_started_total', 'grpc_method'),
      kv: {
        puts: firstTotal(diff, ['etcd_mvcc_put_total', 'etcd_debugging_mvcc_put_total']),
        ranges: firstTotal(diff, ['etcd_mvcc_range_total', 'etcd_debugging_mvcc_range_total']),
        txns: firstTotal(diff, ['etcd_mvcc_txn_total', 'etcd_debugging_mvcc_txn_total']),
        deletes: firstTotal(diff, ['etcd_mvcc_delete_total', 'etcd_debugging_mvcc_delete_total']),
        'raft proposals committed': firstTotal(diff, ['etcd_server_proposals_committed_total']),
      },
      scrapeErrors: errors,
    },
    loadBefore: load.loadBefore,
    loadAfter: load.loadAfter,
    foreignCores: Math.round(load.foreignCores * 1000) / 1000,
    disturbed: load.foreignCores > maxForeign,
  };
  log(
    `steady: CPU s/min ${costs.map((cost) => `${cost.id} (${cost.role}) ${cost.cpuSecondsPerMinute.toFixed(3)}`).join(', ')}; etcd ${measurement.etcdCpuSecondsPerMinute.toFixed(2)}; foreign ${load.foreignCores.toFixed(2)} cores${measurement.disturbed ? ', DISTURBED' : ''}`,
  );
  return measurement;
}

async function handover(index: number): Promise<HandoverMeasurement> {
  let killed: string | undefined;
  await eventually('one leader that all three name, with three watchers', async () => {
    killed = await agreedLeader(3);
    return killed !== undefined;
  });
  const victim = members.get(killed!)!;
  const survivors = aliveMembers().filter((watcher) => watcher !== victim);
  const quietWaitMs = await waitQuiet();
  const serialBefore = await serial(CLUSTER_ZONE);
  const requestsBefore = apiRequests(CLUSTER_ZONE);
  const phaseMs = Math.round(Math.random() * (LEASE_TTL_MS / 3));
  await sleep(phaseMs);
  const window = loadWindow(oursCpu);
  const wall0 = Date.now();
  const t0 = performance.now();
  const gone = victim.kill();
  let next: string | undefined;
  let leadMs: number | undefined;
  let agreedMs: number | undefined;
  let nextAt = performance.now();
  while (performance.now() - t0 < HANDOVER_LIMIT_MS) {
    const views = await Promise.all(
      survivors.map(async (watcher) => [watcher.id, await watcher.status()] as const),
    );
    const arrived = performance.now() - t0;
    const leading = views.find(([, status]) => status?.cluster?.leading);
    if (leading && next === undefined) {
      next = leading[0];
      leadMs = arrived;
    }
    if (next !== undefined && views.every(([, status]) => status?.cluster?.leader === next)) {
      agreedMs = arrived;
      break;
    }
    nextAt += statusPollMs;
    await sleep(Math.max(0, nextAt - performance.now()));
  }
  await gone;
  const load = window.end();
  await sleep(HANDOVER_SETTLE_MS);
  const serialAfter = await serial(CLUSTER_ZONE);
  const requestsAfter = apiRequests(CLUSTER_ZONE);
  const nextStatus = next ? await members.get(next)!.status() : undefined;
  const dnsEvents = (nextStatus?.events ?? []).filter(
    (event) => event.kind === 'dns' && Date.parse(event.at) >= wall0,
  ).length;
  // The killed watcher comes back (as a follower): until the leader counts three watchers again.
  const rejoinStart = performance.now();
  await victim.start();
  let rejoinMs: number | undefined;
  try {
    await eventually('three watchers again', async () => (await agreedLeader(3)) !== undefined, 60_000);
    rejoinMs = performance.now() - rejoinStart;
  } catch (error) {
    log(String(error));
  }
  await sleep(2000);
  const serialRejoined = await serial(CLUSTER_ZONE);
  const requestsRejoined = apiRequests(CLUSTER_ZONE);
  const measurement: HandoverMeasurement = {
    index,
    killed: killed!,
    phaseMs,
    quietWaitMs,
    ...(next ? { next } : {}),
    ...(leadMs === undefined ? {} : { leadMs: Math.round(leadMs) }),
    ...(agreedMs === undefined ? {} : { agreedMs: Math.round(agreedMs) }),
    serialBefore,
    serialAfter,
    requests: diffRequests(requestsAfter, requestsBefore),
    dnsEvents,
    ...(rejoinMs === undefined ? {} : { rejoinMs: Math.round(rejoinMs) }),
    rejoinSerialDelta: serialRejoined - serialAfter,
    rejoinRequests: diffRequests(requestsRejoined, requestsAfter),
    loadBefore: load.loadBefore,
    loadAfter: load.loadAfter,
    foreignCores: Math.round(load.foreignCores * 1000) / 1000,
    disturbed: load.foreignCores > maxForeign,
  };
  const req = (r: Record<string, number>) =>
    Object.entries(r)
      .map(([m, c]) => `${c} ${m}`)
      .join(', ') || 'none';
  log(
    `handover ${index}: killed ${measurement.killed}, ${next ?? 'nobody'} leads after ${measurement.leadMs} ms (agreed ${measurement.agreedMs} ms); serial ${serialBefore} → ${serialAfter}, requests ${req(measurement.requests)}; rejoin ${measurement.rejoinMs} ms, serial +${measurement.rejoinSerialDelta}, requests ${req(measurement.rejoinRequests)} (load ${load.loadBefore}, foreign ${load.foreignCores.toFixed(2)} cores${measurement.disturbed ? ', DISTURBED' : ''})`,
  );
  return measurement;
}

function versionOf(file: string, pattern: RegExp, fallback: string): string {
  try {
    const match = pattern.exec(readFileSync(file, 'utf8'));
    return match ? `${fallback} ${match[1]}` : fallback;
  } catch {
    return fallback;
  }
}

async function main(): Promise<void> {
  log(`load ${loadAverages()}; scratch ${scratch}`);
  const cli = snapshotCli();
  report.machine.build = cli.build;
  const setup = setupFsDeploy({
    origins: 2,
    files: { 'index.html': '<h1>outlast cluster bench</h1>', '404.html': 'not found' },
  });
  try {
    const deployed = await runDeploy({ config: setup.config });
    const failed = deployed.origins.filter((origin) => origin.error);
    if (failed.length > 0) throw new Error(`deploy failed: ${JSON.stringify(failed)}`);
    const port = await findFreePort(['127.0.0.2', '127.0.0.3'], 18390);
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

    // PowerDNS logs every API request (as test/e2e/cluster.test.ts's does): the handovers' writes.
    pdns = await startDnsServer('pdns', { pdnsOptions: ['--webserver-loglevel=normal', '--loglevel=6'] });
    report.machine.pdns = versionOf(
      join(pdns.dataDir, 'log', 'pdns.log'),
      /PowerDNS Authoritative Server (\S+)/,
      'PowerDNS Authoritative',
    );
    for (const zone of [LONE_ZONE, CLUSTER_ZONE]) await createZone(zone);
    log(`PowerDNS ${pdns.host}:${pdns.port}, API ${pdns.apiUrl} (pid ${pdns.pid}), ${report.machine.pdns}`);

    etcd = await startEtcdCluster();
    try {
      const version = (await (await fetch(`${etcd.members[0]!.clientUrl}/version`)).json()) as {
        etcdserver?: string;
      };
      report.machine.etcd = `etcd ${version.etcdserver ?? '?'}`;
    } catch {
      report.machine.etcd = 'etcd';
    }
    log(
      `${report.machine.etcd}: ${etcd.members.map((member) => `${member.name} ${member.clientUrl} (pid ${member.pid})`).join(', ')}`,
    );
    for (const id of MEMBER_IDS) {
      const list = etcd.endpoints.map((endpoint) => {
        const url = new URL(endpoint);
        return new CountingProxy({ host: url.hostname, port: Number(url.port) });
      });
      for (const proxy of list) await proxy.start();
      proxies.set(id, list);
    }

    const origins = [
      { id: 'a', path: setup.origins[0]!, url: a.url, address: A_ADDRESS },
      { id: 'b', path: setup.origins[1]!, url: b.url, address: B_ADDRESS },
    ];
    const common = {
      siteDir: setup.siteDir,
      origins,
      health: HEALTH,
      failover: { holdDown: HOLD_DOWN },
      ttl: TTL,
    };
    const loneConfig = join(scratch, 'lone.yaml');
    writeWatcherConfig({
      ...common,
      file: loneConfig,
      name: LONE_NAME,
      pdns: { apiUrl: pdns.apiUrl!, zone: LONE_ZONE, apiKey: pdns.apiKey! },
      stateDir: join(scratch, 'state-lone'),
    });
    lone = new WatcherProcess('lone', cli.bin, loneConfig, join(scratch, 'watcher-lone.log'), scratch);
    for (const id of MEMBER_IDS) {
      const file = join(scratch, `${id}.yaml`);
      writeWatcherConfig({
        ...common,
        file,
        name: CLUSTER_NAME,
        pdns: { apiUrl: pdns.apiUrl!, zone: CLUSTER_ZONE, apiKey: pdns.apiKey! },
        stateDir: join(scratch, `state-${id}`),
        cluster: {
          id,
          endpoints: proxies.get(id)!.map((proxy) => proxy.url),
          quorum: QUORUM,
          leaseTtl: `${LEASE_TTL_MS / 1000}s`,
        },
      });
      members.set(id, new WatcherProcess(id, cli.bin, file, join(scratch, `watcher-${id}.log`), scratch));
    }
    await lone.start();
    for (const watcher of members.values()) await watcher.start();
    log(
      `watchers: ${[lone, ...members.values()].map((watcher) => `${watcher.id} pid ${watcher.pid} ${watcher.base}`).join(', ')}`,
    );
    await eventually('one leader with three watchers', async () => (await agreedLeader(3)) !== undefined);
    await ensureOnA();
    log(`ready: leader ${await agreedLeader()}`);

    for (let round = 1; round <= rounds; round++) {
      await measureFailure('refused', round);
      await measureFailure('hung', round);
    }
    if (steadySeconds > 0) report.steady = await steadyWindow();
    for (let index = 1; index <= handovers; index++) report.handovers.push(await handover(index));
    const whole: string[] = [];
    for (const zone of [LONE_ZONE, CLUSTER_ZONE])
      whole.push(`${zone}: ${fmtRequests(apiRequests(zone))} (SOA serial ${await serial(zone)})`);
    report.notes.push(
      `PowerDNS's API log over the whole run (zone creation, each watcher's start-up reads, the failovers and failbacks, the handovers): ${whole.join('; ')}. The log does see the writes, so a 0 in the handover rows is a real 0.`,
    );
  } finally {
    for (const watcher of [lone, ...members.values()]) await watcher?.close().catch(() => undefined);
    for (const list of proxies.values()) for (const proxy of list) await proxy.stop().catch(() => undefined);
    await a?.close().catch(() => undefined);
    await b?.close().catch(() => undefined);
    await etcd?.stop().catch((error: unknown) => log(`etcd stop: ${String(error)}`));
    await pdns?.stop().catch((error: unknown) => log(`PowerDNS stop: ${String(error)}`));
    setup.cleanup();
  }

  report.finishedAt = new Date().toISOString();
  const usedDisturbed = report.events.filter((event) => event.used && event.disturbed).length;
  report.notes.push(
    `Load: a measurement is "disturbed" when other processes (the machine's busy time in /proc/stat minus this process, PowerDNS, etcd, the origins and the watchers) used more than ${maxForeign} cores during it. Failures are repeated up to ${retries} times when disturbed (the first quiet, else the least disturbed attempt is used; used and still disturbed: ${usedDisturbed} of ${report.events.filter((event) => event.used).length}); handovers and the steady window are marked, not repeated. Before each measurement the bench waits up to ${quietWaitSeconds} s for a quiet second.`,
    `One watcher's schedule (src/health/engine.ts): refused ≈ phase (0–interval) + (fall − 1) × 100 ms (REFUSED_RETRY_MS) = 0.2–1.2 s, then GET + PATCH to PowerDNS; hung ≈ phase + 2 × timeout + (fall − 2) × retryInterval = 2.5–3.5 s, then the write. The cluster moves when the second of three watchers (quorum 2) has its own verdict, each with its own phase: its view reaches etcd, the leader's watch sees it, the quorum verdict feeds the machine, and the write is fenced (an etcd txn) before the PATCH.`,
    `The two setups watch the same failure: both names are polled in the same loop, so the "paired" difference is the cluster's cost on that very failure (plus the difference in probe phase, which differs per watcher).`,
    `Failover breakdown times come from the watchers' own timelines (GET /status events, wall clock of the same machine, ms resolution): 'view' = a member's own verdict, 'health' on the leader = the quorum verdict, 'dns' = the write done. A '–' for a watcher's view: that watcher had not yet reached its own verdict when the DNS answer moved (the statuses are read right after), the quorum having been made by the other two.`,
    `Handover: "leads" is the first /status reply of a survivor with cluster.leading true, "agreed" when both survivors name it as cluster.leader. DNS writes: the SOA serial of ${CLUSTER_ZONE} (SOA-EDIT-API: every API write moves it) read before the kill and ${HANDOVER_SETTLE_MS} ms after the agreement, and the PATCH/PUT/POST requests to that zone in PowerDNS's API log (--webserver-loglevel=normal) over the same span; GETs are reads (a new leader reads the records before deciding there is nothing to write). The killed watcher is then started again, as a new process (it rejoins as a follower).`,
    `Cost: CPU = utime + stime from /proc/<pid>/stat of each watcher process over the steady window; all four watchers ran in the same window, so the comparison shares the machine's state. etcd traffic: each member watcher's three endpoints are counting TCP proxies of the bench (bytes each way, connections, and from the HTTP/2 frames: streams opened = gRPC calls, gRPC length-prefixed messages each way, PINGs). etcd's counters (/metrics on each member's client URL) are for all three watchers together; the /metrics scrapes themselves are plain HTTP and not counted as gRPC.`,
    `Not measured here: failures of etcd members or partitions (test/e2e/cluster.test.ts and cluster-fence.test.ts cover their correctness), watchers on separate machines (all run on one 2-core machine with its loopback network: no network latency between watchers, etcd and PowerDNS), and the cost at other intervals.`,
  );
  const md = markdown(report);
  mkdirSync(outDir, { recursive: true });
  const stamp = startedAt
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
  const base = join(outDir, `cluster-${stamp}`);
  writeFileSync(`${base}.json`, `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(`${base}.md`, md);
  writeFileSync(join(outDir, 'cluster-latest.md'), md);
  process.stdout.write(`${md}\n`);
  log(`wrote ${relative(REPO, base)}.md and .json`);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    keepScratch = true;
    log(`failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    log(`logs kept in ${scratch}`);
    process.exit(1);
  },
);

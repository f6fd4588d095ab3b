/**
 * The soak (issue 14 item 8; not in the suite): one `outlast watch` process at `interval: 1s` for
 * --minutes (default 30) while three origins (`outlast serve` processes) go down and up on a
 * seeded random schedule (SIGKILL: refused; SIGSTOP: hung) and the DNS host (a real PowerDNS,
 * behind the seeded fault proxy) has outages now and then. It samples the watcher's RSS and open
 * file descriptors (/proc/PID/status, /proc/PID/fd) and the state folder (events.jsonl's size:
 * is it bounded?), and compares every write PowerDNS received with the watcher's decisions: a
 * needless write is one that leaves the answer as it was.
 *
 *   node --import tsx bench/soak/run.ts [--minutes 30] [--seed N] [--sample-seconds 5] [--out bench/out]
 *
 * See README.md for the results of a full run.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import {
  createWriteStream,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import { type FaultKind, FaultProxy, prng } from '../../test/helpers/fault-proxy.ts';
import { writeSite } from '../../test/helpers/site.ts';
import { type DnsServer, startDnsServer } from '../../test/servers/dns.ts';
import { loadAverages } from '../failover/cpu.ts';
import { findFreePort, OriginProcess, stopAllOrigins } from '../failover/origins.ts';
import { startTap, type TappedRequest } from './tap.ts';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const OUTLAST = join(REPO, 'bin', 'outlast.js');
const WWW = 'www.example.test';
const ORIGINS = [
  { id: 'a', host: '127.0.0.2', address: '192.0.2.10' },
  { id: 'b', host: '127.0.0.3', address: '192.0.2.20' },
  { id: 'c', host: '127.0.0.4', address: '192.0.2.30' },
] as const;
const TTL = 5;

const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '30' },
    seed: { type: 'string' },
    'sample-seconds': { type: 'string', default: '5' },
    out: { type: 'string', default: 'bench/out' },
  },
});
const minutes = Number(values.minutes);
const sampleMs = Number(values['sample-seconds']) * 1000;
const seed = Number(values.seed ?? Date.now() % 1_000_000);
if (!(minutes > 0) || !(sampleMs >= 1000) || !Number.isInteger(seed)) {
  process.stderr.write('bad arguments: --minutes M (>0), --sample-seconds S (>=1), --seed N (integer)\n');
  process.exit(2);
}
const random = prng(seed);
const between = (low: number, high: number) => low + random() * (high - low);
const log = (line: string) =>
  process.stderr.write(`[soak ${new Date().toISOString().slice(11, 19)}] ${line}\n`);

// -- clean-up: the watcher and the origins by PID; PowerDNS is stopped by test/servers/dns.ts at exit.
const scratch = mkdtempSync(join(tmpdir(), 'outlast-soak-'));
let watcher: ChildProcess | undefined;
process.on('exit', () => {
  stopAllOrigins();
  if (watcher?.pid && watcher.exitCode === null) {
    try {
      process.kill(watcher.pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
  rmSync(scratch, { recursive: true, force: true });
});
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(signal, () => {
    log(`${signal}: stopping`);
    process.exit(130);
  });
}

// -- the site, deployed to three fs origins ---------------------------------------------------
const siteDir = join(scratch, 'site');
const files: Record<string, string> = { 'index.html': '<h1>soak</h1>', '404.html': 'not found' };
for (let i = 0; i < 20; i++) files[`assets/f${i}.css`] = `body{--n:${i}}`;
writeSite(siteDir, files);
const stateDir = join(scratch, 'state');

log(`seed ${seed}; ${minutes} min; starting PowerDNS`);
const pdns: DnsServer = await startDnsServer('pdns');
const apiUrl = new URL(pdns.apiUrl!);
const tap = await startTap({ host: apiUrl.hostname, port: Number(apiUrl.port) });
const proxy = new FaultProxy({ target: { host: tap.host, port: tap.port }, seed });
await proxy.start();

const port = await findFreePort(ORIGINS.map((o) => o.host));
const origins = ORIGINS.map(
  (o) =>
    new OriginProcess({
      id: o.id,
      dir: join(scratch, `origin-${o.id}`),
      host: o.host,
      port,
      logFile: join(scratch, `origin-${o.id}.log`),
    }),
);
const configFile = join(scratch, 'outlast.yaml');
writeFileSync(
  configFile,
  stringify({
    site: { dir: siteDir, hostname: WWW, errorDocument: '404.html' },
    origins: ORIGINS.map((o, i) => ({
      id: o.id,
      storage: { type: 'fs', path: origins[i]!.options.dir },
      url: origins[i]!.url,
      dns: { a: [o.address] },
    })),
    health: { interval: '1s', timeout: '1s', retryInterval: '500ms', fall: 3, rise: 3 },
    failover: { policy: 'priority', failback: 'auto', holdDown: '15s' },
    dns: {
      name: WWW,
      ttl: TTL,
      providers: [{ type: 'powerdns', url: proxy.url, zone: pdns.zone, apiKey: pdns.apiKey }],
    },
    watch: { listen: '127.0.0.1:0', stateDir },
  }),
);
const deployed = spawnSync(process.execPath, [OUTLAST, 'deploy', '--config', configFile, '--no-progress'], {
  encoding: 'utf8',
});
if (deployed.status !== 0) throw new Error(`deploy failed: ${deployed.stdout}${deployed.stderr}`);
for (const origin of origins) await origin.start();

// -- the watcher ------------------------------------------------------------------------------
const watcherOut = join(scratch, 'watch.out');
const watcherErr = join(scratch, 'watch.err');
watcher = spawn(process.execPath, [OUTLAST, 'watch', '--config', configFile], {
  cwd: REPO,
  stdio: ['ignore', 'pipe', 'pipe'],
});
watcher.stdout!.pipe(createWriteStream(watcherOut));
watcher.stderr!.pipe(createWriteStream(watcherErr));
const watcherPid = watcher.pid!;
const watcherExited = new Promise<void>((done) => watcher!.once('exit', () => done()));
const startedAt = Date.now();
const endAt = startedAt + minutes * 60_000;
log(
  `watcher pid ${watcherPid}; origins on port ${port}; PowerDNS API ${pdns.apiUrl} via tap ${tap.port} via fault proxy ${proxy.port}`,
);

// -- samples ----------------------------------------------------------------------------------
interface Sample {
  t: number;
  rssKiB: number;
  fds: number;
  eventsBytes: number;
  eventsLines: number;
  stateDirBytes: number;
  stdoutBytes: number;
  load: string;
}
const samples: Sample[] = [];
const sizeOf = (path: string) => {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
};
function sample(): void {
  let rssKiB = 0;
  let fds = 0;
  try {
    rssKiB = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${watcherPid}/status`, 'utf8'))?.[1] ?? 0);
    fds = readdirSync(`/proc/${watcherPid}/fd`).length;
  } catch {
    // the watcher is gone: recorded as 0
  }
  const eventsPath = join(stateDir, 'events.jsonl');
  let eventsLines = 0;
  try {
    eventsLines = readFileSync(eventsPath, 'utf8').split('\n').length - 1;
  } catch {
    // not yet
  }
  let stateDirBytes = 0;
  try {
    for (const name of readdirSync(stateDir)) stateDirBytes += sizeOf(join(stateDir, name));
  } catch {
    // not yet
  }
  samples.push({
    t: Math.round((Date.now() - startedAt) / 1000),
    rssKiB,
    fds,
    eventsBytes: sizeOf(eventsPath),
    eventsLines,
    stateDirBytes,
    stdoutBytes: sizeOf(watcherOut),
    load: loadAverages(),
  });
}
const sampler = setInterval(sample, sampleMs);
sample();

// -- the fault schedule -------------------------------------------------------------------------
interface Fault {
  t: number;
  what: string;
}
const faults: Fault[] = [];
const note = (what: string) => {
  faults.push({ t: Math.round((Date.now() - startedAt) / 1000), what });
  log(what);
};
const running = () => Date.now() < endAt - 20_000;

async function originSchedule(origin: OriginProcess): Promise<void> {
  // Staggered: a is preferred and fails least often, so failback happens too.
  await sleep(between(20_000, 90_000));
  while (running()) {
    const hang = random() < 0.4;
    note(`${origin.options.id} down (${hang ? 'SIGSTOP: hung' : 'SIGKILL: refused'})`);
    if (hang) origin.stop();
    else await origin.kill();
    await sleep(between(5_000, 50_000));
    if (hang) origin.cont();
    else await origin.start();
    note(`${origin.options.id} up`);
    await sleep(between(30_000, 150_000));
  }
}

async function dnsSchedule(): Promise<void> {
  await sleep(between(30_000, 120_000));
  while (running()) {
    const kind: FaultKind = random() < 0.7 ? 'status' : 'stall';
    note(`PowerDNS API outage (${kind})`);
    proxy.outage(kind);
    await sleep(between(5_000, 45_000));
    proxy.outage(undefined);
    note('PowerDNS API back');
    await sleep(between(60_000, 200_000));
  }
}

await Promise.all([...origins.map(originSchedule), dnsSchedule(), sleep(Math.max(0, endAt - Date.now()))]);
await sleep(Math.max(0, endAt - Date.now()));

// Quiet end: every origin up and serving, the API up, then the watcher stopped.
proxy.outage(undefined);
for (const origin of origins) {
  origin.cont();
  if (origin.pid === undefined) await origin.start();
}
sample();
clearInterval(sampler);
watcher.kill('SIGTERM');
await Promise.race([watcherExited, sleep(30_000)]);
if (watcher.exitCode === null && watcher.signalCode === null) {
  log('the watcher did not exit within 30 s of SIGTERM: SIGKILL');
  watcher.kill('SIGKILL');
  await watcherExited;
}

// -- writes against decisions -------------------------------------------------------------------
interface LoggedEvent {
  at: string;
  kind: string;
  message: string;
  data?: { to?: string[]; from?: string[] };
}
const events: LoggedEvent[] = readFileSync(join(stateDir, 'events.jsonl'), 'utf8')
  .split('\n')
  .filter((line) => line.trim())
  .map((line) => JSON.parse(line) as LoggedEvent);
const eventKinds: Record<string, number> = {};
for (const event of events) eventKinds[event.kind] = (eventKinds[event.kind] ?? 0) + 1;
const addressOf = new Map<string, string>(ORIGINS.map((o) => [o.id, o.address]));
/** A decision: the machine moved `active` (route, failover, failback), at that time. */
const decisions = events
  .filter((event) => ['route', 'failover', 'failback'].includes(event.kind) && Array.isArray(event.data?.to))
  .map((event) => ({
    at: Date.parse(event.at),
    kind: event.kind,
    answer: event
      .data!.to!.map((id) => addressOf.get(id) ?? `?${id}`)
      .sort()
      .join(','),
  }));

interface PdnsRrset {
  name: string;
  type: string;
  changetype: string;
  ttl?: number;
  records?: { content: string }[];
}
const www = `${WWW}.`;
const answerOfSets = (sets: Map<string, string>) => sets.get(`${www} A`) ?? '';
// The zone had no www at start (dns.sh): replay every write PowerDNS took, in arrival order.
const zone = new Map<string, string>();
const patches = tap.requests.filter((r) => r.method === 'PATCH');
const reads = tap.requests.filter((r) => r.method === 'GET');
interface WriteCheck {
  t: number;
  before: string;
  after: string;
  status: number;
  needless: boolean;
  /** The latest decision made before the write arrived. */
  decision?: string;
  matchesDecision: boolean;
}
const writes: WriteCheck[] = [];
for (const patch of patches as (TappedRequest & { body: string })[]) {
  const before = answerOfSets(zone);
  if (patch.status >= 200 && patch.status < 300) {
    for (const set of (JSON.parse(patch.body) as { rrsets: PdnsRrset[] }).rrsets) {
      const key = `${set.name} ${set.type}`;
      if (set.changetype === 'DELETE') zone.delete(key);
      else
        zone.set(
          key,
          (set.records ?? [])
            .map((r) => r.content)
            .sort()
            .join(','),
        );
    }
  }
  const after = answerOfSets(zone);
  const decision = decisions.filter((d) => d.at <= patch.at).at(-1)?.answer;
  writes.push({
    t: Math.round((patch.at - startedAt) / 1000),
    before,
    after,
    status: patch.status,
    needless: patch.status < 300 && before === after,
    ...(decision === undefined ? {} : { decision }),
    matchesDecision: decision === after,
  });
}
// Each decision should reach PowerDNS unless a newer one replaced it first.
const decisionOutcomes = decisions.map((decision, i) => {
  const next = decisions[i + 1]?.at ?? Number.POSITIVE_INFINITY;
  const written = writes.some(
    (w, j) =>
      patches[j]!.at >= decision.at && patches[j]!.at < next && w.status < 300 && w.after === decision.answer,
  );
  const prior =
    writes.filter((_, j) => patches[j]!.at < decision.at && writes[j]!.status < 300).at(-1)?.after ?? '';
  return { ...decision, written, alreadyThere: prior === decision.answer };
});
const finalAnswer = answerOfSets(zone);
const lastDecision = decisions.at(-1)?.answer;

// "start" is the first sample 10 s in: at 0 s the watcher's node is still loading.
const warm = samples.filter((s) => s.t >= 10);
const rss = warm.map((s) => s.rssKiB).filter((v) => v > 0);
const fds = warm.map((s) => s.fds).filter((v) => v > 0);
const last = samples.at(-1)!;
const summary = {
  seed,
  minutes,
  startedAt: new Date(startedAt).toISOString(),
  cpus: cpus().length,
  node: process.version,
  loadAtEnd: loadAverages(),
  rssMiB: {
    start: round1((rss[0] ?? 0) / 1024),
    peak: round1(Math.max(...rss) / 1024),
    end: round1((rss.at(-1) ?? 0) / 1024),
    min: round1(Math.min(...rss) / 1024),
  },
  fds: { start: fds[0], peak: Math.max(...fds), end: fds.at(-1) },
  eventLog: {
    bytes: last.eventsBytes,
    lines: last.eventsLines,
    bytesPerHour: Math.round((last.eventsBytes / Math.max(1, last.t)) * 3600),
    rotated: samples.some((s, i) => i > 0 && s.eventsBytes < samples[i - 1]!.eventsBytes),
    stateDirBytes: last.stateDirBytes,
  },
  watcherStdoutBytes: last.stdoutBytes,
  faults: {
    originDowns: faults.filter((f) => f.what.includes(' down ')).length,
    dnsOutages: faults.filter((f) => f.what.startsWith('PowerDNS API outage')).length,
    proxy: proxy.counts(),
  },
  eventKinds,
  decisions: decisions.length,
  decisionsWritten: decisionOutcomes.filter((d) => d.written).length,
  decisionsAlreadyThere: decisionOutcomes.filter((d) => !d.written && d.alreadyThere).length,
  decisionsSuperseded: decisionOutcomes.filter((d) => !d.written && !d.alreadyThere).length,
  pdnsWrites: writes.filter((w) => w.status < 300).length,
  pdnsWritesFailed: writes.filter((w) => w.status >= 300).length,
  pdnsReads: reads.length,
  needlessWrites: writes.filter((w) => w.needless).length,
  writesNotMatchingLatestDecision: writes.filter((w) => w.status < 300 && !w.matchesDecision).length,
  finalAnswer,
  lastDecision,
  finalAnswerIsLastDecision: finalAnswer === lastDecision,
  watcherExit: { code: watcher.exitCode, signal: watcher.signalCode },
};
function round1(value: number): number {
  return Math.round(value * 10) / 10;
}

const outDir = resolve(values.out);
mkdirSync(outDir, { recursive: true });
const stamp = new Date(startedAt)
  .toISOString()
  .replace(/[-:]/g, '')
  .replace(/\.\d+Z$/, 'Z');
const jsonPath = join(outDir, `soak-${stamp}.json`);
writeFileSync(
  jsonPath,
  `${JSON.stringify({ summary, samples, faults, writes, decisions: decisionOutcomes }, null, 2)}\n`,
);
const every = Math.max(1, Math.round(60_000 / sampleMs));
const md = [
  `# soak ${summary.startedAt} (seed ${seed}, ${minutes} min, ${summary.cpus} cores, node ${summary.node})`,
  '',
  '```json',
  JSON.stringify(summary, null, 2),
  '```',
  '',
  '| t (s) | RSS (MiB) | fds | events.jsonl (bytes) | lines | load |',
  '|---:|---:|---:|---:|---:|---|',
  ...samples
    .filter((_, i) => i % every === 0 || i === samples.length - 1)
    .map(
      (s) =>
        `| ${s.t} | ${round1(s.rssKiB / 1024)} | ${s.fds} | ${s.eventsBytes} | ${s.eventsLines} | ${s.load} |`,
    ),
  '',
].join('\n');
writeFileSync(join(outDir, `soak-${stamp}.md`), md);
process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
log(`wrote ${jsonPath}`);
await tap.close();
await proxy.stop();
process.exit(0);

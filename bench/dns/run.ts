/**
 * The DNS bench: dnsperf against outlast's embedded authoritative server and against Knot DNS with
 * one UDP worker, the same zone and the same query file, in one run; then how fast an answer
 * reflects a failover decision (`provider.apply`).
 *
 *   node --import tsx bench/dns/run.ts [--seconds 10] [--rounds 3] [--rate 200000] [--clients 4]
 *        [--latency-seconds 5] [--failover-trials 50] [--out bench/out]
 *
 * See README.md for what it does and how to read the table.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { createWriteStream, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createEmbeddedProvider } from '../../src/dns/providers/embedded.ts';
import {
  dataOf,
  decode,
  type KnotServer,
  makeQuery,
  rcodeName,
  startKnot,
  udpExchange,
} from '../../test/servers/embedded-dns.ts';
import { at, embeddedOptions, knotZoneFile, managedChanges, QUERY_MIX, queryFile, ZONE } from './zone.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const TICKS_PER_SECOND = 100;

const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '10' },
    rounds: { type: 'string', default: '3' },
    rate: { type: 'string', default: '200000' },
    clients: { type: 'string', default: '4' },
    'latency-seconds': { type: 'string', default: '5' },
    'failover-trials': { type: 'string', default: '50' },
    out: { type: 'string', default: join(ROOT, 'bench/out') },
  },
});
const SECONDS = Number(args.seconds);
const ROUNDS = Number(args.rounds);
const RATE = Number(args.rate);
const CLIENTS = Number(args.clients);
const LATENCY_SECONDS = Number(args['latency-seconds']);
const FAILOVER_TRIALS = Number(args['failover-trials']);
const OUT = resolve(args.out);

const TARGETS = { cpuPerQueryVsKnot: 2, qpsVsKnot: 0.6, decisionVisibleMs: 10 };

// ---------------------------------------------------------------- /proc helpers

function loadAverages(): string {
  return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
}

/** utime + stime of a live process in seconds (NaN when it is gone). */
function processCpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
  } catch {
    return Number.NaN;
  }
}

/** Busy CPU seconds of the whole machine since boot. */
function machineBusySeconds(): number {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
  const [, user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).map(Number);
  return (
    ((user ?? 0) + (nice ?? 0) + (system ?? 0) + (irq ?? 0) + (softirq ?? 0) + (steal ?? 0)) /
    TICKS_PER_SECOND
  );
}

// ---------------------------------------------------------------- dnsperf

function ensureDnsperf(): void {
  if (spawnSync('dnsperf', ['-h'], { stdio: 'ignore' }).error === undefined) return;
  console.error('dnsperf missing: apt-get install -y dnsperf');
  const sudo = process.getuid?.() === 0 ? [] : ['sudo', '-n'];
  const install = (command: string[]) =>
    spawnSync(command[0]!, command.slice(1), {
      stdio: 'inherit',
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
  let result = install([...sudo, 'apt-get', 'install', '-y', 'dnsperf']);
  if (result.status !== 0) {
    install([...sudo, 'apt-get', 'update']);
    result = install([...sudo, 'apt-get', 'install', '-y', 'dnsperf']);
  }
  if (result.status !== 0) throw new Error('could not install dnsperf (Debian package dnsperf)');
}

interface DnsperfStats {
  sent: number;
  completed: number;
  lost: number;
  qps: number;
  runSeconds: number;
  avgLatencyMs: number;
  maxLatencyMs: number;
  rcodes: Record<string, number>;
}

function parseDnsperf(output: string): DnsperfStats {
  const number = (pattern: RegExp) => {
    const match = pattern.exec(output);
    if (!match) throw new Error(`dnsperf output lacks ${pattern}:\n${output}`);
    return Number(match[1]);
  };
  const rcodes: Record<string, number> = {};
  const rcodeLine = /Response codes:\s+(.*)/.exec(output)?.[1] ?? '';
  for (const match of rcodeLine.matchAll(/([A-Z]+) (\d+)/g)) rcodes[match[1]!] = Number(match[2]);
  return {
    sent: number(/Queries sent:\s+(\d+)/),
    completed: number(/Queries completed:\s+(\d+)/),
    lost: number(/Queries lost:\s+(\d+)/),
    qps: number(/Queries per second:\s+([\d.]+)/),
    runSeconds: number(/Run time \(s\):\s+([\d.]+)/),
    avgLatencyMs: number(/Average Latency \(s\):\s+([\d.]+)/) * 1000,
    maxLatencyMs: number(/Average Latency \(s\):.*max ([\d.]+)/) * 1000,
    rcodes,
  };
}

const running = new Set<ChildProcess>();

/** Runs dnsperf; with `verboseFile` its per-query lines go to that file. */
async function dnsperf(
  port: number,
  queries: string,
  seconds: number,
  verboseFile?: string,
): Promise<string> {
  const argv = ['-s', '127.0.0.1', '-p', String(port), '-d', queries, '-l', String(seconds)];
  argv.push('-c', String(CLIENTS), '-Q', String(RATE));
  if (verboseFile) argv.push('-v');
  const child = spawn('dnsperf', argv, { stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  let output = '';
  if (verboseFile) {
    // Per-query lines ("> NOERROR name type 0.000123") to the file; the statistics are kept too.
    const file = createWriteStream(verboseFile);
    child.stdout.on('data', (chunk: Buffer) => {
      file.write(chunk);
    });
    child.stdout.on('end', () => file.end());
  } else {
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk;
    });
  }
  child.stderr.on('data', (chunk: Buffer) => {
    output += chunk;
  });
  const [code] = (await once(child, 'exit')) as [number | null];
  running.delete(child);
  if (verboseFile) {
    await sleep(100);
    output += readFileSync(verboseFile, 'utf8')
      .split('\n')
      .filter((line) => !line.startsWith('>'))
      .join('\n');
  }
  if (code !== 0) throw new Error(`dnsperf exited with ${code}:\n${output}`);
  return output;
}

/** p50/p99/p99.9 in ms from a `dnsperf -v` file. */
function latencyPercentiles(file: string): { p50: number; p99: number; p999: number; samples: number } {
  const values: number[] = [];
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (!line.startsWith('> ')) continue;
    const value = Number(line.slice(line.lastIndexOf(' ') + 1));
    if (Number.isFinite(value)) values.push(value * 1000);
  }
  values.sort((a, b) => a - b);
  const pick = (q: number) =>
    values[Math.min(values.length - 1, Math.floor(q * values.length))] ?? Number.NaN;
  return { p50: pick(0.5), p99: pick(0.99), p999: pick(0.999), samples: values.length };
}

// ---------------------------------------------------------------- servers

interface Target {
  name: 'embedded' | 'knot';
  label: string;
  port: number;
  pid: number;
}

async function startEmbeddedProcess(): Promise<{ target: Target; serial: number; stop(): Promise<void> }> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', join(ROOT, 'bench/dns/embedded-server.ts'), '0'],
    {
      cwd: ROOT,
      stdio: ['pipe', 'pipe', 'inherit'],
    },
  );
  running.add(child);
  const exited = once(child, 'exit');
  let buffered = '';
  const ready = await new Promise<{ port: number; serial: number; pid: number }>((resolvePromise, reject) => {
    const timer = setTimeout(() => reject(new Error('embedded server not ready in 30 s')), 30_000);
    child.stdout.on('data', (chunk: Buffer) => {
      buffered += chunk;
      const line = buffered.split('\n').find((text) => text.startsWith('{'));
      if (line) {
        clearTimeout(timer);
        resolvePromise(JSON.parse(line));
      }
    });
    child.once('exit', (code) => reject(new Error(`embedded server exited with ${code}`)));
  });
  return {
    target: {
      name: 'embedded',
      label: 'outlast embedded (Node, own process)',
      port: ready.port,
      pid: ready.pid,
    },
    serial: ready.serial,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const done = await Promise.race([exited.then(() => true), sleep(5000).then(() => false)]);
        if (!done) {
          child.kill('SIGKILL');
          await exited;
        }
      }
      running.delete(child);
    },
  };
}

async function startKnotFor(serial: number): Promise<KnotServer> {
  return startKnot({
    files: () => ({ [`${ZONE}.zone`]: knotZoneFile(serial) }),
    yaml: (dir) => `zone:\n  - domain: ${ZONE}\n    file: "${dir}/${ZONE}.zone"\n`,
    async ready(server) {
      const reply = await udpExchange(server.host, server.port, makeQuery({ name: ZONE, type: 'SOA' }), 300);
      const soa = reply && decode(reply).answers?.[0];
      return soa !== undefined && (dataOf(soa) as { serial?: number }).serial === serial;
    },
  });
}

/** One reply per query of the mix from each server: rcode and answer count must agree. */
async function sameAnswers(targets: Target[]): Promise<string[]> {
  const problems: string[] = [];
  for (const query of QUERY_MIX) {
    const seen = new Map<string, string>();
    for (const target of targets) {
      const reply = await udpExchange(
        '127.0.0.1',
        target.port,
        makeQuery({ name: query.name, type: query.type }),
      );
      if (!reply) {
        seen.set(target.name, 'no reply');
        continue;
      }
      const packet = decode(reply);
      const answers = (packet.answers ?? [])
        .map((record) => `${record.type} ${JSON.stringify(dataOf(record))}`)
        .sort();
      seen.set(
        target.name,
        `${rcodeName(packet)} aa=${(packet.flags ?? 0) & 0x400 ? 1 : 0} ${answers.join(', ')}`,
      );
    }
    const distinct = new Set(seen.values());
    if (distinct.size > 1) {
      problems.push(
        `${query.name} ${query.type}: ${[...seen].map(([name, text]) => `${name}: ${text}`).join(' | ')}`,
      );
    }
  }
  return problems;
}

// ---------------------------------------------------------------- measurements

interface Measurement {
  server: Target['name'];
  round: number;
  stats: DnsperfStats;
  serverCpuSeconds: number;
  cpuUsPerQuery: number;
  serverCpuPercent: number;
  /** Busy CPU of the whole machine during the run minus the server's (dnsperf and other tenants). */
  otherCpuSeconds: number;
  loadBefore: string;
  loadAfter: string;
}

async function measure(target: Target, queries: string, round: number): Promise<Measurement> {
  const loadBefore = loadAverages();
  const cpuBefore = processCpuSeconds(target.pid);
  const machineBefore = machineBusySeconds();
  const output = await dnsperf(target.port, queries, SECONDS);
  const cpuAfter = processCpuSeconds(target.pid);
  const machineAfter = machineBusySeconds();
  const stats = parseDnsperf(output);
  const serverCpuSeconds = cpuAfter - cpuBefore;
  const measurement: Measurement = {
    server: target.name,
    round,
    stats,
    serverCpuSeconds,
    cpuUsPerQuery: (serverCpuSeconds * 1e6) / stats.completed,
    serverCpuPercent: (serverCpuSeconds / stats.runSeconds) * 100,
    otherCpuSeconds: machineAfter - machineBefore - serverCpuSeconds,
    loadBefore,
    loadAfter: loadAverages(),
  };
  console.error(
    `  ${target.name.padEnd(8)} round ${round}: ${Math.round(stats.qps)} qps, lost ${stats.lost}, avg ${stats.avgLatencyMs.toFixed(2)} ms, ` +
      `server ${serverCpuSeconds.toFixed(2)} s CPU = ${measurement.cpuUsPerQuery.toFixed(2)} µs/q (load ${measurement.loadAfter})`,
  );
  return measurement;
}

interface FailoverTrial {
  delayMs: number;
  applyMs: number;
  queries: number;
  load: string;
}

/**
 * In-process: the provider's own server, `apply` moving www A between two addresses, then queries
 * sent back to back (one outstanding) until a reply carries the new address. The delay runs from
 * just before `apply` to that reply.
 */
async function failoverVisibility(trials: number): Promise<FailoverTrial[]> {
  const provider = await createEmbeddedProvider(embeddedOptions('127.0.0.1:0'));
  const results: FailoverTrial[] = [];
  try {
    const { port } = provider.addresses()[0]!;
    let current = ['192.0.2.1', '192.0.2.2'];
    await provider.apply(managedChanges(current));
    const query = () => makeQuery({ name: at('www'), type: 'A' });
    for (let trial = 0; trial < trials; trial++) {
      const next = trial % 2 === 0 ? ['192.0.2.3'] : ['192.0.2.1', '192.0.2.2'];
      const change = {
        name: at('www'),
        type: 'A' as const,
        before: { name: at('www'), type: 'A' as const, ttl: 60, values: current },
        after: { name: at('www'), type: 'A' as const, ttl: 60, values: next },
      };
      // The old answer is being served right now.
      const warm = await udpExchange('127.0.0.1', port, query(), 1000);
      if (!warm) throw new Error('no reply before the apply');
      const load = loadAverages();
      const started = performance.now();
      await provider.apply([change]);
      const applied = performance.now();
      let queries = 0;
      for (;;) {
        queries++;
        const reply = await udpExchange('127.0.0.1', port, query(), 1000);
        const addresses = reply
          ? (decode(reply).answers ?? []).map((record) => String(dataOf(record))).sort()
          : [];
        if (addresses.join(',') === next.join(',')) break;
        if (performance.now() - started > 5000) throw new Error('the new answer never appeared');
      }
      results.push({ delayMs: performance.now() - started, applyMs: applied - started, queries, load });
      current = next;
      await sleep(20);
    }
  } finally {
    await provider.close();
  }
  return results;
}

// ---------------------------------------------------------------- report

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

const fmt = (value: number, digits = 0) =>
  Number.isFinite(value)
    ? value.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits })
    : '–';

async function main(): Promise<void> {
  ensureDnsperf();
  const help = spawnSync('dnsperf', ['-h'], { encoding: 'utf8' });
  const dnsperfVersion = /Version ([\d.]+)/.exec(`${help.stdout}${help.stderr}`)?.[1] ?? 'unknown';
  const work = mkdtempSync(join(tmpdir(), 'outlast-dnsbench-'));
  const queries = join(work, 'queries.txt');
  writeFileSync(queries, queryFile());
  const startedAt = new Date();
  console.error(
    `dns bench: ${ROUNDS} rounds × ${SECONDS} s per server, dnsperf -c ${CLIENTS} -Q ${RATE}; load ${loadAverages()}`,
  );

  let embedded: Awaited<ReturnType<typeof startEmbeddedProcess>> | undefined;
  let knot: KnotServer | undefined;
  const measurements: Measurement[] = [];
  const latency: Record<
    string,
    ReturnType<typeof latencyPercentiles> & { avgMs: number; qps: number; load: string }
  > = {};
  let mismatches: string[] = [];
  let failover: FailoverTrial[] = [];
  try {
    embedded = await startEmbeddedProcess();
    knot = await startKnotFor(embedded.serial);
    const targets: Target[] = [
      {
        name: 'knot',
        label: 'Knot 3.2 (udp-workers 1, background-workers 1)',
        port: knot.port,
        pid: knot.pid,
      },
      embedded.target,
    ];
    mismatches = await sameAnswers(targets);
    if (mismatches.length > 0) console.error(`answers differ:\n  ${mismatches.join('\n  ')}`);

    // Warm-up (JIT, caches), not recorded.
    for (const target of targets) await dnsperf(target.port, queries, 2);
    for (let round = 1; round <= ROUNDS; round++) {
      // Alternate which server goes first, so a slow spell of the box does not hit one side only.
      const order = round % 2 === 1 ? targets : [...targets].reverse();
      for (const target of order) measurements.push(await measure(target, queries, round));
    }
    // Latency distribution: a separate, shorter run with dnsperf -v (per-query lines cost the client).
    for (const target of targets) {
      const file = join(work, `${target.name}-verbose.txt`);
      const load = loadAverages();
      const stats = parseDnsperf(await dnsperf(target.port, queries, LATENCY_SECONDS, file));
      latency[target.name] = { ...latencyPercentiles(file), avgMs: stats.avgLatencyMs, qps: stats.qps, load };
      rmSync(file, { force: true });
      console.error(
        `  ${target.name} latency: p50 ${latency[target.name]!.p50.toFixed(3)} ms, p99 ${latency[target.name]!.p99.toFixed(3)} ms`,
      );
    }
  } finally {
    await knot?.stop();
    await embedded?.stop();
  }
  failover = await failoverVisibility(FAILOVER_TRIALS);
  rmSync(work, { recursive: true, force: true });

  // ---- summary
  const summarize = (name: Target['name']) => {
    const runs = measurements.filter((m) => m.server === name);
    return {
      runs: runs.length,
      qps: median(runs.map((m) => m.stats.qps)),
      qpsMin: Math.min(...runs.map((m) => m.stats.qps)),
      qpsMax: Math.max(...runs.map((m) => m.stats.qps)),
      lost: runs.reduce((sum, m) => sum + m.stats.lost, 0),
      sent: runs.reduce((sum, m) => sum + m.stats.sent, 0),
      avgLatencyMs: median(runs.map((m) => m.stats.avgLatencyMs)),
      p99LatencyMs: latency[name]?.p99 ?? Number.NaN,
      p50LatencyMs: latency[name]?.p50 ?? Number.NaN,
      cpuUsPerQuery: median(runs.map((m) => m.cpuUsPerQuery)),
      cpuUsPerQueryMin: Math.min(...runs.map((m) => m.cpuUsPerQuery)),
      cpuUsPerQueryMax: Math.max(...runs.map((m) => m.cpuUsPerQuery)),
      serverCpuPercent: median(runs.map((m) => m.serverCpuPercent)),
    };
  };
  const knotSummary = summarize('knot');
  const embeddedSummary = summarize('embedded');
  const cpuRatio = embeddedSummary.cpuUsPerQuery / knotSummary.cpuUsPerQuery;
  const qpsRatio = embeddedSummary.qps / knotSummary.qps;
  const delays = failover.map((trial) => trial.delayMs);
  const failoverSummary = {
    trials: failover.length,
    medianMs: median(delays),
    p95Ms:
      [...delays].sort((a, b) => a - b)[Math.min(delays.length - 1, Math.floor(0.95 * delays.length))] ??
      Number.NaN,
    maxMs: Math.max(...delays),
    medianApplyMs: median(failover.map((trial) => trial.applyMs)),
    maxQueries: Math.max(...failover.map((trial) => trial.queries)),
  };
  const verdicts = {
    cpuPerQuery: cpuRatio <= TARGETS.cpuPerQueryVsKnot,
    qps: qpsRatio >= TARGETS.qpsVsKnot,
    decisionVisible: failoverSummary.maxMs <= TARGETS.decisionVisibleMs,
  };

  const result = {
    bench: 'dns',
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    machine: { cpus: cpus().length, model: cpus()[0]?.model, node: process.version, dnsperf: dnsperfVersion },
    settings: {
      seconds: SECONDS,
      rounds: ROUNDS,
      rate: RATE,
      clients: CLIENTS,
      latencySeconds: LATENCY_SECONDS,
      failoverTrials: FAILOVER_TRIALS,
    },
    queryMix: QUERY_MIX,
    answerMismatches: mismatches,
    targets: TARGETS,
    summary: {
      knot: knotSummary,
      embedded: embeddedSummary,
      cpuRatio,
      qpsRatio,
      failover: failoverSummary,
      verdicts,
    },
    latencyRuns: latency,
    measurements,
    failoverTrials: failover,
  };

  const ok = (pass: boolean) => (pass ? '✅ met' : '❌ missed');
  const row = (label: string, s: typeof knotSummary) =>
    `| ${label} | ${fmt(s.qps)} (${fmt(s.qpsMin)}–${fmt(s.qpsMax)}) | ${s.lost} / ${fmt(s.sent)} | ${fmt(s.avgLatencyMs, 2)} | ${fmt(s.p50LatencyMs, 3)} / ${fmt(s.p99LatencyMs, 3)} | ${fmt(s.serverCpuPercent)} % | **${fmt(s.cpuUsPerQuery, 2)}** (${fmt(s.cpuUsPerQueryMin, 2)}–${fmt(s.cpuUsPerQueryMax, 2)}) |`;
  const markdown = `# DNS bench (${startedAt.toISOString()})

dnsperf ${dnsperfVersion} \`-c ${CLIENTS} -Q ${RATE}\`, ${SECONDS} s × ${ROUNDS} rounds per server (alternating order, after a 2 s warm-up each),
same zone and the same ${QUERY_MIX.length}-line query mix. ${cpus().length} CPUs (${cpus()[0]?.model}), Node ${process.version}.
Medians over the rounds (min–max). Server CPU = Δ(utime+stime) of the server process / queries completed.
Latency p50/p99: a separate ${LATENCY_SECONDS} s \`dnsperf -v\` run at the same settings (saturated: mostly queueing behind 100 outstanding queries).
Answers of the two servers to each query of the mix (rcode, AA, answer records): ${mismatches.length === 0 ? 'identical' : `**${mismatches.length} differ** (see JSON)`}.

| server | QPS | lost / sent | avg latency ms | p50 / p99 ms | server CPU | CPU µs/query |
|---|---|---|---|---|---|---|
${row('Knot 3.2, udp-workers 1', knotSummary)}
${row('outlast embedded (own Node process)', embeddedSummary)}

| target | measured | target | verdict |
|---|---|---|---|
| CPU/query vs Knot | ${fmt(cpuRatio, 2)}× | ≤ ${TARGETS.cpuPerQueryVsKnot}× | ${ok(verdicts.cpuPerQuery)} |
| QPS vs Knot | ${fmt(qpsRatio * 100)} % | ≥ ${TARGETS.qpsVsKnot * 100} % | ${ok(verdicts.qps)} |
| failover decision visible in an answer | median ${fmt(failoverSummary.medianMs, 2)} ms, p95 ${fmt(failoverSummary.p95Ms, 2)} ms, max ${fmt(failoverSummary.maxMs, 2)} ms (${failoverSummary.trials} trials) | ≤ ${TARGETS.decisionVisibleMs} ms | ${ok(verdicts.decisionVisible)} |

Per run (load averages after each run; "other CPU" = whole machine busy time minus the server's, i.e. dnsperf plus other tenants):

| round | server | QPS | lost | avg ms | server CPU s | µs/query | other CPU s | load before → after |
|---|---|---|---|---|---|---|---|---|
${measurements
  .map(
    (m) =>
      `| ${m.round} | ${m.server} | ${fmt(m.stats.qps)} | ${m.stats.lost} | ${fmt(m.stats.avgLatencyMs, 2)} | ${fmt(m.serverCpuSeconds, 2)} | ${fmt(m.cpuUsPerQuery, 2)} | ${fmt(m.otherCpuSeconds, 1)} | ${m.loadBefore} → ${m.loadAfter} |`,
  )
  .join('\n')}

Failover visibility: in-process provider, \`apply\` moving www A, then back-to-back UDP queries until the new address is answered;
apply itself took median ${fmt(failoverSummary.medianApplyMs, 3)} ms; at most ${failoverSummary.maxQueries} quer${failoverSummary.maxQueries === 1 ? 'y was' : 'ies were'} needed.
`;
  mkdirSync(OUT, { recursive: true });
  const stamp = startedAt.toISOString().replace(/[-:]/g, '').replace(/\.\d+/, '');
  for (const name of [`dns-${stamp}`, 'dns-latest']) {
    writeFileSync(join(OUT, `${name}.json`), `${JSON.stringify(result, null, 2)}\n`);
    writeFileSync(join(OUT, `${name}.md`), markdown);
  }
  process.stdout.write(markdown);
  console.error(`written: ${relative(process.cwd(), join(OUT, 'dns-latest.md'))} and .json`);
}

function killAll(): void {
  for (const child of running)
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
}
process.on('exit', killAll);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    killAll();
    process.exit(130);
  });
}

await main();

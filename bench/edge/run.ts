/**
 * bench/edge: `outlast edge` against Debian's nginx in one run, on the same two origins, driven
 * by Debian's wrk (issue 17's benchmark).
 *
 *   npm run bench:edge -- [--duration 10] [--warmup 3] [--retries 2] [--files 2000] [--workers 1] [--access-log]
 *                         [--only nginx,edge] [--skip-build] [--out bench/out]
 *
 * It builds dist/, starts two Swift clusters (A on 127.0.0.2, B on 127.0.0.3), generates the site
 * (bench/deploy/site.ts, plus eight 1 MiB files) and deploys it to both with one config (`outlast setup
 * --create`, `outlast deploy`). Then, for nginx (one server block with proxy_cache, one without,
 * nginx.ts) and for the edge (a cached edge, warmed, then an uncached one; fronts.ts), wrk runs
 * (runs.ts, wrk.ts), alternating between the fronts: cached small files, the 1 MiB file cached,
 * small files and the 1 MiB file uncached, and two failover runs on the uncached set-up, A's proxy
 * SIGKILLed, then SIGSTOPped, 2 s in. Each row: req/s, p50/p99 (wrk --latency), failed requests
 * (non-2xx + socket errors), the front's CPU per request (utime + stime from /proc, master and
 * workers for nginx) and the Swift servers'. The report goes to OUT/edge-<time>.md and .json. A
 * benchmark, not a test: only its Targets section judges.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { loadAverages } from '../failover/cpu.ts';
import { type FrontSettings, startEdge, startNginx } from './fronts.ts';
import { nginxVersion } from './nginx.ts';
import * as origin from './origins.ts';
import { stopAllSync } from './processes.ts';
import { computeGoals, DISTURBED_CORES, markdown, type Report, type Row } from './report.ts';
import { type Front, Runs } from './runs.ts';
import { pathsFileIn, WRK, WRK_TIMEOUT_SECONDS } from './wrk.ts';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const BIN = join(REPO, 'bin', 'outlast.js');
/** The edge's firstByteTimeout and cooldown (its defaults), which nginx's timeouts copy. */
const FIRST_BYTE_SECONDS = 2;
const COOLDOWN_SECONDS = 10;

const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '3' },
    retries: { type: 'string', default: '2' },
    files: { type: 'string', default: '2000' },
    workers: { type: 'string', default: '1' },
    'access-log': { type: 'boolean', default: false },
    'skip-build': { type: 'boolean', default: false },
    only: { type: 'string', default: 'nginx,edge' },
    out: { type: 'string', default: 'bench/out' },
    help: { type: 'boolean', short: 'h' },
  },
});
if (values.help) {
  process.stdout.write(
    'npm run bench:edge -- [--duration 10] [--warmup 3] [--retries 2] [--files 2000] [--workers 1] [--access-log] [--only nginx,edge] [--skip-build] [--out bench/out]\n',
  );
  process.exit(0);
}
const seconds = Number(values.duration);
const warmupSeconds = Number(values.warmup);
const retries = Number(values.retries);
const files = Number(values.files);
const workers = Number(values.workers);
const only = new Set(values.only.split(','));
if (!(seconds >= 3) || !(warmupSeconds >= 0) || !(retries >= 0) || !(files > 0) || !(workers >= 1)) {
  process.stderr.write('bad arguments: --duration (≥ 3), --warmup, --files and --workers take numbers\n');
  process.exit(2);
}
const commandLine = `npm run bench:edge -- ${process.argv.slice(2).join(' ')}`.trim();
const log = (line: string) =>
  process.stderr.write(`[bench/edge ${new Date().toISOString().slice(11, 19)}] ${line}\n`);

// Our children (nginx, the edge, wrk, a restarted proxy) die with us; test/servers/swift.ts stops
// the clusters at exit however it comes.
const scratch = mkdtempSync(join(tmpdir(), 'outlast-bench-edge-'));
let origins: origin.Origins | undefined;
process.on('exit', () => {
  stopAllSync();
  rmSync(scratch, { recursive: true, force: true });
});
for (const [signal, code] of [
  ['SIGINT', 130],
  ['SIGTERM', 143],
] as const) {
  process.on(signal, () => {
    log(`${signal}: stopping`);
    process.exit(code);
  });
}

function run(label: string, command: string, args: string[]): string {
  const result = spawnSync(command, args, { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (result.status !== 0)
    throw new Error(`${label} failed (exit ${result.status}):\n${result.stdout}\n${result.stderr}`);
  return `${result.stdout}${result.stderr}`;
}

async function main(): Promise<Report> {
  const started = new Date();
  const machine: Record<string, string> = {
    cpu: `${cpus().length} × ${cpus()[0]?.model.trim() ?? '?'}`,
    node: process.version,
    nginx: nginxVersion().replace('nginx version: ', ''),
    // wrk -v prints its version, then its usage, and exits 1.
    wrk: (spawnSync(WRK, ['-v'], { encoding: 'utf8' }).stdout.split('\n')[0] ?? 'absent')
      .split(' Copyright')[0]!
      .replace(/^wrk /, '')
      .trim(),
    'load at start': loadAverages(),
  };
  if (!values['skip-build']) {
    log('building dist/ (npm run build)');
    run('npm run build', process.execPath, [join(REPO, 'scripts', 'build.mjs')]);
  }
  const edgeExists = spawnSync(process.execPath, [BIN, 'edge', '--help'], { stdio: 'ignore' }).status === 0;
  if (!edgeExists) log('this build has no `outlast edge`: only nginx is measured');

  log('starting Swift clusters A (127.0.0.2) and B (127.0.0.3)');
  origins = await origin.startOrigins();
  const { a } = origins;
  log(`generating ${files} files (+ 8 × 1 MiB) in ${scratch}/site`);
  const site = origin.writeBenchSite(join(scratch, 'site'), files);
  const deployConfig = await origin.writeConfig(
    join(scratch, 'deploy.yaml'),
    origin.outlastConfig(site, origins, undefined),
  );
  log('outlast setup --create and outlast deploy to both origins (untimed)');
  const deployStarted = performance.now();
  origin.deploy(BIN, deployConfig, a.key);
  log(`deployed in ${((performance.now() - deployStarted) / 1000).toFixed(1)} s`);

  const small = site.files.filter((f) => f.size <= origin.SMALL_MAX_BYTES).map((f) => origin.pathOf(f.key));
  const smallBytes = site.files
    .filter((f) => f.size <= origin.SMALL_MAX_BYTES)
    .reduce((sum, f) => sum + f.size, 0);
  const smallPaths = pathsFileIn(scratch, 'small', small);
  const bigPath = origin.pathOf(origin.BIG_KEYS[0]!);
  const bigPaths = pathsFileIn(scratch, 'big', [bigPath]);
  const allBigPaths = pathsFileIn(scratch, 'big-all', origin.BIG_KEYS.map(origin.pathOf));
  // The probes for "is A in use" walk the 1 MiB files: each of them pushes the last one out of the
  // uncached edge's 1 MB cache, so that every probe reaches an origin, whatever the site's size.
  const probePaths = origin.BIG_KEYS.map(origin.pathOf);
  const runs = new Runs({ origins, seconds, warmupSeconds, retries, failAtSeconds: 2, probePaths, log });
  const rows: Row[] = [];
  const notes: string[] = [];
  const settings: FrontSettings = {
    bin: BIN,
    scratch,
    site,
    origins,
    firstByteSeconds: FIRST_BYTE_SECONDS,
    cooldownSeconds: COOLDOWN_SECONDS,
    log,
  };
  if (smallBytes < 4e6) {
    notes.push(
      `The small files weigh only ${(smallBytes / 1e6).toFixed(1)} MB: the uncached edge's 1 MB cache holds much of them, so its uncached and failover rows are partly cached (use --files 1000 or more).`,
    );
  }
  const withEdge = only.has('edge') && edgeExists;
  if (only.has('edge') && !edgeExists) {
    notes.push(
      '`outlast edge` is missing from this build (`node bin/outlast.js edge --help` failed): no edge rows.',
    );
  }
  const running: Array<{ stop(): Promise<void> }> = [];
  try {
    const nginx = only.has('nginx') ? await startNginx(settings, workers, [...small, bigPath]) : undefined;
    if (nginx) running.push(nginx);
    // Phase 1, cached: nginx's cached block and the warmed edge(s), runs alternating.
    const edges: Front[] = [];
    if (withEdge) {
      for (const variant of values['access-log']
        ? (['cached', 'cached-log'] as const)
        : (['cached'] as const)) {
        const started = await startEdge(settings, variant);
        running.push(started);
        edges.push(started.fronts);
        notes.push(`edge (${variant}) ready in ${started.readySeconds.toFixed(1)} s (cache warmed).`);
      }
    }
    const cachedFronts = [...(nginx ? [nginx.fronts.cached] : []), ...edges];
    for (const front of cachedFronts) rows.push(await runs.measure(front, 'cached-small', smallPaths));
    for (const front of cachedFronts.filter((f) => !f.name.includes('access log')))
      rows.push(await runs.measure(front, 'cached-1mb', bigPaths));
    for (const edge of running.splice(nginx ? 1 : 0)) await edge.stop();
    // Phase 2, uncached: nginx's uncached block and the uncached edge.
    const uncachedFronts = nginx ? [nginx.fronts.uncached] : [];
    if (withEdge) {
      const started = await startEdge(settings, 'uncached');
      running.push(started);
      uncachedFronts.push(started.fronts);
    }
    for (const front of uncachedFronts) rows.push(await runs.measure(front, 'uncached-small', smallPaths));
    for (const front of uncachedFronts) rows.push(await runs.measure(front, 'uncached-1mb', allBigPaths));
    for (const kind of ['kill', 'freeze'] as const) {
      for (const front of uncachedFronts) rows.push(await runs.failover(front, kind, smallPaths));
    }
  } finally {
    for (const front of running.reverse()) await front.stop();
  }

  const report: Report = {
    started: started.toISOString(),
    finished: new Date().toISOString(),
    command: commandLine,
    machine: { ...machine, 'load at end': loadAverages() },
    settings: {
      'wrk run s': seconds,
      'warm-up s': warmupSeconds,
      'wrk threads/connections': '2/32',
      'wrk --timeout s': WRK_TIMEOUT_SECONDS,
      site: `${site.files.length} files, ${(site.totalBytes / 1e6).toFixed(1)} MB`,
      'small files': `${small.length}, ${(smallBytes / 1e6).toFixed(1)} MB`,
      'nginx workers': workers,
      'edge access log': values['access-log'] ? 'off (an extra run with it on)' : 'off',
    },
    rows,
    goals: computeGoals(rows),
    notes: [
      'wrk, nginx, the edge and the two Swift clusters (one Python proxy each, workers=0) share the machine’s ' +
        `${cpus().length} cores: uncached and failover figures are mostly Swift’s speed, and every front competes with wrk for CPU.`,
      `nginx runs ${workers} worker process${workers > 1 ? 'es' : ''} (the edge is one Node.js process); its CPU per request counts the master and the workers.`,
      'CPU per request: utime + stime (/proc/PID/stat, 10 ms ticks) of the front’s processes over the measured run, ÷ wrk’s requests; Swift CPU: all servers of both clusters, memcached included.',
      'other load (cores): CPU that processes other than the fronts, Swift, wrk and the bench used during the measured run (/proc/stat), in cores: other work on the machine, which disturbs a run when it is high.',
      `⚠: other work used more than ${DISTURBED_CORES} core during the measured run; such a run (failover runs excepted) is repeated up to --retries ${retries} times and the least disturbed attempt kept.`,
      'origin requests A / B: client requests in each Swift proxy’s log during the measured run (the edge’s own beacon polls included).',
      `failed: wrk’s non-2xx/3xx answers plus its socket errors (connect, read, write, timeout at ${WRK_TIMEOUT_SECONDS} s); a request that fails over after a frozen origin’s ${FIRST_BYTE_SECONDS} s is slow, not failed.`,
      `nginx: upstream A then B (backup), max_fails=1 fail_timeout=${COOLDOWN_SECONDS}s, proxy_connect_timeout and proxy_read_timeout ${FIRST_BYTE_SECONDS}s (the edge’s firstByteTimeout), keepalive to the upstream, proxy_cache_valid 200 1h ignoring Cache-Control (the edge keeps every file of the release too); its cache was filled by one GET of every file before the cached runs.`,
      'The edge runs with `accessLog: false`' +
        (values['access-log'] ? ', except the row marked “access log on”.' : '.'),
      ...notes,
    ],
  };
  return report;
}

try {
  const report = await main();
  const outDir = resolve(REPO, values.out);
  mkdirSync(outDir, { recursive: true });
  const stamp = report.started.replaceAll(':', '').replace(/\.\d+Z$/, 'Z');
  for (const row of report.rows)
    if (row.result) row.result.command = row.result.command.replaceAll(scratch, '$TMP');
  const md = markdown(report);
  writeFileSync(join(outDir, `edge-${stamp}.json`), `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(join(outDir, `edge-${stamp}.md`), md);
  process.stdout.write(`\n${md}\n`);
  process.stdout.write(`written: ${relative(process.cwd(), join(outDir, `edge-${stamp}.md`))} and .json\n`);
  process.exitCode = report.rows.some((row) => row.error !== null) ? 1 : 0;
} catch (error) {
  log(error instanceof Error ? (error.stack ?? error.message) : String(error));
  process.exitCode = 1;
} finally {
  if (origins) {
    log('stopping the Swift clusters');
    stopAllSync();
    await Promise.all([origins.a.stop(), origins.b.stop()]);
  }
}

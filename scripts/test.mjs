#!/usr/bin/env node
// `npm test`: type-check, format and lint check, then every test file under test/ on node's test
// runner. Real servers that tests need are started by test/servers/*.ts (required by the test
// files through their helpers) and stopped when the run ends. Two OpenStack Swift clusters
// (scripts/servers/swift.sh) are started here once for the whole run instead, and handed to the
// test processes as JSON in OUTLAST_TEST_SWIFT_A / OUTLAST_TEST_SWIFT_B (see test/servers/swift.ts);
// they are stopped when the run ends, also on a failure or Ctrl-C. Likewise one PowerDNS, one Knot
// and one BIND server (scripts/servers/dns.sh, started in parallel with the Swift clusters), handed
// over as JSON in OUTLAST_TEST_DNS_PDNS / _KNOT / _BIND (see test/servers/dns.ts).
//
//   npm test                      everything
//   npm test -- test/unit/x.test.ts   only the given files (checks still run first)
//   OUTLAST_TEST_SKIP_CHECKS=1    skip tsc and biome (for quick local loops; CI never sets it)
//   OUTLAST_TEST_SKIP_BUILD=1     do not rebuild dist/ first (the CLI tests run bin/outlast.js, which
//                                 runs dist/: only for loops where dist/ is known to be current)
//   OUTLAST_TEST_NO_SERVERS=1     start no Swift clusters or DNS servers here (tests that need them
//                                 start their own)
//
// The secret canary (test/helpers/canary.ts): each run has a capture folder (OUTLAST_TEST_CAPTURE_DIR)
// and a canary seed (OUTLAST_TEST_CANARY_SEED) handed to the tests; every test process loads
// test/helpers/capture-children.ts, which keeps there whatever the `outlast` children print, and
// tests add what they read (/status, /metrics, the dashboard, state files, event logs). The test
// runner's own report (TAP) goes there too. After the tests, test/helpers/canary-scan.ts looks in
// it for every canary and every real server's secret; a hit fails the run, naming the file and the
// secret (never its value), and the folder is kept for a look; a clean folder is removed.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { accessSync, constants, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const bin = (name) => join(root, 'node_modules', '.bin', name);
const swiftSh = join(root, 'scripts', 'servers', 'swift.sh');
const dnsSh = join(root, 'scripts', 'servers', 'dns.sh');
const browserSh = join(root, 'scripts', 'servers', 'browser.sh');

/** The children running now, so that a signal sent to this process alone can be passed on. */
const children = new Set();
/** Set by a signal: the exit code to end with once the current child is gone. */
let interrupted;
/** Data dirs of the Swift clusters this run started (or is starting). */
const swiftDirs = [];
/** Data dirs of the DNS servers this run started (or is starting). */
const dnsDirs = [];
/** Settles when `swift.sh install` is over: two apt-get runs at once would fight over apt's locks. */
let swiftInstallOver = Promise.resolve();

// Every child runs asynchronously: while a spawnSync blocks, signal handlers cannot run, and the
// Swift clusters would then outlive a Ctrl-C.
function spawnChild(command, args, { extraEnv = {}, capture = false, detached = false } = {}) {
  return new Promise((resolve) => {
    const child = spawn(command, args, {
      cwd: root,
      stdio: capture ? ['ignore', 'pipe', 'pipe'] : 'inherit',
      env: { ...process.env, ...extraEnv },
      detached,
    });
    // A detached child is left alone by the signal handler below (it is the clean-up itself).
    if (!detached) children.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (chunk) => {
      stdout += chunk;
    });
    child.stderr?.on('data', (chunk) => {
      stderr += chunk;
    });
    child.on('error', (error) => {
      stderr += `${error.message}\n`;
    });
    child.on('close', (code, signal) => {
      children.delete(child);
      resolve({ status: code ?? (signal ? 1 : 0), stdout, stderr });
    });
  });
}

/** Runs one step with its output shown; returns its exit status (0 when it passed). */
async function run(label, command, args, extraEnv = {}) {
  const started = Date.now();
  process.stdout.write(`\n== ${label}\n`);
  const result = await spawnChild(command, args, { extraEnv });
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  if (result.status !== 0) {
    process.stdout.write(`== ${label}: FAILED after ${seconds}s\n`);
    return result.status;
  }
  process.stdout.write(`== ${label}: ok (${seconds}s)\n`);
  return 0;
}

function findTests(dir) {
  const found = [];
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) found.push(...findTests(path));
    else if (name.endsWith('.test.ts')) found.push(relative(root, path));
  }
  return found;
}

/** /dev/shm when usable: a tmpfs avoids ext4's 4 KiB xattr limit on object metadata (swift notes G5). */
function tempBase() {
  try {
    accessSync('/dev/shm', constants.W_OK);
    if (statSync('/dev/shm').isDirectory()) return '/dev/shm';
  } catch {
    // fall back to the OS temp dir
  }
  return tmpdir();
}

const PORT_TAKEN = 3; // swift.sh start's exit code when a port (or the data dir's cluster) is in use

/**
 * Starts one cluster on `ip`, trying port blocks 8080, 8090, … (a cluster uses PORT..PORT+4) so
 * that another run's clusters on the same machine do not make this one fail.
 */
async function startSwift(name, ip) {
  for (let attempt = 0; attempt < 50; attempt++) {
    if (interrupted) break;
    const dataDir = mkdtempSync(join(tempBase(), `outlast-swift-${name}-`));
    swiftDirs.push(dataDir);
    const port = 8080 + attempt * 10;
    const result = await spawnChild(swiftSh, ['start', dataDir, ip, String(port)], { capture: true });
    if (result.status === 0) {
      return JSON.parse(readFileSync(join(dataDir, 'cluster.json'), 'utf8'));
    }
    if (result.status !== PORT_TAKEN) {
      throw new Error(
        `swift.sh start ${dataDir} ${ip} ${port} failed (exit ${result.status}):\n${result.stderr}`,
      );
    }
  }
  throw new Error(interrupted ? 'interrupted' : `no free block of ports on ${ip} from 8080 on`);
}

async function startSwiftClusters() {
  const label = 'Swift clusters (OUTLAST_TEST_NO_SERVERS=1 skips them)';
  const started = Date.now();
  process.stdout.write(`\n== ${label}\n`);
  const seconds = () => ((Date.now() - started) / 1000).toFixed(1);
  // Not captured: silent when the packages are there, and a first install shows what it does.
  const installing = spawnChild(swiftSh, ['install']);
  swiftInstallOver = installing.then(() => undefined);
  const install = await installing;
  if (install.status !== 0) {
    process.stdout.write(`== ${label}: install FAILED after ${seconds()}s\n`);
    return undefined;
  }
  const installSeconds = seconds();
  const results = await Promise.allSettled([startSwift('a', '127.0.0.2'), startSwift('b', '127.0.0.3')]);
  const failed = results.filter((result) => result.status === 'rejected');
  if (failed.length > 0) {
    if (!interrupted) {
      for (const result of failed) process.stdout.write(`${result.reason?.message ?? result.reason}\n`);
    }
    process.stdout.write(`== ${label}: FAILED after ${seconds()}s\n`);
    return undefined;
  }
  const [a, b] = results.map((result) => result.value);
  process.stdout.write(`   A ${a.s3Endpoint} (${a.dataDir})\n   B ${b.s3Endpoint} (${b.dataDir})\n`);
  process.stdout.write(`== ${label}: ok (${seconds()}s, of which install check ${installSeconds}s)\n`);
  return { OUTLAST_TEST_SWIFT_A: JSON.stringify(a), OUTLAST_TEST_SWIFT_B: JSON.stringify(b) };
}

async function stopSwiftClusters() {
  if (swiftDirs.length === 0) return;
  const dirs = swiftDirs.splice(0);
  const started = Date.now();
  // Both in parallel: each stop waits for its processes to go. Detached, so that a second Ctrl-C
  // (sent to the terminal's process group) cannot cut the stop short.
  const result = await spawnChild(
    'bash',
    [
      '-c',
      'rc=0; for d in "$@"; do "$0" stop "$d" & done; for j in $(jobs -p); do wait "$j" || rc=1; done; exit $rc',
      swiftSh,
      ...dirs,
    ],
    { capture: true, detached: true },
  );
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  if (result.status !== 0) {
    process.stdout.write(`${result.stderr}== Swift clusters: stop FAILED (${seconds}s)\n`);
  } else {
    process.stdout.write(`== Swift clusters stopped (${seconds}s)\n`);
  }
}

/** First ports tried per kind (then +10, +20, …), as in test/servers/dns.ts; pdns's API is on port + 1. */
const DNS_FIRST_PORT = { pdns: 20053, knot: 21053, bind: 22053 };

/** Starts one DNS server of `kind` on 127.0.0.1, trying further ports while dns.sh says "taken". */
async function startDns(kind) {
  for (let attempt = 0; attempt < 50; attempt++) {
    if (interrupted) break;
    const dataDir = mkdtempSync(join(tmpdir(), `outlast-dns-${kind}-`));
    dnsDirs.push(dataDir);
    const port = DNS_FIRST_PORT[kind] + attempt * 10;
    const ports = kind === 'pdns' ? [String(port), String(port + 1)] : [String(port)];
    const result = await spawnChild(dnsSh, [`start-${kind}`, dataDir, ...ports], { capture: true });
    if (result.status === 0) {
      return JSON.parse(readFileSync(join(dataDir, 'server.json'), 'utf8'));
    }
    if (result.status !== PORT_TAKEN) {
      throw new Error(
        `dns.sh start-${kind} ${dataDir} ${ports.join(' ')} failed (exit ${result.status}):\n${result.stderr}`,
      );
    }
  }
  throw new Error(interrupted ? 'interrupted' : `no free port for ${kind} from ${DNS_FIRST_PORT[kind]} on`);
}

async function startDnsServers() {
  const label = 'DNS servers (OUTLAST_TEST_NO_SERVERS=1 skips them)';
  const started = Date.now();
  process.stdout.write(`\n== ${label}\n`);
  const seconds = () => ((Date.now() - started) / 1000).toFixed(1);
  await swiftInstallOver;
  if (interrupted) return undefined;
  const install = await spawnChild(dnsSh, ['install']);
  if (install.status !== 0) {
    process.stdout.write(`== ${label}: install FAILED after ${seconds()}s\n`);
    return undefined;
  }
  const installSeconds = seconds();
  const kinds = ['pdns', 'knot', 'bind'];
  const results = await Promise.allSettled(kinds.map((kind) => startDns(kind)));
  const failed = results.filter((result) => result.status === 'rejected');
  if (failed.length > 0) {
    if (!interrupted) {
      for (const result of failed) process.stdout.write(`${result.reason?.message ?? result.reason}\n`);
    }
    process.stdout.write(`== ${label}: FAILED after ${seconds()}s\n`);
    return undefined;
  }
  const [pdns, knot, bind] = results.map((result) => result.value);
  process.stdout.write(
    `   pdns ${pdns.host}:${pdns.port} (API ${pdns.apiUrl})\n   knot ${knot.host}:${knot.port}\n` +
      `   bind ${bind.host}:${bind.port}\n`,
  );
  process.stdout.write(`== ${label}: ok (${seconds()}s, of which install check ${installSeconds}s)\n`);
  return {
    OUTLAST_TEST_DNS_PDNS: JSON.stringify(pdns),
    OUTLAST_TEST_DNS_KNOT: JSON.stringify(knot),
    OUTLAST_TEST_DNS_BIND: JSON.stringify(bind),
  };
}

async function stopDnsServers() {
  if (dnsDirs.length === 0) return;
  const dirs = dnsDirs.splice(0);
  const started = Date.now();
  // Detached, like the Swift clusters' stop: a second Ctrl-C cannot cut it short.
  const result = await spawnChild(
    'bash',
    [
      '-c',
      'rc=0; for d in "$@"; do "$0" stop "$d" & done; for j in $(jobs -p); do wait "$j" || rc=1; done; exit $rc',
      dnsSh,
      ...dirs,
    ],
    { capture: true, detached: true },
  );
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  if (result.status !== 0) {
    process.stdout.write(`${result.stderr}== DNS servers: stop FAILED (${seconds}s)\n`);
  } else {
    process.stdout.write(`== DNS servers stopped (${seconds}s)\n`);
  }
}

async function main() {
  const selected = process.argv.slice(2);
  // The build first: the tests that run the CLI run what a user installs (bin/outlast.js → dist/).
  if (!process.env.OUTLAST_TEST_SKIP_BUILD) {
    const build = await run('build (npm run build)', process.execPath, [join(root, 'scripts', 'build.mjs')], {
      OUTLAST_BUILD_QUIET: '1',
    });
    if (build !== 0 || interrupted) return build || interrupted;
  }
  if (!process.env.OUTLAST_TEST_SKIP_CHECKS) {
    const tsc = await run('type-check (tsc)', bin('tsc'), ['--noEmit', '-p', 'tsconfig.json']);
    if (tsc !== 0 || interrupted) return tsc || interrupted;
    const browserTsc = await run('type-check the browser code (tsc -p src/daemon/dashboard)', bin('tsc'), [
      '--noEmit',
      '-p',
      'src/daemon/dashboard/tsconfig.json',
    ]);
    if (browserTsc !== 0 || interrupted) return browserTsc || interrupted;
    const biome = await run('format and lint (biome)', bin('biome'), [
      'check',
      '--diagnostic-level=error',
      '.',
    ]);
    if (biome !== 0 || interrupted) return biome || interrupted;
  }
  const files = selected.length > 0 ? selected : findTests(join(root, 'test'));
  if (files.length === 0) {
    console.error('no test files found under test/');
    return 1;
  }
  let serverEnv = {};
  const external = process.env.OUTLAST_TEST_SWIFT_A && process.env.OUTLAST_TEST_SWIFT_B;
  const externalDns =
    process.env.OUTLAST_TEST_DNS_PDNS &&
    process.env.OUTLAST_TEST_DNS_KNOT &&
    process.env.OUTLAST_TEST_DNS_BIND;
  if (!process.env.OUTLAST_TEST_NO_SERVERS && !(external && externalDns)) {
    // In parallel: the DNS servers start (in about a second) while the Swift clusters do.
    const [swiftEnv, dnsEnv] = await Promise.all([
      external ? {} : startSwiftClusters(),
      externalDns ? {} : startDnsServers(),
    ]);
    if (interrupted) return interrupted;
    if (!swiftEnv || !dnsEnv) return 1;
    serverEnv = { ...swiftEnv, ...dnsEnv };
  }
  // The dashboard's browser tests drive Debian's Chromium: installed when missing (silent when
  // there), after the servers' installs, since two apt-get runs would fight over apt's locks.
  const browser = await spawnChild(browserSh, ['install']);
  if (interrupted) return interrupted;
  if (browser.status !== 0) {
    process.stdout.write('== browser (scripts/servers/browser.sh install): FAILED\n');
    return browser.status;
  }
  const captureDir = mkdtempSync(join(tmpdir(), 'outlast-capture-'));
  const canaryEnv = {
    OUTLAST_TEST_CAPTURE_DIR: captureDir,
    OUTLAST_TEST_CANARY_SEED: randomBytes(6).toString('hex'),
  };
  const tests = await run(
    `tests (${files.length} files)`,
    process.execPath,
    [
      '--import',
      'tsx',
      '--import',
      pathToFileURL(join(root, 'test', 'helpers', 'capture-children.ts')).href,
      '--test',
      '--test-concurrency=2',
      '--test-reporter=spec',
      '--test-reporter-destination=stdout',
      '--test-reporter=tap',
      `--test-reporter-destination=${join(captureDir, 'test-runner.tap')}`,
      ...files,
    ],
    { ...serverEnv, ...canaryEnv },
  );
  if (interrupted) return interrupted;
  const scan = await run(
    'secret canary (test/helpers/canary-scan.ts)',
    process.execPath,
    ['--import', 'tsx', join(root, 'test', 'helpers', 'canary-scan.ts'), captureDir],
    { ...serverEnv, ...canaryEnv },
  );
  if (scan === 0) rmSync(captureDir, { recursive: true, force: true });
  else process.stdout.write(`   the captures are kept in ${captureDir}\n`);
  return tests || scan;
}

for (const [signal, code] of [
  ['SIGINT', 130],
  ['SIGTERM', 143],
  ['SIGHUP', 129],
]) {
  process.on(signal, () => {
    if (interrupted) return;
    interrupted = code;
    process.stdout.write(`\n== ${signal}: stopping\n`);
    // A terminal's Ctrl-C reaches the child already (same process group); a `kill` of this
    // process alone does not. main() then returns once the child is gone, and the clusters stop.
    for (const child of children) child.kill(signal);
  });
}

let status = 1;
try {
  status = await main();
} catch (error) {
  console.error(error);
} finally {
  await Promise.all([stopSwiftClusters(), stopDnsServers()]);
}
process.exit(interrupted ?? status);

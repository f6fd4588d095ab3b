// Real single-node OpenStack Swift clusters for tests, run by scripts/servers/swift.sh (Debian's
// Swift 2.30 with tempauth, s3api, staticweb, domain_remap; see shared notes/swift.md).
//
// `npm test` (scripts/test.mjs) starts two clusters once for the whole run and hands them to every
// test process as JSON in OUTLAST_TEST_SWIFT_A / OUTLAST_TEST_SWIFT_B; swiftClustersForTests()
// uses those, and only starts clusters of its own when they are absent (a test file run directly,
// or OUTLAST_TEST_NO_SERVERS=1). Clusters started here are stopped when the process exits, however
// the tests ended.
import { type ChildProcess, execFile, spawnSync } from 'node:child_process';
import { accessSync, constants, readFileSync, rmSync, statSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';

export const SWIFT_SH = fileURLToPath(new URL('../../scripts/servers/swift.sh', import.meta.url));

/** What swift.sh writes to DATADIR/cluster.json and what the env variables carry. */
const clusterInfoSchema = z.object({
  ip: z.string(),
  port: z.number().int(),
  /** tempauth v1.0: GET with X-Auth-User / X-Auth-Key. */
  authUrl: z.string(),
  /** The account of `user`, as tempauth returns it in X-Storage-Url. */
  storageUrl: z.string(),
  /** Path-style S3 endpoint (s3api); region us-east-1. */
  s3Endpoint: z.string(),
  s3Region: z.string(),
  /** test:tester, .admin of AUTH_test. */
  user: z.string(),
  key: z.string(),
  /** s3api's access key is tempauth's `account:user`, the secret its key. */
  s3AccessKeyId: z.string(),
  s3SecretAccessKey: z.string(),
  /** test2:tester2, .admin of a second account (AUTH_test2), for isolation checks. */
  user2: z.string(),
  key2: z.string(),
  storageUrl2: z.string(),
  /** domain_remap's storage_domain: Host `<container>.auth-test.<webDomain>` serves a container. */
  webDomain: z.string(),
  dataDir: z.string(),
});

export type SwiftClusterInfo = z.infer<typeof clusterInfoSchema>;

export interface SwiftCluster extends SwiftClusterInfo {
  /** Stops the cluster and deletes its data dir; a no-op for clusters owned by the test runner. */
  stop(): Promise<void>;
}

export const SWIFT_ENV_A = 'OUTLAST_TEST_SWIFT_A';
export const SWIFT_ENV_B = 'OUTLAST_TEST_SWIFT_B';

/** Exit code of swift.sh start when a port is taken (or the data dir's cluster already runs). */
const EXIT_PORT_TAKEN = 3;

class SwiftScriptError extends Error {
  constructor(
    message: string,
    readonly exitCode: number | null,
  ) {
    super(message);
    this.name = 'SwiftScriptError';
  }
}

function runSwiftSh(args: string[], onSpawn?: (child: ChildProcess) => void): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(SWIFT_SH, args, { maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error) {
        const code = typeof error.code === 'number' ? error.code : null;
        reject(new SwiftScriptError(`swift.sh ${args[0]} failed (exit ${code}):\n${stderr}`, code));
      } else {
        resolve(stdout);
      }
    });
    onSpawn?.(child);
  });
}

let installed: Promise<void> | undefined;

/** `swift.sh install`, once per process (a no-op taking ~0.1 s when the packages are there). */
export function installSwift(): Promise<void> {
  installed ??= runSwiftSh(['install']).then(() => undefined);
  return installed;
}

/**
 * Where data dirs go: /dev/shm is a tmpfs, whose user xattrs (kernel >= 6.6) have no ext4-like
 * 4 KiB limit, so objects with large metadata do not get a 507 (notes G5); swift.sh also copes
 * with other filesystems.
 */
function tempBase(): string {
  try {
    if (statSync('/dev/shm').isDirectory()) {
      accessSync('/dev/shm', constants.W_OK);
      return '/dev/shm';
    }
  } catch {
    // No usable /dev/shm: fall back to the OS temp dir.
  }
  return tmpdir();
}

/** Clusters this process started and has not stopped yet, by data dir. */
const running = new Set<string>();
/** PIDs of `swift.sh start` runs still in progress, by data dir. */
const starting = new Map<string, number>();
let hooksInstalled = false;

/** Blocks until PID has exited (or is a zombie, which this process cannot reap while blocked). */
function waitForExitSync(pid: number, timeoutMs: number): void {
  const sleeper = new Int32Array(new SharedArrayBuffer(4));
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    let state: string | undefined;
    try {
      state = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ').pop()?.[0];
    } catch {
      return;
    }
    if (state === 'Z' || state === 'X') return;
    Atomics.wait(sleeper, 0, 0, 50);
  }
}

/** Stops every cluster still running, in parallel, synchronously (exit hooks cannot wait). */
function stopAllSync(): void {
  const dirs = [...running];
  if (dirs.length === 0) return;
  // A start still in progress would go on launching servers after the stop below had read its
  // pid file: SIGTERM makes it stop what it launched and exit (its trap), then the stop makes sure.
  const pids = [...starting.values()];
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      // already gone
    }
  }
  for (const pid of pids) waitForExitSync(pid, 15_000);
  // setsid: in a session of its own, a second Ctrl-C on the terminal cannot cut the stop short.
  spawnSync(
    'setsid',
    ['-w', 'bash', '-c', 'for d in "$@"; do "$0" stop "$d" & done; wait', SWIFT_SH, ...dirs],
    {
      stdio: 'inherit',
    },
  );
  for (const dataDir of dirs) {
    rmSync(dataDir, { recursive: true, force: true });
    running.delete(dataDir);
  }
}

// An 'exit' listener runs however the test file ends (failures included) but only synchronously;
// signals need their own listeners because they would otherwise end the process without 'exit'.
function installExitHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on('exit', stopAllSync);
  const signals: Array<[NodeJS.Signals, number]> = [
    ['SIGINT', 130],
    ['SIGTERM', 143],
    ['SIGHUP', 129],
  ];
  let exiting = false;
  for (const [signal, code] of signals) {
    // `on`, not `once`: a second signal while stopping must not fall back to the default action.
    process.on(signal, () => {
      if (exiting) return;
      exiting = true;
      process.exit(code);
    });
  }
}

/** Runs `swift.sh install` (once) then `swift.sh start` in a fresh temp dir. */
export async function startSwiftCluster(options: { ip: string; port: number }): Promise<SwiftCluster> {
  await installSwift();
  const dataDir = await mkdtemp(join(tempBase(), `outlast-swift-${options.ip}-`));
  installExitHooks();
  running.add(dataDir);
  let info: SwiftClusterInfo;
  try {
    await runSwiftSh(['start', dataDir, options.ip, String(options.port)], (child) => {
      if (child.pid !== undefined) starting.set(dataDir, child.pid);
    });
    starting.delete(dataDir);
    info = clusterInfoSchema.parse(JSON.parse(await readFile(join(dataDir, 'cluster.json'), 'utf8')));
  } catch (error) {
    // swift.sh already stopped what it had started; this only makes sure and removes the dir.
    starting.delete(dataDir);
    await runSwiftSh(['stop', dataDir]).catch(() => {});
    await rm(dataDir, { recursive: true, force: true });
    running.delete(dataDir);
    throw error;
  }
  let stopped: Promise<void> | undefined;
  return {
    ...info,
    stop() {
      stopped ??= (async () => {
        await runSwiftSh(['stop', dataDir]);
        await rm(dataDir, { recursive: true, force: true });
        running.delete(dataDir);
      })();
      return stopped;
    },
  };
}

/**
 * Starts a cluster on `ip` at the first free block of ports from `firstPort` on (steps of 10,
 * since a cluster uses PORT..PORT+4), so that test processes started in parallel, or another
 * `npm test` on the same machine, do not fail on a taken port.
 */
export async function startSwiftClusterOnFreePort(ip: string, firstPort = 8080): Promise<SwiftCluster> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await startSwiftCluster({ ip, port: firstPort + attempt * 10 });
    } catch (error) {
      const retry = error instanceof SwiftScriptError && error.exitCode === EXIT_PORT_TAKEN && attempt < 50;
      if (!retry) throw error;
    }
  }
}

function fromEnv(name: string): SwiftCluster | undefined {
  const json = process.env[name];
  if (!json) return undefined;
  let info: SwiftClusterInfo;
  try {
    info = clusterInfoSchema.parse(JSON.parse(json));
  } catch (error) {
    throw new Error(`${name} does not hold a Swift cluster's JSON: ${String(error)}`);
  }
  // The test runner owns these clusters and stops them after every test file has run.
  return { ...info, stop: async () => {} };
}

let forTests: Promise<{ a: SwiftCluster; b: SwiftCluster }> | undefined;

/**
 * Two independent clusters (A on 127.0.0.2, B on 127.0.0.3 when started here): the runner's
 * when OUTLAST_TEST_SWIFT_A and _B are set, else two of this process's own, stopped at exit.
 * The same pair is returned to every caller in the process.
 */
export function swiftClustersForTests(): Promise<{ a: SwiftCluster; b: SwiftCluster }> {
  forTests ??= (async () => {
    const a = fromEnv(SWIFT_ENV_A);
    const b = fromEnv(SWIFT_ENV_B);
    if (a && b) return { a, b };
    const [startedA, startedB] = await Promise.allSettled([
      startSwiftClusterOnFreePort('127.0.0.2'),
      startSwiftClusterOnFreePort('127.0.0.3'),
    ]);
    if (startedA.status === 'fulfilled' && startedB.status === 'fulfilled') {
      return { a: startedA.value, b: startedB.value };
    }
    for (const result of [startedA, startedB]) {
      if (result.status === 'fulfilled') await result.value.stop();
    }
    const rejected = [startedA, startedB].find((r): r is PromiseRejectedResult => r.status === 'rejected');
    throw rejected?.reason;
  })();
  return forTests;
}

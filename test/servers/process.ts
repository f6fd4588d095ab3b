// Runs the server scripts of scripts/servers/ (swift.sh, dns.sh) for test/servers/*.ts. They share
// one contract: `install` (a quick no-op when the packages are there); a start command that takes
// a fresh data dir, launches the servers in sessions of their own, records their PIDs in
// DATADIR/run/pids, writes its facts as JSON into DATADIR, and exits 3 when a port is taken (or
// the data dir's servers already run); and `stop DATADIR`, which ends exactly the recorded PIDs.
//
// Servers started here are stopped when the process exits, however the tests ended.
import { type ChildProcess, execFile, spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { ZodType } from 'zod';

/** Exit code of a start command when a port is taken (or the data dir's servers already run). */
export const EXIT_PORT_TAKEN = 3;

export class ServerScriptError extends Error {
  constructor(
    message: string,
    readonly exitCode: number | null,
  ) {
    super(message);
    this.name = 'ServerScriptError';
  }
}

/** Servers started by this process, stoppable with `stop()`; a no-op for the test runner's. */
export type Stoppable<T> = T & { stop(): Promise<void> };

export interface StartOptions<T> {
  /** Where the data dir is made (mkdtemp). */
  baseDir: string;
  /** The data dir's name before mkdtemp's random suffix, e.g. `outlast-dns-pdns-`. */
  prefix: string;
  /** The start command's arguments, e.g. ['start', dataDir, ip, port]. */
  args(dataDir: string): string[];
  /** The JSON file the script writes into the data dir, parsed with `schema`. */
  factsFile: string;
  schema: ZodType<T>;
}

/** Data dirs of servers this process started and has not stopped yet, with their script. */
const running = new Map<string, ServerScript>();
/** PIDs of start commands still in progress, by data dir. */
const starting = new Map<string, number>();
let hooksInstalled = false;

/** One of the scripts in scripts/servers/. */
export class ServerScript {
  readonly name: string;
  private installed: Promise<void> | undefined;

  constructor(readonly path: string) {
    this.name = basename(path);
  }

  /** Runs the script; resolves with its stdout, rejects with a ServerScriptError holding stderr. */
  run(args: string[], onSpawn?: (child: ChildProcess) => void): Promise<string> {
    return new Promise((resolve, reject) => {
      const child = execFile(this.path, args, { maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
        if (error) {
          const code = typeof error.code === 'number' ? error.code : null;
          const command = `${this.name} ${args.slice(0, 2).join(' ')}`;
          reject(new ServerScriptError(`${command} failed (exit ${code}):\n${stderr}`, code));
        } else {
          resolve(stdout);
        }
      });
      onSpawn?.(child);
    });
  }

  /** `install`, once per process. */
  install(): Promise<void> {
    this.installed ??= this.run(['install']).then(() => undefined);
    return this.installed;
  }

  /**
   * Runs the start command in a fresh data dir and returns the facts it wrote, with a `stop()`
   * that stops the servers and deletes the data dir. A failed start leaves nothing behind.
   */
  async start<T>(options: StartOptions<T>): Promise<Stoppable<T>> {
    const dataDir = await mkdtemp(join(options.baseDir, options.prefix));
    installExitHooks();
    running.set(dataDir, this);
    let info: T;
    try {
      await this.run(options.args(dataDir), (child) => {
        if (child.pid !== undefined) starting.set(dataDir, child.pid);
      });
      starting.delete(dataDir);
      info = options.schema.parse(JSON.parse(await readFile(join(dataDir, options.factsFile), 'utf8')));
    } catch (error) {
      // The script already stopped what it had started; this only makes sure and removes the dir.
      starting.delete(dataDir);
      await this.run(['stop', dataDir]).catch(() => {});
      await rm(dataDir, { recursive: true, force: true });
      running.delete(dataDir);
      throw error;
    }
    let stopped: Promise<void> | undefined;
    return {
      ...info,
      stop: () => {
        stopped ??= (async () => {
          await this.run(['stop', dataDir]);
          await rm(dataDir, { recursive: true, force: true });
          running.delete(dataDir);
        })();
        return stopped;
      },
    };
  }
}

/**
 * `start(firstPort)`, then `start(firstPort + 10)`, `+ 20`, … while the script says the port is
 * taken (50 tries), so that test processes started in parallel, or another `npm test` on the same
 * machine, do not fail on a taken port.
 */
export async function startOnFreePort<T>(firstPort: number, start: (port: number) => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await start(firstPort + attempt * 10);
    } catch (error) {
      const retry = error instanceof ServerScriptError && error.exitCode === EXIT_PORT_TAKEN && attempt < 50;
      if (!retry) throw error;
    }
  }
}

/**
 * The facts of servers the test runner (scripts/test.mjs) started, from the JSON in env variable
 * `name`; undefined when it is not set. Their `stop()` does nothing: the runner stops them after
 * every test file has run.
 */
export function fromEnv<T>(name: string, schema: ZodType<T>, what: string): Stoppable<T> | undefined {
  const json = process.env[name];
  if (!json) return undefined;
  let info: T;
  try {
    info = schema.parse(JSON.parse(json));
  } catch (error) {
    throw new Error(`${name} does not hold ${what}'s JSON: ${String(error)}`);
  }
  return { ...info, stop: async () => {} };
}

/** True while PID runs (also when it is someone else's, which signal 0 may not reach). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

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
    Atomics.wait(sleeper, 0, 0, 20);
  }
}

/** Stops every server still running, in parallel, synchronously (exit hooks cannot wait). */
function stopAllSync(): void {
  const stops = [...running];
  if (stops.length === 0) return;
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
    [
      '-w',
      'bash',
      '-c',
      'while (($#)); do "$1" stop "$2" & shift 2; done; wait',
      'stop-all',
      ...stops.flatMap(([dataDir, script]) => [script.path, dataDir]),
    ],
    { stdio: 'inherit' },
  );
  for (const [dataDir] of stops) {
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

/**
 * The two origins of the failover bench: each an `outlast serve` CHILD PROCESS
 * (`node bin/outlast.js serve --dir … --listen 127.0.0.x:PORT`), so the bench can fail it the
 * way a machine fails: SIGKILL (the port refuses connections), SIGSTOP (the kernel still accepts
 * TCP into the listen backlog, nobody answers: a hung origin) and SIGCONT. Processes are handled
 * by PID only; every one started here is stopped at exit (see `stopAllOrigins`).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { processCpuSeconds } from './cpu.ts';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const OUTLAST = join(REPO, 'bin', 'outlast.js');

/** Every origin process still alive, by PID: what the exit hook stops. */
const live = new Map<number, ChildProcess>();

/** CPU seconds of origin processes that have exited (their /proc entry is gone). */
let exitedCpuSeconds = 0;

export function originPids(): number[] {
  return [...live.keys()];
}

/** CPU used so far by every origin process, the dead ones included (for the disturbance check). */
export function originsCpuSeconds(): number {
  return exitedCpuSeconds + originPids().reduce((sum, pid) => sum + processCpuSeconds(pid), 0);
}

/** Synchronous, for 'exit' hooks: SIGCONT (a stopped process cannot die of SIGTERM) and SIGKILL. */
export function stopAllOrigins(): void {
  for (const pid of live.keys()) {
    try {
      process.kill(pid, 'SIGCONT');
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  live.clear();
}

/** True when `port` can be bound on every one of `hosts` (TCP), checked by binding and closing. */
async function portFree(hosts: string[], port: number): Promise<boolean> {
  for (const host of hosts) {
    const ok = await new Promise<boolean>((resolve) => {
      const server = createServer();
      server.once('error', () => resolve(false));
      server.listen({ host, port, exclusive: true }, () => server.close(() => resolve(true)));
    });
    if (!ok) return false;
  }
  return true;
}

/** The first port from `start` (step 7) that is free on all `hosts`. */
export async function findFreePort(hosts: string[], start = 18190): Promise<number> {
  for (let port = start; port < start + 7 * 200; port += 7) {
    if (await portFree(hosts, port)) return port;
  }
  throw new Error(`no free port on ${hosts.join(' and ')} from ${start}`);
}

export interface OriginProcessOptions {
  id: string;
  dir: string;
  host: string;
  port: number;
  /** Where the child's stdout/stderr go (appended; one file per origin). */
  logFile: string;
}

/** One origin address whose serving process can be killed, restarted, stopped and continued. */
export class OriginProcess {
  private child: ChildProcess | undefined;
  private log: WriteStream | undefined;
  /** How long the last start took until the server printed that it listens (ms). */
  lastStartMs = 0;
  /** The PID of the current process (undefined when none runs). */
  get pid(): number | undefined {
    return this.child?.pid;
  }
  get url(): string {
    return `http://${this.options.host}:${this.options.port}`;
  }

  constructor(readonly options: OriginProcessOptions) {}

  /** Starts the serving process; resolves once it prints that it listens. */
  async start(timeoutMs = 30_000): Promise<void> {
    if (this.child) throw new Error(`origin ${this.options.id} already runs (pid ${this.child.pid})`);
    this.log ??= createWriteStream(this.options.logFile, { flags: 'a' });
    const started = performance.now();
    const child = spawn(
      process.execPath,
      [OUTLAST, 'serve', '--dir', this.options.dir, '--listen', `${this.options.host}:${this.options.port}`],
      { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, OUTLAST_LOG_LEVEL: 'warn' } },
    );
    const pid = child.pid;
    if (pid === undefined) throw new Error(`cannot start origin ${this.options.id}`);
    this.child = child;
    live.set(pid, child);
    child.stderr?.pipe(this.log, { end: false });
    child.once('exit', () => {
      live.delete(pid);
      if (this.child === child) this.child = undefined;
    });
    await new Promise<void>((resolve, reject) => {
      let seen = '';
      const timer = setTimeout(
        () => fail(new Error(`origin ${this.options.id} did not listen in ${timeoutMs} ms`)),
        timeoutMs,
      );
      const onData = (chunk: Buffer) => {
        this.log?.write(chunk);
        seen += chunk.toString('utf8');
        if (seen.includes('serving ')) done();
      };
      const onExit = (code: number | null, signal: string | null) =>
        fail(new Error(`origin ${this.options.id} exited during start (code ${code}, signal ${signal})`));
      const cleanup = () => {
        clearTimeout(timer);
        child.off('exit', onExit);
      };
      const done = () => {
        cleanup();
        // Keep draining stdout into the log.
        resolve();
      };
      const fail = (error: Error) => {
        cleanup();
        reject(error);
      };
      child.stdout?.on('data', onData);
      child.once('exit', onExit);
    });
    this.lastStartMs = performance.now() - started;
  }

  /** SIGKILL, then waits until the process is gone (its port refuses connections from then on). */
  async kill(): Promise<void> {
    const child = this.child;
    if (!child || child.pid === undefined) return;
    const exited = new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) resolve();
      else child.once('exit', () => resolve());
    });
    exitedCpuSeconds += processCpuSeconds(child.pid);
    process.kill(child.pid, 'SIGKILL');
    await exited;
  }

  /** SIGSTOP: the process freezes; the kernel keeps accepting connections into its backlog. */
  stop(): void {
    if (this.child?.pid !== undefined) process.kill(this.child.pid, 'SIGSTOP');
  }

  /** SIGCONT: the frozen process resumes and answers what queued up. */
  cont(): void {
    if (this.child?.pid !== undefined) process.kill(this.child.pid, 'SIGCONT');
  }

  /** Stops for good (SIGCONT + SIGKILL), closes the log. */
  async close(): Promise<void> {
    this.cont();
    await this.kill();
    this.log?.end();
    this.log = undefined;
  }
}

/**
 * `outlast watch` processes of the cluster bench: each a CHILD PROCESS (`node <snapshot>/bin/outlast.js
 * watch --config …`), so the bench can SIGKILL a leader the way a machine dies and read each one's
 * CPU in /proc. Handled by PID only; every one started here is stopped at exit (`stopAllWatchers`).
 * The config is written here: two origins, PowerDNS, health interval 1s / timeout 1s / fall 3, and
 * optionally `watch.cluster` with its etcd endpoints (the bench's counting proxies).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, type WriteStream, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { stringify } from 'yaml';
import { processCpuSeconds } from '../failover/cpu.ts';

/** Every watcher process still alive, by PID: what the exit hook stops. */
const live = new Map<number, ChildProcess>();

/** Synchronous, for 'exit' hooks: SIGKILL each watcher this process started and that still runs. */
export function stopAllWatchers(): void {
  for (const pid of live.keys()) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  live.clear();
}

export interface ClusterStatusJson {
  id: string;
  leader?: string;
  leading: boolean;
  leadingSince?: string;
  etcdReachable: boolean;
  quorum: number;
  quorumLost: boolean;
  watchers: Array<{ id: string; counted?: boolean }>;
  origins: Record<string, { health: string; up: number; down: number }>;
}

export interface StatusJson {
  active: string[];
  origins: Array<{ originId: string; state: string; history?: unknown[] }>;
  events: Array<{ at: string; kind: string; message: string; data?: Record<string, unknown> }>;
  cluster?: ClusterStatusJson;
}

export interface WatcherConfigOptions {
  file: string;
  siteDir: string;
  name: string;
  origins: Array<{ id: string; path: string; url: string; address: string }>;
  health: { interval: string; timeout: string; fall: number; rise?: number };
  failover: { holdDown: string };
  ttl: number;
  pdns: { apiUrl: string; zone: string; apiKey: string };
  stateDir: string;
  cluster?: { id: string; endpoints: string[]; quorum: number; leaseTtl: string };
}

/** Writes an `outlast watch` config (YAML) for one watcher. */
export function writeWatcherConfig(options: WatcherConfigOptions): void {
  writeFileSync(
    options.file,
    stringify({
      site: { dir: options.siteDir, hostname: options.name },
      origins: options.origins.map((origin) => ({
        id: origin.id,
        storage: { type: 'fs', path: origin.path },
        url: origin.url,
        dns: { a: [origin.address] },
      })),
      // retryInterval left out: the default (500ms).
      health: options.health,
      failover: { policy: 'priority', failback: 'auto', holdDown: options.failover.holdDown },
      dns: {
        name: options.name,
        ttl: options.ttl,
        providers: [
          {
            type: 'powerdns',
            url: options.pdns.apiUrl,
            zone: options.pdns.zone,
            apiKey: options.pdns.apiKey,
          },
        ],
      },
      watch: {
        listen: '127.0.0.1:0',
        stateDir: options.stateDir,
        ...(options.cluster
          ? {
              cluster: {
                id: options.cluster.id,
                etcd: { endpoints: options.cluster.endpoints },
                quorum: options.cluster.quorum,
                leaseTtl: options.cluster.leaseTtl,
              },
            }
          : {}),
      },
    }),
  );
}

/** One watcher slot: its process can be SIGKILLed and started again on the same config. */
export class WatcherProcess {
  private child: ChildProcess | undefined;
  private log: WriteStream | undefined;
  /** The status server's base URL, e.g. http://127.0.0.1:PORT (a new port after each start). */
  base = '';
  /** CPU seconds of this slot's processes that have exited. */
  private exitedCpu = 0;
  /** How long the last start took until the watcher printed its status URL (ms). */
  lastStartMs = 0;

  constructor(
    readonly id: string,
    private readonly bin: string,
    private readonly configFile: string,
    private readonly logFile: string,
    private readonly cwd: string,
  ) {}

  get pid(): number | undefined {
    return this.child?.pid;
  }

  alive(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** CPU seconds (utime + stime) of the live process only. */
  liveCpuSeconds(): number {
    return this.child?.pid === undefined ? 0 : processCpuSeconds(this.child.pid);
  }

  /** CPU seconds of every process of this slot so far, the dead ones included. */
  cpuSeconds(): number {
    return this.exitedCpu + (this.alive() ? this.liveCpuSeconds() : 0);
  }

  async start(timeoutMs = 60_000): Promise<void> {
    if (this.alive()) throw new Error(`watcher ${this.id} already runs (pid ${this.child!.pid})`);
    this.log ??= createWriteStream(this.logFile, { flags: 'a' });
    this.log.write(`--- start ${new Date().toISOString()}\n`);
    const started = performance.now();
    const child = spawn(process.execPath, [this.bin, 'watch', '--config', this.configFile], {
      cwd: this.cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, OUTLAST_LOG_LEVEL: 'warn' },
    });
    const pid = child.pid;
    if (pid === undefined) throw new Error(`cannot start watcher ${this.id}`);
    this.child = child;
    this.base = '';
    live.set(pid, child);
    child.once('exit', () => live.delete(pid));
    let seen = '';
    const keep = (chunk: Buffer) => {
      this.log?.write(chunk);
      if (!this.base) {
        seen += chunk.toString('utf8');
        const match = /status: (http:\S+)\/status/.exec(seen);
        if (match) this.base = match[1]!;
      }
    };
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    const deadline = performance.now() + timeoutMs;
    while (!this.base) {
      if (!this.alive()) throw new Error(`watcher ${this.id} exited during start: ${seen.slice(-2000)}`);
      if (performance.now() > deadline)
        throw new Error(`watcher ${this.id} printed no status URL in ${timeoutMs} ms: ${seen.slice(-2000)}`);
      await sleep(20);
    }
    this.lastStartMs = performance.now() - started;
  }

  /** GET /status, or undefined when the process is gone or does not answer within 2 s. */
  async status(): Promise<StatusJson | undefined> {
    if (!this.base || !this.alive()) return undefined;
    try {
      const response = await fetch(`${this.base}/status`, { signal: AbortSignal.timeout(2000) });
      return (await response.json()) as StatusJson;
    } catch {
      return undefined;
    }
  }

  /** SIGKILL (its CPU so far is kept), then waits until the process is gone. */
  async kill(): Promise<void> {
    const child = this.child;
    if (!child || child.pid === undefined || !this.alive()) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    this.exitedCpu += processCpuSeconds(child.pid);
    process.kill(child.pid, 'SIGKILL');
    await exited;
  }

  /** SIGTERM (a clean stop: it resigns), SIGKILL after 10 s. */
  async stop(): Promise<void> {
    const child = this.child;
    if (!child || child.pid === undefined || !this.alive()) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const cpu = processCpuSeconds(child.pid);
    process.kill(child.pid, 'SIGTERM');
    const timer = setTimeout(() => {
      if (this.alive()) process.kill(child.pid!, 'SIGKILL');
    }, 10_000);
    await exited;
    clearTimeout(timer);
    this.exitedCpu += cpu;
  }

  async close(): Promise<void> {
    await this.stop();
    this.log?.end();
    this.log = undefined;
  }
}

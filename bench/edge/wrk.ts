/**
 * One run of Debian's wrk (`/usr/bin/wrk --latency -t2 -c32 -dNs`) with paths.lua, which walks a
 * list of paths and prints the run's exact figures as JSON at the end; while it runs, nothing else
 * but the caller's `during` step. The CPU time of the fronts' processes (and of the Swift servers)
 * is read from /proc from just before to just after (processes.ts cpuMeter), so that CPU per
 * request is theirs alone.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { machineBusySeconds } from '../failover/cpu.ts';
import { cpuMeter, startTracked, stopTracked } from './processes.ts';

export const WRK = '/usr/bin/wrk';
const SCRIPT = fileURLToPath(new URL('./paths.lua', import.meta.url));
/** wrk's own per-request timeout: above the fronts' 2 s first-byte timeout, so that a request
 * that fails over after a frozen origin's 2 s counts as slow, not as failed. */
export const WRK_TIMEOUT_SECONDS = 10;

export interface WrkOptions {
  /** e.g. http://127.0.0.1:18080 (the paths come from the list). */
  baseUrl: string;
  pathsFile: string;
  seconds: number;
  threads?: number;
  connections?: number;
  /** The fronts' processes (their descendants too): CPU per request is theirs. */
  frontPids: () => number[];
  /** The origins' processes, for their CPU per request. */
  originPids: () => number[];
  /** Runs while wrk runs (a kill, a freeze), from its start. */
  during?: () => Promise<void>;
}

export interface WrkResult {
  requests: number;
  rps: number;
  bytes: number;
  seconds: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  p999Ms: number;
  maxMs: number;
  /** Answers other than 2xx or 3xx ("Non-2xx or 3xx responses"). */
  non2xx: number;
  /** wrk's "Socket errors": connect, read, write, timeout. */
  socket: { connect: number; read: number; write: number; timeout: number };
  /** non2xx + every socket error. */
  failed: number;
  frontCpuSeconds: number;
  originCpuSeconds: number;
  /** µs of the front's CPU per request (and of the Swift servers', for the origins). */
  frontCpuUsPerRequest: number;
  originCpuUsPerRequest: number;
  /** wrk's own CPU seconds. */
  wrkCpuSeconds: number;
  /** Cores' worth of CPU that processes other than the fronts, the origins, wrk and the bench
   * used during the run (other work on the machine: the run was disturbed when it is high). */
  otherCores: number;
  command: string;
  /** wrk's own output (the --latency distribution), for the JSON. */
  text: string;
}

/** Writes one path a line, for paths.lua. */
export function writePaths(file: string, paths: string[]): string {
  writeFileSync(file, `${paths.join('\n')}\n`);
  return file;
}

export function pathsFileIn(dir: string, name: string, paths: string[]): string {
  return writePaths(join(dir, `${name}.paths`), paths);
}

export async function runWrk(options: WrkOptions): Promise<WrkResult> {
  const args = [
    '--latency',
    `-t${options.threads ?? 2}`,
    `-c${options.connections ?? 32}`,
    `-d${options.seconds}s`,
    '--timeout',
    `${WRK_TIMEOUT_SECONDS}s`,
    '-s',
    SCRIPT,
    options.baseUrl,
    '--',
    options.pathsFile,
  ];
  const frontCpu = cpuMeter(options.frontPids);
  const originCpu = cpuMeter(options.originPids);
  const busyBefore = machineBusySeconds();
  const selfBefore = process.cpuUsage();
  const began = performance.now();
  const wrk = startTracked('wrk', WRK, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const wrkCpu = cpuMeter(() => [wrk.pid]);
  let text = '';
  wrk.child.stdout?.on('data', (chunk: Buffer) => {
    text += chunk.toString('utf8');
  });
  wrk.child.stderr?.on('data', (chunk: Buffer) => {
    text += chunk.toString('utf8');
  });
  // wrk ends itself after -d; this only guards against a wrk that hangs.
  const guard = setTimeout(() => void stopTracked(wrk), (options.seconds + 30) * 1000);
  const [code] = await Promise.all([wrk.exited, options.during?.()]);
  clearTimeout(guard);
  const frontCpuSeconds = frontCpu.end();
  const originCpuSeconds = originCpu.end();
  const wrkCpuSeconds = wrkCpu.end();
  const self = process.cpuUsage(selfBefore);
  const wall = (performance.now() - began) / 1000;
  const other =
    machineBusySeconds() -
    busyBefore -
    frontCpuSeconds -
    originCpuSeconds -
    wrkCpuSeconds -
    (self.user + self.system) / 1e6;
  const line = text.split('\n').find((l) => l.startsWith('EDGE-BENCH-JSON '));
  if (code !== 0 || line === undefined) throw new Error(`wrk ${args.join(' ')} failed (${code}):\n${text}`);
  const json = JSON.parse(line.slice('EDGE-BENCH-JSON '.length)) as Record<string, number>;
  const n = (key: string) => json[key] ?? 0;
  const seconds = n('durationUs') / 1e6;
  const requests = n('requests');
  const socket = { connect: n('connect'), read: n('read'), write: n('write'), timeout: n('timeout') };
  const perRequest = (cpu: number) => (requests > 0 ? (cpu * 1e6) / requests : 0);
  return {
    requests,
    rps: seconds > 0 ? requests / seconds : 0,
    bytes: n('bytes'),
    seconds,
    p50Ms: n('p50Us') / 1000,
    p90Ms: n('p90Us') / 1000,
    p99Ms: n('p99Us') / 1000,
    p999Ms: n('p999Us') / 1000,
    maxMs: n('maxUs') / 1000,
    non2xx: n('status'),
    socket,
    failed: n('status') + socket.connect + socket.read + socket.write + socket.timeout,
    frontCpuSeconds,
    originCpuSeconds,
    frontCpuUsPerRequest: perRequest(frontCpuSeconds),
    originCpuUsPerRequest: perRequest(originCpuSeconds),
    wrkCpuSeconds,
    otherCores: wall > 0 ? Math.max(0, other) / wall : 0,
    command: `wrk ${args.map((a) => (a === SCRIPT ? 'bench/edge/paths.lua' : a)).join(' ')}`,
    text: text.replace(line, '').trim(),
  };
}

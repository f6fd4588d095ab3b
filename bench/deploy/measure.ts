/**
 * Runs one client command and measures it: wall time (our clock), CPU time and peak RSS of the
 * client (GNU time's rusage of the child and everything it waited for), the load average, and how
 * much CPU the rest of the machine used meanwhile ("foreign" CPU: busy time from /proc/stat minus
 * the client, the storage servers we started and this process), which tells a quiet measurement
 * from one disturbed by other work on this 2-core machine.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const GNU_TIME = '/usr/bin/time';

export interface Measurement {
  wallSeconds: number;
  /** user + sys of the client process tree. */
  cpuSeconds: number;
  userSeconds: number;
  sysSeconds: number;
  /** The largest resident set of any process of the client's tree (GNU time's "Maximum resident"). */
  peakRssMb: number;
  exitCode: number;
  stdout: string;
  stderr: string;
  /** 1-minute load average before and after. */
  loadBefore: number;
  loadAfter: number;
  /** CPU seconds the storage servers used during the run (0 when there are none). */
  serverCpuSeconds: number;
  /** CPU seconds used by everything else on the machine during the run. */
  foreignCpuSeconds: number;
}

export interface RunSpec {
  command: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** PIDs whose CPU counts as the storage servers' (the Swift cluster's processes). */
  serverPids?: () => number[];
  /** Where GNU time's report goes (a temp dir inside it); default the OS temp dir. */
  scratch?: string;
  /** Stop the run after this many seconds (then it counts as failed). */
  timeoutSeconds?: number;
}

const TICKS_PER_SECOND = 100;

export function loadAverage(): number {
  return Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);
}

export function loadAverages(): string {
  return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
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

/** utime + stime of a live process, in seconds (0 when it is gone). */
function processCpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // Fields 14 and 15 of stat(5); the slice starts at field 3.
    return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
  } catch {
    return 0;
  }
}

function ownCpuSeconds(): number {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1e6;
}

/** Parses `time -v` output (the lines we need). */
function parseGnuTime(text: string): { user: number; sys: number; rssKb: number } {
  const number = (label: string) => {
    const match = new RegExp(`${label}[^:]*:\\s*([0-9.]+)`).exec(text);
    if (!match) throw new Error(`no "${label}" in the output of ${GNU_TIME} -v:\n${text}`);
    return Number(match[1]);
  };
  return {
    user: number('User time'),
    sys: number('System time'),
    rssKb: number('Maximum resident set size'),
  };
}

export async function measure(spec: RunSpec): Promise<Measurement> {
  const scratch = await mkdtemp(join(spec.scratch ?? tmpdir(), 'outlast-bench-time-'));
  const timeFile = join(scratch, 'time.txt');
  try {
    const serverPids = spec.serverPids?.() ?? [];
    const serverBefore = serverPids.reduce((sum, pid) => sum + processCpuSeconds(pid), 0);
    const busyBefore = machineBusySeconds();
    const selfBefore = ownCpuSeconds();
    const loadBefore = loadAverage();
    const started = performance.now();
    const { code, stdout, stderr } = await run(
      GNU_TIME,
      ['-v', '-o', timeFile, '--', spec.command, ...spec.args],
      spec,
    );
    const wallSeconds = (performance.now() - started) / 1000;
    const busy = machineBusySeconds() - busyBefore;
    const self = ownCpuSeconds() - selfBefore;
    const serverCpuSeconds = serverPids.reduce((sum, pid) => sum + processCpuSeconds(pid), 0) - serverBefore;
    const timing = parseGnuTime(await readFile(timeFile, 'utf8'));
    const cpuSeconds = timing.user + timing.sys;
    return {
      wallSeconds,
      cpuSeconds,
      userSeconds: timing.user,
      sysSeconds: timing.sys,
      peakRssMb: timing.rssKb / 1024,
      exitCode: code,
      stdout,
      stderr,
      loadBefore,
      loadAfter: loadAverage(),
      serverCpuSeconds,
      foreignCpuSeconds: Math.max(0, busy - cpuSeconds - serverCpuSeconds - self),
    };
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

/** Process groups of the children still running, so that Ctrl-C can stop exactly them. */
export const liveChildren = new Set<number>();

export function killGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, 'SIGTERM');
  } catch {
    // already gone
  }
}

function run(
  command: string,
  args: string[],
  spec: RunSpec,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: spec.cwd,
      env: spec.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      // A process group of its own, so that a timeout or Ctrl-C stops the client and its children
      // (GNU time does not pass SIGTERM on).
      detached: true,
    });
    if (child.pid !== undefined) liveChildren.add(child.pid);
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => err.push(chunk));
    const timer =
      spec.timeoutSeconds === undefined
        ? undefined
        : setTimeout(() => killGroup(child.pid), spec.timeoutSeconds * 1000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      if (child.pid !== undefined) liveChildren.delete(child.pid);
      resolve({
        code: code ?? (signal ? 128 : 1),
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
      });
    });
  });
}

/** Cores' worth of CPU used by other processes (not `ours`, not this one) over `seconds`. */
export async function foreignLoad(seconds: number, ours: () => number[]): Promise<number> {
  const pids = ours();
  const oursBefore = pids.reduce((sum, pid) => sum + processCpuSeconds(pid), 0);
  const busyBefore = machineBusySeconds();
  const selfBefore = ownCpuSeconds();
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  const mine = pids.reduce((sum, pid) => sum + processCpuSeconds(pid), 0) - oursBefore;
  const busy = machineBusySeconds() - busyBefore - (ownCpuSeconds() - selfBefore) - mine;
  return Math.max(0, busy) / seconds;
}

/**
 * Waits until other processes use less than `maxCores` (measured over 3 s windows), for at most
 * `timeoutSeconds`. Returns the last load seen, and whether it got quiet.
 */
export async function waitForQuiet(
  maxCores: number,
  timeoutSeconds: number,
  ours: () => number[],
  onWait: (load: number) => void,
): Promise<{ load: number; quiet: boolean }> {
  const deadline = Date.now() + timeoutSeconds * 1000;
  for (;;) {
    const load = await foreignLoad(3, ours);
    if (load < maxCores) return { load, quiet: true };
    if (Date.now() >= deadline) return { load, quiet: false };
    onWait(load);
  }
}

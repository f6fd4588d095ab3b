/**
 * The processes bench/edge starts (nginx, the edge, wrk, a restarted Swift proxy), tracked by PID
 * so that they are stopped at the end, on failure and on Ctrl-C; and the CPU time of a process
 * and its descendants, read from /proc (utime + stime, in clock ticks of 10 ms).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

const TICKS_PER_SECOND = 100;

/** Children still running, by PID, with the signal that stops each (SIGTERM unless said). */
const live = new Map<number, { child: ChildProcess; name: string }>();
/** PIDs frozen with SIGSTOP by the bench: continued before anything is stopped. */
const frozen = new Set<number>();

export interface Started {
  child: ChildProcess;
  pid: number;
  /** Resolves with the exit code (or the signal's name) once the process has ended. */
  exited: Promise<number | string>;
}

/** Spawns COMMAND and tracks it until it exits. */
export function startTracked(
  name: string,
  command: string,
  args: string[],
  options: Parameters<typeof spawn>[2] = {},
): Started {
  const child = spawn(command, args, options);
  const pid = child.pid;
  if (pid === undefined) throw new Error(`${name}: could not start ${command}`);
  live.set(pid, { child, name });
  const exited = new Promise<number | string>((resolve) => {
    child.once('exit', (code, signal) => {
      live.delete(pid);
      resolve(code ?? signal ?? 'unknown');
    });
  });
  return { child, pid, exited };
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves once the process has exited. */
export async function stopTracked(started: Started, graceMs = 5000): Promise<void> {
  if (!live.has(started.pid)) return;
  signal(started.pid, 'SIGCONT');
  signal(started.pid, 'SIGTERM');
  const timer = setTimeout(() => signal(started.pid, 'SIGKILL'), graceMs);
  await started.exited;
  clearTimeout(timer);
}

/** SIGSTOP that the exit hook undoes (a frozen process cannot act on SIGTERM). */
export function freeze(pid: number): void {
  frozen.add(pid);
  signal(pid, 'SIGSTOP');
}

export function thaw(pid: number): void {
  signal(pid, 'SIGCONT');
  frozen.delete(pid);
}

/** Synchronous, for 'exit' hooks: continues what the bench froze, then SIGKILLs its children and
 * theirs (nginx's workers would outlive a killed master). */
export function stopAllSync(): void {
  for (const pid of frozen) signal(pid, 'SIGCONT');
  frozen.clear();
  for (const pid of live.keys()) for (const each of processTree(pid).reverse()) signal(each, 'SIGKILL');
  live.clear();
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    // already gone
  }
}

/** utime + stime of one live process in seconds (0 when it is gone). */
export function processCpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
  } catch {
    return 0;
  }
}

/** The PID and every descendant of it (through /proc/PID/task/TID/children of each thread). */
export function processTree(pid: number): number[] {
  const all = [pid];
  for (let i = 0; i < all.length; i++) {
    const parent = all[i]!;
    let tasks: string[] = [];
    try {
      tasks = readdirSync(`/proc/${parent}/task`);
    } catch {
      continue;
    }
    for (const task of tasks) {
      try {
        const children = readFileSync(`/proc/${parent}/task/${task}/children`, 'utf8');
        for (const word of children.split(' ')) if (word.trim() !== '') all.push(Number(word));
      } catch {
        // the thread ended meanwhile
      }
    }
  }
  return all;
}

/**
 * CPU seconds the processes of `pids()` (and their descendants) use from now until `end()`,
 * sampled every 200 ms so that one that dies meanwhile (a killed origin) still counts with its
 * last reading instead of dropping out of the sum.
 */
export function cpuMeter(pids: () => number[]): { end(): number } {
  const first = new Map<number, number>();
  const last = new Map<number, number>();
  const sample = () => {
    const seen = new Set(pids().flatMap(processTree));
    for (const pid of seen) {
      const cpu = processCpuSeconds(pid);
      if (!first.has(pid)) first.set(pid, cpu);
      if (cpu >= (last.get(pid) ?? 0)) last.set(pid, cpu);
    }
  };
  sample();
  const timer = setInterval(sample, 200);
  return {
    end() {
      sample();
      clearInterval(timer);
      let sum = 0;
      for (const [pid, cpu] of last) sum += cpu - (first.get(pid) ?? 0);
      return sum;
    },
  };
}

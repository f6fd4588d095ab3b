/**
 * Is a measurement disturbed? On this 2-core machine other helpers run test suites; a failover
 * time is mostly timers, but a saturated CPU delays timers, probes and process starts. Each
 * measurement records the load averages and the "foreign" CPU: busy time of the whole machine
 * (/proc/stat) minus this process, PowerDNS and the origin processes.
 */
import { readFileSync } from 'node:fs';

const TICKS_PER_SECOND = 100;

/** The three load averages as in /proc/loadavg, e.g. "0.52 0.61 0.70". */
export function loadAverages(): string {
  return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
}

/** Busy CPU seconds of the whole machine since boot. */
export function machineBusySeconds(): number {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
  const [, user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).map(Number);
  return (
    ((user ?? 0) + (nice ?? 0) + (system ?? 0) + (irq ?? 0) + (softirq ?? 0) + (steal ?? 0)) /
    TICKS_PER_SECOND
  );
}

/** utime + stime of a live process in seconds (0 when it is gone). */
export function processCpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
  } catch {
    return 0;
  }
}

function ownCpuSeconds(): number {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1e6;
}

export interface LoadWindow {
  /** /proc/loadavg at the start and at the end. */
  loadBefore: string;
  loadAfter: string;
  /** Cores' worth of CPU that other processes used meanwhile (0–2 here). */
  foreignCores: number;
  seconds: number;
}

/**
 * Starts a window; `end()` returns what happened in it. `ours` gives the CPU seconds used so far
 * by the processes that belong to the bench besides this one (PowerDNS, origins, dead ones too).
 */
export function loadWindow(ours: () => number): { end(): LoadWindow } {
  const loadBefore = loadAverages();
  const busy = machineBusySeconds();
  const self = ownCpuSeconds();
  const mine = ours();
  const started = performance.now();
  return {
    end() {
      const seconds = (performance.now() - started) / 1000;
      const foreign = machineBusySeconds() - busy - (ownCpuSeconds() - self) - (ours() - mine);
      return {
        loadBefore,
        loadAfter: loadAverages(),
        foreignCores: seconds > 0 ? Math.max(0, foreign) / seconds : 0,
        seconds,
      };
    },
  };
}

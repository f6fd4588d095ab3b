/**
 * The measured runs of bench/edge, the same for both fronts: a short wrk warm-up then the measured
 * wrk run (the Swift proxies' logs counted around it, so a row says which origin answered), and
 * the failover runs: A's proxy SIGKILLed (then restarted) or SIGSTOPped (then SIGCONTed) a couple
 * of seconds into a run on the uncached set-up, waiting before and after until the front uses A
 * again, so that A is "the origin in use" when it fails.
 */
import { ProxyLog } from '../deploy/swift-api.ts';
import { type Origins, originPids, proxyPid, restartProxy, waitGone } from './origins.ts';
import { freeze, thaw } from './processes.ts';
import { DISTURBED_CORES, type Row, type Scenario } from './report.ts';
import { runWrk } from './wrk.ts';

export interface Front {
  name: string;
  url: string;
  pids(): number[];
  /** The edge's cache counters (hits, misses), read around a run; absent for nginx. */
  cacheCounters?: () => Promise<{ hits: number; misses: number }>;
  /** Extra facts for the row after a run (the edge's failovers). */
  describe?: () => Promise<string[]>;
}

export interface RunSettings {
  origins: Origins;
  seconds: number;
  warmupSeconds: number;
  /** When the kill or the freeze happens, seconds into the run. */
  failAtSeconds: number;
  /** Paths that miss the uncached edge's cache, for probing which origin a front uses. */
  probePaths: string[];
  /** Repeats of a disturbed measured run. */
  retries: number;
  log: (line: string) => void;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export class Runs {
  private readonly logs: { a: ProxyLog; b: ProxyLog };

  constructor(readonly settings: RunSettings) {
    this.logs = { a: new ProxyLog(settings.origins.a), b: new ProxyLog(settings.origins.b) };
  }

  /**
   * A warm-up run (unrecorded), then the measured one; a measured run during which other work
   * used more than DISTURBED_CORES is repeated (warm-up included) up to `retries` times, and the
   * least disturbed attempt is kept. Failover runs (`during`) are never repeated. Failures become
   * a row's error.
   */
  async measure(
    front: Front,
    scenario: Scenario,
    pathsFile: string,
    options: { warmup?: boolean; during?: () => Promise<void>; notes?: string[] } = {},
  ): Promise<Row> {
    const { seconds, warmupSeconds, origins, log, retries } = this.settings;
    const wrk = (runSeconds: number, during?: () => Promise<void>) =>
      runWrk({
        baseUrl: front.url,
        pathsFile,
        seconds: runSeconds,
        frontPids: () => front.pids(),
        originPids: () => originPids(origins),
        during,
      });
    const attempt = async (): Promise<Row> => {
      const row: Row = { ...emptyRow(front, scenario), notes: [...(options.notes ?? [])] };
      if (options.warmup !== false && warmupSeconds > 0) await wrk(warmupSeconds);
      const marks = { a: await this.logs.a.mark(), b: await this.logs.b.mark() };
      const before = await front.cacheCounters?.();
      const r = await wrk(seconds, options.during);
      row.result = r;
      const after = await front.cacheCounters?.();
      if (before && after) {
        const hits = after.hits - before.hits;
        const total = hits + after.misses - before.misses;
        row.cacheHitRatio = total > 0 ? hits / total : null;
      }
      row.originRequests = {
        a: (await this.logs.a.countSince(marks.a)).total,
        b: (await this.logs.b.countSince(marks.b)).total,
      };
      row.notes.push(...((await front.describe?.()) ?? []));
      log(
        `${front.name} ${scenario}: ${r.rps.toFixed(0)} req/s, p50 ${r.p50Ms.toFixed(2)} ms, p99 ${r.p99Ms.toFixed(2)} ms, ` +
          `failed ${r.failed}, CPU ${r.frontCpuUsPerRequest.toFixed(0)} µs/req, origins A ${row.originRequests.a} / B ${row.originRequests.b}, ` +
          `other load ${r.otherCores.toFixed(2)} cores`,
      );
      return row;
    };
    try {
      const attempts: Row[] = [await attempt()];
      const load = (row: Row) => row.result?.otherCores ?? 0;
      while (!options.during && load(attempts.at(-1)!) > DISTURBED_CORES && attempts.length <= retries) {
        log(`${front.name} ${scenario}: disturbed by other work, repeating`);
        attempts.push(await attempt());
      }
      const best = attempts.reduce((x, y) => (load(y) < load(x) ? y : x));
      if (attempts.length > 1) {
        best.notes.unshift(
          `${attempts.length} attempts (other load ${attempts.map((row) => load(row).toFixed(2)).join(', ')} cores), the least disturbed kept`,
        );
      }
      return best;
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      log(`${front.name} ${scenario} FAILED: ${message}`);
      return { ...emptyRow(front, scenario), error: message };
    }
  }

  /**
   * Sends a few requests through the front until most of them reach origin A (its proxy log),
   * for up to `timeoutSeconds`; returns how long that took (s), or throws.
   */
  async waitUntilAInUse(front: Front, timeoutSeconds = 60): Promise<number> {
    const began = performance.now();
    const deadline = Date.now() + timeoutSeconds * 1000;
    let round = 0;
    while (Date.now() < deadline) {
      const mark = await this.logs.a.mark();
      const paths = this.settings.probePaths;
      for (let i = 0; i < 10; i++) {
        const path = paths[(round * 10 + i) % paths.length]!;
        await fetch(`${front.url}${path}`, { signal: AbortSignal.timeout(5000) })
          .then((response) => response.arrayBuffer())
          .catch(() => undefined);
      }
      round++;
      if ((await this.logs.a.countSince(mark)).total >= 5) return (performance.now() - began) / 1000;
      await sleep(1000);
    }
    throw new Error(`${front.name} did not use origin A again within ${timeoutSeconds} s`);
  }

  /** The kill (then a restart of A's proxy) or the freeze (then SIGCONT) under load. */
  async failover(front: Front, kind: 'kill' | 'freeze', pathsFile: string): Promise<Row> {
    const { origins, failAtSeconds, log } = this.settings;
    const notes: string[] = [];
    try {
      await this.waitUntilAInUse(front);
    } catch (error) {
      return { ...emptyRow(front, kind), error: String(error) };
    }
    const pid = proxyPid(origins.a);
    let failedAt = 0;
    const during = async () => {
      await sleep(failAtSeconds * 1000);
      failedAt = performance.now();
      if (kind === 'kill') process.kill(pid, 'SIGKILL');
      else freeze(pid);
      log(`${front.name}: origin A's proxy (pid ${pid}) ${kind === 'kill' ? 'killed' : 'frozen'}`);
    };
    const row = await this.measure(front, kind, pathsFile, { warmup: false, during, notes });
    if (kind === 'kill') {
      await waitGone(pid);
      const started = performance.now();
      const newPid = await restartProxy(origins.a);
      notes.push(
        `A's proxy restarted (pid ${newPid}) in ${((performance.now() - started) / 1000).toFixed(1)} s`,
      );
    } else {
      thaw(pid);
      notes.push(`A frozen for ${((performance.now() - failedAt) / 1000).toFixed(1)} s`);
    }
    try {
      const back = await this.waitUntilAInUse(front);
      notes.push(`A in use again ${back.toFixed(1)} s after the run`);
    } catch (error) {
      notes.push(String(error));
    }
    row.notes.push(...notes.filter((note) => !row.notes.includes(note)));
    return row;
  }
}

export function emptyRow(front: Front, scenario: Scenario): Row {
  return {
    front: front.name,
    scenario,
    result: null,
    error: null,
    originRequests: null,
    cacheHitRatio: null,
    notes: [],
  };
}

/** GETs every path once through `url`, `concurrency` at a time (nginx's cache warming). */
export async function fetchAll(url: string, paths: string[], concurrency = 8): Promise<number> {
  let next = 0;
  let failed = 0;
  const worker = async () => {
    while (next < paths.length) {
      const path = paths[next++]!;
      const response = await fetch(`${url}${path}`).catch(() => undefined);
      if (!response?.ok) failed++;
      await response?.arrayBuffer();
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return failed;
}

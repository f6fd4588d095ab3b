/**
 * The one place a dry run lives (rclone's `operations.SkipDestructive`). Every call that changes
 * something outside the process (a storage put, delete or copy, bucket or container setup, a DNS
 * write) is handed to a `WriteGate` as a sentence and a function. A live gate runs the function;
 * a dry-run gate runs nothing, records `would <sentence>` and logs it. So the code that prepares
 * a change reads what is there and works out what is wanted the same way in both cases, and never
 * branches on a dry-run flag itself; a caller that forgot to stop before applying still writes
 * nothing.
 *
 * Store (storage/store.ts), setup (`SetupOptions.gate`) and the DNS wrapper (dns/checked.ts) take
 * a gate; the commands make one per run. Imports nothing of the app but its logger.
 */
import { componentLogger, type Logger } from './util/log.ts';

/** One step of making something ready (`outlast setup`), as the user is told it. */
export interface SetupStep {
  /** What the step is about, e.g. `create bucket`, `public read`, `website`, `cors`. */
  step: string;
  /** done: changed now; already: was right; would: dry run; unsupported: the store cannot. */
  status: 'done' | 'already' | 'would' | 'unsupported';
  /** A sentence for the user: what was set, or for unsupported what to do instead. */
  detail: string;
}

/** A setup step's change in words: `what` it does (a dry run says `would <what>`), and the
 * detail once it is `done`. */
export interface StepChange {
  what: string;
  done: string;
}

export interface WriteGate {
  /** True when nothing is written: every write is skipped and listed instead. */
  readonly dryRun: boolean;
  /**
   * Runs `write` and returns what it returns; in a dry run runs nothing, records
   * `would <what>`, logs it and returns undefined. `what` names the change, e.g. `put "a.html"`.
   */
  run<T>(what: string, write: () => Promise<T>): Promise<T | undefined>;
  /**
   * A setup step's change through the gate: in a dry run `would <what>`; else `write` runs and
   * the step is `done`, unless `write` reports another outcome itself (`already` when someone
   * else made the change meanwhile, `unsupported` when the store refused the call).
   */
  step(
    step: string,
    change: StepChange,
    write: () => Promise<SetupStep | undefined> | Promise<void>,
  ): Promise<SetupStep>;
  /** The writes skipped so far (`would put "a.html"`), in the order they were handed in. */
  skipped(): readonly string[];
}

export interface WriteGateOptions {
  /** Skip every write (and list it) instead of running it. */
  dryRun: boolean;
  /** Where skipped writes are logged (at debug). Default the `writes` component's logger. */
  log?: Logger;
}

export function createWriteGate(options: WriteGateOptions): WriteGate {
  const { dryRun } = options;
  const skipped: string[] = [];
  let log = options.log;

  async function run<T>(what: string, write: () => Promise<T>): Promise<T | undefined> {
    if (!dryRun) return write();
    const line = `would ${what}`;
    skipped.push(line);
    log ??= componentLogger('writes');
    log.debug({ write: what }, 'dry run: skipped');
    return undefined;
  }

  return {
    dryRun,
    run,
    async step(step, change, write) {
      const reported = await run(change.what, async () => (await write()) ?? undefined);
      if (dryRun) return { step, status: 'would', detail: `would ${change.what}` };
      return reported ?? { step, status: 'done', detail: change.done };
    },
    skipped: () => [...skipped],
  };
}

/** The gate for callers that never dry-run: runs every write, records nothing. */
export const LIVE: WriteGate = createWriteGate({ dryRun: false });

/**
 * The gate of options that may carry one, or the older `dryRun` flag instead; when the two
 * disagree, the dry run wins (a new dry-run gate then lists the skipped writes).
 */
export function gateOf(options: { gate?: WriteGate | undefined; dryRun?: boolean | undefined }): WriteGate {
  const { gate, dryRun } = options;
  if (gate && (gate.dryRun || !dryRun)) return gate;
  return dryRun ? createWriteGate({ dryRun: true }) : LIVE;
}

/**
 * The watcher beside native failover (issue 12, item 4): the DNS host's own view of the origins
 * compared with the watcher's. Pure: given the disagreements so far, the host's verdicts, the
 * watcher's and the time, it says which origins disagree and since when, and which events to raise.
 * A disagreement is raised (`native-disagrees`) once it has lasted longer than one check interval,
 * so that the two sides probing at different moments is not an event; its end (`native-agrees`) is
 * raised only for a disagreement that was.
 */

export type Verdict = 'up' | 'down';

/** One origin on which the host and the watcher disagree. */
export interface Disagreement {
  host: Verdict;
  watcher: Verdict;
  /** Since when (ms since the epoch) they disagree. */
  since: number;
  /** Whether `native-disagrees` was raised for it. */
  raised: boolean;
}

export interface NativeViewEvent {
  kind: 'native-disagrees' | 'native-agrees';
  provider: string;
  origin: string;
  host: Verdict;
  watcher: Verdict;
  /** When the disagreement started (ms since the epoch). */
  since: number;
}

export interface CompareInput {
  provider: string;
  /** The disagreements after the previous comparison (by origin id). */
  previous: Readonly<Record<string, Disagreement>>;
  /** The host's verdicts by origin id (origins it says nothing about are absent). */
  host: Readonly<Record<string, { up: boolean }>>;
  /** The watcher's health by origin id; `unknown` (not decided yet) is not compared. */
  watcher: Readonly<Record<string, Verdict | 'unknown'>>;
  at: number;
  intervalMs: number;
}

export interface CompareResult {
  disagreements: Record<string, Disagreement>;
  events: NativeViewEvent[];
}

export function compareNativeView(input: CompareInput): CompareResult {
  const { provider, previous, host, watcher, at, intervalMs } = input;
  const disagreements: Record<string, Disagreement> = {};
  const events: NativeViewEvent[] = [];
  const ids = new Set([...Object.keys(previous), ...Object.keys(host), ...Object.keys(watcher)]);
  for (const origin of ids) {
    const before = previous[origin];
    const hostSays = host[origin];
    const watcherSays = watcher[origin];
    if (hostSays === undefined || watcherSays === undefined || watcherSays === 'unknown') {
      // One side says nothing now: neither agreement nor disagreement; what was stands.
      if (before) disagreements[origin] = before;
      continue;
    }
    const hostVerdict: Verdict = hostSays.up ? 'up' : 'down';
    if (hostVerdict === watcherSays) {
      if (before?.raised) {
        events.push({
          kind: 'native-agrees',
          provider,
          origin,
          host: hostVerdict,
          watcher: watcherSays,
          since: before.since,
        });
      }
      continue;
    }
    // A disagreement that flipped sides (host up/watcher down ↔ host down/watcher up) goes on.
    const since = before ? before.since : at;
    let raised = before?.raised ?? false;
    if (!raised && at - since > intervalMs) {
      raised = true;
      events.push({
        kind: 'native-disagrees',
        provider,
        origin,
        host: hostVerdict,
        watcher: watcherSays,
        since,
      });
    }
    disagreements[origin] = { host: hostVerdict, watcher: watcherSays, since, raised };
  }
  return { disagreements, events };
}

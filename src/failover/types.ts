/**
 * The failover machine's data: its configuration, state, input events and output effects. All of it
 * is plain JSON (no Dates, Maps or functions) so that the daemon can persist the state between runs
 * and log the effects as they are.
 */

/** What the machine needs of `failover` in the config (see `machineConfig`). */
export interface MachineConfig {
  /** `priority`: the first eligible origin in `order`; `all-healthy`: every eligible one (A/AAAA sets). */
  policy: 'priority' | 'all-healthy';
  /** Every origin id, most preferred first. Events about ids not listed here are ignored. */
  order: string[];
  /** `auto`: return to a better choice after hold-down; `manual`: after a failover, only on `failback`. */
  failback: 'auto' | 'manual';
  /** After `active` changes, no move to a *better* choice for this long (moving away is never delayed). */
  holdDownMs: number;
}

/** An origin's health as the health engine reported it; `unknown` until its first verdict. */
export type Health = 'unknown' | 'up' | 'down';

/** What the machine knows of one origin. */
export interface OriginView {
  id: string;
  health: Health;
  /** The release id its beacon served on the last probe that read one. */
  release?: string;
  /** That release's deploy time (ISO), which orders releases: the newest one is current. */
  deployedAt?: string;
}

/** A better choice that is waiting: for hold-down to end (`until`), or for a manual failback. */
export interface HeldChoice {
  originIds: string[];
  /** When hold-down ends (ms); absent when it waits for an operator's `failback`. */
  until?: number;
}

/** What the machine serves knowingly off the current release (see "degraded" in machine.ts). */
export interface DegradedServing {
  originIds: string[];
  /** The release those origins serve (absent: they serve no beacon). */
  release?: string;
  /** The current release that no healthy origin has. */
  currentRelease?: string;
}

/** The machine's state: everything `step` needs, nothing derived from a clock. */
export interface MachineState {
  origins: Record<string, OriginView>;
  /** The release of the latest deploy: the release of the newest deployedAt seen on any origin. */
  currentRelease?: string;
  /** The origins DNS points to now (as decided, or as observed at start), in preference order; [] = not decided yet. */
  active: string[];
  /** When the machine last changed `active` (ms); absent until its first change (an observation is no change). */
  changedAt?: number;
  /** Automatic decisions are off (operator pause or force); health is still tracked. */
  paused: boolean;
  /** With failback manual: set once we failed away from the preferred choice; cleared by a failback event. */
  awaitingFailback: boolean;
  /** The last reason, for status pages. */
  reason?: string;
  /** The better choice announced as held (announced once per choice and hold window); cleared when `active` changes. */
  held?: HeldChoice;
  /** Set while `active` knowingly serves an older release because no origin on the current one is up. */
  degraded?: DegradedServing;
  /** When the current episode of "no origin is up" began (ms): the alert is sent once per episode. */
  noHealthySince?: number;
}

/** Input events. Time only ever comes in as `at` (ms since the epoch), so `step` stays pure. */
export type MachineEvent =
  /** At start: the origins whose records DNS holds now, possibly []. */
  | { type: 'observed'; at: number; active: string[] }
  /** A health transition, or a release seen on a probe (health unchanged). */
  | {
      type: 'health';
      at: number;
      originId: string;
      health: 'up' | 'down';
      release?: string;
      deployedAt?: string;
    }
  /** Time passes: lets a hold-down that has ended take effect. */
  | { type: 'tick'; at: number }
  /** Operator: go to the policy's choice now (ignores hold-down), clear awaitingFailback, resume automation. */
  | { type: 'failback'; at: number }
  /** Operator: point DNS to these now, even if down, and pause automation. */
  | { type: 'force'; at: number; originIds: string[] }
  | { type: 'pause'; at: number }
  | { type: 'resume'; at: number };

/** One entry of the event log / dashboard timeline. */
export interface TimelineEvent {
  /** ISO time. */
  at: string;
  kind:
    | 'failover'
    | 'failback'
    | 'route'
    | 'health'
    | 'degraded'
    | 'no-healthy-origin'
    | 'held-down'
    | 'paused'
    | 'resumed'
    | 'forced'
    | 'release';
  message: string;
  data?: Record<string, unknown>;
}

/** What the daemon must do after a step, in order. */
export type Effect =
  /** Make DNS point to these origins (the daemon computes the records and writes only differences). */
  | { type: 'route'; originIds: string[]; reason: string }
  /** Append to the event log. */
  | { type: 'event'; event: TimelineEvent };

/** What the policy wants now, ignoring hold-down and failback mode. */
export interface Choice {
  /** In preference order; [] when `blocked`. */
  originIds: string[];
  reason: string;
  /** The choice serves an older release because no origin on the current release is up. */
  degraded: boolean;
  /** Why there is no choice: some health is still unknown, or no origin is up. */
  blocked?: 'unknown' | 'no-healthy-origin';
}

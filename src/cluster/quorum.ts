/**
 * The quorum view (pure): what the cluster's leader feeds the failover machine, from the views
 * every live watcher publishes. An origin is down when at least `quorum` counted watchers see it
 * down, up when at least `quorum` see it up, and otherwise keeps the verdict it had, so one
 * watcher's broken path to one origin moves nothing while the others see it up.
 *
 * A watcher that sees every origin down (with two origins or more) counts for nothing: its own
 * network is the likelier fault. `quorum` defaults to a majority of the counted watchers; with
 * fewer counted watchers than the quorum, nothing can change (`quorumLost`).
 *
 * No clock is compared here: a view is live while its etcd lease is, which etcd decides.
 */
import type { Health } from '../failover/types.ts';

/** One origin as one watcher sees it. */
export interface OriginObservation {
  state: Health;
  release?: string;
  deployedAt?: string;
  latencyMs?: number;
  error?: string;
}

/** What one watcher publishes under its lease. */
export interface WatcherView {
  id: string;
  /** Its own clock (ISO), for people only: never compared with another machine's. */
  at: string;
  origins: Record<string, OriginObservation>;
  /** Where its status page is, when it says. */
  statusUrl?: string;
}

export interface QuorumInput {
  /** The live watchers' views (their leases hold). */
  views: readonly WatcherView[];
  /** Every origin id, in failover order. */
  origins: readonly string[];
  /** From the config; undefined: a majority of the counted watchers. */
  quorum: number | undefined;
  /** The verdicts so far (the machine's), kept where no quorum says otherwise. */
  previous: Readonly<Record<string, Health>>;
}

export interface QuorumOrigin {
  health: Health;
  up: number;
  down: number;
  /** The newest release the counted watchers that see it up report. */
  release?: string;
  deployedAt?: string;
}

export interface QuorumResult {
  quorum: number;
  /** Watchers whose views count. */
  counted: string[];
  /** Watchers left out, and why. */
  ignored: Array<{ id: string; why: string }>;
  origins: Record<string, QuorumOrigin>;
  /** Fewer counted watchers than the quorum: no verdict can change. */
  quorumLost: boolean;
}

export function quorumView(input: QuorumInput): QuorumResult {
  const counted: WatcherView[] = [];
  const ignored: QuorumResult['ignored'] = [];
  for (const view of input.views) {
    const states = input.origins.map((id) => view.origins[id]?.state ?? 'unknown');
    if (input.origins.length >= 2 && states.every((state) => state === 'down')) {
      ignored.push({ id: view.id, why: 'it sees every origin down (its own network, most likely)' });
    } else {
      counted.push(view);
    }
  }
  const quorum = input.quorum ?? Math.floor(counted.length / 2) + 1;
  const quorumLost = counted.length < quorum;
  const origins: Record<string, QuorumOrigin> = {};
  for (const id of input.origins) {
    const seen = counted.map((view) => view.origins[id]).filter((item) => item !== undefined);
    const up = seen.filter((item) => item.state === 'up');
    const down = seen.filter((item) => item.state === 'down').length;
    const previous = input.previous[id] ?? 'unknown';
    let health: Health = previous;
    if (!quorumLost) {
      if (up.length >= quorum && down >= quorum) health = previous;
      else if (down >= quorum) health = 'down';
      else if (up.length >= quorum) health = 'up';
    }
    const newest = up
      .filter((item) => item.release !== undefined)
      .sort((a, b) => (b.deployedAt ?? '').localeCompare(a.deployedAt ?? ''))[0];
    origins[id] = {
      health,
      up: up.length,
      down,
      ...(newest?.release === undefined ? {} : { release: newest.release }),
      ...(newest?.deployedAt === undefined ? {} : { deployedAt: newest.deployedAt }),
    };
  }
  return { quorum, counted: counted.map((view) => view.id), ignored, origins, quorumLost };
}

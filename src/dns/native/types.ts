/**
 * Native failover: the DNS host itself checks the origins and answers with a healthy one, so
 * failover keeps working with every watcher stopped (DESIGN.md). outlast provisions it from the
 * config as plan → apply → plan empty, like a deploy.
 *
 * The core (spec.ts) turns the config and the origins' releases into a `NativeSpec`, the same for
 * every host. A host module (`NativeFailover`, `src/dns/providers/<name>-native.ts`) reads what the
 * host holds, plans the changes that make it match the spec (with notes on every setting the host
 * cannot express or rounds), applies a plan, and plans the removal of exactly what outlast made.
 */
import type { DnsTarget } from '../plan.ts';

/** One origin as the host's checks see it, in `failover.order`. */
export interface NativeOrigin {
  id: string;
  /** The URL a checker fetches: the origin's `url` + `health.path` (the release beacon). */
  checkUrl: string;
  /** The Host (and SNI) the origin expects, when it is not the URL's host. */
  hostHeader?: string;
  /** What the name answers while this origin is chosen. */
  target: DnsTarget;
}

export interface NativeSpec {
  /** The managed name, normalized. */
  name: string;
  ttl: number;
  policy: 'priority' | 'all-healthy';
  failback: 'auto' | 'manual';
  origins: NativeOrigin[];
  /** The release the latest deploy made live, or undefined when no origin's beacon names one. */
  currentRelease: string | undefined;
  /** A body that contains this is a beacon of the current release (undefined: no release known). */
  currentMatch: string | undefined;
  /** A body that contains this is a beacon of any release. */
  anyMatch: string;
  health: { intervalMs: number; timeoutMs: number; fall: number; rise: number; expectStatus: number[] };
}

/** One change at the host, for people: what, and from what to what. */
export interface NativeChange {
  action: 'create' | 'update' | 'delete';
  /** e.g. `LUA A www.example.com`. */
  what: string;
  detail: string;
}

export interface NativePlan {
  /** The host, as `describe()` says it. */
  provider: string;
  changes: NativeChange[];
  /** Settings the host rounds or cannot express, and what it does instead. */
  notes: string[];
  /** Things at the name that outlast did not make and the plan would replace: refused without --force. */
  foreign: string[];
  /** What watching costs each origin: requests per month from the host's checkers. */
  checkerRequestsPerMonth: number;
  /** The host module's own data for `apply`. */
  readonly payload: unknown;
}

/** The host's own view of the origins, as its API tells it (item 4 of issue 12). */
export interface NativeView {
  /** The host, as `describe()` says it. */
  provider: string;
  /** When it was read (ms since the epoch). */
  at: number;
  /** Per origin id (those of the spec): the host's verdict, and its own words when it gives some. */
  origins: Record<string, { up: boolean; detail?: string }>;
}

export interface NativeFailover {
  describe(): string;
  /** What would make the host match `spec`. Reads only. */
  plan(spec: NativeSpec): Promise<NativePlan>;
  /** What would remove exactly what outlast made at `name`. Reads only. */
  planDestroy(name: string): Promise<NativePlan>;
  /** Makes it so. A plan with `foreign` entries is refused (`guard_refused`) unless `force`. */
  apply(plan: NativePlan, options: { force: boolean }): Promise<void>;
  /**
   * What the host's checks say about each origin now (reads only), for hosts whose API tells it;
   * absent when it does not. Origins the host says nothing about are left out.
   */
  view?(spec: NativeSpec): Promise<NativeView>;
  close(): Promise<void>;
}

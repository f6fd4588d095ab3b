/**
 * The JSON the page reads, as the page sees it: GET status (the watcher's `WatchStatus`, of which
 * only the fields the page shows are named here) and GET demo. Types only, shared by both sides:
 * src/daemon/dashboard.ts checks at compile time that what the watcher sends still fits.
 */

/** One probe of the last hour, oldest first. */
export interface ProbePoint {
  at: string;
  ok: boolean;
  latencyMs: number;
}

export interface OriginJson {
  originId: string;
  /** `unknown` | `up` | `down`; also the card's CSS class. */
  state: string;
  /** When the origin entered `state` (ISO 8601). */
  since: string;
  url: string;
  /** DNS points here now. */
  active: boolean;
  onCurrentRelease: boolean;
  release?: string;
  deployedAt?: string;
  latencyMs?: number;
  history: ProbePoint[];
  certificateWarning?: string;
  lastProbe?: { ok: boolean; error?: string };
}

export interface ProviderJson {
  provider: string;
  /** The record sets it answered at the last read, as `TYPE ttl value…` lines. */
  records: string[];
  lastReadAt?: string;
  lastWriteAt?: string;
  lastWriteOk?: boolean;
  lastError?: string;
  pending: boolean;
  attempts: number;
  nextRetryAt?: string;
}

/** A DNS host's own view (providers with `failover: native`), beside the watcher's. */
export interface NativeJson {
  provider: string;
  /** When the host's view was last read (ISO 8601). */
  at?: string;
  error?: string;
  /** By origin id: `up` | `down` (the watcher's also `unknown`). */
  origins: Record<string, { host: string; watcher: string; disagreeingSince?: string; detail?: string }>;
}

/** One watcher of a cluster: its own view of every origin, and whether the quorum counts it. */
export interface ClusterWatcherJson {
  id: string;
  /** When it published this view, on its own clock (ISO 8601). */
  at: string;
  /** By origin id; `state` is `unknown` | `up` | `down`. */
  origins: Record<string, { state: string; release?: string; latencyMs?: number; error?: string }>;
  counted: boolean;
  ignoredBecause?: string;
}

/** With `watch.cluster`: this watcher's place in the cluster, every watcher's view, the quorum. */
export interface ClusterJson {
  /** This watcher's id. */
  id: string;
  leader?: string;
  leading: boolean;
  /** Since when this watcher leads (only while it does). */
  leadingSince?: string;
  etcdReachable: boolean;
  quorum: number;
  quorumLost: boolean;
  watchers: ClusterWatcherJson[];
  /** By origin id: the cluster's verdict and how many counted watchers see it up and down. */
  origins: Record<string, { health: string; up: number; down: number }>;
}

/** One origin as an edge in the watcher's process reaches it, and the traffic it served. */
export interface EdgeOriginJson {
  id: string;
  url: string;
  /** `ok` | `skipped` (failed in a row, retried in the background) | `down` (the watcher says so). */
  state: string;
  /** While skipped: when the next background try is due (ISO 8601). */
  retryAt?: string;
  lastError?: string;
  /** Requests it answered, the bytes it sent, and attempts on it that failed. */
  served: number;
  bytes: number;
  failed: number;
}

/** An `outlast edge` running in the watcher's process (src/edge/types.ts's EdgeStatus). */
export interface EdgeJson {
  /** The URLs it listens on, `https://…` first with TLS. */
  urls: string[];
  /** The release it serves and since when; absent until one is known. */
  release?: { id: string; since: string; files: number; bytes: number };
  /** Every origin failed or was skipped at the last request: the site comes from the cache. */
  cacheOnly: boolean;
  origins: EdgeOriginJson[];
  cache: {
    files: number;
    bytes: number;
    maxBytes: number;
    hits: number;
    misses: number;
    /** Background fill of the current release: files held of its total. */
    warm: { held: number; total: number; running: boolean };
  };
  requests: { total: number; failedOver: number; cacheOnly: number; errors: number };
  tls?: { mode: string; subject?: string; daysLeft?: number; lastError?: string };
}

export interface EventJson {
  at: string;
  kind: string;
  message: string;
}

export interface StatusJson {
  name: string;
  policy: string;
  failback: string;
  /** The origins DNS points to. */
  active: string[];
  activeSince?: string;
  reason?: string;
  paused: boolean;
  awaitingFailback: boolean;
  currentRelease?: string;
  expectedFailoverSeconds: number;
  origins: OriginJson[];
  providers: ProviderJson[];
  /** Only when some provider has `failover: native`. */
  native?: NativeJson[];
  /** Only with `watch.cluster`. */
  cluster?: ClusterJson;
  /** Only while an `outlast edge` runs in the watcher's process. */
  edges?: EdgeJson[];
  /** Oldest first. */
  events: EventJson[];
  startedAt: string;
}

/** GET demo: the local origins `outlast demo` can stop and start. */
export interface DemoJson {
  origins: { id: string; running: boolean }[];
}

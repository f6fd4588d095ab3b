/**
 * The contracts between the parts of `outlast edge` (src/edge/): what the server, the fetcher,
 * the cache, the release view, TLS and the dashboard exchange. Pure types.
 */

/** One origin as the edge reaches it: its public URL, as the health checks probe it. */
export interface EdgeOrigin {
  id: string;
  /** Public base URL, may carry a path (Swift: `/v1/AUTH_test/web`); an object is `url/<key>`. */
  url: string;
  /** Sent as Host and used as the TLS server name instead of the URL's host. */
  hostHeader?: string;
}

/** What the watcher in the same process knows of an origin (absent: the edge judges alone). */
export type WatcherHealth = 'up' | 'down' | 'unknown';

export interface HealthView {
  /** The watcher's rise/fall state of the origin, or `undefined` when it does not know it. */
  state(originId: string): WatcherHealth | undefined;
}

/** How one origin looks from the edge. */
export interface EdgeOriginStatus {
  id: string;
  url: string;
  /** `ok`: tried in order; `skipped`: failed `failures` times in a row, tried again in the
   * background after the cooldown; `down`: the watcher in this process says so. */
  state: 'ok' | 'skipped' | 'down';
  consecutiveFailures: number;
  /** While skipped: when the next background try is due (ISO 8601). */
  retryAt?: string;
  /** The release its beacon named at the last poll, and that poll's error if it failed. */
  release?: string;
  lastError?: string;
  /** Requests this origin answered (the body verified), and the bytes it sent. */
  served: number;
  bytes: number;
  /** Attempts on this origin that failed (and went on to the next origin or the cache). */
  failed: number;
}

export interface EdgeTlsStatus {
  mode: 'files' | 'acme';
  /** The certificate being served. */
  subject?: string;
  names?: string[];
  validTo?: string;
  daysLeft?: number;
  /** The last reload or renewal problem (the previous certificate is still served). */
  lastError?: string;
  /** ACME: when the next renewal is due (ISO 8601). */
  renewAt?: string;
}

export interface EdgeStatus {
  /** The URLs the edge listens on (`https://…` first with TLS). */
  urls: string[];
  startedAt: string;
  /** The release every request is served from, and since when; undefined until one is known. */
  release?: { id: string; deployedAt: string; since: string; files: number; bytes: number };
  /** Every origin failed or was skipped at the last request: the site is served from the cache. */
  cacheOnly: boolean;
  origins: EdgeOriginStatus[];
  cache: {
    files: number;
    bytes: number;
    maxBytes: number;
    hits: number;
    misses: number;
    /** Background fill of the current release: files held of the release's total. */
    warm: { held: number; total: number; running: boolean };
  };
  requests: {
    total: number;
    /** Requests that needed more than one origin. */
    failedOver: number;
    /** Requests answered from the cache while no origin could answer. */
    cacheOnly: number;
    /** 5xx the edge itself sent (no origin and no cached copy). */
    errors: number;
  };
  tls?: EdgeTlsStatus;
}

/** The certificate side of the edge (src/edge/tls.ts makes one for `edge.tls`). */
export interface TlsManager {
  /** Resolves once a certificate is usable: files read and checked, or ACME's certificate loaded
   *  from `acme.dir` (if still valid past renewDaysBefore) or newly issued. Rejects with an
   *  OutlastError (invalid_argument: naming the file and what is wrong; unavailable: the CA). */
  start(): Promise<void>;
  /** The PEM cert chain and key to serve now (for tls.createSecureContext / server.setSecureContext).
   *  Throws `internal` before `start()` has resolved. */
  current(): { cert: string; key: string };
  /** Called after every change of the served certificate (file reload, renewal), never for the
   *  first one `start()` loads. Returns the function that removes the listener. */
  onChange(listener: () => void): () => void;
  /** HTTP-01: the key authorization for `token` while a challenge is pending, else undefined. */
  challenge(token: string): string | undefined;
  status(): EdgeTlsStatus;
  /** Stops watchers and timers. Idempotent. */
  stop(): Promise<void>;
}

/**
 * The storage driver contract. One driver per backend, in `src/storage/drivers/<name>.ts`.
 *
 * The rest of the app never calls a driver directly: it goes through `Store` (store.ts), which
 * validates keys, applies the origin's key prefix, retries retryable errors, counts requests and
 * logs. A driver therefore sees only valid, prefixed keys and does one attempt per call.
 *
 * Keys: non-empty, `/`-separated, Unicode NFC, no leading `/`, no empty, `.` or `..` segment, no
 * control characters, at most 1,024 UTF-8 bytes. They may contain spaces, `#`, `?`, `%`, `+` and
 * any Unicode, and must round-trip exactly (a driver escapes what its backend needs).
 *
 * Errors: every method throws `OutlastError` with one of the codes in errors.ts, the driver's name
 * as `source` and the backend's error as `cause`; `unavailable`, `timeout` and `rate_limited` are
 * retryable. A driver maps its backend's errors onto these codes and nothing else.
 *
 * Cancelling: every call takes an optional `signal`. Once it is aborted, the call sends nothing
 * more and rejects with `cancelled` (not retryable), also when it was aborted before the call
 * began. A put aborted before it completed leaves the key as it was: no part of the new object,
 * and for a new key nothing at all, is ever visible (the backend discards an incomplete upload).
 * An abort after the backend has committed a write cannot take it back: the call may then succeed,
 * or reject with `cancelled` though the write was done; the next stat or list tells.
 */
import type { Readable } from 'node:stream';
import type { SetupStep, WriteGate } from '../writes.ts';

/** User metadata keys are lowercase ASCII letters, digits and `-`; values are printable ASCII. */
export type UserMetadata = Record<string, string>;

/** The HTTP headers a static site needs per object; each one is served as-is by the origin. */
export interface ObjectHeaders {
  contentType?: string;
  cacheControl?: string;
  contentEncoding?: string;
  contentDisposition?: string;
  contentLanguage?: string;
}

/** The fields of ObjectHeaders, in the order manifests and sidecars write them. */
export const OBJECT_HEADER_NAMES = [
  'contentType',
  'cacheControl',
  'contentEncoding',
  'contentDisposition',
  'contentLanguage',
] as const satisfies readonly (keyof ObjectHeaders)[];

export interface ObjectInfo extends ObjectHeaders {
  key: string;
  size: number;
  /** The sha256 (hex) that outlast stored with the object, when there is one. */
  sha256?: string;
  /** The backend's ETag, unquoted, when it has one. Not always an MD5 (multipart, SSE). */
  etag?: string;
  lastModified?: Date;
  /** User metadata, keys lowercase, without the backend's prefix (x-amz-meta-, X-Object-Meta-)
   * and without `SHA256_METADATA_KEY` (that one is `sha256`). Exactly what the last put gave. */
  metadata?: UserMetadata;
}

/**
 * Where the bytes of a put come from. A file is opened per attempt, so retries re-read it; a
 * stream likewise: `open` makes a new stream of the same `size` bytes each time it is called (a
 * driver may call it more than once per attempt, e.g. to hash the bytes before sending them).
 */
export type ObjectSource =
  | { kind: 'bytes'; bytes: Uint8Array }
  | { kind: 'file'; path: string; size: number }
  | { kind: 'stream'; open: () => Readable; size: number };

/** What every driver call takes besides its arguments. */
export interface CallOptions {
  /** Aborts the call (see "Cancelling" above): it rejects with `cancelled`. */
  signal?: AbortSignal | undefined;
}

export interface PutOptions extends ObjectHeaders, CallOptions {
  /** The sha256 (hex) of the bytes; stored with the object (sha256 metadata) so a listing or a
   * stat can return it. The driver may use it to have the backend verify the upload. */
  sha256: string;
  /** The MD5 (hex) of the bytes, when the caller knows it (the site scan computes it): a driver
   * whose backend checks uploads by MD5 (Swift's ETag, S3's Content-MD5) sends this one instead of
   * reading the bytes to compute it. It must be the bytes' MD5: such a backend refuses a put whose
   * bytes do not match it, and the key keeps what it had. Other drivers may ignore it. */
  md5?: string;
  /** Further user metadata. */
  metadata?: UserMetadata;
}

export interface ListOptions extends CallOptions {
  /** Only keys that start with this (already prefixed by Store). Not necessarily a whole
   * segment: `assets/app` matches `assets/app.js` and `assets/apple/x`. */
  prefix?: string;
  /** Opaque cursor from the previous page; absent for the first page. */
  cursor?: string;
  /** At most this many items in the page (a driver may return fewer). Default 1,000. */
  pageSize?: number;
}

export interface ListPage {
  /** Items in ascending order of the keys' UTF-8 bytes. `sha256` and headers are filled in when the
   * backend's listing carries them (see capabilities.listHasMetadata), else only key and size. */
  items: ObjectInfo[];
  /** Present when there are more items: pass it back to get the next page. */
  cursor?: string;
}

export interface GetResult {
  info: ObjectInfo;
  body: Readable;
}

export interface DriverCapabilities {
  /** `copy` is implemented (server-side copy within the store, metadata included). */
  copy: boolean;
  /** `deleteMany` is implemented (one request deletes many keys). */
  deleteMany: boolean;
  /** `list` returns sha256 and headers without a stat per object. */
  listHasMetadata: boolean;
  /** A key may be both an object and a "directory" prefix of others (`a` and `a/b`). When false
   * (a filesystem), the put that would make both fails (`conflict` or `invalid_argument`). */
  fileAndDirectorySameName: boolean;
  /** The largest number of keys `deleteMany` takes in one call. */
  maxDeleteBatch: number;
}

export interface StorageDriver {
  /** The driver's name (`fs`, `memory`, `s3`, `swift`, …), used as the source of its errors. */
  readonly name: string;
  readonly capabilities: DriverCapabilities;

  /**
   * One page of objects. A missing bucket or container is `not_found`; an empty one gives no items.
   * Safe to call concurrently. Objects written during a listing may or may not appear.
   */
  list(options: ListOptions): Promise<ListPage>;

  /** The object's info, or `undefined` when it does not exist (never `not_found` for a missing
   * object; a missing bucket is `not_found`). */
  stat(key: string, options?: CallOptions): Promise<ObjectInfo | undefined>;

  /** The object's bytes and info; a missing object (or bucket) is `not_found`. The signal aborts
   * the request; a body already returned is the caller's to stop. */
  get(key: string, options?: CallOptions): Promise<GetResult>;

  /**
   * Writes the object with its headers and metadata, replacing any object at that key and all of
   * its headers and metadata (a header the put does not set is gone afterwards). Atomic:
   * readers see the old object or the new one, never a part. Idempotent. Concurrent puts to
   * different keys are safe; to the same key, the last one wins.
   */
  put(key: string, source: ObjectSource, options: PutOptions): Promise<void>;

  /** Deletes the object. Idempotent: deleting a missing object succeeds. */
  delete(key: string, options?: CallOptions): Promise<void>;

  /** Deletes many objects (at most `capabilities.maxDeleteBatch`); idempotent like `delete`.
   * Store uses it when `capabilities.deleteMany`, else it runs single deletes concurrently.
   * Only when `capabilities.deleteMany`. Throws when any key could not be deleted. */
  deleteMany?(keys: string[], options?: CallOptions): Promise<void>;

  /** Server-side copy within the store, the source's headers and metadata included. A missing
   * source is `not_found`. Only when `capabilities.copy`. */
  copy?(fromKey: string, toKey: string, options?: CallOptions): Promise<void>;

  /**
   * Extra keys this backend needs to serve the site, as alias → site key: the object at the alias
   * holds the same bytes and headers as the site key. Swift's staticweb, for one, serves the
   * error page from `<status><web-error>` (`404error.html`), not from the page's own key. Pure;
   * the deploy engine treats aliases as part of every release on this origin.
   */
  siteAliases?(site: SiteDocuments): Record<string, string>;

  /**
   * Makes the bucket or container ready to serve the site (`outlast setup`): creates it (only with
   * `create`), makes it publicly readable, sets the index and error documents and CORS. Idempotent:
   * a second run changes nothing and says `already` for each step. A step the backend cannot do
   * is reported as `unsupported` with what to do instead, never thrown.
   */
  setup?(options: SetupOptions): Promise<SetupStep[]>;

  /**
   * The largest object one put can store, when the backend has a limit outlast cannot get past
   * (Swift's `max_file_size`, 5 GiB unless `/info` says otherwise); undefined when there is none
   * it knows of. Asked once per driver, before a deploy writes anything, so that a file too large
   * fails the plan instead of a deploy half done.
   */
  maxObjectBytes?(options?: CallOptions): Promise<number | undefined>;

  /**
   * Drops the CDN's cached copies of `keys` (prefixed keys, as stored), so that visitors get the
   * new bytes at once instead of when the CDN's TTL ends (`deploy.purge: true`). Present only on a
   * driver with a CDN it can purge (Rackspace Cloud Files, swift-cdn.ts). The deploy engine calls
   * it once per origin after the deploy's commit and deletes, with the keys whose object changed
   * (bytes or headers, or may have) and the keys deleted; never for new keys, and never in a dry
   * run. A CDN's purge limits are the driver's to keep. Never throws: what it did not purge is in
   * the result, with why; a purge never fails a deploy.
   */
  purge?(keys: string[], options?: CallOptions): Promise<PurgeResult>;

  /** Releases sockets, timers and handles. The driver is not used afterwards. */
  close?(): Promise<void>;
}

/** What a CDN purge did (StorageDriver.purge); keys as the caller gave them. */
export interface PurgeResult {
  purged: string[];
  /** Keys left to the CDN's TTL (over a limit, or refused). */
  notPurged: string[];
  /** Why `notPurged` were not purged, in a few words (the caller names the keys); undefined when
   * all were purged. */
  reason: string | undefined;
}

export interface SiteDocuments {
  indexDocument: string;
  errorDocument?: string;
}

export interface CorsRule {
  allowedOrigins: string[];
  allowedMethods: string[];
  allowedHeaders: string[];
  maxAgeSeconds: number;
}

export interface SetupOptions extends SiteDocuments {
  /** Create the bucket or container when it is missing (else a missing one is `not_found`). */
  create: boolean;
  /**
   * Where each change is handed (writes.ts): a step reads what is there, works out what is
   * wanted and gives the change to the gate, which in a dry run reports it as `would` and changes
   * nothing. A driver takes it with `gateOf(options)`. Default: `dryRun`'s, else live.
   */
  gate?: WriteGate;
  /** The same as a dry-run gate, for callers without one (a dry run wins when both are given). */
  dryRun?: boolean;
  cors?: CorsRule;
}

export type { SetupStep } from '../writes.ts';

/** What a driver's row in the README says besides its capabilities (its options module declares
 * it; src/storage/docs.ts prints the table). */
export interface StorageDriverDocs {
  /** What it stores to, in a few words. */
  summary: string;
  /** How it keeps sha256 and headers, limits, what `outlast setup` does. */
  notes: string;
}

/** The sha256 is stored as this user metadata key by every driver. */
export const SHA256_METADATA_KEY = 'outlast-sha256';

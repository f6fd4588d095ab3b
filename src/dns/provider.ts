/**
 * The DNS provider contract. One provider per DNS host, in `src/dns/providers/<name>.ts`.
 *
 * A provider reads the record sets at one name and applies a change set; it never diffs. The
 * core (plan.ts) computes the change set from what was read and what the failover machine wants,
 * so every provider behaves the same, and `before` in each change is what was read: providers
 * that can (RFC 2136 prerequisites, Route 53's DELETE of the exact old set) apply a change only if
 * the set is still `before` (compare-and-set), so two watchers cannot clobber each other.
 *
 * The app never talks to a host module directly: every provider is a host module (`DnsHost`,
 * src/dns/checked.ts) behind the one wrapper that validates names, types and TTLs against the
 * declared capabilities, emulates compare-and-set where the host has none, counts and logs.
 *
 * Names are absolute, lowercase, without the trailing dot (`www.example.com`); CNAME targets too.
 * Errors are `OutlastError`s with the provider's name as `source`: a refused key or an update the
 * server will not take is `permission_denied`, a name outside the zone `invalid_argument`, a lost
 * compare-and-set `conflict`, a server that does not answer `unavailable` or `timeout` (retryable).
 */

export const MANAGED_TYPES = ['A', 'AAAA', 'CNAME'] as const;
export type ManagedType = (typeof MANAGED_TYPES)[number];

export interface RecordSet {
  name: string;
  type: ManagedType;
  ttl: number;
  /** Addresses for A/AAAA (as written by `inet_ntop`: lowercase, compressed IPv6), one name for CNAME. Sorted. */
  values: string[];
}

export interface DnsChange {
  name: string;
  type: ManagedType;
  /** The set as read (undefined: there was none). Compare-and-set providers require it to still be there. */
  before: RecordSet | undefined;
  /** The set wanted (undefined: delete it). */
  after: RecordSet | undefined;
}

/** RFC 2181 §8: a TTL is an unsigned 31-bit number. */
export const MAX_TTL = 2 ** 31 - 1;

/** A host name as DNS hosts take it: labels of letters, digits, `-` and `_`, 253 characters at most. */
const HOST_NAME =
  /^(?=.{1,253}$)([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)(\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)*$/;

/** Is `name` (normalized: lowercase, no trailing dot) a valid host name? */
export function isHostName(name: string): boolean {
  return HOST_NAME.test(name);
}

export interface DnsProviderCapabilities {
  /** `apply` fails with `conflict` when a set is no longer `before`. */
  compareAndSet: boolean;
  /** All changes of one `apply` take effect together or not at all. */
  atomic: boolean;
  /** The smallest TTL the host accepts. */
  minTtl: number;
  types: readonly ManagedType[];
}

/** The prose of a provider's row in the README's table (src/dns/capabilities.ts prints it). */
export interface DnsProviderDocs {
  /** What it talks to. */
  summary: string;
  /** How compare-and-set is done (or emulated). */
  compareAndSet: string;
  /** Why an apply is (or is not) all or nothing. */
  atomic: string;
  /** What happens to aliases and records the host manages itself. */
  aliases: string;
  /** What the credentials must be allowed to do. */
  permissions: string;
  /** How `failover: native` is provisioned at the host; absent: the host has no native mode yet. */
  nativeFailover?: string;
}

/** Per call. */
export interface DnsCallOptions {
  /** Aborts the call: nothing more is sent, and it rejects with `cancelled`. An abort after a
   * write was sent cannot take the write back; the next read tells. */
  signal?: AbortSignal | undefined;
}

/** Calls made to the host so far (each retry of the caller counts). */
export interface DnsRequestCounts {
  reads: number;
  writes: number;
}

export interface DnsProvider {
  /** e.g. `powerdns`, `rfc2136`; `describe` gives the instance (`powerdns example.com @ http://…`). */
  readonly name: string;
  readonly capabilities: DnsProviderCapabilities;
  /** One line naming the host and zone, for logs and status. Never a secret. */
  describe(): string;

  /** The A, AAAA and CNAME sets at `name` (empty when there are none). A name outside the zone is
   * `invalid_argument`. Safe to call concurrently. */
  read(name: string, options?: DnsCallOptions): Promise<RecordSet[]>;

  /** Applies the changes (all at `name`s inside the zone). Idempotent when `after` is already
   * there. With compareAndSet, a set that is no longer `before` is `conflict` and nothing changes. */
  apply(changes: DnsChange[], options?: DnsCallOptions): Promise<void>;

  /** The host calls made so far, for logs, status and tests. */
  requests(): DnsRequestCounts;

  /** Releases sockets and timers. */
  close?(): Promise<void>;
}

/** `WWW.Example.COM.` → `www.example.com`. */
export function normalizeName(name: string): string {
  return name.trim().toLowerCase().replace(/\.$/, '');
}

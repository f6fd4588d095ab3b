/**
 * The one door to every DNS host, as `Store` is to every store. A host module (`DnsHost`, one per
 * file in providers/) only translates between the contract and its host: it fetches what the host
 * holds at a name and writes change sets. Everything else happens here, once, for all of them:
 *
 *   - names, types, TTLs and values are checked against the host's declared capabilities before
 *     any request, and normalized (canonical addresses, lowercase names, sorted values);
 *   - compare-and-set is emulated for hosts without it: the names are fetched right before the
 *     write, a change already at `after` is dropped, one neither `before` nor `after` is a
 *     `conflict` and nothing is written; the write then gets only the changes still to make, with
 *     what was fetched (so a host that needs record ids does not read twice);
 *   - for hosts with compare-and-set, a refused write (`conflict`) is settled: the names are read
 *     again; when every set is already `after` there is nothing to do (the same apply twice,
 *     another watcher's same move), when one is neither it is a conflict, and when some are still
 *     `before` in the host's own stored form the rest is written once more;
 *   - calls are counted, logged, and aborted through an `AbortSignal`;
 *   - every write goes through the provider's write gate (writes.ts): in a dry run everything
 *     above still happens (checks, reads, what is still to make), and the write is only listed.
 *
 * Sets the host holds but outlast must not write (Route 53 aliases, DNS Made Easy's own failover)
 * are read with marker values (`alias:…`); `foreign` names them, and a change touching one is
 * `invalid_argument`.
 */
import { isIP } from 'node:net';
import { isOutlastError, OutlastError } from '../errors.ts';
import { componentLogger } from '../util/log.ts';
import { LIVE, type WriteGate } from '../writes.ts';
import { canonicalValues, sameSet } from './plan.ts';
import {
  type DnsCallOptions,
  type DnsChange,
  type DnsProvider,
  type DnsProviderCapabilities,
  type DnsRequestCounts,
  isHostName,
  MANAGED_TYPES,
  MAX_TTL,
  type ManagedType,
  normalizeName,
  type RecordSet,
} from './provider.ts';

/** What one host module implements. `Held` is what it fetches at a name (default: the sets). */
export interface DnsHost<Held = RecordSet[]> {
  /** The provider type, e.g. `powerdns`; errors and logs name it. */
  readonly name: string;
  readonly capabilities: DnsProviderCapabilities;
  /** One line naming the host and zone; never a secret. */
  describe(): string;
  /**
   * The zone every name must be in (normalized), or undefined for a host that takes any name
   * (memory). May ask the host, once (a zone given by id).
   */
  zone(options: DnsCallOptions): string | undefined | Promise<string | undefined>;
  /** What the host holds at `name` (checked, inside the zone). Safe to call concurrently. */
  fetch(name: string, options: DnsCallOptions): Promise<Held>;
  /** The managed sets in what `fetch` returned; without it, `Held` is the sets themselves. */
  sets?(name: string, held: Held): RecordSet[];
  /**
   * Writes checked changes. With `capabilities.compareAndSet` the host itself refuses (`conflict`)
   * a set that is no longer `before`, and `held` is empty. Without it the changes are only those
   * still to make, and `held` is what was fetched at each of their names right before.
   */
  write(changes: DnsChange[], held: ReadonlyMap<string, Held>, options: DnsCallOptions): Promise<void>;
  /** Why outlast must not write this set as read (an alias, the host's own failover), or undefined. */
  foreign?(set: RecordSet): { what: string; hint?: string } | undefined;
  /** `change.after` counts as there though the sets differ (Cloudflare's proxied TTL). */
  alreadyThere?(held: Held, change: DnsChange): boolean;
  /** For compare-and-set hosts: settle a refused write by reading again (see the module comment). */
  settleConflicts?: boolean;
  /** The largest TTL the host takes (default 2³¹ − 1, RFC 2181's limit). */
  maxTtl?: number;
  /** Shown with a TTL the host would refuse, e.g. the range of the host's plans. */
  ttlHint?: string;
  close?(): Promise<void>;
}

export interface CheckedOptions {
  /** Where every write passes; a dry-run gate lists it and writes nothing. Default live. */
  gate?: WriteGate;
}

/**
 * Hands a gate to a provider after it was made (`gateDnsProvider`): host modules build their
 * provider themselves, so `createDnsProvider` cannot pass one in. A symbol, so that a host module
 * that spreads the provider into its own object (embedded) keeps it.
 */
const SET_GATE = Symbol('outlast.dns.setGate');
type Gateable = { [SET_GATE]?: (gate: WriteGate) => void };

/** The provider the app uses, around one host module. */
export function checkedDnsProvider<Held>(host: DnsHost<Held>, options: CheckedOptions = {}): DnsProvider {
  const { capabilities } = host;
  let gate = options.gate ?? LIVE;
  const log = componentLogger('dns', { provider: host.name });
  const counts: DnsRequestCounts = { reads: 0, writes: 0 };
  const fail = (code: 'invalid_argument' | 'conflict', message: string, extra: Extra = {}) =>
    new OutlastError(code, message, { source: host.name, ...extra });
  const setsOf = (name: string, held: Held): RecordSet[] =>
    host.sets ? host.sets(name, held) : (held as RecordSet[]);

  async function fetch(name: string, options: DnsCallOptions): Promise<Held> {
    checkSignal(options.signal, host.name);
    counts.reads++;
    return host.fetch(name, options);
  }

  async function write(
    changes: DnsChange[],
    held: ReadonlyMap<string, Held>,
    options: DnsCallOptions,
  ): Promise<void> {
    checkSignal(options.signal, host.name);
    await gate.run(`write to ${host.name}: ${changes.map(describeChange).join('; ')}`, async () => {
      counts.writes++;
      log.debug({ changes: changes.map((change) => `${change.name} ${change.type}`) }, 'dns write');
      await host.write(changes, held, options);
    });
  }

  /** `name` normalized, valid, inside the zone; invalid_argument before any request otherwise. */
  function inZone(name: string, zone: string | undefined): string {
    const host = normalizeName(name);
    if (!isHostName(host)) throw fail('invalid_argument', `${JSON.stringify(name)} is not a valid DNS name`);
    if (zone !== undefined && host !== zone && !host.endsWith(`.${zone}`)) {
      throw fail('invalid_argument', `${host} is outside the zone ${zone}`);
    }
    return host;
  }

  function refuseForeign(name: string, type: ManagedType, set: RecordSet | undefined): void {
    const foreign = set && host.foreign?.(set);
    if (!foreign) return;
    throw fail(
      'invalid_argument',
      `${name} ${type} is ${foreign.what}, which outlast does not manage`,
      foreign.hint === undefined ? {} : { hint: foreign.hint },
    );
  }

  /**
   * One set of a change, normalized. `after` must be writable (the host's TTL range); `before` is
   * what a read gave, so its TTL only has to be one a host can hold.
   */
  function checkSet(name: string, type: ManagedType, set: RecordSet, role: 'before' | 'after'): RecordSet {
    const where = `${name} ${type}`;
    if (normalizeName(set.name) !== name || set.type !== type) {
      throw fail('invalid_argument', `${where}: the change carries a set for ${set.name} ${set.type}`);
    }
    refuseForeign(name, type, set);
    const minTtl = role === 'after' ? capabilities.minTtl : 0;
    const maxTtl = role === 'after' ? (host.maxTtl ?? MAX_TTL) : MAX_TTL;
    if (!Number.isInteger(set.ttl) || set.ttl < minTtl || set.ttl > maxTtl) {
      throw fail(
        'invalid_argument',
        `${where}: TTL ${set.ttl} is not an integer from ${minTtl} to ${maxTtl}`,
        host.ttlHint === undefined ? {} : { hint: host.ttlHint },
      );
    }
    const values = canonicalValues({ ...set, type });
    if (values.length === 0) {
      throw fail('invalid_argument', `${where}: a set needs at least one value (delete it instead)`);
    }
    const bad = values.find((value) => !validValue(type, value));
    if (bad !== undefined) {
      throw fail('invalid_argument', `${where}: ${JSON.stringify(bad)} is not a valid ${type} value`);
    }
    if (type === 'CNAME' && values.length > 1) {
      throw fail('invalid_argument', `${where}: a CNAME has exactly one target`);
    }
    return { name, type, ttl: set.ttl, values };
  }

  function checkChange(change: DnsChange, zone: string | undefined): DnsChange {
    const name = inZone(change.name, zone);
    const { type } = change;
    if (!MANAGED_TYPES.includes(type) || !capabilities.types.includes(type)) {
      throw fail('invalid_argument', `${name}: type ${String(type)} is not managed by ${host.name}`);
    }
    return {
      name,
      type,
      before: change.before && checkSet(name, type, change.before, 'before'),
      after: change.after && checkSet(name, type, change.after, 'after'),
    };
  }

  /** What was fetched at each name. */
  async function fetchAll(names: string[], options: DnsCallOptions): Promise<Map<string, Held>> {
    return new Map(await Promise.all(names.map(async (name) => [name, await fetch(name, options)] as const)));
  }

  /**
   * The changes still to make against what is held: one at `after` is dropped, one at `before`
   * kept, one at neither a conflict.
   */
  function stillToMake(changes: DnsChange[], held: ReadonlyMap<string, Held>, cause?: unknown): DnsChange[] {
    const names = [...new Set(changes.map((change) => change.name))].join(', ');
    return changes.filter((change) => {
      const state = held.get(change.name) as Held;
      const current = setsOf(change.name, state).find((set) => set.type === change.type);
      refuseForeign(change.name, change.type, current);
      if (matches(current, change.after) || host.alreadyThere?.(state, change)) return false;
      if (matches(current, change.before)) return true;
      throw fail(
        'conflict',
        `the records at ${names} changed since they were read: ${change.name} ${change.type} is ${show(current)}, expected ${show(change.before)}`,
        cause === undefined ? {} : { cause },
      );
    });
  }

  const empty: ReadonlyMap<string, Held> = new Map();

  const provider: DnsProvider & Gateable = {
    [SET_GATE]: (next) => {
      gate = next;
    },
    name: host.name,
    capabilities,

    describe() {
      return host.describe();
    },

    async read(name, options = {}) {
      const zone = await host.zone(options);
      const checked = inZone(name, zone);
      return setsOf(checked, await fetch(checked, options));
    },

    async apply(changes, options = {}) {
      checkSignal(options.signal, host.name);
      if (changes.length === 0) return;
      const zone = await host.zone(options);
      // Everything is checked before anything is sent: one bad value fails the whole apply.
      const checked = changes.map((change) => checkChange(change, zone));
      const names = [...new Set(checked.map((change) => change.name))];
      if (!capabilities.compareAndSet) {
        const held = await fetchAll(names, options);
        const pending = stillToMake(checked, held);
        if (pending.length > 0) await write(pending, held, options);
        return;
      }
      try {
        await write(checked, empty, options);
      } catch (error) {
        if (!host.settleConflicts || !isOutlastError(error, 'conflict')) throw error;
        const pending = stillToMake(checked, await fetchAll(names, options), error);
        if (pending.length === 0) return;
        log.debug({ names }, 'dns write refused though the sets are as read; sent again');
        await write(pending, empty, options);
      }
    },

    requests() {
      return { ...counts };
    },

    async close() {
      await host.close?.();
    },
  };
  return provider;
}

/**
 * `provider`, its writes now through `gate` (see SET_GATE). Refuses (`internal`) a dry-run gate
 * for a provider not made by checkedDnsProvider: it could write past the gate.
 */
export function gateDnsProvider<P extends DnsProvider>(provider: P, gate: WriteGate): P {
  const setGate = (provider as Gateable)[SET_GATE];
  if (setGate) setGate(gate);
  else if (gate.dryRun) {
    throw new OutlastError(
      'internal',
      `${provider.name}: its writes do not pass through checkedDnsProvider`,
      {
        source: provider.name,
      },
    );
  }
  return provider;
}

/** Rejects with `cancelled` once `signal` is aborted: for host modules between their requests. */
export function checkSignal(signal: AbortSignal | undefined, source: string): void {
  if (!signal?.aborted) return;
  throw new OutlastError('cancelled', 'the call was aborted', { source, cause: signal.reason });
}

/** Both absent, or the same set. */
export function matches(held: RecordSet | undefined, wanted: RecordSet | undefined): boolean {
  if (held === undefined || wanted === undefined) return held === wanted;
  return sameSet(held, wanted);
}

/** A change for a sentence: `set www.example.com A to 300 192.0.2.1`, `delete …`. */
function describeChange(change: DnsChange): string {
  const where = `${change.name} ${change.type}`;
  return change.after ? `set ${where} to ${show(change.after)}` : `delete ${where} (${show(change.before)})`;
}

/** A set for a message: `300 192.0.2.1 192.0.2.2`, or `absent`. */
export function show(set: RecordSet | undefined): string {
  return set ? `${set.ttl} ${set.values.join(' ')}` : 'absent';
}

/**
 * For hosts that compare-and-set in process (memory, embedded): the conflict when `held` is
 * neither `before` nor `after` of `change`, else undefined.
 */
export function staleChange(
  held: RecordSet | undefined,
  change: DnsChange,
  source: string,
): OutlastError | undefined {
  if (matches(held, change.after) || matches(held, change.before)) return undefined;
  return new OutlastError(
    'conflict',
    `${change.name} ${change.type} changed since it was read: it is ${show(held)}, expected ${show(change.before)}`,
    { source },
  );
}

type Extra = { hint?: string; cause?: unknown };

function validValue(type: ManagedType, value: string): boolean {
  if (type === 'A') return isIP(value) === 4;
  if (type === 'AAAA') return isIP(value) === 6;
  return isHostName(value);
}

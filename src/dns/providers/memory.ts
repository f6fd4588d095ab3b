/**
 * `memory`: an in-process DNS host, for tests and for `outlast demo`. Record sets live in a module
 * registry keyed by the provider's `name`, so every provider created with the same name (a watcher,
 * `outlast status`, a test's checks) sees the same records within the process.
 *
 * It is zone-less (any name is taken) but otherwise as strict as a real host: values are validated
 * and stored canonical, a CNAME cannot sit beside other data at a name, `apply` is atomic and
 * compare-and-set. That strictness is the point: the conformance suite runs on it, and a planner
 * bug (an A → CNAME change that adds before it deletes) fails here as it would on a real server.
 */
import { isIP } from 'node:net';
import { OutlastError } from '../../errors.ts';
import { canonicalValues, sameSet } from '../plan.ts';
import type { DnsChange, DnsProvider, DnsProviderCapabilities, ManagedType, RecordSet } from '../provider.ts';
import { MANAGED_TYPES, normalizeName } from '../provider.ts';

export interface MemoryDnsOptions {
  /** Providers created with the same name share their records within the process (default `default`). */
  name?: string;
}

const PROVIDER_NAME = 'memory';
const DEFAULT_REGISTRY = 'default';
/** RFC 2181 §8: a TTL is an unsigned 31-bit number. */
const MAX_TTL = 2 ** 31 - 1;
const HOSTNAME =
  /^(?=.{1,253}$)([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)(\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)*$/;

const capabilities: DnsProviderCapabilities = {
  compareAndSet: true,
  atomic: true,
  minTtl: 1,
  types: MANAGED_TYPES,
};

/** A DNS provider on the process-wide registry named `options.name`. */
export function createMemoryDnsProvider(options: MemoryDnsOptions = {}): DnsProvider {
  const registryName = options.name ?? DEFAULT_REGISTRY;
  const zone = zoneOf(registryName);

  return {
    name: PROVIDER_NAME,
    capabilities,

    describe() {
      return `memory ${registryName}`;
    },

    async read(name) {
      const host = checkName(name);
      return MANAGED_TYPES.flatMap((type) => {
        const set = zone.sets.get(keyOf(host, type));
        return set ? [copySet(set)] : [];
      });
    },

    async apply(changes) {
      // An injected fault hits before any effect, like a request that never reached the server.
      const fault = zone.faults.shift();
      if (fault !== undefined) throw fault.error;
      const checked = changes.map(checkChange);

      // Everything is checked against a copy, then swapped in: all changes or none.
      const next = new Map(zone.sets);
      for (const change of checked) {
        const key = keyOf(change.name, change.type);
        const held = zone.sets.get(key);
        if (!matches(held, change.after) && !matches(held, change.before)) {
          throw new OutlastError(
            'conflict',
            `${change.name} ${change.type} changed since it was read: it is ${show(held)}, expected ${show(change.before)}`,
            { source: PROVIDER_NAME },
          );
        }
        if (change.after) next.set(key, change.after);
        else next.delete(key);
      }
      for (const host of new Set(checked.map((change) => change.name))) {
        const types = MANAGED_TYPES.filter((type) => next.has(keyOf(host, type)));
        if (types.includes('CNAME') && types.length > 1) {
          throw new OutlastError(
            'invalid_argument',
            `${host}: a CNAME cannot coexist with other data (${types.join(', ')}); delete the others in the same apply`,
            { source: PROVIDER_NAME },
          );
        }
      }
      zone.sets = next;
    },

    async close() {},
  };
}

/** Removes every record and pending fault of the named registry (for tests). */
export function resetMemoryDns(name: string = DEFAULT_REGISTRY): void {
  const zone = zoneOf(name);
  zone.sets = new Map();
  zone.faults.length = 0;
}

/** Every record set of the named registry, by name then type (copies; for tests and the demo). */
export function memoryDnsRecords(name: string = DEFAULT_REGISTRY): RecordSet[] {
  return [...zoneOf(name).sets.values()]
    .sort((a, b) => (a.name === b.name ? typeRank(a.type) - typeRank(b.type) : a.name < b.name ? -1 : 1))
    .map(copySet);
}

/** Makes the next `apply` on the named registry throw `error` before changing anything. */
export function failNextApply(name: string, error: unknown): void {
  zoneOf(name).faults.push({ error });
}

interface MemoryZone {
  /** Keyed by `name type`; replaced whole on each apply, so a reader never sees half a change. */
  sets: Map<string, RecordSet>;
  faults: Array<{ error: unknown }>;
}

const registry = new Map<string, MemoryZone>();

function zoneOf(name: string): MemoryZone {
  let zone = registry.get(name);
  if (!zone) {
    zone = { sets: new Map(), faults: [] };
    registry.set(name, zone);
  }
  return zone;
}

function keyOf(name: string, type: ManagedType): string {
  return `${name} ${type}`;
}

function typeRank(type: ManagedType): number {
  return MANAGED_TYPES.indexOf(type);
}

function matches(held: RecordSet | undefined, wanted: RecordSet | undefined): boolean {
  if (held === undefined || wanted === undefined) return held === wanted;
  return sameSet(held, wanted);
}

function copySet(set: RecordSet): RecordSet {
  return { ...set, values: [...set.values] };
}

function show(set: RecordSet | undefined): string {
  return set ? `${set.ttl} ${set.values.join(' ')}` : 'absent';
}

function invalid(message: string): OutlastError {
  return new OutlastError('invalid_argument', message, { source: PROVIDER_NAME });
}

function checkName(name: string): string {
  const host = normalizeName(name);
  if (!HOSTNAME.test(host)) throw invalid(`${JSON.stringify(name)} is not a valid DNS name`);
  return host;
}

/** The change with its name and sets normalized; invalid_argument for anything a DNS host refuses. */
function checkChange(change: DnsChange): DnsChange {
  const name = checkName(change.name);
  if (!MANAGED_TYPES.includes(change.type))
    throw invalid(`${name}: type ${String(change.type)} is not managed`);
  const checkSet = (set: RecordSet | undefined) => set && checkSetOf(name, change.type, set);
  return { name, type: change.type, before: checkSet(change.before), after: checkSet(change.after) };
}

function checkSetOf(name: string, type: ManagedType, set: RecordSet): RecordSet {
  const where = `${name} ${type}`;
  if (normalizeName(set.name) !== name || set.type !== type) {
    throw invalid(`${where}: the change carries a set for ${set.name} ${set.type}`);
  }
  if (!Number.isInteger(set.ttl) || set.ttl < capabilities.minTtl || set.ttl > MAX_TTL) {
    throw invalid(`${where}: TTL ${set.ttl} is not an integer from ${capabilities.minTtl} to ${MAX_TTL}`);
  }
  if (set.values.length === 0) throw invalid(`${where}: a set needs at least one value (delete it instead)`);
  for (const value of set.values) {
    const ok =
      type === 'A'
        ? isIP(value) === 4
        : type === 'AAAA'
          ? isIP(value) === 6
          : HOSTNAME.test(normalizeName(value));
    if (!ok) throw invalid(`${where}: ${JSON.stringify(value)} is not a valid ${type} value`);
  }
  const values = canonicalValues(set);
  if (type === 'CNAME' && values.length > 1) throw invalid(`${where}: a CNAME has exactly one target`);
  return { name, type, ttl: set.ttl, values };
}

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
import { OutlastError } from '../../errors.ts';
import { checkedDnsProvider, checkSignal, staleChange } from '../checked.ts';
import type { DnsProvider, ManagedType, RecordSet } from '../provider.ts';
import { MANAGED_TYPES } from '../provider.ts';
import { MEMORY_CAPABILITIES } from './memory-options.ts';

export interface MemoryDnsOptions {
  /** Providers created with the same name share their records within the process (default `default`). */
  name?: string;
}

const PROVIDER_NAME = 'memory';
const DEFAULT_REGISTRY = 'default';

const capabilities = MEMORY_CAPABILITIES;

/** A DNS provider on the process-wide registry named `options.name`. */
export function createMemoryDnsProvider(options: MemoryDnsOptions = {}): DnsProvider {
  const registryName = options.name ?? DEFAULT_REGISTRY;
  const zone = zoneOf(registryName);

  return checkedDnsProvider({
    name: PROVIDER_NAME,
    capabilities,

    describe() {
      return `memory ${registryName}`;
    },

    zone: () => undefined,

    async fetch(host) {
      return MANAGED_TYPES.flatMap((type) => {
        const set = zone.sets.get(keyOf(host, type));
        return set ? [copySet(set)] : [];
      });
    },

    async write(changes, _held, { signal }) {
      // An injected fault hits before any effect, like a request that never reached the server.
      const fault = zone.faults.shift();
      if (fault !== undefined) throw fault.error;
      checkSignal(signal, PROVIDER_NAME);

      // Everything is checked against a copy, then swapped in: all changes or none.
      const next = new Map(zone.sets);
      for (const change of changes) {
        const key = keyOf(change.name, change.type);
        const stale = staleChange(zone.sets.get(key), change, PROVIDER_NAME);
        if (stale) throw stale;
        if (change.after) next.set(key, change.after);
        else next.delete(key);
      }
      for (const host of new Set(changes.map((change) => change.name))) {
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
  });
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

function copySet(set: RecordSet): RecordSet {
  return { ...set, values: [...set.values] };
}

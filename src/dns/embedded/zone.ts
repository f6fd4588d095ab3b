/**
 * The embedded server's zone in memory and the answers it gives: pure functions, no I/O.
 *
 * A `Zone` is an immutable snapshot (static records from the config, the managed sets, the SOA
 * with its serial). Every apply builds a new one and swaps it in whole, so a query or a zone
 * transfer in flight never sees half a change.
 *
 * `lookup` is RFC 1034 §4.3.2 for a server that is authoritative for exactly one zone and
 * delegates nothing: names outside it are REFUSED (no referral to the root, no recursion); a CNAME
 * is followed inside the zone (RFC 1034 §3.6.2) and the rcode is that of the last name of the
 * chain (RFC 6604); a name that does not exist is NXDOMAIN, one that exists without the type
 * (or only has names below it: an empty non-terminal, RFC 8020) is NODATA, and both carry the SOA
 * in the authority section with the TTL min(SOA TTL, SOA minimum) (RFC 2308 §3). ANY gets one
 * RRset (RFC 8482). Like Knot, positive answers carry no NS in the authority section, and the
 * addresses of in-zone NS, MX and SRV targets go in the additional section.
 */
import type { RecordSet } from '../provider.ts';
import { inZone, type Rdata, type RRset, TYPE_CODES, type ZoneDefinition } from './records.ts';

export const RCODE = {
  NOERROR: 0,
  FORMERR: 1,
  SERVFAIL: 2,
  NXDOMAIN: 3,
  NOTIMP: 4,
  REFUSED: 5,
  NOTAUTH: 9,
} as const;

/** Meta query types (RFC 1035 §3.2.3, RFC 1995). */
export const QTYPE = { IXFR: 251, AXFR: 252, MAILB: 253, MAILA: 254, ANY: 255 } as const;

export interface Zone {
  /** The apex, lowercase without the trailing dot. */
  readonly origin: string;
  readonly serial: number;
  /** The SOA RRset, serial included. */
  readonly soa: RRset;
  /** Name → type code → RRset. */
  readonly nodes: ReadonlyMap<string, ReadonlyMap<number, RRset>>;
  /** Every name that exists: those with data and every name between them and the apex. */
  readonly names: ReadonlySet<string>;
}

/** The sections of an answer (the header's other flags are the server's business). */
export interface LookupResult {
  rcode: number;
  /** AA: set for every answer from the zone, clear for REFUSED. */
  authoritative: boolean;
  answer: RRset[];
  authority: RRset[];
  additional: RRset[];
}

/** CNAME hops followed inside the zone before giving up (a chain this long is a mistake). */
const MAX_CHAIN = 8;

/**
 * The snapshot for `definition` plus the managed sets, with `serial` in the SOA. The managed sets
 * must have passed `managedConflict`.
 */
export function buildZone(definition: ZoneDefinition, managed: readonly RecordSet[], serial: number): Zone {
  const { soa: timers, origin } = definition;
  const soa: RRset = {
    name: origin,
    type: 'SOA',
    ttl: timers.ttl,
    records: [
      {
        type: 'SOA',
        mname: timers.mname,
        rname: timers.rname,
        serial,
        refresh: timers.refresh,
        retry: timers.retry,
        expire: timers.expire,
        minimum: timers.minimum,
      },
    ],
  };
  const nodes = new Map<string, Map<number, RRset>>();
  const names = new Set<string>();
  const add = (set: RRset) => {
    let node = nodes.get(set.name);
    if (!node) {
      node = new Map();
      nodes.set(set.name, node);
    }
    node.set(TYPE_CODES[set.type], set);
    for (let name = set.name; inZone(name, origin); name = name.slice(name.indexOf('.') + 1)) {
      names.add(name);
      if (name === origin) break;
    }
  };
  add(soa);
  for (const set of definition.sets) add(set);
  for (const set of managed) add(fromRecordSet(set));
  return { origin, serial, soa, nodes, names };
}

/**
 * Why the managed sets cannot go into the zone (undefined when they can): a name outside the zone,
 * a set where the config has a static one of the same type, or a CNAME beside other data.
 */
export function managedConflict(
  definition: ZoneDefinition,
  managed: readonly RecordSet[],
): string | undefined {
  const staticTypes = new Map<string, string[]>();
  for (const set of definition.sets)
    staticTypes.set(set.name, [...(staticTypes.get(set.name) ?? []), set.type]);
  staticTypes.set(definition.origin, [...(staticTypes.get(definition.origin) ?? []), 'SOA']);
  const managedTypes = new Map<string, string[]>();
  for (const set of managed) {
    if (!inZone(set.name, definition.origin)) return `${set.name} is outside the zone ${definition.origin}`;
    if (staticTypes.get(set.name)?.includes(set.type)) {
      return `${set.name} ${set.type} is a static record of the config; outlast manages other names or types only`;
    }
    managedTypes.set(set.name, [...(managedTypes.get(set.name) ?? []), set.type]);
  }
  for (const [name, types] of managedTypes) {
    const all = [...types, ...(staticTypes.get(name) ?? [])];
    if (all.includes('CNAME') && all.length > 1) {
      return `${name}: a CNAME cannot coexist with other data (${all.join(', ')})`;
    }
  }
  return undefined;
}

/**
 * The SOA serial after a change: max(previous + 1, now in Unix seconds), modulo 2^32. Time-based,
 * so a restarted server (which persists nothing and starts at `now`) still serves a serial above
 * the one its secondaries hold, unless the old process made more changes than it lived seconds.
 */
export function nextSerial(previous: number, nowSeconds: number): number {
  return Math.max(previous + 1, Math.floor(nowSeconds)) % 2 ** 32;
}

/**
 * The answer for `qname` (lowercase, no trailing dot; a label that holds a dot is written with a
 * NUL there instead, so it can match nothing) and `qtype` (a code; AXFR/IXFR are the transfer's).
 */
export function lookup(zone: Zone, qname: string, qtype: number): LookupResult {
  if (!inZone(qname, zone.origin)) {
    return { rcode: RCODE.REFUSED, authoritative: false, answer: [], authority: [], additional: [] };
  }
  const answer: RRset[] = [];
  const seen = new Set<string>();
  let name = qname;
  for (;;) {
    const node = zone.nodes.get(name);
    if (!node) return negative(zone, answer, zone.names.has(name) ? RCODE.NOERROR : RCODE.NXDOMAIN);
    const wanted = qtype === QTYPE.ANY ? anyRRset(node) : node.get(qtype);
    if (wanted) {
      answer.push(wanted);
      return {
        rcode: RCODE.NOERROR,
        authoritative: true,
        answer,
        authority: [],
        additional: additional(zone, answer),
      };
    }
    const cname = node.get(TYPE_CODES.CNAME);
    if (!cname) return negative(zone, answer, RCODE.NOERROR);
    answer.push(cname);
    seen.add(name);
    const record = cname.records[0];
    name = record?.type === 'CNAME' ? record.target : '';
    // Out of the zone, the resolver goes on from here; a loop or a long chain ends the answer.
    if (!inZone(name, zone.origin) || seen.has(name) || seen.size >= MAX_CHAIN) {
      return { rcode: RCODE.NOERROR, authoritative: true, answer, authority: [], additional: [] };
    }
  }
}

/** The SOA as a negative answer carries it (RFC 2308 §3). */
function negativeSoa(zone: Zone): RRset {
  const minimum = (zone.soa.records[0] as Extract<Rdata, { type: 'SOA' }>).minimum;
  return { ...zone.soa, ttl: Math.min(zone.soa.ttl, minimum) };
}

function negative(zone: Zone, answer: RRset[], rcode: number): LookupResult {
  return { rcode, authoritative: true, answer, authority: [negativeSoa(zone)], additional: [] };
}

/** RFC 8482 §4.2: one RRset of the name; the CNAME when there is one, else the lowest type code. */
function anyRRset(node: ReadonlyMap<number, RRset>): RRset | undefined {
  const cname = node.get(TYPE_CODES.CNAME);
  if (cname) return cname;
  const codes = [...node.keys()].sort((a, b) => a - b);
  return codes[0] === undefined ? undefined : node.get(codes[0]);
}

/** A and AAAA of the in-zone targets of NS, MX and SRV records in the answer (RFC 1034 §4.3.2 step 6). */
function additional(zone: Zone, answer: RRset[]): RRset[] {
  const targets = new Set<string>();
  for (const set of answer) {
    for (const record of set.records) {
      if (record.type === 'NS') targets.add(record.target);
      else if (record.type === 'SRV') targets.add(record.target);
      else if (record.type === 'MX') targets.add(record.exchange);
    }
  }
  const sets: RRset[] = [];
  for (const target of targets) {
    if (!inZone(target, zone.origin)) continue;
    const node = zone.nodes.get(target);
    for (const code of [TYPE_CODES.A, TYPE_CODES.AAAA]) {
      const set = node?.get(code);
      if (set && !answer.includes(set)) sets.push(set);
    }
  }
  return sets;
}

/** Every RRset of the zone, SOA first, for AXFR. */
export function allRRsets(zone: Zone): RRset[] {
  const sets: RRset[] = [zone.soa];
  for (const node of zone.nodes.values())
    for (const set of node.values()) if (set !== zone.soa) sets.push(set);
  return sets;
}

/** The managed sets' RRsets: A/AAAA addresses, or the CNAME target. */
function fromRecordSet(set: RecordSet): RRset {
  const records: Rdata[] = set.values.map((value) =>
    set.type === 'CNAME' ? { type: 'CNAME', target: value } : { type: set.type, address: value },
  );
  return { name: set.name, type: set.type, ttl: set.ttl, records };
}

/**
 * DNS change sets, computed by the core for every provider: pure functions.
 */
import { isIP } from 'node:net';
import type { DnsChange, ManagedType, RecordSet } from './provider.ts';
import { MANAGED_TYPES, normalizeName } from './provider.ts';

/** What an origin's `dns` block asks for. */
export type DnsTarget = { cname: string } | { a?: string[]; aaaa?: string[] };

/** The record sets for `name` that point at the given targets (several only for A/AAAA). */
export function desiredRecords(name: string, ttl: number, targets: DnsTarget[]): RecordSet[] {
  const host = normalizeName(name);
  const cnames = targets.flatMap((target) => ('cname' in target ? [normalizeName(target.cname)] : []));
  if (cnames.length > 0) {
    if (targets.length > 1) throw new Error('a name has at most one CNAME: pick one origin');
    return [{ name: host, type: 'CNAME', ttl, values: cnames }];
  }
  const sets: RecordSet[] = [];
  const a = unique(
    targets.flatMap((target) => ('a' in target ? (target.a ?? []) : [])).map(canonicalAddress),
  );
  const aaaa = unique(
    targets.flatMap((target) => ('aaaa' in target ? (target.aaaa ?? []) : [])).map(canonicalAddress),
  );
  if (a.length > 0) sets.push({ name: host, type: 'A', ttl, values: a });
  if (aaaa.length > 0) sets.push({ name: host, type: 'AAAA', ttl, values: aaaa });
  return sets;
}

/**
 * The changes that turn `current` into `desired` at one name: a set whose values or TTL differ is
 * replaced, a managed type that is not desired is deleted, one that is desired and missing is
 * created. No change when they already match (so a watcher writes nothing when nothing changed).
 */
export function planDns(current: RecordSet[], desired: RecordSet[]): DnsChange[] {
  const changes: DnsChange[] = [];
  const names = new Set([...current, ...desired].map((set) => normalizeName(set.name)));
  for (const name of [...names].sort()) {
    for (const type of MANAGED_TYPES) {
      const before = findSet(current, name, type);
      const after = findSet(desired, name, type);
      if (before === undefined && after === undefined) continue;
      if (before !== undefined && after !== undefined && sameSet(before, after)) continue;
      changes.push({ name, type, before, after });
    }
  }
  // Deletes first: a CNAME cannot coexist with other data, so A → CNAME must remove A before.
  return changes.sort((x, y) => Number(x.after !== undefined) - Number(y.after !== undefined));
}

export function sameSet(a: RecordSet, b: RecordSet): boolean {
  return (
    normalizeName(a.name) === normalizeName(b.name) &&
    a.type === b.type &&
    a.ttl === b.ttl &&
    canonicalValues(a).join(' ') === canonicalValues(b).join(' ')
  );
}

/** Values in the form providers compare: addresses canonical, names normalized, sorted. */
export function canonicalValues(set: RecordSet): string[] {
  const values = set.type === 'CNAME' ? set.values.map(normalizeName) : set.values.map(canonicalAddress);
  return unique(values);
}

/** `2001:DB8:0:0::1` → `2001:db8::1`; IPv4 unchanged. */
export function canonicalAddress(address: string): string {
  if (isIP(address) !== 6) return address;
  return new URL(`http://[${address}]/`).hostname.slice(1, -1);
}

function findSet(sets: RecordSet[], name: string, type: ManagedType): RecordSet | undefined {
  return sets.find((set) => normalizeName(set.name) === name && set.type === type);
}

function unique(values: string[]): string[] {
  return [...new Set(values)].sort();
}

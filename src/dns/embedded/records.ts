/**
 * The records of the embedded server's zone as data, and the parsing of the config's text forms
 * into them. Pure: no I/O, no dns-packet, so the config schema can validate a zone with it.
 *
 * Names in `records` (owner and values) follow zone-file rules: `@` is the zone, a name with a
 * trailing dot is absolute, one without is relative to the zone. A relative name that already ends
 * with the zone (`mail.example.com` in example.com) is refused, because a zone file would read it as
 * `mail.example.com.example.com`, which nobody means. `nameservers` and `soa.email` are always
 * absolute (the trailing dot is optional): they are host names and a mailbox, never relative.
 */
import { isIP } from 'node:net';
import { canonicalAddress } from '../plan.ts';
import { isHostName, MAX_TTL } from '../provider.ts';

/** The types a static record may have. */
export const STATIC_TYPES = ['A', 'AAAA', 'CNAME', 'MX', 'TXT', 'NS', 'SRV', 'CAA'] as const;
export type StaticType = (typeof STATIC_TYPES)[number];
export type RecordType = StaticType | 'SOA' | 'HINFO';

/** IANA type codes. */
export const TYPE_CODES: Readonly<Record<RecordType, number>> = {
  A: 1,
  NS: 2,
  CNAME: 5,
  SOA: 6,
  HINFO: 13,
  MX: 15,
  TXT: 16,
  AAAA: 28,
  SRV: 33,
  CAA: 257,
};

/** The data of one record; names are absolute, lowercase, without the trailing dot. */
export type Rdata =
  | { type: 'A' | 'AAAA'; address: string }
  | { type: 'CNAME' | 'NS'; target: string }
  | { type: 'MX'; preference: number; exchange: string }
  /** Character strings of at most 255 bytes each. */
  | { type: 'TXT'; strings: string[] }
  | { type: 'SRV'; priority: number; weight: number; port: number; target: string }
  | { type: 'CAA'; flags: number; tag: string; value: string }
  | {
      type: 'SOA';
      mname: string;
      rname: string;
      serial: number;
      refresh: number;
      retry: number;
      expire: number;
      minimum: number;
    }
  | { type: 'HINFO'; cpu: string; os: string };

/** All records of one name and type. RFC 2181 §5.2: they share one TTL. */
export interface RRset {
  name: string;
  type: RecordType;
  ttl: number;
  records: Rdata[];
}

/** A static record as the config writes it. */
export interface StaticRecordConfig {
  /** `@`, a relative name (`ns1`, `_dmarc`), or an absolute one with a trailing dot. */
  name: string;
  type: StaticType;
  /** Default: the zone's `ttl`. */
  ttl?: number;
  /** Presentation form, e.g. `192.0.2.53`, `10 mail.example.com.`, `0 issue "letsencrypt.org"`. */
  value: string;
}

/** A problem in the zone's config: where (a path below the provider's block) and what. */
export interface ZoneProblem {
  path: Array<string | number>;
  message: string;
}

export { MAX_TTL };

/** `Example.COM.` → `example.com`, or an Error naming what is wrong. */
export function absoluteName(text: string): string {
  const name = text.trim().toLowerCase().replace(/\.$/, '');
  if (!isHostName(name)) throw new Error(`${JSON.stringify(text)} is not a valid DNS name`);
  return name;
}

/** Is `name` the zone or below it (both normalized)? `evilexample.com` is not in `example.com`. */
export function inZone(name: string, zone: string): boolean {
  return name === zone || name.endsWith(`.${zone}`);
}

/** A name as a zone file reads it (see the module comment), absolute and lowercase. */
export function zoneFileName(text: string, zone: string): string {
  const trimmed = text.trim();
  if (trimmed === '@') return zone;
  if (trimmed.endsWith('.')) return absoluteName(trimmed);
  const relative = trimmed.toLowerCase();
  if (relative === zone || relative.endsWith(`.${zone}`)) {
    throw new Error(
      `${JSON.stringify(text)} is relative, so it means ${relative}.${zone}: write "${relative}." for the absolute name, or drop the zone`,
    );
  }
  return absoluteName(`${relative}.${zone}`);
}

/** `hostmaster@example.com` or `hostmaster.example.com` → the SOA RNAME `hostmaster.example.com`. */
export function mailboxName(text: string): string {
  const at = text.indexOf('@');
  if (at < 0) return absoluteName(text);
  const local = text.slice(0, at);
  // A dot in the local part would need a `\.` escape in the RNAME; not worth supporting.
  if (!/^[a-z0-9_+-]+$/i.test(local)) throw new Error(`${JSON.stringify(text)}: use a mailbox without dots`);
  return absoluteName(`${local}.${text.slice(at + 1)}`);
}

/** Parses a static record's value (presentation form) into its data. Throws an Error on bad input. */
export function parseValue(type: StaticType, value: string, zone: string): Rdata {
  const text = value.trim();
  const fields = text.split(/\s+/);
  switch (type) {
    case 'A':
    case 'AAAA': {
      if (isIP(text) !== (type === 'A' ? 4 : 6))
        throw new Error(`${JSON.stringify(value)} is not an ${type} address`);
      return { type, address: canonicalAddress(text) };
    }
    case 'CNAME':
    case 'NS':
      return { type, target: zoneFileName(text, zone) };
    case 'MX': {
      expectFields(fields, 2, 'PREFERENCE EXCHANGE, e.g. "10 mail.example.com."');
      return {
        type,
        preference: uint(fields[0]!, 0xffff, 'preference'),
        exchange: zoneFileName(fields[1]!, zone),
      };
    }
    case 'SRV': {
      expectFields(fields, 4, 'PRIORITY WEIGHT PORT TARGET, e.g. "10 5 443 host.example.com."');
      return {
        type,
        priority: uint(fields[0]!, 0xffff, 'priority'),
        weight: uint(fields[1]!, 0xffff, 'weight'),
        port: uint(fields[2]!, 0xffff, 'port'),
        target: fields[3] === '.' ? '' : zoneFileName(fields[3]!, zone),
      };
    }
    case 'TXT':
      return { type, strings: txtStrings(text) };
    case 'CAA': {
      const match = /^(\d+)\s+([a-z0-9]+)\s+(.*)$/i.exec(text);
      if (!match)
        throw new Error(
          `expected FLAGS TAG VALUE, e.g. '0 issue "letsencrypt.org"', got ${JSON.stringify(value)}`,
        );
      const strings = match[3]!.startsWith('"') ? quotedStrings(match[3]!) : [match[3]!];
      if (strings.length !== 1) throw new Error('a CAA value is one string');
      return {
        type,
        flags: uint(match[1]!, 0xff, 'flags'),
        tag: match[2]!.toLowerCase(),
        value: strings[0]!,
      };
    }
  }
}

/** TXT text: one or more "quoted" strings, or plain text cut into 255-byte strings. */
function txtStrings(text: string): string[] {
  const strings = text.startsWith('"') ? quotedStrings(text) : chunks(text);
  for (const string of strings) {
    if (Buffer.byteLength(string) > 255) throw new Error('a quoted TXT string is at most 255 bytes');
  }
  return strings;
}

function chunks(text: string): string[] {
  const bytes = Buffer.from(text);
  if (bytes.length === 0) return [''];
  const parts: string[] = [];
  // Cut on bytes, but never inside a UTF-8 sequence (continuation bytes are 10xxxxxx).
  for (let start = 0; start < bytes.length; ) {
    let end = Math.min(start + 255, bytes.length);
    while (end < bytes.length && ((bytes[end] ?? 0) & 0xc0) === 0x80) end--;
    parts.push(bytes.toString('utf8', start, end));
    start = end;
  }
  return parts;
}

/** `"a b" "c\"d"` → ['a b', 'c"d']. */
function quotedStrings(text: string): string[] {
  const strings: string[] = [];
  const pattern = /\s*"((?:[^"\\]|\\.)*)"\s*/y;
  let offset = 0;
  while (offset < text.length) {
    pattern.lastIndex = offset;
    const match = pattern.exec(text);
    if (!match) throw new Error(`unbalanced quotes in ${JSON.stringify(text)}`);
    strings.push(match[1]!.replace(/\\(.)/g, '$1'));
    offset = pattern.lastIndex;
  }
  return strings;
}

function expectFields(fields: string[], count: number, form: string): void {
  if (fields.length !== count) throw new Error(`expected ${form}`);
}

function uint(text: string, max: number, what: string): number {
  const value = Number(text);
  if (!/^\d+$/.test(text) || value > max)
    throw new Error(`${what} must be an integer from 0 to ${max}, not ${JSON.stringify(text)}`);
  return value;
}

/** The zone part of the embedded provider's config (see the schema for the documentation). */
export interface ZoneConfig {
  zone: string;
  /** The apex NS records; the first is the SOA's MNAME. */
  nameservers: readonly string[];
  /** TTL of the static records without their own, the SOA and the NS (default 300). */
  ttl?: number;
  soa?: Partial<SoaTimers> & { email?: string; ttl?: number };
  records?: readonly StaticRecordConfig[];
}

export interface SoaTimers {
  refresh: number;
  retry: number;
  expire: number;
  /** The TTL of negative answers (RFC 2308 §4), capped by the SOA's own TTL. */
  minimum: number;
}

/** The zone the config describes, every name absolute and lowercase. */
export interface ZoneDefinition {
  origin: string;
  soa: SoaTimers & { mname: string; rname: string; ttl: number };
  /** The static RRsets, the apex NS included. */
  sets: RRset[];
}

export const ZONE_DEFAULTS = {
  ttl: 300,
  refresh: 3600,
  retry: 600,
  expire: 604800,
  minimum: 60,
} as const;

/**
 * The zone a config describes, with every problem found (all of them, not just the first). Checks:
 * names and values parse, every name is in the zone, records of one RRset share a TTL, a CNAME has
 * no other data beside it (RFC 1034 §3.6.2) nor a second CNAME, the apex is no CNAME, NS only at
 * the apex (the server gives no referrals: delegations are out of scope; apex NS records add to
 * `nameservers`), no wildcard.
 */
export function parseZoneConfig(config: ZoneConfig): { zone: ZoneDefinition; problems: ZoneProblem[] } {
  const problems: ZoneProblem[] = [];
  const attempt = <T>(path: Array<string | number>, fallback: T, parse: () => T): T => {
    try {
      return parse();
    } catch (error) {
      problems.push({ path, message: (error as Error).message });
      return fallback;
    }
  };
  const origin = attempt(['zone'], 'invalid', () => absoluteName(config.zone));
  const ttl = config.ttl ?? ZONE_DEFAULTS.ttl;
  const nameservers = config.nameservers.map((text, index) =>
    attempt(['nameservers', index], 'invalid', () => absoluteName(text)),
  );
  if (nameservers.length === 0)
    problems.push({ path: ['nameservers'], message: 'name at least one nameserver' });
  const soa = {
    mname: nameservers[0] ?? 'invalid',
    rname: attempt(['soa', 'email'], 'invalid', () =>
      mailboxName(config.soa?.email ?? `hostmaster.${origin}`),
    ),
    ttl: config.soa?.ttl ?? ttl,
    refresh: config.soa?.refresh ?? ZONE_DEFAULTS.refresh,
    retry: config.soa?.retry ?? ZONE_DEFAULTS.retry,
    expire: config.soa?.expire ?? ZONE_DEFAULTS.expire,
    minimum: config.soa?.minimum ?? ZONE_DEFAULTS.minimum,
  };
  const sets = new Map<string, RRset>();
  const apexNs: RRset = { name: origin, type: 'NS', ttl, records: [] };
  for (const target of new Set(nameservers)) apexNs.records.push({ type: 'NS', target });
  sets.set(`${origin} NS`, apexNs);
  /** Names given per record index, for the second pass. */
  const names: Array<string | undefined> = [];

  (config.records ?? []).forEach((record, index) => {
    const path = ['records', index];
    const name = attempt([...path, 'name'], undefined, () => {
      if (record.name.split('.').includes('*')) throw new Error('wildcard records are not supported');
      return zoneFileName(record.name, origin);
    });
    names.push(name);
    if (name === undefined) return;
    if (!inZone(name, origin)) {
      problems.push({ path: [...path, 'name'], message: `${name} is outside the zone ${origin}` });
      return;
    }
    const data = attempt([...path, 'value'], undefined, () => parseValue(record.type, record.value, origin));
    if (data === undefined) return;
    const recordTtl = record.ttl ?? ttl;
    const key = `${name} ${record.type}`;
    const set = sets.get(key);
    if (!set) {
      sets.set(key, { name, type: record.type, ttl: recordTtl, records: [data] });
      return;
    }
    // Also for a static apex NS: the set from `nameservers` has the zone's TTL.
    if (set.ttl !== recordTtl) {
      problems.push({
        path: [...path, 'ttl'],
        message: `${name} ${record.type} already has TTL ${set.ttl}: the records of one set share a TTL (RFC 2181 §5.2)`,
      });
    }
    if (record.type === 'CNAME') {
      problems.push({ path, message: `${name} has two CNAMEs: a name is the alias of one name only` });
    }
    if (!set.records.some((held) => JSON.stringify(held) === JSON.stringify(data))) set.records.push(data);
  });

  const typesAt = new Map<string, RecordType[]>();
  for (const set of sets.values()) typesAt.set(set.name, [...(typesAt.get(set.name) ?? []), set.type]);
  (config.records ?? []).forEach((record, index) => {
    const name = names[index];
    if (name === undefined) return;
    const path = ['records', index];
    const others = (typesAt.get(name) ?? []).filter((type) => type !== 'CNAME');
    if (record.type === 'CNAME' && name === origin) {
      problems.push({ path, message: 'the zone apex cannot be a CNAME: it holds the SOA and NS records' });
    } else if (record.type === 'CNAME' && others.length > 0) {
      problems.push({
        path,
        message: `${name} has a CNAME and ${others.join(', ')}: a CNAME cannot have other data beside it`,
      });
    }
    if (record.type === 'NS' && name !== origin) {
      problems.push({
        path,
        message: 'NS records only at the apex (@): the embedded server does not delegate',
      });
    }
  });
  return { zone: { origin, soa, sets: [...sets.values()] }, problems };
}

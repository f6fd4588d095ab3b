/**
 * `rfc2136`: any authoritative server that takes dynamic updates (RFC 2136) signed with TSIG
 * (RFC 8945): BIND, Knot, PowerDNS (with `dnsupdate=yes` and TSIG-ALLOW-DNSUPDATE), Windows DNS…
 *
 * `read` asks the primary itself (A, AAAA and CNAME queries, signed when a key is configured), so
 * the answer is authoritative and fresh, never a cache's. `apply` sends ONE UPDATE for all changes,
 * which the server applies entirely or not at all. Its prerequisites are the compare-and-set: each
 * change requires its `before` to still be there, RR for RR ("RRset exists, value dependent",
 * RFC 2136 §2.4.2, which compares the whole set but not the TTL), or its absence ("RRset does not
 * exist", §2.4.3). The updates delete every touched set before adding the new ones, so an A → CNAME
 * move never has a CNAME beside other data, whatever the order of the changes.
 *
 * A failed prerequisite is `conflict`, unless every set is already what the changes want (the
 * same apply sent twice, or another watcher made the same move): then there is nothing to do.
 *
 * One attempt per call; the caller retries with backoff. An UPDATE is sent over UDP, or TCP when it
 * does not fit in 512 bytes or the reply is truncated.
 */

import { isIP } from 'node:net';
import { decode as decodePacket, type StringAnswer } from 'dns-packet';
import { OutlastError } from '../../errors.ts';
import { canonicalAddress, canonicalValues, sameSet } from '../plan.ts';
import type { DnsChange, DnsProvider, DnsProviderCapabilities, ManagedType, RecordSet } from '../provider.ts';
import { MANAGED_TYPES, normalizeName } from '../provider.ts';
import { describeTsigError, signMessage, type TsigKey, verifyMessage } from '../tsig.ts';
import {
  CLASS_ANY,
  CLASS_IN,
  CLASS_NONE,
  encodeMessage,
  encodeRdata,
  exchange,
  formatServer,
  OPCODE_QUERY,
  OPCODE_UPDATE,
  parseServer,
  RR_TYPES,
  randomId,
  rcodeOf,
  type WireRecord,
  walkMessage,
} from '../wire.ts';

export interface Rfc2136Options {
  /** The primary server, `HOST:PORT` or `[IPV6]:PORT` (e.g. `127.0.0.1:53`). */
  server: string;
  /** The zone the server is authoritative for, e.g. `example.com`. Every name must be in it. */
  zone: string;
  /** Signs queries and updates. Without it they go unsigned, which most servers refuse for updates. */
  tsig?: TsigKey;
  /** Budget of one query or update in ms, the TCP fallback included (default 3000). */
  timeout?: number;
}

const PROVIDER_NAME = 'rfc2136';
const DEFAULT_TIMEOUT_MS = 3000;
/** RFC 2181 §8: a TTL is an unsigned 31-bit number. */
const MAX_TTL = 2 ** 31 - 1;
const HOSTNAME =
  /^(?=.{1,253}$)([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)(\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)*$/;
const RCODE = {
  NOERROR: 0,
  SERVFAIL: 2,
  NXDOMAIN: 3,
  NOTIMP: 4,
  REFUSED: 5,
  NOTAUTH: 9,
  NOTZONE: 10,
} as const;
const RCODE_NAMES = [
  'NOERROR',
  'FORMERR',
  'SERVFAIL',
  'NXDOMAIN',
  'NOTIMP',
  'REFUSED',
  'YXDOMAIN',
  'YXRRSET',
  'NXRRSET',
];
/** Prerequisite failures (RFC 2136 §3.2): YXDOMAIN 6, YXRRSET 7, NXRRSET 8, and NXDOMAIN 3. */
const PREREQUISITE_FAILED = new Set([3, 6, 7, 8]);

interface Reply {
  reply: Buffer;
  /** Signed with our key and verified. */
  verified: boolean;
}

const capabilities: DnsProviderCapabilities = {
  compareAndSet: true,
  atomic: true,
  // A TTL of 0 is legal DNS but means "do not cache", which resolvers treat unevenly; 1 is the floor.
  minTtl: 1,
  types: MANAGED_TYPES,
};

/** A provider that reads from and sends UPDATEs to `options.server` for `options.zone`. */
export function createRfc2136Provider(options: Rfc2136Options): DnsProvider {
  const server = parseServer(options.server);
  const where = formatServer(server);
  const zone = normalizeName(options.zone);
  if (!HOSTNAME.test(zone)) {
    throw new OutlastError('invalid_config', `bad zone name ${JSON.stringify(options.zone)}`, {
      source: PROVIDER_NAME,
    });
  }
  const key = options.tsig;
  if (key !== undefined && !/^[A-Za-z0-9+/]+={0,2}$/.test(key.secret.replace(/\s/g, ''))) {
    // Name the key, never show the secret.
    throw new OutlastError('invalid_config', `the secret of TSIG key "${key.name}" is not base64`, {
      source: PROVIDER_NAME,
    });
  }
  const timeoutMs = options.timeout ?? DEFAULT_TIMEOUT_MS;
  const keyText = key ? `TSIG key "${key.name}"` : 'no TSIG key';
  const fail = (
    code: 'permission_denied' | 'invalid_argument' | 'conflict' | 'unavailable',
    message: string,
  ) => new OutlastError(code, message, { source: PROVIDER_NAME });

  /**
   * Signs, sends, and checks the reply's signature; the caller reads the rcode. `trusted` are the
   * rcodes whose reply is acted on as data: with a key, such a reply must carry a valid signature.
   * Returns whether it did.
   */
  async function send(message: Buffer, what: string, trusted: readonly number[]): Promise<Reply> {
    const signed = key ? signMessage(message, key) : undefined;
    const reply = await exchange(server, signed?.message ?? message, { timeoutMs, source: PROVIDER_NAME });
    try {
      walkMessage(reply);
    } catch (error) {
      throw new OutlastError('internal', `${where} sent a reply to ${what} that does not parse`, {
        source: PROVIDER_NAME,
        cause: error,
      });
    }
    if (!key || !signed) return { reply, verified: false };
    const verdict = verifyMessage(reply, key, { requestMac: signed.mac });
    if (verdict.ok) return { reply, verified: true };
    switch (verdict.problem) {
      case 'tsig_error':
        throw fail(
          'permission_denied',
          `${where} rejected ${what} signed with ${keyText}: ${describeTsigError(verdict.tsig.error)}`,
        );
      case 'unsigned':
        // A server that refuses a request may answer unsigned (PowerDNS does for a wrong secret):
        // its rcode says more. An unsigned answer could be forged, so it is never taken as data.
        if (!trusted.includes(rcodeOf(reply))) return { reply, verified: false };
        throw fail('permission_denied', `the reply of ${where} to ${what} is not signed with ${keyText}`);
      case 'other_key':
        throw fail(
          'permission_denied',
          `the reply of ${where} to ${what} is signed with another key than ${keyText}`,
        );
      case 'bad_mac':
        throw fail(
          'permission_denied',
          `the reply of ${where} to ${what} does not verify with ${keyText} (changed on the way, or another secret)`,
        );
      case 'bad_time':
        throw fail(
          'permission_denied',
          `the reply of ${where} to ${what} was signed more than ${verdict.tsig.fudge} s from this host's time (check NTP)`,
        );
    }
  }

  /** Throws for a refused, not-authoritative or failed reply. */
  function checkAuthority({ reply, verified }: Reply, what: string): void {
    const rcode = rcodeOf(reply);
    if (rcode === RCODE.REFUSED || rcode === RCODE.NOTAUTH) {
      // Servers differ (unsigned update: BIND and PowerDNS REFUSED, Knot NOTAUTH; a zone not served:
      // REFUSED or NOTAUTH), so the message lists the causes that fit what we know.
      const keyCause = !key
        ? 'it wants a TSIG key (none is configured)'
        : verified
          ? `${keyText} is not allowed to do this`
          : `it did not accept ${keyText} (unknown to it, another secret, or not allowed for the zone)`;
      const name = rcode === RCODE.REFUSED ? 'REFUSED' : 'NOTAUTH';
      throw fail(
        'permission_denied',
        `${where} answered ${name} to ${what}: it is not authoritative for zone ${zone}, or ${keyCause}`,
      );
    }
    if (rcode === RCODE.SERVFAIL) throw fail('unavailable', `${where} answered SERVFAIL to ${what}`);
    if (rcode === RCODE.NOTIMP) {
      throw new OutlastError('unsupported', `${where} does not implement ${what} (NOTIMP)`, {
        source: PROVIDER_NAME,
      });
    }
  }

  function inZone(name: string): string {
    const host = normalizeName(name);
    if (host !== zone && !host.endsWith(`.${zone}`)) {
      throw fail('invalid_argument', `${JSON.stringify(name)} is not in zone ${zone}`);
    }
    if (!HOSTNAME.test(host)) throw fail('invalid_argument', `bad DNS name ${JSON.stringify(name)}`);
    return host;
  }

  async function query(host: string, type: ManagedType): Promise<RecordSet[]> {
    const what = `the ${type} query for ${host}`;
    const message = encodeMessage({
      id: randomId(),
      opcode: OPCODE_QUERY,
      questions: [{ name: host, type: RR_TYPES[type], class: CLASS_IN }],
    });
    const answer = await send(message, what, [RCODE.NOERROR, RCODE.NXDOMAIN]);
    checkAuthority(answer, what);
    const { reply } = answer;
    const rcode = rcodeOf(reply);
    if (rcode === RCODE.NXDOMAIN) return [];
    if (rcode !== RCODE.NOERROR) throw internal(`${where} answered ${rcodeName(rcode)} to ${what}`);
    const packet = decodePacket(reply);
    if (!packet.flag_aa) {
      throw fail(
        'permission_denied',
        `${where} is not authoritative for zone ${zone} (no AA flag on ${what})`,
      );
    }
    // A, AAAA and CNAME answers decode to strings; a CNAME that the A query met is not ours.
    const records = (packet.answers ?? []).filter(
      (answer): answer is StringAnswer =>
        answer.type === type && normalizeName(answer.name) === host && answer.class === 'IN',
    );
    if (records.length === 0) return [];
    const values = records.map((record) =>
      type === 'CNAME' ? normalizeName(record.data) : canonicalAddress(record.data),
    );
    const ttl = Math.min(...records.map((record) => record.ttl ?? 0));
    return [{ name: host, type, ttl, values: [...new Set(values)].sort() }];
  }

  /** A set of a change in the form it is sent; `before` is what a read gave, so its TTL is not judged. */
  function checkSet(set: RecordSet, change: DnsChange, role: 'before' | 'after'): RecordSet {
    if (normalizeName(set.name) !== change.name || set.type !== change.type) {
      throw fail(
        'invalid_argument',
        `a change at ${change.name} ${change.type} holds a set for ${set.name} ${set.type}`,
      );
    }
    const at = `${change.name} ${change.type}`;
    const badTtl = !Number.isInteger(set.ttl) || set.ttl < capabilities.minTtl || set.ttl > MAX_TTL;
    if (role === 'after' && badTtl) {
      throw fail(
        'invalid_argument',
        `${at}: TTL ${set.ttl} is not allowed (1 to ${MAX_TTL}; 0 is not taken)`,
      );
    }
    const values = canonicalValues(set);
    if (values.length === 0) throw fail('invalid_argument', `${at}: a set needs at least one value`);
    for (const value of values) {
      const ok =
        set.type === 'A' ? isIP(value) === 4 : set.type === 'AAAA' ? isIP(value) === 6 : HOSTNAME.test(value);
      if (!ok) {
        throw fail('invalid_argument', `${at}: ${JSON.stringify(value)} is not a valid ${set.type} value`);
      }
    }
    if (set.type === 'CNAME' && values.length > 1) {
      throw fail('invalid_argument', `${at}: a CNAME has one target`);
    }
    return { name: change.name, type: set.type, ttl: set.ttl, values };
  }

  function checkChange(change: DnsChange): DnsChange {
    if (!MANAGED_TYPES.includes(change.type)) {
      throw fail('invalid_argument', `type ${String(change.type)} is not managed (A, AAAA, CNAME)`);
    }
    const checked: DnsChange = {
      name: inZone(change.name),
      type: change.type,
      before: undefined,
      after: undefined,
    };
    checked.before = change.before && checkSet(change.before, checked, 'before');
    checked.after = change.after && checkSet(change.after, checked, 'after');
    return checked;
  }

  /**
   * The UPDATE for checked changes. Besides each change's own prerequisite, a name that gets a
   * CNAME must have no A/AAAA that the changes leave alone, and a name that gets A/AAAA no CNAME:
   * servers silently drop an add that would put a CNAME beside other data (RFC 2136 §3.4.2.2),
   * which would otherwise pass for success. The read the changes came from saw none there.
   */
  function updateMessage(changes: DnsChange[]): Buffer {
    const none = new Uint8Array(0);
    const rr = (name: string, type: ManagedType, rrClass: number, ttl = 0, value?: string): WireRecord => ({
      name,
      type: RR_TYPES[type],
      class: rrClass,
      ttl,
      rdata: value === undefined ? none : encodeRdata(type, value),
    });
    const prerequisites: WireRecord[] = [];
    const deletes: WireRecord[] = [];
    const adds: WireRecord[] = [];
    const touched = new Set(changes.map((change) => `${change.name} ${change.type}`));
    const absent = new Map<string, WireRecord>();
    for (const { name, type, before, after } of changes) {
      if (before) prerequisites.push(...before.values.map((value) => rr(name, type, CLASS_IN, 0, value)));
      else prerequisites.push(rr(name, type, CLASS_NONE));
      deletes.push(rr(name, type, CLASS_ANY));
      if (!after) continue;
      adds.push(...after.values.map((value) => rr(name, type, CLASS_IN, after.ttl, value)));
      const others: ManagedType[] = type === 'CNAME' ? ['A', 'AAAA'] : ['CNAME'];
      for (const other of others) {
        if (!touched.has(`${name} ${other}`)) absent.set(`${name} ${other}`, rr(name, other, CLASS_NONE));
      }
    }
    prerequisites.push(...absent.values());
    return encodeMessage({
      id: randomId(),
      opcode: OPCODE_UPDATE,
      questions: [{ name: zone, type: RR_TYPES.SOA, class: CLASS_IN }],
      answers: prerequisites,
      authorities: [...deletes, ...adds],
    });
  }

  /** After a failed prerequisite: true when every set is already what the changes want. */
  async function alreadyApplied(changes: DnsChange[]): Promise<boolean> {
    for (const change of changes) {
      const current = (await query(change.name, change.type))[0];
      const done =
        current === undefined ? change.after === undefined : !!change.after && sameSet(current, change.after);
      if (!done) return false;
    }
    return true;
  }

  return {
    name: PROVIDER_NAME,
    capabilities,

    describe() {
      return `rfc2136 ${zone} @ ${where} (${key ? `key ${key.name}` : 'unsigned'})`;
    },

    async read(name) {
      const host = inZone(name);
      const sets = await Promise.all(MANAGED_TYPES.map((type) => query(host, type)));
      return sets.flat();
    },

    async apply(changes) {
      // Everything is checked before anything is sent: one bad value fails the whole apply.
      const checked = changes.map(checkChange);
      if (checked.length === 0) return;
      const names = [...new Set(checked.map((change) => change.name))].join(', ');
      const what = `the update of ${names}`;
      const answer = await send(updateMessage(checked), what, [RCODE.NOERROR]);
      checkAuthority(answer, what);
      const rcode = rcodeOf(answer.reply);
      if (rcode === RCODE.NOERROR) return;
      if (PREREQUISITE_FAILED.has(rcode)) {
        if (await alreadyApplied(checked)) return;
        throw fail('conflict', `the records at ${names} changed since they were read (${rcodeName(rcode)})`);
      }
      if (rcode === RCODE.NOTZONE) {
        throw fail('invalid_argument', `${where}: a name of ${what} is outside zone ${zone} (NOTZONE)`);
      }
      throw internal(`${where} answered ${rcodeName(rcode)} to ${what}`);
    },

    async close() {
      // Every exchange opens and closes its own socket: nothing is held between calls.
    },
  };
}

function rcodeName(rcode: number): string {
  return RCODE_NAMES[rcode] ?? `rcode ${rcode}`;
}

function internal(message: string): OutlastError {
  return new OutlastError('internal', message, { source: PROVIDER_NAME });
}

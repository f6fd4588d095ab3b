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
 * A failed prerequisite is `conflict`; the wrapper (src/dns/checked.ts) then reads again, and when
 * every set is already what the changes want (the same apply sent twice, or another watcher made
 * the same move) there is nothing to do.
 *
 * One attempt per call; the caller retries with backoff. An UPDATE is sent over UDP, or TCP when it
 * does not fit in 512 bytes or the reply is truncated.
 */

import { decode as decodePacket, type StringAnswer } from 'dns-packet';
import { OutlastError } from '../../errors.ts';
import { checkedDnsProvider, checkSignal } from '../checked.ts';
import { canonicalAddress } from '../plan.ts';
import type { DnsCallOptions, DnsChange, DnsProvider, ManagedType, RecordSet } from '../provider.ts';
import { isHostName, MANAGED_TYPES, normalizeName } from '../provider.ts';
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
import { RFC2136_CAPABILITIES } from './rfc2136-options.ts';

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

const capabilities = RFC2136_CAPABILITIES;

/** A provider that reads from and sends UPDATEs to `options.server` for `options.zone`. */
export function createRfc2136Provider(options: Rfc2136Options): DnsProvider {
  const server = parseServer(options.server);
  const where = formatServer(server);
  const zone = normalizeName(options.zone);
  if (!isHostName(zone)) {
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

  async function query(host: string, type: ManagedType, { signal }: DnsCallOptions): Promise<RecordSet[]> {
    checkSignal(signal, PROVIDER_NAME);
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

  return checkedDnsProvider({
    name: PROVIDER_NAME,
    capabilities,
    settleConflicts: true,

    describe() {
      return `rfc2136 ${zone} @ ${where} (${key ? `key ${key.name}` : 'unsigned'})`;
    },

    zone: () => zone,

    async fetch(host, options) {
      const sets = await Promise.all(MANAGED_TYPES.map((type) => query(host, type, options)));
      return sets.flat();
    },

    async write(changes) {
      const names = [...new Set(changes.map((change) => change.name))].join(', ');
      const what = `the update of ${names}`;
      const answer = await send(updateMessage(changes), what, [RCODE.NOERROR]);
      checkAuthority(answer, what);
      const rcode = rcodeOf(answer.reply);
      if (rcode === RCODE.NOERROR) return;
      if (PREREQUISITE_FAILED.has(rcode)) {
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
  });
}

function rcodeName(rcode: number): string {
  return RCODE_NAMES[rcode] ?? `rcode ${rcode}`;
}

function internal(message: string): OutlastError {
  return new OutlastError('internal', message, { source: PROVIDER_NAME });
}

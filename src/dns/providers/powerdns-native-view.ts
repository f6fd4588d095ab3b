/**
 * PowerDNS's own view of the origins, for the watcher beside native failover (issue 12, item 4).
 *
 * PowerDNS's API says nothing about the state of its LUA checks, so the view is what the server
 * answers: one query for the managed name to the server's DNS port, and the origins read back from
 * the answer. Only what the answer proves is said:
 *
 *   - an origin whose targets are answered is up by PowerDNS's checks;
 *   - with `priority`, the origins before the answered one in `failover.order` are down, or behind
 *     on the release (the LUA record prefers the current release); the ones after it are left out,
 *     since the answer says nothing about them;
 *   - with `all-healthy`, every origin not answered is down (or behind);
 *   - the LUA record also answers the first origin when every check fails, so an answer of the
 *     first origin alone says so in its detail.
 *
 * The server's DNS address is `dnsAddress` from the config, or else the server's own
 * `local-address`/`local-port` settings, a wildcard address being taken as the API URL's host.
 */
import dnsPacket from 'dns-packet';
import { OutlastError } from '../../errors.ts';
import type { NativeSpec, NativeView } from '../native/types.ts';
import { desiredRecords } from '../plan.ts';
import {
  CLASS_IN,
  encodeMessage,
  exchange,
  formatServer,
  OPCODE_QUERY,
  parseServer,
  RR_TYPES,
  randomId,
  type ServerAddress,
} from '../wire.ts';

const PROVIDER_NAME = 'powerdns';
const QUERY_TIMEOUT_MS = 2000;
const RCODE_NAMES: Record<number, string> = { 1: 'FORMERR', 2: 'SERVFAIL', 3: 'NXDOMAIN', 5: 'REFUSED' };

/** Where the server answers DNS: `configured` (HOST:PORT), or its own settings (see the module comment). */
export function dnsAddressOf(
  configured: string | undefined,
  settings: ReadonlyMap<string, string>,
  apiUrl: string,
): ServerAddress {
  if (configured !== undefined) return parseServer(configured);
  const first = (settings.get('local-address') ?? '').split(/[,\s]+/).find((item) => item !== '');
  const port = Number(settings.get('local-port') ?? 53) || 53;
  let address: ServerAddress = { host: first ?? '0.0.0.0', port };
  if (first !== undefined && /^\[.*\]:\d+$|^[^:]+:\d+$/.test(first)) address = parseServer(first);
  const host = address.host.replace(/^\[|\]$/g, '');
  if (host === '0.0.0.0' || host === '::') {
    address = { host: new URL(apiUrl).hostname.replace(/^\[|\]$/g, ''), port: address.port };
  }
  return address;
}

/** The record type the view asks for: CNAME for cname origins, else A, or AAAA when no origin has A. */
export function viewType(spec: NativeSpec): 'A' | 'AAAA' | 'CNAME' {
  const sets = spec.origins.flatMap((origin) => desiredRecords(spec.name, spec.ttl, [origin.target]));
  if (sets.some((set) => set.type === 'CNAME')) return 'CNAME';
  return sets.some((set) => set.type === 'A') ? 'A' : 'AAAA';
}

/** The origins' verdicts read from the values PowerDNS answers (see the module comment). Pure. */
export function viewOfAnswer(
  spec: NativeSpec,
  type: 'A' | 'AAAA' | 'CNAME',
  answered: readonly string[],
): NativeView['origins'] {
  const clean = (value: string) => value.replace(/\.$/, '').toLowerCase();
  const values = new Set(answered.map(clean));
  const origins = spec.origins.flatMap((origin) => {
    const set = desiredRecords(spec.name, spec.ttl, [origin.target]).find((item) => item.type === type);
    return set ? [{ id: origin.id, values: set.values.map(clean) }] : [];
  });
  const isAnswered = (origin: { values: string[] }) => origin.values.some((value) => values.has(value));
  const first = origins.findIndex(isAnswered);
  if (first < 0) {
    throw new OutlastError(
      'unavailable',
      `PowerDNS answers ${spec.name} ${type} with ${answered.length > 0 ? answered.join(', ') : 'nothing'}, which is no origin's target`,
      { source: PROVIDER_NAME, hint: 'run outlast dns plan to see what the host holds' },
    );
  }
  const chosen = origins[first]!.id;
  const alone = origins.filter(isAnswered).length === 1;
  const result: NativeView['origins'] = {};
  origins.forEach((origin, index) => {
    if (isAnswered(origin)) {
      result[origin.id] = {
        up: true,
        detail:
          index === 0 && alone
            ? 'answered (PowerDNS also answers the first origin when every check fails)'
            : 'answered',
      };
    } else if (index < first || spec.policy === 'all-healthy') {
      result[origin.id] = {
        up: false,
        detail: `not answered (PowerDNS answers ${chosen}): down or on an older release by its checks`,
      };
    }
  });
  return result;
}

/** Asks `server` for `name` `type` once; the answered values of that type, or an error. */
export async function askPowerDns(
  server: ServerAddress,
  name: string,
  type: 'A' | 'AAAA' | 'CNAME',
): Promise<string[]> {
  const message = encodeMessage({
    id: randomId(),
    opcode: OPCODE_QUERY,
    questions: [{ name, type: RR_TYPES[type], class: CLASS_IN }],
  });
  const reply = await exchange(server, message, { timeoutMs: QUERY_TIMEOUT_MS, source: PROVIDER_NAME });
  const packet = dnsPacket.decode(reply);
  const rcode = reply.readUInt16BE(2) & 0xf;
  if (rcode !== 0) {
    throw new OutlastError(
      'unavailable',
      `PowerDNS at ${formatServer(server)} answers ${name} ${type} with ${RCODE_NAMES[rcode] ?? `rcode ${rcode}`}`,
      { source: PROVIDER_NAME },
    );
  }
  return (packet.answers ?? [])
    .filter((answer) => answer.type === type)
    .map((answer) => String((answer as { data?: unknown }).data));
}

/**
 * `powerdns`: PowerDNS Authoritative through its HTTP API (v1, tested on 4.7 with gsqlite3).
 *
 * read  = GET  /api/v1/servers/{serverId}/zones/{zone}.?rrset_name={name}.  (older servers ignore the
 *         filter and send the whole zone; the sets are picked by name and type here either way)
 * apply = one PATCH /api/v1/servers/{serverId}/zones/{zone}. with every change as an rrset
 *         (`changetype` REPLACE or DELETE). PowerDNS applies one PATCH in one backend transaction,
 *         so an apply is atomic, bumps the SOA serial once (soa_edit_api) and purges the packet
 *         cache: the next query answers the new data.
 *
 * The API has no precondition on a PATCH, so compare-and-set is emulated (src/dns/checked.ts): the
 * sets are read right before the PATCH, and one neither `before` nor `after` is a `conflict`. That
 * catches a watcher acting on a stale read, but another writer can still slip in between that read
 * and the PATCH (a window of one round trip), so the capability is declared false.
 */
import { Agent, request } from 'undici';
import { z } from 'zod';
import { type ErrorCode, OutlastError } from '../../errors.ts';
import { componentLogger } from '../../util/log.ts';
import { checkedDnsProvider } from '../checked.ts';
import { networkError, requestSignal, safeUrl } from '../host-http.ts';
import { canonicalValues } from '../plan.ts';
import type { DnsCallOptions, DnsChange, DnsProvider, ManagedType, RecordSet } from '../provider.ts';
import { MANAGED_TYPES, normalizeName } from '../provider.ts';
import { POWERDNS_CAPABILITIES } from './powerdns-options.ts';

export interface PowerDnsOptions {
  /** The API's base URL, e.g. `http://127.0.0.1:8081` (a trailing `/api/v1` is accepted too). */
  url: string;
  /** The server id in the API path; `localhost` for a plain PowerDNS. */
  serverId: string;
  /** The zone as configured in PowerDNS, e.g. `example.com` (with or without the trailing dot). */
  zone: string;
  /** Sent as `X-API-Key`; never logged nor put in a message. */
  apiKey: string;
  /** Per request, connect to last byte (default 5 s). */
  timeoutMs?: number;
}

const PROVIDER_NAME = 'powerdns';
const DEFAULT_TIMEOUT_MS = 5000;

const capabilities = POWERDNS_CAPABILITIES;

/** What GET …/zones/{zone} returns, as far as it is used here. */
const zoneSchema = z.object({
  rrsets: z.array(
    z.object({
      name: z.string(),
      type: z.string(),
      ttl: z.number().int(),
      records: z.array(z.object({ content: z.string(), disabled: z.boolean().optional() })),
    }),
  ),
});

/** A provider for one zone of one PowerDNS server. Makes no request until used. */
export function createPowerDnsProvider(options: PowerDnsOptions): DnsProvider {
  const zone = normalizeName(options.zone);
  const base = options.url.replace(/\/+$/, '').replace(/\/api\/v1$/, '');
  const zoneUrl = `${base}/api/v1/servers/${encodeURIComponent(options.serverId)}/zones/${encodeURIComponent(`${zone}.`)}`;
  const shownUrl = safeUrl(base);
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const agent = new Agent({ connect: { timeout: timeoutMs }, keepAliveTimeout: 10_000 });
  const log = componentLogger('dns', { provider: PROVIDER_NAME, zone });

  /** One API call; the parsed JSON body (undefined for 204), or an OutlastError. */
  async function call(
    method: 'GET' | 'PATCH',
    url: string,
    what: string,
    { signal }: DnsCallOptions,
    body?: unknown,
  ): Promise<unknown> {
    let response: Awaited<ReturnType<typeof request>>;
    let text: string;
    try {
      response = await request(url, {
        method,
        dispatcher: agent,
        signal: requestSignal(timeoutMs, signal),
        headers: {
          'x-api-key': options.apiKey,
          accept: 'application/json',
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      text = await response.body.text();
    } catch (error) {
      throw networkError(error, `${what}: ${shownUrl}`, PROVIDER_NAME, signal);
    }
    if (response.statusCode >= 200 && response.statusCode < 300) {
      if (text.trim() === '') return undefined;
      try {
        return JSON.parse(text) as unknown;
      } catch (error) {
        throw failure('internal', `${what}: the API answered something other than JSON`, error);
      }
    }
    throw httpError(response.statusCode, text, what);
  }

  function httpError(status: number, text: string, what: string): OutlastError {
    const detail = errorText(text);
    if (status === 401 || status === 403) {
      return failure('permission_denied', `${what}: the API key was refused (HTTP ${status})`, undefined, {
        hint: 'check apiKey of the powerdns provider against api-key in pdns.conf',
      });
    }
    if (status === 404) {
      return failure('not_found', `${what}: no zone ${zone} on server ${options.serverId} at ${shownUrl}`);
    }
    if (status === 400 || status === 422) {
      return failure('invalid_argument', `${what}: PowerDNS refused it: ${detail}`);
    }
    if (status === 429) return failure('rate_limited', `${what}: HTTP 429 ${detail}`);
    if (status >= 500) return failure('unavailable', `${what}: HTTP ${status} ${detail}`);
    return failure('internal', `${what}: unexpected HTTP ${status} ${detail}`);
  }

  async function readSets(host: string, options: DnsCallOptions): Promise<RecordSet[]> {
    const query = new URLSearchParams({ rrsets: 'true', rrset_name: `${host}.` });
    const body = await call('GET', `${zoneUrl}?${query}`, `read ${host}`, options);
    const parsed = zoneSchema.safeParse(body);
    if (!parsed.success) {
      throw failure('internal', `read ${host}: unexpected answer from the API`, parsed.error);
    }
    const sets: RecordSet[] = [];
    for (const type of MANAGED_TYPES) {
      const rrset = parsed.data.rrsets.find(
        (item) => normalizeName(item.name) === host && item.type === type,
      );
      // Disabled records are not served, so for failover they are not there.
      const values =
        rrset?.records.filter((record) => !record.disabled).map((record) => record.content) ?? [];
      if (!rrset || values.length === 0) continue;
      sets.push({
        name: host,
        type,
        ttl: rrset.ttl,
        values: canonicalValues({ name: host, type, ttl: 0, values }),
      });
    }
    return sets;
  }

  return checkedDnsProvider({
    name: PROVIDER_NAME,
    capabilities,

    describe() {
      return `powerdns ${zone} @ ${shownUrl}`;
    },

    zone: () => zone,

    fetch: readSets,

    async write(changes, _held, options) {
      // Deletes first: PowerDNS checks a CNAME against the other sets in the order of the PATCH.
      const ordered = [...changes].sort(
        (x, y) => Number(x.after !== undefined) - Number(y.after !== undefined),
      );
      const names = [...new Set(ordered.map((change) => change.name))];
      log.debug({ changes: ordered.map((change) => `${change.name} ${change.type}`) }, 'dns patch');
      await call('PATCH', zoneUrl, `apply ${names.join(', ')}`, options, { rrsets: ordered.map(toRrset) });
    },

    async close() {
      await agent.close();
    },
  });
}

interface RrsetChange {
  name: string;
  type: ManagedType;
  changetype: 'REPLACE' | 'DELETE';
  ttl?: number;
  records?: Array<{ content: string; disabled: boolean }>;
}

function toRrset(change: DnsChange): RrsetChange {
  const name = `${change.name}.`;
  if (!change.after) return { name, type: change.type, changetype: 'DELETE' };
  // The API wants absolute names; without the dot a CNAME target would be refused.
  const content = (value: string) => (change.type === 'CNAME' ? `${value}.` : value);
  return {
    name,
    type: change.type,
    changetype: 'REPLACE',
    ttl: change.after.ttl,
    records: change.after.values.map((value) => ({ content: content(value), disabled: false })),
  };
}

function failure(
  code: ErrorCode,
  message: string,
  cause?: unknown,
  extra: { hint?: string } = {},
): OutlastError {
  return new OutlastError(code, message, { source: PROVIDER_NAME, cause, ...extra });
}

/** PowerDNS's own words: `{"error": "…"}` on 4xx/5xx, plain text on some (401, 404). */
function errorText(text: string): string {
  try {
    const parsed = JSON.parse(text) as { error?: unknown };
    if (typeof parsed.error === 'string') return parsed.error;
  } catch {
    // Not JSON: the text itself.
  }
  return text.trim().slice(0, 300) || '(no body)';
}

/**
 * The PowerDNS Authoritative HTTP API (v1), as the `powerdns` provider and its native failover
 * (powerdns-native.ts) use it: one zone of one server, the API key on every request and never in a
 * message, errors as OutlastErrors naming what was asked.
 */
import { Agent, request } from 'undici';
import { z } from 'zod';
import type { OutlastError } from '../../errors.ts';
import { errorText, failureOf, networkError, requestSignal, safeUrl } from '../host-http.ts';
import type { DnsCallOptions } from '../provider.ts';
import { normalizeName } from '../provider.ts';

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
const failure = failureOf(PROVIDER_NAME);
const DEFAULT_TIMEOUT_MS = 5000;

/** What GET …/zones/{zone} returns, as far as it is used here. */
export const zoneSchema = z.object({
  rrsets: z.array(
    z.object({
      name: z.string(),
      type: z.string(),
      ttl: z.number().int(),
      records: z.array(z.object({ content: z.string(), disabled: z.boolean().optional() })),
    }),
  ),
});

export type Rrset = z.infer<typeof zoneSchema>['rrsets'][number];

export interface PowerDnsApi {
  /** The zone, normalized. */
  zone: string;
  /** `…/api/v1/servers/{serverId}`. */
  serverUrl: string;
  /** `…/servers/{serverId}/zones/{zone}.`. */
  zoneUrl: string;
  /** The base URL for messages (no credentials). */
  shownUrl: string;
  /** One API call; the parsed JSON body (undefined for 204), or an OutlastError. */
  call(
    method: 'GET' | 'PATCH',
    url: string,
    what: string,
    options: DnsCallOptions,
    body?: unknown,
  ): Promise<unknown>;
  /** The rrsets at `host` (every type, LUA included). */
  rrsetsAt(host: string, options: DnsCallOptions): Promise<Rrset[]>;
  close(): Promise<void>;
}

export function createPowerDnsApi(options: PowerDnsOptions): PowerDnsApi {
  const zone = normalizeName(options.zone);
  const base = options.url.replace(/\/+$/, '').replace(/\/api\/v1$/, '');
  const serverUrl = `${base}/api/v1/servers/${encodeURIComponent(options.serverId)}`;
  const zoneUrl = `${serverUrl}/zones/${encodeURIComponent(`${zone}.`)}`;
  const shownUrl = safeUrl(base);
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const agent = new Agent({ connect: { timeout: timeoutMs }, keepAliveTimeout: 10_000 });

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

  async function rrsetsAt(host: string, callOptions: DnsCallOptions): Promise<Rrset[]> {
    const query = new URLSearchParams({ rrsets: 'true', rrset_name: `${host}.` });
    const body = await call('GET', `${zoneUrl}?${query}`, `read ${host}`, callOptions);
    const parsed = zoneSchema.safeParse(body);
    if (!parsed.success) {
      throw failure('internal', `read ${host}: unexpected answer from the API`, parsed.error);
    }
    // Older servers ignore the filter and send the whole zone.
    return parsed.data.rrsets.filter((rrset) => normalizeName(rrset.name) === host);
  }

  return {
    zone,
    serverUrl,
    zoneUrl,
    shownUrl,
    call,
    rrsetsAt,
    async close() {
      await agent.close();
    },
  };
}

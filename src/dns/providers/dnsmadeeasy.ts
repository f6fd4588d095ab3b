/**
 * `dnsmadeeasy`: DNS Made Easy through its REST API v2.0, with a small client of its own (undici).
 *
 * Every request is signed: `x-dnsme-apiKey`, `x-dnsme-requestDate` (an HTTP date in UTC) and
 * `x-dnsme-hmac`, the hex HMAC-SHA1 of that date with the secret key. DNS Made Easy refuses a date
 * too far from its own clock, so a host with a wrong clock gets `permission_denied`.
 *
 * DNS Made Easy allows 150 requests per 5 minutes per account (it says so in
 * `x-dnsme-requestsRemaining`; past it, 400 "Rate limit exceeded"), so the provider spends as few
 * as it can:
 *   - the domain's id: one GET /dns/managed/name?domainname=…, once per provider;
 *   - read: one GET /dns/managed/{id}/records?recordName=… (all types at the name; the apex, whose
 *     name is the empty string, is read from the whole domain's list);
 *   - apply: one GET per name (the re-read below), then at most three writes in this order: one
 *     DELETE (…/records/{id}, or …/records?ids=… for several), one PUT (…/records/{id}, or
 *     …/records/updateMulti), one POST (…/records, or …/records/createMulti). A value that changes
 *     updates the record it replaces, so a failover A → A is one GET and one PUT.
 *
 * The API has no precondition and no transaction: compare-and-set is emulated by the re-read
 * (src/dns/checked.ts: a set that is neither `before` nor `after` is a `conflict`, nothing is sent), and an apply whose
 * second or third write fails is left half done, which the next apply (re-read, re-plan) finishes.
 * Both capabilities are declared false.
 *
 * Records managed by DNS Made Easy's own failover or Global Traffic Director (`failover`,
 * `gtdLocation` other than DEFAULT) are read, as `dme-failover:<value>` / `gtd:<location>`, but
 * never written: a change touching them is `invalid_argument`.
 *
 * CNAME values in DNS Made Easy are relative to the domain or absolute with a trailing dot; they
 * are read as absolute names and written absolute, with the dot.
 *
 * The signed client (`createDnsMadeEasyApi`) is shared with native failover (dnsmadeeasy-native.ts).
 */
import { createHmac } from 'node:crypto';
import { Agent, request } from 'undici';
import { z } from 'zod';
import { isOutlastError, messageOf, OutlastError } from '../../errors.ts';
import { componentLogger } from '../../util/log.ts';
import { checkedDnsProvider } from '../checked.ts';
import {
  errorText,
  failureOf,
  networkError,
  parseRetryAfter,
  requestSignal,
  safeUrl,
  scrub,
} from '../host-http.ts';
import { canonicalAddress, canonicalValues } from '../plan.ts';
import type { DnsCallOptions, DnsProvider, ManagedType, RecordSet } from '../provider.ts';
import { MANAGED_TYPES, normalizeName } from '../provider.ts';
import { DNSMADEEASY_CAPABILITIES } from './dnsmadeeasy-options.ts';

export interface DnsMadeEasyOptions {
  /** The domain as managed in DNS Made Easy, e.g. `example.com`. */
  domain: string;
  /** Sent as `x-dnsme-apiKey`; never logged nor put in a message. */
  apiKey: string;
  /** Signs every request; never sent, logged nor put in a message. */
  secretKey: string;
  /** Default https://api.dnsmadeeasy.com/V2.0 (sandbox: https://api.sandbox.dnsmadeeasy.com/V2.0). */
  baseUrl?: string;
  /** Per request, connect to last byte (default 10 s). */
  timeoutMs?: number;
  /** The clock that dates requests (tests). */
  now?: () => Date;
}

const PROVIDER_NAME = 'dnsmadeeasy';
const failure = failureOf(PROVIDER_NAME);
const DEFAULT_BASE_URL = 'https://api.dnsmadeeasy.com/V2.0';
const DEFAULT_TIMEOUT_MS = 10_000;
/** Below this many requests left in the window, each request logs a warning. */
const LOW_REMAINING = 20;
const MAX_PAGES = 20;
const FOREIGN_VALUE = /^(dme-failover|gtd):/;

const capabilities = DNSMADEEASY_CAPABILITIES;

const domainSchema = z.object({ id: z.number(), name: z.string() });
const recordSchema = z.object({
  id: z.number(),
  name: z.string(),
  type: z.string(),
  value: z.string(),
  ttl: z.number(),
  gtdLocation: z.string().optional(),
  failover: z.boolean().optional(),
  monitor: z.boolean().optional(),
});
const recordsSchema = z.object({ data: z.array(recordSchema), totalPages: z.number().optional() });

/** A record as DNS Made Easy lists it (the fields outlast reads). */
export type DmeRecord = z.infer<typeof recordSchema>;
/** The managed records at one name, by type. */
type HeldRecords = Map<ManagedType, DmeRecord[]>;

/** What a record is written as (the id only for updates). */
interface RecordBody {
  id?: number;
  name: string;
  type: ManagedType;
  value: string;
  ttl: number;
  gtdLocation: 'DEFAULT';
}

/** The hex HMAC-SHA1 of `requestDate` with the secret key: the `x-dnsme-hmac` header. */
export function dnsMadeEasySignature(secretKey: string, requestDate: string): string {
  return createHmac('sha1', secretKey).update(requestDate).digest('hex');
}

/** The signed client of one DNS Made Easy domain, shared by the provider and native failover. */
export interface DnsMadeEasyApi {
  /** The domain, normalized. */
  readonly domain: string;
  /** The base URL without credentials, for messages. */
  readonly shownUrl: string;
  /** One signed call to `path` under the base URL: the parsed JSON (undefined when empty), or an OutlastError. */
  call(
    method: 'GET' | 'POST' | 'PUT' | 'DELETE',
    path: string,
    what: string,
    options: DnsCallOptions,
    body?: unknown,
  ): Promise<unknown>;
  /** The domain's id, asked once (again after a failure). */
  domainId(options: DnsCallOptions): Promise<number>;
  /** A name relative to the domain, as DNS Made Easy writes it ('' for the apex). */
  relative(host: string): string;
  /** The records of the managed types at `host`: one GET (more only if DNS Made Easy pages them). */
  recordsAt(host: string, options: DnsCallOptions): Promise<DmeRecord[]>;
  close(): Promise<void>;
}

/** The signed client for one DNS Made Easy domain. Makes no request until used. */
export function createDnsMadeEasyApi(options: DnsMadeEasyOptions): DnsMadeEasyApi {
  const domain = normalizeName(options.domain);
  const base = (options.baseUrl ?? DEFAULT_BASE_URL).replace(/\/+$/, '');
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const now = options.now ?? (() => new Date());
  const agent = new Agent({ connect: { timeout: timeoutMs }, keepAliveTimeout: 10_000 });
  const log = componentLogger('dns', { provider: PROVIDER_NAME, zone: domain });
  const secrets = [options.apiKey, options.secretKey].filter((value) => value.length > 0);
  let domainId: Promise<number> | undefined;

  /** One signed API call; the parsed JSON body (undefined when empty), or an OutlastError. */
  async function call(
    method: 'GET' | 'POST' | 'PUT' | 'DELETE',
    path: string,
    what: string,
    { signal }: DnsCallOptions,
    body?: unknown,
  ): Promise<unknown> {
    const requestDate = now().toUTCString();
    let response: Awaited<ReturnType<typeof request>>;
    let text: string;
    try {
      response = await request(`${base}${path}`, {
        method,
        dispatcher: agent,
        signal: requestSignal(timeoutMs, signal),
        headers: {
          'x-dnsme-apiKey': options.apiKey,
          'x-dnsme-requestDate': requestDate,
          'x-dnsme-hmac': dnsMadeEasySignature(options.secretKey, requestDate),
          accept: 'application/json',
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      text = await response.body.text();
    } catch (error) {
      throw networkError(error, `${what}: ${safeUrl(base)}`, PROVIDER_NAME, signal);
    }
    noteRemaining(response.headers['x-dnsme-requestsremaining']);
    if (response.statusCode >= 200 && response.statusCode < 300) {
      if (text.trim() === '') return undefined;
      try {
        return JSON.parse(text) as unknown;
      } catch (error) {
        throw failure('internal', `${what}: the API answered something other than JSON`, error);
      }
    }
    throw httpError(response.statusCode, text, response.headers['retry-after'], what);
  }

  function noteRemaining(header: string | string[] | undefined): void {
    const remaining = Number(Array.isArray(header) ? header[0] : header);
    if (Number.isFinite(remaining) && header !== undefined && remaining < LOW_REMAINING) {
      log.warn({ remaining }, 'few DNS Made Easy API requests left in this 5-minute window');
    }
  }

  function httpError(
    status: number,
    text: string,
    retryAfter: string | string[] | undefined,
    what: string,
  ): OutlastError {
    const said = scrub(errorText(text), secrets);
    if ((status === 400 && /rate limit exceeded/i.test(said)) || status === 429) {
      const retryAfterMs = parseRetryAfter(retryAfter);
      return new OutlastError('rate_limited', `${what}: DNS Made Easy's request limit is reached (${said})`, {
        source: PROVIDER_NAME,
        hint: 'DNS Made Easy allows 150 requests per 5 minutes per account',
        ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
      });
    }
    if (status === 401 || status === 403) {
      return failure(
        'permission_denied',
        `${what}: DNS Made Easy refused the API key or signature (HTTP ${status}: ${said})`,
        undefined,
        {
          hint: "check apiKey and secretKey, and this host's clock (requests are dated)",
        },
      );
    }
    if (status === 404) return failure('not_found', `${what}: not found (${said})`);
    if (status === 400 || status === 409 || status === 422)
      return failure('invalid_argument', `${what}: DNS Made Easy refused it: ${said}`);
    if (status >= 500) return failure('unavailable', `${what}: HTTP ${status} ${said}`);
    return failure('internal', `${what}: unexpected HTTP ${status} ${said}`);
  }

  /** The domain's id, asked once (again after a failure). */
  function id(options: DnsCallOptions): Promise<number> {
    domainId ??= (async () => {
      const what = `find domain ${domain}`;
      let body: unknown;
      try {
        const query = new URLSearchParams({ domainname: domain });
        body = await call('GET', `/dns/managed/name?${query}`, what, options);
      } catch (error) {
        if (isOutlastError(error, 'not_found')) throw noDomain(error);
        throw error;
      }
      const parsed = domainSchema.safeParse(body);
      if (!parsed.success) throw noDomain(parsed.error);
      return parsed.data.id;
    })().catch((error: unknown) => {
      domainId = undefined;
      throw error;
    });
    return domainId;
  }

  function noDomain(cause: unknown): OutlastError {
    return failure('not_found', `no domain ${domain} in this DNS Made Easy account`, cause, {
      hint: 'check the domain name, and baseUrl (production or sandbox)',
    });
  }

  const relative = (host: string) => (host === domain ? '' : host.slice(0, -(domain.length + 1)));

  async function recordsAt(host: string, options: DnsCallOptions): Promise<DmeRecord[]> {
    const domainKey = await id(options);
    const name = relative(host);
    const held: DmeRecord[] = [];
    for (let page = 1; page <= MAX_PAGES; page++) {
      const query = new URLSearchParams({
        ...(name === '' ? {} : { recordName: name }),
        ...(page > 1 ? { page: String(page) } : {}),
      });
      const body = await call(
        'GET',
        `/dns/managed/${domainKey}/records${query.size > 0 ? `?${query}` : ''}`,
        `read ${host}`,
        options,
      );
      const parsed = recordsSchema.safeParse(body);
      if (!parsed.success)
        throw failure('internal', `read ${host}: unexpected answer from the API`, parsed.error);
      for (const record of parsed.data.data) {
        if (record.name.toLowerCase() === name && (MANAGED_TYPES as readonly string[]).includes(record.type))
          held.push(record);
      }
      if (page >= (parsed.data.totalPages ?? 1)) break;
    }
    return held;
  }

  return {
    domain,
    shownUrl: safeUrl(base),
    call,
    domainId: id,
    relative,
    recordsAt,
    async close() {
      await agent.close();
    },
  };
}

/** A provider for one DNS Made Easy domain. Makes no request until used. */
export function createDnsMadeEasyProvider(options: DnsMadeEasyOptions): DnsProvider {
  const api = createDnsMadeEasyApi(options);
  const { domain, call, relative } = api;
  const id = api.domainId;
  const log = componentLogger('dns', { provider: PROVIDER_NAME, zone: domain });

  /** The managed records at `host`, by type. */
  async function recordsAt(host: string, options: DnsCallOptions): Promise<HeldRecords> {
    const held: HeldRecords = new Map();
    for (const record of await api.recordsAt(host, options)) {
      const type = record.type as ManagedType;
      held.set(type, [...(held.get(type) ?? []), record]);
    }
    return held;
  }

  const comparable = (record: DmeRecord) => readValue(record, domain);

  function toSets(host: string, records: HeldRecords): RecordSet[] {
    const sets: RecordSet[] = [];
    for (const type of MANAGED_TYPES) {
      const held = records.get(type) ?? [];
      if (held.length === 0) continue;
      const values = held.map(comparable);
      const ttl = Math.min(...held.map((record) => record.ttl));
      const foreign = values.some((value) => FOREIGN_VALUE.test(value));
      sets.push({
        name: host,
        type,
        ttl,
        values: foreign ? [...values].sort() : canonicalValues({ name: host, type, ttl, values }),
      });
    }
    return sets;
  }

  /** Sends the writes, deletes first (a CNAME must not meet the A it replaces). */
  async function send(
    domainKey: number,
    what: string,
    writes: { deletes: number[]; updates: RecordBody[]; creates: RecordBody[] },
    options: DnsCallOptions,
  ): Promise<void> {
    const { deletes, updates, creates } = writes;
    const records = `/dns/managed/${domainKey}/records`;
    const steps: Array<[string, () => Promise<unknown>]> = [];
    const step = (name: string, method: 'DELETE' | 'PUT' | 'POST', path: string, body?: unknown) =>
      steps.push([name, () => call(method, path, what, options, body)]);
    if (deletes.length === 1) step('delete', 'DELETE', `${records}/${deletes[0]}`);
    if (deletes.length > 1) {
      const ids = new URLSearchParams(deletes.map((item): [string, string] => ['ids', String(item)]));
      step('delete', 'DELETE', `${records}?${ids}`);
    }
    if (updates.length === 1) step('update', 'PUT', `${records}/${updates[0]!.id}`, updates[0]);
    if (updates.length > 1) step('update', 'PUT', `${records}/updateMulti`, updates);
    if (creates.length === 1) step('create', 'POST', records, creates[0]);
    if (creates.length > 1) step('create', 'POST', `${records}/createMulti`, creates);
    for (const [index, [step, send]] of steps.entries()) {
      try {
        await send();
      } catch (error) {
        const done = steps.slice(0, index).map(([name]) => name);
        const partly = done.length > 0 ? ` (after the ${done.join(' and ')}; the next apply finishes)` : '';
        const said = messageOf(error).replace(`${PROVIDER_NAME}: `, '').replace(`${what}: `, '');
        // A record gone between the re-read and this write: another writer acted.
        const code = isOutlastError(error, 'not_found')
          ? 'conflict'
          : isOutlastError(error)
            ? error.code
            : 'internal';
        const retryAfterMs = isOutlastError(error) ? error.retryAfterMs : undefined;
        throw new OutlastError(code, `${what}: the ${step} failed${partly}: ${said}`, {
          source: PROVIDER_NAME,
          cause: error,
          ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
        });
      }
    }
  }

  return checkedDnsProvider<HeldRecords>({
    name: PROVIDER_NAME,
    capabilities,

    describe() {
      return `dnsmadeeasy ${domain} @ ${api.shownUrl}`;
    },

    zone: () => domain,

    fetch: recordsAt,

    sets: toSets,

    foreign(set) {
      const marker = set.values.find((value) => FOREIGN_VALUE.test(value));
      if (marker === undefined) return undefined;
      const by = marker.startsWith('gtd:') ? 'Global Traffic Director' : 'own failover';
      return {
        what: `managed by DNS Made Easy's ${by} (${set.values.join(', ')})`,
        hint: 'turn that off for the record in DNS Made Easy, or let outlast manage another name',
      };
    },

    async write(changes, held, options) {
      const names = [...new Set(changes.map((change) => change.name))];
      const writes = { deletes: [] as number[], updates: [] as RecordBody[], creates: [] as RecordBody[] };
      for (const change of changes) {
        const records = held.get(change.name)?.get(change.type) ?? [];
        const after = change.after;
        if (!after) {
          writes.deletes.push(...records.map((record) => record.id));
          continue;
        }
        const body = (value: string, recordId?: number): RecordBody => ({
          ...(recordId === undefined ? {} : { id: recordId }),
          name: relative(change.name),
          type: change.type,
          value: change.type === 'CNAME' ? `${value}.` : value,
          ttl: after.ttl,
          gtdLocation: 'DEFAULT',
        });
        const wanted = new Set(after.values);
        const kept = records.filter((record) => wanted.has(comparable(record)));
        const going = records.filter((record) => !wanted.has(comparable(record)));
        const keptValues = new Set(kept.map(comparable));
        const adding = after.values.filter((value) => !keptValues.has(value));
        for (const record of kept)
          if (record.ttl !== after.ttl) writes.updates.push(body(comparable(record), record.id));
        adding.forEach((value, index) => {
          const reused = going[index];
          if (reused) writes.updates.push(body(value, reused.id));
          else writes.creates.push(body(value));
        });
        writes.deletes.push(...going.slice(adding.length).map((record) => record.id));
      }
      const { deletes, updates, creates } = writes;
      if (deletes.length + updates.length + creates.length === 0) return;
      log.debug({ deletes: deletes.length, updates: updates.length, creates: creates.length }, 'dns writes');
      await send(await id(options), `apply ${names.join(', ')}`, writes, options);
    },

    async close() {
      await api.close();
    },
  });
}

/** A record's value as outlast compares it; DNS Made Easy's own failover and GTD as markers. */
function readValue(record: DmeRecord, domain: string): string {
  if (record.gtdLocation !== undefined && record.gtdLocation !== 'DEFAULT')
    return `gtd:${record.gtdLocation}`;
  if (record.failover === true) return `dme-failover:${record.value}`;
  if (record.type !== 'CNAME') return canonicalAddress(record.value);
  const value = record.value.trim();
  if (value.endsWith('.')) return normalizeName(value);
  // Relative to the domain, as the DNS Made Easy control panel writes them.
  return value === '' || value === '@' ? domain : normalizeName(`${value}.${domain}`);
}

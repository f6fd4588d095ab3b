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
 * (a set that is neither `before` nor `after` is a `conflict`, nothing is sent), and an apply whose
 * second or third write fails is left half done, which the next apply (re-read, re-plan) finishes.
 * Both capabilities are declared false.
 *
 * Records managed by DNS Made Easy's own failover or Global Traffic Director (`failover`,
 * `gtdLocation` other than DEFAULT) are read, as `dme-failover:<value>` / `gtd:<location>`, but
 * never written: a change touching them is `invalid_argument`.
 *
 * CNAME values in DNS Made Easy are relative to the domain or absolute with a trailing dot; they
 * are read as absolute names and written absolute, with the dot.
 */
import { createHmac } from 'node:crypto';
import { isIP } from 'node:net';
import { Agent, request } from 'undici';
import { z } from 'zod';
import { type ErrorCode, isOutlastError, messageOf, OutlastError } from '../../errors.ts';
import { componentLogger } from '../../util/log.ts';
import { canonicalAddress, canonicalValues, sameSet } from '../plan.ts';
import type { DnsChange, DnsProvider, DnsProviderCapabilities, ManagedType, RecordSet } from '../provider.ts';
import { MANAGED_TYPES, normalizeName } from '../provider.ts';

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
const DEFAULT_BASE_URL = 'https://api.dnsmadeeasy.com/V2.0';
const DEFAULT_TIMEOUT_MS = 10_000;
/** Below this many requests left in the window, each request logs a warning. */
const LOW_REMAINING = 20;
const MAX_PAGES = 20;
const MAX_TTL = 2 ** 31 - 1;
const HOSTNAME =
  /^(?=.{1,253}$)([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)(\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)*$/;
const FOREIGN_VALUE = /^(dme-failover|gtd):/;

const capabilities: DnsProviderCapabilities = {
  compareAndSet: false,
  atomic: false,
  // DNS Made Easy's documentation we could read states no lower bound; 60 is the floor other
  // clients use with it, and what failover needs.
  minTtl: 60,
  types: MANAGED_TYPES,
};

const domainSchema = z.object({ id: z.number(), name: z.string() });
const recordSchema = z.object({
  id: z.number(),
  name: z.string(),
  type: z.string(),
  value: z.string(),
  ttl: z.number(),
  gtdLocation: z.string().optional(),
  failover: z.boolean().optional(),
});
const recordsSchema = z.object({ data: z.array(recordSchema), totalPages: z.number().optional() });

type DmeRecord = z.infer<typeof recordSchema>;

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

/** A provider for one DNS Made Easy domain. Makes no request until used. */
export function createDnsMadeEasyProvider(options: DnsMadeEasyOptions): DnsProvider {
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
    body?: unknown,
  ): Promise<unknown> {
    const requestDate = now().toUTCString();
    let response: Awaited<ReturnType<typeof request>>;
    let text: string;
    try {
      response = await request(`${base}${path}`, {
        method,
        dispatcher: agent,
        signal: AbortSignal.timeout(timeoutMs),
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
      throw networkError(error, `${what}: ${safeUrl(base)}`);
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
      const retryAfterMs = parseRetryAfter(Array.isArray(retryAfter) ? retryAfter[0] : retryAfter);
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
  function id(): Promise<number> {
    domainId ??= (async () => {
      const what = `find domain ${domain}`;
      let body: unknown;
      try {
        body = await call('GET', `/dns/managed/name?${new URLSearchParams({ domainname: domain })}`, what);
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

  function inDomain(name: string): string {
    const host = normalizeName(name);
    if (!HOSTNAME.test(host))
      throw failure('invalid_argument', `${JSON.stringify(name)} is not a valid DNS name`);
    if (host !== domain && !host.endsWith(`.${domain}`))
      throw failure('invalid_argument', `${host} is outside the domain ${domain}`);
    return host;
  }

  const relative = (host: string) => (host === domain ? '' : host.slice(0, -(domain.length + 1)));

  /** The managed records at `host`, by type: one GET (more only if DNS Made Easy pages them). */
  async function recordsAt(host: string): Promise<Map<ManagedType, DmeRecord[]>> {
    const domainKey = await id();
    const name = relative(host);
    const held = new Map<ManagedType, DmeRecord[]>();
    for (let page = 1; page <= MAX_PAGES; page++) {
      const query = new URLSearchParams({
        ...(name === '' ? {} : { recordName: name }),
        ...(page > 1 ? { page: String(page) } : {}),
      });
      const body = await call(
        'GET',
        `/dns/managed/${domainKey}/records${query.size > 0 ? `?${query}` : ''}`,
        `read ${host}`,
      );
      const parsed = recordsSchema.safeParse(body);
      if (!parsed.success)
        throw failure('internal', `read ${host}: unexpected answer from the API`, parsed.error);
      for (const record of parsed.data.data) {
        if (record.name.toLowerCase() !== name || !(MANAGED_TYPES as readonly string[]).includes(record.type))
          continue;
        const type = record.type as ManagedType;
        held.set(type, [...(held.get(type) ?? []), record]);
      }
      if (page >= (parsed.data.totalPages ?? 1)) break;
    }
    return held;
  }

  const comparable = (record: DmeRecord) => readValue(record, domain);

  function toSets(host: string, records: Map<ManagedType, DmeRecord[]>): RecordSet[] {
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
  async function write(
    domainKey: number,
    what: string,
    deletes: number[],
    updates: RecordBody[],
    creates: RecordBody[],
  ): Promise<void> {
    const records = `/dns/managed/${domainKey}/records`;
    const steps: Array<[string, () => Promise<unknown>]> = [];
    if (deletes.length === 1) steps.push(['delete', () => call('DELETE', `${records}/${deletes[0]}`, what)]);
    if (deletes.length > 1) {
      const ids = new URLSearchParams(deletes.map((item): [string, string] => ['ids', String(item)]));
      steps.push(['delete', () => call('DELETE', `${records}?${ids}`, what)]);
    }
    if (updates.length === 1)
      steps.push(['update', () => call('PUT', `${records}/${updates[0]!.id}`, what, updates[0])]);
    if (updates.length > 1)
      steps.push(['update', () => call('PUT', `${records}/updateMulti`, what, updates)]);
    if (creates.length === 1) steps.push(['create', () => call('POST', records, what, creates[0])]);
    if (creates.length > 1)
      steps.push(['create', () => call('POST', `${records}/createMulti`, what, creates)]);
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

  return {
    name: PROVIDER_NAME,
    capabilities,

    describe() {
      return `dnsmadeeasy ${domain} @ ${safeUrl(base)}`;
    },

    async read(name) {
      const host = inDomain(name);
      return toSets(host, await recordsAt(host));
    },

    async apply(changes) {
      if (changes.length === 0) return;
      const checked = changes.map((change) => checkChange(change, inDomain));
      const names = [...new Set(checked.map((change) => change.name))];
      const what = `apply ${names.join(', ')}`;
      const domainKey = await id();
      const current = new Map(
        await Promise.all(names.map(async (host) => [host, await recordsAt(host)] as const)),
      );
      const deletes: number[] = [];
      const updates: RecordBody[] = [];
      const creates: RecordBody[] = [];
      for (const change of checked) {
        const records = current.get(change.name)?.get(change.type) ?? [];
        const held = toSets(change.name, current.get(change.name)!).find((set) => set.type === change.type);
        const foreign = held?.values.find((value) => FOREIGN_VALUE.test(value));
        if (foreign !== undefined) {
          throw failure(
            'invalid_argument',
            `${change.name} ${change.type} is managed by DNS Made Easy's ${foreign.startsWith('gtd:') ? 'Global Traffic Director' : 'own failover'} (${held!.values.join(', ')}), which outlast does not write`,
            undefined,
            {
              hint: 'turn that off for the record in DNS Made Easy, or let outlast manage another name',
            },
          );
        }
        if (matches(held, change.after)) continue;
        if (!matches(held, change.before)) {
          throw failure(
            'conflict',
            `${what}: ${change.name} ${change.type} changed since it was read: it is ${show(held)}, expected ${show(change.before)}`,
          );
        }
        const after = change.after;
        if (!after) {
          deletes.push(...records.map((record) => record.id));
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
          if (record.ttl !== after.ttl) updates.push(body(comparable(record), record.id));
        adding.forEach((value, index) => {
          const reused = going[index];
          if (reused) updates.push(body(value, reused.id));
          else creates.push(body(value));
        });
        deletes.push(...going.slice(adding.length).map((record) => record.id));
      }
      if (deletes.length + updates.length + creates.length === 0) return;
      log.debug({ deletes: deletes.length, updates: updates.length, creates: creates.length }, 'dns writes');
      await write(domainKey, what, deletes, updates, creates);
    },

    async close() {
      await agent.close();
    },
  };
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

/** The change with names and sets normalized; invalid_argument for what DNS Made Easy would refuse. */
function checkChange(change: DnsChange, inDomain: (name: string) => string): DnsChange {
  const name = inDomain(change.name);
  const { type } = change;
  if (!MANAGED_TYPES.includes(type))
    throw failure('invalid_argument', `${name}: type ${String(type)} is not managed`);
  const check = (set: RecordSet | undefined): RecordSet | undefined => {
    if (set === undefined) return undefined;
    const values = canonicalValues({ ...set, type });
    const valid = (value: string) =>
      type === 'A' ? isIP(value) === 4 : type === 'AAAA' ? isIP(value) === 6 : HOSTNAME.test(value);
    const bad = values.find((value) => !valid(value));
    const problem =
      normalizeName(set.name) !== name || set.type !== type
        ? `the change carries a set for ${set.name} ${set.type}`
        : values.some((value) => FOREIGN_VALUE.test(value))
          ? "it is managed by DNS Made Easy's failover or Global Traffic Director, which outlast does not write"
          : !Number.isInteger(set.ttl) || set.ttl < capabilities.minTtl || set.ttl > MAX_TTL
            ? `TTL ${set.ttl} is not an integer from ${capabilities.minTtl} to ${MAX_TTL}`
            : values.length === 0
              ? 'a set needs at least one value'
              : bad !== undefined
                ? `${JSON.stringify(bad)} is not a valid ${type} value`
                : type === 'CNAME' && values.length > 1
                  ? 'a CNAME has exactly one target'
                  : undefined;
    if (problem) throw failure('invalid_argument', `${name} ${type}: ${problem}`);
    return { name, type, ttl: set.ttl, values };
  };
  return { name, type, before: check(change.before), after: check(change.after) };
}

function matches(held: RecordSet | undefined, wanted: RecordSet | undefined): boolean {
  if (held === undefined || wanted === undefined) return held === wanted;
  return sameSet(held, wanted);
}

function show(set: RecordSet | undefined): string {
  return set ? `${set.ttl} ${set.values.join(' ')}` : 'absent';
}

function failure(
  code: ErrorCode,
  message: string,
  cause?: unknown,
  extra: { hint?: string } = {},
): OutlastError {
  return new OutlastError(code, message, { source: PROVIDER_NAME, cause, ...extra });
}

function networkError(error: unknown, what: string): OutlastError {
  const name = error instanceof Error ? error.name : '';
  const code = (error as { code?: unknown } | null)?.code;
  if (name === 'TimeoutError' || code === 'UND_ERR_CONNECT_TIMEOUT' || code === 'UND_ERR_HEADERS_TIMEOUT') {
    return failure('timeout', `${what}: no answer in time`, error);
  }
  const reason = typeof code === 'string' ? code : error instanceof Error ? error.message : String(error);
  return failure('unavailable', `${what}: cannot reach the API (${reason})`, error);
}

/** DNS Made Easy's own words: `{"error": ["…"]}`, or the text itself. */
function errorText(text: string): string {
  try {
    const parsed = JSON.parse(text) as { error?: unknown };
    if (Array.isArray(parsed.error)) return parsed.error.map(String).join('; ');
    if (typeof parsed.error === 'string') return parsed.error;
  } catch {
    // Not JSON: the text itself.
  }
  return text.trim().slice(0, 300) || '(no body)';
}

function scrub(text: string, secrets: string[]): string {
  return secrets.reduce((out, secret) => out.split(secret).join('***'), text);
}

/** Retry-After in seconds or as an HTTP date, in ms. */
function parseRetryAfter(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds) && seconds >= 0) return Math.round(seconds * 1000);
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

function safeUrl(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.protocol}//${parsed.host}${parsed.pathname.replace(/\/$/, '')}`;
  } catch {
    return url;
  }
}

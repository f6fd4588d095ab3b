/**
 * `cloudflare`: Cloudflare DNS through Cloudflare's official TypeScript SDK (`cloudflare`).
 *
 * read  = GET /zones/{zone}/dns_records?name.exact={name}: every record at the name in one request
 *         (Cloudflare keeps one record per value; a set is the records of one type).
 * apply = re-read each name, then ONE POST /zones/{zone}/dns_records/batch with deletes, patches
 *         and posts. Cloudflare runs a batch in one database transaction, deletes first, and applies
 *         nothing when one operation fails, so an apply is atomic (edge propagation is per record,
 *         a matter of seconds). Records are reused where they can be: a value that stays is kept,
 *         a value that changes patches an existing record, so `proxied`, `comment`, tags and the
 *         record's id survive.
 *
 * The API has no precondition, so compare-and-set is emulated (src/dns/checked.ts): the re-read right
 * before the batch fails with `conflict` when a set is neither `before` nor `after`. A writer slipping in between
 * that read and the batch is not caught (one round trip), so the capability is declared false.
 *
 * Proxied records (orange cloud) keep their flag unless `proxied` is configured; new records take
 * the configured flag, else the flag of the records they replace at that name. A proxied record's
 * TTL is Cloudflare's ("automatic", TTL 1): it is read as 1 and written as 1, and a set that
 * differs from `after` only by TTL while proxied is left alone. DNS-only records take TTL 60 to
 * 86400 (30 on Enterprise: the capability says 60).
 */
import Cloudflare, { APIConnectionTimeoutError, APIError, APIUserAbortError } from 'cloudflare';
import type { BatchPatchParam, RecordBatchParams, RecordResponse } from 'cloudflare/resources/dns/records';
import { type ErrorCode, isOutlastError, OutlastError } from '../../errors.ts';
import { componentLogger } from '../../util/log.ts';
import { checkedDnsProvider, matches } from '../checked.ts';
import { failureOf, parseRetryAfter, scrub } from '../host-http.ts';
import { canonicalAddress, canonicalValues, sameSet } from '../plan.ts';
import type { DnsCallOptions, DnsChange, DnsProvider, ManagedType, RecordSet } from '../provider.ts';
import { MANAGED_TYPES, normalizeName } from '../provider.ts';
import { CLOUDFLARE_CAPABILITIES } from './cloudflare-options.ts';

export interface CloudflareOptions {
  /** The zone's name, e.g. `example.com`; looked up once (needs Zone:Read) unless `zoneId` is set. */
  zone?: string;
  /** The zone's id (32 hex digits, on the zone's Overview page). */
  zoneId?: string;
  /** An API token with DNS:Edit on the zone. Never logged nor put in a message. */
  apiToken: string;
  /** Proxy (orange cloud) the records written; unset keeps each record's flag as it is. */
  proxied?: boolean;
  /** Comment put on the records written; unset keeps each record's comment. */
  comment?: string;
  /** The API's base URL (default https://api.cloudflare.com/client/v4), e.g. a stand-in. */
  baseUrl?: string;
  /** Per request (default 10 s). */
  timeoutMs?: number;
}

const PROVIDER_NAME = 'cloudflare';
const failure = failureOf(PROVIDER_NAME);
const DEFAULT_BASE_URL = 'https://api.cloudflare.com/client/v4';
const DEFAULT_TIMEOUT_MS = 10_000;
/** Cloudflare's largest TTL; 1 means "automatic". */
const MAX_TTL = 86_400;
const AUTOMATIC_TTL = 1;
const PAGE_SIZE = 100;
const MAX_PAGES = 50;
/** Error codes that say the records are not what the batch expected (a record gone or in the way). */
const STALE_CODES = new Set([81044, 81053, 81057, 81058]);
/** Error codes of a zone id that names no zone ("Could not route to…", "Invalid zone identifier"). */
const NO_ZONE_CODES = new Set([7000, 7003, 1001]);
/** Error codes of a malformed or unknown token on a 400. */
const BAD_TOKEN_CODES = new Set([6003, 6100, 6101, 6102, 6103, 6111, 1000, 9106, 9109, 10000, 10001]);

const capabilities = CLOUDFLARE_CAPABILITIES;

export interface ZoneInfo {
  id: string;
  name: string;
}

/** The fields of a record this provider uses (the SDK's RecordResponse is a union of 21 types). */
interface HeldRecord {
  id: string;
  type: ManagedType;
  content: string;
  ttl: number;
  proxied: boolean;
  comment: string | undefined;
}

type PostParam = NonNullable<RecordBatchParams['posts']>[number];
type Batch = Required<Pick<RecordBatchParams, 'deletes' | 'patches' | 'posts'>>;
/** The managed records at one name, by type. */
type HeldRecords = Map<ManagedType, HeldRecord[]>;

/** A provider for one Cloudflare zone. Makes no request until used. */
export function createCloudflareProvider(options: CloudflareOptions): DnsProvider {
  const configuredZone = options.zone === undefined ? undefined : normalizeName(options.zone);
  if (configuredZone === undefined && options.zoneId === undefined) {
    throw failure('invalid_config', 'expected zone or zoneId');
  }
  const client = cloudflareClient(options);
  const log = componentLogger('dns', { provider: PROVIDER_NAME, zone: configuredZone ?? options.zoneId });
  let zoneInfo: Promise<ZoneInfo> | undefined;
  let resolved: ZoneInfo | undefined;

  const send = <T>(what: string, call: () => Promise<T>, signal?: AbortSignal): Promise<T> =>
    sendVia(options.apiToken, what, call, signal);

  function zone(): Promise<ZoneInfo> {
    zoneInfo ??= findZone(client, options).then(
      (found) => {
        resolved = found;
        return found;
      },
      (error: unknown) => {
        zoneInfo = undefined;
        throw error;
      },
    );
    return zoneInfo;
  }

  /** The managed records at `host`, by type. */
  async function recordsAt(host: string, hosted: ZoneInfo, { signal }: DnsCallOptions): Promise<HeldRecords> {
    const held: HeldRecords = new Map();
    for (let page = 1; page <= MAX_PAGES; page++) {
      const listed = await send(
        `read ${host}`,
        () =>
          client.dns.records.list(
            { zone_id: hosted.id, name: { exact: host }, page, per_page: PAGE_SIZE },
            signal ? { signal } : {},
          ),
        signal,
      );
      for (const record of listed.result) {
        const item = heldRecord(record);
        if (!item || normalizeName(record.name) !== host) continue;
        held.set(item.type, [...(held.get(item.type) ?? []), item]);
      }
      // A short page is the last one (result_info's totals are not in the SDK's types).
      if (listed.result.length < PAGE_SIZE) break;
    }
    return held;
  }

  return checkedDnsProvider<HeldRecords>({
    name: PROVIDER_NAME,
    capabilities,
    maxTtl: MAX_TTL,
    ttlHint: 'Cloudflare takes 60 to 86400 s (30 on Enterprise zones)',

    describe() {
      const name = resolved?.name ?? configuredZone;
      const id = resolved?.id ?? options.zoneId;
      return name && id ? `cloudflare ${name} (${id})` : `cloudflare ${name ?? `zone ${id}`}`;
    },

    zone: async () => (await zone()).name,

    async fetch(host, call) {
      return recordsAt(host, await zone(), call);
    },

    sets: toSets,

    alreadyThere(records, change) {
      const held = toSets(change.name, records).find((set) => set.type === change.type);
      return alreadyThere(held, records.get(change.type) ?? [], change.after, options.proxied);
    },

    async write(changes, held, { signal }) {
      const hosted = await zone();
      const names = [...new Set(changes.map((change) => change.name))];
      const batch: Batch = { deletes: [], patches: [], posts: [] };
      for (const change of changes) {
        const records = held.get(change.name) ?? new Map();
        addOperations(batch, change, records.get(change.type) ?? [], [...records.values()].flat(), options);
      }
      if (batch.deletes.length + batch.patches.length + batch.posts.length === 0) return;
      log.debug(
        { deletes: batch.deletes.length, patches: batch.patches.length, posts: batch.posts.length },
        'dns batch',
      );
      await send(
        `apply ${names.join(', ')}`,
        () => client.dns.records.batch({ zone_id: hosted.id, ...nonEmpty(batch) }, signal ? { signal } : {}),
        signal,
      );
    },

    async close() {},
  });
}

/** The SDK's client for `options`: the token only, one attempt per call, no logging of its own. */
export function cloudflareClient(
  options: Pick<CloudflareOptions, 'apiToken' | 'baseUrl' | 'timeoutMs'>,
): Cloudflare {
  return new Cloudflare({
    apiToken: options.apiToken,
    // Only the token: the SDK would otherwise also read CLOUDFLARE_API_KEY/EMAIL from the environment.
    apiKey: null,
    apiEmail: null,
    userServiceKey: null,
    baseURL: options.baseUrl ?? DEFAULT_BASE_URL,
    // One attempt per call: the DNS writer retries with backoff and honours Retry-After.
    maxRetries: 0,
    timeout: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    logLevel: 'off',
  });
}

/** Runs one SDK call; what it throws comes back as an OutlastError naming `what` (mapError). */
export async function sendVia<T>(
  token: string,
  what: string,
  call: () => Promise<T>,
  signal?: AbortSignal,
): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (signal?.aborted) throw failure('cancelled', `${what}: aborted`, error);
    throw mapError(error, what, token);
  }
}

/**
 * The zone `options` name: by id and name as given (no request), by id (zones.get) or by name
 * (zones.list, which needs Zone:Read). not_found when the token sees no such zone.
 */
export async function findZone(
  client: Cloudflare,
  options: Pick<CloudflareOptions, 'zone' | 'zoneId' | 'apiToken'>,
): Promise<ZoneInfo> {
  const configuredZone = options.zone === undefined ? undefined : normalizeName(options.zone);
  const send = <T>(what: string, call: () => Promise<T>) => sendVia(options.apiToken, what, call);
  if (options.zoneId !== undefined && configuredZone !== undefined) {
    return { id: options.zoneId, name: configuredZone };
  }
  if (options.zoneId !== undefined) {
    const id = options.zoneId;
    const found = await send(`zone ${id}`, () => client.zones.get({ zone_id: id }));
    return { id, name: normalizeName(found.name) };
  }
  const name = configuredZone!;
  const page = await send(`find zone ${name}`, () => client.zones.list({ name, per_page: 50 }));
  const matching = page.result.filter((item) => normalizeName(item.name) === name);
  if (matching.length === 1) return { id: matching[0]!.id, name };
  if (matching.length === 0) {
    throw failure('not_found', `no zone named ${name} is visible to this API token`, undefined, {
      hint: 'check the zone name, give the token Zone:Read on it, or set zoneId',
    });
  }
  throw failure(
    'invalid_config',
    `several zones are named ${name} (${matching.map((item) => item.id).join(', ')})`,
    undefined,
    {
      hint: 'set zoneId to the one to manage',
    },
  );
}

/** The record as used here, or undefined for a type outlast does not manage. */
function heldRecord(record: RecordResponse): HeldRecord | undefined {
  if (!(MANAGED_TYPES as readonly string[]).includes(record.type)) return undefined;
  const type = record.type as ManagedType;
  const content = typeof record.content === 'string' ? record.content : '';
  const comment = typeof record.comment === 'string' && record.comment !== '' ? record.comment : undefined;
  return { id: record.id, type, content, ttl: record.ttl, proxied: record.proxied === true, comment };
}

function toSets(host: string, records: HeldRecords): RecordSet[] {
  const sets: RecordSet[] = [];
  for (const type of MANAGED_TYPES) {
    const held = records.get(type) ?? [];
    if (held.length === 0) continue;
    const values = held.map((record) => record.content);
    // Records of one set may carry different TTLs; the smallest is what a resolver may see first.
    const ttl = Math.min(...held.map((record) => record.ttl));
    sets.push({ name: host, type, ttl, values: canonicalValues({ name: host, type, ttl, values }) });
  }
  return sets;
}

/**
 * `after` is there: the same set, or the same values on proxied records (whose TTL is Cloudflare's),
 * unless the config turns proxying off, which the apply must then write.
 */
function alreadyThere(
  held: RecordSet | undefined,
  records: HeldRecord[],
  after: RecordSet | undefined,
  proxied: boolean | undefined,
): boolean {
  if (matches(held, after)) return true;
  if (!held || !after || proxied === false || records.length === 0) return false;
  if (!records.every((record) => record.proxied)) return false;
  return sameSet(held, { ...after, ttl: held.ttl });
}

/**
 * The batch operations that turn `records` into `change.after`: kept values stay (patched when
 * their TTL or the configured flags differ), changed values patch records that are going, the
 * rest are deleted or posted.
 */
function addOperations(
  batch: Batch,
  change: DnsChange,
  records: HeldRecord[],
  atName: HeldRecord[],
  options: CloudflareOptions,
): void {
  const after = change.after;
  if (!after) {
    batch.deletes.push(...records.map((record) => ({ id: record.id })));
    return;
  }
  const wanted = new Set(after.values);
  const comparable = (record: HeldRecord) =>
    change.type === 'CNAME' ? normalizeName(record.content) : canonicalAddress(record.content);
  const kept = records.filter((record) => wanted.has(comparable(record)));
  const going = records.filter((record) => !wanted.has(comparable(record)));
  const keptValues = new Set(kept.map(comparable));
  const adding = after.values.filter((value) => !keptValues.has(value));
  const ttlFor = (proxied: boolean) => (proxied ? AUTOMATIC_TTL : after.ttl);
  const flags = (record: HeldRecord) => ({
    ...(options.proxied === undefined ? {} : { proxied: options.proxied }),
    ...(options.comment === undefined ? {} : { comment: options.comment }),
    ttl: ttlFor(options.proxied ?? record.proxied),
  });
  for (const record of kept) {
    const patch = flags(record);
    const differs =
      patch.ttl !== record.ttl ||
      (patch.proxied !== undefined && patch.proxied !== record.proxied) ||
      (patch.comment !== undefined && patch.comment !== record.comment);
    if (differs) batch.patches.push(patchOf(record.id, after, comparable(record), patch));
  }
  for (const [index, value] of adding.entries()) {
    const reused = going[index];
    if (reused) {
      batch.patches.push(patchOf(reused.id, after, value, flags(reused)));
      continue;
    }
    // A new record looks like those it replaces at the name (an A → CNAME move stays proxied).
    const model = records[0] ?? atName[0];
    const proxied = options.proxied ?? model?.proxied;
    const comment = options.comment ?? model?.comment;
    batch.posts.push({
      name: after.name,
      type: after.type,
      content: value,
      ttl: ttlFor(proxied === true),
      ...(proxied === undefined ? {} : { proxied }),
      ...(comment === undefined ? {} : { comment }),
    } as PostParam);
  }
  batch.deletes.push(...going.slice(adding.length).map((record) => ({ id: record.id })));
}

function patchOf(
  id: string,
  set: RecordSet,
  content: string,
  fields: { ttl: number; proxied?: boolean; comment?: string },
): BatchPatchParam {
  return { id, name: set.name, type: set.type, content, ...fields } as BatchPatchParam;
}

function nonEmpty(batch: Batch) {
  return {
    ...(batch.deletes.length > 0 ? { deletes: batch.deletes } : {}),
    ...(batch.patches.length > 0 ? { patches: batch.patches } : {}),
    ...(batch.posts.length > 0 ? { posts: batch.posts } : {}),
  };
}

/** What the SDK threw, as an OutlastError naming `what`; the token is cut out of every message. */
export function mapError(error: unknown, what: string, token: string): OutlastError {
  if (isOutlastError(error)) return error;
  const scrubbed = (text: string) => scrub(text, [token]);
  if (error instanceof APIConnectionTimeoutError || error instanceof APIUserAbortError) {
    return failure('timeout', `${what}: no answer from the Cloudflare API in time`, error);
  }
  if (!(error instanceof APIError) || error.status === undefined) {
    const reason = scrubbed(causeText(error));
    return failure('unavailable', `${what}: cannot reach the Cloudflare API (${reason})`, error);
  }
  const listed = (error.errors ?? []) as Array<{ code?: number; message?: string }>;
  const codes = listed.map((item) => item.code).filter((code): code is number => typeof code === 'number');
  const said = scrubbed(
    listed.map((item) => `${item.code ?? '?'} ${item.message ?? ''}`.trim()).join('; ') ||
      `HTTP ${error.status}`,
  );
  const status = error.status;
  let code: ErrorCode;
  if (status === 429) {
    const retryAfterMs = parseRetryAfter(error.headers?.get('retry-after') ?? undefined);
    return new OutlastError('rate_limited', `${what}: Cloudflare asks to slow down: ${said}`, {
      source: PROVIDER_NAME,
      cause: error,
      ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
    });
  }
  if (codes.some((item) => STALE_CODES.has(item))) code = 'conflict';
  else if (codes.some((item) => NO_ZONE_CODES.has(item)) || status === 404) code = 'not_found';
  else if (
    status === 401 ||
    status === 403 ||
    (status === 400 && codes.some((item) => BAD_TOKEN_CODES.has(item)))
  ) {
    return failure(
      'permission_denied',
      `${what}: Cloudflare refused the API token (HTTP ${status}: ${said})`,
      error,
      {
        hint: 'the token needs DNS:Edit on the zone (Zone:Read to find it by name); a zoneId it cannot see is refused alike',
      },
    );
  } else if (status >= 500) code = 'unavailable';
  else if (status === 400 || status === 409 || status === 422) code = 'invalid_argument';
  else code = 'internal';
  return failure(code, `${what}: Cloudflare answered HTTP ${status}: ${said}`, error);
}

function causeText(error: unknown): string {
  const cause = error instanceof Error ? error.cause : undefined;
  const code =
    (cause as { code?: unknown } | undefined)?.code ??
    (cause as { cause?: { code?: unknown } } | undefined)?.cause?.code;
  if (typeof code === 'string') return code;
  return error instanceof Error ? error.message : String(error);
}

/**
 * A stand-in Cloudflare API v4 on 127.0.0.1, written from Cloudflare's API reference and DNS docs,
 * for the cloudflare provider's tests. It keeps zones and DNS records in memory and checks every
 * request as the service would:
 *
 * - `Authorization: Bearer <token>` on every request; a token is scoped to zones, may lack Zone:Read
 *   (then zones cannot be listed) or DNS:Edit (then writes are refused), as API tokens are.
 * - paths and query parameters (`name.exact`, `page`, `per_page` within Cloudflare's bounds).
 * - POST …/dns_records/batch: known keys only, deletes → patches → puts → posts on a copy of the
 *   zone, each checked (the record exists, contents are valid for the type, TTL 1 or 60–86400, no
 *   CNAME beside other data, no identical record twice); the first failure is answered and nothing
 *   is applied, as Cloudflare's docs say.
 *
 * The error codes are those seen in Cloudflare's answers (81044 record does not exist, 81053 a
 * CNAME in the way, 81058 identical record, 9005–9007 bad content, 9021 bad TTL, 7003 bad object
 * id, 10000 authentication error, 6003/6111 malformed header, 971 throttled); Cloudflare does not
 * document them all, so only their classes are relied on. `violations` lists requests Cloudflare
 * would refuse for their shape: tests expect none.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { isIP } from 'node:net';

const BASE_PATH = '/client/v4';
const MANAGED = new Set(['A', 'AAAA', 'CNAME']);
const HOSTNAME =
  /^(?=.{1,253}$)([a-z0-9_*]([a-z0-9_-]{0,61}[a-z0-9_])?)(\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)*$/i;
const RECORD_QUERY =
  /^(name|name\.(exact|contains|startswith|endswith)|type|content(\.\w+)?|page|per_page|match|order|direction|proxied|comment(\.\w+)?|tag(\.\w+)?|tag_match|search|include_shadow_metadata)$/;
const BATCH_KEYS = new Set(['deletes', 'patches', 'puts', 'posts']);
const RECORD_FIELDS = new Set([
  'id',
  'name',
  'type',
  'content',
  'ttl',
  'proxied',
  'comment',
  'tags',
  'settings',
  'private_routing',
]);

export interface CfRecord {
  id: string;
  name: string;
  type: string;
  content: string;
  ttl: number;
  proxied: boolean;
  proxiable: boolean;
  comment: string | null;
  tags: string[];
  settings: Record<string, unknown>;
  meta: Record<string, unknown>;
  created_on: string;
  modified_on: string;
}

export interface CfZone {
  id: string;
  name: string;
  enterprise: boolean;
  records: CfRecord[];
}

export interface CfToken {
  /** Zone ids the token may touch; `all` for every zone. */
  zones: Set<string> | 'all';
  /** Zone:Read: may list and get zones. */
  zoneRead: boolean;
  /** DNS:Edit: may write records (DNS:Read otherwise). */
  dnsEdit: boolean;
  /** Account ids the token may touch (Load Balancing monitors and pools); `all` for every one. */
  accounts: Set<string> | 'all';
  /** Load Balancers Edit on the zones and Monitors and Pools Edit on the accounts (Read otherwise). */
  loadBalancing: boolean;
}

/** More endpoints: answers a request it serves, undefined for one it does not. */
export interface StandInExtension {
  route(request: Recorded, token: CfToken, zones: Map<string, CfZone>): Reply | undefined;
}

export interface Recorded {
  method: string;
  path: string;
  query: Record<string, string>;
  headers: IncomingHttpHeaders;
  body: unknown;
}

export interface Reply {
  status: number;
  headers?: Record<string, string>;
  body: unknown;
}

interface CfError {
  code: number;
  message: string;
  error_chain?: CfError[];
}

class BatchFailure extends Error {
  constructor(
    readonly status: number,
    readonly error: CfError,
  ) {
    super(error.message);
  }
}

export class CloudflareStandIn {
  readonly requests: Recorded[] = [];
  readonly violations: string[] = [];
  readonly zones = new Map<string, CfZone>();
  readonly tokens = new Map<string, CfToken>();
  /** Answers given to the next requests (after the token check) instead of the normal ones. */
  readonly nextReplies: Reply[] = [];
  /** Runs when a batch arrives, before it is checked: another writer acting at that moment. */
  onBatch: ((zone: CfZone) => void) | undefined;
  /** Endpoints beyond DNS (cloudflare-lb.ts), asked before the DNS routes. */
  readonly extensions: StandInExtension[] = [];
  baseUrl = '';
  private server: Server | undefined;

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const reply = this.handle(req.method ?? 'GET', req.url ?? '/', req.headers, Buffer.concat(chunks));
        res.writeHead(reply.status, { 'content-type': 'application/json', ...reply.headers });
        res.end(JSON.stringify(reply.body));
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    const { port } = this.server.address() as { port: number };
    this.baseUrl = `http://127.0.0.1:${port}${BASE_PATH}`;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()));
  }

  addZone(name: string, options: { enterprise?: boolean } = {}): CfZone {
    const zone: CfZone = { id: hexId(), name, enterprise: options.enterprise ?? false, records: [] };
    this.zones.set(zone.id, zone);
    return zone;
  }

  /** A token; by default Zone:Read and DNS:Edit on every zone. */
  addToken(token: string, scope: Partial<CfToken> = {}): void {
    this.tokens.set(token, {
      zones: 'all',
      zoneRead: true,
      dnsEdit: true,
      accounts: 'all',
      loadBalancing: true,
      ...scope,
    });
  }

  /** Replaces the records of one type at a name, as another writer would (none: deletes them). */
  put(
    zoneId: string,
    name: string,
    type: string,
    ttl: number,
    contents: string[],
    extra: Partial<CfRecord> = {},
  ): void {
    const zone = this.zones.get(zoneId)!;
    zone.records = zone.records.filter((record) => !(record.name === name && record.type === type));
    for (const content of contents) zone.records.push(newRecord({ name, type, content, ttl, ...extra }));
  }

  /** What the zone serves at `name` for `type`. */
  served(zoneId: string, name: string, type: string): string[] {
    return (this.zones.get(zoneId)?.records ?? [])
      .filter((record) => record.name === name && record.type === type)
      .map((record) => record.content);
  }

  /** The records at `name` (all types), for asserting on flags and comments. */
  at(zoneId: string, name: string): CfRecord[] {
    return (this.zones.get(zoneId)?.records ?? []).filter((record) => record.name === name);
  }

  reset(zoneId: string): void {
    this.zones.get(zoneId)!.records = [];
  }

  calls(method: string, pathEnd: RegExp): Recorded[] {
    return this.requests.filter((request) => request.method === method && pathEnd.test(request.path));
  }

  private handle(method: string, url: string, headers: IncomingHttpHeaders, raw: Buffer): Reply {
    const parsed = new URL(url, 'http://stand-in');
    const query: Record<string, string> = {};
    for (const [key, value] of parsed.searchParams) query[key] = value;
    let body: unknown;
    if (raw.length > 0) {
      if (!String(headers['content-type'] ?? '').startsWith('application/json')) {
        return this.violation(method, parsed.pathname, 'a body without content-type application/json');
      }
      try {
        body = JSON.parse(raw.toString('utf8'));
      } catch {
        return this.violation(method, parsed.pathname, 'a body that is not JSON');
      }
    }
    const request: Recorded = { method, path: parsed.pathname, query, headers, body };
    this.requests.push(request);
    const authorization = String(headers.authorization ?? '');
    const bearer = /^Bearer ([A-Za-z0-9_-]+)$/.exec(authorization);
    if (!bearer || headers['x-auth-key'] !== undefined || headers['x-auth-email'] !== undefined) {
      return failed(400, {
        code: 6003,
        message: 'Invalid request headers',
        error_chain: [{ code: 6111, message: 'Invalid format for Authorization header' }],
      });
    }
    const token = this.tokens.get(bearer[1]!);
    if (!token) return failed(403, { code: 10000, message: 'Authentication error' });
    const next = this.nextReplies.shift();
    if (next) return next;
    return this.route(request, token);
  }

  private route(request: Recorded, token: CfToken): Reply {
    const { method, path, query } = request;
    if (!path.startsWith(`${BASE_PATH}/`)) return this.violation(method, path, 'outside /client/v4');
    for (const extension of this.extensions) {
      const reply = extension.route(request, token, this.zones);
      if (reply) return reply;
    }
    const rest = path.slice(BASE_PATH.length);
    const mayZone = (id: string) => token.zones === 'all' || token.zones.has(id);
    if (method === 'GET' && rest === '/zones') {
      this.onlyQuery(request, /^(name|page|per_page|status|match|order|direction|account\.(id|name))$/);
      const perPage = query.per_page === undefined ? 20 : Number(query.per_page);
      if (!Number.isInteger(perPage) || perPage < 5 || perPage > 50)
        return this.violation(method, path, 'per_page must be 5 to 50');
      if (!token.zoneRead)
        return {
          status: 200,
          body: envelope([], { page: 1, per_page: perPage, count: 0, total_count: 0, total_pages: 0 }),
        };
      const zones = [...this.zones.values()].filter(
        (zone) => mayZone(zone.id) && (query.name === undefined || zone.name === query.name),
      );
      return {
        status: 200,
        body: envelope(zones.map(zoneJson), pageInfo(1, perPage, zones.length, zones.length)),
      };
    }
    const zoneMatch = /^\/zones\/([^/]+)(\/dns_records(\/batch)?)?$/.exec(rest);
    if (!zoneMatch) return this.violation(method, path, 'not an endpoint the provider should call');
    const [, zoneId, records, batch] = zoneMatch;
    if (!/^[0-9a-f]{32}$/.test(zoneId!)) {
      return failed(400, {
        code: 7003,
        message: `Could not route to ${path.slice(BASE_PATH.length)}, perhaps your object identifier is invalid?`,
      });
    }
    const zone = this.zones.get(zoneId!);
    if (!zone || !mayZone(zone.id)) return failed(403, { code: 10000, message: 'Authentication error' });
    if (!records) {
      if (method !== 'GET') return this.violation(method, path, 'only GET is used on a zone');
      this.onlyQuery(request, /^$/);
      if (!token.zoneRead) return failed(403, { code: 10000, message: 'Authentication error' });
      return { status: 200, body: envelope(zoneJson(zone)) };
    }
    if (!batch && method === 'GET') return this.listRecords(request, zone);
    if (batch && method === 'POST') {
      this.onlyQuery(request, /^include_shadow_metadata$/);
      if (!token.dnsEdit) return failed(403, { code: 10000, message: 'Authentication error' });
      return this.batch(request, zone);
    }
    return this.violation(method, path, 'not an endpoint the provider should call');
  }

  private listRecords(request: Recorded, zone: CfZone): Reply {
    const { query } = request;
    this.onlyQuery(request, RECORD_QUERY);
    const perPage = query.per_page === undefined ? 100 : Number(query.per_page);
    const page = query.page === undefined ? 1 : Number(query.page);
    if (!Number.isInteger(perPage) || perPage < 5 || perPage > 5_000_000) {
      return this.violation(request.method, request.path, 'per_page must be 5 to 5000000');
    }
    if (!Number.isInteger(page) || page < 1)
      return this.violation(request.method, request.path, 'page must be 1 or more');
    const exact = query['name.exact'] ?? query.name;
    const matching = zone.records.filter(
      (record) =>
        (exact === undefined || record.name === exact.toLowerCase()) &&
        (query.type === undefined || record.type === query.type),
    );
    const slice = matching.slice((page - 1) * perPage, page * perPage);
    return { status: 200, body: envelope(slice, pageInfo(page, perPage, slice.length, matching.length)) };
  }

  private batch(request: Recorded, zone: CfZone): Reply {
    const body = request.body;
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      return this.violation(request.method, request.path, 'the batch body must be an object');
    }
    const unknown = Object.keys(body).filter((key) => !BATCH_KEYS.has(key));
    if (unknown.length > 0)
      return this.violation(request.method, request.path, `unknown batch keys ${unknown.join(', ')}`);
    const lists = body as Record<string, unknown>;
    for (const key of BATCH_KEYS) {
      if (lists[key] !== undefined && !Array.isArray(lists[key])) {
        return this.violation(request.method, request.path, `${key} must be an array`);
      }
    }
    const asList = (key: string) => (lists[key] as Array<Record<string, unknown>> | undefined) ?? [];
    for (const key of BATCH_KEYS) {
      for (const item of asList(key)) {
        const extra = Object.keys(item).filter((field) => !RECORD_FIELDS.has(field));
        if (extra.length > 0)
          return this.violation(request.method, request.path, `${key}: unknown fields ${extra.join(', ')}`);
        if (key !== 'posts' && typeof item.id !== 'string')
          return this.violation(request.method, request.path, `${key}: id missing`);
        if (key === 'posts' && item.id !== undefined)
          return this.violation(request.method, request.path, 'posts carry no id');
      }
    }
    this.onBatch?.(zone);
    const work = zone.records.map((record) => ({ ...record }));
    const result: Record<string, CfRecord[]> = { deletes: [], patches: [], puts: [], posts: [] };
    try {
      for (const item of asList('deletes')) {
        const index = this.find(work, item.id as string);
        result.deletes!.push(work[index]!);
        work.splice(index, 1);
      }
      for (const key of ['patches', 'puts'] as const) {
        for (const item of asList(key)) {
          const index = this.find(work, item.id as string);
          const base = key === 'patches' ? work[index]! : newRecord({ id: work[index]!.id });
          const next = { ...base, ...fields(item), modified_on: new Date().toISOString() };
          const others = work.filter((_, at) => at !== index);
          checkRecord(zone, next, others);
          work[index] = next;
          result[key]!.push(next);
        }
      }
      for (const item of asList('posts')) {
        if (typeof item.name !== 'string' || typeof item.type !== 'string' || typeof item.ttl !== 'number') {
          return this.violation(request.method, request.path, 'posts need name, type and ttl');
        }
        const record = newRecord(fields(item));
        checkRecord(zone, record, work);
        work.push(record);
        result.posts!.push(record);
      }
    } catch (error) {
      if (error instanceof BatchFailure) return failed(error.status, error.error);
      throw error;
    }
    zone.records = work;
    return { status: 200, body: envelope(result) };
  }

  private find(records: CfRecord[], id: string): number {
    const index = records.findIndex((record) => record.id === id);
    if (index < 0) throw new BatchFailure(404, { code: 81044, message: 'Record does not exist.' });
    return index;
  }

  private onlyQuery(request: Recorded, allowed: RegExp): void {
    for (const key of Object.keys(request.query)) {
      if (!allowed.test(key))
        this.violations.push(`${request.method} ${request.path}: unknown query parameter ${key}`);
    }
  }

  private violation(method: string, path: string, message: string): Reply {
    this.violations.push(`${method} ${path}: ${message}`);
    return failed(400, { code: 7000, message: `No route for that URI (${message})` });
  }
}

/** A record as Cloudflare stores it, checked against the zone's other records. */
function checkRecord(zone: CfZone, record: CfRecord, others: CfRecord[]): void {
  record.name = record.name.toLowerCase();
  if (record.name !== zone.name && !record.name.endsWith(`.${zone.name}`)) {
    throw new BatchFailure(400, {
      code: 9007,
      message: `Record name ${record.name} is not within the zone ${zone.name}`,
    });
  }
  if (!MANAGED.has(record.type))
    throw new BatchFailure(400, {
      code: 9000,
      message: `type ${record.type} is not handled by the stand-in`,
    });
  if (record.type === 'A' && isIP(record.content) !== 4) {
    throw new BatchFailure(400, {
      code: 9005,
      message: 'Content for A record is invalid. Must be a valid IPv4 address',
    });
  }
  if (record.type === 'AAAA' && isIP(record.content) !== 6) {
    throw new BatchFailure(400, {
      code: 9006,
      message: 'Content for AAAA record is invalid. Must be a valid IPv6 address',
    });
  }
  if (record.type === 'CNAME' && !HOSTNAME.test(record.content.replace(/\.$/, ''))) {
    throw new BatchFailure(400, { code: 9007, message: 'Content for CNAME record is invalid.' });
  }
  // Proxied records always carry the automatic TTL.
  if (record.proxied) record.ttl = 1;
  const minTtl = zone.enterprise ? 30 : 60;
  if (!Number.isInteger(record.ttl) || (record.ttl !== 1 && (record.ttl < minTtl || record.ttl > 86_400))) {
    throw new BatchFailure(400, {
      code: 9021,
      message: `TTL must be between ${minTtl} and 86400 seconds, or 1 for Automatic.`,
    });
  }
  const atName = others.filter((other) => other.name === record.name && MANAGED.has(other.type));
  if ((record.type === 'CNAME' && atName.length > 0) || atName.some((other) => other.type === 'CNAME')) {
    throw new BatchFailure(400, {
      code: 81053,
      message: 'An A, AAAA, or CNAME record with that host already exists.',
    });
  }
  if (atName.some((other) => other.type === record.type && other.content === record.content)) {
    throw new BatchFailure(400, { code: 81058, message: 'An identical record already exists.' });
  }
}

function fields(item: Record<string, unknown>): Partial<CfRecord> {
  const out: Partial<CfRecord> = {};
  if (typeof item.name === 'string') out.name = item.name;
  if (typeof item.type === 'string') out.type = item.type;
  if (typeof item.content === 'string') out.content = item.content;
  if (typeof item.ttl === 'number') out.ttl = item.ttl;
  if (typeof item.proxied === 'boolean') out.proxied = item.proxied;
  if (typeof item.comment === 'string' || item.comment === null) out.comment = item.comment as string | null;
  return out;
}

function newRecord(values: Partial<CfRecord>): CfRecord {
  const now = new Date().toISOString();
  return {
    id: hexId(),
    name: '',
    type: 'A',
    content: '',
    ttl: 1,
    proxied: false,
    proxiable: true,
    comment: null,
    tags: [],
    settings: {},
    meta: {},
    created_on: now,
    modified_on: now,
    ...values,
  };
}

function zoneJson(zone: CfZone) {
  return {
    id: zone.id,
    name: zone.name,
    status: 'active',
    paused: false,
    type: 'full',
    plan: { legacy_id: zone.enterprise ? 'enterprise' : 'free' },
  };
}

function envelope(result: unknown, resultInfo?: Record<string, number>) {
  return {
    success: true,
    errors: [],
    messages: [],
    result,
    ...(resultInfo ? { result_info: resultInfo } : {}),
  };
}

function pageInfo(page: number, perPage: number, count: number, total: number) {
  return { page, per_page: perPage, count, total_count: total, total_pages: Math.ceil(total / perPage) };
}

/** Cloudflare's error envelope. */
export function failed(status: number, error: CfError, headers: Record<string, string> = {}): Reply {
  return { status, headers, body: { success: false, errors: [error], messages: [], result: null } };
}

function hexId(): string {
  return randomBytes(16).toString('hex');
}

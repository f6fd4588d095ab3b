/**
 * A stand-in DNS Made Easy REST API v2.0 on 127.0.0.1, for the dnsmadeeasy provider's tests,
 * written from DNS Made Easy's API documentation (v2.0) and the shapes that long-lived clients
 * (dnscontrol, lego, lexicon) send and read. It keeps domains and records in memory and checks
 * every request as the service would:
 *
 * - the signature: `x-dnsme-apiKey` must be a known key, `x-dnsme-requestDate` an HTTP date in GMT
 *   within 5 minutes of the stand-in's clock, `x-dnsme-hmac` the hex HMAC-SHA1 of that date with
 *   the key's secret; otherwise 403 with `{"error": [...]}`.
 * - the request budget: 150 requests per window (settable), `x-dnsme-requestLimit` and
 *   `x-dnsme-requestsRemaining` on every answer, 400 "Rate limit exceeded" past it.
 * - paths, query parameters and bodies of the record endpoints (single and multi); names must be
 *   relative to the domain (an absolute one is a silent mistake with the real API: it would create
 *   `www.example.com.example.com`), values valid for their type, no CNAME beside other data, no
 *   duplicate record. Multi operations apply all or nothing here; DNS Made Easy does not document
 *   what it does when one item fails.
 *
 * - the record monitor and failover (`GET`/`PUT /monitor/{recordId}`), from the facts collected in
 *   ../shared/notes/native-failover.md §2 (Ansible's module, DNS Made Easy's Terraform provider,
 *   WWW::DNSMadeEasy): A records only; known fields only, typed as Ansible sends them (booleans and
 *   whole numbers; whether the service also takes Terraform's strings is unconfirmed); a PUT
 *   updates the fields it names; `sensitivity` 3, 5 or 8; `protocolId` 1–6; `port` 1–65535;
 *   `maxEmails` ≤ 150; `httpQueryString` ≤ 16 characters; IPv4 `ip1`…`ip5` without gaps; failover
 *   needs ip1 and ip2, a monitor needs port, protocolId, maxEmails, systemDescription and ip1; an
 *   empty ip slot clears it (unconfirmed). The GET answers the fields with `ip1Failed`…`ip5Failed`
 *   (booleans here; their type at the service is unconfirmed), `recordId`, `source`, `sourceId`.
 * - and it *evaluates* them (`startChecks`): each round probes every ip of a failover's HTTP(S)
 *   monitor at the origin URL a test maps it to (`ipOrigins`), GET `httpFile` with Host `httpFqdn`;
 *   a check passes on a 2xx whose body contains `httpQueryString` (case-sensitive, whole body: the
 *   service's exact rule is unconfirmed). `sensitivity` consecutive failures set the ip's failed
 *   flag, one pass clears it (unconfirmed); the answer (`served`) moves to the next ip not failed
 *   in order, and with `autoFailover: false` back to the first ip not failed (ip1 once it is back);
 *   with every ip failed it stays where it is (unconfirmed).
 *
 * DNS Made Easy documents neither its error wording nor the paging of record lists; the stand-in
 * uses `{"error": ["…"]}` bodies (as clients parse them) and pages by `page` when told to.
 * `violations` lists requests DNS Made Easy would refuse or misread: tests expect none.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, request as httpRequest, type IncomingHttpHeaders, type Server } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP } from 'node:net';

const BASE_PATH = '/V2.0';
const MAX_CLOCK_SKEW_MS = 5 * 60_000;
const HTTP_DATE =
  /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d{2}:\d{2}:\d{2} GMT$/;
const RECORD_FIELDS = new Set(['id', 'name', 'type', 'value', 'ttl', 'gtdLocation']);
const TYPES = new Set(['A', 'AAAA', 'CNAME']);
const MONITOR_FIELDS: Record<string, 'boolean' | 'integer' | 'string'> = {
  monitor: 'boolean',
  failover: 'boolean',
  autoFailover: 'boolean',
  systemDescription: 'string',
  maxEmails: 'integer',
  sensitivity: 'integer',
  protocolId: 'integer',
  port: 'integer',
  contactListId: 'integer',
  httpFqdn: 'string',
  httpFile: 'string',
  httpQueryString: 'string',
  sendString: 'string',
  timeout: 'integer',
  dnsFqdn: 'string',
  dnsTimeout: 'integer',
  ip1: 'string',
  ip2: 'string',
  ip3: 'string',
  ip4: 'string',
  ip5: 'string',
};
const IP_SLOTS = ['ip1', 'ip2', 'ip3', 'ip4', 'ip5'] as const;
const SENSITIVITIES = new Set([3, 5, 8]);
const MAX_QUERY_STRING = 16;
const MAX_EMAILS = 150;
const PROBE_TIMEOUT_MS = 2_000;
const LABELS = /^(\*|[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)(\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)*$/i;

export interface DmeRecord {
  id: number;
  name: string;
  type: string;
  value: string;
  ttl: number;
  source: number;
  sourceId: number;
  gtdLocation: string;
  failover: boolean;
  monitor: boolean;
  hardLink: boolean;
  dynamicDns: boolean;
  failed: boolean;
}

/** A record's monitor and failover as the stand-in keeps them, with its evaluation. */
export interface DmeMonitor {
  recordId: number;
  fields: Record<string, unknown>;
  /** Consecutive failed checks per ip slot. */
  failures: number[];
  /** `ipNFailed`. */
  failed: boolean[];
  /** The slot whose ip the record answers. */
  active: number;
}

export interface DmeDomain {
  id: number;
  name: string;
  records: DmeRecord[];
}

export interface Recorded {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  body: unknown;
}

export interface Reply {
  status: number;
  headers?: Record<string, string>;
  body?: unknown;
}

class Refusal extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export class DnsMadeEasyStandIn {
  readonly requests: Recorded[] = [];
  readonly violations: string[] = [];
  readonly domains = new Map<number, DmeDomain>();
  /** API key → secret key. */
  readonly keys = new Map<string, string>();
  /** Requests allowed per window (DNS Made Easy: 150 per 5 minutes). */
  requestLimit = 150;
  /** Sent as Retry-After when the limit is reached (DNS Made Easy documents none). */
  retryAfterSeconds: number | undefined;
  /** Records per page of a record list. */
  pageSize = 1000;
  /** Answers given to the next requests (after the signature check) instead of the normal ones. */
  readonly nextReplies: Reply[] = [];
  /** Sees each request after the signature check; a reply it returns is sent instead. */
  onRequest: ((request: Recorded, domains: Map<number, DmeDomain>) => Reply | undefined) | undefined;
  baseUrl = '';
  /** Record id → its monitor and failover. */
  readonly monitors = new Map<number, DmeMonitor>();
  /** What a monitor's ip stands for here: ip → the base URL of a local origin (`http://127.0.0.1:port`). */
  readonly ipOrigins = new Map<string, string>();
  /** Evaluation rounds run so far. */
  checkRounds = 0;
  private checks: NodeJS.Timeout | undefined;
  private checking = false;
  private used = 0;
  private nextId = 1000;
  private server: Server | undefined;

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const reply = this.handle(req.method ?? 'GET', req.url ?? '/', req.headers, Buffer.concat(chunks));
        const remaining = Math.max(0, this.requestLimit - this.used);
        res.writeHead(reply.status, {
          'x-dnsme-requestLimit': String(this.requestLimit),
          'x-dnsme-requestsRemaining': String(remaining),
          ...(reply.body === undefined ? {} : { 'content-type': 'application/json' }),
          ...reply.headers,
        });
        res.end(reply.body === undefined ? undefined : JSON.stringify(reply.body));
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    const { port } = this.server.address() as { port: number };
    this.baseUrl = `http://127.0.0.1:${port}${BASE_PATH}`;
  }

  async stop(): Promise<void> {
    this.stopChecks();
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()));
  }

  addDomain(name: string): DmeDomain {
    const domain: DmeDomain = { id: this.nextId++, name, records: [] };
    this.domains.set(domain.id, domain);
    return domain;
  }

  /** A new window of the request budget. */
  resetWindow(): void {
    this.used = 0;
  }

  /** Replaces the records of one type at a relative name ('' is the apex), as another writer would. */
  put(
    domainId: number,
    name: string,
    type: string,
    ttl: number,
    values: string[],
    extra: Partial<DmeRecord> = {},
  ): void {
    const domain = this.domains.get(domainId)!;
    domain.records = domain.records.filter((record) => !(record.name === name && record.type === type));
    for (const value of values)
      domain.records.push(this.newRecord(domain, { name, type, value, ttl, ...extra }));
  }

  /** What the domain serves at an absolute name: addresses, or CNAME targets made absolute. */
  served(domainId: number, host: string, type: string): string[] {
    const domain = this.domains.get(domainId)!;
    const name = host === domain.name ? '' : host.slice(0, -(domain.name.length + 1));
    return domain.records
      .filter((record) => record.name === name && record.type === type)
      .map((record) => {
        const monitor = this.monitors.get(record.id);
        if (record.failover && monitor) return slotsOf(monitor.fields)[monitor.active] ?? record.value;
        if (type !== 'CNAME') return record.value;
        return record.value.endsWith('.') ? record.value.slice(0, -1) : `${record.value}.${domain.name}`;
      });
  }

  reset(domainId: number): void {
    for (const record of this.domains.get(domainId)!.records) this.monitors.delete(record.id);
    this.domains.get(domainId)!.records = [];
  }

  /** Sets a record's monitor as another writer would (the DNS Made Easy control panel). */
  putMonitor(recordId: number, fields: Record<string, unknown>): void {
    const record = [...this.domains.values()]
      .flatMap((domain) => domain.records)
      .find((item) => item.id === recordId)!;
    this.monitors.set(recordId, { recordId, fields: { ...fields }, failures: [], failed: [], active: 0 });
    record.monitor = fields.monitor === true;
    record.failover = fields.failover === true;
  }

  /** Evaluates every failover each `intervalMs` (DNS Made Easy's own interval is not settable). */
  startChecks(intervalMs: number): void {
    this.stopChecks();
    const round = async () => {
      if (!this.checking) {
        this.checking = true;
        try {
          await this.evaluate();
        } finally {
          this.checking = false;
        }
      }
      this.checks = setTimeout(round, intervalMs);
    };
    this.checks = setTimeout(round, intervalMs);
  }

  stopChecks(): void {
    clearTimeout(this.checks);
    this.checks = undefined;
  }

  /** One round of checks: every ip of every failover's HTTP(S) monitor, then the answers move. */
  async evaluate(): Promise<void> {
    for (const monitor of [...this.monitors.values()]) {
      const fields = monitor.fields;
      if (fields.failover !== true || (fields.protocolId !== 3 && fields.protocolId !== 6)) continue;
      const ips = slotsOf(fields);
      const passed = await Promise.all(ips.map((ip) => this.probe(ip, fields)));
      if (this.monitors.get(monitor.recordId) !== monitor) continue;
      passed.forEach((pass, slot) => {
        monitor.failures[slot] = pass ? 0 : (monitor.failures[slot] ?? 0) + 1;
        monitor.failed[slot] = pass ? false : monitor.failures[slot]! >= (fields.sensitivity as number);
      });
      const up = ips.map((_, slot) => slot).filter((slot) => !monitor.failed[slot]);
      if (up.length === 0) continue;
      if (fields.autoFailover !== true) monitor.active = up[0]!;
      else if (monitor.failed[monitor.active])
        monitor.active = up.find((slot) => slot > monitor.active) ?? up[0]!;
    }
    this.checkRounds++;
  }

  private probe(ip: string, fields: Record<string, unknown>): Promise<boolean> {
    const base = this.ipOrigins.get(ip);
    if (base === undefined) return Promise.resolve(false);
    const url = new URL(String(fields.httpFile ?? '/'), base);
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    const match = String(fields.httpQueryString ?? '');
    return new Promise((resolve) => {
      const req = send(
        url,
        {
          method: 'GET',
          headers: { host: String(fields.httpFqdn ?? url.host) },
          timeout: PROBE_TIMEOUT_MS,
          rejectUnauthorized: false,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () => {
            const status = res.statusCode ?? 0;
            resolve(status >= 200 && status < 300 && Buffer.concat(chunks).toString('utf8').includes(match));
          });
          res.on('error', () => resolve(false));
        },
      );
      req.on('timeout', () => req.destroy());
      req.on('error', () => resolve(false));
      req.end();
    });
  }

  private newRecord(domain: DmeDomain, values: Partial<DmeRecord>): DmeRecord {
    return {
      id: this.nextId++,
      name: '',
      type: 'A',
      value: '',
      ttl: 1800,
      source: 1,
      sourceId: domain.id,
      gtdLocation: 'DEFAULT',
      failover: false,
      monitor: false,
      hardLink: false,
      dynamicDns: false,
      failed: false,
      ...values,
    };
  }

  private handle(method: string, url: string, headers: IncomingHttpHeaders, raw: Buffer): Reply {
    const parsed = new URL(url, 'http://stand-in');
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
    const request: Recorded = { method, path: parsed.pathname, query: parsed.searchParams, headers, body };
    this.requests.push(request);
    const refused = this.checkSignature(request);
    if (refused) return refused;
    this.used++;
    if (this.used > this.requestLimit) {
      return {
        status: 400,
        body: { error: ['Rate limit exceeded'] },
        ...(this.retryAfterSeconds === undefined
          ? {}
          : { headers: { 'retry-after': String(this.retryAfterSeconds) } }),
      };
    }
    const next = this.nextReplies.shift() ?? this.onRequest?.(request, this.domains);
    if (next) return next;
    try {
      return this.route(request);
    } catch (error) {
      if (error instanceof Refusal) return { status: error.status, body: { error: [error.message] } };
      throw error;
    }
  }

  private checkSignature(request: Recorded): Reply | undefined {
    const key = String(request.headers['x-dnsme-apikey'] ?? '');
    const date = String(request.headers['x-dnsme-requestdate'] ?? '');
    const hmac = String(request.headers['x-dnsme-hmac'] ?? '');
    const secret = this.keys.get(key);
    if (!secret) return { status: 403, body: { error: ['API key not found'] } };
    if (!HTTP_DATE.test(date)) {
      this.violations.push(
        `${request.method} ${request.path}: x-dnsme-requestDate ${JSON.stringify(date)} is not an HTTP date in GMT`,
      );
      return { status: 403, body: { error: ['Invalid request date'] } };
    }
    if (Math.abs(Date.now() - Date.parse(date)) > MAX_CLOCK_SKEW_MS) {
      return { status: 403, body: { error: ['Request date is too far from the server time'] } };
    }
    const expected = Buffer.from(createHmac('sha1', secret).update(date).digest('hex'));
    const given = Buffer.from(hmac);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      return { status: 403, body: { error: ['HMAC validation failed'] } };
    }
    return undefined;
  }

  private route(request: Recorded): Reply {
    const { method, path, query } = request;
    if (!path.startsWith(`${BASE_PATH}/`)) return this.violation(method, path, 'outside /V2.0');
    const rest = path.slice(BASE_PATH.length);
    if (method === 'GET' && rest === '/dns/managed/name') {
      this.onlyQuery(request, ['domainname']);
      const name = query.get('domainname')?.toLowerCase();
      const domain = [...this.domains.values()].find((item) => item.name === name);
      if (!domain) throw new Refusal(404, 'Domain not found');
      return {
        status: 200,
        body: { id: domain.id, name: domain.name, gtdEnabled: false, processMulti: false, folderId: 1 },
      };
    }
    const monitorPath = /^\/monitor\/(\d+)$/.exec(rest);
    if (monitorPath && (method === 'GET' || method === 'PUT'))
      return this.monitorCall(request, Number(monitorPath[1]));
    const match = /^\/dns\/managed\/(\d+)\/records(?:\/(\d+|createMulti|updateMulti))?$/.exec(rest);
    if (!match) return this.violation(method, path, 'not an endpoint the provider should call');
    const domain = this.domains.get(Number(match[1]));
    if (!domain) throw new Refusal(404, 'Domain not found');
    const sub = match[2];
    if (method === 'GET' && sub === undefined) return this.list(request, domain);
    if (method === 'POST' && sub === undefined) return this.write(request, domain, 'create', false);
    if (method === 'POST' && sub === 'createMulti') return this.write(request, domain, 'create', true);
    if (method === 'PUT' && sub === 'updateMulti') return this.write(request, domain, 'update', true);
    if (method === 'PUT' && sub !== undefined && /^\d+$/.test(sub))
      return this.write(request, domain, 'update', false, Number(sub));
    if (method === 'DELETE') return this.remove(request, domain, sub);
    return this.violation(method, path, 'not an endpoint the provider should call');
  }

  private list(request: Recorded, domain: DmeDomain): Reply {
    this.onlyQuery(request, ['recordName', 'type', 'page']);
    const name = request.query.get('recordName');
    const type = request.query.get('type');
    const page = Number(request.query.get('page') ?? '1');
    const matching = domain.records.filter(
      (record) =>
        (name === null || record.name === name.toLowerCase()) && (type === null || record.type === type),
    );
    const totalPages = Math.max(1, Math.ceil(matching.length / this.pageSize));
    const data = matching.slice((page - 1) * this.pageSize, page * this.pageSize);
    return { status: 200, body: { totalRecords: matching.length, totalPages, page, data } };
  }

  private write(
    request: Recorded,
    domain: DmeDomain,
    action: 'create' | 'update',
    multi: boolean,
    recordId?: number,
  ): Reply {
    this.onlyQuery(request, []);
    const items = multi ? request.body : [request.body];
    if (!Array.isArray(items) || items.length === 0 || (multi && !Array.isArray(request.body))) {
      return this.violation(
        request.method,
        request.path,
        multi ? 'the body must be a non-empty array' : 'the body must be a record',
      );
    }
    const work = domain.records.map((record) => ({ ...record }));
    const done: DmeRecord[] = [];
    for (const item of items as Array<Record<string, unknown>>) {
      if (typeof item !== 'object' || item === null)
        return this.violation(request.method, request.path, 'a record must be an object');
      const extra = Object.keys(item).filter((key) => !RECORD_FIELDS.has(key));
      if (extra.length > 0)
        return this.violation(request.method, request.path, `unknown fields ${extra.join(', ')}`);
      const shape = this.shapeProblem(item, domain, action, recordId);
      if (shape) return this.violation(request.method, request.path, shape);
      const fields = {
        name: (item.name as string).toLowerCase(),
        type: item.type as string,
        value: item.value as string,
        ttl: item.ttl as number,
        gtdLocation: (item.gtdLocation as string | undefined) ?? 'DEFAULT',
      };
      if (action === 'create') {
        const record = this.newRecord(domain, fields);
        checkRecord(domain, record, work);
        work.push(record);
        done.push(record);
      } else {
        const index = work.findIndex((record) => record.id === item.id);
        if (index < 0) throw new Refusal(404, `Record ${String(item.id)} not found`);
        const record = { ...work[index]!, ...fields };
        checkRecord(
          domain,
          record,
          work.filter((_, at) => at !== index),
        );
        work[index] = record;
      }
    }
    domain.records = work;
    if (action === 'update') return { status: 200 };
    return { status: 201, body: multi ? done : done[0] };
  }

  private shapeProblem(
    item: Record<string, unknown>,
    domain: DmeDomain,
    action: 'create' | 'update',
    recordId?: number,
  ): string | undefined {
    if (typeof item.name !== 'string' || typeof item.type !== 'string' || typeof item.value !== 'string') {
      return 'a record needs name, type and value as strings';
    }
    if (!Number.isInteger(item.ttl) || (item.ttl as number) < 0) return 'ttl must be a whole number';
    if (item.gtdLocation !== undefined && item.gtdLocation !== 'DEFAULT')
      return `gtdLocation ${String(item.gtdLocation)} without GTD`;
    if (item.name.endsWith('.') || item.name.toLowerCase().endsWith(domain.name) || item.name === '@') {
      return `name ${JSON.stringify(item.name)} must be relative to the domain ('' for the apex)`;
    }
    if (!TYPES.has(item.type)) return `type ${item.type} is not handled by the stand-in`;
    if (action === 'create' && item.id !== undefined) return 'a new record carries no id';
    if (action === 'update' && typeof item.id !== 'number') return 'an update names the record by id';
    if (recordId !== undefined && item.id !== recordId)
      return `the body's id ${String(item.id)} is not the path's ${recordId}`;
    return undefined;
  }

  private remove(request: Recorded, domain: DmeDomain, sub: string | undefined): Reply {
    let ids: number[];
    if (sub !== undefined) {
      this.onlyQuery(request, []);
      ids = [Number(sub)];
    } else {
      this.onlyQuery(request, ['ids']);
      ids = request.query.getAll('ids').map(Number);
      if (ids.length === 0 || ids.some((id) => !Number.isInteger(id))) {
        return this.violation(
          request.method,
          request.path,
          'DELETE …/records needs ids=… (without them it would be the whole domain)',
        );
      }
    }
    const missing = ids.filter((id) => !domain.records.some((record) => record.id === id));
    if (missing.length > 0) throw new Refusal(404, `Record ${missing.join(', ')} not found`);
    domain.records = domain.records.filter((record) => !ids.includes(record.id));
    for (const id of ids) this.monitors.delete(id);
    return { status: 200 };
  }

  private monitorCall(request: Recorded, recordId: number): Reply {
    this.onlyQuery(request, []);
    const domain = [...this.domains.values()].find((item) =>
      item.records.some((record) => record.id === recordId),
    );
    const record = domain?.records.find((item) => item.id === recordId);
    if (!domain || !record) throw new Refusal(404, `Record ${recordId} not found`);
    const held = this.monitors.get(recordId);
    if (request.method === 'GET') return { status: 200, body: monitorView(domain, record, held) };
    if (record.type !== 'A')
      throw new Refusal(400, 'Monitoring and failover are available for A records only');
    const body = request.body;
    if (typeof body !== 'object' || body === null || Array.isArray(body))
      return this.violation(request.method, request.path, 'the body must be a monitor object');
    for (const [key, value] of Object.entries(body)) {
      const kind = MONITOR_FIELDS[key];
      if (kind === undefined) return this.violation(request.method, request.path, `unknown field ${key}`);
      const ok =
        kind === 'boolean'
          ? typeof value === 'boolean'
          : kind === 'integer'
            ? Number.isInteger(value)
            : typeof value === 'string';
      if (!ok) return this.violation(request.method, request.path, `${key} must be a ${kind}`);
    }
    const fields: Record<string, unknown> = { ...(held?.fields ?? {}), ...body };
    for (const slot of IP_SLOTS) if (fields[slot] === '') delete fields[slot];
    const problem = monitorProblem(fields);
    if (problem) return this.violation(request.method, request.path, problem);
    const ipsChanged = held === undefined || slotsOf(held.fields).join() !== slotsOf(fields).join();
    this.monitors.set(recordId, {
      recordId,
      fields,
      failures: ipsChanged ? [] : held.failures,
      failed: ipsChanged ? [] : held.failed,
      active: ipsChanged ? 0 : held.active,
    });
    record.monitor = fields.monitor === true;
    record.failover = fields.failover === true;
    return { status: 200, body: monitorView(domain, record, this.monitors.get(recordId)) };
  }

  private onlyQuery(request: Recorded, allowed: string[]): void {
    for (const key of request.query.keys()) {
      if (!allowed.includes(key))
        this.violations.push(`${request.method} ${request.path}: unknown query parameter ${key}`);
    }
  }

  private violation(method: string, path: string, message: string): Reply {
    this.violations.push(`${method} ${path}: ${message}`);
    return { status: 400, body: { error: [message] } };
  }
}

/** A record checked as DNS Made Easy would against the domain's other records. */
function checkRecord(domain: DmeDomain, record: DmeRecord, others: DmeRecord[]): void {
  if (record.name !== '' && !LABELS.test(record.name))
    throw new Refusal(400, `Invalid record name ${record.name}`);
  if (record.type === 'A' && isIP(record.value) !== 4)
    throw new Refusal(400, `Invalid IPv4 address ${record.value}`);
  if (record.type === 'AAAA' && isIP(record.value) !== 6)
    throw new Refusal(400, `Invalid IPv6 address ${record.value}`);
  if (record.type === 'CNAME' && !LABELS.test(record.value.replace(/\.$/, '')))
    throw new Refusal(400, `Invalid CNAME value ${record.value}`);
  const atName = others.filter((other) => other.name === record.name && TYPES.has(other.type));
  if ((record.type === 'CNAME' && atName.length > 0) || atName.some((other) => other.type === 'CNAME')) {
    throw new Refusal(
      400,
      `A CNAME record cannot share the name "${record.name}" with other records in ${domain.name}`,
    );
  }
  if (atName.some((other) => other.type === record.type && other.value === record.value)) {
    throw new Refusal(400, 'Record with this type, name and value already exists');
  }
}

/** The ips of a monitor's slots, in order. */
function slotsOf(fields: Record<string, unknown>): string[] {
  return IP_SLOTS.flatMap((slot) =>
    typeof fields[slot] === 'string' && fields[slot] !== '' ? [fields[slot] as string] : [],
  );
}

/** What DNS Made Easy would refuse in a monitor once a PUT's fields are merged in. */
function monitorProblem(fields: Record<string, unknown>): string | undefined {
  const present = IP_SLOTS.map((slot) => fields[slot] !== undefined);
  if (present.some((here, index) => here && index > 0 && !present[index - 1]))
    return 'ip1…ip5 must be filled in order';
  for (const ip of slotsOf(fields)) if (isIP(ip) !== 4) return `${ip} is not an IPv4 address`;
  if (fields.sensitivity !== undefined && !SENSITIVITIES.has(fields.sensitivity as number))
    return `sensitivity ${String(fields.sensitivity)} is not 3, 5 or 8`;
  const protocol = fields.protocolId as number | undefined;
  if (protocol !== undefined && (protocol < 1 || protocol > 6)) return `protocolId ${protocol} is not 1–6`;
  const port = fields.port as number | undefined;
  if (port !== undefined && (port < 1 || port > 65_535)) return `port ${port} is out of range`;
  if (fields.maxEmails !== undefined && (fields.maxEmails as number) > MAX_EMAILS)
    return `maxEmails is over ${MAX_EMAILS}`;
  if (typeof fields.httpQueryString === 'string' && fields.httpQueryString.length > MAX_QUERY_STRING)
    return `httpQueryString is longer than ${MAX_QUERY_STRING} characters`;
  for (const key of ['timeout', 'dnsTimeout'])
    if (fields[key] !== undefined && (fields[key] as number) > 7) return `${key} is over 7`;
  if (fields.failover === true) {
    for (const key of ['ip1', 'ip2', 'port', 'protocolId', 'sensitivity', 'autoFailover'])
      if (fields[key] === undefined) return `failover needs ${key}`;
  }
  if (fields.monitor === true) {
    for (const key of ['ip1', 'port', 'protocolId', 'maxEmails', 'systemDescription'])
      if (fields[key] === undefined) return `a monitor needs ${key}`;
  }
  return undefined;
}

/** A monitor as GET monitor/{recordId} answers it. */
function monitorView(
  domain: DmeDomain,
  record: DmeRecord,
  monitor: DmeMonitor | undefined,
): Record<string, unknown> {
  const fields = monitor?.fields ?? {};
  const ips = slotsOf(fields);
  return {
    recordId: record.id,
    source: 1,
    sourceId: domain.id,
    monitor: false,
    failover: false,
    ...fields,
    ...Object.fromEntries(ips.map((_, slot) => [`ip${slot + 1}Failed`, monitor?.failed[slot] ?? false])),
  };
}

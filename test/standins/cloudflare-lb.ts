/**
 * Cloudflare Load Balancing for the Cloudflare stand-in (cloudflare.ts), written from the SDK's
 * types (`cloudflare` 7.x, Stainless-generated from Cloudflare's OpenAPI spec) and the facts in
 * ../shared/notes/native-failover.md §4. Added to a `CloudflareStandIn`'s `extensions`, it serves
 *
 * - `/accounts/{account}/load_balancers/monitors[/{id}]` GET (list, one), POST, PUT, DELETE;
 * - `/accounts/{account}/load_balancers/pools[/{id}]` GET, POST, PUT, DELETE, and
 *   `…/pools/{id}/health` GET (`{pool_id, pop_health: {healthy, origins: [{<address>: {healthy,
 *   failure_reason, response_code, rtt}}]}}`);
 * - `/zones/{zone}/load_balancers[/{id}]` GET, POST, PUT, DELETE,
 *
 * checking each request as Cloudflare does: the token's account or zone and its Load Balancing
 * permission, known body fields only, a monitor's type, path, codes, header (no User-Agent),
 * interval, timeout and retries within bounds, a pool's name (letters, digits, `-`, `_`), its
 * origins (an IP or a hostname, one Host header) and its monitor in the same account, a load
 * balancer's name inside the zone, its pools in the account and a known steering policy, and
 * nothing deleted while something refers to it. `violations` lists requests Cloudflare would
 * refuse for their shape.
 *
 * It also *evaluates* what is provisioned: every pool's enabled origins are probed with their
 * monitor's semantics (GET `type://address:port/path` with the Host header, no redirects followed,
 * `expected_codes` a code or a class, `expected_body` a case-insensitive substring, `retries` more
 * tries right away on a timeout, `consecutive_down/up` in a row to change state, every origin
 * starting unhealthy), and `answer(zone, name)` is what the load balancer would give: the first
 * healthy pool of `default_pools`, else `fallback_pool`. `intervalMs` overrides every monitor's
 * interval so tests run fast.
 *
 * UNCONFIRMED against Cloudflare (not in the SDK's types): the interval bounds (10 to 3600 s here),
 * timeout 1 to 10 s and retries 0 to 5, the error codes and messages (1002 in use, 1003 not found,
 * 1004 invalid), whether an origin starts healthy, and the exact shape of `pop_health` (per region in
 * Cloudflare's answers; one view here).
 */
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP } from 'node:net';
import {
  type CfToken,
  type CfZone,
  failed,
  type Recorded,
  type Reply,
  type StandInExtension,
} from './cloudflare.ts';

const MONITOR_FIELDS = new Set([
  'type',
  'method',
  'path',
  'port',
  'header',
  'expected_body',
  'expected_codes',
  'interval',
  'timeout',
  'retries',
  'consecutive_down',
  'consecutive_up',
  'follow_redirects',
  'allow_insecure',
  'probe_zone',
  'description',
]);
const POOL_FIELDS = new Set([
  'name',
  'description',
  'enabled',
  'minimum_origins',
  'monitor',
  'origins',
  'notification_email',
]);
const ORIGIN_FIELDS = new Set(['name', 'address', 'enabled', 'weight', 'header', 'port', 'flatten_cname']);
const LB_FIELDS = new Set([
  'name',
  'description',
  'enabled',
  'default_pools',
  'fallback_pool',
  'steering_policy',
  'proxied',
  'ttl',
]);
const STEERING = new Set([
  'off',
  'geo',
  'random',
  'dynamic_latency',
  'proximity',
  'least_outstanding_requests',
  'least_connections',
  '',
]);
const HOSTNAME = /^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/i;
const ID = /^[0-9a-f]{32}$/;

export interface LbMonitor {
  id: string;
  type: 'http' | 'https';
  path: string;
  port: number | null;
  header: Record<string, string[]>;
  expected_body: string;
  expected_codes: string;
  interval: number;
  timeout: number;
  retries: number;
  consecutive_down: number;
  consecutive_up: number;
  follow_redirects: boolean;
  allow_insecure: boolean;
  description: string;
}

export interface LbOrigin {
  name: string;
  address: string;
  enabled: boolean;
  header?: { Host?: string[] };
  port?: number;
}

export interface LbPool {
  id: string;
  name: string;
  description: string;
  enabled: boolean;
  minimum_origins: number;
  monitor?: string;
  origins: LbOrigin[];
}

export interface LbLoadBalancer {
  id: string;
  name: string;
  description: string;
  enabled: boolean;
  default_pools: string[];
  fallback_pool: string;
  steering_policy: string;
  proxied: boolean;
  ttl?: number;
}

/** One origin's health in one pool, as the checkers see it. */
interface OriginHealth {
  healthy: boolean;
  passes: number;
  failures: number;
  responseCode: number;
  failureReason: string;
  lastProbe: number;
  probing: boolean;
}

class Refused extends Error {
  constructor(readonly reply: Reply) {
    super('refused');
  }
}

export class LoadBalancingStandIn implements StandInExtension {
  readonly violations: string[] = [];
  readonly accounts = new Set<string>();
  readonly monitors = new Map<string, LbMonitor & { account: string }>();
  readonly pools = new Map<string, LbPool & { account: string }>();
  readonly loadBalancers = new Map<string, LbLoadBalancer & { zone: string }>();
  /** Every monitor's interval, in ms, instead of its own (tests). */
  intervalMs: number | undefined;
  /** Probes made, by pool name and origin address. */
  readonly probes: Array<{ pool: string; address: string; ok: boolean }> = [];
  private readonly health = new Map<string, OriginHealth>();
  private timer: NodeJS.Timeout | undefined;

  addAccount(id: string = randomId()): string {
    this.accounts.add(id);
    return id;
  }

  /** Starts the checkers; `stop` ends them. */
  start(tickMs = 25): void {
    this.timer = setInterval(() => this.tick(), tickMs);
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** What the load balancer at `name` answers now: its pool and that pool's healthy origins. */
  answer(zoneId: string, name: string): { pool: string; addresses: string[] } | undefined {
    const lb = [...this.loadBalancers.values()].find((item) => item.zone === zoneId && item.name === name);
    if (!lb?.enabled) return undefined;
    const chosen = lb.default_pools.find((id) => this.poolHealthy(id)) ?? lb.fallback_pool;
    const pool = this.pools.get(chosen)!;
    const healthy = pool.origins.filter(
      (origin) => origin.enabled && this.originHealth(pool.id, origin).healthy,
    );
    const origins = healthy.length > 0 ? healthy : pool.origins.filter((origin) => origin.enabled);
    return { pool: pool.name, addresses: origins.map((origin) => origin.address) };
  }

  route(request: Recorded, token: CfToken, zones: Map<string, CfZone>): Reply | undefined {
    const account =
      /^\/client\/v4\/accounts\/([^/]+)\/load_balancers\/(monitors|pools)(?:\/([^/]+))?(\/health)?$/.exec(
        request.path,
      );
    const zoned = /^\/client\/v4\/zones\/([^/]+)\/load_balancers(?:\/([^/]+))?$/.exec(request.path);
    if (!account && !zoned) return undefined;
    try {
      if (
        Object.keys(request.query).length > 0 &&
        !(account?.[2] === 'pools' && Object.keys(request.query).every((key) => key === 'monitor'))
      ) {
        this.violations.push(
          `${request.method} ${request.path}: unknown query ${Object.keys(request.query).join(', ')}`,
        );
      }
      if (account) {
        const [, accountId, kind, id, health] = account;
        if (!ID.test(accountId!) || !this.accounts.has(accountId!)) {
          return failed(403, { code: 10000, message: 'Authentication error' });
        }
        if (token.accounts !== 'all' && !token.accounts.has(accountId!)) {
          return failed(403, { code: 10000, message: 'Authentication error' });
        }
        if (request.method !== 'GET' && !token.loadBalancing) {
          return failed(403, { code: 10000, message: 'Authentication error' });
        }
        return kind === 'monitors'
          ? this.monitorRoute(request, accountId!, id)
          : this.poolRoute(request, accountId!, id, health !== undefined);
      }
      const [, zoneId, id] = zoned!;
      const zone = zones.get(zoneId!);
      if (!zone || (token.zones !== 'all' && !token.zones.has(zone.id))) {
        return failed(403, { code: 10000, message: 'Authentication error' });
      }
      if (request.method !== 'GET' && !token.loadBalancing) {
        return failed(403, { code: 10000, message: 'Authentication error' });
      }
      return this.loadBalancerRoute(request, zone, id);
    } catch (error) {
      if (error instanceof Refused) return error.reply;
      throw error;
    }
  }

  private monitorRoute(request: Recorded, account: string, id: string | undefined): Reply {
    const { method } = request;
    if (id === undefined && method === 'GET') {
      return ok([...this.monitors.values()].filter((item) => item.account === account).map(publicOf));
    }
    if (id === undefined && method === 'POST') {
      const monitor = { ...this.monitorBody(request), id: randomId(), account };
      this.monitors.set(monitor.id, monitor);
      return ok(publicOf(monitor));
    }
    const held = id === undefined ? undefined : this.monitors.get(id);
    if (!held || held.account !== account) return failed(404, { code: 1003, message: 'monitor not found' });
    if (method === 'GET') return ok(publicOf(held));
    if (method === 'PUT') {
      const monitor = { ...this.monitorBody(request), id: held.id, account };
      this.monitors.set(held.id, monitor);
      return ok(publicOf(monitor));
    }
    if (method === 'DELETE') {
      const users = [...this.pools.values()].filter((pool) => pool.monitor === held.id);
      if (users.length > 0) {
        return failed(400, {
          code: 1002,
          message: `monitor is referenced by pools ${users.map((pool) => pool.name).join(', ')}`,
        });
      }
      this.monitors.delete(held.id);
      return ok({ id: held.id });
    }
    return this.violation(request, 'not a monitor endpoint');
  }

  private poolRoute(request: Recorded, account: string, id: string | undefined, health: boolean): Reply {
    const { method } = request;
    if (id === undefined && method === 'GET') {
      const monitor = request.query.monitor;
      return ok(
        [...this.pools.values()]
          .filter((item) => item.account === account && (monitor === undefined || item.monitor === monitor))
          .map(publicOf),
      );
    }
    if (id === undefined && method === 'POST') {
      const pool = { ...this.poolBody(request, account), id: randomId(), account };
      this.pools.set(pool.id, pool);
      return ok(publicOf(pool));
    }
    const held = id === undefined ? undefined : this.pools.get(id);
    if (!held || held.account !== account) return failed(404, { code: 1003, message: 'pool not found' });
    if (health) {
      if (method !== 'GET') return this.violation(request, 'pool health is GET only');
      return ok({
        pool_id: held.id,
        pop_health: {
          healthy: this.poolHealthy(held.id),
          origins: held.origins.map((origin) => {
            const state = this.originHealth(held.id, origin);
            return {
              [origin.address]: {
                healthy: state.healthy,
                failure_reason: state.healthy ? 'No failures' : state.failureReason,
                response_code: state.responseCode,
                rtt: '1ms',
              },
            };
          }),
        },
      });
    }
    if (method === 'GET') return ok(publicOf(held));
    if (method === 'PUT') {
      const pool = { ...this.poolBody(request, account), id: held.id, account };
      this.pools.set(held.id, pool);
      return ok(publicOf(pool));
    }
    if (method === 'DELETE') {
      const users = [...this.loadBalancers.values()].filter(
        (lb) => lb.default_pools.includes(held.id) || lb.fallback_pool === held.id,
      );
      if (users.length > 0) {
        return failed(400, {
          code: 1002,
          message: `pool is referenced by load balancers ${users.map((lb) => lb.name).join(', ')}`,
        });
      }
      this.pools.delete(held.id);
      return ok({ id: held.id });
    }
    return this.violation(request, 'not a pool endpoint');
  }

  private loadBalancerRoute(request: Recorded, zone: CfZone, id: string | undefined): Reply {
    const { method } = request;
    if (id === undefined && method === 'GET') {
      return ok([...this.loadBalancers.values()].filter((item) => item.zone === zone.id).map(publicOf));
    }
    if (id === undefined && method === 'POST') {
      const lb = { ...this.loadBalancerBody(request, zone, undefined), id: randomId(), zone: zone.id };
      this.loadBalancers.set(lb.id, lb);
      return ok(publicOf(lb));
    }
    const held = id === undefined ? undefined : this.loadBalancers.get(id);
    if (!held || held.zone !== zone.id)
      return failed(404, { code: 1003, message: 'load balancer not found' });
    if (method === 'GET') return ok(publicOf(held));
    if (method === 'PUT') {
      const lb = { ...this.loadBalancerBody(request, zone, held.id), id: held.id, zone: zone.id };
      this.loadBalancers.set(held.id, lb);
      return ok(publicOf(lb));
    }
    if (method === 'DELETE') {
      this.loadBalancers.delete(held.id);
      return ok({ id: held.id });
    }
    return this.violation(request, 'not a load balancer endpoint');
  }

  private monitorBody(request: Recorded): Omit<LbMonitor, 'id'> {
    const body = this.object(request, MONITOR_FIELDS);
    const type = body.type ?? 'http';
    if (type !== 'http' && type !== 'https')
      this.invalid(request, `type ${String(type)} is not probed by the stand-in`);
    const path = body.path ?? '/';
    if (typeof path !== 'string' || !path.startsWith('/')) this.invalid(request, 'path must start with /');
    if ((body.method ?? 'GET') !== 'GET')
      this.invalid(request, 'only GET monitors are probed by the stand-in');
    const codes = body.expected_codes ?? '200';
    if (typeof codes !== 'string' || !/^[1-5]([0-9]{2}|xx)$/.test(codes))
      this.invalid(request, 'expected_codes must be a code or a class like 2xx');
    const header = (body.header ?? {}) as Record<string, unknown>;
    for (const [key, value] of Object.entries(header)) {
      if (!Array.isArray(value) || !value.every((item) => typeof item === 'string'))
        this.invalid(request, `header ${key} must be a list of strings`);
      if (key.toLowerCase() === 'user-agent')
        this.invalid(request, 'the User-Agent header cannot be overridden');
    }
    const int = (value: unknown, fallback: number, min: number, max: number, what: string) => {
      const number = value ?? fallback;
      if (!Number.isInteger(number) || (number as number) < min || (number as number) > max) {
        this.invalid(request, `${what} must be an integer from ${min} to ${max}`);
      }
      return number as number;
    };
    const interval = int(body.interval, 60, 10, 3600, 'interval');
    const timeout = int(body.timeout, 5, 1, 10, 'timeout');
    if (timeout >= interval) this.invalid(request, 'timeout must be less than interval');
    const port = body.port ?? null;
    if (port !== null && (!Number.isInteger(port) || (port as number) < 0 || (port as number) > 65_535))
      this.invalid(request, 'bad port');
    if (body.expected_body !== undefined && typeof body.expected_body !== 'string')
      this.invalid(request, 'expected_body must be a string');
    return {
      type,
      path,
      port: port as number | null,
      header: header as Record<string, string[]>,
      expected_body: (body.expected_body as string | undefined) ?? '',
      expected_codes: codes,
      interval,
      timeout,
      retries: int(body.retries, 2, 0, 5, 'retries'),
      consecutive_down: int(body.consecutive_down, 0, 0, 1000, 'consecutive_down'),
      consecutive_up: int(body.consecutive_up, 0, 0, 1000, 'consecutive_up'),
      follow_redirects: body.follow_redirects === true,
      allow_insecure: body.allow_insecure === true,
      description: typeof body.description === 'string' ? body.description : '',
      method: 'GET',
    } as Omit<LbMonitor, 'id'>;
  }

  private poolBody(request: Recorded, account: string): Omit<LbPool, 'id'> {
    const body = this.object(request, POOL_FIELDS);
    if (typeof body.name !== 'string' || !/^[A-Za-z0-9_-]+$/.test(body.name))
      this.invalid(request, 'name must be letters, digits, - and _');
    const clash = [...this.pools.values()].find(
      (pool) => pool.account === account && pool.name === body.name && !request.path.endsWith(pool.id),
    );
    if (clash)
      throw new Refused(failed(400, { code: 1004, message: `a pool named ${String(body.name)} exists` }));
    if (!Array.isArray(body.origins) || body.origins.length === 0)
      this.invalid(request, 'origins must be a list of one or more');
    const origins = (body.origins as Array<Record<string, unknown>>).map((origin) => {
      const extra = Object.keys(origin).filter((key) => !ORIGIN_FIELDS.has(key));
      if (extra.length > 0) this.invalid(request, `origin fields ${extra.join(', ')}`);
      const address = origin.address;
      if (typeof address !== 'string' || (isIP(address) === 0 && !HOSTNAME.test(address)))
        this.invalid(request, 'origin address must be an IP or a hostname');
      const host = (origin.header as { Host?: unknown } | undefined)?.Host;
      if (host !== undefined && (!Array.isArray(host) || host.length !== 1))
        this.invalid(request, "one 'Host' header per origin");
      return {
        name: typeof origin.name === 'string' ? origin.name : String(address),
        address: address as string,
        enabled: origin.enabled !== false,
        ...(origin.header ? { header: origin.header as { Host?: string[] } } : {}),
        ...(typeof origin.port === 'number' ? { port: origin.port } : {}),
      };
    });
    if (body.monitor !== undefined) {
      const monitor = this.monitors.get(String(body.monitor));
      if (!monitor || monitor.account !== account) this.invalid(request, 'monitor is not in the account');
    }
    return {
      name: body.name as string,
      description: typeof body.description === 'string' ? body.description : '',
      enabled: body.enabled !== false,
      minimum_origins: typeof body.minimum_origins === 'number' ? body.minimum_origins : 1,
      ...(body.monitor === undefined ? {} : { monitor: String(body.monitor) }),
      origins,
    };
  }

  private loadBalancerBody(
    request: Recorded,
    zone: CfZone,
    id: string | undefined,
  ): Omit<LbLoadBalancer, 'id'> {
    const body = this.object(request, LB_FIELDS);
    const name = typeof body.name === 'string' ? body.name.toLowerCase() : '';
    if (!HOSTNAME.test(name) || (name !== zone.name && !name.endsWith(`.${zone.name}`)))
      this.invalid(request, `name must be a hostname in ${zone.name}`);
    const clash = [...this.loadBalancers.values()].find(
      (lb) => lb.zone === zone.id && lb.name === name && lb.id !== id,
    );
    if (clash)
      throw new Refused(failed(400, { code: 1004, message: `a load balancer named ${name} exists` }));
    const pools = body.default_pools;
    if (!Array.isArray(pools) || pools.length === 0)
      this.invalid(request, 'default_pools must be a list of one or more');
    const inAccount = (poolId: unknown) => this.pools.has(String(poolId));
    if (!(pools as unknown[]).every(inAccount) || !inAccount(body.fallback_pool))
      this.invalid(request, 'pools must exist');
    const steering = body.steering_policy ?? '';
    if (!STEERING.has(String(steering))) this.invalid(request, `steering_policy ${String(steering)}`);
    const proxied = body.proxied === true;
    if (body.ttl !== undefined && (!Number.isInteger(body.ttl) || (body.ttl as number) < 1))
      this.invalid(request, 'bad ttl');
    return {
      name,
      description: typeof body.description === 'string' ? body.description : '',
      enabled: body.enabled !== false,
      default_pools: pools as string[],
      fallback_pool: String(body.fallback_pool),
      steering_policy: steering === '' ? 'off' : String(steering),
      proxied,
      ...(proxied || body.ttl === undefined ? {} : { ttl: body.ttl as number }),
    };
  }

  private object(request: Recorded, fields: Set<string>): Record<string, unknown> {
    const body = request.body;
    if (typeof body !== 'object' || body === null || Array.isArray(body))
      this.invalid(request, 'the body must be an object');
    const extra = Object.keys(body as object).filter((key) => !fields.has(key));
    if (extra.length > 0) this.invalid(request, `unknown fields ${extra.join(', ')}`);
    return body as Record<string, unknown>;
  }

  private invalid(request: Recorded, message: string): never {
    throw new Refused(this.violation(request, message));
  }

  private violation(request: Recorded, message: string): Reply {
    this.violations.push(`${request.method} ${request.path}: ${message}`);
    return failed(400, { code: 1004, message });
  }

  private poolHealthy(id: string): boolean {
    const pool = this.pools.get(id);
    if (!pool?.enabled) return false;
    const up = pool.origins.filter((origin) => origin.enabled && this.originHealth(pool.id, origin).healthy);
    return up.length >= Math.max(1, pool.minimum_origins);
  }

  private originHealth(poolId: string, origin: LbOrigin): OriginHealth {
    const key = `${poolId} ${origin.address}`;
    let state = this.health.get(key);
    if (!state) {
      state = {
        healthy: false,
        passes: 0,
        failures: 0,
        responseCode: 0,
        failureReason: 'not checked yet',
        lastProbe: 0,
        probing: false,
      };
      this.health.set(key, state);
    }
    return state;
  }

  private tick(): void {
    const now = Date.now();
    for (const pool of this.pools.values()) {
      const monitor = pool.monitor === undefined ? undefined : this.monitors.get(pool.monitor);
      if (!monitor || !pool.enabled) continue;
      const every = this.intervalMs ?? monitor.interval * 1000;
      for (const origin of pool.origins) {
        if (!origin.enabled) continue;
        const state = this.originHealth(pool.id, origin);
        if (state.probing || now - state.lastProbe < every) continue;
        state.probing = true;
        state.lastProbe = now;
        void this.check(monitor, origin).then((result) => {
          state.probing = false;
          this.probes.push({ pool: pool.name, address: origin.address, ok: result.ok });
          state.responseCode = result.status;
          if (result.ok) {
            state.passes++;
            state.failures = 0;
            if (state.passes >= Math.max(1, monitor.consecutive_up)) state.healthy = true;
          } else {
            state.failures++;
            state.passes = 0;
            state.failureReason = result.reason;
            if (state.failures >= Math.max(1, monitor.consecutive_down)) state.healthy = false;
          }
        });
      }
    }
  }

  /** One health check of `origin` with `monitor`'s semantics; a timeout is retried `retries` times. */
  private async check(
    monitor: LbMonitor,
    origin: LbOrigin,
  ): Promise<{ ok: boolean; status: number; reason: string }> {
    for (let attempt = 0; ; attempt++) {
      const result = await probe(monitor, origin);
      if (result.reason !== 'timeout' || attempt >= monitor.retries) return result;
    }
  }
}

function probe(
  monitor: LbMonitor,
  origin: LbOrigin,
): Promise<{ ok: boolean; status: number; reason: string }> {
  const host = origin.header?.Host?.[0] ?? monitor.header.Host?.[0] ?? origin.address;
  const port = monitor.port || (monitor.type === 'https' ? 443 : 80);
  const send = monitor.type === 'https' ? httpsRequest : httpRequest;
  // Tests reach only loopback: an origin elsewhere is down here, never connected to.
  if (!/^127\./.test(origin.address) && origin.address !== '::1' && origin.address !== 'localhost') {
    return Promise.resolve({ ok: false, status: 0, reason: 'the stand-in probes loopback addresses only' });
  }
  return new Promise((resolve) => {
    const req = send(
      {
        host: origin.address,
        port,
        path: monitor.path,
        method: 'GET',
        headers: {
          ...Object.fromEntries(Object.entries(monitor.header).map(([key, values]) => [key, values[0]!])),
          host,
          'user-agent':
            'Mozilla/5.0 (compatible; Cloudflare-Traffic-Manager/1.0; +https://www.cloudflare.com/traffic-manager/)',
        },
        ...(monitor.type === 'https'
          ? { servername: host, rejectUnauthorized: !monitor.allow_insecure }
          : {}),
        timeout: monitor.timeout * 1000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          const status = res.statusCode ?? 0;
          const body = Buffer.concat(chunks).toString('utf8');
          if (!codeMatches(monitor.expected_codes, status)) {
            resolve({
              ok: false,
              status,
              reason: `HTTP ${status} does not match expected_codes ${monitor.expected_codes}`,
            });
          } else if (!body.toLowerCase().includes(monitor.expected_body.toLowerCase())) {
            resolve({ ok: false, status, reason: 'Response body does not match expected_body' });
          } else resolve({ ok: true, status, reason: '' });
        });
        res.on('error', () =>
          resolve({ ok: false, status: res.statusCode ?? 0, reason: 'connection reset' }),
        );
      },
    );
    req.on('timeout', () => {
      req.destroy();
      resolve({ ok: false, status: 0, reason: 'timeout' });
    });
    req.on('error', (error) =>
      resolve({ ok: false, status: 0, reason: (error as NodeJS.ErrnoException).code ?? error.message }),
    );
    req.end();
  });
}

function codeMatches(expected: string, status: number): boolean {
  return expected.endsWith('xx')
    ? Math.floor(status / 100) === Number(expected[0])
    : Number(expected) === status;
}

function publicOf(item: object): Record<string, unknown> {
  const { account: _account, zone: _zone, ...rest } = item as Record<string, unknown>;
  return { ...rest, created_on: '2024-01-01T00:00:00Z', modified_on: '2024-01-01T00:00:00Z' };
}

function ok(result: unknown): Reply {
  return { status: 200, body: { success: true, errors: [], messages: [], result } };
}

function randomId(): string {
  return [...crypto.getRandomValues(new Uint8Array(16))]
    .map((byte) => byte.toString(16).padStart(2, '0'))
    .join('');
}

/**
 * The pure planner of native failover on Cloudflare (the shell that reads and applies is
 * cloudflare-native.ts): from a `NativeSpec` and what the account and zone hold, as plain data, it
 * builds what is wanted, compares, finds what outlast did not make, and says what Cloudflare does
 * instead of what the config asks. No client, no I/O.
 *
 * What outlast provisions, all of it marked as outlast's by its `description` (`MARKER`, the name,
 * and the part's key), so it is found again and never confused with the user's own:
 *
 *   - **monitors** (account): one per origin and tier, an HTTP(S) GET of the origin's beacon path
 *     with its Host header, `expected_body` the tier's match, `expected_codes` from
 *     `health.expectStatus`, `interval`/`timeout` in whole seconds, `consecutive_down/up` from
 *     `health.fall/rise`, `retries` 0 (fall already counts failed checks, as the watcher does);
 *     one per origin because the type, port and Host come from each origin's URL;
 *   - **pools** (account): one per origin and tier, whose origins are the origin's DNS target (its
 *     addresses, or its CNAME host) with the Host header, checked by that origin's monitor;
 *   - **a load balancer** (zone) on `dns.name`: `default_pools` the pools in `failover.order`,
 *     first the current-release tier, then the any-release tier; `fallback_pool` the last of them,
 *     `steering_policy: "off"` (failover by order), `proxied` as configured, the TTL when DNS-only.
 *
 * Release tiers: a monitor has one `expected_body`, so the two tiers are two sets of monitors and
 * pools. Pools are tried in `default_pools` order, so an origin on the current release is answered
 * whenever one is up, and an origin on an older release only when none is; with every pool down
 * Cloudflare answers the fallback pool, the last origin of the any-release tier.
 */
import type { LoadBalancer } from 'cloudflare/resources/load-balancers/load-balancers';
import type { Monitor, MonitorCreateParams } from 'cloudflare/resources/load-balancers/monitors/monitors';
import type { Pool, PoolCreateParams } from 'cloudflare/resources/load-balancers/pools/pools';
import type { NativeChange, NativeOrigin, NativePlan, NativeSpec } from '../native/types.ts';
import { desiredRecords } from '../plan.ts';
import { normalizeName } from '../provider.ts';

/** Starts the description of every monitor, pool and load balancer outlast makes. */
export const MARKER = 'outlast native failover v1';
/**
 * The shortest interval outlast asks for. Cloudflare's minimum depends on the plan and is not in
 * the API reference (UNCONFIRMED); a plan that allows less than asked is refused by Cloudflare.
 */
export const MIN_INTERVAL_S = 10;
const MAX_INTERVAL_S = 3600;
const SECONDS_PER_MONTH = 30 * 86_400;

export type Tier = 'current' | 'any';
export type MonitorBody = Omit<MonitorCreateParams, 'account_id'>;
export type PoolBody = Omit<PoolCreateParams, 'account_id' | 'monitor'>;
export interface LoadBalancerBody {
  name: string;
  description: string;
  enabled: boolean;
  steering_policy: 'off';
  proxied: boolean;
  ttl?: number;
}

/** One origin in one tier: its monitor and its pool, found again by `key`. */
export interface Part {
  key: string;
  origin: NativeOrigin;
  tier: Tier;
  monitor: MonitorBody;
  pool: PoolBody;
}

/** One write, in the order `apply` runs them. Ids of things created earlier are found by key. */
export type Step =
  | { kind: 'monitor'; key: string; id?: string; body: MonitorBody }
  | { kind: 'pool'; key: string; id?: string; monitorKey: string; body: PoolBody }
  | { kind: 'load-balancer'; id?: string; poolKeys: string[]; body: LoadBalancerBody }
  | { kind: 'delete-records'; ids: string[] }
  | { kind: 'delete-load-balancer'; id: string }
  | { kind: 'delete-pool'; id: string }
  | { kind: 'delete-monitor'; id: string };

export interface Payload {
  steps: Step[];
  /** The ids of the monitors and pools already there, by key, for the steps that refer to them. */
  monitorIds: Record<string, string>;
  poolIds: Record<string, string>;
}

export type WithId<T> = T & { id: string };

/** What the account and zone hold that concerns the name. */
export interface Held {
  monitors: Map<string, WithId<Monitor>>;
  pools: Map<string, WithId<Pool>>;
  loadBalancer: WithId<LoadBalancer> | undefined;
  records: Array<{ id: string; type: string; content: string }>;
}

/** A plan without the host's description, which only the shell knows. */
export type PlanBody = Omit<NativePlan, 'provider' | 'payload'> & { payload: Payload };

/**
 * The changes that make `held` match `spec`, in apply order: monitors → pools → load balancer, then
 * the deletes (records at the name, pools and monitors no longer wanted).
 */
export function planNative(spec: NativeSpec, held: Held, proxied: boolean | undefined): PlanBody {
  const wanted = partsOf(spec);
  const changes: NativeChange[] = [];
  const foreign: string[] = [];
  const steps: Step[] = [];
  for (const part of wanted) {
    const monitor = held.monitors.get(part.key);
    if (!monitor || !sameMonitor(monitor, part.monitor)) {
      steps.push({
        kind: 'monitor',
        key: part.key,
        ...(monitor ? { id: monitor.id } : {}),
        body: part.monitor,
      });
      changes.push({
        action: monitor ? 'update' : 'create',
        what: `monitor ${part.key}`,
        detail: `${part.monitor.type} ${part.origin.checkUrl} expects ${part.monitor.expected_body}`,
      });
    }
  }
  for (const part of wanted) {
    const pool = held.pools.get(part.key);
    const monitorId = held.monitors.get(part.key)?.id;
    if (!pool || monitorId === undefined || pool.monitor !== monitorId || !samePool(pool, part.pool)) {
      const id = pool ? { id: pool.id } : {};
      steps.push({ kind: 'pool', key: part.key, ...id, monitorKey: part.key, body: part.pool });
      changes.push({
        action: pool ? 'update' : 'create',
        what: `pool ${part.pool.name}`,
        detail: part.pool.origins.map((origin) => origin.address).join(', '),
      });
    }
  }
  const lb = loadBalancerBody(spec, proxied);
  const poolKeys = wanted.map((part) => part.key);
  const current = held.loadBalancer;
  const ours = current !== undefined && isOurs(current.description, spec.name);
  if (current && !ours) {
    foreign.push(
      `a load balancer at ${spec.name} that outlast did not make (${current.description || current.id})`,
    );
  }
  const heldPoolIds = poolKeys.map((key) => held.pools.get(key)?.id);
  if (
    !current ||
    !ours ||
    steps.some((step) => step.kind === 'pool' && step.id === undefined) ||
    !sameLoadBalancer(current, lb, heldPoolIds as string[])
  ) {
    steps.push({ kind: 'load-balancer', ...(current ? { id: current.id } : {}), poolKeys, body: lb });
    changes.push({
      action: current ? 'update' : 'create',
      what: `load balancer ${spec.name}`,
      detail: describeRouting(spec, proxied === true),
    });
  }
  // A record at the name is shadowed by the load balancer, and would be answered again after a
  // destroy: the plan removes it (one the watcher wrote freely, any other only with --force).
  if (held.records.length > 0) {
    for (const record of held.records) {
      if (!writtenByWatcher(spec, record)) {
        foreign.push(`${record.type} ${spec.name} ${record.content}, not any origin's target`);
      }
    }
    steps.push({ kind: 'delete-records', ids: held.records.map((record) => record.id) });
    changes.push({
      action: 'delete',
      what: `records at ${spec.name}`,
      detail: held.records.map((record) => `${record.type} ${record.content}`).join(', '),
    });
  }
  const wantedKeys = new Set(poolKeys);
  for (const [key, pool] of held.pools) {
    if (wantedKeys.has(key)) continue;
    steps.push({ kind: 'delete-pool', id: pool.id });
    changes.push({ action: 'delete', what: `pool ${pool.name ?? key}`, detail: 'no longer in the config' });
  }
  for (const [key, monitor] of held.monitors) {
    if (wantedKeys.has(key)) continue;
    steps.push({ kind: 'delete-monitor', id: monitor.id });
    changes.push({ action: 'delete', what: `monitor ${key}`, detail: 'no longer in the config' });
  }
  const intervalS = wanted[0]?.monitor.interval ?? MIN_INTERVAL_S;
  return {
    changes,
    notes: notesFor(spec, proxied === true),
    foreign,
    checkerRequestsPerMonth: Math.round(
      (wanted.length / Math.max(1, spec.origins.length)) * (SECONDS_PER_MONTH / intervalS),
    ),
    payload: { steps, ...idsOf(held) },
  };
}

/** The removal of exactly what outlast made at `name` (normalized); a foreign load balancer is left. */
export function planNativeDestroy(name: string, held: Held): PlanBody {
  const steps: Step[] = [];
  const changes: NativeChange[] = [];
  const notes: string[] = [];
  const lb = held.loadBalancer;
  if (lb && isOurs(lb.description, name)) {
    steps.push({ kind: 'delete-load-balancer', id: lb.id });
    changes.push({ action: 'delete', what: `load balancer ${name}`, detail: 'the one outlast made' });
  } else if (lb) {
    notes.push(`the load balancer at ${name} was not made by outlast: left as it is`);
  }
  for (const [key, pool] of held.pools) {
    steps.push({ kind: 'delete-pool', id: pool.id });
    changes.push({ action: 'delete', what: `pool ${pool.name ?? key}`, detail: 'outlast made it' });
  }
  for (const [key, monitor] of held.monitors) {
    steps.push({ kind: 'delete-monitor', id: monitor.id });
    changes.push({ action: 'delete', what: `monitor ${key}`, detail: 'outlast made it' });
  }
  return { changes, notes, foreign: [], checkerRequestsPerMonth: 0, payload: { steps, ...idsOf(held) } };
}

/** The monitors and pools `spec` needs, in `default_pools` order. */
export function partsOf(spec: NativeSpec): Part[] {
  const tiers: Array<{ tier: Tier; match: string }> = [
    ...(spec.currentMatch === undefined ? [] : [{ tier: 'current' as const, match: spec.currentMatch }]),
    { tier: 'any', match: spec.anyMatch },
  ];
  return tiers.flatMap(({ tier, match }) =>
    spec.origins.map((origin) => {
      const key = `${tier}:${origin.id}`;
      const url = new URL(origin.checkUrl);
      const host = origin.hostHeader ?? url.hostname;
      const description = `${MARKER} ${spec.name} ${key}`;
      const monitor: MonitorBody = {
        type: url.protocol === 'https:' ? 'https' : 'http',
        method: 'GET',
        path: `${url.pathname}${url.search}`,
        ...(url.port === '' ? {} : { port: Number(url.port) }),
        header: { Host: [host] },
        expected_body: match,
        expected_codes: expectedCodes(spec.health.expectStatus),
        interval: intervalOf(spec),
        timeout: Math.max(1, Math.ceil(spec.health.timeoutMs / 1000)),
        retries: 0,
        consecutive_down: spec.health.fall,
        consecutive_up: spec.health.rise,
        follow_redirects: false,
        allow_insecure: false,
        description,
      };
      const pool: PoolBody = {
        name: poolName(spec.name, tier, origin.id),
        description,
        enabled: true,
        minimum_origins: 1,
        origins: addressesOf(origin).map((address, index) => ({
          name: `${origin.id.replace(/[^A-Za-z0-9_-]/g, '_')}-${index + 1}`,
          address,
          enabled: true,
          header: { Host: [host] },
        })),
      };
      return { key, origin, tier, monitor, pool };
    }),
  );
}

function loadBalancerBody(spec: NativeSpec, proxied: boolean | undefined): LoadBalancerBody {
  return {
    name: spec.name,
    description: `${MARKER} ${spec.name} load-balancer`,
    enabled: true,
    steering_policy: 'off',
    proxied: proxied === true,
    ...(proxied === true ? {} : { ttl: spec.ttl }),
  };
}

/** The key of a description outlast wrote for `name` (undefined: not ours, or another name's). */
export function ourKey(name: string): (description: string | undefined) => string | undefined {
  const prefix = `${MARKER} ${name} `;
  return (description) =>
    description?.startsWith(prefix) && description !== `${prefix}load-balancer`
      ? description.slice(prefix.length)
      : undefined;
}

function isOurs(description: string | undefined, name: string): boolean {
  return description === `${MARKER} ${name} load-balancer`;
}

function idsOf(held: Held): Pick<Payload, 'monitorIds' | 'poolIds'> {
  return {
    monitorIds: Object.fromEntries([...held.monitors].map(([key, monitor]) => [key, monitor.id])),
    poolIds: Object.fromEntries([...held.pools].map(([key, pool]) => [key, pool.id])),
  };
}

/** Pool names take letters, digits, `-` and `_`. */
function poolName(name: string, tier: Tier, originId: string): string {
  return `outlast-${name}-${tier}-${originId}`.replace(/[^A-Za-z0-9_-]/g, '_');
}

/** What the pool holds for an origin: its addresses, or its CNAME host. */
function addressesOf(origin: NativeOrigin): string[] {
  const target = origin.target;
  if ('cname' in target) return [normalizeName(target.cname)];
  return [...(target.a ?? []), ...(target.aaaa ?? [])];
}

function intervalOf(spec: NativeSpec): number {
  return Math.min(MAX_INTERVAL_S, Math.max(MIN_INTERVAL_S, Math.ceil(spec.health.intervalMs / 1000)));
}

/** Cloudflare takes one code or one class (`2xx`). */
function expectedCodes(statuses: number[]): string {
  if (statuses.length === 1) return String(statuses[0]);
  const classes = new Set(statuses.map((status) => Math.floor(status / 100)));
  return classes.size === 1 ? `${[...classes][0]}xx` : String(statuses[0] ?? 200);
}

function sameMonitor(held: Monitor, wanted: MonitorBody): boolean {
  const port = (value: number | null | undefined) => (value ? value : undefined);
  return (
    held.type === wanted.type &&
    (held.method ?? 'GET') === wanted.method &&
    held.path === wanted.path &&
    port(held.port) === port(wanted.port) &&
    JSON.stringify(held.header?.Host ?? []) === JSON.stringify(wanted.header?.Host ?? []) &&
    held.expected_body === wanted.expected_body &&
    held.expected_codes === wanted.expected_codes &&
    held.interval === wanted.interval &&
    held.timeout === wanted.timeout &&
    held.retries === wanted.retries &&
    held.consecutive_down === wanted.consecutive_down &&
    held.consecutive_up === wanted.consecutive_up &&
    (held.follow_redirects ?? false) === wanted.follow_redirects &&
    (held.allow_insecure ?? false) === wanted.allow_insecure
  );
}

function samePool(held: Pool, wanted: PoolBody): boolean {
  const origins = (list: Array<{ address?: string; enabled?: boolean; header?: { Host?: string[] } }>) =>
    JSON.stringify(list.map((item) => [item.address, item.enabled ?? true, item.header?.Host ?? []]));
  return (
    held.name === wanted.name &&
    (held.enabled ?? true) === wanted.enabled &&
    (held.minimum_origins ?? 1) === wanted.minimum_origins &&
    origins(held.origins ?? []) === origins(wanted.origins)
  );
}

function sameLoadBalancer(held: LoadBalancer, wanted: LoadBalancerBody, poolIds: string[]): boolean {
  return (
    poolIds.every((id) => id !== undefined) &&
    JSON.stringify(held.default_pools ?? []) === JSON.stringify(poolIds) &&
    held.fallback_pool === poolIds[poolIds.length - 1] &&
    held.steering_policy === wanted.steering_policy &&
    (held.proxied ?? false) === wanted.proxied &&
    (wanted.proxied || held.ttl === wanted.ttl) &&
    (held.enabled ?? true) === wanted.enabled
  );
}

/** A record whose value is one of an origin's targets: what `outlast watch` writes. */
function writtenByWatcher(spec: NativeSpec, record: { type: string; content: string }): boolean {
  const value = record.content.replace(/\.$/, '').toLowerCase();
  return spec.origins.some((origin) =>
    desiredRecords(spec.name, spec.ttl, [origin.target]).some(
      (set) => set.type === record.type && set.values.includes(value),
    ),
  );
}

function describeRouting(spec: NativeSpec, proxied: boolean): string {
  const order = spec.origins.map((origin) => origin.id).join(' → ');
  const release =
    spec.currentRelease === undefined
      ? 'any release (no origin names one yet)'
      : `release ${spec.currentRelease} first, then any release`;
  return `the first healthy pool of ${order}; ${release}; ${proxied ? 'proxied' : `DNS-only, TTL ${spec.ttl}`}`;
}

/** What Cloudflare does instead of what the config asks. */
function notesFor(spec: NativeSpec, proxied: boolean): string[] {
  const interval = intervalOf(spec);
  const notes = [
    `checks every ${interval} s (health.interval is ${spec.health.intervalMs / 1000} s; outlast asks for ${MIN_INTERVAL_S} to ${MAX_INTERVAL_S} s, and the plan's own minimum, not in the API reference, may be higher)`,
    `timeout ${Math.max(1, Math.ceil(spec.health.timeoutMs / 1000))} s per check (whole seconds), retries 0: health.fall ${spec.health.fall} counts failed checks (consecutive_down) and health.rise ${spec.health.rise} passing ones (consecutive_up)`,
    'Cloudflare matches expected_body case-insensitively (release ids are lower-case, so the match is as strict as the watcher)',
    spec.currentMatch === undefined
      ? 'no origin names a release yet: one tier, any release passes'
      : 'one expected_body per monitor: two tiers of monitors and pools, the current release first and any release after, so an origin behind is answered only when no current one is up',
    'with every pool down Cloudflare answers the fallback pool (the last origin, any release)',
    "each origin is checked at its DNS target (addresses or CNAME host) with Host set to its URL's host; the URL's own host is not resolved",
    `checkers probe from several Cloudflare data centers: each origin gets a multiple of the count shown (per data center and tier)`,
  ];
  if (spec.health.expectStatus.length > 1) {
    notes.push(
      `expected_codes takes one code or one class: ${expectedCodes(spec.health.expectStatus)} for health.expectStatus ${spec.health.expectStatus.join(', ')}`,
    );
  }
  if (spec.policy === 'all-healthy') {
    notes.push(
      'all-healthy cannot be expressed: the load balancer answers one pool, the first healthy in order',
    );
  }
  if (spec.failback === 'manual') {
    notes.push('failback is automatic: Cloudflare returns to the first pool once it is healthy');
  }
  notes.push(
    proxied
      ? 'proxied: Cloudflare answers its own addresses and forwards to the chosen origin'
      : `DNS-only: the answer is the chosen origin's target, TTL ${spec.ttl}`,
  );
  return notes;
}

/** A pool's health as `GET …/pools/{id}/health` answers it (the SDK's HealthGetResponse, loosely). */
export interface PoolHealth {
  pop_health?: {
    healthy?: boolean;
    origins?: Array<Record<string, { healthy?: boolean; failure_reason?: string; response_code?: number }>>;
  };
}

/**
 * Cloudflare's verdict on one origin from the health of its pool (one origin of outlast's per
 * pool): the pool's `healthy`, else whether any of its addresses is; undefined when the answer
 * says neither. Each address's entry is keyed by the address (the API reference's example; the
 * SDK's type names the key `ip`), so any key is read. Pure.
 */
export function verdictOf(health: PoolHealth | undefined): { up: boolean; detail: string } | undefined {
  const entries = (health?.pop_health?.origins ?? []).flatMap((item) => Object.entries(item ?? {}));
  const said = entries.filter(([, state]) => typeof state?.healthy === 'boolean');
  const pool = health?.pop_health?.healthy;
  const up =
    typeof pool === 'boolean' ? pool : said.length > 0 ? said.some(([, state]) => state.healthy) : undefined;
  if (up === undefined) return undefined;
  const words = said.map(([address, state]) => {
    const why = state.healthy ? '' : `: ${state.failure_reason ?? 'unhealthy'}`;
    const code = state.response_code ? ` (${state.response_code})` : '';
    return `${address} ${state.healthy ? 'healthy' : 'unhealthy'}${code}${why}`;
  });
  return {
    up,
    detail: `pool ${up ? 'healthy' : 'unhealthy'}${words.length > 0 ? `; ${words.join(', ')}` : ''}`,
  };
}

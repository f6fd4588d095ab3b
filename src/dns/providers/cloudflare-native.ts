/**
 * Native failover on Cloudflare: Load Balancing checks the origins from Cloudflare's network and
 * answers the name with a healthy one, through the official SDK (`cloudflare`).
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
 *
 * `plan` reads only (monitors, pools, load balancers, the records at the name); `apply` writes in
 * dependency order (monitors → pools → load balancer; deletes the other way round), and
 * `planDestroy` removes exactly what carries the marker for that name.
 */
import type Cloudflare from 'cloudflare';
import type { LoadBalancer } from 'cloudflare/resources/load-balancers/load-balancers';
import type { Monitor, MonitorCreateParams } from 'cloudflare/resources/load-balancers/monitors/monitors';
import type { Pool, PoolCreateParams } from 'cloudflare/resources/load-balancers/pools/pools';
import { OutlastError } from '../../errors.ts';
import { componentLogger } from '../../util/log.ts';
import { refuseForeign } from '../native/guard.ts';
import type { NativeChange, NativeFailover, NativeOrigin, NativePlan, NativeSpec } from '../native/types.ts';
import { desiredRecords } from '../plan.ts';
import { MANAGED_TYPES, normalizeName } from '../provider.ts';
import { type CloudflareOptions, cloudflareClient, findZone, sendVia, type ZoneInfo } from './cloudflare.ts';

export interface CloudflareNativeOptions extends CloudflareOptions {
  /** The account that owns the zone: monitors and pools live there. */
  accountId?: string;
}

const PROVIDER_NAME = 'cloudflare';
/** Starts the description of every monitor, pool and load balancer outlast makes. */
export const MARKER = 'outlast native failover v1';
/**
 * The shortest interval outlast asks for. Cloudflare's minimum depends on the plan and is not in
 * the API reference (UNCONFIRMED); a plan that allows less than asked is refused by Cloudflare.
 */
export const MIN_INTERVAL_S = 10;
const MAX_INTERVAL_S = 3600;
const SECONDS_PER_MONTH = 30 * 86_400;

type Tier = 'current' | 'any';
type MonitorBody = Omit<MonitorCreateParams, 'account_id'>;
type PoolBody = Omit<PoolCreateParams, 'account_id' | 'monitor'>;
interface LoadBalancerBody {
  name: string;
  description: string;
  enabled: boolean;
  steering_policy: 'off';
  proxied: boolean;
  ttl?: number;
}

/** One origin in one tier: its monitor and its pool, found again by `key`. */
interface Part {
  key: string;
  origin: NativeOrigin;
  tier: Tier;
  monitor: MonitorBody;
  pool: PoolBody;
}

/** One write, in the order `apply` runs them. Ids of things created earlier are found by key. */
type Step =
  | { kind: 'monitor'; key: string; id?: string; body: MonitorBody }
  | { kind: 'pool'; key: string; id?: string; monitorKey: string; body: PoolBody }
  | { kind: 'load-balancer'; id?: string; poolKeys: string[]; body: LoadBalancerBody }
  | { kind: 'delete-records'; ids: string[] }
  | { kind: 'delete-load-balancer'; id: string }
  | { kind: 'delete-pool'; id: string }
  | { kind: 'delete-monitor'; id: string };

interface Payload {
  steps: Step[];
  /** The ids of the monitors and pools already there, by key, for the steps that refer to them. */
  monitorIds: Record<string, string>;
  poolIds: Record<string, string>;
}

/** What the account and zone hold that concerns the name. */
interface Held {
  monitors: Map<string, Monitor & { id: string }>;
  pools: Map<string, Pool & { id: string }>;
  loadBalancer: (LoadBalancer & { id: string }) | undefined;
  records: Array<{ id: string; type: string; content: string }>;
}

/** Native failover for one Cloudflare zone and its account. Makes no request until used. */
export function createCloudflareNative(options: CloudflareNativeOptions): NativeFailover {
  const accountId = options.accountId;
  if (accountId === undefined) {
    throw new OutlastError('invalid_config', 'failover: native on cloudflare needs accountId', {
      source: PROVIDER_NAME,
      hint: "set accountId to the account that owns the zone (on the zone's Overview page)",
    });
  }
  const client: Cloudflare = cloudflareClient(options);
  const log = componentLogger('dns', { provider: PROVIDER_NAME, mode: 'native' });
  const send = <T>(what: string, call: () => Promise<T>) => sendVia(options.apiToken, what, call);
  let zoneInfo: ZoneInfo | undefined;
  const zone = async () => {
    zoneInfo ??= await findZone(client, options);
    return zoneInfo;
  };
  const describe = () =>
    `cloudflare ${zoneInfo?.name ?? options.zone ?? `zone ${options.zoneId}`} (load balancing, account ${accountId})`;

  async function read(name: string): Promise<Held> {
    const hosted = await zone();
    const mine = ourKey(name);
    const monitors = new Map<string, Monitor & { id: string }>();
    for (const monitor of (
      await send('list load balancing monitors', () =>
        client.loadBalancers.monitors.list({ account_id: accountId! }),
      )
    ).result) {
      const key = mine(monitor.description);
      if (key && monitor.id) monitors.set(key, monitor as Monitor & { id: string });
    }
    const pools = new Map<string, Pool & { id: string }>();
    for (const pool of (
      await send('list load balancing pools', () =>
        client.loadBalancers.pools.list({ account_id: accountId! }),
      )
    ).result) {
      const key = mine(pool.description);
      if (key && pool.id) pools.set(key, pool as Pool & { id: string });
    }
    const balancers = (
      await send(`list load balancers of ${hosted.name}`, () =>
        client.loadBalancers.list({ zone_id: hosted.id }),
      )
    ).result;
    const loadBalancer = balancers.find(
      (item) => item.name !== undefined && normalizeName(item.name) === name,
    ) as (LoadBalancer & { id: string }) | undefined;
    const listed = await send(`read ${name}`, () =>
      client.dns.records.list({ zone_id: hosted.id, name: { exact: name }, per_page: 100 }),
    );
    const records = listed.result
      .filter((record) => (MANAGED_TYPES as readonly string[]).includes(record.type))
      .map((record) => ({
        id: record.id,
        type: record.type,
        content: typeof record.content === 'string' ? record.content : '',
      }));
    return { monitors, pools, loadBalancer, records };
  }

  function planOf(
    changes: NativeChange[],
    notes: string[],
    foreign: string[],
    perMonth: number,
    payload: Payload,
  ) {
    return {
      provider: describe(),
      changes,
      notes,
      foreign,
      checkerRequestsPerMonth: perMonth,
      payload,
    } as NativePlan;
  }

  return {
    describe,

    async plan(spec) {
      const wanted = partsOf(spec);
      const held = await read(spec.name);
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
          steps.push({
            kind: 'pool',
            key: part.key,
            ...(pool ? { id: pool.id } : {}),
            monitorKey: part.key,
            body: part.pool,
          });
          changes.push({
            action: pool ? 'update' : 'create',
            what: `pool ${part.pool.name}`,
            detail: part.pool.origins.map((origin) => origin.address).join(', '),
          });
        }
      }
      const lb = loadBalancerBody(spec, options.proxied);
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
          detail: describeRouting(spec, options.proxied === true),
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
        changes.push({
          action: 'delete',
          what: `pool ${pool.name ?? key}`,
          detail: 'no longer in the config',
        });
      }
      for (const [key, monitor] of held.monitors) {
        if (wantedKeys.has(key)) continue;
        steps.push({ kind: 'delete-monitor', id: monitor.id });
        changes.push({ action: 'delete', what: `monitor ${key}`, detail: 'no longer in the config' });
      }
      const intervalS = wanted[0]?.monitor.interval ?? MIN_INTERVAL_S;
      return planOf(
        changes,
        notesFor(spec, options.proxied === true),
        foreign,
        Math.round((wanted.length / Math.max(1, spec.origins.length)) * (SECONDS_PER_MONTH / intervalS)),
        { steps, ...idsOf(held) },
      );
    },

    async planDestroy(name) {
      const target = normalizeName(name);
      const held = await read(target);
      const steps: Step[] = [];
      const changes: NativeChange[] = [];
      const notes: string[] = [];
      const lb = held.loadBalancer;
      if (lb && isOurs(lb.description, target)) {
        steps.push({ kind: 'delete-load-balancer', id: lb.id });
        changes.push({ action: 'delete', what: `load balancer ${target}`, detail: 'the one outlast made' });
      } else if (lb) {
        notes.push(`the load balancer at ${target} was not made by outlast: left as it is`);
      }
      for (const [key, pool] of held.pools) {
        steps.push({ kind: 'delete-pool', id: pool.id });
        changes.push({ action: 'delete', what: `pool ${pool.name ?? key}`, detail: 'outlast made it' });
      }
      for (const [key] of held.monitors) {
        steps.push({ kind: 'delete-monitor', id: held.monitors.get(key)!.id });
        changes.push({ action: 'delete', what: `monitor ${key}`, detail: 'outlast made it' });
      }
      return planOf(changes, notes, [], 0, { steps, ...idsOf(held) });
    },

    async apply(plan, { force }) {
      refuseForeign(
        plan,
        force,
        PROVIDER_NAME,
        'check the load balancer and records at the name; --force replaces them',
      );
      const payload = plan.payload as Payload;
      const steps = payload.steps;
      if (steps.length === 0) return;
      const account_id = accountId;
      const monitorIds = new Map(Object.entries(payload.monitorIds));
      const poolIds = new Map(Object.entries(payload.poolIds));
      let hosted: ZoneInfo | undefined;
      log.info({ steps: steps.map((step) => step.kind) }, 'native failover apply');
      for (const step of steps) {
        switch (step.kind) {
          case 'monitor': {
            const made = step.id
              ? await send(`update monitor ${step.key}`, () =>
                  client.loadBalancers.monitors.update(step.id!, { account_id, ...step.body }),
                )
              : await send(`create monitor ${step.key}`, () =>
                  client.loadBalancers.monitors.create({ account_id, ...step.body }),
                );
            monitorIds.set(step.key, made.id ?? step.id!);
            break;
          }
          case 'pool': {
            const monitor = monitorIds.get(step.monitorKey);
            const body = { account_id, ...step.body, ...(monitor ? { monitor } : {}) };
            const made = step.id
              ? await send(`update pool ${step.body.name}`, () =>
                  client.loadBalancers.pools.update(step.id!, body),
                )
              : await send(`create pool ${step.body.name}`, () => client.loadBalancers.pools.create(body));
            poolIds.set(step.key, made.id ?? step.id!);
            break;
          }
          case 'load-balancer': {
            hosted ??= await zone();
            const zone_id = hosted.id;
            const ids = step.poolKeys.map((key) => poolIds.get(key)!);
            const body = { zone_id, ...step.body, default_pools: ids, fallback_pool: ids[ids.length - 1]! };
            if (step.id) {
              const id = step.id;
              await send(`update load balancer ${step.body.name}`, () =>
                client.loadBalancers.update(id, body),
              );
            } else {
              await send(`create load balancer ${step.body.name}`, () => client.loadBalancers.create(body));
            }
            break;
          }
          case 'delete-records': {
            hosted ??= await zone();
            const zone_id = hosted.id;
            await send('delete the records at the name', () =>
              client.dns.records.batch({ zone_id, deletes: step.ids.map((id) => ({ id })) }),
            );
            break;
          }
          case 'delete-load-balancer': {
            hosted ??= await zone();
            const zone_id = hosted.id;
            await send('delete the load balancer', () => client.loadBalancers.delete(step.id, { zone_id }));
            break;
          }
          case 'delete-pool':
            await send(`delete pool ${step.id}`, () =>
              client.loadBalancers.pools.delete(step.id, { account_id }),
            );
            break;
          case 'delete-monitor':
            await send(`delete monitor ${step.id}`, () =>
              client.loadBalancers.monitors.delete(step.id, { account_id }),
            );
            break;
        }
      }
    },

    async close() {},
  };
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
function ourKey(name: string): (description: string | undefined) => string | undefined {
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

/**
 * Native failover on Cloudflare: Load Balancing checks the origins from Cloudflare's network and
 * answers the name with a healthy one, through the official SDK (`cloudflare`).
 *
 * What is wanted, the comparison with what is held, the foreign things at the name and the notes
 * are pure functions over plain data in cloudflare-native-plan.ts (which describes the monitors,
 * pools and load balancer outlast provisions); this module is the shell around them.
 *
 * `plan` reads only (monitors, pools, load balancers, the records at the name); `apply` writes in
 * dependency order (monitors → pools → load balancer; deletes the other way round), and
 * `planDestroy` removes exactly what carries the marker for that name.
 */
import type Cloudflare from 'cloudflare';
import type { LoadBalancer } from 'cloudflare/resources/load-balancers/load-balancers';
import type { Monitor } from 'cloudflare/resources/load-balancers/monitors/monitors';
import type { Pool } from 'cloudflare/resources/load-balancers/pools/pools';
import { OutlastError } from '../../errors.ts';
import { componentLogger } from '../../util/log.ts';
import { refuseForeign } from '../native/guard.ts';
import type { NativeFailover, NativePlan, NativeView } from '../native/types.ts';
import { MANAGED_TYPES, normalizeName } from '../provider.ts';
import { type CloudflareOptions, cloudflareClient, findZone, sendVia, type ZoneInfo } from './cloudflare.ts';
import {
  type Held,
  ourKey,
  type Payload,
  type PlanBody,
  type PoolHealth,
  partsOf,
  planNative,
  planNativeDestroy,
  verdictOf,
  type WithId,
} from './cloudflare-native-plan.ts';

export { MARKER, MIN_INTERVAL_S, partsOf } from './cloudflare-native-plan.ts';

export interface CloudflareNativeOptions extends CloudflareOptions {
  /** The account that owns the zone: monitors and pools live there. */
  accountId?: string;
}

const PROVIDER_NAME = 'cloudflare';

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
    const account_id = accountId!;
    const monitors = await send('list load balancing monitors', () =>
      client.loadBalancers.monitors.list({ account_id }),
    );
    const pools = await send('list load balancing pools', () =>
      client.loadBalancers.pools.list({ account_id }),
    );
    const loadBalancers = await send(`list load balancers of ${hosted.name}`, () =>
      client.loadBalancers.list({ zone_id: hosted.id }),
    );
    const records = await send(`read ${name}`, () =>
      client.dns.records.list({ zone_id: hosted.id, name: { exact: name }, per_page: 100 }),
    );
    return heldFrom(name, {
      monitors: monitors.result,
      pools: pools.result,
      loadBalancers: loadBalancers.result,
      records: records.result,
    });
  }

  const planOf = (body: PlanBody): NativePlan => ({ provider: describe(), ...body });

  return {
    describe,

    async plan(spec) {
      return planOf(planNative(spec, await read(spec.name), options.proxied));
    },

    async planDestroy(name) {
      const target = normalizeName(name);
      return planOf(planNativeDestroy(target, await read(target)));
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

    async view(spec) {
      // The pool of each origin in the first tier (the current release's; the any-release tier
      // when no release is known), found as `plan` finds it: by the key in its description.
      const parts = partsOf(spec);
      const first = parts.filter((part) => part.tier === parts[0]?.tier);
      const account_id = accountId;
      const pools = await send('list load balancing pools', () =>
        client.loadBalancers.pools.list({ account_id }),
      );
      const byKey = new Map<string, string>();
      const mine = ourKey(spec.name);
      for (const pool of pools.result) {
        const key = mine(pool.description);
        if (key && pool.id) byKey.set(key, pool.id);
      }
      const origins: NativeView['origins'] = {};
      await Promise.all(
        first.map(async (part) => {
          const id = byKey.get(part.key);
          if (id === undefined) return;
          const health = await send(`read the health of pool ${part.pool.name}`, () =>
            client.loadBalancers.pools.health.get(id, { account_id }),
          );
          const verdict = verdictOf(health as PoolHealth);
          if (verdict) origins[part.origin.id] = verdict;
        }),
      );
      return { provider: describe(), at: Date.now(), origins };
    },

    async close() {},
  };
}

/**
 * What concerns `name` in the listings: outlast's monitors and pools (by key), the load balancer
 * and the managed records at the name.
 */
function heldFrom(
  name: string,
  listed: {
    monitors: Monitor[];
    pools: Pool[];
    loadBalancers: LoadBalancer[];
    records: Array<{ id: string; type: string; content?: unknown }>;
  },
): Held {
  const mine = ourKey(name);
  const byKey = <T extends { id?: string; description?: string }>(items: T[]) =>
    new Map(
      items.flatMap((item): Array<[string, WithId<T>]> => {
        const key = mine(item.description);
        return key && item.id ? [[key, item as WithId<T>]] : [];
      }),
    );
  const monitors = byKey(listed.monitors);
  const pools = byKey(listed.pools);
  const loadBalancer = listed.loadBalancers.find(
    (item) => item.name !== undefined && normalizeName(item.name) === name,
  ) as WithId<LoadBalancer> | undefined;
  const records = listed.records
    .filter((record) => (MANAGED_TYPES as readonly string[]).includes(record.type))
    .map((record) => ({
      id: record.id,
      type: record.type,
      content: typeof record.content === 'string' ? record.content : '',
    }));
  return { monitors, pools, loadBalancer, records };
}

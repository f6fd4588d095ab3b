/**
 * The native-failover spec from the config and the origins' beacons: pure, the same for every host.
 *
 * Release-aware matching: a checker passes an origin only when its beacon's body contains the
 * match. The current match is `"release":"<id>"` (the beacon's own field, so neither the kept
 * releases nor a `deploying` marker of a half-done deploy can pass for it); the any-release match
 * is `"release":"r`. Hosts that can express two tiers answer with a current origin whenever one
 * is up and fall back to any release only when none is; the others use the current match alone.
 * `outlast deploy` moves the match as its last step, once the new release is live.
 */
import type { Config } from '../../config/schema.ts';
import type { Beacon } from '../../release/types.ts';
import { normalizeName } from '../provider.ts';
import type { NativeSpec } from './types.ts';

/** The release the latest deploy made live: the beacon deployed last (undefined: none readable). */
export function currentRelease(beacons: Array<Beacon | undefined>): string | undefined {
  let newest: Beacon | undefined;
  for (const beacon of beacons) {
    if (beacon && (!newest || beacon.deployedAt > newest.deployedAt)) newest = beacon;
  }
  return newest?.release;
}

/** The body match for a beacon of `release`. */
export function releaseMatch(release: string): string {
  return `"release":"${release}"`;
}

/** The body match for a beacon of any release. */
export const ANY_RELEASE_MATCH = '"release":"r';

/** The spec of `config` (which has a `dns` section) with `release` current. */
export function nativeSpec(config: Config, release: string | undefined): NativeSpec {
  const dns = config.dns;
  if (!dns) throw new Error('nativeSpec: the config has no dns section');
  const byId = new Map(config.origins.map((origin) => [origin.id, origin]));
  const order = config.failover.order ?? config.origins.map((origin) => origin.id);
  return {
    name: normalizeName(dns.name),
    ttl: dns.ttl,
    policy: config.failover.policy,
    failback: config.failover.failback,
    origins: order.map((id) => {
      const origin = byId.get(id)!;
      // The schema requires url and dns on every origin once there is a dns section.
      return {
        id,
        checkUrl: `${origin.url!.replace(/\/+$/, '')}${config.health.path}`,
        ...(origin.hostHeader === undefined ? {} : { hostHeader: origin.hostHeader }),
        target: origin.dns!,
      };
    }),
    currentRelease: release,
    currentMatch: release === undefined ? undefined : releaseMatch(release),
    anyMatch: ANY_RELEASE_MATCH,
    health: {
      intervalMs: config.health.interval,
      timeoutMs: config.health.timeout,
      fall: config.health.fall,
      rise: config.health.rise,
      expectStatus: config.health.expectStatus,
    },
  };
}

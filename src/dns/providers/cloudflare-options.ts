/**
 * What the `cloudflare` DNS provider (cloudflare.ts) declares: its options in the config, its capabilities and
 * its README row. Imports no provider code and no SDK, so the config schema and the docs read it.
 */
import { z } from 'zod';
import type { DnsProviderCapabilities, DnsProviderDocs } from '../provider.ts';
import { MANAGED_TYPES } from '../provider.ts';

export const CLOUDFLARE_TYPE = 'cloudflare';

/** Cloudflare DNS (src/dns/providers/cloudflare.ts): one zone, by name or by id. */
export const cloudflareOptionsSchema = z
  .strictObject({
    type: z.literal(CLOUDFLARE_TYPE),
    /** The zone's name; found through the API (the token then needs Zone:Read). */
    zone: z.string().min(1).optional(),
    /** The zone's id: 32 hex digits, on the zone's Overview page. */
    zoneId: z
      .string()
      .regex(/^[0-9a-f]{32}$/, { message: 'expected a zone id of 32 hex digits' })
      .optional(),
    /** An API token with DNS:Edit on the zone, e.g. `${CF_API_TOKEN}`. */
    apiToken: z.string().min(1),
    /** Proxy (orange cloud) the records written; unset keeps each record's flag. */
    proxied: z.boolean().optional(),
    /** A comment on the records written; unset keeps each record's comment. */
    comment: z.string().optional(),
    /** Another API base URL (a local stand-in in tests). */
    baseUrl: z.url({ protocol: /^https?$/ }).optional(),
    /** `watcher`: `outlast watch` writes plain records; `native`: a Cloudflare load balancer on the
     * name, with a monitor and a pool per origin, answers with a healthy origin (`outlast dns apply`). */
    failover: z.enum(['watcher', 'native']).default('watcher'),
    /** The account that owns the zone (32 hex digits, on the zone's Overview page): Load Balancing
     * monitors and pools live in the account, so `failover: native` needs it. */
    accountId: z
      .string()
      .regex(/^[0-9a-f]{32}$/, { message: 'expected an account id of 32 hex digits' })
      .optional(),
  })
  .refine((provider) => provider.zone !== undefined || provider.zoneId !== undefined, {
    message: 'expected zone or zoneId',
  })
  .refine((provider) => provider.failover !== 'native' || provider.accountId !== undefined, {
    message:
      "failover: native needs accountId (the account that owns the zone, on the zone's Overview page): Load Balancing monitors and pools belong to the account",
    path: ['accountId'],
  });

/** The `cloudflare` provider's config. */
export type CloudflareConfig = z.output<typeof cloudflareOptionsSchema>;

export const CLOUDFLARE_CAPABILITIES: DnsProviderCapabilities = {
  compareAndSet: false,
  atomic: true,
  // DNS-only records take 60 to 86400 (30 on Enterprise zones).
  minTtl: 60,
  types: MANAGED_TYPES,
};

export const CLOUDFLARE_DOCS: DnsProviderDocs = {
  summary: 'Cloudflare DNS (official SDK)',
  compareAndSet: 'emulated: re-read right before the batch',
  atomic: 'one batch in one transaction; edge propagation is per record',
  aliases: "proxied flags and comments kept; a proxied record's TTL is Cloudflare's (1, automatic)",
  permissions:
    'API token with Zone › DNS › Edit on the zone (and Zone › Zone › Read to find it by name); with failover: native also Zone › Load Balancers › Edit and Account › Load Balancing: Monitors and Pools › Edit',
  nativeFailover:
    'Load Balancing: a monitor and a pool per origin and tier (`expected_body` on the beacon), a load balancer with steering off, release-aware in two tiers',
};

export const CLOUDFLARE_PROVIDER = {
  type: CLOUDFLARE_TYPE,
  schema: cloudflareOptionsSchema,
  capabilities: CLOUDFLARE_CAPABILITIES,
  docs: CLOUDFLARE_DOCS,
} as const;

/**
 * What the `route53` DNS provider (route53.ts) declares: its options in the config, its capabilities and
 * its README row. Imports no provider code and no SDK, so the config schema and the docs read it.
 */
import { z } from 'zod';
import type { DnsProviderCapabilities, DnsProviderDocs } from '../provider.ts';
import { MANAGED_TYPES } from '../provider.ts';

export const ROUTE53_TYPE = 'route53';

/** Amazon Route 53 (src/dns/providers/route53.ts): one hosted zone, by id or found by name. */
export const route53OptionsSchema = z
  .strictObject({
    type: z.literal(ROUTE53_TYPE),
    /** The hosted zone's id, e.g. `Z0123456789ABC`. */
    hostedZoneId: z
      .string()
      .regex(/^(\/hostedzone\/)?[A-Z0-9]{1,32}$/, {
        message: 'expected a hosted zone id such as Z0123456789ABC',
      })
      .optional(),
    /** The zone's name; without hostedZoneId the zone is found by it (a public zone first). */
    zone: z.string().min(1).optional(),
    /** The signing region: Route 53 is global, `us-east-1` outside China and GovCloud. */
    region: z.string().min(1).default('us-east-1'),
    /** Another endpoint (a local stand-in in tests). */
    endpoint: z.url({ protocol: /^https?$/ }).optional(),
    /** An AWS shared-config profile instead of the default credential chain. */
    profile: z.string().min(1).optional(),
    /** After each change, wait until Route 53 serves it from every name server (INSYNC). */
    waitForSync: z.boolean().default(false),
    /** `watcher`: `outlast watch` writes plain records; `native`: Route 53's own health checks and
     * failover record sets answer with a healthy origin (`outlast dns apply`). */
    failover: z.enum(['watcher', 'native']).default('watcher'),
  })
  .refine((provider) => provider.hostedZoneId !== undefined || provider.zone !== undefined, {
    message: 'expected hostedZoneId or zone',
  });

/** The `route53` provider's config. */
export type Route53Config = z.output<typeof route53OptionsSchema>;

export const ROUTE53_CAPABILITIES: DnsProviderCapabilities = {
  compareAndSet: true,
  atomic: true,
  // Route 53 takes 0, but a zero TTL defeats resolvers' caches for no failover gain.
  minTtl: 1,
  types: MANAGED_TYPES,
};

export const ROUTE53_DOCS: DnsProviderDocs = {
  summary: 'Amazon Route 53 (AWS SDK)',
  compareAndSet: 'one batch DELETEs the exact set read',
  atomic: 'one ChangeResourceRecordSets batch',
  aliases: 'alias sets read as `alias:<target>`, routing-policy sets as `policy:<id>`; neither is written',
  permissions:
    'route53:ListResourceRecordSets, route53:ChangeResourceRecordSets, route53:GetHostedZone (with hostedZoneId) or route53:ListHostedZonesByName (with zone), route53:GetChange (waitForSync); with failover: native also route53:ListHealthChecks, CreateHealthCheck, UpdateHealthCheck, DeleteHealthCheck, ChangeTagsForResource',
  nativeFailover:
    'health checks (`HTTP(S)_STR_MATCH` on the beacon) and failover record sets, chained through aliases past two, release-aware in two tiers',
};

export const ROUTE53_PROVIDER = {
  type: ROUTE53_TYPE,
  schema: route53OptionsSchema,
  capabilities: ROUTE53_CAPABILITIES,
  docs: ROUTE53_DOCS,
} as const;

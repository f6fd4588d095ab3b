/**
 * What the `dnsmadeeasy` DNS provider (dnsmadeeasy.ts) declares: its options in the config, its capabilities and
 * its README row. Imports no provider code and no SDK, so the config schema and the docs read it.
 */
import { z } from 'zod';
import type { DnsProviderCapabilities, DnsProviderDocs } from '../provider.ts';
import { MANAGED_TYPES } from '../provider.ts';

export const DNSMADEEASY_TYPE = 'dnsmadeeasy';

/** DNS Made Easy (src/dns/providers/dnsmadeeasy.ts): one domain, through the REST API v2.0. */
export const dnsMadeEasyOptionsSchema = z.strictObject({
  type: z.literal(DNSMADEEASY_TYPE),
  /** The domain as managed in DNS Made Easy, e.g. `example.com`. */
  domain: z.string().min(1),
  /** e.g. `${DME_API_KEY}`. */
  apiKey: z.string().min(1),
  /** e.g. `${DME_SECRET_KEY}`. */
  secretKey: z.string().min(1),
  /** The sandbox is `https://api.sandbox.dnsmadeeasy.com/V2.0`. */
  baseUrl: z.url({ protocol: /^https?$/ }).default('https://api.dnsmadeeasy.com/V2.0'),
  /** `watcher`: `outlast watch` writes plain records; `native`: DNS Made Easy's own monitor and
   * failover on the name's A record answer with a healthy origin (`outlast dns apply`). A records
   * only: every origin needs an IPv4 address, at most five origins. */
  failover: z.enum(['watcher', 'native']).default('watcher'),
});

/** The `dnsmadeeasy` provider's config. */
export type DnsMadeEasyConfig = z.output<typeof dnsMadeEasyOptionsSchema>;

export const DNSMADEEASY_CAPABILITIES: DnsProviderCapabilities = {
  compareAndSet: false,
  atomic: false,
  // DNS Made Easy's documentation we could read states no lower bound; 60 is the floor other
  // clients use with it, and what failover needs.
  minTtl: 60,
  types: MANAGED_TYPES,
};

export const DNSMADEEASY_DOCS: DnsProviderDocs = {
  summary: 'DNS Made Easy (REST API v2.0)',
  compareAndSet: 'emulated: re-read right before writing',
  atomic: 'up to three requests: delete, update, create',
  aliases: 'ANAME not managed; records under DNS Made Easy failover or GTD read, never written',
  permissions: 'API key and secret key of a user who may edit the domain; 150 requests per 5 minutes',
  nativeFailover:
    "the A record's monitor and failover (`ip1`…`ip5`, HTTP(S) with `httpQueryString` on the beacon); A records only, the current release only (16-character match)",
};

export const DNSMADEEASY_PROVIDER = {
  type: DNSMADEEASY_TYPE,
  schema: dnsMadeEasyOptionsSchema,
  capabilities: DNSMADEEASY_CAPABILITIES,
  docs: DNSMADEEASY_DOCS,
} as const;

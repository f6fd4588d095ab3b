/**
 * What the `rfc2136` DNS provider (rfc2136.ts) declares: its options in the config, its capabilities and
 * its README row. Imports no provider code and no SDK, so the config schema and the docs read it.
 */
import { z } from 'zod';
import { duration, hostPort, tsigSchema } from '../../config/fields.ts';
import type { DnsProviderCapabilities, DnsProviderDocs } from '../provider.ts';
import { MANAGED_TYPES } from '../provider.ts';

export const RFC2136_TYPE = 'rfc2136';

export const rfc2136OptionsSchema = z.strictObject({
  type: z.literal(RFC2136_TYPE),
  /** The primary server, HOST:PORT. */
  server: hostPort,
  zone: z.string().min(1),
  tsig: tsigSchema.optional(),
  /** Per attempt. */
  timeout: duration('3s'),
});

/** The `rfc2136` provider's config. */
export type Rfc2136Config = z.output<typeof rfc2136OptionsSchema>;

export const RFC2136_CAPABILITIES: DnsProviderCapabilities = {
  compareAndSet: true,
  atomic: true,
  // A TTL of 0 is legal DNS but means "do not cache", which resolvers treat unevenly; 1 is the floor.
  minTtl: 1,
  types: MANAGED_TYPES,
};

export const RFC2136_DOCS: DnsProviderDocs = {
  summary: 'any server taking dynamic updates (RFC 2136) with TSIG: BIND, Knot, PowerDNS, Windows DNS',
  compareAndSet: 'update prerequisites',
  atomic: 'one UPDATE message',
  aliases: 'none',
  permissions: 'a TSIG key the server lets update the zone (BIND update-policy, Knot acl)',
};

export const RFC2136_PROVIDER = {
  type: RFC2136_TYPE,
  schema: rfc2136OptionsSchema,
  capabilities: RFC2136_CAPABILITIES,
  docs: RFC2136_DOCS,
} as const;

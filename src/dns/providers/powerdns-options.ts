/**
 * What the `powerdns` DNS provider (powerdns.ts) declares: its options in the config, its capabilities and
 * its README row. Imports no provider code and no SDK, so the config schema and the docs read it.
 */
import { z } from 'zod';
import { hostPort } from '../../config/fields.ts';
import type { DnsProviderCapabilities, DnsProviderDocs } from '../provider.ts';
import { MANAGED_TYPES } from '../provider.ts';

export const POWERDNS_TYPE = 'powerdns';

export const powerDnsOptionsSchema = z.strictObject({
  type: z.literal(POWERDNS_TYPE),
  /** The API's base URL, e.g. `http://127.0.0.1:8081`. */
  url: z.url({ protocol: /^https?$/ }),
  serverId: z.string().min(1).default('localhost'),
  zone: z.string().min(1),
  apiKey: z.string().min(1),
  /** `watcher`: `outlast watch` writes plain records; `native`: LUA records let PowerDNS itself
   * check the origins and answer with a healthy one (`outlast dns apply`). */
  failover: z.enum(['watcher', 'native']).default('watcher'),
  /** Where the server answers DNS (`HOST:PORT`), for the watcher's view of native failover: the
   * answer PowerDNS gives. Default: the server's own `local-address`/`local-port` (a wildcard
   * address is taken as the API URL's host). */
  dnsAddress: hostPort.optional(),
});

/** The `powerdns` provider's config. */
export type PowerDnsConfig = z.output<typeof powerDnsOptionsSchema>;

export const POWERDNS_CAPABILITIES: DnsProviderCapabilities = {
  compareAndSet: false,
  atomic: true,
  // PowerDNS itself takes 0, but a zero TTL defeats resolvers' caches for no failover gain.
  minTtl: 1,
  types: MANAGED_TYPES,
};

export const POWERDNS_DOCS: DnsProviderDocs = {
  summary: 'PowerDNS Authoritative (HTTP API)',
  compareAndSet: 'emulated: re-read right before the PATCH',
  atomic: 'one PATCH, one backend transaction',
  aliases: 'none',
  permissions: 'the API key (`api-key` in pdns.conf)',
  nativeFailover: 'LUA records (`ifurlextup`, tested on 4.7), release-aware in two tiers',
};

export const POWERDNS_PROVIDER = {
  type: POWERDNS_TYPE,
  schema: powerDnsOptionsSchema,
  capabilities: POWERDNS_CAPABILITIES,
  docs: POWERDNS_DOCS,
} as const;

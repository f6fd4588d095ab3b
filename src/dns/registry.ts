/**
 * The DNS providers, listed once, in the order the README's table shows them. Each entry is a
 * provider's declaration (its options module in providers/: type, options schema, capabilities,
 * README row) and the `load` that imports its implementation on demand, so a run that never
 * touches DNS loads none of them and a Route 53 user never loads Cloudflare's SDK. The config
 * schema (config/schema.ts), `createDnsProvider` (index.ts) and the README's table
 * (capabilities.ts) are built from this list. A new DNS host is one options module, one host
 * module behind `checkedDnsProvider`, one line here and one test file calling the conformance
 * suite (test/conformance/dns.ts).
 */
import { definePlugin } from '../plugins.ts';
import { CLOUDFLARE_PROVIDER } from './providers/cloudflare-options.ts';
import { DNSMADEEASY_PROVIDER } from './providers/dnsmadeeasy-options.ts';
import { EMBEDDED_PROVIDER } from './providers/embedded-options.ts';
import { MEMORY_PROVIDER } from './providers/memory-options.ts';
import { POWERDNS_PROVIDER } from './providers/powerdns-options.ts';
import { RFC2136_PROVIDER } from './providers/rfc2136-options.ts';
import { ROUTE53_PROVIDER } from './providers/route53-options.ts';

export const DNS_PROVIDERS = [
  definePlugin({
    ...ROUTE53_PROVIDER,
    load: async (options) => (await import('./providers/route53.ts')).createRoute53Provider(options),
  }),
  definePlugin({
    ...CLOUDFLARE_PROVIDER,
    load: async (options) => (await import('./providers/cloudflare.ts')).createCloudflareProvider(options),
  }),
  definePlugin({
    ...DNSMADEEASY_PROVIDER,
    load: async (options) => (await import('./providers/dnsmadeeasy.ts')).createDnsMadeEasyProvider(options),
  }),
  definePlugin({
    ...POWERDNS_PROVIDER,
    load: async (options) => (await import('./providers/powerdns.ts')).createPowerDnsProvider(options),
  }),
  definePlugin({
    ...RFC2136_PROVIDER,
    load: async (options) => (await import('./providers/rfc2136.ts')).createRfc2136Provider(options),
  }),
  definePlugin({
    ...EMBEDDED_PROVIDER,
    load: async (options) => (await import('./providers/embedded.ts')).createEmbeddedProvider(options),
  }),
  definePlugin({
    ...MEMORY_PROVIDER,
    load: async (options) => (await import('./providers/memory.ts')).createMemoryDnsProvider(options),
  }),
] as const;

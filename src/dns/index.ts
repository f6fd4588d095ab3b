/**
 * Builds DNS providers from the config's `dns.providers`, through the registry (registry.ts):
 * providers are imported on demand, so a run that never touches DNS loads none of them.
 */
import type { DnsProviderConfig } from '../config/schema.ts';
import { createPlugin } from '../plugins.ts';
import type { WriteGate } from '../writes.ts';
import { gateDnsProvider } from './checked.ts';
import type { DnsProvider } from './provider.ts';
import { DNS_PROVIDERS } from './registry.ts';

export interface CreateDnsProviderOptions {
  /** Where every write of the provider passes (writes.ts); a dry-run gate writes nothing. */
  gate?: WriteGate;
}

export async function createDnsProvider(
  config: DnsProviderConfig,
  options: CreateDnsProviderOptions = {},
): Promise<DnsProvider> {
  const provider = await createPlugin(DNS_PROVIDERS, 'DNS provider', config);
  return options.gate ? gateDnsProvider(provider, options.gate) : provider;
}

/**
 * Builds DNS providers from the config's `dns.providers`, through the registry (registry.ts):
 * providers are imported on demand, so a run that never touches DNS loads none of them.
 */
import type { DnsProviderConfig } from '../config/schema.ts';
import { createPlugin } from '../plugins.ts';
import type { DnsProvider } from './provider.ts';
import { DNS_PROVIDERS } from './registry.ts';

export async function createDnsProvider(config: DnsProviderConfig): Promise<DnsProvider> {
  return createPlugin(DNS_PROVIDERS, 'DNS provider', config);
}

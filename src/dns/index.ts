/**
 * Builds DNS providers from the config's `dns.providers`. Providers are imported on demand, so a
 * run that never touches DNS loads none of them. A new DNS host is one more `case` here, one module
 * in providers/ and one test file calling the conformance suite (test/conformance/dns.ts).
 */
import type { DnsProviderConfig } from '../config/schema.ts';
import { OutlastError } from '../errors.ts';
import type { DnsProvider } from './provider.ts';

export async function createDnsProvider(config: DnsProviderConfig): Promise<DnsProvider> {
  switch (config.type) {
    case 'memory': {
      const { createMemoryDnsProvider } = await import('./providers/memory.ts');
      return createMemoryDnsProvider(config);
    }
    case 'powerdns': {
      const { createPowerDnsProvider } = await import('./providers/powerdns.ts');
      return createPowerDnsProvider(config);
    }
    case 'embedded': {
      const { createEmbeddedProvider } = await import('./providers/embedded.ts');
      return createEmbeddedProvider(config);
    }
    case 'rfc2136': {
      const { createRfc2136Provider } = await import('./providers/rfc2136.ts');
      return createRfc2136Provider(config);
    }
    case 'route53': {
      const { createRoute53Provider } = await import('./providers/route53.ts');
      return createRoute53Provider(config);
    }
    case 'cloudflare': {
      const { createCloudflareProvider } = await import('./providers/cloudflare.ts');
      return createCloudflareProvider(config);
    }
    case 'dnsmadeeasy': {
      const { createDnsMadeEasyProvider } = await import('./providers/dnsmadeeasy.ts');
      return createDnsMadeEasyProvider(config);
    }
    default: {
      const unknown: never = config;
      throw new OutlastError(
        'invalid_config',
        `unknown DNS provider type ${JSON.stringify((unknown as { type: string }).type)}`,
      );
    }
  }
}

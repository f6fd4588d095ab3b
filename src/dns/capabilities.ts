/**
 * What each DNS provider can do, as data for the docs: the README's table is printed from the
 * registry (`node --import tsx scripts/provider-table.ts`), so it cannot drift from the code. Types,
 * minimum TTL, compare-and-set and atomicity are each provider's declared capabilities (the same
 * flags the wrapper and the conformance suite read), the config fields come from its options
 * schema, the prose from its options module. Nothing is created and no SDK is loaded.
 */
import { configFields, markdownTable as table } from '../plugins.ts';
import type { DnsProviderCapabilities, DnsProviderDocs } from './provider.ts';
import { DNS_PROVIDERS } from './registry.ts';

/** One row of the table. */
export interface ProviderRow extends DnsProviderDocs {
  type: string;
  capabilities: DnsProviderCapabilities;
  /** Config keys besides `type`; optional ones (or with a default) end with `?`. */
  configFields: string[];
}

/** Every provider's row, in the registry's order. */
export async function providerTable(): Promise<ProviderRow[]> {
  return DNS_PROVIDERS.map((provider) => ({
    type: provider.type,
    capabilities: provider.capabilities,
    configFields: configFields(provider.schema),
    ...provider.docs,
  }));
}

/** The table as Markdown, one row per provider. */
export function markdownTable(rows: ProviderRow[]): string {
  const yesNo = (flag: boolean, how: string) => `${flag ? 'yes' : 'no'} (${how})`;
  return table(
    [
      'Provider',
      'Types',
      'Min TTL',
      'Compare-and-set',
      'Atomic apply',
      'Aliases and host-managed records',
      'Native failover',
      'Config',
      'Permissions',
    ],
    rows.map((row) => [
      `**${row.type}**<br>${row.summary}`,
      row.capabilities.types.join(', '),
      String(row.capabilities.minTtl),
      yesNo(row.capabilities.compareAndSet, row.compareAndSet),
      yesNo(row.capabilities.atomic, row.atomic),
      row.aliases,
      row.nativeFailover === undefined ? 'no (`failover: watcher` only)' : `yes (${row.nativeFailover})`,
      row.configFields.map((field) => `\`${field}\``).join(', '),
      row.permissions,
    ]),
  );
}

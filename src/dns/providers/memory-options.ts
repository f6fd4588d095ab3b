/**
 * What the `memory` DNS provider (memory.ts) declares: its options in the config, its capabilities and
 * its README row. Imports no provider code and no SDK, so the config schema and the docs read it.
 */
import { z } from 'zod';
import type { DnsProviderCapabilities, DnsProviderDocs } from '../provider.ts';
import { MANAGED_TYPES } from '../provider.ts';

export const MEMORY_TYPE = 'memory';

export const memoryDnsOptionsSchema = z.strictObject({
  type: z.literal(MEMORY_TYPE),
  /** Providers with the same name share their records within one process (for tests). */
  name: z.string().optional(),
});

/** The `memory` provider's config. */
export type MemoryDnsConfig = z.output<typeof memoryDnsOptionsSchema>;

export const MEMORY_CAPABILITIES: DnsProviderCapabilities = {
  compareAndSet: true,
  atomic: true,
  minTtl: 1,
  types: MANAGED_TYPES,
};

export const MEMORY_DOCS: DnsProviderDocs = {
  summary: 'in-process records, for tests and `outlast demo`',
  compareAndSet: 'in-process',
  atomic: 'in-process',
  aliases: 'none',
  permissions: 'none',
};

export const MEMORY_PROVIDER = {
  type: MEMORY_TYPE,
  schema: memoryDnsOptionsSchema,
  capabilities: MEMORY_CAPABILITIES,
  docs: MEMORY_DOCS,
} as const;

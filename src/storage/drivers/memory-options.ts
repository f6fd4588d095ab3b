/**
 * What the `memory` driver (memory.ts) declares: its options in the config, its capabilities and
 * its README notes. Imports no driver code, so the config schema and the docs can read it.
 */
import { z } from 'zod';
import type { DriverCapabilities, StorageDriverDocs } from '../driver.ts';

export const MEMORY_TYPE = 'memory';
/** DeleteMany's most keys per call, as S3's. */
export const MEMORY_MAX_DELETE_BATCH = 1000;

export const memoryStorageSchema = z.strictObject({
  type: z.literal(MEMORY_TYPE),
  /** Stores with the same name share their objects within one process (for tests). */
  name: z.string().optional(),
  prefix: z.string().optional(),
});

/** The `memory` storage config. */
export type MemoryStorageConfig = z.output<typeof memoryStorageSchema>;

export const MEMORY_CAPABILITIES: DriverCapabilities = {
  copy: true,
  deleteMany: true,
  listHasMetadata: true,
  fileAndDirectorySameName: true,
  maxDeleteBatch: MEMORY_MAX_DELETE_BATCH,
};

export const MEMORY_DOCS: StorageDriverDocs = {
  summary: 'objects in the process, for tests and `outlast demo`',
  notes: 'stores of the same `name` share their objects within one process; gone when it exits',
};

export const MEMORY_DRIVER = {
  type: MEMORY_TYPE,
  schema: memoryStorageSchema,
  capabilities: MEMORY_CAPABILITIES,
  docs: MEMORY_DOCS,
} as const;

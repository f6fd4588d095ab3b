/**
 * What the `fs` driver (fs.ts) declares: its options in the config, its capabilities and its
 * README notes. Imports no driver code, so the config schema and the docs can read it.
 */
import { z } from 'zod';
import type { DriverCapabilities, StorageDriverDocs } from '../driver.ts';

export const FS_TYPE = 'fs';

export const fsStorageSchema = z.strictObject({
  type: z.literal(FS_TYPE),
  /** The folder that holds the origin's files. */
  path: z.string().min(1),
  /** Key prefix inside the folder, e.g. `site/`. */
  prefix: z.string().optional(),
});

/** The `fs` storage config. */
export type FsStorageConfig = z.output<typeof fsStorageSchema>;

export const FS_CAPABILITIES: DriverCapabilities = {
  copy: true,
  // No filesystem call deletes many files at once: Store's concurrent single deletes are as fast.
  deleteMany: false,
  listHasMetadata: true,
  fileAndDirectorySameName: false,
  maxDeleteBatch: 1,
};

export const FS_DOCS: StorageDriverDocs = {
  summary: 'a folder, served by `outlast serve` or any web server',
  notes:
    'headers and sha256 in sidecar files under `.outlast-fs/`; a missing folder is an empty origin, made by the first put; no setup needed',
};

export const FS_DRIVER = {
  type: FS_TYPE,
  schema: fsStorageSchema,
  capabilities: FS_CAPABILITIES,
  docs: FS_DOCS,
} as const;

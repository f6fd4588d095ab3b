/**
 * The storage drivers, listed once. Each entry is a driver's declaration (its options module in
 * drivers/: type, options schema, capabilities, README notes) and the `load` that imports its
 * implementation on demand, so a run that only uses `fs` never loads a cloud SDK. The config
 * schema (config/schema.ts), `createDriver` (index.ts) and the README's table (docs.ts) are built
 * from this list. A new backend is one options module, one implementation module, one line here
 * and one test file calling the conformance suite.
 */
import { definePlugin } from '../plugins.ts';
import { AZURE_DRIVER } from './drivers/azure-options.ts';
import { FS_DRIVER } from './drivers/fs-options.ts';
import { GCS_DRIVER } from './drivers/gcs-options.ts';
import { MEMORY_DRIVER } from './drivers/memory-options.ts';
import { S3_DRIVER } from './drivers/s3-options.ts';
import { SWIFT_DRIVER } from './drivers/swift-options.ts';

export const STORAGE_DRIVERS = [
  definePlugin({
    ...FS_DRIVER,
    load: async ({ path }) => (await import('./drivers/fs.ts')).createFsDriver({ root: path }),
  }),
  definePlugin({
    ...MEMORY_DRIVER,
    load: async ({ name }) =>
      (await import('./drivers/memory.ts')).createMemoryDriver(name === undefined ? {} : { name }),
  }),
  definePlugin({
    ...S3_DRIVER,
    load: async (options) => (await import('./drivers/s3.ts')).createS3Driver(options),
  }),
  definePlugin({
    ...SWIFT_DRIVER,
    load: async (options) => (await import('./drivers/swift.ts')).createSwiftDriver(options),
  }),
  definePlugin({
    ...GCS_DRIVER,
    load: async (options) => (await import('./drivers/gcs.ts')).createGcsDriver(options),
  }),
  definePlugin({
    ...AZURE_DRIVER,
    load: async (options) => (await import('./drivers/azure.ts')).createAzureDriver(options),
  }),
] as const;

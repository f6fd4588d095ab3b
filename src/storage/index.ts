/**
 * The storage layer's front: builds a driver from an origin's `storage` config and wraps it in a
 * `Store`. Drivers are imported on demand, so a run that only uses `fs` never loads a cloud SDK.
 * A new backend is one more `case` here, one module in drivers/ and one test file calling the
 * conformance suite.
 */

import type { OriginConfig, StorageConfig } from '../config/schema.ts';
import { OutlastError } from '../errors.ts';
import type { Logger } from '../util/log.ts';
import type { StorageDriver } from './driver.ts';
import { Store } from './store.ts';

export { Store, type StoreOptions } from './store.ts';

export async function createDriver(storage: StorageConfig): Promise<StorageDriver> {
  switch (storage.type) {
    case 'fs': {
      const { createFsDriver } = await import('./drivers/fs.ts');
      return createFsDriver({ root: storage.path });
    }
    case 'memory': {
      const { createMemoryDriver } = await import('./drivers/memory.ts');
      return createMemoryDriver(storage.name === undefined ? {} : { name: storage.name });
    }
    case 's3': {
      const { createS3Driver } = await import('./drivers/s3.ts');
      return createS3Driver(storage);
    }
    case 'swift': {
      const { createSwiftDriver } = await import('./drivers/swift.ts');
      return createSwiftDriver(storage);
    }
    default: {
      // Unreachable while every type in the schema has a case; the compiler checks that here.
      const unknown: never = storage;
      throw new OutlastError(
        'invalid_config',
        `unknown storage type ${JSON.stringify((unknown as { type: string }).type)}`,
      );
    }
  }
}

export async function createStore(
  origin: OriginConfig,
  options: { attempts?: number; logger?: Logger } = {},
): Promise<Store> {
  const driver = await createDriver(origin.storage);
  return new Store(driver, {
    originId: origin.id,
    ...(origin.storage.prefix === undefined ? {} : { prefix: origin.storage.prefix }),
    ...options,
  });
}

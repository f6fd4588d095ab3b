/**
 * The storage layer's front: builds a driver from an origin's `storage` config and wraps it in a
 * `Store`. The driver is found in the registry (registry.ts), which imports its module on demand.
 */

import type { OriginConfig, StorageConfig } from '../config/schema.ts';
import { createPlugin } from '../plugins.ts';
import type { Logger } from '../util/log.ts';
import type { WriteGate } from '../writes.ts';
import type { StorageDriver } from './driver.ts';
import { STORAGE_DRIVERS } from './registry.ts';
import { Store } from './store.ts';

export { Store, type StoreOptions } from './store.ts';

export async function createDriver(storage: StorageConfig): Promise<StorageDriver> {
  return createPlugin(STORAGE_DRIVERS, 'storage', storage);
}

export async function createStore(
  origin: OriginConfig,
  options: { attempts?: number; logger?: Logger; gate?: WriteGate } = {},
): Promise<Store> {
  const driver = await createDriver(origin.storage);
  return new Store(driver, {
    originId: origin.id,
    ...(origin.storage.prefix === undefined ? {} : { prefix: origin.storage.prefix }),
    ...options,
  });
}

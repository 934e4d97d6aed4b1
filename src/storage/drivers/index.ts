/** Builds the configured storage driver, always wrapped by the key guard. */
import type { StorageConfig } from '../../config/schema.ts';
import { RegistryError } from '../../core/errors.ts';
import type { StorageDriver } from '../driver.ts';
import { GuardedDriver } from '../guarded-driver.ts';
import { FsDriver } from './fs-driver.ts';
import { MemoryDriver } from './memory-driver.ts';

export async function createStorageDriver(config: StorageConfig): Promise<StorageDriver> {
  switch (config.mode) {
    case 'local':
      return new GuardedDriver(await FsDriver.open(config.path, { fsync: config.fsync }));
    case 'memory':
      return new GuardedDriver(await MemoryDriver.open());
    case 's3':
      throw new RegistryError(
        'NOT_IMPLEMENTED',
        'storage.mode = "s3" is not built yet: use "local" (NORA_STORAGE_MODE=local)',
      );
  }
}

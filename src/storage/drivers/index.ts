/** Builds the configured storage driver, always wrapped by the key guard. */
import type { StorageConfig } from '../../config/schema.ts';
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
    case 's3': {
      // Loaded only for an S3 store: its module and aws4 stay out of a local store's memory
      // (docs/performance.md "Idle RSS: the serve path without the command line").
      const { S3Driver } = await import('./s3-driver.ts');
      // The bucket is not reached here: start-up calls check() (openStorage in app.ts).
      return new GuardedDriver(
        await S3Driver.open({
          url: config.s3_url,
          bucket: config.bucket,
          accessKey: config.s3_access_key,
          secretKey: config.s3_secret_key,
          region: config.s3_region,
          virtualHosted: config.s3_virtual_hosted,
          localDir: config.path,
        }),
      );
    }
  }
}

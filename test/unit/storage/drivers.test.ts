import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { FsDriver } from '../../../src/storage/drivers/fs-driver.ts';
import { MemoryDriver } from '../../../src/storage/drivers/memory-driver.ts';
import { runDriverContract } from './driver-contract.ts';

runDriverContract('memory', () => MemoryDriver.open());
runDriverContract('fs', async () =>
  FsDriver.open(await fs.mkdtemp(path.join(os.tmpdir(), 'nora-fs-'))),
);

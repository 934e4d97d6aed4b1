/** Temporary directories that tests remove when done. */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

export async function tempDir(
  prefix = 'nora-test-',
): Promise<{ path: string; [Symbol.asyncDispose](): Promise<void> }> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), prefix));
  return {
    path: dir,
    async [Symbol.asyncDispose]() {
      await removeDir(dir);
    },
  };
}

/** rm -rf that also copes with read-only trees (Go module caches). */
export async function removeDir(dir: string): Promise<void> {
  await fs.chmod(dir, 0o700).catch(() => undefined);
  await fs.rm(dir, { recursive: true, force: true, maxRetries: 3 });
}

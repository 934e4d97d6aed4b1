/**
 * The shape of a retention delete through a format's own delete path (src/retention/types.ts
 * RetentionAdapter.delete), for adapters whose delete answers a version already gone with a
 * `NOT_FOUND` RegistryError.
 */
import { isRegistryError } from '../core/errors.ts';
import type { RetentionDeleted } from './types.ts';

/**
 * Runs `remove` and reports `{ deleted: true, bytes }`; a version deleted in between (an HTTP
 * DELETE, another pass: `remove` throws NOT_FOUND) is `{ deleted: false, bytes: 0 }`, nothing
 * counted. Any other error is thrown.
 */
export async function deleteUnlessGone(
  remove: () => Promise<unknown>,
  bytes: number,
): Promise<RetentionDeleted> {
  try {
    await remove();
    return { deleted: true, bytes };
  } catch (err) {
    if (isRegistryError(err) && err.code === 'NOT_FOUND') return { deleted: false, bytes: 0 };
    throw err;
  }
}

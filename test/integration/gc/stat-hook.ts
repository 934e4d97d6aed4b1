/** Test hook: run something at the exact moment a storage driver is asked for one key. */
import type { StorageDriver } from '../../../src/storage/driver.ts';

/**
 * Runs `pass` when `driver` is next asked to stat `key` (after the stat, before its answer is
 * returned: the caller sees the file as it was before the pass). Returns a function that puts the
 * driver back and waits for the pass, or runs it then if the stat never came.
 */
export function onNextStat(
  driver: StorageDriver,
  key: string,
  pass: () => Promise<unknown>,
): () => Promise<void> {
  const own = Object.getOwnPropertyDescriptor(driver, 'stat');
  const stat = driver.stat.bind(driver);
  const restore = () => {
    if (own) Object.defineProperty(driver, 'stat', own);
    else delete (driver as { stat?: unknown }).stat;
  };
  let ran: Promise<unknown> | undefined;
  driver.stat = async (k) => {
    const info = await stat(k);
    if (k === key && ran === undefined) {
      restore();
      ran = pass();
      await ran;
    }
    return info;
  };
  return async () => {
    restore();
    await (ran ?? pass());
  };
}

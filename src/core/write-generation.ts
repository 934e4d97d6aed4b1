/**
 * A counter of the metadata store's writes: bumped after every statement that may change a row
 * (INSERT/UPDATE/DELETE, and COMMIT/ROLLBACK, so an answer read inside a transaction's window is
 * stale once it ends). Anything derived from the store is exact for as long as the counter still
 * holds the value read before the derivation started (http/answer-memo.ts relies on this).
 *
 * Per database, not global: tests run several apps in one process.
 */
export class WriteGeneration {
  #value = 0;

  /** The current generation (an integer that only grows). */
  get current(): number {
    return this.#value;
  }

  bump(): void {
    this.#value += 1;
  }
}

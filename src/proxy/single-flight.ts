/**
 * Single-flight: concurrent calls for one key share one execution. An instance per owner (never a
 * module global), so two engines or two tests never see each other's work.
 */
export class SingleFlight<T> {
  readonly #inflight = new Map<string, Promise<T>>();

  /** Runs `task` unless a call for `key` is in flight; `joined` says which happened. */
  run(
    key: string,
    task: () => Promise<T>,
  ): { readonly promise: Promise<T>; readonly joined: boolean } {
    const existing = this.#inflight.get(key);
    if (existing) return { promise: existing, joined: true };
    const promise = task().finally(() => {
      if (this.#inflight.get(key) === promise) this.#inflight.delete(key);
    });
    this.#inflight.set(key, promise);
    return { promise, joined: false };
  }

  get size(): number {
    return this.#inflight.size;
  }
}

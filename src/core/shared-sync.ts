/**
 * Group commit for fsync-like work: at most one run in progress and one waiting to start. A
 * request joins the waiting run, which starts only after the request was made and so covers
 * every write done before it; otherwise it makes one, started when the running one ends. Used for
 * directory fsyncs (storage/drivers/fs-driver.ts) and the SQLite log's fdatasync
 * (db/sqlite-handle.ts).
 */
export class SharedSync {
  readonly #run: () => Promise<void>;
  readonly #onIdle: () => void;
  #running: Promise<void> | undefined;
  #waiting: Promise<void> | undefined;

  /**
   * `run`: one sync (its rejection rejects every request it covers). `onIdle`: called after a
   * run when nothing runs or waits (to release a kept descriptor).
   */
  constructor(run: () => Promise<void>, onIdle: () => void = () => undefined) {
    this.#run = run;
    this.#onIdle = onIdle;
  }

  /** Nothing running, nothing waiting. */
  get idle(): boolean {
    return this.#running === undefined && this.#waiting === undefined;
  }

  /** Resolves once a run started after this call has ended. */
  request(): Promise<void> {
    if (this.#waiting !== undefined) return this.#waiting;
    const after = this.#running ?? Promise.resolve();
    const start = (): Promise<void> => this.#start(sync);
    const sync: Promise<void> = after.then(start, start);
    this.#waiting = sync;
    return sync;
  }

  async #start(self: Promise<void>): Promise<void> {
    this.#waiting = undefined;
    this.#running = self;
    try {
      await this.#run();
    } finally {
      if (this.#running === self) this.#running = undefined;
      if (this.idle) this.#onIdle();
    }
  }
}

/**
 * Parses upstream `index.yaml` documents off the event loop. The `yaml` library needs ~0.25-0.5 ms
 * of CPU per KiB of index on the 2-core VM we measure on (a 20 MB public index: 4.5-7 s of CPU,
 * ~10 s of wall time, ~700 MB of heap at its peak), and while it ran on the main thread every
 * request of every format waited for it. So a document larger than `inlineMaxBytes` goes to one
 * worker thread (index-worker.ts), started when first needed and stopped after `idleMs` without
 * work (its heap, hundreds of MB after a big index, is returned then); smaller ones are parsed
 * in place. Both give the same entries and the same errors (upstream-index.ts
 * `parseUpstreamIndex`).
 *
 * One worker, one parse at a time, the others queued in order: a parse's memory is bounded once
 * (`maxOldGenerationMb`), not once per concurrent upstream. A parse that runs past `timeoutMs`,
 * or whose worker runs out of memory or dies, fails with an Error saying which (the callers
 * report it as an unusable upstream index, 502) and the worker is replaced for the next one.
 * The worker never keeps the process alive (unref'd while idle; a running parse has a request
 * waiting on it) and `close()` stops it (FormatContext.onClose).
 */
import { getHeapStatistics } from 'node:v8';
import { Worker } from 'node:worker_threads';
import { RegistryError } from '../../core/errors.ts';
import type { IndexParseReply, IndexParseTask, IndexWorkerMessage } from './index-worker.ts';
import { type ParsedIndex, parseUpstreamIndex } from './upstream-index.ts';

/**
 * Largest index.yaml parsed on the event loop, bytes. Measured (main thread CPU, medians): in
 * place 2 ms at 9 KiB, 8 ms at 32 KiB, 27 ms at 63 KiB, 74 ms at 253 KiB; through the worker
 * 1-3 ms at any of these sizes, plus 12 ms and ~35 MB of memory once to start the worker, and
 * ~0.3 s of latency for the first parse. At 32 KiB a small repository's index never costs a
 * worker and never holds the loop for more than ~10 ms.
 */
export const INLINE_MAX_BYTES = 32 * 1024;
/**
 * Longest one parse may take in the worker, ms: generous, since it bounds a pathological
 * document, not a slow machine (a 20 MB index: ~10 s on the 2-core VM, ~60 s on the same VM
 * with a load average of 25). Memory is bounded separately.
 */
export const PARSE_TIMEOUT_MS = 300_000;
/** An idle worker is stopped after this long, ms. */
export const WORKER_IDLE_MS = 30_000;
/**
 * The worker's old-generation heap bound, MiB: the main thread's heap limit (V8 derives it from
 * the machine's or container's memory; `--max-old-space-size` sets it), so an index that could
 * be parsed on the main thread still can. A 20 MB index needs 512-768 MiB; one past the bound
 * fails alone, as an unusable upstream index, where on the main thread it ended the process
 * (V8's fatal out-of-memory).
 */
export const WORKER_MEMORY_MB = Math.floor(getHeapStatistics().heap_size_limit / 2 ** 20);
/**
 * The worker's stack, MiB: the main thread's JavaScript stack (V8's 984 KiB) plus the 192 KiB
 * Node keeps of a worker's stack for itself, so both paths overflow at about the same depth
 * (measured: 12,312 frames against the main thread's 12,521; Node's default 4 MiB gives 49,667).
 * YAML nested deeper than the `yaml` parser's recursion (1,000-2,000 block levels, with the JIT's
 * state) is refused by its stack overflow (docs/proxy.md, "Upstream documents"); with 4 MiB, a
 * 4.5 MB index nested 3,000 levels deep took 2 s and parsed where the main thread refused it in
 * 0.2 s.
 */
const WORKER_STACK_MB = 1.15;
const WORKER_URL = new URL('./index-worker.ts', import.meta.url);

export interface UpstreamIndexParserOptions {
  /** Largest document parsed on the event loop, bytes (default INLINE_MAX_BYTES). */
  readonly inlineMaxBytes?: number;
  /** Longest one parse may take in the worker, ms (default PARSE_TIMEOUT_MS). */
  readonly timeoutMs?: number;
  /** The worker's old-generation heap bound, MiB (default WORKER_MEMORY_MB). */
  readonly maxOldGenerationMb?: number;
  /** How long an idle worker is kept, ms (default WORKER_IDLE_MS). */
  readonly idleMs?: number;
  /**
   * Tests only: shared with the worker (`new Int32Array(new SharedArrayBuffer(8))`), which adds
   * 1 to `hold[1]` when a parse starts and then waits while `hold[0]` is 0 (index-worker.ts).
   */
  readonly hold?: Int32Array;
}

interface Pending {
  readonly task: IndexParseTask;
  readonly transfer: boolean;
  readonly resolve: (parsed: ParsedIndex) => void;
  readonly reject: (err: Error) => void;
}

interface Running {
  readonly pending: Pending;
  readonly worker: Worker;
  readonly timer: NodeJS.Timeout;
}

export class UpstreamIndexParser {
  readonly #inlineMaxBytes: number;
  readonly #timeoutMs: number;
  readonly #memoryMb: number;
  readonly #idleMs: number;
  readonly #hold: Int32Array | undefined;
  readonly #queue: Pending[] = [];
  #worker: Worker | undefined;
  /** Workers that have loaded their modules and take tasks. */
  readonly #ready = new WeakSet<Worker>();
  #running: Running | undefined;
  #idle: NodeJS.Timeout | undefined;
  #nextId = 1;
  #closed = false;
  #started = 0;

  constructor(options: UpstreamIndexParserOptions = {}) {
    this.#inlineMaxBytes = options.inlineMaxBytes ?? INLINE_MAX_BYTES;
    this.#timeoutMs = options.timeoutMs ?? PARSE_TIMEOUT_MS;
    this.#memoryMb = options.maxOldGenerationMb ?? WORKER_MEMORY_MB;
    this.#idleMs = options.idleMs ?? WORKER_IDLE_MS;
    this.#hold = options.hold;
  }

  /** Workers started so far (tests: a parse went through a worker; a failed one was replaced). */
  get workersStarted(): number {
    return this.#started;
  }

  /**
   * The index's rewritten entries (upstream-index.ts `parseUpstreamIndex`). Rejects with what
   * that function throws (a RegistryError BAD_REQUEST for YAML it refuses, an Error for a
   * document that is not an index), or with an Error when the worker gave up (time, memory, a
   * crash, close()). `transfer`: the bytes' memory is handed to the worker (the caller must not
   * read `bytes` afterwards) instead of copied.
   */
  parse(
    bytes: Buffer,
    base: string,
    upstream: number,
    options: { readonly transfer?: boolean } = {},
  ): Promise<ParsedIndex> {
    if (bytes.byteLength <= this.#inlineMaxBytes) {
      try {
        return Promise.resolve(parseUpstreamIndex(bytes.toString('utf8'), base, upstream));
      } catch (err) {
        return Promise.reject(err instanceof Error ? err : new Error(String(err)));
      }
    }
    if (this.#closed) return Promise.reject(closing());
    return new Promise<ParsedIndex>((resolve, reject) => {
      const task: IndexParseTask = {
        id: this.#nextId++,
        bytes,
        base,
        upstream,
        ...(this.#hold === undefined ? {} : { hold: this.#hold }),
      };
      this.#queue.push({ task, transfer: options.transfer === true, resolve, reject });
      this.#dispatch();
    });
  }

  /** Stops the worker; queued and running parses reject. */
  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#idle);
    const running = this.#running;
    this.#running = undefined;
    if (running) {
      clearTimeout(running.timer);
      running.pending.reject(closing());
    }
    for (const pending of this.#queue.splice(0)) pending.reject(closing());
    const worker = this.#worker;
    this.#worker = undefined;
    if (worker) await worker.terminate();
  }

  #dispatch(): void {
    if (this.#closed || this.#running !== undefined || this.#queue.length === 0) return;
    clearTimeout(this.#idle);
    const worker = this.#worker ?? this.#start();
    worker.ref(); // a parse is awaited: the process lives until it ends
    // A new worker is sent its first task once it has loaded its modules (~0.3 s): the time
    // bound is the parse's, not the start's.
    if (!this.#ready.has(worker)) return;
    const pending = this.#queue.shift();
    if (pending === undefined) return;
    const timer = setTimeout(() => {
      this.#fail(
        worker,
        new Error(
          `parsing it took longer than ${this.#timeoutMs / 1000} s (the parser was stopped)`,
        ),
      );
    }, this.#timeoutMs);
    this.#running = { pending, worker, timer };
    const { task } = pending;
    // Transferred only when the Buffer owns its whole ArrayBuffer: a small Buffer may be a slice
    // of Node's shared pool, which must not be detached.
    const own =
      pending.transfer &&
      task.bytes.byteOffset === 0 &&
      task.bytes.byteLength === task.bytes.buffer.byteLength &&
      task.bytes.buffer instanceof ArrayBuffer;
    worker.postMessage(task, own ? [task.bytes.buffer] : []);
  }

  #start(): Worker {
    const worker = new Worker(WORKER_URL, {
      name: 'nora-helm-index',
      // None of the process's options: type stripping is Node 24's default, V8 flags apply to
      // the whole process already, and some options (`--input-type`, `--eval`) make a worker
      // refuse to start.
      execArgv: [],
      // The young generation is left as it is: 8 to 96 MiB made no measurable difference to a
      // 20 MB parse (4.4-6.6 s of CPU either way).
      resourceLimits: { maxOldGenerationSizeMb: this.#memoryMb, stackSizeMb: WORKER_STACK_MB },
    });
    this.#started++;
    this.#worker = worker;
    worker.on('message', (message: IndexWorkerMessage) => {
      if ('ready' in message) {
        this.#ready.add(worker);
        this.#dispatch();
        return;
      }
      const running = this.#running;
      if (running?.worker !== worker || running.pending.task.id !== message.id) return;
      this.#finish();
      if (message.ok) running.pending.resolve(message.parsed);
      else running.pending.reject(rebuildError(message));
    });
    worker.on('error', (err: Error & { code?: string }) => {
      this.#fail(
        worker,
        new Error(
          err.code === 'ERR_WORKER_OUT_OF_MEMORY'
            ? `parsing it needs more than ${this.#memoryMb} MiB of memory (the parser was stopped)`
            : `the index parser failed: ${err.message}`,
        ),
      );
    });
    worker.on('exit', (code) => {
      this.#fail(worker, new Error(`the index parser stopped (exit code ${code})`));
    });
    return worker;
  }

  /** The running parse ended with a reply: the worker takes the next one, or goes idle. */
  #finish(): void {
    const running = this.#running;
    if (running === undefined) return;
    clearTimeout(running.timer);
    this.#running = undefined;
    if (this.#queue.length > 0) {
      this.#dispatch();
      return;
    }
    const worker = running.worker;
    worker.unref();
    clearTimeout(this.#idle);
    this.#idle = setTimeout(() => {
      if (this.#running !== undefined || this.#worker !== worker) return;
      this.#worker = undefined;
      void worker.terminate();
    }, this.#idleMs);
    this.#idle.unref();
  }

  /**
   * `worker` is unusable (timed out, out of memory, crashed, exited, stopped when idle): its
   * parse, if it has one, rejects with `reason`; it is stopped, and the next parse starts a new
   * one. A worker that dies while starting fails the first queued parse (it would fail again).
   */
  #fail(worker: Worker, reason: Error): void {
    const current = this.#worker === worker;
    if (current) this.#worker = undefined;
    const running = this.#running;
    if (running?.worker === worker) {
      clearTimeout(running.timer);
      this.#running = undefined;
      running.pending.reject(reason);
    } else if (current && !this.#ready.has(worker)) {
      this.#queue.shift()?.reject(reason);
    }
    this.#ready.delete(worker);
    void worker.terminate();
    this.#dispatch();
  }
}

function closing(): Error {
  return new Error('the server is closing');
}

/** The error the in-thread parse would have thrown, from its description. */
function rebuildError(reply: Extract<IndexParseReply, { ok: false }>): Error {
  if (reply.code !== undefined) return new RegistryError(reply.code, reply.message);
  const err = new Error(reply.message);
  if (reply.name !== 'Error') err.name = reply.name;
  return err;
}

/**
 * The index-parse worker (node:worker_threads; started by index-parser.ts): parses upstream
 * `index.yaml` documents with upstream-index.ts `parseUpstreamIndex`, one task at a time, so the
 * seconds a big public index costs (~10 s for 20 MB) are spent off the event loop.
 *
 * Protocol (structured clone both ways):
 * - in: `IndexParseTask` — the document's bytes (UTF-8; usually transferred, not copied), the
 *   upstream URL relative chart URLs resolve against, the upstream's index;
 * - out: `{ ready: true }` once its modules are loaded, then per task an `IndexParseReply` with
 *   the same `id` — the parsed entries, or the error the in-thread
 *   parse would have thrown, described (`code` set for a RegistryError) so the caller rebuilds it.
 *
 * Loaded by Node 24's type stripping like every other source file (bin/nora.js, node --test).
 */
import { parentPort } from 'node:worker_threads';
import { type ErrorCode, RegistryError } from '../../core/errors.ts';
import { type ParsedIndex, parseUpstreamIndex } from './upstream-index.ts';

export interface IndexParseTask {
  readonly id: number;
  /** The index.yaml bytes, UTF-8. */
  readonly bytes: Uint8Array;
  /** The upstream repository URL (relative chart URLs resolve against it). */
  readonly base: string;
  /** The upstream's index in the repository's `upstreams`. */
  readonly upstream: number;
  /**
   * Tests only (index-parser.ts `hold`): before parsing, the worker adds 1 to `hold[1]` (parses
   * started, notified) and then waits while `hold[0]` is 0, so a test can keep a parse in
   * progress for as long as it needs, without timing.
   */
  readonly hold?: Int32Array;
}

export type IndexParseReply =
  | { readonly id: number; readonly ok: true; readonly parsed: ParsedIndex }
  | {
      readonly id: number;
      readonly ok: false;
      /** A RegistryError's code; absent for any other error. */
      readonly code?: ErrorCode;
      readonly name: string;
      readonly message: string;
    };

/** What the worker posts: `ready` once, when its modules are loaded; then one reply per task. */
export type IndexWorkerMessage = { readonly ready: true } | IndexParseReply;

/** One task's reply (never throws). */
export function runIndexParse(task: IndexParseTask): IndexParseReply {
  if (task.hold !== undefined) {
    Atomics.add(task.hold, 1, 1);
    Atomics.notify(task.hold, 1);
    Atomics.wait(task.hold, 0, 0);
  }
  try {
    const bytes = task.bytes;
    const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
    return { id: task.id, ok: true, parsed: parseUpstreamIndex(text, task.base, task.upstream) };
  } catch (err) {
    const error = err instanceof Error ? err : new Error(String(err));
    return {
      id: task.id,
      ok: false,
      ...(error instanceof RegistryError ? { code: error.code } : {}),
      name: error.name,
      message: error.message,
    };
  }
}

parentPort?.on('message', (task: IndexParseTask) => {
  parentPort?.postMessage(runIndexParse(task) satisfies IndexWorkerMessage);
});
parentPort?.postMessage({ ready: true } satisfies IndexWorkerMessage);

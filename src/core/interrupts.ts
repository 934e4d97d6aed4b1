/**
 * SIGINT and SIGTERM for an offline command that writes files it must not leave behind when it is
 * stopped midway (`nora backup`: its temp archive and database snapshot; `nora restore`: its
 * spooled database and the blobs it added). Node's default action for both ends the process at
 * once, skipping every `finally`; while a watch is on, a signal is recorded instead and the
 * command's `onSignal` stops its work (destroys its input, aborts its pipeline), so that its own
 * failure path removes what it wrote and it ends with an InterruptedError (main.ts: one line,
 * exit 130 / 143).
 */
import os from 'node:os';

/** The signals a command catches to clean up after itself (an operator's Ctrl-C, `kill`). */
export const INTERRUPTS = ['SIGINT', 'SIGTERM'] as const;

/** The exit code a shell reports for a process `signal` ended (SIGINT 130, SIGTERM 143). */
export function signalExitCode(signal: NodeJS.Signals): number {
  return 128 + os.constants.signals[signal];
}

/**
 * A command stopped by SIGINT or SIGTERM after removing what it had written. `command` is the
 * verb (`backup`, `restore`: main.ts prints `nora <command>: <message>`); `exitCode` is the
 * shell's for that signal, which the process would have had without the watch.
 */
export class InterruptedError extends Error {
  readonly command: string;
  readonly signal: NodeJS.Signals;
  readonly exitCode: number;

  constructor(command: string, signal: NodeJS.Signals, what: string) {
    super(`interrupted (${signal}): ${what}`);
    this.name = 'InterruptedError';
    this.command = command;
    this.signal = signal;
    this.exitCode = signalExitCode(signal);
  }
}

/** A watch on SIGINT / SIGTERM (watchInterrupts); disposing it restores Node's default. */
export interface InterruptWatch extends Disposable {
  /** The first signal received, or undefined. */
  readonly signal: NodeJS.Signals | undefined;
  /**
   * From now on signals are ignored: the command's result is being put in place (one rename)
   * and is complete a moment later; stopping there would leave it half done.
   */
  commit(): void;
  /** Throws the command's InterruptedError when a signal has arrived (between steps). */
  throwIfInterrupted(): void;
  /**
   * The error to end with: the command's InterruptedError when a signal arrived (whatever a
   * stream torn down by it threw is its doing), else `err` itself.
   */
  errorFor(err: unknown): unknown;
}

/**
 * Catches SIGINT and SIGTERM until disposed (`using watch = watchInterrupts(…)`). The first
 * signal calls `onSignal` (stop the work: destroy the input, abort the pipeline); a second one
 * while the cleanup runs is the same request and is ignored, as are signals after commit().
 * `interrupted(signal)` makes the command's InterruptedError.
 */
export function watchInterrupts(
  interrupted: (signal: NodeJS.Signals) => InterruptedError,
  onSignal: (signal: NodeJS.Signals) => void,
): InterruptWatch {
  let received: NodeJS.Signals | undefined;
  let committing = false;
  const listener = (signal: NodeJS.Signals): void => {
    if (committing || received !== undefined) return;
    received = signal;
    onSignal(signal);
  };
  for (const signal of INTERRUPTS) process.on(signal, listener);
  return {
    get signal() {
      return received;
    },
    commit() {
      committing = true;
    },
    throwIfInterrupted() {
      if (received !== undefined) throw interrupted(received);
    },
    errorFor(err: unknown) {
      return received === undefined ? err : interrupted(received);
    },
    [Symbol.dispose]() {
      for (const signal of INTERRUPTS) process.off(signal, listener);
    },
  };
}

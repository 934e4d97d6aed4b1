/** Runs `bin/nora.js` as an operator would: a real process, none of the caller's NORA_* vars. */
import os from 'node:os';
import path from 'node:path';
import { PROJECT_ROOT, run, type RunResult } from './tools.ts';

/** bin/nora.js of this checkout. */
export const BIN = path.join(PROJECT_ROOT, 'bin/nora.js');

/** The test process's environment without its NORA_* variables (so only `env` configures). */
export function cleanEnv(): Record<string, string> {
  return Object.fromEntries(
    Object.entries(process.env).filter(
      (entry): entry is [string, string] => !entry[0].startsWith('NORA_') && entry[1] !== undefined,
    ),
  );
}

/**
 * `nora <args>` with `env` on top of a clean environment, in `cwd` (default the temp dir); never
 * throws on exit code. `timeoutMs` (default run()'s 5 minutes) bounds a command that wrongly
 * keeps running, such as a `serve` that should have refused its config.
 */
export function nora(
  args: readonly string[],
  env: Record<string, string> = {},
  cwd = os.tmpdir(),
  timeoutMs?: number,
): Promise<RunResult> {
  return run(process.execPath, [BIN, ...args], {
    check: false,
    env: { ...cleanEnv(), ...env },
    cwd,
    ...(timeoutMs === undefined ? {} : { timeoutMs }),
  });
}

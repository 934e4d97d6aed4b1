/**
 * Real-client plumbing: find a tool (PATH or the project's .tools/bin), run it asynchronously
 * (never spawnSync: the server under test shares this event loop), and skip with a reason when
 * a client is missing — a missing client never makes a test pass.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

export const PROJECT_ROOT = path.resolve(import.meta.dirname, '..', '..');
export const TOOLS_BIN = path.join(PROJECT_ROOT, '.tools', 'bin');

export function findTool(name: string): string | undefined {
  const dirs = [TOOLS_BIN, ...(process.env['PATH'] ?? '').split(path.delimiter)];
  for (const dir of dirs) {
    if (dir === '') continue;
    const candidate = path.join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** For `test(name, { skip: missingTools('skopeo') }, …)`: a reason string, or false. */
export function missingTools(...names: string[]): string | false {
  const missing = names.filter((n) => findTool(n) === undefined);
  return missing.length === 0
    ? false
    : `client not installed: ${missing.join(', ')} (run scripts/install-test-clients.sh)`;
}

export interface RunResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** stdout + stderr of a step, for assertion messages and matching. */
export function output(result: RunResult): string {
  return `${result.stdout}\n${result.stderr}`;
}

export interface RunOptions extends SpawnOptions {
  readonly input?: string;
  readonly timeoutMs?: number;
  /** Throw when the exit code is not 0 (default true). */
  readonly check?: boolean;
}

export async function run(
  command: string,
  args: readonly string[],
  options: RunOptions = {},
): Promise<RunResult> {
  const { input, timeoutMs = 300_000, check = true, ...spawnOptions } = options;
  const result = await collect(command, args, spawnOptions, timeoutMs, (child) => {
    if (input === undefined) child.stdin?.end();
    else child.stdin?.end(input);
  });
  if (check && result.code !== 0) {
    throw new Error(
      `${command} ${args.join(' ')} exited ${result.code}\nstdout: ${result.stdout.slice(-4000)}\nstderr: ${result.stderr.slice(-4000)}`,
    );
  }
  return result;
}

/**
 * Spawns `command` (found as findTool finds it), collects stdout and stderr, kills it after
 * `timeoutMs`. `started` gets the child once (to write its stdin), `heard` each piece of output
 * of either stream as it arrives.
 */
function collect(
  command: string,
  args: readonly string[],
  spawnOptions: SpawnOptions,
  timeoutMs: number,
  started: (child: ChildProcess) => void,
  heard?: (child: ChildProcess, text: string) => void,
): Promise<RunResult> {
  const executable = findTool(command) ?? command;
  return new Promise((resolve, reject) => {
    const child = spawn(executable, args, { stdio: ['pipe', 'pipe', 'pipe'], ...spawnOptions });
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d: Buffer) => {
      stdout += d.toString();
      heard?.(child, d.toString());
    });
    child.stderr?.on('data', (d: Buffer) => {
      stderr += d.toString();
      heard?.(child, d.toString());
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    // A child may exit before reading its stdin (EPIPE): its exit code is the verdict, not that.
    child.stdin?.on('error', () => undefined);
    started(child);
  });
}

/**
 * podman/buildah storage flags for a private store under `dir`: `--root <dir>/root`, a run root
 * of its own directly in the temporary directory (podman refuses a run root longer than 50
 * characters, which a test's work directory inside the runner's TMPDIR can pass), and the vfs
 * driver (no kernel overlay needed). The run root is removed with the runner's TMPDIR.
 */
export async function containersStorage(dir: string): Promise<string[]> {
  const runroot = await fs.mkdtemp(path.join(os.tmpdir(), 'run-'));
  return ['--root', path.join(dir, 'root'), '--runroot', runroot, '--storage-driver', 'vfs'];
}

export interface Prompt {
  /** Seen in stdout or stderr (after the previous answer), it gets `answer` + a newline. */
  readonly match: RegExp;
  readonly answer: string;
}

/**
 * Runs a command that asks questions one at a time (npm adduser's Username/Password/Email):
 * each answer is written only once its prompt has appeared (an answer written earlier can be
 * swallowed by a client that reads each one with a new line reader), and stdin is closed after
 * the last one, so a question nobody answers ends the client. Never throws on the exit code.
 */
export function runWithPrompts(
  command: string,
  args: readonly string[],
  prompts: readonly Prompt[],
  options: SpawnOptions & { readonly timeoutMs?: number } = {},
): Promise<RunResult> {
  const { timeoutMs = 120_000, ...spawnOptions } = options;
  /** Both streams in the order they arrived, not yet searched past the last prompt. */
  let unanswered = '';
  let next = 0;
  return collect(
    command,
    args,
    spawnOptions,
    timeoutMs,
    (child) => {
      if (prompts.length === 0) child.stdin?.end();
    },
    (child, text) => {
      unanswered += text;
      const prompt = prompts[next];
      const found = prompt?.match.exec(unanswered);
      if (prompt === undefined || found === null || found === undefined) return;
      unanswered = unanswered.slice(found.index + found[0].length);
      next++;
      child.stdin?.write(`${prompt.answer}\n`);
      if (next === prompts.length) child.stdin?.end();
    },
  );
}

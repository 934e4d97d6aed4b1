/**
 * What a format gives `nora mirror` (run.ts's MIRROR_FORMATS table): its subcommand's options and
 * the plan its input makes — the items to pull, and the entries it leaves out and why (a local
 * `file:` dependency, a git source). The contract for the items themselves is types.ts.
 */
import fs from 'node:fs/promises';
import type { Command } from 'commander';
import { type MirrorClient, MirrorInputError, type MirrorItem } from './types.ts';

/** What the verb hands a format when it plans. */
export interface MirrorContext {
  /** The server (types.ts): a format that must read metadata to plan (`--all-versions`) uses it. */
  readonly client: MirrorClient;
  /**
   * `--repo NAME`: read through the named repository's mount (`/repository/<name>/…`) instead of
   * the format's default mount; undefined for the default.
   */
  readonly repo: string | undefined;
  /**
   * `--concurrency`: at most this many requests at once, also while planning (npm `--packages`
   * reads its packuments in a pool of this size).
   */
  readonly concurrency: number;
}

/** An input entry the format does not pull, with the reason the report prints. */
export interface MirrorSkip {
  readonly label: string;
  readonly reason: string;
}

export interface MirrorPlan {
  readonly items: readonly MirrorItem[];
  readonly skipped: readonly MirrorSkip[];
}

/**
 * How `--repo NAME` is checked before anything is planned (run.ts `checkRepo`, one request): a
 * path every repository of the format answers cheaply from the server itself (never an upstream),
 * under `/repository/<name>`.
 */
export interface RepoProbe {
  /** Under the repository's mount: `/-/ping`, `/simple/`. */
  readonly path: string;
  /** The format as a message names one of its repositories: `an npm`, `a PyPI`. */
  readonly kind: string;
  /** The default mount, read without `--repo`: `/npm/`. */
  readonly mount: string;
  /** Whether the answer is the format's (default: a 2xx). */
  readonly answers?: (status: number, header: (name: string) => string | undefined) => boolean;
}

export interface MirrorFormat {
  /** One line for `nora mirror --help`. */
  readonly description: string;
  /** How `--repo` is checked up front; none: not checked (its items say what is wrong). */
  readonly probe?: RepoProbe;
  /** Adds the format's own options (`--lockfile`, `--packages`, …) to its subcommand. */
  options(command: Command): void;
  /**
   * The plan for the parsed options (commander's `opts()` of the subcommand). Rejects with
   * MirrorInputError (types.ts) for input that cannot be used: a missing or unparsable lock
   * file, no input option, two that exclude each other (exit 2).
   */
  plan(options: Readonly<Record<string, unknown>>, context: MirrorContext): Promise<MirrorPlan>;
}

/**
 * The path prefix of a format's repository: its default mount (`/npm`, `/simple` without the
 * trailing `/`) or, with `--repo NAME`, `/repository/<name>`.
 */
export function repositoryMount(defaultMount: string, repo: string | undefined): string {
  return repo === undefined ? defaultMount : `/repository/${encodeURIComponent(repo)}`;
}

/** A lock file larger than this is refused (the largest real ones are a few tens of MB). */
const MAX_INPUT_BYTES = 256 * 1024 * 1024;

/**
 * The text of an input file (`--lockfile`), or `-` for stdin. MirrorInputError when it cannot be
 * read (`cannot read package-lock.json: no such file`), is a directory or is too large.
 */
export async function readInputFile(file: string): Promise<string> {
  try {
    if (file === '-') {
      const chunks: Buffer[] = [];
      let total = 0;
      for await (const chunk of process.stdin as AsyncIterable<Buffer>) {
        total += chunk.length;
        if (total > MAX_INPUT_BYTES) throw new Error(`larger than ${MAX_INPUT_BYTES} bytes`);
        chunks.push(chunk);
      }
      return Buffer.concat(chunks).toString('utf8');
    }
    const info = await fs.stat(file);
    if (info.isDirectory()) throw new Error('a directory, not a file');
    if (info.size > MAX_INPUT_BYTES) throw new Error(`larger than ${MAX_INPUT_BYTES} bytes`);
    return await fs.readFile(file, 'utf8');
  } catch (err) {
    const error = err as NodeJS.ErrnoException;
    const reason =
      error.code === 'ENOENT'
        ? 'no such file'
        : error.code === 'EACCES'
          ? 'permission denied'
          : error.message;
    throw new MirrorInputError(`cannot read ${file}: ${reason}`);
  }
}

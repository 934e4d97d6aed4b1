/**
 * The resume state of `nora import run`: a JSON-lines file, one line per file done (imported, or
 * found already in NORA):
 * `{"target":"https://nora:4000","installation":"<uuid>","repo":"libs-release","path":"org/…/x.jar","digest":"<hex>"}`.
 * A re-run into the same NORA skips every file whose repository, path and digest are in it (a
 * file changed at the source since has another digest: imported again). A line naming another
 * NORA (or none: a state from before targets were recorded) is never taken as done, so the same
 * command into a second NORA copies everything. Nor is a line of the same address but another
 * installation id (the `installation` of `GET /api/v1/repositories`, db/installation.ts; none
 * recorded counts as another): that NORA's storage was wiped or restored since, so what the
 * line says was done may be gone — those files are imported again and the run says so
 * (ImportState.superseded). Lines are appended as files finish, so an
 * interrupted run (Ctrl-C, a crash) keeps what it did; a torn last line is ignored.
 *
 * Default place: `<[storage] path>/import-state/<source host>-to-<NORA host>.jsonl` of the local
 * configuration (or `./nora-import-state/…` when none loads); `--state FILE` sets it.
 */
import fsp from 'node:fs/promises';
import path from 'node:path';
import { ImportUsageError } from './types.ts';

export interface ImportState {
  readonly file: string;
  /**
   * Files this target's address has lines for under another installation id (or none) than
   * the target's now, and none under its own: not taken as done. 0 when every line matches.
   */
  readonly superseded: number;
  has(repo: string, filePath: string, digest: string): boolean;
  /** Appends one line (flushed in order; `close` waits for them). */
  record(repo: string, filePath: string, digest: string): void;
  close(): Promise<void>;
}

const key = (repo: string, filePath: string, digest: string): string =>
  `${repo}\n${filePath}\n${digest}`;

/**
 * Loads `file` (missing → empty) and opens it for appending; only lines naming `target` (a NORA
 * base URL) and `installation` (its id; undefined: a NORA that reports none) count as done. `createDir`: make the file's folder (the default place); an explicit
 * `--state` must be in a folder that exists.
 *
 * @throws ImportUsageError naming the file when it cannot be read or appended to (a directory,
 *   a missing folder, /proc, no permission): before any file is imported.
 */
export async function openState(
  file: string,
  target: string,
  createDir: boolean,
  installation?: string,
): Promise<ImportState> {
  const bad = (err: unknown): ImportUsageError =>
    new ImportUsageError(
      `nora import run: --state ${file}: cannot use it as the resume state (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
    );
  const done = new Set<string>();
  // Keys recorded for another installation: reported unless also done for this one (a run
  // after the wipe recorded them again).
  const others = new Set<string>();
  const text = await fsp.readFile(file, 'utf8').catch((err: unknown) => {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return '';
    throw bad(err);
  });
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    try {
      const entry = JSON.parse(line) as {
        target?: unknown;
        installation?: unknown;
        repo?: unknown;
        path?: unknown;
        digest?: unknown;
      };
      if (
        entry.target === target &&
        typeof entry.repo === 'string' &&
        typeof entry.path === 'string' &&
        typeof entry.digest === 'string'
      ) {
        const at = key(entry.repo, entry.path, entry.digest);
        if (entry.installation === installation) done.add(at);
        else others.add(at);
      }
    } catch {
      // a line torn by a crash: that file is simply done again
    }
  }
  if (createDir) await fsp.mkdir(path.dirname(file), { recursive: true }).catch(() => undefined);
  // Opened here, not lazily by the stream: a file that cannot be appended to is a usage error
  // now, not an unhandled 'error' event after the first file is imported.
  const handle = await fsp.open(file, 'a').catch((err: unknown) => {
    throw bad(err);
  });
  const out = handle.createWriteStream();
  // A later write failure (disk full) fails `close`, never the process.
  let failure: Error | undefined;
  out.on('error', (err) => {
    failure ??= err;
  });
  // A torn last line must not glue onto the next record.
  if (text !== '' && !text.endsWith('\n')) out.write('\n');
  return {
    file,
    superseded: [...others].filter((at) => !done.has(at)).length,
    has: (repo, filePath, digest) => done.has(key(repo, filePath, digest)),
    record(repo, filePath, digest) {
      done.add(key(repo, filePath, digest));
      out.write(`${JSON.stringify({ target, installation, repo, path: filePath, digest })}\n`);
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        out.end((err?: Error | null) => {
          const why = err ?? failure;
          if (why) reject(why);
          else resolve();
        });
      }),
  };
}

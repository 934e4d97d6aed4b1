/**
 * The resume state of `nora import run`: a JSON-lines file, one line per file done (imported, or
 * found already in NORA): `{"repo":"libs-release","path":"org/…/x.jar","digest":"<hex>"}`.
 * A re-run skips every file whose repository, path and digest are in it (a file changed at the
 * source since has another digest: imported again). Lines are appended as files finish, so an
 * interrupted run (Ctrl-C, a crash) keeps what it did; a torn last line is ignored.
 *
 * Default place: `<[storage] path>/import-state/<source host>.jsonl` of the local configuration
 * (or `./nora-import-state/<source host>.jsonl` when none loads); `--state FILE` sets it.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';

export interface ImportState {
  readonly file: string;
  has(repo: string, filePath: string, digest: string): boolean;
  /** Appends one line (flushed in order; `close` waits for them). */
  record(repo: string, filePath: string, digest: string): void;
  close(): Promise<void>;
}

const key = (repo: string, filePath: string, digest: string): string =>
  `${repo}\n${filePath}\n${digest}`;

/** Loads `file` (missing → empty) and opens it for appending (creating its folder). */
export async function openState(file: string): Promise<ImportState> {
  const done = new Set<string>();
  const text = await fsp.readFile(file, 'utf8').catch((err: unknown) => {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return '';
    throw err;
  });
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    try {
      const entry = JSON.parse(line) as { repo?: unknown; path?: unknown; digest?: unknown };
      if (
        typeof entry.repo === 'string' &&
        typeof entry.path === 'string' &&
        typeof entry.digest === 'string'
      ) {
        done.add(key(entry.repo, entry.path, entry.digest));
      }
    } catch {
      // a line torn by a crash: that file is simply done again
    }
  }
  await fsp.mkdir(path.dirname(file), { recursive: true });
  // A torn last line must not glue onto the next record.
  const out = fs.createWriteStream(file, { flags: 'a' });
  if (text !== '' && !text.endsWith('\n')) out.write('\n');
  return {
    file,
    has: (repo, filePath, digest) => done.has(key(repo, filePath, digest)),
    record(repo, filePath, digest) {
      done.add(key(repo, filePath, digest));
      out.write(`${JSON.stringify({ repo, path: filePath, digest })}\n`);
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        out.end((err?: Error | null) => {
          if (err) reject(err);
          else resolve();
        });
      }),
  };
}

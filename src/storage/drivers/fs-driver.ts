/**
 * Local filesystem driver. Atomicity: write to a temp file under `<root>/.tmp`, fsync, rename
 * into place, fsync the directory. A crash leaves at most a temp file, never a partial object.
 */
import { randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream, open as openCallback } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { errnoCode } from '../../core/errors.ts';
import { StorageNotFoundError } from '../driver.ts';
import { tagLocalFile } from '../local-file.ts';
import type { ObjectInfo, ReadOptions, StorageDriver, StorageKey } from '../driver.ts';

const TMP_DIR = '.tmp';

export class FsDriver implements StorageDriver {
  readonly name = 'local';
  readonly #root: string;
  readonly #tmp: string;
  readonly #knownDirs = new Set<string>();

  private constructor(root: string) {
    this.#root = root;
    this.#tmp = path.join(root, TMP_DIR);
  }

  static async open(root: string): Promise<FsDriver> {
    const absolute = path.resolve(root);
    await fs.mkdir(path.join(absolute, TMP_DIR), { recursive: true });
    return new FsDriver(absolute);
  }

  #path(key: StorageKey): string {
    // Keys are validated by GuardedDriver; the check below is defence in depth.
    const full = path.join(this.#root, key);
    if (!full.startsWith(this.#root + path.sep)) throw new Error(`key escapes root: ${key}`);
    return full;
  }

  async stat(key: StorageKey): Promise<ObjectInfo | undefined> {
    try {
      const stats = await fs.stat(this.#path(key));
      if (!stats.isFile()) return undefined;
      return { key, size: stats.size, modifiedAt: stats.mtime };
    } catch (err) {
      if (errnoCode(err) === 'ENOENT' || errnoCode(err) === 'ENOTDIR') return undefined;
      throw err;
    }
  }

  async read(key: StorageKey, options: ReadOptions = {}): Promise<Readable> {
    const file = this.#path(key);
    // Open first so a missing object is a clean not-found, then stream from the numeric fd:
    // the callback-based fd path is measurably faster than a FileHandle stream (~25% on 100 MB).
    let fd: number;
    try {
      fd = await openForRead(file);
    } catch (err) {
      if (errnoCode(err) === 'ENOENT' || errnoCode(err) === 'ENOTDIR') {
        throw new StorageNotFoundError(key);
      }
      throw err;
    }
    const stream = createReadStream('', {
      fd,
      autoClose: true,
      highWaterMark: 1024 * 1024,
      ...(options.start === undefined ? {} : { start: options.start }),
      ...(options.end === undefined ? {} : { end: options.end }),
    });
    return tagLocalFile(stream, { fd, start: options.start ?? 0, end: options.end });
  }

  async write(key: StorageKey, body: Readable | Uint8Array): Promise<ObjectInfo> {
    const temp = this.#tempFile();
    try {
      const source = body instanceof Readable ? body : Readable.from([body]);
      await pipeline(source, createWriteStream(temp, { flags: 'wx' }));
      return await this.writeFile(key, temp);
    } catch (err) {
      await fs.rm(temp, { force: true });
      throw err;
    }
  }

  async writeFile(key: StorageKey, localPath: string): Promise<ObjectInfo> {
    const target = this.#path(key);
    const handle = await fs.open(localPath, 'r+');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
    const dir = path.dirname(target);
    await this.#ensureDir(dir);
    try {
      await fs.rename(localPath, target);
    } catch (err) {
      if (errnoCode(err) !== 'EXDEV') throw err;
      // Spool on another filesystem: copy to a temp next to the target, then rename.
      const near = path.join(dir, `.${randomUUID()}.part`);
      await fs.copyFile(localPath, near);
      await fs.rename(near, target);
      await fs.rm(localPath, { force: true });
    }
    await syncDir(dir);
    const stats = await fs.stat(target);
    return { key, size: stats.size, modifiedAt: stats.mtime };
  }

  async delete(key: StorageKey): Promise<boolean> {
    try {
      await fs.unlink(this.#path(key));
      return true;
    } catch (err) {
      if (errnoCode(err) === 'ENOENT' || errnoCode(err) === 'ENOTDIR') return false;
      throw err;
    }
  }

  /** Hard link when possible (same inode, no bytes moved); objects are immutable once written. */
  async copy(from: StorageKey, to: StorageKey): Promise<ObjectInfo> {
    const source = this.#path(from);
    const temp = this.#tempFile();
    try {
      await fs.link(source, temp);
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') throw new StorageNotFoundError(from);
      await fs.copyFile(source, temp);
    }
    return this.writeFile(to, temp);
  }

  async *list(prefix: StorageKey): AsyncIterable<ObjectInfo> {
    const base = prefix.endsWith('/') ? prefix.slice(0, -1) : prefix;
    const start = this.#path(base as StorageKey);
    yield* this.#walk(start, base);
  }

  async *#walk(dir: string, keyPrefix: string): AsyncIterable<ObjectInfo> {
    let entries;
    try {
      entries = await fs.readdir(dir, { withFileTypes: true });
    } catch (err) {
      if (errnoCode(err) === 'ENOENT' || errnoCode(err) === 'ENOTDIR') return;
      throw err;
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      if (entry.name.startsWith('.')) continue;
      const full = path.join(dir, entry.name);
      const key = `${keyPrefix}/${entry.name}`;
      if (entry.isDirectory()) {
        yield* this.#walk(full, key);
      } else if (entry.isFile()) {
        const stats = await fs.stat(full).catch(() => undefined);
        if (stats) yield { key: key as StorageKey, size: stats.size, modifiedAt: stats.mtime };
      }
    }
  }

  spoolDir(): string {
    return this.#tmp;
  }

  async check(): Promise<void> {
    await fs.access(this.#root, fs.constants.R_OK | fs.constants.W_OK);
    await fs.access(this.#tmp, fs.constants.W_OK);
  }

  async close(): Promise<void> {
    // Nothing to release: files are opened per operation.
  }

  #tempFile(): string {
    return path.join(this.#tmp, `w-${randomUUID()}`);
  }

  async #ensureDir(dir: string): Promise<void> {
    if (this.#knownDirs.has(dir)) return;
    await fs.mkdir(dir, { recursive: true });
    if (this.#knownDirs.size > 10_000) this.#knownDirs.clear();
    this.#knownDirs.add(dir);
  }
}

async function syncDir(dir: string): Promise<void> {
  const handle = await fs.open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

function openForRead(file: string): Promise<number> {
  return new Promise((resolve, reject) => {
    openCallback(file, 'r', (err, fd) => {
      if (err) reject(err);
      else resolve(fd);
    });
  });
}

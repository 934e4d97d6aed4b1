/** In-memory driver for tests: same contract as the others, nothing on disk but the spool. */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { StorageNotFoundError } from '../driver.ts';
import type { ObjectInfo, ReadOptions, StorageDriver, StorageKey } from '../driver.ts';
import { bytesStream, tagIdentity } from '../local-file.ts';

interface StoredObject {
  readonly data: Buffer;
  readonly modifiedAt: Date;
  /** Which write stored it (ObjectInfo.identity). */
  readonly version: number;
}

function identityOf(object: StoredObject): string {
  return `memory:${object.version}`;
}

export class MemoryDriver implements StorageDriver {
  readonly name = 'memory';
  readonly #objects = new Map<string, StoredObject>();
  readonly #spool: string;
  #writes = 0;

  private constructor(spool: string) {
    this.#spool = spool;
  }

  static async open(): Promise<MemoryDriver> {
    return new MemoryDriver(await fs.mkdtemp(path.join(os.tmpdir(), 'nora-mem-spool-')));
  }

  stat(key: StorageKey): Promise<ObjectInfo | undefined> {
    const object = this.#objects.get(key);
    return Promise.resolve(
      object
        ? {
            key,
            size: object.data.length,
            modifiedAt: object.modifiedAt,
            identity: identityOf(object),
          }
        : undefined,
    );
  }

  read(key: StorageKey, options: ReadOptions = {}): Promise<Readable> {
    const object = this.#objects.get(key);
    if (!object) return Promise.reject(new StorageNotFoundError(key));
    const start = options.start ?? 0;
    const end = options.end === undefined ? object.data.length : options.end + 1;
    // Whole bytes, as the fs driver gives small files: the blob store verifies them in one step.
    return Promise.resolve(
      tagIdentity(bytesStream(object.data.subarray(start, end)), identityOf(object)),
    );
  }

  async write(
    key: StorageKey,
    body: Readable | Uint8Array | readonly Uint8Array[],
  ): Promise<ObjectInfo> {
    let data: Buffer;
    if (body instanceof Readable) {
      const chunks: Buffer[] = [];
      for await (const chunk of body) chunks.push(Buffer.from(chunk as Uint8Array));
      data = Buffer.concat(chunks);
    } else if (body instanceof Uint8Array) {
      data = Buffer.from(body);
    } else {
      data = Buffer.concat(body);
    }
    const modifiedAt = new Date();
    this.#objects.set(key, { data, modifiedAt, version: (this.#writes += 1) });
    return { key, size: data.length, modifiedAt };
  }

  async writeFile(key: StorageKey, localPath: string): Promise<ObjectInfo> {
    const data = await fs.readFile(localPath);
    await fs.rm(localPath, { force: true });
    return this.write(key, data);
  }

  delete(key: StorageKey): Promise<boolean> {
    return Promise.resolve(this.#objects.delete(key));
  }

  async setAside(key: StorageKey): Promise<string | undefined> {
    const object = this.#objects.get(key);
    if (object === undefined) return undefined;
    const held = path.join(this.#spool, `gc-${randomUUID()}`);
    await fs.writeFile(held, object.data, { flag: 'wx' });
    this.#objects.delete(key);
    return held;
  }

  list(prefix: StorageKey): AsyncIterable<ObjectInfo> {
    const base = prefix.endsWith('/') ? prefix : `${prefix}/`;
    const keys = [...this.#objects.keys()].filter((k) => k.startsWith(base)).sort();
    const infos: ObjectInfo[] = [];
    for (const key of keys) {
      const object = this.#objects.get(key);
      if (object)
        infos.push({
          key: key as StorageKey,
          size: object.data.length,
          modifiedAt: object.modifiedAt,
        });
    }
    return Readable.from(infos);
  }

  spoolDir(): string {
    return this.#spool;
  }

  check(): Promise<void> {
    return Promise.resolve();
  }

  async close(): Promise<void> {
    await fs.rm(this.#spool, { recursive: true, force: true });
  }
}

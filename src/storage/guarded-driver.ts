/**
 * The storage trust boundary (methods are async so a bad key is a rejected promise, never a throw): every driver call passes through here, so every key is validated
 * in one place whatever the backend (cf. Distribution's driver/base).
 */
import type { Readable } from 'node:stream';
import type {
  ConditionalWrite,
  MoveOutcome,
  ObjectInfo,
  ReadOptions,
  StorageDriver,
  StorageKey,
  WriteCondition,
  WriteFileOptions,
} from './driver.ts';
import { validateKey, validatePrefix } from './keys.ts';

export class GuardedDriver implements StorageDriver {
  readonly #inner: StorageDriver;
  #deletable: (() => void) | undefined;

  constructor(inner: StorageDriver) {
    this.#inner = inner;
  }

  /**
   * `check` runs before every delete and setAside and throws to refuse it: an S3 bucket whose
   * lease another installation took (src/storage/bucket-lease.ts).
   */
  guardDeletes(check: () => void): void {
    this.#deletable = check;
  }

  get name(): string {
    return this.#inner.name;
  }

  async stat(key: StorageKey): Promise<ObjectInfo | undefined> {
    return await this.#inner.stat(validateKey(key));
  }

  async read(key: StorageKey, options?: ReadOptions): Promise<Readable> {
    return await this.#inner.read(validateKey(key), options);
  }

  async write(
    key: StorageKey,
    body: Readable | Uint8Array | readonly Uint8Array[],
  ): Promise<ObjectInfo> {
    return await this.#inner.write(validateKey(key), body);
  }

  async writeFile(
    key: StorageKey,
    localPath: string,
    options?: WriteFileOptions,
  ): Promise<ObjectInfo> {
    return await this.#inner.writeFile(validateKey(key), localPath, options);
  }

  get syncsSpool(): boolean {
    return this.#inner.syncsSpool === true;
  }

  async delete(key: StorageKey): Promise<boolean> {
    this.#deletable?.();
    return await this.#inner.delete(validateKey(key));
  }

  async setAside(key: StorageKey): Promise<string | undefined> {
    this.#deletable?.();
    return await this.#inner.setAside(validateKey(key));
  }

  /** The inner driver's, when it has one; 'unsupported' otherwise (the caller checks itself). */
  async moveIfSame(
    from: StorageKey,
    to: StorageKey,
    identity: string,
  ): Promise<MoveOutcome | 'unsupported'> {
    const source = validateKey(from);
    const target = validateKey(to);
    if (this.#inner.moveIfSame === undefined) return 'unsupported';
    this.#deletable?.();
    return await this.#inner.moveIfSame(source, target, identity);
  }

  list(prefix: StorageKey): AsyncIterable<ObjectInfo> {
    return this.#inner.list(validatePrefix(prefix));
  }

  async copy(from: StorageKey, to: StorageKey): Promise<ObjectInfo> {
    const source = validateKey(from);
    const target = validateKey(to);
    if (this.#inner.copy) return this.#inner.copy(source, target);
    return this.#inner.write(target, await this.#inner.read(source));
  }

  async signedUrl(key: StorageKey, expiresInSeconds: number): Promise<string | undefined> {
    return this.#inner.signedUrl?.(validateKey(key), expiresInSeconds);
  }

  spoolDir(): string {
    return this.#inner.spoolDir();
  }

  check(): Promise<void> {
    return this.#inner.check();
  }

  async probeWrite(prefix: StorageKey): Promise<void> {
    await this.#inner.probeWrite?.(validatePrefix(prefix));
  }

  async probeRead(key: StorageKey): Promise<void> {
    await this.#inner.probeRead?.(validateKey(key));
  }

  async abortStaleUploads(prefix: StorageKey, before: Date, limit?: number): Promise<number> {
    return (await this.#inner.abortStaleUploads?.(validatePrefix(prefix), before, limit)) ?? 0;
  }

  async writeIf(
    key: StorageKey,
    body: Uint8Array,
    condition: WriteCondition,
  ): Promise<ConditionalWrite> {
    return (await this.#inner.writeIf?.(validateKey(key), body, condition)) ?? 'unsupported';
  }

  close(): Promise<void> {
    return this.#inner.close();
  }
}

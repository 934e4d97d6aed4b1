/**
 * Streaming reader of `npm publish` bodies. The body is JSON whose `_attachments.<file>.data`
 * strings hold whole tarballs in base64; everything else is small. This scanner walks the JSON
 * byte by byte, keeps the small parts as text, and decodes each attachment's base64 straight to a
 * spool file — so memory stays flat however large the tarball, and no decoded tarball is held in
 * memory at all. The attachment's value in the kept text becomes a placeholder naming its spool.
 */
import { once } from 'node:events';
import { createWriteStream, type WriteStream } from 'node:fs';
import fs from 'node:fs/promises';
import { RegistryError } from '../../core/errors.ts';

export const SPOOL_PLACEHOLDER = '@@nora-spool:';

export interface SpooledAttachment {
  readonly path: string;
  readonly size: number;
}

export interface ScannedBody {
  /** The body's JSON text with attachment data replaced by placeholders. */
  readonly text: string;
  readonly spools: ReadonlyMap<string, SpooledAttachment>;
  /** Removes every spool file (call in `finally`). */
  cleanup(): Promise<void>;
}

interface Frame {
  readonly kind: 'object' | 'array';
  key: string | undefined;
  expectKey: boolean;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/**
 * What one `PUT /<name>` body may cost, checked while it streams so a hostile shape is refused at
 * the first byte past a bound, before anything beyond it is spooled or kept. npm, pnpm and yarn
 * publish one version with one tarball; deprecate/unpublish bodies carry the whole packument
 * (every version's manifest) and no attachments, so only attachment-bearing bodies are held to
 * the small version count.
 */
export const PUBLISH_LIMITS = {
  /** Entries of `_attachments` (one tarball per new version). */
  attachments: 16,
  /** Entries of `versions` in any body (a deprecate re-sends every live version). */
  versions: 100_000,
  /** Object/array nesting. package.json manifests nest a handful of levels. */
  depth: 64,
  /** One object key, in bytes as sent. */
  keyBytes: 4096,
  /** JSON values (objects, arrays, commas) in the kept metadata: bounds what JSON.parse builds. */
  values: 2_000_000,
  /** Bytes kept outside the attachments' base64 (readme, manifests). */
  keptBytes: 64 * 1024 * 1024,
} as const;

const BASE64_GROUPS = /^[A-Za-z0-9+/]*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Decodes base64 arriving in arbitrary pieces to a file, in whole 4-character groups. */
class Base64Spool {
  readonly path: string;
  readonly #out: WriteStream;
  #pending = '';
  #size = 0;
  #padded = false;
  #error: Error | undefined;

  constructor(path: string) {
    this.path = path;
    this.#out = createWriteStream(path, { flags: 'wx' });
    // Write errors surface through drain/end; one raised after destroy() (a refused body with a
    // write still queued) has nobody to tell and must not become an uncaught 'error' event.
    this.#out.on('error', (err) => {
      this.#error ??= err;
    });
  }

  get size(): number {
    return this.#size;
  }

  async write(chunk: Buffer): Promise<void> {
    if (this.#error) throw this.#error;
    if (chunk.length === 0) return;
    if (this.#padded) throw invalid();
    const text = this.#pending + chunk.toString('latin1');
    const whole = text.length - (text.length % 4);
    const groups = text.slice(0, whole);
    this.#pending = text.slice(whole);
    if (groups.length === 0) return;
    if (!BASE64_GROUPS.test(groups)) throw invalid();
    // Padding ends the data: nothing may follow it.
    if (groups.endsWith('=')) {
      this.#padded = true;
      if (this.#pending.length > 0) throw invalid();
    }
    const bytes = Buffer.from(groups, 'base64');
    this.#size += bytes.length;
    // events.once rejects on 'error' and removes its listeners: no listener piles up per wait.
    if (!this.#out.write(bytes)) await once(this.#out, 'drain');
  }

  async end(): Promise<void> {
    if (this.#pending.length !== 0) throw invalid();
    await new Promise<void>((resolve, reject) => {
      this.#out.end((err?: Error | null) => {
        const failure = err ?? this.#error;
        if (failure) reject(failure);
        else resolve();
      });
    });
  }

  /**
   * Stops writing; settles once the file is closed. The stream opens its file asynchronously: a
   * removal before that open settled found nothing, and the open then left the file behind after
   * the refusal had been answered.
   */
  async destroy(): Promise<void> {
    if (this.#out.closed) return;
    const closed = new Promise<void>((resolve) => {
      this.#out.once('close', () => {
        resolve();
      });
    });
    this.#out.destroy();
    await closed;
  }
}

function invalid(): RegistryError {
  return new RegistryError('BAD_REQUEST', 'attachment data is not valid base64');
}

/**
 * Scans `body` (raw JSON bytes, any chunking); spool files are created with `spoolPath()`, at
 * most one per attachment. Throws 413 past `maxBytes` or `PUBLISH_LIMITS.keptBytes`, 400 on bad
 * JSON/base64 or any other `PUBLISH_LIMITS` bound, as soon as the offending byte arrives; every
 * spool created so far is removed before it throws.
 */
export async function scanPublishBody(
  body: AsyncIterable<Buffer | string>,
  spoolPath: () => Promise<string>,
  maxBytes: number,
): Promise<ScannedBody> {
  const kept: Buffer[] = [];
  let keptBytes = 0;
  const spools = new Map<string, SpooledAttachment>();
  const paths: string[] = [];
  const cleanup = async () => {
    await Promise.all(paths.map((p) => fs.rm(p, { force: true })));
  };
  const stack: Frame[] = [];
  let inString = false;
  let escaped = false;
  let stringIsKey = false;
  let keyBytes: number[] = [];
  let spool: Base64Spool | undefined;
  let spoolId = '';
  let total = 0;
  let values = 0;
  let attachmentCount = 0;
  let versionCount = 0;

  const keep = (buffer: Buffer) => {
    keptBytes += buffer.length;
    if (keptBytes > PUBLISH_LIMITS.keptBytes) {
      throw new RegistryError(
        'TOO_LARGE',
        `publish metadata (outside attachments) exceeds ${PUBLISH_LIMITS.keptBytes} bytes`,
      );
    }
    kept.push(buffer);
  };

  const countValue = () => {
    values++;
    if (values > PUBLISH_LIMITS.values) {
      throw new RegistryError(
        'BAD_REQUEST',
        `publish body has more than ${PUBLISH_LIMITS.values} JSON values`,
      );
    }
  };

  // Counted as each key completes, so the entry past a bound is refused before its value is read.
  const countEntry = (rootKey: string | undefined) => {
    if (rootKey === '_attachments') {
      attachmentCount++;
      if (attachmentCount > PUBLISH_LIMITS.attachments) {
        throw new RegistryError(
          'BAD_REQUEST',
          `publish body has more than ${PUBLISH_LIMITS.attachments} attachments (one tarball per version)`,
        );
      }
    } else if (rootKey === 'versions') {
      versionCount++;
      if (versionCount > PUBLISH_LIMITS.versions) {
        throw new RegistryError(
          'BAD_REQUEST',
          `packument body has more than ${PUBLISH_LIMITS.versions} versions`,
        );
      }
    } else {
      return;
    }
    if (attachmentCount > 0 && versionCount > PUBLISH_LIMITS.attachments) {
      throw new RegistryError(
        'BAD_REQUEST',
        `a publish carries at most ${PUBLISH_LIMITS.attachments} versions (one per attachment)`,
      );
    }
  };

  try {
    for await (const raw of body) {
      const chunk = typeof raw === 'string' ? Buffer.from(raw) : raw;
      total += chunk.length;
      if (total > maxBytes) {
        throw new RegistryError('TOO_LARGE', `request body exceeds the limit of ${maxBytes} bytes`);
      }
      let segmentStart = 0;
      for (let i = 0; i < chunk.length; i++) {
        const byte = chunk[i] ?? 0;
        if (inString) {
          if (spool) {
            if (byte === QUOTE) {
              await spool.write(chunk.subarray(segmentStart, i));
              await spool.end();
              spools.set(spoolId, { path: spool.path, size: spool.size });
              spool = undefined;
              inString = false;
              segmentStart = i; // the closing quote is kept
            } else if (byte === BACKSLASH) {
              throw invalid();
            }
            continue;
          }
          if (escaped) {
            escaped = false;
            if (stringIsKey) keyBytes.push(byte);
            continue;
          }
          if (byte === BACKSLASH) {
            escaped = true;
            if (stringIsKey) keyBytes.push(byte);
            continue;
          }
          if (byte === QUOTE) {
            inString = false;
            if (stringIsKey) {
              const frame = stack.at(-1);
              if (frame) frame.key = decodeKey(keyBytes);
              keyBytes = [];
              if (stack.length === 2 && stack[0]?.kind === 'object') countEntry(stack[0].key);
            }
            continue;
          }
          if (stringIsKey) {
            keyBytes.push(byte);
            if (keyBytes.length > PUBLISH_LIMITS.keyBytes) {
              throw new RegistryError(
                'BAD_REQUEST',
                `JSON key longer than ${PUBLISH_LIMITS.keyBytes} bytes`,
              );
            }
          }
          continue;
        }
        switch (byte) {
          case QUOTE: {
            inString = true;
            const frame = stack.at(-1);
            stringIsKey = frame?.kind === 'object' && frame.expectKey;
            if (!stringIsKey && isAttachmentData(stack)) {
              // One spool per attachment entry: a repeated `data` key must not open more files.
              if (paths.length >= attachmentCount) {
                throw new RegistryError('BAD_REQUEST', 'an attachment has more than one data key');
              }
              // Keep `"` + placeholder; route the base64 to a spool file.
              keep(chunk.subarray(segmentStart, i + 1));
              const path = await spoolPath();
              paths.push(path);
              spoolId = `${SPOOL_PLACEHOLDER}${paths.length - 1}`;
              keep(Buffer.from(spoolId));
              spool = new Base64Spool(path);
              segmentStart = i + 1;
            }
            break;
          }
          case 0x7b: // {
          case 0x5b: // [
            if (stack.length >= PUBLISH_LIMITS.depth) {
              throw new RegistryError(
                'BAD_REQUEST',
                `JSON nested deeper than ${PUBLISH_LIMITS.depth} levels`,
              );
            }
            countValue();
            stack.push({
              kind: byte === 0x7b ? 'object' : 'array',
              key: undefined,
              expectKey: byte === 0x7b,
            });
            break;
          case 0x7d: // }
          case 0x5d: // ]
            stack.pop();
            break;
          case 0x3a: // :
            {
              const top = stack.at(-1);
              if (top?.kind === 'object') top.expectKey = false;
            }
            break;
          case 0x2c: // ,
            {
              countValue();
              const top = stack.at(-1);
              if (top?.kind === 'object') top.expectKey = true;
            }
            break;
          default:
            break;
        }
      }
      if (spool) await spool.write(chunk.subarray(segmentStart));
      else keep(chunk.subarray(segmentStart));
    }
    if (spool || inString) throw new RegistryError('BAD_REQUEST', 'request body is not valid JSON');
  } catch (err) {
    await spool?.destroy();
    await cleanup();
    throw err;
  }
  return { text: Buffer.concat(kept).toString('utf8'), spools, cleanup };
}

/** True when a string value starting now sits at `_attachments.<file>.data`. */
function isAttachmentData(stack: readonly Frame[]): boolean {
  return (
    stack.length === 3 &&
    stack[0]?.kind === 'object' &&
    stack[0].key === '_attachments' &&
    stack[1]?.kind === 'object' &&
    stack[2]?.kind === 'object' &&
    stack[2].key === 'data'
  );
}

function decodeKey(bytes: readonly number[]): string {
  try {
    return JSON.parse(`"${Buffer.from(bytes).toString('utf8')}"`) as string;
  } catch {
    throw new RegistryError('BAD_REQUEST', 'request body is not valid JSON');
  }
}

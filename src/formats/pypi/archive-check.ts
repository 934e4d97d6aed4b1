/**
 * Whether an uploaded distribution is a readable archive, read once from its spool file before
 * anything is stored: a truncated or corrupt sdist or wheel would otherwise be served to every
 * pip that asks, which fails on it at install time. What Warehouse checks at upload
 * (`_is_valid_dist_file`), and a little more, since a whole read costs little more than its
 * walk of the archive:
 *
 * - `.tar.gz` (sdist): gunzip (its CRC-32 and length trailer) and tar-stream (header checksums,
 *   an entry cut short) to the end, every entry drained; at least one entry.
 * - `.zip` (wheel, zip sdist): yauzl over the central directory, every entry inflated (stored or
 *   deflate only, Warehouse's "Invalid compression") with its declared sizes enforced and its
 *   CRC-32 compared; at least one entry.
 *
 * Bounded whatever the archive claims: decompressed bytes at most
 * max(64 MiB, 50 × the file's size) (Warehouse's "compression ratio of 50", past 64 MiB), entries
 * at most MAX_ENTRIES; memory is a few zlib windows (nothing is kept). Errors are BAD_REQUEST
 * RegistryErrors with a one-line message (`invalid sdist: …` / `invalid wheel: …`), which the
 * routes send as the body and the reason phrase twine shows.
 */
import { createReadStream } from 'node:fs';
import { Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip, crc32 } from 'node:zlib';
import tar from 'tar-stream';
import yauzl from 'yauzl';
import { RegistryError } from '../../core/errors.ts';

/** Decompressed bytes always allowed, whatever the ratio (Warehouse: 64 MiB). */
export const RATIO_FREE_BYTES = 64 * 1024 * 1024;
/** Decompressed bytes per archive byte past RATIO_FREE_BYTES (Warehouse: 50). */
export const MAX_RATIO = 50;
/** Real distributions have at most tens of thousands of files. */
export const MAX_ENTRIES = 200_000;

export type ArchiveKind = 'sdist' | 'wheel';

/** Decompressed bytes a `size`-byte archive may hold. */
export function unpackedLimit(size: number): number {
  return Math.max(RATIO_FREE_BYTES, size * MAX_RATIO);
}

function invalid(kind: ArchiveKind, message: string): RegistryError {
  return new RegistryError('BAD_REQUEST', `invalid ${kind}: ${message}`.replace(/\s+/g, ' '));
}

function ratioError(kind: ArchiveKind, filename: string): RegistryError {
  return invalid(kind, `${filename} exceeds a compression ratio of ${MAX_RATIO}`);
}

/** A storage error (EIO, ENOENT of the spool) stays a local failure; the rest is the archive's. */
function asInvalid(err: unknown, kind: ArchiveKind, filename: string, what: string): unknown {
  if (err instanceof RegistryError) return err;
  if (err instanceof Error && 'syscall' in err) return err;
  const reason = err instanceof Error ? err.message : String(err);
  return invalid(kind, `${filename} is not a readable ${what} (${reason.slice(0, 160)})`);
}

/**
 * Reads the `.tar.gz` at `path` (`size` bytes) to its end. Throws BAD_REQUEST when it is not a
 * gzip stream, is truncated or corrupt, is not a tar, holds no entry, or inflates past
 * unpackedLimit(size).
 */
export async function checkTarGz(
  path: string,
  size: number,
  filename: string,
  kind: ArchiveKind = 'sdist',
): Promise<void> {
  const limit = unpackedLimit(size);
  let unpacked = 0;
  const count = new Transform({
    transform(chunk: Buffer, _encoding, done: TransformCallback) {
      unpacked += chunk.length;
      if (unpacked > limit) done(ratioError(kind, filename));
      else done(null, chunk);
    },
  });
  const extract = tar.extract();
  let entries = 0;
  const walk = (async () => {
    for await (const entry of extract) {
      if (++entries > MAX_ENTRIES) {
        throw invalid(kind, `${filename} has more than ${MAX_ENTRIES} entries`);
      }
      entry.resume();
    }
  })();
  try {
    await Promise.all([pipeline(createReadStream(path), createGunzip(), count, extract), walk]);
  } catch (err) {
    extract.destroy();
    await walk.catch(() => undefined);
    throw asInvalid(err, kind, filename, '.tar.gz archive');
  }
  if (entries === 0) throw invalid(kind, `${filename} is an empty archive`);
}

/**
 * Reads every entry of the zip at `path` (`size` bytes). Throws BAD_REQUEST when it has no
 * readable central directory, an entry with another compression than stored/deflate, an entry
 * whose data is cut short, inflates to another size than declared or fails its CRC-32, no
 * entry at all, or declares more than unpackedLimit(size) bytes in all.
 */
export async function checkZip(
  path: string,
  size: number,
  filename: string,
  kind: ArchiveKind,
): Promise<void> {
  const limit = unpackedLimit(size);
  let zip: yauzl.ZipFile;
  try {
    zip = await yauzl.openPromise(path, {
      lazyEntries: true,
      autoClose: false,
      strictFileNames: false,
      validateEntrySizes: true,
    });
  } catch (err) {
    throw asInvalid(err, kind, filename, 'zip archive');
  }
  try {
    if (zip.entryCount > MAX_ENTRIES) {
      throw invalid(kind, `${filename} has more than ${MAX_ENTRIES} entries`);
    }
    if (zip.entryCount === 0) throw invalid(kind, `${filename} is an empty archive`);
    let declared = 0;
    for await (const entry of zip.eachEntry()) {
      // Declared sizes are enforced while inflating (validateEntrySizes): their sum bounds the work.
      declared += entry.uncompressedSize;
      if (declared > limit) throw ratioError(kind, filename);
      if (entry.compressionMethod !== 0 && entry.compressionMethod !== 8) {
        throw invalid(
          kind,
          `${filename}: ${entry.fileName.slice(0, 100)} uses compression method ${entry.compressionMethod} (stored or deflate only)`,
        );
      }
      if (entry.fileName.endsWith('/') && entry.uncompressedSize === 0) continue;
      const stream = await zip.openReadStreamPromise(entry);
      let crc = 0;
      for await (const chunk of stream as AsyncIterable<Buffer>) crc = crc32(chunk, crc);
      if (crc >>> 0 !== entry.crc32 >>> 0) {
        throw invalid(kind, `${filename}: ${entry.fileName.slice(0, 100)} fails its CRC-32`);
      }
    }
  } catch (err) {
    throw asInvalid(err, kind, filename, 'zip archive');
  } finally {
    zip.close();
  }
}

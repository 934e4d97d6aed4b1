/**
 * PEP 658: a wheel's core metadata file (`<name>-<version>.dist-info/METADATA`), read out of the
 * zip through ranged reads (local spool file, blob store, or an upstream's HTTP ranges), so only
 * the central directory and one entry are touched. Bounded whatever the archive claims: the
 * number of entries scanned, the entry's declared and actual size, its compression ratio.
 */
import yauzl from 'yauzl';
import { RegistryError } from '../../core/errors.ts';
import { readAllBounded } from '../../core/streams.ts';
import { RangeReader, type RangeOpener } from '../../core/zip-range.ts';
import { normalizeProjectName } from './names.ts';

export type { RangeOpener } from '../../core/zip-range.ts';

/** Larger METADATA files do not exist in practice (the biggest real ones are ~1 MB of README). */
export const MAX_CORE_METADATA_BYTES = 16 * 1024 * 1024;
/** Real wheels have at most tens of thousands of files. */
const MAX_ENTRIES = 200_000;
/** Deflate tops out near 1032:1; anything beyond is a bomb. */
const MAX_RATIO = 1100;

function invalidWheel(message: string): RegistryError {
  return new RegistryError('BAD_REQUEST', `invalid wheel: ${message}`);
}

/**
 * The METADATA file of the wheel `filename` (`{name}-{version}-….whl`), `size` bytes long,
 * read through `open`. Throws BAD_REQUEST (400) for a file that is not a zip, has no
 * `.dist-info/METADATA` for its name and version, or whose METADATA is oversized or a bomb.
 * Errors from `open` itself (storage, upstream) propagate unchanged.
 */
export async function readWheelCoreMetadata(
  filename: string,
  size: number,
  open: RangeOpener,
): Promise<Buffer> {
  const [name = '', version = ''] = filename.split('-');
  const wanted = `${normalizeProjectName(name)}-${version.toLowerCase()}.dist-info/metadata`;
  let zip: yauzl.ZipFile;
  try {
    zip = await yauzl.fromRandomAccessReaderPromise(new RangeReader(open), size, {
      lazyEntries: true,
      autoClose: false,
      strictFileNames: false,
      validateEntrySizes: true,
    });
  } catch (err) {
    throw zipError(err);
  }
  try {
    if (zip.entryCount > MAX_ENTRIES) throw invalidWheel(`more than ${MAX_ENTRIES} entries`);
    let seen = 0;
    for await (const entry of zip.eachEntry()) {
      if (++seen > MAX_ENTRIES) throw invalidWheel(`more than ${MAX_ENTRIES} entries`);
      if (!isMetadataEntry(entry.fileName, wanted)) continue;
      return await readEntry(zip, entry);
    }
    throw invalidWheel(`no ${name}-${version}.dist-info/METADATA in ${filename}`);
  } catch (err) {
    throw zipError(err);
  } finally {
    zip.close();
  }
}

/** `Foo_Bar-1.0.dist-info/METADATA` matches `foo-bar-1.0.dist-info/metadata`. */
function isMetadataEntry(fileName: string, wanted: string): boolean {
  const slash = fileName.indexOf('/');
  if (slash < 0 || fileName.slice(slash + 1) !== 'METADATA') return false;
  const dir = fileName.slice(0, slash);
  const dash = dir.indexOf('-');
  if (dash < 0) return false;
  return (
    `${normalizeProjectName(dir.slice(0, dash))}${dir.slice(dash).toLowerCase()}/metadata` ===
    wanted
  );
}

async function readEntry(zip: yauzl.ZipFile, entry: yauzl.Entry): Promise<Buffer> {
  if (entry.uncompressedSize > MAX_CORE_METADATA_BYTES) {
    throw invalidWheel(
      `METADATA is ${entry.uncompressedSize} bytes (limit ${MAX_CORE_METADATA_BYTES})`,
    );
  }
  if (entry.compressedSize > 0 && entry.uncompressedSize / entry.compressedSize > MAX_RATIO) {
    throw invalidWheel('METADATA compression ratio is that of a zip bomb');
  }
  const stream = await zip.openReadStreamPromise(entry);
  // validateEntrySizes makes yauzl fail a stream that inflates past its declared size.
  return readAllBounded(stream, MAX_CORE_METADATA_BYTES);
}

function zipError(err: unknown): unknown {
  if (err instanceof RegistryError) return err;
  // yauzl's own errors are about the archive's structure: the client's fault, said plainly.
  if (err instanceof Error && !('code' in err)) return invalidWheel(err.message);
  return err;
}

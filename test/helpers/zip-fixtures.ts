/**
 * Small real zips for tests of archive uploads (Maven refuses a `.jar`/`.war`/… that does not end
 * with its own zip end record: src/formats/maven/zip-end.ts). Not for tests of zip contents.
 */
import { randomBytes } from 'node:crypto';
import { makeZip } from '../integration/pypi/fixtures.ts';

/** Bytes a one-entry stored zip adds around its data (entry name `x`: headers 30 + 46, end 22). */
const ONE_ENTRY_OVERHEAD = 30 + 1 + 46 + 1 + 22;

/**
 * A real zip of exactly `size` bytes (at least 100): one stored entry `x` of random bytes, so it
 * starts with `PK\x03\x04` and ends with its own end record. Throws RangeError below 100.
 */
export function zipLike(size: number): Buffer {
  if (size < ONE_ENTRY_OVERHEAD)
    throw new RangeError(`a zip is at least ${ONE_ENTRY_OVERHEAD} bytes`);
  const zip = makeZip([{ name: 'x', data: randomBytes(size - ONE_ENTRY_OVERHEAD), store: true }]);
  if (zip.length !== size) throw new RangeError(`makeZip wrote ${zip.length} bytes, not ${size}`);
  return zip;
}

/**
 * An empty zip whose end record's comment is `text`: a `.jar` a test can tell by its text, as a
 * string. ASCII under 128 characters (its length is one byte, the same in UTF-8); throws
 * RangeError otherwise.
 */
export function emptyJar(text: string): string {
  if (Buffer.byteLength(text) !== text.length || text.length >= 128)
    throw new RangeError(`emptyJar takes ASCII under 128 characters: ${text}`);
  return `PK\x05\x06${'\0'.repeat(16)}${String.fromCharCode(text.length)}\0${text}`;
}

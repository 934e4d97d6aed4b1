/**
 * Small real zips for tests of archive uploads (Maven refuses a `.jar`/`.war`/… that does not end
 * with its own zip end record: src/formats/maven/zip-end.ts). Not for tests of zip contents.
 */
import { randomBytes } from 'node:crypto';
import { crc32 } from 'node:zlib';

/** Bytes a one-entry stored zip adds around its data (entry name `x`). */
const ONE_ENTRY_OVERHEAD = 30 + 1 + 46 + 1 + 22;

/**
 * A real zip of exactly `size` bytes (at least 100): one stored entry `x` of random bytes, so it
 * starts with `PK\x03\x04` and ends with its own end record. Throws RangeError below 100.
 */
export function zipLike(size: number): Buffer {
  if (size < ONE_ENTRY_OVERHEAD)
    throw new RangeError(`a zip is at least ${ONE_ENTRY_OVERHEAD} bytes`);
  const data = randomBytes(size - ONE_ENTRY_OVERHEAD);
  const crc = crc32(data);
  const local = Buffer.alloc(31);
  local.writeUInt32LE(0x04034b50, 0);
  local.writeUInt16LE(10, 4);
  local.writeUInt32LE(crc, 14);
  local.writeUInt32LE(data.length, 18);
  local.writeUInt32LE(data.length, 22);
  local.writeUInt16LE(1, 26);
  local.write('x', 30);
  const central = Buffer.alloc(47);
  central.writeUInt32LE(0x02014b50, 0);
  central.writeUInt16LE(10, 4);
  central.writeUInt16LE(10, 6);
  central.writeUInt32LE(crc, 16);
  central.writeUInt32LE(data.length, 20);
  central.writeUInt32LE(data.length, 24);
  central.writeUInt16LE(1, 28);
  central.write('x', 46);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(1, 8);
  end.writeUInt16LE(1, 10);
  end.writeUInt32LE(central.length, 12);
  end.writeUInt32LE(local.length + data.length, 16);
  return Buffer.concat([local, data, central, end]);
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

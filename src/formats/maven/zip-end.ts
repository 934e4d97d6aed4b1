/**
 * The zip end-of-central-directory check Maven applies to archives (`.jar`, `.war`, …) it did not
 * build: a deployed file (hosted.ts) and an upstream's file that no checksum verifies (proxy.ts).
 * Every zip ends with this record, the empty zip included; a truncated archive, an error page or
 * `PK\x03\x04` followed by garbage does not (APPNOTE.TXT 4.3.16).
 *
 * A signature near the end is not enough (trial 20 fmts F1): an archive that stores other
 * archives uncompressed (a Spring Boot fat jar, an EAR) holds their end records too, so a copy
 * cut short within 64 KiB after a nested jar ends would pass, and Java, which searches back for
 * the signature, would then read the nested jar as the whole file. The record must be the file's
 * own: its central directory ends where the record (or its zip64 record) starts, at the offset
 * it gives from the archive's start, and that start is the file's (a nested jar's record places
 * it at the nested jar) or, after a launch script, the record's comment ends the file.
 */

/** The end record's signature, `PK\x05\x06`. */
const ZIP_END_RECORD = Buffer.from([0x50, 0x4b, 0x05, 0x06]);
/** The zip64 end record's signature, `PK\x06\x06` (APPNOTE 4.3.14). */
const ZIP64_END_RECORD = Buffer.from([0x50, 0x4b, 0x06, 0x06]);
/** The zip64 end locator's signature, `PK\x06\x07` (APPNOTE 4.3.15): 20 bytes before the end record. */
const ZIP64_LOCATOR = Buffer.from([0x50, 0x4b, 0x06, 0x07]);
const ZIP64_LOCATOR_BYTES = 20;
/** A zip64 end record's length without its extensible data (APPNOTE 4.3.14). */
const ZIP64_END_BYTES = 56;
/** A central directory file header's signature, `PK\x01\x02`. */
const CENTRAL_HEADER = Buffer.from([0x50, 0x4b, 0x01, 0x02]);
/** A central directory file header's fixed length (APPNOTE 4.3.12); its local header offset is at 42. */
const CENTRAL_HEADER_BYTES = 46;
/** A local file header's signature, `PK\x03\x04`: how a zip's first entry starts. */
const LOCAL_HEADER = Buffer.from([0x50, 0x4b, 0x03, 0x04]);

/** The record's fixed length; a comment of up to 64 KiB - 1 may follow it. */
export const ZIP_END_BYTES = 22;
/** How many of a file's last bytes may hold its end record (22 + the longest comment). */
export const ZIP_END_WINDOW = ZIP_END_BYTES + 0xffff;

/**
 * How many of a file's first bytes a caller should pass as `head`: a launch script (Spring
 * Boot's is about 10 KiB) and the zip entry that follows it fit, so a prefix that holds a zip
 * entry of its own shows (hasWholeZipEnd). It is no bound of the check itself: the end record
 * says where the archive starts, so the prefix to search is exactly the bytes before that; a
 * caller that can read further passes `firstEntry` (ZipEntryScanner) for a longer prefix.
 */
export const ZIP_PREFIX_SCAN = 64 * 1024;

/** A file's ends, as both callers have them: never the whole file. */
export interface ZipEnds {
  /**
   * The file's first min(size, ZIP_PREFIX_SCAN) bytes (fewer judge less: 4 tell a file that
   * starts with a zip entry; empty when the file is).
   */
  readonly head: Uint8Array;
  /** The file's last min(size, ZIP_END_WINDOW) bytes at least; more are allowed. */
  readonly tail: Uint8Array;
  /** The file's length, bytes. */
  readonly size: number;
  /**
   * Where the file's first zip entry (`PK\x03\x04`) is, found by a search of its first `scanned`
   * bytes (`at` -1: none there), when the caller searched further than `head` (ZipEntryScanner).
   * Without it, `head` is that search.
   */
  readonly firstEntry?: { readonly at: number; readonly scanned: number } | undefined;
}

/**
 * Whether a file whose ends are `ends` closes with its own zip end record: a `PK\x05\x06` record
 * in the last ZIP_END_WINDOW bytes whose comment fits in the file, whose central directory (its
 * size and offset, or those of the zip64 record the locator before it points at) ends where that
 * record starts and starts after the archive's start, and begins with a central header when it
 * lies within `tail`, whose first entry's local header is one when `head` reaches it. The archive starts the file, then bytes may follow the comment (a padded
 * zip, which Java reads); or it starts after a prefix (a launch script: Spring Boot's "fully
 * executable" jar), then its comment must end the file, the archive must hold entries, the
 * first where it starts when `head` reaches that far (junk followed by an empty archive's record
 * is no jar), and the prefix, as far as `head` shows it, must hold no zip entry (`PK\x03\x04`)
 * of its own: a file whose first entry comes before the archive its end record describes is a
 * cut copy of an archive holding another, with or without a launch script before it.
 * Candidates are tried from
 * the last signature back, as a reader searches. Throws nothing; false for a tail shorter than
 * asked.
 */
export function hasWholeZipEnd(ends: ZipEnds): boolean {
  const { size } = ends;
  if (size < ZIP_END_BYTES || ends.tail.length < Math.min(size, ZIP_END_WINDOW)) return false;
  const tail = Buffer.from(
    ends.tail.buffer,
    ends.tail.byteOffset + Math.max(0, ends.tail.length - size),
    Math.min(ends.tail.length, size),
  );
  const tailStart = size - tail.length;
  const floor = Math.max(0, tail.length - ZIP_END_WINDOW);
  const head = Buffer.from(ends.head.buffer, ends.head.byteOffset, ends.head.length);
  const firstEntry = ends.firstEntry ?? { at: firstZipEntryAt(head), scanned: head.length };
  for (
    let at = tail.lastIndexOf(ZIP_END_RECORD, tail.length - ZIP_END_BYTES);
    at >= floor;
    at = at === 0 ? -1 : tail.lastIndexOf(ZIP_END_RECORD, at - 1)
  ) {
    if (isOwnEndRecord(tail, tailStart, at, size, head, firstEntry)) return true;
  }
  return false;
}

/** Whether the end record at `tail[at]` (file offset tailStart + at) is the file's own. */
function isOwnEndRecord(
  tail: Buffer,
  tailStart: number,
  at: number,
  size: number,
  head: Buffer,
  firstEntry: { readonly at: number; readonly scanned: number },
): boolean {
  const firstEntryAt = firstEntry.at;
  const recordAt = tailStart + at;
  const commentEnd = recordAt + ZIP_END_BYTES + tail.readUInt16LE(at + 20);
  if (commentEnd > size) return false;
  let entries = tail.readUInt16LE(at + 10);
  let directorySize = tail.readUInt32LE(at + 12);
  let directoryOffset = tail.readUInt32LE(at + 16);
  // Where the central directory must end: the end record, or the zip64 record before it.
  let directoryEnd = recordAt;
  if (entries === 0xffff || directorySize === 0xffffffff || directoryOffset === 0xffffffff) {
    const zip64 = zip64Directory(tail, at);
    if (zip64 === undefined) return false;
    ({ entries, directorySize, directoryOffset } = zip64);
    directoryEnd = tailStart + zip64.recordAt;
    if (directoryEnd - zip64.recordOffset !== directoryEnd - directorySize - directoryOffset)
      return false;
  }
  const archiveStart = directoryEnd - directorySize - directoryOffset;
  if (archiveStart < 0) return false;
  // Bytes after the comment are taken from an archive that starts the file (Java reads such a
  // padded zip), not from one after a prefix: that is how a cut copy of a fat jar behind a
  // launch script looks. A prefix holding a zip entry is the outer archive of a nested jar
  // (a launch script is text), even when the cut falls exactly at the nested record's end.
  if (archiveStart > 0) {
    if (commentEnd !== size) return false;
    if (firstEntryAt >= 0 && firstEntryAt < archiveStart) return false;
    // After a prefix the archive must be one: entries, the first of them where the archive
    // starts. Any text followed by an empty archive's 22-byte record is no jar (trial 21 fmts F1).
    if (entries === 0) return false;
    if (archiveStart < firstEntry.scanned && firstEntryAt !== archiveStart) return false;
  }
  const directoryAt = directoryEnd - directorySize - tailStart;
  if (entries === 0 || directoryAt < 0) return true;
  if (!startsWith(tail, directoryAt, CENTRAL_HEADER)) return false;
  // The first entry's local header, where its central header says (relative to the archive's
  // start), must be one when head reaches it: `XX` in place of a jar's first `PK` leaves the
  // record whole, but Java fails on that entry ("invalid LOC header").
  if (directoryAt + CENTRAL_HEADER_BYTES > tail.length) return true;
  const localOffset = tail.readUInt32LE(directoryAt + 42);
  if (localOffset === 0xffffffff) return true;
  const localAt = archiveStart + localOffset;
  return localAt + LOCAL_HEADER.length > head.length || startsWith(head, localAt, LOCAL_HEADER);
}

/**
 * The zip64 end record an end record at `tail[at]` refers to: its locator must sit just before
 * the end record, and the record just before the locator (its extensible data included, read
 * from its own size field) within `tail`. Undefined when either is missing.
 */
function zip64Directory(
  tail: Buffer,
  at: number,
):
  | {
      entries: number;
      directorySize: number;
      directoryOffset: number;
      recordAt: number;
      recordOffset: number;
    }
  | undefined {
  const locatorAt = at - ZIP64_LOCATOR_BYTES;
  if (locatorAt < ZIP64_END_BYTES || !startsWith(tail, locatorAt, ZIP64_LOCATOR)) return undefined;
  for (
    let recordAt = tail.lastIndexOf(ZIP64_END_RECORD, locatorAt - ZIP64_END_BYTES);
    recordAt >= 0;
    recordAt = recordAt === 0 ? -1 : tail.lastIndexOf(ZIP64_END_RECORD, recordAt - 1)
  ) {
    if (Number(tail.readBigUInt64LE(recordAt + 4)) + 12 !== locatorAt - recordAt) continue;
    return {
      entries: Number(tail.readBigUInt64LE(recordAt + 32)),
      directorySize: Number(tail.readBigUInt64LE(recordAt + 40)),
      directoryOffset: Number(tail.readBigUInt64LE(recordAt + 48)),
      recordAt,
      recordOffset: Number(tail.readBigUInt64LE(locatorAt + 8)),
    };
  }
  return undefined;
}

function startsWith(bytes: Uint8Array, at: number, signature: Buffer): boolean {
  if (at < 0 || at + signature.length > bytes.length) return false;
  for (let i = 0; i < signature.length; i += 1) {
    if (bytes[at + i] !== signature[i]) return false;
  }
  return true;
}

/** Where a file whose first bytes are `head` has its first zip entry (`PK\x03\x04`); -1: not within head. */
export function firstZipEntryAt(head: Uint8Array): number {
  return Buffer.from(head.buffer, head.byteOffset, head.length).indexOf(LOCAL_HEADER);
}

/** Whether a body's first bytes are a zip's (`PK`: a local file header, or an empty archive's end record); only for messages. */
export function startsLikeZip(head: Uint8Array): boolean {
  return head[0] === 0x50 && head[1] === 0x4b;
}

/**
 * Finds a file's first zip entry (`PK\x03\x04`) in its bytes pushed in order, chunk by chunk
 * (a signature split between two chunks is found), holding 3 bytes between chunks: memory is
 * constant whatever the length searched. `found` is its offset once seen (-1 until then),
 * `scanned` how many bytes were searched; `hasWholeZipEnd`'s `firstEntry` is `{ at: found,
 * scanned }`.
 */
export class ZipEntryScanner {
  #carry: Buffer = Buffer.alloc(0);
  #scanned: number;
  #found = -1;

  /** `from`: the file offset of the first byte pushed. */
  constructor(from = 0) {
    this.#scanned = from;
  }

  get found(): number {
    return this.#found;
  }

  get scanned(): number {
    return this.#scanned;
  }

  /** Searches the next bytes; true once the entry is found (later pushes are ignored). */
  push(chunk: Uint8Array): boolean {
    if (this.#found >= 0) return true;
    const bytes = Buffer.concat([this.#carry, chunk]);
    const start = this.#scanned - this.#carry.length;
    const at = bytes.indexOf(LOCAL_HEADER);
    this.#scanned += chunk.length;
    if (at >= 0) {
      this.#found = start + at;
      return true;
    }
    this.#carry = Buffer.from(
      bytes.subarray(Math.max(0, bytes.length - (LOCAL_HEADER.length - 1))),
    );
    return false;
  }
}

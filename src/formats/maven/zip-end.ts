/**
 * The zip end-of-central-directory check Maven applies to archives (`.jar`, `.war`, …) it did not
 * build: a deployed file (hosted.ts) and an upstream's file that no checksum verifies (proxy.ts).
 * Every zip ends with this record, the empty zip included; a truncated archive, an error page or
 * `PK\x03\x04` followed by garbage does not (APPNOTE.TXT 4.3.16).
 */

/** The record's signature, `PK\x05\x06`. */
const ZIP_END_RECORD = Buffer.from([0x50, 0x4b, 0x05, 0x06]);
/** The record's fixed length; a comment of up to 64 KiB - 1 may follow it. */
export const ZIP_END_BYTES = 22;
/** How many of a file's last bytes may hold its end record (22 + the longest comment). */
export const ZIP_END_WINDOW = ZIP_END_BYTES + 0xffff;

/**
 * Whether `tail`, a file's last bytes (at least its last ZIP_END_WINDOW, or the whole file when
 * shorter; more are allowed), holds a whole end record: the signature with the record's 22 bytes
 * before the end. Only the last ZIP_END_WINDOW bytes are searched.
 */
export function hasZipEndRecord(tail: Uint8Array): boolean {
  if (tail.length < ZIP_END_BYTES) return false;
  const window = Buffer.from(
    tail.buffer,
    tail.byteOffset + Math.max(0, tail.length - ZIP_END_WINDOW),
    Math.min(tail.length, ZIP_END_WINDOW),
  );
  // The last signature that starts a whole record (searching back from 22 bytes before the end).
  return window.lastIndexOf(ZIP_END_RECORD, window.length - ZIP_END_BYTES) >= 0;
}

/** Whether a body's first bytes are a zip's (`PK`: a local file header, or an empty archive's end record); only for messages. */
export function startsLikeZip(head: Uint8Array): boolean {
  return head[0] === 0x50 && head[1] === 0x4b;
}

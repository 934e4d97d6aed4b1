/**
 * Telling a web page from an archive by its first bytes: the typical wrong upload is an error
 * page (`curl -o` of a failed download, then `curl -T` of that file), which no archive format
 * (zip: `PK`, gzip: 1f 8b) starts with.
 */

/** Bytes of a body's start `markupStart` needs (more are ignored). */
export const MARKUP_SNIFF_BYTES = 64;

/**
 * When `head` (a body's first bytes) starts with `<` after an optional UTF-8 byte order mark and
 * ASCII white space — an HTML or XML page — its start as printable ASCII (white space runs made one space, at most
 * 20 characters: `<!DOCTYPE html><html`), else undefined.
 */
export function markupStart(head: Uint8Array): string | undefined {
  let at = 0;
  if (head[0] === 0xef && head[1] === 0xbb && head[2] === 0xbf) at = 3;
  while (at < head.length && [0x09, 0x0a, 0x0d, 0x20].includes(head[at] ?? 0)) at++;
  if (head[at] !== 0x3c) return undefined;
  // A tag, a declaration or a comment: `<` then a letter, `!`, `?` or `/`, and text (no control
  // bytes) after it. Binary content may start with 0x3c too (1 archive in 256 of random bytes):
  // that is no page (a check on `<` alone refused such a .jar; the CI's random fixture found it).
  const next = head[at + 1];
  if (next !== undefined && !/[A-Za-z!?/]/.test(String.fromCharCode(next))) return undefined;
  for (let i = at; i < head.length; i++) {
    const byte = head[i] ?? 0;
    if (byte < 0x20 && byte !== 0x09 && byte !== 0x0a && byte !== 0x0d) return undefined;
    if (byte === 0x7f) return undefined;
  }
  return Buffer.from(head.subarray(at))
    .toString('latin1')
    .replace(/\s+/g, ' ')
    .replace(/[^\x20-\x7e]/g, '?')
    .slice(0, 20);
}

/**
 * HTTP `Range: bytes=…` parsing for blob downloads. One range only (what registry clients send);
 * a multi-range request is served whole, as RFC 9110 allows.
 */
export interface ByteRange {
  /** First byte, inclusive. */
  readonly start: number;
  /** Last byte, inclusive. */
  readonly end: number;
}

export type RangeResult =
  | { readonly kind: 'none' }
  | { readonly kind: 'range'; readonly range: ByteRange }
  | { readonly kind: 'unsatisfiable' };

const SINGLE_RANGE = /^bytes=(\d*)-(\d*)$/;

export function parseRange(header: string | undefined, size: number): RangeResult {
  if (header === undefined || header === '') return { kind: 'none' };
  const match = SINGLE_RANGE.exec(header.trim());
  if (!match) return { kind: 'none' };
  const [, startText = '', endText = ''] = match;
  if (startText === '' && endText === '') return { kind: 'none' };
  if (startText === '') {
    // Suffix range: the last N bytes (N past the size: all of them).
    const length = position(endText);
    if (length === 0) return { kind: 'unsatisfiable' };
    if (size === 0) return { kind: 'unsatisfiable' };
    return { kind: 'range', range: { start: Math.max(0, size - length), end: size - 1 } };
  }
  const start = position(startText);
  if (start >= size) return { kind: 'unsatisfiable' };
  let end = endText === '' ? size - 1 : position(endText);
  if (end < start) return { kind: 'unsatisfiable' };
  if (end >= size) end = size - 1;
  return { kind: 'range', range: { start, end } };
}

/**
 * A byte position's digits as a number; beyond 2^53 it is past any size we store (Infinity), so
 * `bytes=2-99999999999999999999` reads to the end as a smaller last position would (RFC 9110
 * §14.1.2: a last position past the end means the end).
 */
function position(digits: string): number {
  const value = Number(digits);
  return Number.isSafeInteger(value) ? value : Number.POSITIVE_INFINITY;
}

export function contentRangeHeader(range: ByteRange, size: number): string {
  return `bytes ${range.start}-${range.end}/${size}`;
}

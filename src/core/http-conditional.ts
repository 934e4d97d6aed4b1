/**
 * Conditional GET (RFC 9110 §13): the checks every format's cached answers share.
 */

/**
 * An entity-tag list (`If-Match`, `If-None-Match`) split at the commas outside double quotes:
 * an opaque tag may hold a `,` (RFC 9110 §8.8.3: etagc is any visible character but `"`).
 * Members are returned as written (untrimmed).
 */
export function splitEntityTags(value: string): string[] {
  const parts: string[] = [];
  let start = 0;
  let quoted = false;
  for (let i = 0; i < value.length; i++) {
    const c = value[i];
    if (c === '"') quoted = !quoted;
    else if (c === ',' && !quoted) {
      parts.push(value.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(value.slice(start));
  return parts;
}

/**
 * Does an `If-None-Match` header match `etag`? Weak comparison (§13.1.2 asks for it on GET):
 * `W/` prefixes ignored, `*` matches anything, a list matches when one member does.
 */
export function etagMatches(header: string | string[] | undefined, etag: string): boolean {
  if (header === undefined) return false;
  const bare = etag.replace(/^W\//, '');
  const values = splitEntityTags(Array.isArray(header) ? header.join(',') : header);
  return values.some((v) => {
    const tag = v.trim().replace(/^W\//, '');
    return tag === '*' || tag === bare;
  });
}

/** Recently formatted dates, by epoch second: answers of one file repeat its date. */
const httpDates = new Map<number, string>();

/**
 * The `Last-Modified` text (RFC 9110 §5.6.7 IMF-fixdate) of `ms` (epoch milliseconds) and its
 * epoch second (what If-Modified-Since compares with, see notModified). The last 256 seconds
 * asked are remembered, so an answer usually formats nothing.
 */
export function httpDate(ms: number): { readonly header: string; readonly seconds: number } {
  const seconds = Math.floor(ms / 1000);
  let header = httpDates.get(seconds);
  if (header === undefined) {
    header = new Date(seconds * 1000).toUTCString();
    if (httpDates.size >= 256) {
      const oldest = httpDates.keys().next();
      if (oldest.done !== true) httpDates.delete(oldest.value);
    }
    httpDates.set(seconds, header);
  }
  return { header, seconds };
}

/**
 * Whether a GET may be answered 304: If-None-Match decides when present (§13.2.2 step 3);
 * otherwise If-Modified-Since against `modifiedSeconds` (epoch seconds, undefined: no
 * Last-Modified, never 304 by date).
 */
export function notModified(
  ifNoneMatch: string | string[] | undefined,
  ifModifiedSince: string | undefined,
  etag: string | undefined,
  modifiedSeconds: number | undefined,
): boolean {
  if (ifNoneMatch !== undefined) return etag !== undefined && etagMatches(ifNoneMatch, etag);
  if (ifModifiedSince === undefined || modifiedSeconds === undefined) return false;
  const since = Date.parse(ifModifiedSince);
  return Number.isFinite(since) && modifiedSeconds <= Math.floor(since / 1000);
}

/**
 * Whether a Range may be honoured under `ifRange` (RFC 9110 §13.1.5), given the validators the
 * answer carries: its `ETag` and `Last-Modified` header values (undefined when it has none).
 * No If-Range: yes. An entity-tag: only the same strong tag (`W/` on either side never matches).
 * An HTTP-date: only the Last-Modified exactly, and only when that is strong, i.e. at least one
 * second before `now` (§8.8.2.2: a file may change again within the second it changed). Anything
 * else (another tag or date, a date that does not parse, several If-Range fields): no, and the
 * caller ignores the Range and sends the whole body with 200. The one If-Range rule of every
 * format (http/send-body.ts sendRanged, the OCI blob GET).
 */
export function ifRangeHolds(
  ifRange: string | string[] | undefined,
  etag: string | undefined,
  lastModified: string | undefined,
  now: number = Date.now(),
): boolean {
  if (ifRange === undefined) return true;
  if (Array.isArray(ifRange)) return false;
  const value = ifRange.trim();
  if (value.startsWith('"') || value.startsWith('W/')) {
    return etag !== undefined && !etag.startsWith('W/') && value === etag;
  }
  if (lastModified === undefined) return false;
  const when = Date.parse(value);
  const modified = Date.parse(lastModified);
  if (!Number.isFinite(when) || !Number.isFinite(modified) || when !== modified) return false;
  return modified + 1000 <= now;
}

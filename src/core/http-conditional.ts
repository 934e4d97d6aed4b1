/**
 * Conditional GET (RFC 9110 §13): the checks every format's cached answers share.
 */

/**
 * Does an `If-None-Match` header match `etag`? Weak comparison (§13.1.2 asks for it on GET):
 * `W/` prefixes ignored, `*` matches anything, a list matches when one member does.
 */
export function etagMatches(header: string | string[] | undefined, etag: string): boolean {
  if (header === undefined) return false;
  const bare = etag.replace(/^W\//, '');
  const values = (Array.isArray(header) ? header.join(',') : header).split(',');
  return values.some((v) => {
    const tag = v.trim().replace(/^W\//, '');
    return tag === '*' || tag === bare;
  });
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

/**
 * Revalidation of a cached upstream file, the same in every format: what a cached row keeps of
 * an upstream answer (its ETag in `etag`, its Last-Modified in `modifiedAt`, so an origin without
 * ETags — a plain web server, many CDNs — is still asked conditionally) and the headers that ask
 * with them. Rows stored before `modified_at` existed kept a Last-Modified as `lm:<date>` in
 * `etag`; it is still understood.
 */
import type { CachedEntry } from './state.ts';
import type { UpstreamResponse, UpstreamTarget } from './upstream-client.ts';

/** The validators to keep of `response`: its ETag and its Last-Modified (epoch ms), each when sent. */
export function validatorsOf(response: Pick<UpstreamResponse, 'header'>): {
  readonly etag: string | undefined;
  readonly modifiedAt: number | undefined;
} {
  return { etag: response.header('etag'), modifiedAt: lastModifiedHeader(response) };
}

/**
 * The `Last-Modified` of `response` as epoch ms; undefined when absent, not an HTTP date, or in
 * the future (a clock that is wrong upstream must not make a copy look newer than it is, and
 * RFC 9110 §8.8.2.1 has an origin send no such date).
 */
export function lastModifiedHeader(response: Pick<UpstreamResponse, 'header'>): number | undefined {
  const text = response.header('last-modified');
  if (text === undefined) return undefined;
  const ms = Date.parse(text);
  if (!Number.isFinite(ms) || ms > Date.now() + 60_000) return undefined;
  return ms;
}

/**
 * The conditional headers revalidating `cached` at `target`: If-None-Match with its ETag and
 * If-Modified-Since with its Last-Modified, each when kept (both when both: a server that
 * ignores one answers to the other; RFC 9110 §13.2.2 has If-None-Match win where both count).
 * None unless the copy came from that very upstream (another one's validators mean nothing
 * there).
 */
export function conditionalHeaders(
  cached: Pick<CachedEntry, 'upstream' | 'etag' | 'modifiedAt'> | undefined,
  target: Pick<UpstreamTarget, 'label'>,
): Record<string, string> {
  if (cached === undefined || cached.upstream !== target.label) return {};
  const headers: Record<string, string> = {};
  const etag = cached.etag;
  if (etag !== undefined && etag !== '') {
    if (etag.startsWith('lm:')) headers['if-modified-since'] = etag.slice(3);
    else headers['if-none-match'] = etag;
  }
  if (cached.modifiedAt !== undefined)
    headers['if-modified-since'] = new Date(cached.modifiedAt).toUTCString();
  return headers;
}

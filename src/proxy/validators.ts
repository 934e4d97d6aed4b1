/**
 * Revalidation of a cached upstream file, the same in every format: what a cached row keeps of an
 * upstream answer (its ETag, else its Last-Modified as `lm:<date>`, so an origin without ETags —
 * a plain web server — is still asked conditionally) and the header that asks with it.
 */
import type { CachedEntry } from './state.ts';
import type { UpstreamResponse, UpstreamTarget } from './upstream-client.ts';

/** The validator to keep for `response`: its ETag, else `lm:<Last-Modified>`, else none. */
export function validatorOf(response: Pick<UpstreamResponse, 'header'>): string | undefined {
  const etag = response.header('etag');
  if (etag !== undefined) return etag;
  const lastModified = response.header('last-modified');
  return lastModified === undefined ? undefined : `lm:${lastModified}`;
}

/**
 * The conditional header revalidating `cached` at `target` (If-None-Match, or If-Modified-Since
 * for an `lm:` validator); none unless the copy came from that very upstream (another one's
 * validator means nothing there) and kept a validator.
 */
export function conditionalHeaders(
  cached: Pick<CachedEntry, 'upstream' | 'etag'> | undefined,
  target: Pick<UpstreamTarget, 'label'>,
): Record<string, string> {
  const validator = cached?.upstream === target.label ? cached.etag : undefined;
  if (validator === undefined || validator === '') return {};
  return validator.startsWith('lm:')
    ? { 'if-modified-since': validator.slice(3) }
    : { 'if-none-match': validator };
}

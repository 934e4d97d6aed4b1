/**
 * Following an upstream's list pagination (RFC 8288 `Link: <…>; rel="next"`, as the OCI
 * distribution spec, Docker Hub and Quay page `tags/list`, `_catalog` and referrers). Format
 * adapters fetch the pages; this module only says where the next page is and whether it may be
 * asked for at all: a next link is followed only when it stays on the upstream's own origin and
 * under its base path, so the upstream's credentials (sent with every request to it) never go
 * anywhere else.
 */

/**
 * Bounds on one list read from an upstream across all its pages. Reaching one stops the reading:
 * what was fetched is served and the stop is logged. 100 pages of 1,000 (Distribution's largest
 * page) or 100,000 items in all, and 16 MiB of page bodies, keep one listing's memory and
 * upstream cost bounded whatever the upstream sends.
 */
export const UPSTREAM_LIST_LIMITS = {
  pages: 100,
  items: 100_000,
  bytes: 16 * 1024 * 1024,
} as const;

/** The next page as a request path for the upstream client, or why it is not followed. */
export type NextPage =
  | { readonly kind: 'none' }
  | { readonly kind: 'next'; readonly path: string }
  | { readonly kind: 'refused'; readonly reason: string };

/**
 * Reads the `rel="next"` target of a Link header value (several comma-separated links allowed)
 * and turns it into a path relative to `baseUrl` (the upstream's configured URL, which may carry
 * a path prefix), resolving a relative target against `requestUrl` (the page it came with).
 * Returns `refused` for a target on another origin or outside the base path, or one that is not
 * a URL; `none` when there is no next link.
 */
export function nextPage(
  linkHeader: string | undefined,
  requestUrl: URL,
  baseUrl: string,
): NextPage {
  const target = nextTarget(linkHeader);
  if (target === undefined) return { kind: 'none' };
  let next: URL;
  try {
    next = new URL(target, requestUrl);
  } catch {
    return { kind: 'refused', reason: 'next link is not a URL' };
  }
  const base = new URL(baseUrl);
  if (next.origin !== base.origin) {
    return { kind: 'refused', reason: 'next link points to another origin' };
  }
  const prefix = base.pathname.endsWith('/') ? base.pathname.slice(0, -1) : base.pathname;
  if (!next.pathname.startsWith(`${prefix}/`)) {
    return { kind: 'refused', reason: 'next link leaves the upstream base path' };
  }
  return { kind: 'next', path: `${next.pathname.slice(prefix.length)}${next.search}` };
}

/** The URL inside `<…>` of the first link whose rel list contains `next`. */
function nextTarget(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  // `<url>; param; param, <url>; …` — URLs are delimited by <>, so commas inside them are safe.
  const link = /<([^>]*)>([^<]*)/g;
  for (const match of header.matchAll(link)) {
    const params = match[2] ?? '';
    const rel = /;\s*rel\s*=\s*(?:"([^"]*)"|([^\s;,]+))/i.exec(params);
    const values = (rel?.[1] ?? rel?.[2] ?? '').toLowerCase().split(/\s+/);
    if (values.includes('next')) return match[1];
  }
  return undefined;
}

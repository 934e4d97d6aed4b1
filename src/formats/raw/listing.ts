/**
 * Folder listings, rendered from a RawListing page (never from storage): JSON for
 * `Accept: application/json` (or `?format=json`), else an HTML index a browser shows and
 * `wget -r -np` walks (relative links, folders with a trailing slash). Big folders are paginated:
 * `?limit=N&after=<last name>` (or an opaque `&cursor=` past entries the caller may not read,
 * see service.ts `list`), the next page named in a `Link: <…>; rel="next"` header, in the
 * JSON (`next`) and as a link at the bottom of the HTML page.
 */
import type { RawListing, RawListingEntry } from './model.ts';
import { encodePath } from './paths.ts';

export interface ListingView {
  /** The repository's name. */
  readonly repository: string;
  /** URL path of the repository's root, without a trailing slash (`/raw`, `/repository/files`). */
  readonly prefix: string;
  /** The folder (`` = root). */
  readonly dir: string;
  readonly listing: RawListing;
  readonly limit: number;
  /**
   * True when the request chose JSON by `?format=json`: the next page's URL keeps it, or a
   * client that followed `next` (or `Link`) without an Accept header would get page 2 as HTML.
   */
  readonly formatJson?: boolean;
}

/** The URL path of the next page, or undefined on the last page. */
export function nextPageUrl(view: ListingView): string | undefined {
  if (!view.listing.more) return undefined;
  const last = view.listing.entries.at(-1);
  const from =
    view.listing.cursor !== undefined
      ? { cursor: view.listing.cursor }
      : last === undefined
        ? undefined
        : { after: last.name };
  if (from === undefined) return undefined;
  const query = new URLSearchParams({
    ...(view.formatJson === true ? { format: 'json' } : {}),
    limit: String(view.limit),
    ...from,
  });
  return `${folderUrl(view)}?${query.toString()}`;
}

function folderUrl(view: ListingView): string {
  return view.dir === '' ? `${view.prefix}/` : `${view.prefix}/${encodePath(view.dir)}/`;
}

/** The JSON listing: `{repository, path, entries: [{name, type, size, modified, sha256, digest}], next}`. */
export function listingJson(view: ListingView): string {
  return JSON.stringify({
    repository: view.repository,
    path: view.dir === '' ? '/' : `/${view.dir}/`,
    entries: view.listing.entries.map((e) => entryJson(e)),
    next: nextPageUrl(view) ?? null,
  });
}

function entryJson(e: RawListingEntry): Record<string, unknown> {
  const modified = new Date(e.modifiedAt).toISOString();
  if (e.kind === 'dir') return { name: `${e.name}/`, type: 'folder', files: e.files, modified };
  return {
    name: e.name,
    type: 'file',
    size: e.size,
    modified,
    sha256: e.sha256,
    digest: e.sha256 === undefined ? undefined : `sha256:${e.sha256}`,
  };
}

/** The HTML index (relative links: wget -r -np and browsers resolve them against the folder). */
export function listingHtml(view: ListingView): string {
  const title = `Index of ${folderUrl(view)}`;
  const rows = view.listing.entries.map((e) => {
    const href = e.kind === 'dir' ? `${encodeURIComponent(e.name)}/` : encodeURIComponent(e.name);
    const label = e.kind === 'dir' ? `${e.name}/` : e.name;
    const size = e.kind === 'dir' ? '-' : String(e.size ?? '');
    const digest = e.kind === 'dir' ? '' : (e.sha256 ?? '');
    return `<tr><td><a href="${escapeHtml(href)}">${escapeHtml(label)}</a></td><td>${new Date(e.modifiedAt).toISOString()}</td><td>${size}</td><td><code>${digest}</code></td></tr>`;
  });
  const next = nextPageUrl(view);
  return [
    '<!DOCTYPE html>',
    '<html><head><meta charset="utf-8">',
    `<title>${escapeHtml(title)}</title>`,
    '<style>body{font-family:sans-serif}td{padding:0 1em 0 0}code{font-size:smaller}</style>',
    `</head><body><h1>${escapeHtml(title)}</h1>`,
    '<table><tr><th>Name</th><th>Modified</th><th>Size</th><th>sha256</th></tr>',
    view.dir === '' ? '' : '<tr><td><a href="../">../</a></td><td></td><td></td><td></td></tr>',
    ...rows,
    '</table>',
    next === undefined ? '' : `<p><a rel="next" href="${escapeHtml(next)}">next page</a></p>`,
    '</body></html>',
    '',
  ].join('\n');
}

function escapeHtml(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

/**
 * `GET /-/v1/search?text=&size=&from=` over hosted packages and the packuments proxies have
 * cached, in the registry's response shape (objects[].package, score.final/detail, searchScore,
 * total, time). Qualifiers understood: `keywords:a,b`, `scope:x`, `author:`/`maintainer:`;
 * other words must each appear in the name, keywords or description.
 */
import { RegistryError } from '../../core/errors.ts';
import { scopeOf } from './names.ts';
import type { PackageView } from './packument.ts';
import type { Json, SearchRow } from './store.ts';

const MAX_META_PEOPLE = 20;
const MAX_META_STRING = 1024;

/**
 * What a search result shows of a proxied package, from its upstream packument: `author`,
 * `maintainers` (at most 20), `publisher` (the latest version's `_npmUser`), `homepage`,
 * `repository`, `bugs` and `date` (the latest version's publish time from `time`, ISO string).
 * Strings are cut at 1 KiB so one packument cannot bloat the index.
 */
export function searchMeta(view: PackageView): Json {
  const out: Json = {};
  const meta = view.meta;
  const author = person(meta['author']);
  if (author) out['author'] = author;
  if (Array.isArray(meta['maintainers'])) {
    out['maintainers'] = meta['maintainers']
      .map(person)
      .filter((p) => p !== undefined)
      .slice(0, MAX_META_PEOPLE);
  }
  for (const field of ['homepage', 'repository', 'bugs'] as const) {
    const url = urlOf(meta[field]);
    if (url !== undefined) out[field] = url;
  }
  const latest = view.tags['latest'];
  const version = view.versions.find((v) => v.version === latest) ?? view.versions.at(-1);
  if (version) {
    const publisher = person(version.manifest['_npmUser']);
    if (publisher) out['publisher'] = publisher;
    if (version.time !== undefined && !Number.isNaN(Date.parse(version.time)))
      out['date'] = new Date(version.time).toISOString();
  }
  return out;
}

/**
 * `"Name <email> (url)"` (npm's person string, both parts optional) → its parts, trimmed name;
 * a string of any other shape is all name. One pass: the regular expression this replaces
 * backtracked cubically (`a`, a few hundred spaces, `<`: seconds per search result).
 */
export function parsePerson(value: string): { name: string; email?: string; url?: string } {
  const whole = { name: value.trim() };
  const open = value.search(/[<(]/);
  if (open === -1) return whole;
  let rest = value.slice(open);
  let email: string | undefined;
  let url: string | undefined;
  if (rest.startsWith('<')) {
    const end = rest.indexOf('>');
    if (end === -1) return whole;
    email = rest.slice(1, end);
    rest = rest.slice(end + 1).trimStart();
  }
  if (rest.startsWith('(')) {
    const end = rest.indexOf(')');
    if (end === -1) return whole;
    url = rest.slice(1, end);
    rest = rest.slice(end + 1);
  }
  if (rest.trim() !== '') return whole;
  return {
    name: value.slice(0, open).trim(),
    ...(email === undefined ? {} : { email }),
    ...(url === undefined ? {} : { url }),
  };
}

/** A person as npm writes it: `{ name, email?, url? }` or `"Name <email> (url)"`. */
function person(value: unknown): Json | undefined {
  if (typeof value === 'string') {
    const { name, email, url } = parsePerson(value);
    if (name === '') return undefined;
    return {
      name: cut(name),
      ...(email ? { email: cut(email) } : {}),
      ...(url ? { url: cut(url) } : {}),
    };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const record = value as Json;
  const name = record['name'] ?? record['username'];
  if (typeof name !== 'string' || name === '') return undefined;
  return {
    name: cut(name),
    ...(typeof record['email'] === 'string' ? { email: cut(record['email']) } : {}),
    ...(typeof record['url'] === 'string' ? { url: cut(record['url']) } : {}),
  };
}

/** `"url"` or `{ url }` → the URL, `git+` prefix dropped (what npm's search shows). */
function urlOf(value: unknown): string | undefined {
  const raw =
    typeof value === 'string'
      ? value
      : typeof value === 'object' && value !== null && typeof (value as Json)['url'] === 'string'
        ? ((value as Json)['url'] as string)
        : undefined;
  if (raw === undefined || raw === '') return undefined;
  return cut(raw.replace(/^git\+/, ''));
}

function cut(text: string): string {
  return text.slice(0, MAX_META_STRING);
}

export interface SearchQuery {
  readonly text: string;
  readonly size: number;
  readonly from: number;
}

export interface SearchResponse {
  readonly objects: unknown[];
  readonly total: number;
  readonly time: string;
}

const MAX_SIZE = 250;

export function parseSearchQuery(params: URLSearchParams): SearchQuery {
  const text = params.get('text') ?? '';
  if (text.length > 1024) throw new RegistryError('BAD_REQUEST', 'search text is too long');
  const size = intParam(params.get('size'), 20, 'size');
  const from = intParam(params.get('from'), 0, 'from');
  if (size < 1 || size > MAX_SIZE)
    throw new RegistryError('BAD_REQUEST', `size must be between 1 and ${MAX_SIZE}`);
  return { text, size, from };
}

function intParam(value: string | null, fallback: number, what: string): number {
  if (value === null || value === '') return fallback;
  if (!/^\d{1,9}$/.test(value))
    throw new RegistryError('BAD_REQUEST', `${what} must be a non-negative integer`);
  return Number(value);
}

interface Terms {
  readonly words: string[];
  readonly keywords: string[];
  readonly scope: string | undefined;
  readonly people: string[];
}

function parseTerms(text: string): Terms {
  const terms: Terms = { words: [], keywords: [], scope: undefined, people: [] };
  let scope: string | undefined;
  for (const raw of text.toLowerCase().split(/\s+/).filter(Boolean)) {
    const colon = raw.indexOf(':');
    const qualifier = colon > 0 ? raw.slice(0, colon) : '';
    const value = colon > 0 ? raw.slice(colon + 1) : raw;
    if (qualifier === 'keywords') terms.keywords.push(...value.split(',').filter(Boolean));
    else if (qualifier === 'scope') scope = value.replace(/^@/, '');
    else if (qualifier === 'author' || qualifier === 'maintainer') terms.people.push(value);
    else if (qualifier === '') terms.words.push(value);
    // Other qualifiers (is:, not:, boost-exact:) do not narrow a private registry's results.
  }
  return { ...terms, scope };
}

/** `links` of a search result: homepage, repository, bugs when the package names them. */
function links(meta: Json): Json {
  const out: Json = {};
  for (const field of ['homepage', 'repository', 'bugs'] as const) {
    const url = urlOf(meta[field]);
    if (url !== undefined) out[field] = url;
  }
  return out;
}

function people(meta: Record<string, unknown>): { username: string; email?: string }[] {
  const maintainers = meta['maintainers'];
  if (!Array.isArray(maintainers)) return [];
  return maintainers.flatMap((m: unknown) => {
    if (typeof m !== 'object' || m === null) return [];
    const record = m as Record<string, unknown>;
    const name = record['name'] ?? record['username'];
    if (typeof name !== 'string') return [];
    return [
      {
        username: name,
        ...(typeof record['email'] === 'string' ? { email: record['email'] } : {}),
      },
    ];
  });
}

/** The rows of one page of results, best first, with what the response needs besides them. */
export interface RankedSearch {
  readonly page: readonly { readonly row: SearchRow; readonly score: number }[];
  readonly best: number;
  readonly total: number;
}

/** `rankPackages` then `renderSearch` without publishers from elsewhere (proxied rows only). */
export function searchPackages(rows: readonly SearchRow[], query: SearchQuery): SearchResponse {
  return renderSearch(rankPackages(rows, query));
}

/** The rows matching `query`, scored; the page `from`/`size` asks for, and the total. */
export function rankPackages(rows: readonly SearchRow[], query: SearchQuery): RankedSearch {
  const terms = parseTerms(query.text);
  const scored: { row: SearchRow; score: number }[] = [];
  for (const row of rows) {
    const name = row.name.toLowerCase();
    const keywords = row.keywords.split(' ').filter(Boolean);
    const description = row.description.toLowerCase();
    if (terms.scope !== undefined && scopeOf(name) !== terms.scope) continue;
    if (!terms.keywords.every((k) => keywords.includes(k))) continue;
    const maintainers = people(row.meta).map((p) => p.username.toLowerCase());
    if (!terms.people.every((p) => maintainers.includes(p))) continue;
    let score = terms.keywords.length * 2;
    let matched = true;
    for (const word of terms.words) {
      if (name === word) score += 10;
      else if (name.includes(word)) score += 4;
      else if (keywords.includes(word)) score += 2;
      else if (description.includes(word)) score += 1;
      else {
        matched = false;
        break;
      }
    }
    if (matched) scored.push({ row, score });
  }
  scored.sort((a, b) => b.score - a.score || a.row.name.localeCompare(b.row.name));
  const best = Math.max(1, ...scored.map((s) => s.score));
  return { page: scored.slice(query.from, query.from + query.size), best, total: scored.length };
}

/**
 * The registry's search response for a ranked page. `publishers`: per row of the page, the
 * latest version's `_npmUser` (hosted rows: the store reads it for the page only); a proxied
 * row carries its own in `meta.publisher`. A row without one shows no publisher (never a
 * maintainer in its place: a maintainer need not be who published the latest version).
 */
export function renderSearch(
  ranked: RankedSearch,
  publishers: ReadonlyMap<SearchRow, unknown> = new Map(),
): SearchResponse {
  const objects = ranked.page.map(({ row, score }) => {
    const final = score / ranked.best;
    const maintainers = people(row.meta);
    const publisher = people({
      maintainers: [publishers.get(row) ?? row.meta['publisher']],
    })[0];
    const author = person(row.meta['author']);
    const date = row.meta['date'];
    return {
      package: {
        name: row.name,
        scope: scopeOf(row.name) ?? 'unscoped',
        version: row.latest,
        description: row.description,
        keywords: row.keywords.split(' ').filter(Boolean),
        // The latest version's publish time when known (proxied rows), else the last change.
        date:
          typeof date === 'string' && !Number.isNaN(Date.parse(date))
            ? date
            : new Date(row.modifiedAt).toISOString(),
        links: links(row.meta),
        ...(author ? { author } : {}),
        ...(publisher ? { publisher } : {}),
        maintainers,
      },
      flags: {},
      score: { final, detail: { quality: final, popularity: final, maintenance: final } },
      searchScore: score,
    };
  });
  return { objects, total: ranked.total, time: new Date().toUTCString() };
}

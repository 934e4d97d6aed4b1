/**
 * The browse pages' bodies (`/ui/<format>`, `/ui/<format>/<name…>`), rendered from what a
 * format's BrowseSource returns (src/ui/types.ts): a list with search and paging, and a detail
 * page with the fetch command, the facts and every version newest first. Every value from a
 * source is untrusted text (package names, descriptions, deprecation messages), interpolated
 * through `html` (escaped); links are built from percent-encoded segments.
 */
import type { FormatName } from '../config/schema.ts';
import type { Repository } from '../repos/repository.ts';
import { isoSeconds } from '../curation/quarantine.ts';
import type { Translate } from './i18n.ts';
import { html, type Html } from './layout.ts';
import type { UiRequest } from './routes.ts';
import type {
  BrowseDetail,
  BrowseCurationFact,
  BrowseFact,
  BrowseFile,
  BrowseList,
  BrowseMark,
  BrowseQuery,
} from './types.ts';

export interface ListPage {
  readonly ui: UiRequest;
  readonly format: FormatName;
  readonly repo: Repository;
  /** The repository `/ui/<format>` shows without `?repo=`: every other one's links carry it. */
  readonly bare: string | undefined;
  /** Every repository of the format, for the repository picker. */
  readonly repositories: readonly Repository[];
  readonly query: BrowseQuery;
  /** Undefined: the format provides no browse source (yet). */
  readonly list: BrowseList | undefined;
}

export interface DetailPage {
  readonly ui: UiRequest;
  readonly format: FormatName;
  readonly repo: Repository;
  /** As ListPage.bare. */
  readonly bare: string | undefined;
  readonly name: string;
  /** Undefined: absent, not readable, or no browse source. */
  readonly detail: BrowseDetail | undefined;
}

/**
 * `?repo=` for `repo`, '' for the `bare` one (what `/ui/<format>` shows without it). Not
 * `isDefault`: a format has several default repositories (npm-hosted, npm-proxy, npm), and a link
 * without `?repo=` to any but the first lands in the first (trial 30: npm-proxy's rows 404ed).
 */
function repoQuery(repo: Repository, bare: string | undefined, first: '?' | '&'): string {
  return repo.name === bare ? '' : `${first}repo=${encodeURIComponent(repo.name)}`;
}

/**
 * `/ui/<format>/<name>` with each segment percent-encoded, `?repo=` for a named repository. A
 * name that is `/` alone (raw's root folder) is written `%2F`: an empty segment would not route.
 */
export function detailHref(
  ui: UiRequest,
  format: FormatName,
  repo: Repository,
  bare: string | undefined,
  name: string,
): string {
  const path = name === '/' ? '%2F' : name.split('/').map(encodeURIComponent).join('/');
  return `${ui.uiRoot}/${format}/${path}${repoQuery(repo, bare, '?')}`;
}

/** `1.5 MiB` for a byte count; '' when unknown. */
export function formatBytes(bytes: number | undefined): string {
  if (bytes === undefined || !Number.isFinite(bytes)) return '';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(1)} ${units[unit]}`;
}

/** `2026-12-05 12:03 UTC`; '' when unknown. */
export function formatTime(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms) || ms <= 0) return '';
  return `${new Date(ms).toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

export function browseListPage(page: ListPage): Html {
  const { ui, format, repo, list, query } = page;
  const { t } = ui;
  const repoPicker =
    page.repositories.length > 1
      ? html`<p class="muted">
          ${t('browse.repositories')}
          ${page.repositories.map(
            (r) =>
              html`<a
                  href="${ui.uiRoot}/${format}${repoQuery(r, page.bare, '?')}"
                  ${r.name === repo.name ? html`aria-current="page"` : ''}
                  >${r.name}</a
                >
                (${t(`kind.${r.kind}`)}) `,
          )}
        </p>`
      : '';
  if (list === undefined) {
    return html`${repoPicker}
      <p class="empty">${t('browse.unavailable', { format })}</p>`;
  }
  const rows = list.entries.map(
    (e) =>
      html`<tr>
        <td>
          <a href="${detailHref(ui, format, repo, page.bare, e.name)}">${e.name}</a>
          ${e.cached === true ? html`<span class="mark cached">${t('browse.cached')}</span>` : ''}
        </td>
        <td>${e.latest ?? ''}</td>
        <td>${e.versions ?? ''}</td>
        <td>${formatBytes(e.bytes)}</td>
        <td>${formatTime(e.updatedAt)}</td>
        <td>${e.description ?? ''}</td>
      </tr>`,
  );
  const pageHref = (offset: number): string =>
    `${ui.uiRoot}/${format}?${new URLSearchParams({
      ...(repo.name === page.bare ? {} : { repo: repo.name }),
      ...(query.q === '' ? {} : { q: query.q }),
      offset: String(offset),
      limit: String(query.limit),
    }).toString()}`;
  const end = query.offset + list.entries.length;
  const more = list.total === undefined ? list.entries.length === query.limit : end < list.total;
  const pager = html`<p class="muted">
    ${list.entries.length === 0 ? '' : html`${query.offset + 1}–${end}`}
    ${list.total === undefined ? '' : html` ${t('browse.of', { total: list.total })}`}
    ${
      query.offset > 0
        ? html` ·
            <a rel="prev" href="${pageHref(Math.max(0, query.offset - query.limit))}"
              >${t('browse.previous')}</a
            >`
        : ''
    }
    ${more ? html` · <a rel="next" href="${pageHref(end)}">${t('browse.next')}</a>` : ''}
  </p>`;
  return html`${repoPicker}
    <form method="get" action="${ui.uiRoot}/${format}" role="search">
      ${repo.name === page.bare ? '' : html`<input type="hidden" name="repo" value="${repo.name}" />`}<input
        type="search"
        name="q"
        value="${query.q}"
        maxlength="200"
        placeholder="${t('browse.filter')}"
        aria-label="${t('browse.filter')}"
      />
      <button type="submit">${t('browse.search')}</button>
    </form>
    ${
      rows.length === 0
        ? html`<p class="empty">
            ${query.q === '' ? t('browse.nothingYet') : t('browse.noMatch', { q: query.q })}
          </p>`
        : html`<table>
              <thead>
                <tr>
                  <th>${t('th.name')}</th>
                  <th>${t('th.latest')}</th>
                  <th>${t('th.versions')}</th>
                  <th>${t('th.size')}</th>
                  <th>${t('th.updated')}</th>
                  <th>${t('th.description')}</th>
                </tr>
              </thead>
              <tbody>
                ${rows}
              </tbody>
            </table>
            ${pager}`
    }`;
}

/**
 * A source's fact as a table row `[label, value]` in `t`'s language: the label keyed
 * `fact.<label>` (a file fact's label is the file's name), the fixed phrases (a proxy's upstream,
 * raw's folder-listing limit, a file's `N bytes[ (+ N bytes of PEP 658 metadata)], sha256:…[,
 * requires …]`) from the message table; data (names, digests, specifiers) stays as written.
 */
export function localFact(fact: BrowseFact, t: Translate): readonly [string, string] {
  if ('file' in fact) {
    const bytes = fact.bytes;
    const size =
      fact.metadataBytes === undefined
        ? t('fact.bytes', { bytes })
        : t('fact.bytesMetadata', { bytes, metadata: fact.metadataBytes });
    const requires =
      fact.requires === undefined ? '' : `, ${t('fact.requires', { spec: fact.requires })}`;
    return [fact.file, `${size}, ${fact.digest}${requires}`];
  }
  const label = t(`fact.${fact.label}`);
  if ('upstream' in fact) return [label, t('fact.upstreamProxy')];
  if ('first' in fact)
    return [label, t('fact.listingFirst', { count: fact.first, url: fact.rest })];
  if ('reason' in fact) return [label, localCuration(fact, t)];
  return [label, fact.value];
}

/**
 * Curation's refusal in `t`'s language: English shows the engine's message as a download gets
 * it (`curation.verbatim`); other languages compose it from the translated reason
 * kind and `available from`, the rule and the operator's reason staying as written.
 */
function localCuration(fact: BrowseCurationFact, t: Translate): string {
  if (t('curation.verbatim') === 'yes') return fact.value;
  const rule = fact.rule === undefined ? '' : ` (${fact.rule})`;
  const note = fact.note === undefined ? '' : `: ${fact.note}`;
  const until =
    fact.until === undefined
      ? ''
      : `; ${t('curation.availableFrom', { at: isoSeconds(fact.until) })}`;
  return `${t(`curation.${fact.reason}`, { what: fact.subject })}${rule}${note}${until}`;
}

/**
 * A version's badge in `t`'s language: `mark.<mark>`, then the source's detail (a yank reason, a
 * deprecation message) as written after `: `; a raw folder's badge counts its files.
 */
export function localMark(mark: BrowseMark, t: Translate): string {
  if (mark.mark === 'folder') return t('mark.folder', { files: mark.files ?? 0 });
  if (mark.mark === 'held') return t('mark.held', { until: isoSeconds(mark.until ?? 0) });
  const text = t(`mark.${mark.mark}`);
  return mark.detail === undefined || mark.detail === '' ? text : `${text}: ${mark.detail}`;
}

/** The parent folder's page of a raw file `name` (`/` for a file at the root). */
function parentFolder(name: string): string {
  const at = name.lastIndexOf('/');
  return at === -1 ? '/' : name.slice(0, at);
}

/** One file's page (raw): its facts, the download link, the curl command. */
function fileDetailPage(page: DetailPage, detail: BrowseDetail, file: BrowseFile): Html {
  const { ui, format, repo } = page;
  const { t } = ui;
  const parent = parentFolder(detail.name);
  const row = (label: string, value: Html | string): Html =>
    html`<tr>
      <th>${label}</th>
      <td>${value}</td>
    </tr>`;
  return html`<p class="muted">
      <a href="${ui.uiRoot}/${format}${repoQuery(repo, page.bare, '?')}">${repo.name}</a>
      (${t(`kind.${repo.kind}`)}) ·
      <a href="${detailHref(ui, format, repo, page.bare, parent)}"
        >${parent === '/' ? '/' : `${parent}/`}</a
      >
    </p>
    <table class="facts file">
      ${row(t('th.size'), `${formatBytes(file.bytes)} (${file.bytes} B)`)}
      ${row(t('th.digest'), html`<code>${file.digest}</code>`)}
      ${row(t('browse.modified'), formatTime(file.modifiedAt))}
      ${row(t('browse.contentType'), html`<code>${file.contentType}</code>`)}
      ${row(t('browse.download'), html`<a class="download" href="${file.url}" download>${file.url}</a>`)}
    </table>
    ${
      detail.install === undefined
        ? ''
        : html`<h2>${t('browse.fetchIt')}</h2>
            <pre><code class="install">${detail.install}</code></pre>`
    }`;
}

export function browseDetailPage(page: DetailPage): Html {
  const { detail, ui, format, repo } = page;
  const { t } = ui;
  if (detail === undefined) {
    return html`<p class="empty">
        ${t('browse.notFound', { name: page.name, repo: page.repo.name })}
      </p>
      <p>
        <a href="${ui.uiRoot}/${format}${repoQuery(repo, page.bare, '?')}"
          >${t('browse.backToList')}</a
        >
      </p>`;
  }
  if (detail.file !== undefined) return fileDetailPage(page, detail, detail.file);
  // Raw's folder browser: a version ending in `/` is a subfolder, any other a file, each linked
  // to its own page (a folder's, a file's).
  const folder = format === 'raw' ? (page.name === '/' ? '' : page.name.replace(/\/$/, '')) : '';
  const versionCell = (version: string): Html | string => {
    if (format !== 'raw') return version;
    const child = version.replace(/\/$/, '');
    return html`<a
      href="${detailHref(ui, format, repo, page.bare, folder === '' ? child : `${folder}/${child}`)}"
      >${version}</a
    >`;
  };
  const versions = detail.versions.map(
    (v) =>
      html`<tr>
        <td>${versionCell(v.version)}</td>
        <td>${(v.tags ?? []).join(', ')}</td>
        <td>
          ${v.cached === true ? html`<span class="mark cached">${t('browse.cached')}</span> ` : ''}
          ${(v.marks ?? []).map((m) => html`<span class="mark">${localMark(m, t)}</span> `)}
        </td>
        <td>${formatTime(v.publishedAt)}</td>
        <td>${formatBytes(v.bytes)}</td>
        <td><code>${v.digest ?? ''}</code></td>
      </tr>`,
  );
  return html`<p class="muted">
      <a href="${ui.uiRoot}/${format}${repoQuery(repo, page.bare, '?')}">${repo.name}</a>
      (${t(`kind.${repo.kind}`)})
    </p>
    ${detail.description === undefined ? '' : html`<p>${detail.description}</p>`}
    ${
      detail.install === undefined
        ? ''
        : html`<h2>${t('browse.fetchIt')}</h2>
            <pre><code class="install">${detail.install}</code></pre>`
    }
    ${
      (detail.facts ?? []).length === 0
        ? ''
        : html`<table class="facts">
            ${(detail.facts ?? [])
              .map((fact) => localFact(fact, t))
              .map(
                ([k, v]) =>
                  html`<tr>
                    <th>${k}</th>
                    <td>${v}</td>
                  </tr>`,
              )}
          </table>`
    }
    <h2>
      ${t(format === 'raw' ? 'browse.contents' : 'browse.versions')} (${detail.versions.length})
    </h2>
    ${
      detail.versions.length === 0
        ? html`<p class="empty">${t('browse.empty')}</p>`
        : html`<table class="versions">
            <thead>
              <tr>
                <th>${t(format === 'raw' ? 'th.name' : 'th.version')}</th>
                <th>${t('th.tags')}</th>
                <th>${t('th.marks')}</th>
                <th>${t('th.published')}</th>
                <th>${t('th.size')}</th>
                <th>${t('th.digest')}</th>
              </tr>
            </thead>
            <tbody>
              ${versions}
            </tbody>
          </table>`
    }`;
}

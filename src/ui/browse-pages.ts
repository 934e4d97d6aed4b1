/**
 * The browse pages' bodies (`/ui/<format>`, `/ui/<format>/<name…>`), rendered from what a
 * format's BrowseSource returns (src/ui/types.ts). A minimal generic rendering: the per-format
 * pages (devU2) refine it. Every value from a source is untrusted text, interpolated through
 * `html` (escaped).
 */
import type { FormatName } from '../config/schema.ts';
import type { Repository } from '../repos/repository.ts';
import { html, type Html } from './layout.ts';
import type { UiRequest } from './routes.ts';
import type { BrowseDetail, BrowseList, BrowseQuery } from './types.ts';

export interface ListPage {
  readonly ui: UiRequest;
  readonly format: FormatName;
  readonly repo: Repository;
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
  readonly name: string;
  /** Undefined: absent, not readable, or no browse source. */
  readonly detail: BrowseDetail | undefined;
}

/** `/ui/<format>/<name>` with each segment percent-encoded, `?repo=` for a named repository. */
export function detailHref(
  ui: UiRequest,
  format: FormatName,
  repo: Repository,
  name: string,
): string {
  const path = name.split('/').map(encodeURIComponent).join('/');
  return `${ui.uiRoot}/${format}/${path}${repo.isDefault ? '' : `?repo=${encodeURIComponent(repo.name)}`}`;
}

export function browseListPage(page: ListPage): Html {
  const { ui, format, repo, list } = page;
  const repoPicker =
    page.repositories.length > 1
      ? html`<p class="muted">
          Repositories:
          ${page.repositories.map(
            (r) =>
              html`<a
                  href="${ui.uiRoot}/${format}${r.isDefault ? '' : `?repo=${encodeURIComponent(r.name)}`}"
                  >${r.name}</a
                >
                (${r.kind}) `,
          )}
        </p>`
      : '';
  if (list === undefined) {
    return html`${repoPicker}
      <p class="empty">Browsing ${format} repositories is not available yet.</p>`;
  }
  const rows = list.entries.map(
    (e) =>
      html`<tr>
        <td><a href="${detailHref(ui, format, repo, e.name)}">${e.name}</a></td>
        <td>${e.latest ?? ''}</td>
        <td>${e.versions ?? ''}</td>
        <td>${e.description ?? ''}</td>
      </tr>`,
  );
  return html`${repoPicker}
    <form method="get" action="${ui.uiRoot}/${format}">
      ${repo.isDefault ? '' : html`<input type="hidden" name="repo" value="${repo.name}" />`}<input
        type="search"
        name="q"
        value="${page.query.q}"
        placeholder="filter by name"
      />
      <button type="submit">Search</button>
    </form>
    ${
      rows.length === 0
        ? html`<p class="empty">nothing here yet</p>`
        : html`<table>
            <thead>
              <tr>
                <th>Name</th>
                <th>Latest</th>
                <th>Versions</th>
                <th>Description</th>
              </tr>
            </thead>
            <tbody>
              ${rows}
            </tbody>
          </table>`
    }`;
}

export function browseDetailPage(page: DetailPage): Html {
  const { detail } = page;
  if (detail === undefined) {
    return html`<p class="empty">${page.name} was not found in ${page.repo.name}.</p>`;
  }
  const versions = detail.versions.map(
    (v) =>
      html`<tr>
        <td>${v.version}</td>
        <td>${v.tags?.join(', ') ?? ''}</td>
        <td>${v.publishedAt === undefined ? '' : new Date(v.publishedAt).toISOString()}</td>
        <td>${v.bytes ?? ''}</td>
      </tr>`,
  );
  return html`${detail.description === undefined ? '' : html`<p>${detail.description}</p>`}
    ${detail.install === undefined ? '' : html`<pre><code>${detail.install}</code></pre>`}
    ${
      (detail.facts ?? []).length === 0
        ? ''
        : html`<table>
            ${(detail.facts ?? []).map(
              ([k, v]) =>
                html`<tr>
                  <th>${k}</th>
                  <td>${v}</td>
                </tr>`,
            )}
          </table>`
    }
    <h2>Versions</h2>
    <table>
      <thead>
        <tr>
          <th>Version</th>
          <th>Tags</th>
          <th>Published</th>
          <th>Bytes</th>
        </tr>
      </thead>
      <tbody>
        ${versions}
      </tbody>
    </table>`;
}

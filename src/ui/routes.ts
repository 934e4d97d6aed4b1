/**
 * The web UI's routes (NORA §3.14): `/ui/` (dashboard), `/ui/tokens`, the browse mount point
 * `/ui/<format>[/<name…>]`, and the JSON twins `/api/ui/stats`, `/api/ui/dashboard`,
 * `/api/ui/<format>/list`, `/api/ui/<format>/search`, `/api/ui/<format>/<name…>`.
 *
 * Gating (`[auth] public_web_ui`, NORA_AUTH_PUBLIC_WEB_UI, default false): with auth on and the
 * UI not public, an anonymous request gets 401 — `WWW-Authenticate: Basic realm="NORA"` on pages
 * (the browser prompts; the same credentials as the clients, a token as password too) and a JSON
 * `{"error"}` on `/api/ui`. A public UI still shows only what anonymous may read (the browse
 * sources check access per name).
 *
 * Every UI answer carries a strict CSP (no script at all; the embedded style by hash;
 * `frame-ancestors 'none'`) and `Cache-Control: no-store` (pages show per-user data).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AccessControl, Principal } from '../auth/access.ts';
import type { AppConfig, FormatName } from '../config/schema.ts';
import { RegistryError } from '../core/errors.ts';
import type { FormatModule } from '../formats/format.ts';
import { baseUrl } from '../http/request.ts';
import type { Repository, RepositoryRegistry } from '../repos/repository.ts';
import { browseDetailPage, browseListPage } from './browse-pages.ts';
import { CSS_HASH, html, type Html, type NavItem, renderPage } from './layout.ts';
import type { ActivityFeed, BrowseQuery, BrowseRegistry, BrowseRequest } from './types.ts';

/** Where the UI and its API are mounted (below `[server] public_url`'s path, if any). */
export const UI_PATH = '/ui';
export const UI_API_PATH = '/api/ui';

/** The CSP of every UI answer: nothing but our own embedded style, no script, no framing. */
export const UI_CSP = `default-src 'self'; script-src 'none'; style-src ${CSS_HASH}; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'`;

/** Largest `limit` a list takes. */
export const MAX_LIST_LIMIT = 200;

export interface UiDeps {
  readonly config: () => AppConfig;
  /** Every format module (the enabled ones are read per request: a reload may change them). */
  readonly formats: readonly FormatModule[];
  readonly isEnabled: (format: FormatName) => boolean;
  readonly repositories: RepositoryRegistry;
  readonly access: AccessControl;
  readonly browse: BrowseRegistry;
  readonly activity: () => ActivityFeed;
}

/** What a UI handler knows of its request. */
export interface UiRequest {
  readonly principal: Principal;
  /** The server's public base URL, no trailing `/` (`[server] public_url` or the request's). */
  readonly base: string;
  /** The UI's own path prefix, no trailing `/`: `/ui`, `/nora/ui` under a sub-path public URL. */
  readonly uiRoot: string;
  readonly nav: readonly NavItem[];
  readonly user: string | undefined;
}

/**
 * The UI root's path: `[server] public_url`'s path (sub-path mounting behind a reverse proxy:
 * `https://tools.example/nora` → `/nora/ui`) + `/ui`.
 */
export function uiRootOf(publicUrl: string | undefined): string {
  if (publicUrl === undefined) return UI_PATH;
  const path = new URL(publicUrl).pathname.replace(/\/+$/, '');
  return `${path}${UI_PATH}`;
}

/** Registers every UI route on `app` (the root scope). */
export function registerUiRoutes(app: FastifyInstance, deps: UiDeps): void {
  const enabledFormats = (): FormatModule[] => deps.formats.filter((f) => deps.isEnabled(f.format));

  /** The gate and the per-request facts; throws the 401 of a closed UI. */
  const uiRequest = (request: FastifyRequest, reply: FastifyReply, api: boolean): UiRequest => {
    void reply
      .header('content-security-policy', UI_CSP)
      .header('cache-control', 'no-store')
      .header('x-content-type-options', 'nosniff')
      .header('x-frame-options', 'DENY');
    const config = deps.config();
    const principal = request.principal;
    if (config.auth.enabled && !config.auth.public_web_ui && principal.kind !== 'user') {
      throw new RegistryError(
        'UNAUTHORIZED',
        api
          ? 'authentication required for /api/ui ([auth] public_web_ui is false): send the same credentials as the clients (a user and password or an API token as Basic, or Bearer <token>)'
          : 'authentication required for the web UI ([auth] public_web_ui is false)',
        { headers: { 'www-authenticate': 'Basic realm="NORA", charset="UTF-8"' } },
      );
    }
    const uiRoot = uiRootOf(config.server.public_url);
    const nav: NavItem[] = [
      { label: 'Dashboard', path: '' },
      ...enabledFormats().map((f) => ({ label: formatLabel(f.format), path: f.format })),
      { label: 'Tokens', path: 'tokens' },
    ];
    return {
      principal,
      base: baseUrl(request, config.server.public_url),
      uiRoot,
      nav,
      user: principal.kind === 'user' ? principal.name : undefined,
    };
  };

  const sendPage = (
    reply: FastifyReply,
    ui: UiRequest,
    title: string,
    current: string,
    body: Html,
    status = 200,
  ): FastifyReply =>
    reply
      .code(status)
      .type('text/html; charset=utf-8')
      .send(renderPage({ title, uiRoot: ui.uiRoot, nav: ui.nav, current, user: ui.user, body }));

  // `/ui` → `/ui/` (relative links resolve from the folder).
  app.get(UI_PATH, (request, reply) => {
    const ui = uiRequest(request, reply, false);
    return reply.redirect(`${ui.uiRoot}/`, 308);
  });

  app.get(`${UI_PATH}/`, async (request, reply) => {
    const ui = uiRequest(request, reply, false);
    const feed = await deps.activity().recent(50);
    // Filled in by the dashboard (src/ui/dashboard.ts).
    return sendPage(
      reply,
      ui,
      'Dashboard',
      '',
      html`<p class="empty">${feed.length === 0 ? 'no activity yet' : ''}</p>`,
    );
  });

  // The browse mount point: `/ui/<format>` lists the format's repository (`?repo=<name>`, default:
  // its default repository; `?q=`, `?offset=`, `?limit=`), `/ui/<format>/<name…>` shows a name.
  const browseTarget = (
    request: FastifyRequest<{
      Params: { format: string };
      Querystring: Record<string, string | undefined>;
    }>,
  ): { format: FormatModule; repo: Repository } => {
    const format = enabledFormats().find((f) => f.format === request.params.format);
    if (format === undefined) {
      throw new RegistryError(
        'NOT_FOUND',
        `no enabled format named ${JSON.stringify(request.params.format)}`,
      );
    }
    const wanted = request.query['repo'];
    const repo =
      wanted === undefined || wanted === ''
        ? deps.repositories.byFormat(format.format).find((r) => r.isDefault)
        : deps.repositories.get(wanted);
    if (repo?.format !== format.format) {
      throw new RegistryError(
        'NOT_FOUND',
        `no ${format.format} repository named ${JSON.stringify(wanted ?? format.defaultRepository)}`,
      );
    }
    return { format, repo };
  };
  const browseRequest = (ui: UiRequest, format: FormatModule, repo: Repository): BrowseRequest => ({
    principal: ui.principal,
    repositoryUrl: `${ui.base}${repo.isDefault ? format.mount : `/repository/${repo.name}`}`,
  });

  type BrowseRoute = FastifyRequest<{
    Params: { format: string; '*'?: string };
    Querystring: Record<string, string | undefined>;
  }>;

  // A page for an unknown format or repository: 404 in the UI's layout (not the JSON error).
  const notFoundPage = (reply: FastifyReply, ui: UiRequest, err: unknown): FastifyReply => {
    if (!(err instanceof RegistryError) || err.status !== 404) throw err;
    return sendPage(
      reply,
      ui,
      'Not found',
      '',
      html`<p class="empty">${err.message}</p>
        <p><a href="${ui.uiRoot}/">back to the dashboard</a></p>`,
      404,
    );
  };

  app.get(`${UI_PATH}/:format`, async (request: BrowseRoute, reply) => {
    const ui = uiRequest(request, reply, false);
    let target: { format: FormatModule; repo: Repository };
    try {
      target = browseTarget(request);
    } catch (err) {
      return notFoundPage(reply, ui, err);
    }
    const { format, repo } = target;
    const source = deps.browse.source(format.format);
    const query = browseQuery(request.query);
    const list =
      source === undefined
        ? undefined
        : await source.list(repo, query, browseRequest(ui, format, repo));
    const body = browseListPage({
      ui,
      format: format.format,
      repo,
      repositories: deps.repositories.byFormat(format.format),
      query,
      list,
    });
    return sendPage(reply, ui, `${formatLabel(format.format)} · ${repo.name}`, format.format, body);
  });

  app.get(`${UI_PATH}/:format/*`, async (request: BrowseRoute, reply) => {
    const ui = uiRequest(request, reply, false);
    let target: { format: FormatModule; repo: Repository };
    try {
      target = browseTarget(request);
    } catch (err) {
      return notFoundPage(reply, ui, err);
    }
    const { format, repo } = target;
    const name = request.params['*'] ?? '';
    const source = deps.browse.source(format.format);
    const detail =
      source === undefined
        ? undefined
        : await source.detail(repo, name, browseRequest(ui, format, repo));
    const body = browseDetailPage({ ui, format: format.format, repo, name, detail });
    return sendPage(reply, ui, name, format.format, body, detail === undefined ? 404 : 200);
  });

  // The JSON twins.
  app.get(`${UI_API_PATH}/:format/list`, async (request: BrowseRoute, reply) => {
    const ui = uiRequest(request, reply, true);
    const { format, repo } = browseTarget(request);
    const source = deps.browse.source(format.format);
    const query = browseQuery(request.query);
    const list =
      source === undefined
        ? { entries: [] }
        : await source.list(repo, query, browseRequest(ui, format, repo));
    return reply.send({ format: format.format, repository: repo.name, ...query, ...list });
  });
  app.get(`${UI_API_PATH}/:format/search`, async (request: BrowseRoute, reply) => {
    const ui = uiRequest(request, reply, true);
    const { format, repo } = browseTarget(request);
    const source = deps.browse.source(format.format);
    const query = browseQuery(request.query);
    const list =
      source === undefined
        ? { entries: [] }
        : await source.list(repo, query, browseRequest(ui, format, repo));
    return reply.send({ format: format.format, repository: repo.name, ...query, ...list });
  });
  app.get(`${UI_API_PATH}/:format/*`, async (request: BrowseRoute, reply) => {
    const ui = uiRequest(request, reply, true);
    const { format, repo } = browseTarget(request);
    const name = request.params['*'] ?? '';
    const source = deps.browse.source(format.format);
    const detail =
      source === undefined
        ? undefined
        : await source.detail(repo, name, browseRequest(ui, format, repo));
    if (detail === undefined)
      throw new RegistryError('NOT_FOUND', `${name} not found in ${repo.name}`);
    return reply.send({ format: format.format, repository: repo.name, ...detail });
  });

  // Filled in by src/ui/tokens-page.ts. A static route: it wins over `/ui/:format`.
  app.get(`${UI_PATH}/tokens`, (request, reply) => {
    const ui = uiRequest(request, reply, false);
    return sendPage(reply, ui, 'Tokens', 'tokens', html`<p class="notice">tokens</p>`);
  });
}

/** `?q=&offset=&limit=` as a BrowseQuery (limit 1..200, default 50). */
export function browseQuery(query: Record<string, string | undefined>): BrowseQuery {
  const offset = Number.parseInt(query['offset'] ?? '0', 10);
  const limit = Number.parseInt(query['limit'] ?? '50', 10);
  return {
    q: (query['q'] ?? '').slice(0, 200),
    offset: Number.isFinite(offset) && offset > 0 ? offset : 0,
    limit: Number.isFinite(limit) && limit > 0 ? Math.min(limit, MAX_LIST_LIMIT) : 50,
  };
}

/** A format's display name. */
export function formatLabel(format: FormatName): string {
  const labels: Record<FormatName, string> = {
    docker: 'Docker',
    npm: 'npm',
    pypi: 'PyPI',
    maven: 'Maven',
    cargo: 'Cargo',
    raw: 'Raw',
    go: 'Go',
    helm: 'Helm',
  };
  return labels[format];
}

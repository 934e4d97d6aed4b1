/**
 * The web UI's routes (NORA §3.14): `/ui/` (dashboard), `/ui/tokens`, the browse mount point
 * `/ui/<format>[/<name…>]`, and the JSON twins `/api/ui/stats`, `/api/ui/dashboard`,
 * `/api/ui/<format>/list`, `/api/ui/<format>/search`, `/api/ui/<format>/<name…>`.
 *
 * Gating (`[auth] public_web_ui`, NORA_AUTH_PUBLIC_WEB_UI, default false): with auth on and the
 * UI not public, an anonymous request gets 401 — `WWW-Authenticate: Basic realm="nora"` on pages
 * (the browser prompts; the same credentials as the clients, a token as password too) and a JSON
 * `{"error"}` on `/api/ui`. Refused credentials (wrong password, bad or expired token) get the
 * same 401s with the challenge: the request hook refuses them before routing, and the app's
 * error handler hands them to uiRefusal. A public UI still shows only what anonymous may read (the browse
 * sources check access per name).
 *
 * Every UI answer carries a strict CSP (no script at all; the embedded style by hash;
 * `frame-ancestors 'none'`) and `Cache-Control: no-store` (pages show per-user data).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AccessControl, Principal } from '../auth/access.ts';
import type { AppConfig, FormatName } from '../config/schema.ts';
import type { TokenApi } from '../auth/api/tokens.ts';
import { RegistryError, toRegistryError } from '../core/errors.ts';
import { readAllBounded } from '../core/streams.ts';
import type { FormatModule } from '../formats/format.ts';
import { BASIC_CHALLENGE } from '../http/format-errors.ts';
import { baseUrl } from '../http/request.ts';
import type { Repository, RepositoryRegistry } from '../repos/repository.ts';
import { browseDetailPage, browseListPage } from './browse-pages.ts';
import { CSS_HASH, html, type Html, type NavItem, renderPage } from './layout.ts';
import {
  asLanguage,
  type Language,
  LANGUAGE_COOKIE,
  MESSAGES,
  type MessageKey,
  pickLanguage,
  type Translate,
  translator,
} from './i18n.ts';
import type { BrowseQuery, BrowseRegistry, BrowseRequest } from './types.ts';
import {
  type DashboardSources,
  gatherDashboard,
  HostedCountsCache,
  renderDashboard,
} from './dashboard.ts';
import {
  checkSameOrigin,
  createBody,
  CsrfTokens,
  type TokensOutcome,
  tokensBody,
  tokensNeedAuth,
} from './tokens-page.ts';

/** Where the UI and its API are mounted (below `[server] public_url`'s path, if any). */
export const UI_PATH = '/ui';
export const UI_API_PATH = '/api/ui';

/** The CSP of every UI answer: nothing but our own embedded style, no script, no framing. */
export const UI_CSP = `default-src 'self'; script-src 'none'; style-src ${CSS_HASH}; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'`;

/**
 * The Basic challenge of every UI 401 (pages and /api/ui): the browser prompts for it. The realm
 * is the format endpoints' (BASIC_CHALLENGE): browsers keep credentials per realm, so one sign-in
 * serves the UI and the files it links to (trial 33 newA).
 */
const UI_CHALLENGE = `${BASIC_CHALLENGE}, charset="UTF-8"`;

/** Largest `limit` a list takes. */
export const MAX_LIST_LIMIT = 200;

export interface UiDeps extends DashboardSources {
  readonly config: () => AppConfig;
  /** Every format module (the enabled ones are read per request: a reload may change them). */
  readonly formats: readonly FormatModule[];
  readonly isEnabled: (format: FormatName) => boolean;
  readonly repositories: RepositoryRegistry;
  readonly access: AccessControl;
  readonly browse: BrowseRegistry;
  /** The token API's service (`/api/tokens` uses the same one). */
  readonly tokens: TokenApi;
  /** The CSRF tokens' key holder (default: a fresh random key). */
  readonly csrf?: CsrfTokens | undefined;
}

/** A token form is a few short fields. */
const MAX_FORM_BYTES = 16 * 1024;

/** What a UI handler knows of its request. */
export interface UiRequest {
  readonly principal: Principal;
  /** The server's public base URL, no trailing `/` (`[server] public_url` or the request's). */
  readonly base: string;
  /** The UI's own path prefix, no trailing `/`: `/ui`, `/nora/ui` under a sub-path public URL. */
  readonly uiRoot: string;
  readonly nav: readonly NavItem[];
  readonly user: string | undefined;
  /** The request's language (src/ui/i18n.ts pickLanguage) and its messages. */
  readonly language: Language;
  readonly t: Translate;
  /** The language switcher's link for a language (this page, `?lang=` set). */
  readonly languageHref: (language: Language) => string;
}

/**
 * The language of `request` (`?lang=`, the `nora_lang` cookie, Accept-Language) with its
 * messages and switcher links. A valid `?lang=` also sets the cookie on `reply` (path: the UI
 * root, a year), so the choice holds on the next pages.
 */
export function requestLanguage(
  request: FastifyRequest,
  reply: FastifyReply,
  uiRoot: string,
): Pick<UiRequest, 'language' | 't' | 'languageHref'> {
  const query = request.query as Record<string, string | string[] | undefined> | undefined;
  const asked = query?.['lang'];
  const chosen = asLanguage(typeof asked === 'string' ? asked : undefined);
  const language = pickLanguage({
    query: chosen,
    cookie: request.headers.cookie,
    acceptLanguage: request.headers['accept-language'],
  });
  if (chosen !== undefined) {
    void reply.header(
      'set-cookie',
      `${LANGUAGE_COOKIE}=${chosen}; Path=${uiRoot}; Max-Age=31536000; SameSite=Lax`,
    );
  }
  void reply.header('vary', 'Accept-Language, Cookie');
  // A relative `?…` link: the same path whatever prefix a reverse proxy adds.
  const at = request.url.indexOf('?');
  const params = new URLSearchParams(at === -1 ? '' : request.url.slice(at + 1));
  return {
    language,
    t: translator(language),
    languageHref: (l) => {
      params.set('lang', l);
      return `?${params.toString()}`;
    },
  };
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
  // The dashboard's hosted counts, reused a few seconds (dashboard.ts HostedCountsCache).
  const hostedCounts = new HostedCountsCache();

  /** The gate and the per-request facts; throws the 401 of a closed UI. */
  const uiRequest = (request: FastifyRequest, reply: FastifyReply, api: boolean): UiRequest => {
    uiHeaders(reply);
    const config = deps.config();
    const principal = request.principal;
    if (config.auth.enabled && !config.auth.public_web_ui && principal.kind !== 'user') {
      throw new RegistryError(
        'UNAUTHORIZED',
        api
          ? 'authentication required for /api/ui ([auth] public_web_ui is false): send the same credentials as the clients (a user and password or an API token as Basic, or Bearer <token>)'
          : MESSAGES.en['signin.required'],
        { headers: { 'www-authenticate': UI_CHALLENGE } },
      );
    }
    const uiRoot = uiRootOf(config.server.public_url);
    const language = requestLanguage(request, reply, uiRoot);
    const { t } = language;
    const nav: NavItem[] = [
      { label: t('nav.dashboard'), path: '' },
      ...enabledFormats().map((f) => ({ label: formatLabel(f.format), path: f.format })),
      { label: t('nav.tokens'), path: 'tokens' },
    ];
    return {
      ...language,
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
      .send(
        renderPage({
          title,
          uiRoot: ui.uiRoot,
          nav: ui.nav,
          current,
          user: ui.user,
          body,
          language: ui.language,
          t: ui.t,
          languageHref: ui.languageHref,
        }),
      );

  /**
   * A page route whose 401 (a closed UI, the tokens page for anonymous) answers an HTML page,
   * its Basic challenge kept (signInPage). Other errors go to the app's handler as before.
   */
  const page =
    <R extends FastifyRequest>(handler: (request: R, reply: FastifyReply) => unknown) =>
    async (request: R, reply: FastifyReply): Promise<unknown> => {
      try {
        return await handler(request, reply);
      } catch (err) {
        const refusal = toRegistryError(err);
        if (refusal.status !== 401) throw err;
        return signInPage(request, reply, refusal, deps.config().server.public_url);
      }
    };

  // Browsers ask every host for `/favicon.ico`; a 404 is a console error on every UI page. A
  // 1×1 icon (not a 204: a HEAD would then differ from the GET in Content-Length), cached for a
  // day, for anyone: it says nothing about the server.
  app.get('/favicon.ico', (_request, reply) =>
    reply.type('image/x-icon').header('cache-control', 'public, max-age=86400').send(FAVICON),
  );

  // `/ui` → `/ui/` (relative links resolve from the folder).
  app.get(
    UI_PATH,
    page((request, reply) => {
      const ui = uiRequest(request, reply, false);
      return reply.redirect(`${ui.uiRoot}/`, 308);
    }),
  );

  app.get(
    `${UI_PATH}/`,
    page(async (request, reply) => {
      const ui = uiRequest(request, reply, false);
      const data = await gatherDashboard(deps, ui.principal, ui.base, hostedCounts);
      const body = renderDashboard(data, (format) => `${ui.uiRoot}/${format}`, ui.t);
      return sendPage(reply, ui, ui.t('nav.dashboard'), '', body);
    }),
  );
  app.get(`${UI_API_PATH}/dashboard`, async (request, reply) => {
    const ui = uiRequest(request, reply, true);
    return reply.send(await gatherDashboard(deps, ui.principal, ui.base, hostedCounts));
  });
  app.get(`${UI_API_PATH}/stats`, async (request, reply) => {
    const ui = uiRequest(request, reply, true);
    return reply.send((await gatherDashboard(deps, ui.principal, ui.base, hostedCounts)).stats);
  });

  // The browse mount point: `/ui/<format>` lists the format's repository (`?repo=<name>`, default:
  // its default repository; `?q=`, `?offset=`, `?limit=`), `/ui/<format>/<name…>` shows a name.
  /** The repository `/ui/<format>` shows with no `?repo=` (the format's first default one). */
  const bareRepository = (format: FormatModule): Repository | undefined =>
    deps.repositories.byFormat(format.format).find((r) => r.isDefault);
  const browseTarget = (
    request: FastifyRequest<{
      Params: { format: string };
      Querystring: Record<string, string | string[] | undefined>;
    }>,
  ): { format: FormatModule; repo: Repository } => {
    const format = enabledFormats().find((f) => f.format === request.params.format);
    if (format === undefined) {
      throw new RegistryError(
        'NOT_FOUND',
        `no enabled format named ${JSON.stringify(request.params.format)}`,
      );
    }
    const wanted = queryParam(request.query, 'repo');
    const repo =
      wanted === undefined || wanted === ''
        ? bareRepository(format)
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
    Querystring: Record<string, string | string[] | undefined>;
  }>;

  // A repository the viewer may not read at all answers as an unknown one (a 200, even empty,
  // would confirm it exists): closed as a whole and nothing in it readable (a path rule may open
  // some names of a repository closed otherwise, then the list shows them).
  const hiddenRepository = (
    ui: UiRequest,
    format: FormatModule,
    repo: Repository,
    list: { total?: number | undefined; entries: readonly unknown[] } | undefined,
  ): RegistryError | undefined => {
    if (deps.access.can(ui.principal, repo, 'read')) return undefined;
    if (list !== undefined && (list.total ?? list.entries.length) > 0) return undefined;
    return new RegistryError(
      'NOT_FOUND',
      `no ${format.format} repository named ${JSON.stringify(repo.name)}`,
    );
  };

  // A page for an unknown format or repository (404) or a bad query parameter (400), in the
  // UI's layout (not the JSON error).
  const notFoundPage = (reply: FastifyReply, ui: UiRequest, err: unknown): FastifyReply => {
    if (!(err instanceof RegistryError) || (err.status !== 404 && err.status !== 400)) throw err;
    return sendPage(
      reply,
      ui,
      ui.t(err.status === 404 ? 'error.notFound' : 'error.badRequest'),
      '',
      html`<p class="empty">${err.message}</p>
        <p><a href="${ui.uiRoot}/">${ui.t('error.backToDashboard')}</a></p>`,
      err.status,
    );
  };

  app.get(
    `${UI_PATH}/:format`,
    page(async (request: BrowseRoute, reply) => {
      const ui = uiRequest(request, reply, false);
      let target: { format: FormatModule; repo: Repository };
      let query: BrowseQuery;
      try {
        target = browseTarget(request);
        query = browseQuery(request.query);
      } catch (err) {
        return notFoundPage(reply, ui, err);
      }
      const { format, repo } = target;
      const source = deps.browse.source(format.format);
      const list =
        source === undefined
          ? undefined
          : await source.list(repo, query, browseRequest(ui, format, repo));
      const hidden = hiddenRepository(ui, format, repo, list);
      if (hidden !== undefined) return notFoundPage(reply, ui, hidden);
      const body = browseListPage({
        ui,
        format: format.format,
        repo,
        bare: bareRepository(format)?.name,
        // The picker names only repositories the viewer may read (and the one shown).
        repositories: deps.repositories
          .byFormat(format.format)
          .filter((r) => r === repo || deps.access.can(ui.principal, r, 'read')),
        query,
        list,
      });
      return sendPage(
        reply,
        ui,
        `${formatLabel(format.format)} · ${repo.name}`,
        format.format,
        body,
      );
    }),
  );

  app.get(
    `${UI_PATH}/:format/*`,
    page(async (request: BrowseRoute, reply) => {
      const ui = uiRequest(request, reply, false);
      let target: { format: FormatModule; repo: Repository };
      const name = request.params['*'] ?? '';
      try {
        target = browseTarget(request);
        checkBrowseName(name);
      } catch (err) {
        return notFoundPage(reply, ui, err);
      }
      const { format, repo } = target;
      const source = deps.browse.source(format.format);
      const detail =
        source === undefined
          ? undefined
          : await source.detail(repo, name, browseRequest(ui, format, repo));
      const body = browseDetailPage({
        ui,
        format: format.format,
        repo,
        bare: bareRepository(format)?.name,
        name,
        detail,
      });
      return sendPage(reply, ui, name, format.format, body, detail === undefined ? 404 : 200);
    }),
  );

  // The JSON twins.
  // `list` and `search` are one answer (NORA has both URLs; `q` filters either).
  const listAnswer = async (request: BrowseRoute, reply: FastifyReply): Promise<unknown> => {
    const ui = uiRequest(request, reply, true);
    const { format, repo } = browseTarget(request);
    const source = deps.browse.source(format.format);
    const query = browseQuery(request.query);
    const list =
      source === undefined
        ? { entries: [] }
        : await source.list(repo, query, browseRequest(ui, format, repo));
    const hidden = hiddenRepository(ui, format, repo, list);
    if (hidden !== undefined) throw hidden;
    return reply.send({ format: format.format, repository: repo.name, ...query, ...list });
  };
  app.get(`${UI_API_PATH}/:format/list`, listAnswer);
  app.get(`${UI_API_PATH}/:format/search`, listAnswer);
  app.get(`${UI_API_PATH}/:format/*`, async (request: BrowseRoute, reply) => {
    const ui = uiRequest(request, reply, true);
    const { format, repo } = browseTarget(request);
    const name = request.params['*'] ?? '';
    checkBrowseName(name);
    const source = deps.browse.source(format.format);
    const detail =
      source === undefined
        ? undefined
        : await source.detail(repo, name, browseRequest(ui, format, repo));
    if (detail === undefined)
      throw new RegistryError('NOT_FOUND', `${name} not found in ${repo.name}`);
    return reply.send({ format: format.format, repository: repo.name, ...detail });
  });

  // `/ui/tokens`: a static route, it wins over `/ui/:format`.
  const csrf = deps.csrf ?? new CsrfTokens();
  const tokensPage = async (
    request: FastifyRequest,
    reply: FastifyReply,
    outcome: TokensOutcome = {},
    status = 200,
  ): Promise<FastifyReply> => {
    const ui = uiRequest(request, reply, false);
    const principal = ui.principal;
    if (!deps.config().auth.enabled) {
      return sendPage(reply, ui, ui.t('nav.tokens'), 'tokens', tokensNeedAuth(ui.t));
    }
    if (principal.kind !== 'user') throw signInRequired();
    const token = csrf.issue(principal.name, request.headers.authorization);
    const body = await tokensBody(
      deps.tokens,
      principal,
      token,
      `${ui.uiRoot}/tokens`,
      ui.t,
      outcome,
    );
    return sendPage(reply, ui, ui.t('nav.tokens'), 'tokens', body, status);
  };
  app.get(
    `${UI_PATH}/tokens`,
    page((request, reply) => tokensPage(request, reply)),
  );
  app.post(
    `${UI_PATH}/tokens`,
    page(async (request, reply) => {
      const ui = uiRequest(request, reply, false);
      const config = deps.config();
      if (!config.auth.enabled) {
        throw new RegistryError('METHOD_NOT_ALLOWED', 'API tokens need [auth] enabled = true', {
          headers: { allow: 'GET, HEAD' },
        });
      }
      const principal = ui.principal;
      if (principal.kind !== 'user') throw signInRequired();
      checkSameOrigin({
        origin: request.headers.origin,
        secFetchSite: single(request.headers['sec-fetch-site']),
        ownOrigins: ownOrigins(request, config.server.public_url),
      });
      const form = await readForm(request);
      if (
        !csrf.verify(form.get('csrf') ?? undefined, principal.name, request.headers.authorization)
      ) {
        throw new RegistryError(
          'DENIED',
          "the form's CSRF token is missing or not this session's: reload /ui/tokens and submit its form again",
        );
      }
      const op = form.get('op');
      try {
        if (op === 'create') {
          const created = await deps.tokens.create(principal, createBody(form), request.ip);
          return await tokensPage(request, reply, { created });
        }
        if (op === 'confirm-revoke') {
          // The row's Revoke button: nothing is revoked yet, the page asks to confirm.
          return await tokensPage(request, reply, { confirmRevoke: form.get('id') ?? '' });
        }
        if (op === 'revoke') {
          const id = form.get('id') ?? '';
          const revoked = await deps.tokens.revoke(principal, { id }, request.ip);
          const key = revoked['id'];
          return await tokensPage(request, reply, {
            revoked: typeof key === 'string' ? key : id,
          });
        }
      } catch (err) {
        // The token API's refusal, shown on the page with its status (the form stays usable).
        const refusal = toRegistryError(err);
        if (refusal.status >= 500) throw err;
        return tokensPage(request, reply, { error: refusal.message }, refusal.status);
      }
      throw new RegistryError('BAD_REQUEST', 'op must be "create", "confirm-revoke" or "revoke"');
    }),
  );
}

/**
 * Refuses a browse name no format has (BAD_REQUEST, 400): an empty segment (`dir//x`, a leading
 * `/` but for `/` alone, raw's root) or a control character. `.`/`..` segments and NUL never get
 * here (src/http/hooks.ts checkRequestPath refuses them before routing); a name of no format's
 * shape otherwise is the source's to answer as absent (404).
 */
export function checkBrowseName(name: string): void {
  if (name !== '/' && (name.startsWith('/') || name.includes('//'))) {
    throw new RegistryError('BAD_REQUEST', 'empty path segments are not allowed in a name');
  }
  // eslint-disable-next-line no-control-regex -- control characters are what is refused
  if (/[\u0000-\u001f\u007f]/.test(name)) {
    throw new RegistryError('BAD_REQUEST', 'control characters are not allowed in a name');
  }
}

/** The 401 a page needing a user answers anonymous (a public UI's tokens page). */
function signInRequired(): RegistryError {
  return new RegistryError('UNAUTHORIZED', MESSAGES.en['signin.tokens'], {
    headers: { 'www-authenticate': UI_CHALLENGE },
  });
}

/** The headers of every UI answer (the module docstring says why). */
function uiHeaders(reply: FastifyReply): void {
  void reply
    .header('content-security-policy', UI_CSP)
    .header('cache-control', 'no-store')
    .header('x-content-type-options', 'nosniff')
    .header('x-frame-options', 'DENY');
}

/**
 * A UI error page outside any UI handler (no UiRequest: the request may not have passed the
 * gate): the language from the request, no nav, `status`, the refusal's headers kept.
 */
function errorPage(
  request: FastifyRequest,
  reply: FastifyReply,
  status: number,
  refusal: RegistryError,
  publicUrl: string | undefined,
  title: MessageKey,
  body: (t: Translate) => Html,
): FastifyReply {
  uiHeaders(reply);
  const uiRoot = uiRootOf(publicUrl);
  const { language, t, languageHref } = requestLanguage(request, reply, uiRoot);
  return reply
    .code(status)
    .headers(refusal.headers ?? {})
    .type('text/html; charset=utf-8')
    .send(
      renderPage({
        title: t(title),
        uiRoot,
        nav: [],
        current: '',
        user: undefined,
        body: body(t),
        language,
        t,
        languageHref,
      }),
    );
}

/**
 * A UI page's 401: an HTML "Sign in required" page with the Basic challenge (the refusal's own,
 * else UI_CHALLENGE), so the browser prompts (again, after a mistyped password) and shows the
 * body when the user cancels the prompt — a JSON document there reads as a broken page.
 */
function signInPage(
  request: FastifyRequest,
  reply: FastifyReply,
  refusal: RegistryError,
  publicUrl: string | undefined,
): FastifyReply {
  void reply.header('www-authenticate', UI_CHALLENGE);
  return errorPage(
    request,
    reply,
    401,
    refusal,
    publicUrl,
    'signin.title',
    (t) =>
      html`<p class="empty">${refusalText(refusal.message, t)}</p>
        <p>${t('signin.reload')}</p>`,
  );
}

/** The refusals a sign-in page says in the reader's language: their English text is the key's. */
const SIGN_IN_REFUSALS: readonly MessageKey[] = [
  'signin.invalid', // src/auth/access.ts: a wrong password or an unknown user
  'signin.required',
  'signin.tokens',
];

/** `message` in `t`'s language when it is a known refusal, else as the service wrote it. */
function refusalText(message: string, t: Translate): string {
  const key = SIGN_IN_REFUSALS.find((k) => MESSAGES.en[k] === message);
  return key === undefined ? message : t(key);
}

/**
 * A UI page's 429 (the failed-login lockout, src/auth/lockout.ts): an HTML page saying when to
 * try again, `Retry-After` kept (a JSON document in a browser reads as a broken page).
 */
function lockedOutPage(
  request: FastifyRequest,
  reply: FastifyReply,
  refusal: RegistryError,
  publicUrl: string | undefined,
): FastifyReply {
  const retry = Object.entries(refusal.headers ?? {}).find(
    ([k]) => k.toLowerCase() === 'retry-after',
  )?.[1];
  return errorPage(
    request,
    reply,
    429,
    refusal,
    publicUrl,
    'error.tooManyRequests',
    (t) =>
      html`<p class="empty">${refusal.message}</p>
        ${retry === undefined ? '' : html`<p>${t('error.retryAfter', { seconds: retry })}</p>`}`,
  );
}

/**
 * A UI page's 400 that no UI handler answered: a path the request hook refused before routing
 * (`..`/`.` segments, NUL, malformed escapes: src/http/hooks.ts checkRequestPath) or a handler's
 * own refusal. The UI's "Bad request" page, the refusal's message (what was wrong) and a link
 * back to the dashboard: a JSON document in a browser reads as a broken page.
 */
function badRequestPage(
  request: FastifyRequest,
  reply: FastifyReply,
  refusal: RegistryError,
  publicUrl: string | undefined,
): FastifyReply {
  const uiRoot = uiRootOf(publicUrl);
  return errorPage(
    request,
    reply,
    400,
    refusal,
    publicUrl,
    'error.badRequest',
    (t) =>
      html`<p class="empty">${refusal.message}</p>
        <p><a href="${uiRoot}/">${t('error.backToDashboard')}</a></p>`,
  );
}

/**
 * The app error handler's answer to a 400, 401 or 429 on a UI path that no UI handler answered:
 * credentials the request hook refused before routing (a wrong password, an unknown user, a bad
 * or expired token; the failed-login lockout), a path it refused (400). A page (`/ui`, `/ui/…`)
 * gets badRequestPage, signInPage or lockedOutPage (HTML); `/api/ui/…` a 401's JSON `{"error"}`
 * with the Basic challenge, as its anonymous 401 has (a 400 or 429 there: undefined, the
 * handler's JSON). Undefined for other paths and statuses (the handler answers as for any route).
 */
export function uiRefusal(
  request: FastifyRequest,
  reply: FastifyReply,
  refusal: RegistryError,
  publicUrl: string | undefined,
): FastifyReply | undefined {
  if (refusal.status !== 400 && refusal.status !== 401 && refusal.status !== 429) return undefined;
  const url = request.url;
  const query = url.search(/[?#]/);
  const pathname = query === -1 ? url : url.slice(0, query);
  if (pathname === UI_PATH || pathname.startsWith(`${UI_PATH}/`)) {
    if (refusal.status === 400) return badRequestPage(request, reply, refusal, publicUrl);
    return refusal.status === 401
      ? signInPage(request, reply, refusal, publicUrl)
      : lockedOutPage(request, reply, refusal, publicUrl);
  }
  if (refusal.status === 401 && pathname.startsWith(`${UI_API_PATH}/`)) {
    uiHeaders(reply);
    return reply
      .code(401)
      .header('www-authenticate', UI_CHALLENGE)
      .headers(refusal.headers ?? {})
      .send({ error: refusal.message });
  }
  return undefined;
}

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** The origins that are this server's: `public_url`'s and the request's own scheme + Host. */
function ownOrigins(request: FastifyRequest, publicUrl: string | undefined): string[] {
  const origins = [`${request.protocol}://${request.host}`];
  if (publicUrl !== undefined) origins.push(new URL(publicUrl).origin);
  return origins;
}

/** An `application/x-www-form-urlencoded` body (what a browser's form sends). */
async function readForm(request: FastifyRequest): Promise<URLSearchParams> {
  const type = request.headers['content-type'] ?? '';
  if (!/^application\/x-www-form-urlencoded\b/i.test(type)) {
    throw new RegistryError(
      'UNSUPPORTED_MEDIA_TYPE',
      'send the form as application/x-www-form-urlencoded',
    );
  }
  return new URLSearchParams((await readAllBounded(request.raw, MAX_FORM_BYTES)).toString('utf8'));
}

/**
 * A 1×1 ICO (70 bytes): ICONDIR (reserved, type 1 = icon, 1 image), its entry (1×1, 32 bits per
 * pixel, 48 bytes at offset 22), then the image: a BITMAPINFOHEADER (height 2: colour rows and
 * mask rows), one BGRA pixel (the UI's accent, opaque) and one AND-mask row padded to 4 bytes.
 */
export const FAVICON: Buffer = (() => {
  const ico = Buffer.alloc(70);
  ico.writeUInt16LE(1, 2); // type: icon
  ico.writeUInt16LE(1, 4); // one image
  ico.writeUInt8(1, 6); // width 1
  ico.writeUInt8(1, 7); // height 1
  ico.writeUInt16LE(1, 10); // planes
  ico.writeUInt16LE(32, 12); // bits per pixel
  ico.writeUInt32LE(48, 14); // bytes of the image
  ico.writeUInt32LE(22, 18); // where it starts
  ico.writeUInt32LE(40, 22); // BITMAPINFOHEADER size
  ico.writeInt32LE(1, 26); // width
  ico.writeInt32LE(2, 30); // height: colour + mask
  ico.writeUInt16LE(1, 34); // planes
  ico.writeUInt16LE(32, 36); // bits per pixel
  ico.writeUInt32LE(8, 42); // image size: pixel + mask row
  Buffer.from([0x88, 0x55, 0x22, 0xff]).copy(ico, 62); // B, G, R, A
  return ico;
})();

/** Largest `offset` a list takes (what SQLite binds as an integer, with room). */
export const MAX_LIST_OFFSET = 1_000_000_000;

/**
 * A query parameter given at most once: its value, or undefined when absent. Throws
 * BAD_REQUEST (400) when it is repeated (`?q=a&q=b` parses as an array).
 */
export function queryParam(
  query: Record<string, string | string[] | undefined>,
  key: string,
): string | undefined {
  const value = query[key];
  if (Array.isArray(value)) {
    throw new RegistryError('BAD_REQUEST', `query parameter ${key} is given more than once`);
  }
  return value;
}

/** A decimal integer in `min..max`, or BAD_REQUEST (400) naming the parameter and the bounds. */
function boundedInteger(
  query: Record<string, string | string[] | undefined>,
  key: string,
  fallback: number,
  min: number,
  max: number,
): number {
  const raw = queryParam(query, key);
  if (raw === undefined || raw === '') return fallback;
  const value = /^[0-9]{1,10}$/.test(raw) ? Number(raw) : Number.NaN;
  if (!(value >= min && value <= max)) {
    throw new RegistryError(
      'BAD_REQUEST',
      `query parameter ${key} must be an integer from ${min} to ${max}, not ${JSON.stringify(raw.slice(0, 40))}`,
    );
  }
  return value;
}

/**
 * `?q=&offset=&limit=` as a BrowseQuery: `q` at most 200 characters are used, `offset` an
 * integer 0..1,000,000,000 (default 0), `limit` 1..200 (default 50). Throws BAD_REQUEST (400)
 * for a repeated parameter or a number out of bounds or not a plain decimal integer.
 */
export function browseQuery(query: Record<string, string | string[] | undefined>): BrowseQuery {
  return {
    q: (queryParam(query, 'q') ?? '').slice(0, 200),
    offset: boundedInteger(query, 'offset', 0, 0, MAX_LIST_OFFSET),
    limit: boundedInteger(query, 'limit', 50, 1, MAX_LIST_LIMIT),
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

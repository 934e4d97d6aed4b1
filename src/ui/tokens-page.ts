/**
 * `/ui/tokens` (NORA §3.14): the signed-in user's API tokens — list (never a secret), create
 * (role at most the user's own, ttl_days, description; the secret shown once), revoke. Every
 * operation goes through the token API's own service (src/auth/api/tokens.ts TokenApi, which
 * `/api/tokens` uses): no second token code path, the same checks and errors.
 *
 * CSRF: the browser sends Basic credentials with any request to the host, a cross-site form
 * too. A POST is taken only when (1) `Sec-Fetch-Site`, if sent, is `same-origin`, (2) `Origin`, if
 * sent, is the server's own, and (3) the form's `csrf` field is the token of the request's
 * credential: HMAC(server key, user + SHA-256 of the Authorization header), a per-session value
 * (a browser's Basic session is its Authorization header) that another site cannot read.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { highestRole } from '../auth/users.ts';
import type { Principal, Role } from '../auth/access.ts';
import type { Json, TokenApi } from '../auth/api/tokens.ts';
import { RegistryError } from '../core/errors.ts';
import type { Translate } from './i18n.ts';
import { html, type Html } from './layout.ts';

/** Issues and checks the per-session CSRF tokens; one key per app (a restart ends them). */
export class CsrfTokens {
  readonly #key: Buffer;
  constructor(key: Buffer = randomBytes(32)) {
    this.#key = key;
  }

  /** The token for `user` signed in with `authorization` (the request's header, as sent). */
  issue(user: string, authorization: string | undefined): string {
    const session = createHash('sha256')
      .update(authorization ?? '')
      .digest('base64url');
    return createHmac('sha256', this.#key).update(`${user}\0${session}`).digest('base64url');
  }

  /** True when `token` is the one `issue` gives for this user and header. */
  verify(token: string | undefined, user: string, authorization: string | undefined): boolean {
    if (token === undefined) return false;
    const expected = Buffer.from(this.issue(user, authorization));
    const given = Buffer.from(token);
    return given.length === expected.length && timingSafeEqual(given, expected);
  }
}

/** What routes.ts knows of a POST's origin, for `checkSameOrigin`. */
export interface PostOrigin {
  readonly origin: string | undefined;
  readonly secFetchSite: string | undefined;
  /** Origins that are this server's (`[server] public_url`'s, the request's own Host). */
  readonly ownOrigins: readonly string[];
}

/**
 * Throws 403 for a cross-origin POST: `Sec-Fetch-Site` other than `same-origin`, or an `Origin`
 * that is not the server's (`null` included: a sandboxed or privacy-stripped context).
 */
export function checkSameOrigin(post: PostOrigin): void {
  if (post.secFetchSite !== undefined && post.secFetchSite !== 'same-origin') {
    throw new RegistryError(
      'DENIED',
      `cross-origin form post refused (Sec-Fetch-Site: ${post.secFetchSite}): use the form on this server's /ui/tokens page`,
    );
  }
  if (post.origin !== undefined && !post.ownOrigins.includes(post.origin)) {
    throw new RegistryError(
      'DENIED',
      `cross-origin form post refused (Origin: ${post.origin}): use the form on this server's /ui/tokens page`,
    );
  }
}

/** Roles a new token may ask for: up to the credential's own highest. */
export function rolesUpTo(principal: Principal): Role[] {
  if (principal.kind !== 'user') return [];
  const top = highestRole(principal.roles);
  return top === 'admin'
    ? ['read', 'write', 'admin']
    : top === 'write'
      ? ['read', 'write']
      : top === 'read'
        ? ['read']
        : [];
}

/** What a tokens page shows besides the list. */
/**
 * The tokens' ids as the page names them: as `npm token list` does (its generateTokenIds), the
 * shortest prefix of at least 6 characters of the id that no other listed token shares
 * (`81090c`); the full id goes in the cell's title. Until trial 34 the page showed the
 * hash_prefix, which npm never shows (docs/ui.md).
 */
export function shortTokenIds(ids: readonly string[]): Map<string, string> {
  const short = new Map<string, string>();
  for (const id of ids) {
    let name = id;
    for (let length = 6; length < id.length; length++) {
      const prefix = id.slice(0, length);
      if (!ids.some((other) => other !== id && other.startsWith(prefix))) {
        name = prefix;
        break;
      }
    }
    short.set(id, name);
  }
  return short;
}

export interface TokensOutcome {
  /** A token just created: its secret, shown once. */
  readonly created?: Json | undefined;
  /** The id of the token just revoked (named as it was listed before). */
  readonly revoked?: string | undefined;
  /** The id of a token whose Revoke was clicked: its confirmation is asked (trial 33). */
  readonly confirmRevoke?: string | undefined;
  /** A refusal of the last operation (its message, as the token API words it). */
  readonly error?: string | undefined;
}

/** The form fields of a create, as the token API's JSON body. */
export function createBody(form: URLSearchParams): Json {
  const body: Json = { role: form.get('role') ?? 'read' };
  const ttl = (form.get('ttl_days') ?? '').trim();
  if (ttl !== '') {
    const days = Number(ttl);
    // The API's own message for a bad value: it is handed as given.
    body['ttl_days'] = Number.isFinite(days) ? days : ttl;
  }
  const description = (form.get('description') ?? '').trim();
  if (description !== '') body['description'] = description;
  return body;
}

/** The page body for a user (auth on), with the user's tokens from `api.list`. */
export async function tokensBody(
  api: TokenApi,
  principal: Principal & { kind: 'user' },
  csrf: string,
  action: string,
  tr: Translate,
  outcome: TokensOutcome = {},
): Promise<Html> {
  const listed = (await api.list(principal, {})) as { tokens: Json[] };
  const str = (v: unknown): string =>
    typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'boolean' ? String(v) : '';
  const ids = listed.tokens.map((t) => str(t['id']));
  const short = shortTokenIds(outcome.revoked === undefined ? ids : [...ids, outcome.revoked]);
  const shortId = (id: string): string => short.get(id) ?? id;
  // One token's POST form (CSRF token, op, id, a danger button; `after` beside the button):
  // the row's Revoke (op=confirm-revoke) and the confirmation's "Revoke it" (op=revoke).
  const tokenForm = (op: string, id: string, label: string, after: Html | '' = ''): Html =>
    html`<form class="inline" method="post" action="${action}">
      <input type="hidden" name="csrf" value="${csrf}" /><input
        type="hidden"
        name="op"
        value="${op}"
      /><input type="hidden" name="id" value="${id}" /><button class="danger" type="submit">
        ${label}</button
      >${after}
    </form>`;
  const rows = listed.tokens.map(
    (t) =>
      html`<tr data-token="${str(t['id'])}">
        <td><code title="${str(t['id'])}">${shortId(str(t['id']))}</code></td>
        <td>${str(t['role'])}</td>
        <td>${str(t['description'])}</td>
        <td>${str(t['created_at'])}</td>
        <td>
          ${t['expires_at'] === null ? tr('tokens.never') : str(t['expires_at'])}${t['expired'] === true ? ` ${tr('tokens.expired')}` : ''}
        </td>
        <td>${t['last_used_at'] === null ? '–' : str(t['last_used_at'])}</td>
        <td>${tokenForm('confirm-revoke', str(t['id']), tr('tokens.revoke'))}</td>
      </tr>`,
  );
  const roles = rolesUpTo(principal);
  const created =
    outcome.created === undefined
      ? ''
      : html`<div class="notice good" id="created">
          <p>${tr('tokens.created')}</p>
          <p><code class="secret" id="secret">${str(outcome.created['token'])}</code></p>
          <p class="muted">
            ${tr('tokens.useIt')} npm <code>_authToken</code>, <code>docker login</code>, pip,
            cargo, curl <code>-u x:TOKEN</code>, <code>Authorization: Bearer TOKEN</code>.
          </p>
        </div>`;
  // A Revoke click asks first, with a form of its own (no script needed): op=revoke there.
  const asked =
    outcome.confirmRevoke === undefined
      ? undefined
      : listed.tokens.find((t) => str(t['id']) === outcome.confirmRevoke);
  const confirm =
    outcome.confirmRevoke === undefined
      ? ''
      : asked === undefined
        ? html`<div class="notice bad" id="error">
            ${tr('tokens.unknown', { id: outcome.confirmRevoke })}
          </div>`
        : html`<div class="notice" id="confirm-revoke">
            <p>
              ${tr('tokens.confirmRevoke', { id: shortId(str(asked['id'])) })}
              ${str(asked['description']) === '' ? '' : html`(${str(asked['description'])})`}
            </p>
            ${tokenForm(
              'revoke',
              str(asked['id']),
              tr('tokens.confirmButton'),
              html`<a href="${action}">${tr('tokens.cancel')}</a>`,
            )}
          </div>`;
  return html`${confirm} ${created}
    ${outcome.revoked === undefined ? '' : html`<div class="notice good" id="revoked">${tr('tokens.revoked', { id: shortId(outcome.revoked) })}</div>`}
    ${outcome.error === undefined ? '' : html`<div class="notice bad" id="error">${outcome.error}</div>`}
    <h2>${tr('tokens.yours')}</h2>
    ${
      rows.length === 0
        ? html`<p class="empty">${tr('tokens.none')}</p>`
        : html`<table id="tokens">
            <thead>
              <tr>
                <th>${tr('th.id')}</th>
                <th>${tr('th.role')}</th>
                <th>${tr('th.description')}</th>
                <th>${tr('th.created')}</th>
                <th>${tr('th.expires')}</th>
                <th>${tr('th.lastUsed')}</th>
                <th></th>
              </tr>
            </thead>
            <tbody>
              ${rows}
            </tbody>
          </table>`
    }
    <h2>${tr('tokens.create')}</h2>
    <form class="stack" method="post" action="${action}" id="create">
      <input type="hidden" name="csrf" value="${csrf}" /><input
        type="hidden"
        name="op"
        value="create"
      />
      <label
        >${tr('tokens.role')}
        <select name="role">
          ${roles.map((r) => html`<option value="${r}" ${r === 'read' ? html` selected` : ''}>${r}</option>`)}
        </select></label
      >
      <label
        >${tr('tokens.ttl')} <input name="ttl_days" type="number" min="1" max="3650" value="90"
      /></label>
      <label
        >${tr('tokens.description')}
        <input
          name="description"
          maxlength="256"
          placeholder="${tr('tokens.descriptionPlaceholder')}"
      /></label>
      <button type="submit">${tr('tokens.createButton')}</button>
    </form>`;
}

/** The page body with auth off. */
export function tokensNeedAuth(t: Translate): Html {
  return html`<div class="notice" id="auth-off">
    ${t('tokens.authOff')} <code>[auth] enabled = true</code> (<code>NORA_AUTH_ENABLED=true</code>).
    ${t('tokens.authOffWhy')}
  </div>`;
}

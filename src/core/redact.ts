/**
 * Credential redaction for everything that leaves as text: log lines, printed configuration,
 * CLI errors. One list of patterns, applied at the logger's single entry (see
 * http/log-options.ts) and wherever text is printed outside it, so no credential reaches a log
 * line however it got into the text (a request URL, an error message, a config value).
 *
 * What counts as a credential:
 * - npm token paths: `/-/user/token/<token>` (`npm logout`) and `/-/npm/v1/tokens/token/<id>`
 *   (`npm token revoke` sends the token itself when it matches no listed id);
 * - userinfo in URLs: `scheme://user:password@host`;
 * - query parameters and `name=value` / `name: value` pairs whose name says secret (token,
 *   password, secret, auth, signature, credential, api key, session, `_authToken`);
 * - `Bearer`/`Basic` credentials;
 * - API tokens by their shape wherever they appear (`nra_…`, `nora_…`: a URL path, a body, a
 *   message) and JSON Web Tokens (OIDC identity tokens, registry tokens: `eyJ….….…`);
 * - JSON members with a secret-sounding name (`"password":"…"`).
 */

export const REDACTED = '[redacted]';

/** A name that marks its value secret (query parameter, TOML key, npmrc key). */
const SECRET_NAME =
  '[A-Za-z0-9_.-]*(?:token|passw(?:or)?d|secret|auth|signature|credential|api[-_]?key|session|access[-_]?key)[A-Za-z0-9_.-]*';

const PATTERNS: readonly [RegExp, string][] = [
  // HTTP credentials (first: `Authorization: Bearer x` keeps its scheme word).
  [/\b(Bearer|Basic)\s+(?!\[redacted\])[A-Za-z0-9._~+/=-]+/g, `$1 ${REDACTED}`],
  // npm token paths: the segment after the marker is the credential.
  [/(\/-\/user\/token\/)[^/?#\s"']+/gi, `$1${REDACTED}`],
  [/(\/-\/npm\/v1\/tokens\/token\/)[^/?#\s"']+/gi, `$1${REDACTED}`],
  // Same, percent-encoded slashes (a path logged before decoding).
  [/(%2F-%2Fuser%2Ftoken%2F)[^/?#&\s"']+/gi, `$1${REDACTED}`],
  // API tokens and JWTs by shape, wherever they appear (a path segment, a form body, a message).
  // (`nora_…` from before the NORA prefix; random base64url: long, with capitals, so metric
  // names such as `nora_http_requests_total` are not taken for tokens.)
  [/\b(nra|nora)_(?=[A-Za-z0-9_-]*[A-Z])[A-Za-z0-9_-]{30,}/g, `$1_${REDACTED}`],
  [/\beyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*/g, REDACTED],
  // URL userinfo.
  [/(\b[a-z][a-z0-9+.-]*:\/\/)[^/?#\s@"']+@/gi, `$1${REDACTED}@`],
  // Query parameters and name=value / name: "value" / "name":"value" pairs with a secret name.
  // A bare `name: word` is not one: config errors read `auth.docker_token_ttl: expected number`.
  [new RegExp(`([?&;]${SECRET_NAME}=)[^&#\\s"']*`, 'gi'), `$1${REDACTED}`],
  [
    new RegExp(
      `(\\b${SECRET_NAME}["']?\\s*(?:=\\s*["']?|:\\s*["']|:(?=[^\\s"'])|(?<=["'])\\s*:\\s*))(?!${escape(REDACTED)}|Bearer\\b|Basic\\b)[^\\s"',&}]+`,
      'gi',
    ),
    `$1${REDACTED}`,
  ],
  // NORA_DOCKER_UPSTREAMS entries `url|user:token|prefix`: the part after the URL's `|`.
  [/(\bhttps?:\/\/[^|\s,]*\|)[^|,\s"']+/gi, `$1${REDACTED}`],
];

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** `text` with every credential pattern replaced by `[redacted]`; other text unchanged. */
export function redactText(text: string): string {
  let out = text;
  for (const [pattern, replacement] of PATTERNS) out = out.replace(pattern, replacement);
  return out;
}

/**
 * A copy of `value` with `redactText` applied to every string in plain objects and arrays, down
 * to `depth` levels (deeper values are replaced by `[redacted]`, never passed through). Other
 * objects (Errors, Buffers, class instances) are returned as they are: their serializers redact.
 */
export function redactDeep(value: unknown, depth = 8): unknown {
  if (typeof value === 'string') return redactText(value);
  if (typeof value !== 'object' || value === null) return value;
  if (Array.isArray(value)) {
    if (depth <= 0) return REDACTED;
    return value.map((item) => redactDeep(item, depth - 1));
  }
  const proto = Object.getPrototypeOf(value) as unknown;
  if (proto !== Object.prototype && proto !== null) return value;
  if (depth <= 0) return REDACTED;
  const out: Record<string, unknown> = {};
  for (const [key, child] of Object.entries(value)) {
    // defineProperty: an own `__proto__` (from JSON.parse) stays a member, not the copy's prototype.
    Object.defineProperty(out, key, {
      value: isSecretKey(key) && child !== undefined ? REDACTED : redactDeep(child, depth - 1),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return out;
}

const SECRET_KEY =
  /^(?:authorization|cookie|set-cookie|proxy-authorization|password|token|secret|auth|_authToken|credentials|access_token|refresh_token|id_token|client_secret|assertion)$/i;

/** Whether an object key names a credential whose whole value is secret. */
export function isSecretKey(key: string): boolean {
  return SECRET_KEY.test(key);
}

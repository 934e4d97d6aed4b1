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

/*
 * Why functions rather than regular expressions below: a pattern such as
 * `\b[a-z][a-z0-9+.-]*:\/\/` or `[chars]*(?:token|…)[chars]*=` is tried at every position of a
 * long run of its characters and scans to the run's end each time: quadratic or cubic work. An
 * 8 KB request URL of `tokena.` repeated took 12 s in the access log's redaction, one of `a-`
 * repeated 85 ms: on every request, from anyone. Each function finds its candidates in one pass
 * (maximal runs of a character class, matched once each) and tries only the text right after
 * them, so the work is linear in the text. Each keeps its regular expression's leftmost,
 * non-overlapping matches (`String.replace` with a global pattern).
 */

/** Output of one pass: the text with spans replaced, left to right. */
class Splice {
  readonly #text: string;
  #out = '';
  #copied = 0;
  #changed = false;

  constructor(text: string) {
    this.#text = text;
  }

  /** Where the text after the last replacement starts (candidates before it are taken). */
  get copied(): number {
    return this.#copied;
  }

  /** Replaces [start, end) (start ≥ copied) with `replacement`. */
  replace(start: number, end: number, replacement = REDACTED): void {
    this.#out += this.#text.slice(this.#copied, start) + replacement;
    this.#copied = end;
    this.#changed = true;
  }

  result(): string {
    return this.#changed ? this.#out + this.#text.slice(this.#copied) : this.#text;
  }
}

/** A maximal run of base64url characters (API token bodies, JWT segments). */
const BASE64URL_RUN = /[A-Za-z0-9_-]+/g;
const BASE64URL_AT = /[A-Za-z0-9_-]+/y;
/**
 * NORA's API token prefixes (`nora_…` from before the NORA prefix), wherever they start: a
 * letter, digit or `_` before one (`x_nra_…`, `TOKENnra_…`, `1nra_…` in a URL) hides no token.
 */
const TOKEN_PREFIX = /(?:nra|nora)_/;

/** A base64url run that may hold percent-escapes (`nra%5F…`, `%6Era_…`). */
const ENCODED_RUN = /[A-Za-z0-9_%-]+/g;
const BASE64URL_CHAR = /^[A-Za-z0-9_-]$/;
const HEX2 = /^[0-9A-Fa-f]{2}$/;
/** A token prefix with any of its characters escaped: runs without one are not decoded. */
const ENCODED_PREFIX = /(?:n|%6e)(?:o|%6f)?(?:r|%72)(?:a|%61)(?:_|%5f)/i;

/**
 * Where the token body in one base64url `run` is (after its first prefix), as [start, end)
 * inside the run, or undefined when the run holds no token.
 */
function tokenBody(run: string): [number, number] | undefined {
  const at = run.search(TOKEN_PREFIX);
  if (at === -1) return undefined;
  const body = run.indexOf('_', at) + 1;
  const rest = run.slice(body);
  if (rest.length < 30 || !/[A-Z]/.test(rest)) return undefined;
  return [body, run.length];
}

/**
 * API tokens by shape: `nra_`/`nora_` then 30 or more base64url characters with a capital (random
 * base64url: metric names such as `nora_http_requests_total` are not taken for tokens). In one
 * run only its first prefix can start a match: a later one has less of the run after it (and a
 * subset of its capitals). A run holding percent-escapes is read decoded (`nra%5F…`, `%6Era_…`,
 * escaped body characters: the server decodes paths itself), so an escape hides no token; only
 * text with a `%` pays for it.
 */
function redactApiTokens(text: string): string {
  // Every prefix ends in `ra_` unless escaped: text with neither holds no token (no scan).
  if (!text.includes('ra_') && !text.includes('%')) return text;
  const out = new Splice(text);
  for (const run of text.matchAll(text.includes('%') ? ENCODED_RUN : BASE64URL_RUN)) {
    if (run[0].includes('%')) {
      if (ENCODED_PREFIX.test(run[0])) redactEncodedRun(run[0], run.index, out);
      continue;
    }
    const found = tokenBody(run[0]);
    if (found !== undefined) out.replace(run.index + found[0], run.index + found[1]);
  }
  return out.result();
}

/**
 * `redactApiTokens` for a run with percent-escapes: an escape of a base64url character counts
 * as that character, any other escape (`%2F`, `%20`) or a bare `%` separates runs as its
 * character would. The redacted span is the token body's escaped spelling in the text.
 */
function redactEncodedRun(run: string, offset: number, out: Splice): void {
  let decoded = '';
  /** Where each decoded character starts in the text; one more entry: the run's end. */
  const starts: number[] = [];
  for (let i = 0; i < run.length;) {
    starts.push(offset + i);
    const hex = run.slice(i + 1, i + 3);
    if (run[i] === '%') {
      const char = HEX2.test(hex) ? String.fromCharCode(parseInt(hex, 16)) : ' ';
      decoded += BASE64URL_CHAR.test(char) ? char : ' ';
      i += HEX2.test(hex) ? 3 : 1;
    } else {
      decoded += run.charAt(i);
      i += 1;
    }
  }
  starts.push(offset + run.length);
  for (const part of decoded.matchAll(BASE64URL_RUN)) {
    const found = tokenBody(part[0]);
    if (found === undefined) continue;
    out.replace(starts[part.index + found[0]] ?? 0, starts[part.index + found[1]] ?? 0);
  }
}

/**
 * JSON Web Tokens by shape (OIDC identity tokens, registry tokens): `eyJ…` `.` `…` `.` `…`
 * (the last segment may be empty). A segment's first `eyJ` decides for the whole segment.
 */
function redactJwts(text: string): string {
  if (!text.includes('eyJ')) return text;
  const out = new Splice(text);
  for (const segment of text.matchAll(BASE64URL_RUN)) {
    if (segment.index < out.copied) continue;
    const at = segment[0].search(/\beyJ./);
    if (at === -1) continue;
    let end = segment.index + segment[0].length;
    if (text[end] !== '.') continue;
    BASE64URL_AT.lastIndex = end + 1;
    if (BASE64URL_AT.exec(text) === null) continue;
    end = BASE64URL_AT.lastIndex;
    if (text[end] !== '.') continue;
    BASE64URL_AT.lastIndex = end + 1;
    end = BASE64URL_AT.exec(text) === null ? end + 1 : BASE64URL_AT.lastIndex;
    out.replace(segment.index + at, end);
  }
  return out.result();
}

const SCHEME_CHAR = /[a-z0-9+.-]/i;
const LETTER = /[a-z]/i;
const WORD_CHAR = /\w/;
/** After `scheme://`: userinfo up to its `@`. */
const USERINFO = /[^/?#\s@"']+@/y;

/** URL userinfo: `scheme://user:password@host` → `scheme://[redacted]@host`. */
function redactUserinfo(text: string): string {
  const out = new Splice(text);
  let from = 0;
  for (;;) {
    const separator = text.indexOf('://', from);
    if (separator === -1) break;
    from = separator + 1;
    // The scheme: `[a-z][a-z0-9+.-]*` ending at the separator, starting at a word boundary
    // (`\b`), leftmost. The walk back stops at a `/` or `:`: it never crosses a separator.
    let start = separator;
    while (start > out.copied && SCHEME_CHAR.test(text[start - 1] ?? '')) start--;
    let scheme = false;
    for (let i = start; i < separator && !scheme; i++) {
      scheme = LETTER.test(text[i] ?? '') && (i === 0 || !WORD_CHAR.test(text[i - 1] ?? ''));
    }
    if (!scheme) continue;
    USERINFO.lastIndex = separator + 3;
    if (USERINFO.exec(text) === null) continue;
    out.replace(separator + 3, USERINFO.lastIndex - 1);
    from = USERINFO.lastIndex;
  }
  return out.result();
}

/** A maximal run without `|`, space or `,`, ending at a `|`. */
const PIPE_RUN = /(?<![^|\s,])[^|\s,]*\|/g;
const PIPE_VALUE = /[^|,\s"']+/y;

/** NORA_DOCKER_UPSTREAMS entries `url|user:token|prefix`: the part after the URL's `|`. */
function redactUpstreamCredentials(text: string): string {
  if (!text.includes('|')) return text;
  const out = new Splice(text);
  for (const run of text.matchAll(PIPE_RUN)) {
    const end = run.index + run[0].length;
    if (end <= out.copied) continue;
    // The URL must start at or after the last replacement (a value may end at a quote inside
    // this run); one character before it is the word-boundary context.
    const from = Math.max(run.index, out.copied);
    const context = from === 0 ? ' ' : (text[from - 1] ?? ' ');
    if ((context + text.slice(from, end)).search(/(?<=[^A-Za-z0-9_])https?:\/\//i) === -1) continue;
    PIPE_VALUE.lastIndex = end;
    if (PIPE_VALUE.exec(text) === null) continue;
    out.replace(end, PIPE_VALUE.lastIndex);
  }
  return out.result();
}

/**
 * A word that marks a name's value secret (query parameter, TOML key, npmrc key), anywhere in a
 * name made of `[A-Za-z0-9_.-]`: `token`, `_authToken`, `db.password`, `X-Api-Key`.
 */
const SECRET_WORD =
  /token|passw(?:or)?d|secret|auth|signature|credential|api[-_]?key|session|access[-_]?key/i;

/** A maximal name run: matched once each, so the scan below is linear in the text. */
const NAME_RUN = /[A-Za-z0-9_.-]+/g;
/** After a secret query parameter's name (`?token=`): its value. */
const QUERY_VALUE = /=[^&#\s"']*/y;
/**
 * After a secret name: the separator of `name=value`, `name: "value"`, `"name":"value"` and
 * `name:value`, then the value (not one already redacted, nor the scheme word the Bearer/Basic
 * pattern kept). A bare `name: word` is not one: config errors read `auth.docker_token_ttl:
 * expected number`.
 */
const PAIR_SEPARATOR = /["']?\s*(?:=\s*["']?|:\s*["']|:(?=[^\s"'])|(?<=["'])\s*:\s*)/y;
const PAIR_VALUE = /(?!\[redacted\]|Bearer\b|Basic\b)[^\s"',&}]+/y;

/**
 * Redacts the values of query parameters and name/value pairs whose name holds a secret word.
 * Why not one regular expression: `[chars]*(?:token|…)[chars]*` around a separator backtracks
 * cubically over a long run of name characters (an 8 KB request URL of `tokena.` repeated took
 * 12 s in the access log's redaction, on every request); here each name run is found once and
 * only the text right after it is tried, so the work is linear in the text.
 */
function redactSecretPairs(text: string): string {
  // A secret word is made of name characters: text without one has no run holding one.
  if (!SECRET_WORD.test(text)) return text;
  const out = new Splice(text);
  for (const run of text.matchAll(NAME_RUN)) {
    if (run.index < out.copied || !SECRET_WORD.test(run[0])) continue;
    const end = run.index + run[0].length;
    const before = text[run.index - 1];
    QUERY_VALUE.lastIndex = end;
    if ((before === '?' || before === '&' || before === ';') && QUERY_VALUE.exec(text) !== null) {
      out.replace(end + 1, QUERY_VALUE.lastIndex);
      continue;
    }
    // `\b` before the name: the run holds a word character (it holds a secret word).
    PAIR_SEPARATOR.lastIndex = end;
    if (PAIR_SEPARATOR.exec(text) === null) continue;
    const valueStart = PAIR_SEPARATOR.lastIndex;
    PAIR_VALUE.lastIndex = valueStart;
    if (PAIR_VALUE.exec(text) === null) continue;
    out.replace(valueStart, PAIR_VALUE.lastIndex);
  }
  return out.result();
}

const PATTERNS: readonly ([RegExp, string] | ((text: string) => string))[] = [
  // HTTP credentials (first: `Authorization: Bearer x` keeps its scheme word).
  [/\b(Bearer|Basic)\s+(?!\[redacted\])[A-Za-z0-9._~+/=-]+/g, `$1 ${REDACTED}`],
  // npm token paths: the segment after the marker is the credential.
  [/(\/-\/user\/token\/)[^/?#\s"']+/gi, `$1${REDACTED}`],
  [/(\/-\/npm\/v1\/tokens\/token\/)[^/?#\s"']+/gi, `$1${REDACTED}`],
  // Same, percent-encoded slashes (a path logged before decoding).
  [/(%2F-%2Fuser%2Ftoken%2F)[^/?#&\s"']+/gi, `$1${REDACTED}`],
  // API tokens and JWTs by shape, wherever they appear (a path segment, a form body, a message).
  redactApiTokens,
  redactJwts,
  redactUserinfo,
  // Query parameters and name=value / name: "value" / "name":"value" pairs with a secret name.
  redactSecretPairs,
  redactUpstreamCredentials,
];

/**
 * Text no pattern above can match: shorter than the shortest API token (`nra_` + 30 characters)
 * and without what every other pattern needs — whitespace (`Bearer x`), `/` or `%` (token paths,
 * `://`), `=` or `:` (name/value pairs), `|` (upstream entries), `eyJ` (a JWT). The access log's
 * short fields (method, client address, user name) skip the passes: each costs a scan.
 */
const MAY_HOLD_SECRET = /[\s/%=:|]|eyJ/;
const SHORTEST_TOKEN = 34;

/** `text` with every credential pattern replaced by `[redacted]`; other text unchanged. */
export function redactText(text: string): string {
  if (text.length < SHORTEST_TOKEN && !MAY_HOLD_SECRET.test(text)) return text;
  return redactEveryPattern(text);
}

/** `redactText` without its shortcut: every pass on any text (tests compare the two). */
export function redactEveryPattern(text: string): string {
  let out = text;
  for (const step of PATTERNS) {
    out = typeof step === 'function' ? step(out) : out.replace(step[0], step[1]);
  }
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

/**
 * `nora healthcheck` (NORA's verb, for a container's HEALTHCHECK or a supervisor's probe): asks a
 * running server's `/health` (or `/ready`) and turns the answer into an exit code and one line.
 * Images without curl or wget (distroless, scratch + node) have nothing else to probe with, and
 * `wget --spider` cannot tell "degraded" (read-only or full disk) from "healthy".
 *
 * Docker reads exit 0 as healthy and 1 as unhealthy (2 is reserved), so every failure — no
 * server, a timeout, a 503, an answer that is not NORA's — is 1 here, with the reason on stderr.
 */
import { isRecord } from '../config/load.ts';
import { httpRequest } from '../core/http-client.ts';
import { redactText } from '../core/redact.ts';
import { readAllBounded } from '../core/streams.ts';

/** What one probe found: `ok` decides the exit code (0 or 1), `line` says why. */
export interface HealthcheckResult {
  readonly ok: boolean;
  readonly line: string;
}

export interface HealthcheckOptions {
  /** The whole exchange (connect, headers, body), in milliseconds. */
  readonly timeoutMs: number;
  /** Probe `/ready` (storage and database answer) instead of `/health`. */
  readonly ready?: boolean;
  /** A `degraded` server (storage or database not writable, disk full) counts as unhealthy. */
  readonly strict?: boolean;
}

/** /health is a few hundred bytes: a longer answer is not NORA's (readAllBounded refuses it). */
const MAX_ANSWER_BYTES = 256 * 1024;

/**
 * Probes `<base>/health` (or `/ready`) once. Never throws: a refused connection, a timeout, a
 * status other than 200, a body that is not NORA's JSON are each `{ok: false}` with the reason.
 * `/health`'s `status` decides (`healthy`; `degraded` too unless `strict`; `unhealthy` never),
 * `/ready`'s is `ready`.
 */
export async function probeHealth(
  base: string,
  options: HealthcheckOptions,
): Promise<HealthcheckResult> {
  if (options.ready === true && options.strict === true) {
    // --strict asks about writes, which /ready does not answer: /health is asked too.
    const ready = await probeOnce(base, options);
    return ready.ok ? probeOnce(base, { ...options, ready: false }) : ready;
  }
  return probeOnce(base, options);
}

/**
 * `<base>/health` or `/ready`: a base already ending in either (`--url http://h:4000/health`) is
 * taken as the server's root, and credentials in it are never printed (trial 24 opsA F3, F13).
 */
function probeUrl(base: string, ready: boolean): { url: string; shown: string } | undefined {
  let parsed: URL;
  try {
    parsed = new URL(base);
  } catch {
    return undefined;
  }
  // `user:pw@host:4000` (the scheme forgotten) parses as a URL of scheme `user:`.
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') return undefined;
  parsed.pathname = `${parsed.pathname.replace(/\/+$/, '').replace(/\/(?:health|ready)$/, '')}${ready ? '/ready' : '/health'}`;
  const url = parsed.toString();
  parsed.username = '';
  parsed.password = '';
  // A `?token=…` is a credential too (trial 26 opsR F6).
  return { url, shown: redactText(parsed.toString()) };
}

async function probeOnce(base: string, options: HealthcheckOptions): Promise<HealthcheckResult> {
  const target = probeUrl(base, options.ready === true);
  if (target === undefined) {
    return {
      ok: false,
      line: `unhealthy: ${withoutUserinfo(base)} is not an http:// or https:// URL`,
    };
  }
  const { url: address, shown: url } = target;
  let status: number;
  let text: string;
  let challenge: string | undefined;
  try {
    const answer = await httpRequest(address, {
      signal: AbortSignal.timeout(options.timeoutMs),
      headers: { accept: 'application/json' },
    });
    status = answer.status;
    challenge = answer.header('www-authenticate');
    text = (await readAllBounded(answer.body, MAX_ANSWER_BYTES, 'answer')).toString('utf8');
  } catch (err) {
    return { ok: false, line: `unhealthy: ${url}: ${failure(err, options.timeoutMs)}` };
  }
  const body = parseObject(text);
  if (body === undefined || typeof body['status'] !== 'string') {
    return { ok: false, line: `unhealthy: ${url} ${notNoraStatus(url, status, challenge)}` };
  }
  return options.ready === true
    ? readyResult(url, status, body)
    : healthResult(url, status, body, options.strict === true);
}

function healthResult(
  url: string,
  status: number,
  body: Record<string, unknown>,
  strict: boolean,
): HealthcheckResult {
  const state = body['status'] as string;
  const version = typeof body['version'] === 'string' ? ` NORA ${body['version']}` : '';
  const uptime =
    typeof body['uptime_seconds'] === 'number'
      ? `, up ${Math.round(body['uptime_seconds'])} s`
      : '';
  if (status === 200 && state === 'healthy') {
    return { ok: true, line: `healthy:${version} at ${url}${uptime}` };
  }
  if (status === 200 && state === 'degraded') {
    // Reads go on while uploads fail: a restart does not mend a full or read-only disk, so by
    // default an orchestrator is not told to restart (or stop routing to) a server that serves.
    return {
      ok: !strict,
      line: `degraded:${version} at ${url}${uptime}: ${degradedReasons(body)}${strict ? ' (--strict: unhealthy)' : ''}`,
    };
  }
  return { ok: false, line: `unhealthy: ${url} answered ${status}, status "${state}"` };
}

function readyResult(
  url: string,
  status: number,
  body: Record<string, unknown>,
): HealthcheckResult {
  if (status === 200 && body['status'] === 'ready') return { ok: true, line: `ready: ${url}` };
  const reason = typeof body['reason'] === 'string' ? `: ${body['reason']}` : '';
  return { ok: false, line: `not ready: ${url} answered ${status}${reason}` };
}

/** Why /health says `degraded`: its storage and database parts, in its own words. */
function degradedReasons(body: Record<string, unknown>): string {
  const reasons: string[] = [];
  const storage = asRecord(body['storage']);
  if (storage?.['writable'] === false) {
    reasons.push(`storage not writable (${stringOr(storage['write_error'], 'no reason given')})`);
  }
  if (storage?.['full'] === true) reasons.push('storage met a full disk');
  const database = asRecord(body['database']);
  if (database?.['writable'] === false) {
    reasons.push(`database not writable (${stringOr(database['write_error'], 'no reason given')})`);
  }
  if (database?.['full'] === true) reasons.push('database met a full disk');
  const failing = reasons.length;
  // Nearly full (storage/free-space.ts): the next big upload fails, small ones may still pass.
  if (typeof storage?.['low_space'] === 'string') {
    reasons.push(`storage disk nearly full (${storage['low_space']})`);
  }
  if (reasons.length === 0) return 'uploads may fail';
  return `${reasons.join('; ')}: uploads ${failing === 0 ? 'may ' : ''}fail`;
}

/**
 * An answer without NORA's JSON status, said as what it likely means. Every NORA answers
 * `/health` at its root, so a 404 at a `--url` with a path before `/health`
 * (`http://h:4000/raw/`) is that path, not another server (trial 25 ops F12). With auth on,
 * NORA answers that path 401 (or 403) with its own challenge (`Basic realm="nora"`, or the
 * registry's `Bearer realm="…/v2/token"` under /v2/): the same path, so the same hint
 * (trial 32 ops).
 */
function notNoraStatus(url: string, status: number, challenge: string | undefined): string {
  const path = new URL(url).pathname.replace(/\/(?:health|ready)$/, '');
  if (
    path !== '' &&
    (status === 404 || ((status === 401 || status === 403) && isNoraChallenge(challenge)))
  ) {
    return `answered ${status}: no /health under ${path}/ (a --url names the server's root, such as http://host:4000, or its /health; not a repository's URL)`;
  }
  return `answered ${status} without NORA's JSON status (is another server on that port?)`;
}

/** NORA's own `WWW-Authenticate` (http/format-errors.ts, formats/oci/token.ts). */
function isNoraChallenge(challenge: string | undefined): boolean {
  if (challenge === undefined) return false;
  return (
    /^Basic realm="nora"/i.test(challenge) || /^Bearer realm="[^"]*\/v2\/token"/i.test(challenge)
  );
}

/**
 * A failed exchange as a reader wants it, on one line: the timeout, a refused connection, a TLS
 * handshake that failed (OpenSSL's multi-line text reduced to its reason: an https:// URL of a
 * plain-HTTP server gives `wrong version number`; trial 25 ops F12), or the error's first line.
 */
function failure(err: unknown, timeoutMs: number): string {
  const error = err as Error & { code?: string; reason?: string; library?: string };
  if (error.name === 'TimeoutError' || error.name === 'AbortError') {
    return `no answer within ${timeoutMs / 1000} s`;
  }
  if (error.code === 'ECONNREFUSED') return 'connection refused (no server listening there)';
  if (error.code === 'ERR_SSL_WRONG_VERSION_NUMBER') {
    return 'TLS handshake failed (wrong version number): is the server plain HTTP? use http://';
  }
  if (error.code?.startsWith('ERR_SSL_') === true || error.library === 'SSL routines') {
    const reason = error.reason ?? error.code ?? 'unknown reason';
    return `TLS handshake failed (${reason})`;
  }
  return firstLine(error.message);
}

/** The first non-blank line of `text`, trimmed (an error message may end in a newline). */
function firstLine(text: string): string {
  return (
    text
      .split('\n')
      .map((line) => line.trim())
      .find((line) => line !== '') ?? text.trim()
  );
}

function parseObject(text: string): Record<string, unknown> | undefined {
  try {
    return asRecord(JSON.parse(text));
  } catch {
    return undefined;
  }
}

/**
 * A `--url` that does not parse, shown without what looks like credentials: everything before
 * its last `@` (`http://u:pw@h:99999/` → `[redacted]@h:99999/`), wherever a typo put the
 * scheme's `://` (`http//u:pw@h`, `//u:pw@h`: trial 26 opsR F5), then the project's redaction
 * (a `?token=`). A mistyped URL is exactly when the password would reach the health log
 * (trial 25 ops F1); hiding a path with an `@` too is the lesser harm.
 */
function withoutUserinfo(text: string): string {
  const at = text.lastIndexOf('@');
  return redactText(at === -1 ? text : `[redacted]@${text.slice(at + 1)}`);
}

function asRecord(value: unknown): Record<string, unknown> | undefined {
  return isRecord(value) ? value : undefined;
}

function stringOr(value: unknown, fallback: string): string {
  return typeof value === 'string' ? value : fallback;
}

/**
 * What every format's proxy does with its upstream list (the copies these replace were the same
 * loop in each format): make the engine's targets of a repository's `upstreams`, and ask them in
 * order until one has the item — the first hit wins, a 404 moves on, a failure moves on too but
 * is what the client hears when no upstream had it. For mutable metadata read first hit (Cargo
 * index files, PyPI pages), the same order as the engine's refresh (`refreshInOrder`), with the
 * revalidating GET (`fetchRevalidated`) and the one rule that makes a failure the upstream's
 * (`upstreamFailure`).
 */
import { RegistryError } from '../core/errors.ts';
import { readAllBounded } from '../core/streams.ts';
import { isUpstreamFailure, type ProxyEngine, type Refresh } from './engine.ts';
import type { CachedEntry } from './state.ts';
import { conditionalHeaders, validatorsOf } from './validators.ts';
import {
  answeredAbsent,
  toUpstreamError,
  type UpstreamClient,
  type UpstreamResponse,
  type UpstreamTarget,
} from './upstream-client.ts';

/** The part of a repository the targets are made from. */
export interface UpstreamsOf {
  readonly name: string;
  readonly upstreams: readonly { readonly url: string; readonly auth?: string | undefined }[];
}

/**
 * `repo.upstreams` as engine targets, in order, with preemptive Basic credentials. Labels are
 * `<repository>#<index>`: the key of the circuit breaker and of a cached row's `upstream`, so they
 * must stay what they are. `readTimeoutSeconds` defaults to `timeoutSeconds`, `wholeTimeoutSeconds`
 * (engine.ts UpstreamDefinition) to none; `url` rewrites an
 * upstream's configured URL (e.g. Cargo's index root).
 */
export function repositoryTargets(
  engine: Pick<ProxyEngine, 'upstream'>,
  repo: UpstreamsOf,
  options: {
    readonly timeoutSeconds: number;
    readonly readTimeoutSeconds?: number;
    readonly wholeTimeoutSeconds?: number;
    readonly url?: (configured: string) => string;
  },
): UpstreamTarget[] {
  return repo.upstreams.map((u, index) =>
    engine.upstream({
      label: `${repo.name}#${index}`,
      registry: repo.name,
      url: options.url ? options.url(u.url) : u.url,
      credentials: u.auth,
      auth: 'basic',
      timeoutSeconds: options.timeoutSeconds,
      readTimeoutSeconds: options.readTimeoutSeconds ?? options.timeoutSeconds,
      ...(options.wholeTimeoutSeconds === undefined
        ? {}
        : { wholeTimeoutSeconds: options.wholeTimeoutSeconds }),
    }),
  );
}

/** What an attempt answers when its upstream does not have the item (404, nothing usable). */
export const ABSENT: unique symbol = Symbol('absent from this upstream');

/**
 * The outcome of asking every upstream: the first hit; `absent` when every upstream answered
 * ABSENT; `failed` with the last failure (as `onError` made it) when none had it and at least one
 * failed — a failure outranks a 404, since the item may be on the upstream that failed.
 */
export type Asked<R> =
  | { readonly kind: 'hit'; readonly value: R }
  | { readonly kind: 'absent' }
  | { readonly kind: 'failed'; readonly error: unknown };

/**
 * Asks `targets` one after the other with `attempt` (never two at once: the order is the
 * precedence, and a later upstream is not asked once one has the item). A throw from `attempt`
 * is that upstream's failure: `onError(err, target)` (default: `err` itself) is kept and the next
 * upstream is asked.
 */
export async function askInOrder<R>(
  targets: readonly UpstreamTarget[],
  attempt: (target: UpstreamTarget, index: number) => Promise<R | typeof ABSENT>,
  onError: (err: unknown, target: UpstreamTarget) => unknown = (err) => err,
): Promise<Asked<R>> {
  let failed = false;
  let failure: unknown;
  for (const [index, target] of targets.entries()) {
    try {
      const answer = await attempt(target, index);
      if (answer !== ABSENT) return { kind: 'hit', value: answer };
    } catch (err) {
      failed = true;
      failure = onError(err, target);
    }
  }
  return failed ? { kind: 'failed', error: failure } : { kind: 'absent' };
}

/**
 * Any failure while reading from upstream `label` is that upstream's failure (502/504), never a
 * 500: an upstream failure passes as it is, another RegistryError (an oversized or unreadable
 * document: the upstream's fault, not the client's) becomes UPSTREAM_FAILED naming `what`, and
 * anything else is a transport error (toUpstreamError).
 */
export function upstreamFailure(err: unknown, label: string, what: string): RegistryError {
  if (err instanceof RegistryError) {
    if (isUpstreamFailure(err)) return err;
    return new RegistryError('UPSTREAM_FAILED', `upstream ${label} for ${what}: ${err.message}`, {
      cause: err,
    });
  }
  return toUpstreamError(err, label);
}

/** What one upstream answered a (revalidating) GET of a metadata document. */
export type Revalidated =
  | {
      readonly kind: 'document';
      readonly body: Buffer;
      /** Its Content-Type. */
      readonly type: string | undefined;
      readonly etag: string | undefined;
      /** Its Last-Modified, epoch ms. */
      readonly modifiedAt: number | undefined;
    }
  | {
      readonly kind: 'unchanged';
      /** The 304's ETag, else the stored one. */
      readonly etag: string | undefined;
      /** The 304's Last-Modified (epoch ms), else the stored one. */
      readonly modifiedAt: number | undefined;
    }
  | { readonly kind: 'absent' };

/**
 * GETs the metadata document at `path` from `target`, revalidating the cached copy when it came
 * from this upstream (If-None-Match with its ETag, If-Modified-Since with its Last-Modified: an
 * upstream that sends no ETag is asked too). A status in `absent` says the upstream does not have it;
 * any status but 200 (or a 304 to our validator) is the upstream's failure; the body is read
 * whole, at most `maxBytes` (with `refuseDeclared`, a larger Content-Length is refused before any
 * of it is read). `what` names the document in messages (`the page of x`). `check` judges a 200's
 * body: a reason (e.g. an HTML page where the format's document belongs) makes it the upstream's
 * failure (UPSTREAM_FAILED naming it, counted by the circuit breaker as a 5xx is), so the cached
 * copy is kept and served stale. Errors are thrown as they are: the caller makes them the
 * upstream's (upstreamFailure).
 */
export async function fetchRevalidated(
  client: Pick<UpstreamClient, 'request'>,
  target: UpstreamTarget,
  cached: CachedEntry | undefined,
  request: {
    readonly path: string;
    readonly accept?: string;
    readonly absent: readonly number[];
    readonly maxBytes: number;
    readonly refuseDeclared?: boolean;
    readonly what: string;
    readonly check?: (body: Buffer) => string | undefined;
  },
): Promise<Revalidated> {
  const conditions = conditionalHeaders(cached, target);
  const revalidate = Object.keys(conditions).length > 0;
  const response = await client.request(target, {
    method: 'GET',
    path: request.path,
    wholeDeadline: true,
    headers: {
      ...(request.accept === undefined ? {} : { accept: request.accept }),
      'accept-encoding': 'identity',
      ...conditions,
    },
    callerVerdict: request.check !== undefined,
  });
  // Every path below gives the breaker its verdict (only the first counts).
  let ok = true;
  try {
    return await readRevalidated(response, target, cached, request, revalidate, (reason) => {
      ok = false;
      return new RegistryError(
        'UPSTREAM_FAILED',
        `upstream ${target.label}: ${request.what} is not valid (${reason})`,
        { detail: { upstream: target.label, reason: `sent an invalid document (${reason})` } },
      );
    });
  } finally {
    // A body that broke off is judged by the client (its 'error' listener).
    if (response.body.errored === null) response.settle?.(ok);
  }
}

/** fetchRevalidated once the response is in; `invalid` makes a `check` reason the error. */
async function readRevalidated(
  response: UpstreamResponse,
  target: UpstreamTarget,
  cached: CachedEntry | undefined,
  request: Parameters<typeof fetchRevalidated>[3],
  revalidate: boolean,
  invalid: (reason: string) => RegistryError,
): Promise<Revalidated> {
  if (response.status === 304 && revalidate && cached !== undefined) {
    response.body.destroy();
    const sent = validatorsOf(response);
    return {
      kind: 'unchanged',
      etag: sent.etag ?? cached.etag,
      modifiedAt: sent.modifiedAt ?? cached.modifiedAt,
    };
  }
  if (answeredAbsent(response, target.label, request.what, request.absent)) {
    return { kind: 'absent' };
  }
  if (request.refuseDeclared === true) {
    const length = Number(response.header('content-length'));
    if (Number.isFinite(length) && length > request.maxBytes) {
      response.body.destroy();
      throw new RegistryError(
        'UPSTREAM_FAILED',
        `upstream ${target.label}: ${request.what} exceeds ${request.maxBytes} bytes`,
      );
    }
  }
  const body = await readAllBounded(
    response.body,
    request.maxBytes,
    `upstream ${target.label}: ${request.what}`,
  );
  const reason = request.check?.(body);
  if (reason !== undefined) throw invalid(reason);
  return {
    kind: 'document',
    body,
    type: response.header('content-type'),
    ...validatorsOf(response),
  };
}

/**
 * The engine's refresh (ProxyEngine.resolve) of a metadata document read FIRST HIT over the
 * upstreams in order, never merged (the dependency-confusion reason the PyPI proxy gives):
 *
 * - `fetch` asks one upstream; a throw is that upstream's failure (kept as `onError` makes it)
 *   and the next one is asked, as after an absent answer;
 * - a copy cached from an earlier upstream (`cachedFrom`: its index, -1 for none) is not switched
 *   to a later upstream's while the earlier one fails: once a later upstream answers, the
 *   failure is thrown (the engine serves the cached copy stale);
 * - `unchanged` ends it (the cached copy, from this upstream, is current);
 * - a new document goes to `store`, which answers the engine's `updated`, or ABSENT when the
 *   document holds nothing usable (as good as absent from this upstream); a throw is this
 *   upstream's failure.
 *
 * Absent from every upstream: `absent`; else the last failure (or UPSTREAM_FAILED naming `what`).
 */
export async function refreshInOrder(
  targets: readonly UpstreamTarget[],
  cachedFrom: number,
  steps: {
    readonly fetch: (target: UpstreamTarget) => Promise<Revalidated>;
    readonly store: (
      document: Extract<Revalidated, { kind: 'document' }>,
      target: UpstreamTarget,
      index: number,
    ) => Promise<Refresh | typeof ABSENT>;
    readonly onError: (err: unknown, target: UpstreamTarget) => RegistryError;
    readonly what: string;
  },
): Promise<Refresh> {
  let failure: RegistryError | undefined;
  let absent = 0;
  for (const [index, target] of targets.entries()) {
    let fetched: Revalidated;
    try {
      fetched = await steps.fetch(target);
    } catch (err) {
      failure = steps.onError(err, target);
      continue;
    }
    if (fetched.kind === 'absent') {
      absent++;
      continue;
    }
    // Our copy came from an earlier upstream that failed just now: keep it (served stale)
    // rather than switch to a later upstream's content.
    if (failure !== undefined && cachedFrom >= 0 && cachedFrom < index) throw failure;
    if (fetched.kind === 'unchanged') {
      return {
        kind: 'unchanged',
        etag: fetched.etag,
        modifiedAt: fetched.modifiedAt,
        upstream: target.label,
      };
    }
    try {
      const stored = await steps.store(fetched, target, index);
      if (stored !== ABSENT) return stored;
      absent++;
    } catch (err) {
      failure = steps.onError(err, target);
    }
  }
  if (absent === targets.length) return { kind: 'absent' };
  throw failure ?? new RegistryError('UPSTREAM_FAILED', `no upstream answered for ${steps.what}`);
}

/**
 * An error while fetching `what` from the upstreams, as an upstream failure (502 class): an
 * upstream failure passes as it is; another RegistryError (an upstream's oversized or mismatching
 * body: its fault, not the client's) becomes `upstream <label> failed for <what>: …`; anything
 * else is the transport error of `label`, or `the upstreams failed for <what>` when no single
 * upstream is named (the Go and Maven proxies' wording; see upstreamFailure for Cargo's and PyPI's).
 */
export function asUpstreamError(err: unknown, what: string, label?: string): RegistryError {
  if (err instanceof RegistryError && isUpstreamFailure(err)) return err;
  if (err instanceof RegistryError) {
    return new RegistryError(
      'UPSTREAM_FAILED',
      `upstream ${label ?? ''} failed for ${what}: ${err.message}`.replace('  ', ' '),
      { cause: err },
    );
  }
  if (label !== undefined) return toUpstreamError(err, label);
  return new RegistryError('UPSTREAM_FAILED', `the upstreams failed for ${what}`, { cause: err });
}

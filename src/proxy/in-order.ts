/**
 * What every format's proxy does with its upstream list (the copies these replace were the same
 * loop in each format): make the engine's targets of a repository's `upstreams`, and ask them in
 * order until one has the item — the first hit wins, a 404 moves on, a failure moves on too but
 * is what the client hears when no upstream had it.
 */
import type { ProxyEngine } from './engine.ts';
import type { UpstreamTarget } from './upstream-client.ts';

/** The part of a repository the targets are made from. */
export interface UpstreamsOf {
  readonly name: string;
  readonly upstreams: readonly { readonly url: string; readonly auth?: string | undefined }[];
}

/**
 * `repo.upstreams` as engine targets, in order, with preemptive Basic credentials. Labels are
 * `<repository>#<index>`: the key of the circuit breaker and of a cached row's `upstream`, so they
 * must stay what they are. `readTimeoutSeconds` defaults to `timeoutSeconds`; `url` rewrites an
 * upstream's configured URL (e.g. Cargo's index root).
 */
export function repositoryTargets(
  engine: Pick<ProxyEngine, 'upstream'>,
  repo: UpstreamsOf,
  options: {
    readonly timeoutSeconds: number;
    readonly readTimeoutSeconds?: number;
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

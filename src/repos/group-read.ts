/**
 * The one rule every format's group reads by (DESIGN.md §4, "a failing member is not here"):
 *
 * - A member whose upstream cannot be used — unreachable, timed out, open circuit, an upstream
 *   5xx or garbage, i.e. `isUpstreamFailure` — counts as "not here" for that read. The group
 *   answers with what the other members say: the first that has it, or the merge of those that
 *   answered.
 * - When nobody has it and some member failed, the answer is the protocol's 404 (the format
 *   builds it) whose message names what failed, e.g.
 *   `manifest unknown: v1 (upstream docker-proxy/0 unreachable: ECONNREFUSED)`, so the user still
 *   learns why. Never a 502 when another member answered.
 * - Each failing member is counted in `nora_group_member_failures_total{repository,member}` and
 *   the read logs one warning naming every failure.
 * - A repository that is not a group (a proxy addressed alone) keeps its failures: the read
 *   rethrows them, and the format answers 502/504 for an uncached miss.
 *
 * Also here, so every format's group applies it the same way: which members may answer for a
 * name (`protect_hosted_names`, the dependency-confusion guard: a name with hosted content is
 * served from hosted members only).
 */
import type { Counter } from 'prom-client';
import { isRegistryError, type RegistryError } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import { isUpstreamFailure } from '../proxy/engine.ts';
import type { Repository } from './repository.ts';

/** One member that could not answer a group read. */
export interface MemberFailure {
  readonly member: string;
  /** Host-free label of the upstream (`docker-proxy/0`, `npm-proxy#0`), or the member's name. */
  readonly upstream: string;
  /** Short reason: an errno code (`ECONNREFUSED`), `timeout`, `circuit open`, `HTTP 503`. */
  readonly reason: string;
}

/** What a group read answered: each member's answer in member order (undefined: absent or failed). */
export interface GroupAnswers<M, T> {
  readonly answers: readonly { readonly member: M; readonly value: T }[];
  readonly failures: readonly MemberFailure[];
}

export interface GroupReaderDeps {
  readonly log: Logger;
  /** `nora_group_member_failures_total{repository,member}` (declared in src/metrics). */
  readonly failures: Counter<'repository' | 'member'>;
}

/**
 * What every format's group source is built from (cargo, go, helm, maven, pypi, raw): the shared
 * reader, the group's members, and each member's own source `S` (the format's hosted or proxy
 * source). A format adds its guard's question (does a hosted member hold a name?) by extending it.
 */
export interface GroupDeps<S> {
  readonly reader: GroupReader;
  /**
   * The members of a group, in read order (RepositoryRegistry.membersOf). With `path`, the rule
   * path of the name read (what the access check uses, docs/auth.md "Permissions"): only the
   * members that may answer for it — where a rule reserved the path for some members, those
   * alone, so another member never shadows (or adds to) the reserving member's file. Every read
   * of a name passes its path; only reads of no name (a root listing) leave it out.
   */
  readonly membersOf: (group: Repository, path?: string) => readonly Repository[];
  /** The source answering for one (non-group) member repository, hosted or proxy. */
  readonly sourceOf: (member: Repository) => S;
}

/** Anything a group reads through: a member backend (OCI) or the member repository itself (npm). */
export type MemberOf = { readonly repository: Repository } | Repository;

function repositoryOf(member: MemberOf): Repository {
  return 'repository' in member ? member.repository : member;
}

export class GroupReader {
  readonly #deps: GroupReaderDeps;

  constructor(deps: GroupReaderDeps) {
    this.#deps = deps;
  }

  /**
   * Asks `members` in order and returns the first answer that is not undefined. Failing members
   * (see the module comment) are skipped. When nobody answered: undefined if no member failed,
   * else the error `miss(note)` builds, `note` being ` (upstream X unreachable: CODE; …)`.
   * `group` is the repository the client addressed: when it is not a group, a failure is rethrown.
   */
  async first<M extends MemberOf, T>(
    group: Repository,
    members: readonly M[],
    read: (member: M) => Promise<T | undefined>,
    miss: (note: string) => Error,
    guard?: NameGuard<M>,
  ): Promise<T | undefined> {
    const failures: MemberFailure[] = [];
    try {
      for (const member of members) {
        if (guard !== undefined && !(await guard.allows(member))) continue;
        const value = await this.#ask(group, member, read, failures);
        if (value !== undefined) return value;
      }
    } finally {
      this.#report(group, failures);
    }
    if (failures.length > 0) throw miss(missNote(failures));
    return undefined;
  }

  /**
   * Asks every member in order (for merges: tags, catalog, referrers, packuments). Returns the
   * answers of the members that had something, in member order, and the failures; the caller
   * merges, and on an empty merge with failures answers `miss(missNote(failures))`.
   */
  async all<M extends MemberOf, T>(
    group: Repository,
    members: readonly M[],
    read: (member: M) => Promise<T | undefined>,
    guard?: NameGuard<M>,
  ): Promise<GroupAnswers<M, T>> {
    const failures: MemberFailure[] = [];
    const answers: { member: M; value: T }[] = [];
    try {
      for (const member of members) {
        if (guard !== undefined && !(await guard.allows(member))) continue;
        const value = await this.#ask(group, member, read, failures);
        if (value !== undefined) answers.push({ member, value });
      }
    } finally {
      this.#report(group, failures);
    }
    return { answers, failures };
  }

  /**
   * `all` for a merge that is nothing without an answer: the answers of the members that had
   * something (never empty), in member order; when nobody had it, undefined if no member failed,
   * else the error `miss(note)` builds (as `first`).
   */
  async some<M extends MemberOf, T>(
    group: Repository,
    members: readonly M[],
    read: (member: M) => Promise<T | undefined>,
    miss: (note: string) => Error,
    guard?: NameGuard<M>,
  ): Promise<GroupAnswers<M, T>['answers'] | undefined> {
    const { answers, failures } = await this.all(group, members, read, guard);
    if (answers.length > 0) return answers;
    if (failures.length > 0) throw miss(missNote(failures));
    return undefined;
  }

  async #ask<M extends MemberOf, T>(
    group: Repository,
    member: M,
    read: (member: M) => Promise<T | undefined>,
    failures: MemberFailure[],
  ): Promise<T | undefined> {
    try {
      return await read(member);
    } catch (err) {
      if (group.kind !== 'group' || !isUpstreamFailure(err)) throw err;
      const name = repositoryOf(member).name;
      failures.push(describeFailure(name, err as RegistryError));
      this.#deps.failures.inc({ repository: group.name, member: name });
      return undefined;
    }
  }

  /** One warning per group read, naming every member that failed (never a credential or host). */
  #report(group: Repository, failures: readonly MemberFailure[]): void {
    if (failures.length === 0) return;
    this.#deps.log.warn(
      { repository: group.name, failures },
      `group ${group.name}: ${failures.map((f) => `upstream ${f.upstream} ${verb(f)} (${f.reason})`).join('; ')}; answering from the other members`,
    );
  }
}

/**
 * ` (upstream docker-proxy/0 unreachable: ECONNREFUSED)` or ` (upstream pypi-proxy#0 failed:
 * content does not match its digest)` — appended to a group's 404 message.
 */
export function missNote(failures: readonly MemberFailure[]): string {
  if (failures.length === 0) return '';
  return ` (${failures.map((f) => `upstream ${f.upstream} ${verb(f)}: ${f.reason}`).join('; ')})`;
}

/** "unreachable" for a connection that failed (an errno code, a timeout, an open circuit), else "failed". */
function verb(failure: MemberFailure): string {
  return /^[A-Z][A-Z0-9_]+$|^timeout$|^circuit open$/.test(failure.reason)
    ? 'unreachable'
    : 'failed';
}

/**
 * Reduces an upstream error to its host-free label and a short reason. The upstream client puts
 * both in the error's detail (`{upstream, reason}`: transport failures, timeouts, open circuits);
 * errors raised elsewhere (an upstream's bad answer) fall back to their message's wording.
 */
export function describeFailure(member: string, err: RegistryError): MemberFailure {
  const detail = isRecordDetail(err.detail) ? err.detail : {};
  const upstream =
    typeof detail['upstream'] === 'string'
      ? detail['upstream']
      : (UPSTREAM_LEAD.exec(err.message)?.[1] ?? member);
  if (typeof detail['reason'] === 'string') return { member, upstream, reason: detail['reason'] };
  if (err.code === 'UPSTREAM_TIMEOUT') return { member, upstream, reason: 'timeout' };
  const status = /answered (\d{3})/.exec(err.message)?.[1];
  const code = /\(([A-Z_0-9]+)\)$/.exec(err.message)?.[1];
  const invalid = err.message.includes('invalid response') ? 'invalid response' : undefined;
  const digest = err.message.includes('does not match its digest')
    ? 'content does not match its digest'
    : undefined;
  return {
    member,
    upstream,
    reason:
      status !== undefined ? `HTTP ${status}` : (code ?? invalid ?? digest ?? said(err.message)),
  };
}

/** `upstream <label> ` leading a message: a label is `<repository>#<n>` or `<repository>/<n>`. */
const UPSTREAM_LEAD = /^upstream (\S+[#/]\d+):?\s*/;

/**
 * What an upstream failure's message says after its `upstream <label>` lead (`sent an invalid
 * x.mod: not a go.mod`), so a 404 names the cause rather than "failed"; "failed" when the rest is
 * empty, long, or holds a URL (a reason never names a host).
 */
function said(message: string): string {
  const rest = message.replace(UPSTREAM_LEAD, '').trim();
  return rest === '' || rest.length > 200 || rest.includes('://') ? 'failed' : rest;
}

function isRecordDetail(detail: unknown): detail is Record<string, unknown> {
  return typeof detail === 'object' && detail !== null;
}

/** Decides, per member, whether it may answer for one name (see `hostedNameGuard`). */
export interface NameGuard<M> {
  allows(member: M): Promise<boolean>;
}

/**
 * The dependency-confusion guard of `protect_hosted_names`, for one name in one group: a hosted
 * member may always answer; any other member (a proxy) only when no hosted member has the name.
 * `hostedHas` tells whether one hosted member holds (or ever held) the name; it is asked lazily,
 * once, when the first non-hosted member comes up, so a read that a hosted member answers costs
 * nothing extra. A group with `protect_hosted_names = false`, or a non-group, allows every member.
 */
export function hostedNameGuard<M extends MemberOf>(
  group: Repository,
  members: readonly M[],
  hostedHas: (member: M) => Promise<boolean>,
): NameGuard<M> {
  let hostedName: Promise<boolean> | undefined;
  const anyHosted = async (): Promise<boolean> => {
    for (const member of members) {
      if (repositoryOf(member).kind === 'hosted' && (await hostedHas(member))) return true;
    }
    return false;
  };
  return {
    async allows(member) {
      if (group.kind !== 'group' || !group.protectHostedNames) return true;
      if (repositoryOf(member).kind === 'hosted') return true;
      hostedName ??= anyHosted();
      return !(await hostedName);
    },
  };
}

/** True when `err` is a 404 a group built for a miss (callers that probe treat it as absent). */
export function isNotFound(err: unknown): boolean {
  return isRegistryError(err) && err.code === 'NOT_FOUND';
}

/**
 * The last merge of a group read per key (`<group>\n<name>`) and the member answers it was made
 * of: the same answers (a member hands out the same object while its content is unchanged) give
 * back the same merged object, which render caches recognise by identity. At most `max` keys: the
 * oldest merge goes first.
 */
export class MergeMemo<P, R> {
  readonly #max: number;
  readonly #merges = new Map<string, { readonly parts: readonly P[]; readonly merged: R }>();

  constructor(max: number) {
    this.#max = max;
  }

  /** The merge of `key` when it was made of exactly `parts` (the same objects, in order). */
  get(key: string, parts: readonly P[]): R | undefined {
    const kept = this.#merges.get(key);
    if (
      kept !== undefined &&
      kept.parts.length === parts.length &&
      kept.parts.every((part, i) => part === parts[i])
    ) {
      return kept.merged;
    }
    return undefined;
  }

  /** Keeps `merged`, made of `parts`, as the newest merge of `key`. */
  set(key: string, parts: readonly P[], merged: R): void {
    this.#merges.delete(key);
    if (this.#merges.size >= this.#max) {
      const oldest = this.#merges.keys().next();
      if (oldest.done !== true) this.#merges.delete(oldest.value);
    }
    this.#merges.set(key, { parts, merged });
  }
}

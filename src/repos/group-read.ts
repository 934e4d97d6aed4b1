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
 * served from hosted members only). When the guard kept a member out of a read nobody answered,
 * the 404 says so too (`missNote`): `not found: example.org/lib@v1.0.0 (example.org/lib is hosted
 * in go-hosted, so group go does not ask its proxies for it: protect_hosted_names)`, so a version
 * the proxy still has is not a silent mystery.
 */
import type { Counter } from 'prom-client';
import { noteServedBy } from '../audit/requests.ts';
import { isRegistryError, RegistryError } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import { isUpstreamFailure } from '../proxy/engine.ts';
import type { Members, Repository, Reservation } from './repository.ts';

/** One member that could not answer a group read. */
export interface MemberFailure {
  readonly member: string;
  /** Host-free label of the upstream (`docker-proxy/0`, `npm-proxy#0`), or the member's name. */
  readonly upstream: string;
  /** Short reason: an errno code (`ECONNREFUSED`), `timeout`, `circuit open`, `HTTP 503`. */
  readonly reason: string;
  /**
   * The upstream answered, with a copy that cannot be used (a damaged archive, bytes not matching
   * their checksum, an invalid checksum file): the error's detail says `badCopy: true`. Its note
   * says "answered" rather than "failed" (trial 23 fmts F5).
   */
  readonly badCopy?: boolean;
}

/** What a group read answered: each member's answer in member order (undefined: absent or failed). */
export interface GroupAnswers<M, T> {
  readonly answers: readonly { readonly member: M; readonly value: T }[];
  readonly failures: readonly MemberFailure[];
  /** What the read's guard kept out (undefined: nothing): `missNote(failures, kept)` says it. */
  readonly kept?: KeptOut | undefined;
  /**
   * What a rule reserving the name left out of the members read (theirs: `Members.reserved`),
   * for an empty merge's 404: `missNote(failures, kept, reserved)`.
   */
  readonly reserved?: Reservation | undefined;
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
  readonly membersOf: (group: Repository, path?: string) => Members;
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
   * (see the module comment) are skipped. When nobody answered: undefined if no member failed
   * and the guard kept nobody out, else the error `miss(note)` builds, `note` being
   * ` (upstream X unreachable: CODE; …)` and/or the guard's reason and the members a rule left out
   * (`members.reserved`; `missNote`). `group` is the repository the client addressed: when it is
   * not a group, a failure is rethrown.
   */
  async first<M extends MemberOf, T>(
    group: Repository,
    members: Members<M>,
    read: (member: M) => Promise<T | undefined>,
    miss: (note: string, kept?: KeptOut) => Error,
    guard?: NameGuard<M>,
  ): Promise<T | undefined> {
    const failures: MemberFailure[] = [];
    try {
      for (const member of members) {
        if (guard !== undefined && !(await guard.allows(member))) continue;
        const value = await this.#ask(group, member, read, failures);
        if (value === undefined) continue;
        // The audit event's `member` (a hosted member's pull names it as a proxy's fetch does).
        if (group.kind === 'group') noteServedBy(repositoryOf(member).name);
        return value;
      }
    } finally {
      this.#report(group, failures);
    }
    const kept = guard?.keptOut();
    const note = missNote(failures, kept, members.reserved);
    if (note !== '') throw miss(note, kept);
    return undefined;
  }

  /**
   * Asks every member in order (for merges: tags, catalog, referrers, packuments). Returns the
   * answers of the members that had something, in member order, the failures, what the guard
   * kept out and what a rule left out (`members.reserved`); the caller merges, and on an empty
   * merge with a note (`missNote(failures, kept, reserved)` not empty) answers its protocol's 404
   * with it.
   */
  async all<M extends MemberOf, T>(
    group: Repository,
    members: Members<M>,
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
    const kept = guard?.keptOut();
    const { reserved } = members;
    return {
      answers,
      failures,
      ...(kept === undefined ? {} : { kept }),
      ...(reserved === undefined ? {} : { reserved }),
    };
  }

  /**
   * `all` for a merge that is nothing without an answer: the answers of the members that had
   * something (never empty), in member order; when nobody had it, undefined if no member failed
   * and the guard kept nobody out, else the error `miss(note)` builds (as `first`).
   */
  async some<M extends MemberOf, T>(
    group: Repository,
    members: Members<M>,
    read: (member: M) => Promise<T | undefined>,
    miss: (note: string, kept?: KeptOut) => Error,
    guard?: NameGuard<M>,
  ): Promise<GroupAnswers<M, T>['answers'] | undefined> {
    const { answers, failures, kept, reserved } = await this.all(group, members, read, guard);
    if (answers.length > 0) return answers;
    const note = missNote(failures, kept, reserved);
    if (note !== '') throw miss(note, kept);
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
 * content does not match its digest)` — appended to a group's 404 message; with `kept` (the
 * guard kept members out of the read) also ` (lib is hosted in pypi-hosted, so group pypi does
 * not ask its proxies for it: protect_hosted_names)`; with `reserved` (`membersOf` left members
 * out: a rule reserves the name for others, tenth trial F5) ` (a rule on pypi-hosted reserves
 * this name: group pypi answers it from pypi-hosted only)`. Empty when there is nothing to say.
 * The one place these words are made: a format only appends the note to its protocol's 404.
 *
 * The reservation note tells nothing a caller who gets the 404 may not know: the group read was
 * authorized on the name first, and a path a member reserves is decided by that member's own
 * rules (docs/auth.md "Semantics"), so that caller may read the name in the reserving member.
 */
export function missNote(
  failures: readonly MemberFailure[],
  kept?: KeptOut,
  reserved?: Reservation,
): string {
  const parts = failures.map((f) => `upstream ${f.upstream} ${verb(f)}: ${f.reason}`);
  if (kept !== undefined) parts.push(keptOutText(kept));
  if (reserved !== undefined) parts.push(reservedText(reserved));
  return parts.length === 0 ? '' : ` (${parts.join('; ')})`;
}

/**
 * `a rule on pypi-hosted reserves this name: group pypi answers it from pypi-hosted only`; where
 * the proxies answer too (a rule granting write without read) `… answers it from pypi-hosted,
 * pypi-proxy only`.
 */
export function reservedText(reserved: Reservation): string {
  return `a rule on ${reserved.holding.join(', ')} reserves this name: group ${reserved.group} answers it from ${reserved.answering.join(', ')} only`;
}

/**
 * `lib is hosted in go-hosted, so group go does not ask its proxies for it: protect_hosted_names`;
 * for a name read that is not the hosted one (Go's module tree: a prefix or a path under a hosted
 * module) `corp.example/lib is hosted in go-hosted, so group go does not ask its proxies for
 * corp.example: protect_hosted_names`. Names only the client's name, the hosted one and
 * repository names (never an upstream host). `nameHeld` false: the hosted name, when it is not
 * the one read, is not named (`a module path in its tree is hosted in …`), for a caller who may
 * not read it (go/service.ts).
 */
export function keptOutText(kept: KeptOut, nameHeld = true): string {
  const same = kept.held === kept.name;
  const holder = same ? kept.held : nameHeld ? kept.held : 'a module path in its tree';
  const proxies = kept.members.length === 1 ? 'proxy' : 'proxies';
  return `${holder} is hosted in ${kept.hosted}, so group ${kept.group} does not ask its ${proxies} for ${same ? 'it' : kept.name}: protect_hosted_names`;
}

/**
 * "unreachable" for a connection that failed (an errno code, a timeout, an open circuit),
 * "answered" for an upstream that sent a copy that cannot be used (`answered: sent a zip archive
 * with no end record …`), else "failed".
 */
function verb(failure: MemberFailure): string {
  if (failure.badCopy === true) return 'answered';
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
  const badCopy = detail['badCopy'] === true ? { badCopy: true } : {};
  if (typeof detail['reason'] === 'string') {
    return { member, upstream, reason: detail['reason'], ...badCopy };
  }
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
    ...badCopy,
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
  /** What `allows` refused so far, and why; undefined when it refused nobody. */
  keptOut(): KeptOut | undefined;
}

/** The members a guard kept out of one read of a name, and the hosted member that made it. */
export interface KeptOut {
  /** The group read. */
  readonly group: string;
  /** The name read (a module path, a crate, a project, an image, `groupId:artifactId`, a chart). */
  readonly name: string;
  /** The hosted member holding it. */
  readonly hosted: string;
  /** The name that member holds: `name`, or (Go) the module path sharing its tree. */
  readonly held: string;
  /** The members kept out, in member order (proxies). */
  readonly members: readonly string[];
}

/**
 * The dependency-confusion guard of `protect_hosted_names`, for one name in one group: a hosted
 * member may always answer; any other member (a proxy) only when no hosted member has the name.
 * `hostedHas` tells whether one hosted member holds (or ever held) the name; it is asked lazily,
 * once, when the first non-hosted member comes up, so a read that a hosted member answers costs
 * nothing extra; it answers true, or the name the member holds when that is not `name` itself
 * (Go: a module path sharing `name`'s tree), for the 404's note (`keptOut`). A group with
 * `protect_hosted_names = false`, or a non-group, allows every member.
 */
export function hostedNameGuard<M extends MemberOf>(
  group: Repository,
  members: readonly M[],
  name: string,
  hostedHas: (member: M) => Promise<boolean | string>,
): NameGuard<M> {
  let holder: Promise<{ hosted: string; held: string } | undefined> | undefined;
  const kept: string[] = [];
  let held: { hosted: string; held: string } | undefined;
  const anyHosted = async (): Promise<{ hosted: string; held: string } | undefined> => {
    for (const member of members) {
      const repository = repositoryOf(member);
      if (repository.kind !== 'hosted') continue;
      const has = await hostedHas(member);
      if (has !== false) return { hosted: repository.name, held: has === true ? name : has };
    }
    return undefined;
  };
  return {
    async allows(member) {
      if (group.kind !== 'group' || !group.protectHostedNames) return true;
      const repository = repositoryOf(member);
      if (repository.kind === 'hosted') return true;
      holder ??= anyHosted();
      held = await holder;
      if (held === undefined) return true;
      kept.push(repository.name);
      return false;
    },
    keptOut() {
      if (held === undefined || kept.length === 0) return undefined;
      return { group: group.name, name, hosted: held.hosted, held: held.held, members: kept };
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

/**
 * A proxy member of a `protect_hosted_names` group that has served a name which a publish of a
 * new name in a hosted member of that group now takes over (the guard keeps it out from then on).
 */
export interface ShadowedProxy {
  readonly group: string;
  readonly proxy: string;
  /** The name it served: the published one, or (Go) a module path in the published one's tree. */
  readonly served: string;
}

/**
 * For a publish of the new name `name` into the hosted repository `hosted`: the proxy members of
 * each group guarding hosted names (`protect_hosted_names`) that has `hosted` among the members
 * that may answer for `name`, which have served the name — `served(proxy)` says which name it
 * served (from its cache, no upstream request), undefined when none. Asked on the first version of
 * a new name only: a cache lookup per proxy member.
 */
export async function shadowedProxies(
  groups: readonly Repository[],
  membersOf: (group: Repository, path?: string) => readonly Repository[],
  hosted: Repository,
  name: string,
  served: (proxy: Repository) => Promise<string | undefined>,
): Promise<ShadowedProxy[]> {
  const out: ShadowedProxy[] = [];
  const known = new Map<string, string | undefined>();
  for (const group of groups) {
    if (group.kind !== 'group' || !group.protectHostedNames || group.format !== hosted.format) {
      continue;
    }
    const members = membersOf(group, name);
    if (!members.some((m) => m.name === hosted.name)) continue;
    for (const proxy of members.filter((m) => m.kind === 'proxy')) {
      if (!known.has(proxy.name)) known.set(proxy.name, await served(proxy));
      const was = known.get(proxy.name);
      if (was !== undefined) out.push({ group: group.name, proxy: proxy.name, served: was });
    }
  }
  return out;
}

/**
 * One line per group for `shadowedProxies`' answer: `crate \`up-other\` is served by
 * cargo-proxy through group cargo; from now on that group serves only cargo-hosted's versions of
 * it (protect_hosted_names)`. `label` spells a name for the format (`crate \`x\``, a module path).
 * Names only the client's names and repository names (never an upstream host).
 */
export function shadowedText(
  label: (name: string) => string,
  name: string,
  hosted: string,
  shadowed: readonly ShadowedProxy[],
): string[] {
  const byGroup = new Map<string, ShadowedProxy[]>();
  for (const s of shadowed) byGroup.set(s.group, [...(byGroup.get(s.group) ?? []), s]);
  return [...byGroup].map(([group, list]) => {
    const proxies = [...new Set(list.map((s) => s.proxy))].join(', ');
    const served = [...new Set(list.map((s) => s.served))];
    if (served.length === 1 && served[0] === name) {
      return `${label(name)} is served by ${proxies} through group ${group}; from now on that group serves only ${hosted}'s versions of it and no longer asks ${proxies} (protect_hosted_names)`;
    }
    return `${served.map(label).join(', ')} (in the tree of ${label(name)}) ${served.length === 1 ? 'is' : 'are'} served by ${proxies} through group ${group}; from now on that group no longer asks ${proxies} for ${served.length === 1 ? 'it' : 'them'}, only ${hosted} (protect_hosted_names)`;
  });
}

/** What `checkTakeover` needs: the publish, how to ask a proxy, and the format's wording. */
export interface TakeoverCheck {
  /** The repositories of the publish's format (groups among them are checked). */
  readonly groups: readonly Repository[];
  readonly membersOf: (group: Repository, path?: string) => readonly Repository[];
  /** The hosted repository the new name lands in. */
  readonly target: Repository;
  /** The name as group membership paths spell it (Maven: the artifact's directory). */
  readonly path: string;
  /** How a served name reads in the lines (`artifact g:a`, `chart nginx`). */
  readonly label: (name: string) => string;
  /**
   * Whether `proxy` serves the name: 'served', 'absent', or 'unknown' (its upstream could not be
   * asked in time and nothing is cached: the publish goes ahead with a warning).
   */
  readonly serves: (proxy: Repository) => Promise<'served' | 'absent' | 'unknown'>;
  /** True when the operator allows this takeover (`[<format>] shadow_names` lists the name). */
  readonly mayShadow: boolean;
  /** The 409's message, given the shadowedText lines and the groups (comma-separated). */
  readonly refusal: (lines: readonly string[], groups: string) => string;
  /** The warning line for proxies that could not be asked (comma-separated names). */
  readonly notAsked: (proxies: string) => string;
}

/**
 * The takeover check of the first publish of a name new to a hosted repository (Maven, Helm):
 * the proxy members (of groups guarding hosted names) that serve the name would stop being asked
 * for it. Throws CONFLICT (`refusal`) when some do and `mayShadow` is false; else returns the
 * warning lines (what was taken over, which proxies could not be asked), [] for none.
 */
export async function checkTakeover(check: TakeoverCheck): Promise<string[]> {
  const unreachable = new Set<string>();
  const shadowed = await shadowedProxies(
    check.groups,
    check.membersOf,
    check.target,
    check.path,
    async (proxy) => {
      const answer = await check.serves(proxy);
      if (answer === 'unknown') unreachable.add(proxy.name);
      return answer === 'served' ? check.path : undefined;
    },
  );
  const lines = shadowedText(check.label, check.path, check.target.name, shadowed);
  if (lines.length > 0 && !check.mayShadow) {
    const groups = [...new Set(shadowed.map((s) => s.group))].join(', ');
    throw new RegistryError('CONFLICT', check.refusal(lines, groups));
  }
  const notAsked = [...unreachable].filter((proxy) => !shadowed.some((s) => s.proxy === proxy));
  if (notAsked.length > 0) lines.push(check.notAsked(notAsked.join(', ')));
  return lines;
}

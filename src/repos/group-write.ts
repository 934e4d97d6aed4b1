/**
 * The one rule every format's group writes by (DESIGN.md §4), next to the one it reads by
 * (group-read.ts): a write sent through a group lands in its write member, so a write to
 * something the write member does not hold, while the group serves it from another member, must
 * not answer "not found" (the group's own read contradicts that) nor quietly create a second copy
 * beside the one the group serves. The answer names the member that holds it:
 *
 * - held by a PROXY member: 405 (the proxy is read-only: what it serves is its upstream's);
 * - held by another HOSTED member: 405 for a change of what exists (a tag, a yank, a delete),
 *   409 for a write that would create the name in the write member (a publish, an upload, a
 *   PUT), which would put a second package of that name behind the group (dependency
 *   confusion's ground): the client is told to write to that member directly.
 *
 * `heldElsewhere` makes the decision, from a per-format probe (does this member serve or hold this
 * name?); the format words the answer in its protocol's error shape (`refusalText`,
 * `methodNotAllowed`, or its own sentence). A proxy member's probe reads its cache only: a write
 * never sends a name upstream (it may be a private name), so a name nobody read through NORA yet
 * keeps the 404. (The one exception is opt-in: npm's and PyPI's first-publish takeover check asks
 * the upstream of a proxy repository configured with `shadow_check_upstream`.)
 */
import type { AppConfig } from '../config/schema.ts';
import { raceDeadline } from '../core/deadline.ts';
import { RegistryError, type RegistryErrorOptions } from '../core/errors.ts';
import type { Repository } from './repository.ts';

/** The member of a group, not its write member, that holds what a write through it addressed. */
export interface HeldElsewhere<T> {
  /** The group the write was sent to. */
  readonly group: Repository;
  /** Its write member, which does not hold it. */
  readonly writeTo: Repository;
  /** The first member (in read order) that holds it: `hosted` or `proxy`. */
  readonly member: Repository;
  /** What the probe answered for `member` (a path held, an index file, `true`). */
  readonly held: T;
}

/** What `heldElsewhere` asks, for one write through `group` to one name. */
export interface GroupWrite<T> {
  /** The repository the write was addressed to (nothing to decide unless it is a group). */
  readonly group: Repository;
  /** Where the write lands (RepositoryRegistry.requireWriteTarget): never probed. */
  readonly writeTo: Repository;
  /** The members that may answer for the name, in read order (`membersOf(group, name)`). */
  readonly members: readonly Repository[];
  /**
   * Whether `member` holds the name: undefined or false for no. A proxy member answers from its
   * cache only. A probe that throws counts as "does not hold it" (a failing member is not here).
   */
  readonly holds: (member: Repository) => Promise<T | undefined | false>;
  /** Which kinds of member are probed (default both): Cargo asks its proxies only. */
  readonly kinds?: readonly ('hosted' | 'proxy')[];
  /**
   * The dependency-confusion guard (`protect_hosted_names`), given only when the group applies
   * it: true when the hosted member holds or ever held the name. Then no proxy member serves the
   * name, so none is probed (hosted members, the write member included, are asked).
   */
  readonly hostedClaims?: ((hosted: Repository) => Promise<boolean>) | undefined;
}

/**
 * The member of `write.group` other than its write member that holds the name, the first in
 * member order; undefined when the addressed repository is not a group (or is its own write
 * member) or no other member holds it. The caller has already found that the write member does
 * not hold it (its NOT_FOUND), or checks that first (`holds` is never asked about `writeTo`).
 */
export async function heldElsewhere<T>(
  write: GroupWrite<T>,
): Promise<HeldElsewhere<NonNullable<T>> | undefined> {
  const { group, writeTo } = write;
  if (group.kind !== 'group' || group.name === writeTo.name) return undefined;
  const kinds = write.kinds ?? ['hosted', 'proxy'];
  let guarded: Promise<boolean> | undefined;
  for (const member of write.members) {
    if (member.name === writeTo.name || member.kind === 'group') continue;
    if (!kinds.includes(member.kind)) continue;
    if (member.kind === 'proxy' && write.hostedClaims !== undefined) {
      guarded ??= anyClaims(write.members, write.hostedClaims);
      if (await guarded) continue;
    }
    const held = await write.holds(member).catch(() => undefined);
    if (held !== undefined && held !== false && held !== null) {
      return { group, writeTo, member, held };
    }
  }
  return undefined;
}

async function anyClaims(
  members: readonly Repository[],
  claims: (hosted: Repository) => Promise<boolean>,
): Promise<boolean> {
  for (const member of members) {
    if (member.kind !== 'hosted') continue;
    if (await claims(member).catch(() => false)) return true;
  }
  return false;
}

/** How a format words `refusalText` for its names. */
export interface RefusalWords {
  /** What was addressed: `package lodash`, `release 1.0 of project six`, `docs/a.txt`. */
  readonly what: string;
  /** How the format says a member has it: `hosted` (packages) or `stored` (files). */
  readonly kept: 'hosted' | 'stored';
  /** After "…from its proxy member X, which ": `is read-only (its … are the upstream's)`. */
  readonly proxy: string;
  /** After "…hosted in the group's member X; ": what to do there (`yank it there: …`). */
  readonly hosted: string;
}

/**
 * The sentence of a refusal for `held` (see the module comment):
 * `package lodash is not hosted in npm-hosted, the write member of group npm: the group serves it
 * from its proxy member npm-proxy, which is read-only (…)`, or for a hosted member
 * `… : it is hosted in the group's member npm-team, not in its write member; <words.hosted>`.
 * Names only the client's name and repository names (never an upstream host).
 */
export function refusalText(held: HeldElsewhere<unknown>, words: RefusalWords): string {
  const lead = `${words.what} is not ${words.kept} in ${held.writeTo.name}, the write member of group ${held.group.name}: `;
  return held.member.kind === 'proxy'
    ? `${lead}the group serves it from its proxy member ${held.member.name}, which ${words.proxy}`
    : `${lead}it is ${words.kept} in the group's member ${held.member.name}, not in its write member; ${words.hosted}`;
}

/** What a format says in `creationRefusal` (see there). */
export interface CreationWords {
  /** What the write would create: `package lib`, `project six`, `docs/a.txt`. */
  readonly what: string;
  readonly kept: 'hosted' | 'stored';
  /** The write, as a gerund: `publishing`, `uploading`, `storing`. */
  readonly doing: string;
  /** What to do instead (write to that member, or to the write member directly on purpose). */
  readonly instead: string;
}

/**
 * CONFLICT (409) for a write through a group that would create `what` in the write member
 * while another hosted member of the group holds it (`held`, from `heldElsewhere` with
 * `kinds: ['hosted']`): `package lib is hosted in npm-team, another member of group npm:
 * publishing it through the group would create a second package lib in its write member
 * npm-hosted, which the group would serve beside npm-team's (a name two members answer for is
 * dependency confusion's ground); <instead>`. Not a 405: the method is served at that URL, the
 * state of the group is what refuses it.
 */
export function creationRefusal(held: HeldElsewhere<unknown>, words: CreationWords): RegistryError {
  return new RegistryError(
    'CONFLICT',
    `${words.what} is ${words.kept} in ${held.member.name}, another member of group ${held.group.name}: ` +
      `${words.doing} it through the group would create a second ${words.what} in its write member ${held.writeTo.name}, ` +
      `which the group would serve beside ${held.member.name}'s (a name two members answer for is dependency confusion's ground); ${words.instead}`,
  );
}

/** What `proxyTakeovers` asks: the first publish of `name` into the hosted repository `target`. */
export interface TakeoverProbe {
  /** The repositories of the publish's format (its groups are checked). */
  readonly repositories: readonly Repository[];
  readonly membersOf: (group: Repository, path?: string) => readonly Repository[];
  /** The hosted repository the new name lands in (addressed directly or as a write member). */
  readonly target: Repository;
  /** The name as group membership paths spell it. */
  readonly name: string;
  /**
   * Whether the proxy member serves the name: from its CACHE only by default (a write never goes
   * upstream); a format whose proxy may ask its upstream on a first publish (npm's and PyPI's
   * `shadow_check_upstream`) answers `unknown` when that upstream could not be asked in time
   * and nothing is cached (the publish goes ahead, with a warning: `takeoverCheck`'s `notAsked`).
   */
  readonly cached: (proxy: Repository) => Promise<boolean | 'unknown'>;
  /** Whether a hosted member holds the name now: then no proxy serves it through the group. */
  readonly hostedHolds: (hosted: Repository) => Promise<boolean>;
}

/**
 * The takeovers a first publish of a name into a hosted repository would make (npm, PyPI, OCI;
 * Maven, Helm, Cargo and Go keep their own probes, which may also ask the upstream): for each
 * group guarding hosted names (`protect_hosted_names`) that has `target` among the members
 * answering for the name, the first proxy member that serves it now (`heldElsewhere` with
 * `kinds: ['proxy']`, `writeTo` = `target`). From the publish on, such a group would answer the
 * name from its hosted members only, hiding every upstream version (cached ones included) from
 * its readers. Empty when no group would change: none guards, no proxy has it cached, or a hosted
 * member already holds the name (the proxies are already not asked).
 */
export async function proxyTakeovers(probe: TakeoverProbe): Promise<HeldElsewhere<true>[]> {
  return (await takeoverCheck(probe)).taken;
}

/**
 * `proxyTakeovers` with the proxy members that could not be asked: `taken`, the takeovers;
 * `notAsked`, the names of the proxy members whose probe answered `unknown` (their upstream
 * unreachable or too slow, nothing cached) and that take nothing over elsewhere in the answer.
 */
export async function takeoverCheck(
  probe: TakeoverProbe,
): Promise<{ taken: HeldElsewhere<true>[]; notAsked: string[] }> {
  const out: HeldElsewhere<true>[] = [];
  const unknown = new Set<string>();
  const answers = new Map<string, Promise<boolean>>();
  // One question per proxy member, however many groups have it (an upstream asked once).
  const serves = (proxy: Repository): Promise<boolean> => {
    let answer = answers.get(proxy.name);
    if (answer === undefined) {
      answer = probe.cached(proxy).then((found) => {
        if (found === 'unknown') unknown.add(proxy.name);
        return found === true;
      });
      answers.set(proxy.name, answer);
    }
    return answer;
  };
  for (const group of probe.repositories) {
    if (group.kind !== 'group' || !group.protectHostedNames) continue;
    if (group.format !== probe.target.format) continue;
    const members = probe.membersOf(group, probe.name);
    if (!members.some((m) => m.name === probe.target.name)) continue;
    const held = await heldElsewhere({
      group,
      writeTo: probe.target,
      members,
      kinds: ['proxy'],
      holds: serves,
      hostedClaims: probe.hostedHolds,
    });
    if (held !== undefined) out.push(held);
  }
  const notAsked = [...unknown].filter((proxy) => !out.some((t) => t.member.name === proxy));
  return { taken: out, notAsked };
}

/**
 * The warning of a first publish that went ahead while `proxies` (comma-separated) could not be
 * asked whether their upstream has the name (`takeoverCheck`'s `notAsked`), as Cargo's, Maven's
 * and Helm's: `could not ask npm-proxy whether its upstream has package lib (unreachable or too
 * slow, nothing cached): if it does, groups guarding hosted names now serve only npm-hosted's
 * versions of it (protect_hosted_names)`.
 */
export function notAskedWarning(
  proxies: string,
  what: string,
  target: string,
  versions: string,
): string {
  return `could not ask ${proxies} whether its upstream has ${what} (unreachable or too slow, nothing cached): if it does, groups guarding hosted names now serve only ${target}'s ${versions} of it (protect_hosted_names)`;
}

/** What a format says in `takeoverRefusal` and `takeoverWarnings`. */
export interface TakeoverWords {
  /** What the write would create: `package lodash`, `project six`, `image library/nginx`. */
  readonly what: string;
  /** The write, as a verb: `publish`, `upload`, `push`. */
  readonly doing: string;
  /** The versions the proxy serves: `versions`, `releases`, `tags`. */
  readonly versions: string;
  /** The format's configuration section: `npm`, `pypi`, `docker`. */
  readonly section: string;
  /** The name to quote in the `shadow_names` example, and a glob example (`@corp/*`). */
  readonly name: string;
  readonly glob: string;
  /** What gives the name back: `unpublishing every version of it`. */
  readonly undo: string;
  /** Where the docs say it: `docs/npm.md, "Group"`. */
  readonly docs: string;
}

/** `group npm serves it from its proxy member npm-proxy` for each takeover, `; and `-joined. */
function takenText(taken: readonly HeldElsewhere<unknown>[]): string {
  return taken
    .map((t) => `group ${t.group.name} serves it from its proxy member ${t.member.name}`)
    .join('; and ');
}

/**
 * CONFLICT (409) for a first publish that would take a name over from a proxy (`taken`, from
 * `proxyTakeovers`, not empty) while `[<section>] shadow_names` does not list it, as Maven's,
 * Helm's, Cargo's and Go's (without `--shadow`) are: `refusing to publish package lodash: it
 * would hide npm-proxy's versions of it in group npm ([npm] shadow_names allows it). …`. The
 * first sentence is short and says the whole reason (what is refused, why, what allows it):
 * twine prints only the reason phrase (PyPI's is that sentence when the message is longer than
 * a reason phrase may be: pypi/routes.ts). Names only the client's name and repository names
 * (never an upstream host).
 */
export function takeoverRefusal(
  taken: readonly HeldElsewhere<unknown>[],
  words: TakeoverWords,
  options?: RegistryErrorOptions,
): RegistryError {
  const target = taken[0]?.writeTo.name ?? '';
  const groups = [...new Set(taken.map((t) => t.group.name))].join(', ');
  const hidden = taken
    .map((t) => `${t.member.name}'s ${words.versions} of it in group ${t.group.name}`)
    .join(' and ');
  return new RegistryError(
    'CONFLICT',
    `refusing to ${words.doing} ${words.what}: it would hide ${hidden} ([${words.section}] shadow_names allows it). ` +
      `It is new in ${target}: from then on group ${groups} would serve only ${target}'s ${words.versions} of it (protect_hosted_names), until ${words.undo}. ` +
      `To take the name over on purpose, an operator adds it to [${words.section}] shadow_names in NORA's configuration (NORA_${words.section.toUpperCase()}_SHADOW_NAMES; e.g. shadow_names = ["${words.name}"] or a glob such as "${words.glob}"); to keep the proxied one, ${words.doing} under another name (${words.docs}).`,
    options,
  );
}

/** The log line of a takeover `shadow_names` allowed (the clients print nothing of a success). */
export function takeoverWarning(
  taken: readonly HeldElsewhere<unknown>[],
  words: Pick<TakeoverWords, 'what' | 'versions'>,
): string {
  const target = taken[0]?.writeTo.name ?? '';
  return `${words.what} is new in ${target} and ${takenText(taken)}; from now on ${taken.length === 1 ? 'that group serves' : 'those groups serve'} only ${target}'s ${words.versions} of it (protect_hosted_names; allowed by shadow_names)`;
}

/**
 * How long the takeover check of a first publish waits for `proxy`'s upstream (npm, PyPI), in
 * ms, or undefined when it reads the proxy's cache only (the default: a write never sends a name
 * upstream). `on` is the format section's `shadow_check_upstream` (a repository's own setting
 * wins), waited for as Maven's: at most `[circuit_breaker] stale_after` seconds, `proxy_timeout`
 * when that is 0 (the proxy's own, else `timeout`, the section's).
 */
export function upstreamCheckWait(
  proxy: Repository,
  on: boolean,
  timeout: number,
  staleAfter: number,
): number | undefined {
  if (!(proxy.shadowCheckUpstream ?? on)) return undefined;
  const limit = proxy.proxyTimeout ?? timeout;
  return (staleAfter > 0 ? Math.min(staleAfter, limit) : limit) * 1000;
}

/**
 * `upstreamCheckWait` from the configuration `config()` holds at each publish (a reload applies
 * to the next one): the `section` format's `shadow_check_upstream` and `proxy_timeout`, and
 * `[circuit_breaker] stale_after`.
 */
export function upstreamCheckWaitOf(
  config: () => AppConfig,
  section: 'npm' | 'pypi',
): (proxy: Repository) => number | undefined {
  return (proxy) => {
    const current = config();
    return upstreamCheckWait(
      proxy,
      current[section].shadow_check_upstream,
      current[section].proxy_timeout,
      current.circuit_breaker.stale_after,
    );
  };
}

/**
 * The takeover check's `cached` probe of a proxy member for npm and PyPI: true when its cache
 * serves the name (`inCache`); else, when `wait()` gives a time (`shadow_check_upstream` is on
 * for that proxy and the name may be asked), its upstream asked by `ask` (upstreamAnswer: true,
 * false or `unknown`); false otherwise (cache only, the default).
 */
export async function servedByProxy(
  inCache: () => Promise<boolean>,
  wait: () => number | undefined,
  ask: () => Promise<boolean>,
): Promise<boolean | 'unknown'> {
  if (await inCache()) return true;
  const ms = wait();
  return ms === undefined ? false : upstreamAnswer(ask, ms);
}

/**
 * Whether an upstream has a name, asked by `ask` (true: it has, false: it answered "no such
 * name"), waited for at most `ms`: `unknown` when it failed or did not answer in time (the
 * question goes on; what it fetches is cached for the next read).
 */
export async function upstreamAnswer(
  ask: () => Promise<boolean>,
  ms: number,
): Promise<boolean | 'unknown'> {
  return raceDeadline(
    ask().catch(() => 'unknown' as const),
    ms,
    'unknown' as const,
  );
}

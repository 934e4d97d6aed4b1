/**
 * Permission rules (`[[auth.rules]]`): who may do what on which repositories and paths.
 *
 * Semantics (docs/auth.md "Permissions" is the user-facing statement of the same):
 * - A rule *covers* a target (repository R, path P) when one of its `repositories` globs matches
 *   R, a group R is a member of (a rule on the group `npm` also covers `npm-hosted`, so going
 *   to the member directly is no way around it), or a member of R when R is a group (a rule on
 *   `maven-hosted` also covers the group `maven2`, so reading through the group is no way around
 *   it either), and one of its `paths` globs matches P.
 * - Precedence: where a rule naming a repository directly owns a path (see below), that
 *   repository has *reserved* it, and only the rules naming it directly decide there. A rule
 *   that reaches it only through a group containing it does not open that path (an anonymous
 *   rule on the default group `maven` does not open what a rule on `maven-hosted` reserved for
 *   alice), through the group's URL or the member's own; it still holds on the member's other
 *   paths and on the group's own. Read through a group, a path a member reserved is decided by
 *   that member's own rules (`#deciding`).
 * - A target covered by a rule that names someone other than anonymous (users, groups, tokens,
 *   or nobody at all) is *owned*: a non-admin principal may do there exactly the union of the
 *   `actions` of the covering rules that name it (on a reserved path: of the rules naming the
 *   reserving repository directly), and nothing else. A rule naming only
 *   anonymous owns nothing: it lets everyone read its space and takes nothing from signed-in users
 *   (the switch for anonymous reads of one repository or namespace). A user's roles cap the union
 *   (a user or token whose roles only read gets only `read`; a user without roles gets nothing).
 *   Admins (role admin) are decided before the rules (access.ts) and pass.
 * - A rule names its principals by `users` (`"*"` = any signed-in user), `groups` (`[auth.groups]`
 *   members plus the groups a principal carries), `tokens` (API token ids) and `anonymous = true`,
 *   which makes the rule apply to everyone, signed in or not (what anonymous may read, a signed-in
 *   user may read too). A rule naming nobody reserves its space for admins.
 * - A target covered only by anonymous-only rules, or by none, is *unowned*: nothing changes
 *   there (a user does what its roles allow; anonymous reads when the repository's
 *   `anonymous_read`, else the per-format default, else `[auth] anonymous_read` says so, or when
 *   an anonymous rule grants it). Adding one rule never locks anyone out of anything else.
 * - Repository-wide operations (catalog, search: no path) pass when some rule covering the
 *   repository grants the action to the principal, are refused when a rule covers every path of
 *   it (`**`) and none grants, and otherwise follow the defaults; their results are then filtered
 *   name by name (`AccessControl.can`). Where a rule over every path reserved the repository
 *   (or, for a group, a member), rules over every path that reach it through a group no longer
 *   grant the listing (nothing would filter it).
 */
import type { Action, Permissions, Principal, AccessTarget } from './access.ts';
import { ANONYMOUS, hasRole } from './access.ts';
import type { AppConfig, FormatName } from '../config/schema.ts';
import type { Repository, RepositoryRegistry } from '../repos/repository.ts';
import { compileGlob, type Glob, patternProblem, type PathForm } from './patterns.ts';

export const ACTIONS = ['read', 'write', 'delete', 'admin'] as const;

/** One `[[auth.rules]]` entry as the config schema hands it over (defaults applied). */
export interface RuleConfig {
  readonly repositories: readonly string[];
  readonly paths: readonly string[];
  readonly users: readonly string[];
  readonly groups: readonly string[];
  readonly tokens: readonly string[];
  readonly anonymous: boolean;
  readonly actions: readonly Action[];
}

/** What the rules need from the rest of the configuration. */
export interface RulesOptions {
  readonly rules: readonly RuleConfig[];
  /** `[auth.groups]`: group name → user names. */
  readonly groups?: Readonly<Record<string, readonly string[]>> | undefined;
  /** Named repositories' own `anonymous_read` (repository name → setting), when set. */
  readonly repositoryAnonymousRead?: ReadonlyMap<string, boolean> | undefined;
  /** The groups a repository is a member of (repository name → group names). */
  readonly groupsContaining?: ((repository: string) => readonly string[]) | undefined;
  /**
   * The repositories a group reads from (group name → member names, members of member groups
   * included); empty for a repository that is not a group.
   */
  readonly membersOf?: ((group: string) => readonly string[]) | undefined;
  /**
   * Where a write addressed to a group lands (its write member: `RepositoryRegistry.writeTarget`),
   * undefined for a repository that is not a group or has none; for ownedThrough's text.
   */
  readonly writeMemberOf?: ((group: string) => string | undefined) | undefined;
  /** A repository's kind; a proxy never holds a name (answeringMembers). */
  readonly kindOf?: ((repository: string) => 'hosted' | 'proxy' | 'group' | undefined) | undefined;
  /**
   * Per-format default for anonymous reads on an unowned target, between a repository's own
   * setting and `[auth] anonymous_read` (e.g. Docker's `docker_anon_pull`); undefined = no opinion.
   */
  readonly anonymousReadDefault?: ((target: AccessTarget) => boolean | undefined) | undefined;
  /**
   * Per format, the form a rule's path glob and a target's path are compared in, when the format
   * treats several spellings as one name (Cargo: `Foo-Bar` is `foo_bar`; PyPI: PEP 503
   * normalisation): a rule on `corp-*` then also holds `corp_app`. Absent: compared as written.
   */
  readonly pathForms?: Partial<Record<FormatName, PathForm>> | undefined;
  /**
   * Running repositories the configuration these rules come from does not describe (a SIGHUP
   * reload renamed or removed them, or changed their format or kind: the repository set needs a
   * restart, so they keep running): repository name → why (`undescribedRepositories`). Nobody
   * but admins may use them, nor a group whose answers may come from one, until the restart.
   */
  readonly undescribed?: ReadonlyMap<string, string> | undefined;
}

/** A format's canonical spelling of a name (applied to globs too: it keeps `*` as it is). */
export type { PathForm };

/**
 * Why a rule is unusable (for config validation), or undefined. Checks every pattern with the
 * shared syntax and refuses rules that would let anonymous clients change anything.
 */
export function ruleProblem(rule: RuleConfig): string | undefined {
  for (const repository of rule.repositories) {
    if (repository.includes('/') || repository.includes(':')) {
      return `repositories: "${repository}" is not a repository name glob (names have no "/" or ":")`;
    }
    const problem = patternProblem(repository);
    if (problem) return `repositories: ${problem}`;
  }
  for (const path of rule.paths) {
    if (path.includes(':'))
      return `paths: "${path}" has a ":" (put repositories in "repositories")`;
    const problem = patternProblem(path);
    if (problem) return `paths: ${problem}`;
  }
  // `groups` names groups, it has no wildcard: `groups = ["*"]` named a group called `*` that no
  // one is in (config check only warned that [auth.groups] does not define it), so the rule
  // granted nothing, or (granting nobody) reserved its space for admins (trial 23).
  const starred = rule.groups.find((group) => /^\*+$/.test(group));
  if (starred !== undefined) {
    return `groups: group names have no wildcard: "${starred}" would name a group called "${starred}", not every group or user; for every signed-in user write users = ["*"] in the rule instead (docs/auth.md "Rules")`;
  }
  if (rule.anonymous && rule.actions.some((a) => a !== 'read')) {
    return 'a rule with anonymous = true may only grant "read" (anonymous changes cannot be attributed)';
  }
  return undefined;
}

/**
 * Warnings about rules that are valid but lock out what they seem to open: a rule granting
 * `write` or `delete` but not `read` owns its paths (docs/auth.md, Semantics 3: in an owned
 * space only grants count), so unless another rule over the same repositories and paths grants
 * `read`, nobody but admins may read there — not even the rule's own users. Their publish succeeds
 * where the client does not read first (npm, pnpm and twine send the upload straight away,
 * as curl does; trial 34) and fails where it does (cargo reads the crate's index entry first;
 * mvn deploy uploads the POM and jar, then fails reading the maven-metadata.xml, seen with real
 * mvn in test/e2e/auth/write-only-rule). One line per such rule, naming it by its 0-based
 * position.
 */
export function ruleWarnings(rules: readonly RuleConfig[]): string[] {
  const overlaps = (a: readonly string[], b: readonly string[]) =>
    a.some((x) => b.includes(x) || x === '*' || x === '**') || b.includes('*') || b.includes('**');
  const warnings: string[] = [];
  rules.forEach((rule, index) => {
    if (rule.actions.includes('read') || rule.anonymous) return;
    if (!rule.actions.some((action) => action === 'write' || action === 'delete')) return;
    const readable = rules.some(
      (other) =>
        other !== rule &&
        other.actions.includes('read') &&
        overlaps(other.repositories, rule.repositories) &&
        overlaps(other.paths, rule.paths),
    );
    if (readable) return;
    warnings.push(
      `auth.rules[${index}] grants ${rule.actions.join(', ')} but not read: it owns ${rule.repositories.join(', ')} ${rule.paths.join(', ')}, where only rules' grants count, so nobody but admins may read there, its own users included: they cannot read back what they publish, and a publish whose client reads fails (cargo publish reads the crate's index entry first; mvn deploy uploads the POM and jar, then fails reading the maven-metadata.xml and leaves them without one), while npm, pnpm, twine and curl uploads publish without reading and succeed. Add "read" to its actions, and a rule with anonymous = true and actions = ["read"] on the same repositories and paths to keep them readable by everyone (docs/auth.md, "Semantics")`,
    );
  });
  return warnings;
}

/**
 * Whether the glob `broad` certainly covers every name the glob `narrow` covers, for the
 * `kind` of glob (repository names have no `/`; paths may be folded by a format's PathForm).
 * Conservative: true only for the same glob, an all-covering one (`**`; `*` for repository
 * names), a `prefix/**` over a narrow glob starting `prefix/` (or the prefix itself) where the
 * prefix has no `*`, and, for repository names (compared as written), a literal name `broad`
 * matches. Anything else answers false, even when it covers.
 */
function globCovers(broad: string, narrow: string, kind: 'repository' | 'path'): boolean {
  if (broad === narrow || broad === '**') return true;
  if (kind === 'repository') {
    if (broad === '*') return true;
    return !narrow.includes('*') && compileGlob(broad).test(narrow);
  }
  if (!broad.endsWith('/**')) return false;
  const prefix = broad.slice(0, -'/**'.length);
  if (prefix.includes('*')) return false;
  return narrow === prefix || narrow.startsWith(`${prefix}/`);
}

/**
 * The paths of an owning rule that name a namespace (a first segment with a character other
 * than `*` and `@`, as `@corp/*` or `corp-*`): on an npm repository they keep the names they
 * match out of npm audits forwarded upstream (npm/service.ts `namespaceGlobs`, the same test).
 */
function auditNamespaces(rule: RuleConfig): readonly string[] {
  if (!compile(rule).owns) return [];
  return rule.paths.filter((path) => /[^*@]/.test(path.split('/')[0] ?? ''));
}

/**
 * A rule's `tokens` item as a warning shows it: a token id as written; an item that is a token
 * secret pasted there (`nra_…`, `nora_…`: auth/exposure.ts warns about it) only by its prefix,
 * so no warning or log line repeats the secret (trial 21 authx F6).
 */
function shownToken(token: string): string {
  const secret = /^(nra|nora)_/.exec(token);
  return secret === null ? token : `${secret[0]}…`;
}

/** A rule as a warning names it: `auth.rules[i] (users ["bob"], actions ["read"] on …)`. */
function describeRule(rule: RuleConfig, index: number): string {
  const who = [
    rule.anonymous ? 'anonymous = true' : undefined,
    rule.users.length > 0 ? `users ${JSON.stringify(rule.users)}` : undefined,
    rule.groups.length > 0 ? `groups ${JSON.stringify(rule.groups)}` : undefined,
    rule.tokens.length > 0 ? `tokens ${JSON.stringify(rule.tokens.map(shownToken))}` : undefined,
  ].filter((part) => part !== undefined);
  return `auth.rules[${index}] (${who.length === 0 ? 'nobody (admins only)' : who.join(', ')}; actions ${JSON.stringify(rule.actions)} on repositories ${JSON.stringify(rule.repositories)}, paths ${JSON.stringify(rule.paths)})`;
}

/**
 * Whether the rule `broad` makes the rule `narrow` certainly redundant in a rule set (`others`:
 * the remaining rules): without `narrow`, every decision (`decide`, the choice of answering
 * members) stays the same. Rules add up (a principal gets the union of the grants of the rules
 * covering a target; there is no "first match"), so that holds when `broad` covers every
 * repository and path `narrow` covers (globCovers), names everyone `narrow` names, grants every
 * action it grants, and owns where it owns. Two more conditions keep the precedence the same:
 * a `narrow` that owns and grants `write` chooses answering members, so `broad` must name the
 * same repositories (a broader rule may name every member of a group, and choose none); and
 * a `narrow` over some paths grants listings a reservation takes from rules over all paths
 * (`decide`), so when `broad` is over all paths and `narrow` is not, every other rule over all
 * paths that owns must name only repositories `broad` names.
 */
function makesRedundant(
  broad: RuleConfig,
  narrow: RuleConfig,
  others: readonly RuleConfig[],
): boolean {
  const covers = (wide: readonly string[], slim: readonly string[], kind: 'repository' | 'path') =>
    slim.every((n) => wide.some((b) => globCovers(b, n, kind)));
  if (!covers(broad.repositories, narrow.repositories, 'repository')) return false;
  if (!covers(broad.paths, narrow.paths, 'path')) return false;
  if (!narrow.actions.every((action) => broad.actions.includes(action))) return false;
  const b = compile(broad);
  const n = compile(narrow);
  if (n.owns && !b.owns) return false;
  if (!b.anonymous) {
    if (n.anonymous) return false;
    if (!b.anyUser) {
      if (n.anyUser || [...n.users].some((u) => !b.users.has(u))) return false;
      if ([...n.groups].some((g) => !b.groups.has(g))) return false;
      if ([...n.tokens].some((t) => !b.tokens.has(t))) return false;
    }
  }
  if (n.owns && n.actions.has('write')) {
    const same = (x: readonly string[], y: readonly string[]) =>
      x.every((v) => y.includes(v)) && y.every((v) => x.includes(v));
    if (!same(broad.repositories, narrow.repositories)) return false;
  }
  if (b.allPaths && !n.allPaths) {
    const reserving = others.filter((rule) => rule.paths.includes('**') && compile(rule).owns);
    if (!reserving.every((rule) => covers(broad.repositories, rule.repositories, 'repository')))
      return false;
  }
  return true;
}

/**
 * `nora config check` (and start-up, SIGHUP) warnings: rules that never change any decision
 * because another rule already covers everything they cover and grants at least what they
 * grant (makesRedundant; conservative: only certain cases are said). The usual cause is a rule
 * meant as an exception under a broader one (`users = ["*"]` may read and write everything;
 * then bob may only read `@corp/*`): rules add up, so the narrower rule takes nothing away.
 * One line per redundant rule, naming it and the first rule that covers it (0-based positions);
 * of two rules that cover each other, the later one is named.
 */
export function shadowedByRules(rules: readonly RuleConfig[]): string[] {
  const warnings: string[] = [];
  rules.forEach((narrow, n) => {
    const m = rules.findIndex((broad, i) => {
      if (i === n) return false;
      const others = rules.filter((_, j) => j !== i && j !== n);
      if (!makesRedundant(broad, narrow, others)) return false;
      // Two rules that cover each other: only the later one is redundant.
      return !(i > n && makesRedundant(narrow, broad, others));
    });
    const broad = rules[m];
    if (broad === undefined) return;
    // One effect outside access decisions: an owning rule's named paths on an npm repository
    // keep those names out of the audits sent upstream (npm/service.ts namespaceGlobs).
    const audit = auditNamespaces(narrow).filter(
      (path) => !auditNamespaces(broad).some((wide) => globCovers(wide, path, 'path')),
    );
    const still =
      audit.length === 0
        ? ''
        : ` It still keeps npm names matching ${audit.map((p) => JSON.stringify(p)).join(', ')} out of the npm audits sent upstream (docs/npm.md "What npm audit sends upstream"): to keep that, leave a rule owning those paths.`;
    warnings.push(
      `${describeRule(narrow, n)} never applies: ${describeRule(broad, m)} ${m < n ? 'before' : 'after'} it covers every repository, path and principal it covers and grants at least its actions. Rules add up (there is no first match): a narrower rule cannot take away what a broader one grants, so to limit someone there, narrow or remove auth.rules[${m}]; else delete auth.rules[${n}] (docs/auth.md "Semantics").${still}`,
    );
  });
  return warnings;
}

/**
 * `nora config check` (and start-up, SIGHUP) warnings: a rule naming only some principals (users,
 * groups or tokens, but not `users = ["*"]`) over every repository (`*`) and every path (`**`) owns everything
 * (Semantics 2–3), so everyone else — other users and anonymous clients — loses read and write
 * everywhere. The usual cause is an attempt at a read-only user (`users = ["reader"], actions =
 * ["read"]`), which `[auth] read_only_users` says without taking anything from anyone.
 * When no other rule names anyone else (another user, `"*"`, a group, a token, anonymous), it is
 * certain that nobody else is granted anything anywhere, and said so. Otherwise what is certain
 * is less but still a trap (trial 17 F4: one more ordinary rule silenced the warning while
 * writers and anonymous readers lost access everywhere): nobody keeps the role defaults
 * anywhere, so everyone else may do only what other rules grant.
 *
 * Not warned (trial 19 authx F1): a rule naming only anonymous clients (it owns nothing), and
 * rules over everything that together give back what ownership takes — the docs' "said with
 * rules alone" shape: some rule over everything grants `write` to users or a group (the writers
 * are named on purpose), and anonymous clients keep reading (a rule over everything grants them
 * `read`, or `anonymous_read` is off so they had nothing to lose). `anonymousRead` is
 * `[auth] anonymous_read` (default true). The "use read_only_users" advice is given only for a
 * rule that does not grant `write`.
 */
export function ownershipLockouts(
  rules: readonly RuleConfig[],
  options: { readonly anonymousRead?: boolean } = {},
): string[] {
  const anonymousRead = options.anonymousRead ?? true;
  const onlyUsers = (rule: RuleConfig) =>
    !rule.anonymous &&
    rule.groups.length === 0 &&
    rule.tokens.length === 0 &&
    !rule.users.includes('*');
  // Who a rule names, when that is not every signed-in user: a group of some users or tokens
  // owning everything lock out the others just the same (trial 18 authx F1). A rule naming only
  // anonymous clients owns nothing (Semantics 2): undefined.
  const namedSome = (rule: RuleConfig): string | undefined => {
    if (rule.users.includes('*')) return undefined;
    const owners = [
      ...rule.users,
      ...rule.groups.map((group) => `group ${group}`),
      ...rule.tokens.map((token) => `token ${shownToken(token)}`),
    ];
    if (owners.length === 0) return undefined;
    const who = [...owners, ...(rule.anonymous ? ['anonymous clients'] : [])];
    return who.length === 1 ? who.join('') : `${who.slice(0, -1).join(', ')} and ${who.at(-1)}`;
  };
  const everywhere = (rule: RuleConfig) =>
    rule.repositories.some((glob) => glob === '*' || glob === '**') && rule.paths.includes('**');
  const overAll = rules.filter(everywhere);
  const writersNamed = overAll.some(
    (rule) => rule.actions.includes('write') && (rule.users.length > 0 || rule.groups.length > 0),
  );
  const anonymousKeep =
    !anonymousRead || overAll.some((rule) => rule.anonymous && rule.actions.includes('read'));
  const warnings: string[] = [];
  rules.forEach((rule, index) => {
    const names = namedSome(rule);
    if (names === undefined || !everywhere(rule)) return;
    const others = rules.filter((_, i) => i !== index);
    const grantsOthers =
      !onlyUsers(rule) ||
      others.some(
        (other) => !onlyUsers(other) || other.users.some((user) => !rule.users.includes(user)),
      );
    const advice = rule.actions.includes('write')
      ? ''
      : '; for a read-only user use [auth] read_only_users (NORA_AUTH_READ_ONLY_USERS) instead of this rule';
    if (grantsOthers) {
      if (writersNamed && anonymousKeep) return;
      warnings.push(
        `auth.rules[${index}] names only ${names} and covers every repository: by ownership every path of every repository is owned, so nobody keeps the role defaults anywhere (a user's read and write, anonymous_read): other users and anonymous clients may do only what the other rules grant them (docs/auth.md "Semantics")${advice}`,
      );
      return;
    }
    warnings.push(
      `auth.rules[${index}] names only ${names} and covers every repository: by ownership, other users and anonymous clients lose read/write everywhere (every path of every repository is owned, and only admins and ${names} are granted anything there; docs/auth.md "Semantics")${advice}`,
    );
  });
  return warnings;
}

/**
 * `nora config check` (and start-up, SIGHUP) warnings: a rule granting `write`, `delete` or
 * `admin` to a user `[auth] read_only_users` names, by name or through an `[auth.groups]` group.
 * The user's roles hold only read, and roles cap grants (`#capped`), so the rule gives it
 * nothing more than read: said, since the rule reads as if it did. With `enabled: false` the
 * ownership half (others "lose their role defaults") is not said: rules take nothing away while
 * auth is off (trial 20 authx F8); `enabled` unset counts as on.
 */
export function readOnlyUserGrants(
  auth: Pick<AppConfig['auth'], 'rules' | 'groups' | 'read_only_users'> & {
    readonly enabled?: boolean;
  },
): string[] {
  const warnings: string[] = [];
  auth.rules.forEach((rule, index) => {
    const changes = rule.actions.filter((action) => action !== 'read');
    if (changes.length === 0) return;
    const named = auth.read_only_users.filter(
      (user) =>
        rule.users.includes(user) ||
        rule.groups.some((group) => auth.groups[group]?.includes(user) === true),
    );
    if (named.length === 0) return;
    // A rule naming nobody but read-only users still owns its space (Semantics 2-3): there the
    // others lose their role defaults for a grant nobody gets (trial 17 F12).
    const onlyReadOnly =
      auth.enabled !== false &&
      !rule.anonymous &&
      rule.groups.length === 0 &&
      rule.tokens.length === 0 &&
      rule.users.every((user) => auth.read_only_users.includes(user));
    const owns = onlyReadOnly
      ? `. And since it names nobody else, it still owns ${rule.repositories.join(', ')} (paths ${rule.paths.join(', ')}): there other users and anonymous clients lose their role defaults and may do only what other rules grant them — remove the rule, or name the users it is meant for`
      : '';
    warnings.push(
      `auth.rules[${index}] grants ${changes.join(', ')} to ${named.join(', ')}, ${named.length === 1 ? 'a read-only user' : 'read-only users'} ([auth] read_only_users): ${named.length === 1 ? 'it' : 'they'} only read${named.length === 1 ? 's' : ''} all the same (read_only_users wins over rules); remove ${named.length === 1 ? 'it' : 'them'} from read_only_users to let the rule apply${owns}`,
    );
  });
  return warnings;
}

interface CompiledRule {
  readonly repositories: readonly Glob[];
  /** The `paths` globs as written, and compiled per path form (undefined key: as written). */
  readonly pathGlobs: readonly string[];
  readonly paths: Map<PathForm | undefined, readonly Glob[]>;
  /** True when the rule covers every path of its repositories (`**`). */
  readonly allPaths: boolean;
  readonly users: ReadonlySet<string>;
  readonly anyUser: boolean;
  readonly groups: ReadonlySet<string>;
  readonly tokens: ReadonlySet<string>;
  readonly anonymous: boolean;
  readonly actions: ReadonlySet<Action>;
  /**
   * False for a rule naming only anonymous: it opens its space to everyone (read) without taking
   * anything away from signed-in users, the per-repository anonymous-read switch.
   */
  readonly owns: boolean;
}

function compile(rule: RuleConfig): CompiledRule {
  return {
    repositories: rule.repositories.map(compileGlob),
    pathGlobs: rule.paths,
    paths: new Map([[undefined, rule.paths.map(compileGlob)]]),
    allPaths: rule.paths.includes('**'),
    users: new Set(rule.users.filter((u) => u !== '*')),
    anyUser: rule.users.includes('*'),
    groups: new Set(rule.groups),
    tokens: new Set(rule.tokens),
    anonymous: rule.anonymous,
    actions: new Set(rule.actions),
    owns: !rule.anonymous || rule.users.length + rule.groups.length + rule.tokens.length > 0,
  };
}

/** `rule`'s path globs in `form` (compiled once per form). */
function pathGlobs(rule: CompiledRule, form: PathForm | undefined): readonly Glob[] {
  let compiled = rule.paths.get(form);
  if (compiled === undefined) {
    compiled = rule.pathGlobs.map((glob) => compileGlob(form === undefined ? glob : form(glob)));
    rule.paths.set(form, compiled);
  }
  return compiled;
}

const MAX_UNDER_ANSWERS = 10_000;

/**
 * Formats whose names are one `/`-free segment (a crate name is `[A-Za-z0-9_-]+`): there `*`
 * covers every name as `**` does.
 */
const ONE_SEGMENT_NAMES: ReadonlySet<FormatName> = new Set<FormatName>(['cargo']);

/**
 * Whether the path globs `paths` (a rule's, as written) cover every name of a `format`
 * repository: `**`, or `*` where names have no `/` (Cargo). Only these exact patterns count: no
 * other glob is proven to cover every name.
 */
export function coversEveryName(paths: readonly string[], format: FormatName): boolean {
  return paths.includes('**') || (ONE_SEGMENT_NAMES.has(format) && paths.includes('*'));
}

/**
 * Whether the path glob `glob` may cover `prefix` or a path under it (`prefix/…`): false only
 * when it certainly covers neither — its segments before any `**` disagree with the prefix's,
 * or it has fewer segments than the prefix (and no `**`). Conservative: a `**` answers true.
 */
export function mayCoverUnder(glob: string, prefix: string): boolean {
  const globSegments = glob.split('/');
  const prefixSegments = prefix === '' ? [] : prefix.split('/');
  for (let i = 0; i < prefixSegments.length; i++) {
    const segment = globSegments[i];
    if (segment === undefined) return false;
    if (segment === '**') return true;
    if (!compileGlob(segment).test(prefixSegments[i] ?? '')) return false;
  }
  return true;
}

/** The rule set behind `Permissions.decide` (see the module comment for the semantics). */
export class RuleSet implements Permissions {
  readonly #rules: readonly CompiledRule[];
  readonly #memberOf: ReadonlyMap<string, ReadonlySet<string>>;
  readonly #options: RulesOptions;
  /** `restrictsUnder`'s answers by repository and prefix (bounded: cleared when full). */
  readonly #under = new Map<string, boolean>();

  constructor(options: RulesOptions) {
    this.#options = options;
    this.#rules = options.rules.map(compile);
    const memberOf = new Map<string, Set<string>>();
    for (const [group, users] of Object.entries(options.groups ?? {})) {
      for (const user of users) {
        const set = memberOf.get(user) ?? new Set<string>();
        set.add(group);
        memberOf.set(user, set);
      }
    }
    this.#memberOf = memberOf;
  }

  /** How many rules are configured (0: the role defaults decide everywhere). */
  get size(): number {
    return this.#rules.length;
  }

  /**
   * True when a rule covering `repository` (or a group containing it) lists paths other than
   * `**`: one path's answer may then differ from the repository-wide one (a listing must be
   * filtered name by name). Also true when a per-format anonymous default exists (it may look at
   * the path).
   */
  restrictsPaths(repository: Repository): boolean {
    if (this.#options.anonymousReadDefault !== undefined) return true;
    if (this.#undescribed(repository.name) !== undefined) return true;
    const repositories = this.#coveredThrough(repository.name);
    return this.#rules.some(
      (rule) =>
        !rule.allPaths &&
        repositories.some((name) => rule.repositories.some((glob) => glob.test(name))),
    );
  }

  restrictsUnder(repository: Repository, prefix: string): boolean {
    if (this.#options.anonymousReadDefault !== undefined) return true;
    if (this.#undescribed(repository.name) !== undefined) return true;
    const key = `${repository.name}\n${prefix}`;
    let answer = this.#under.get(key);
    if (answer === undefined) {
      const form = this.#options.pathForms?.[repository.format];
      const formed = form?.(prefix) ?? prefix;
      const repositories = this.#coveredThrough(repository.name);
      answer = this.#rules.some(
        (rule) =>
          !rule.allPaths &&
          repositories.some((name) => rule.repositories.some((glob) => glob.test(name))) &&
          rule.pathGlobs.some((glob) => mayCoverUnder(form?.(glob) ?? glob, formed)),
      );
      if (this.#under.size >= MAX_UNDER_ANSWERS) this.#under.clear();
      this.#under.set(key, answer);
    }
    return answer;
  }

  decide(principal: Principal, target: AccessTarget, action: Action): boolean | undefined {
    if (this.#undescribed(target.repository.name) !== undefined) return false;
    const { rules, relevant, path } = this.#deciding(target);
    // A listing (no path) is also granted by a rule over some paths that a reservation set aside:
    // such a rule always has the listing filtered name by name (restrictsPaths), and each name
    // is then decided with the precedence (alice lists the group whose own rule reserves every
    // path for carol, and sees the names her rule on a member gives her).
    const granting =
      path === undefined
        ? relevant.filter((rule) => !rule.allPaths || rules.includes(rule))
        : rules;
    if (granting.some((rule) => this.#grants(rule, principal, action))) {
      return this.#capped(principal, action);
    }
    const owned = rules.some((rule) => rule.owns && (path !== undefined || rule.allPaths));
    if (owned) return false;
    return this.#defaults(principal, target, action);
  }

  /**
   * `decide` for a path of `target.repository` that no rule over only some paths covers (a crate
   * no `paths` glob names): only rules over all its paths (`**`), the repository's own
   * `anonymous_read` and the format's default speak; undefined when none does. `target.path` is
   * ignored.
   */
  decideUnruled(principal: Principal, target: AccessTarget, action: Action): boolean | undefined {
    if (this.#undescribed(target.repository.name) !== undefined) return false;
    const { rules } = this.#deciding(target, true);
    if (rules.some((rule) => this.#grants(rule, principal, action))) {
      return this.#capped(principal, action);
    }
    if (rules.some((rule) => rule.owns)) return false;
    return this.#defaults(principal, { repository: target.repository }, action);
  }

  ownedThrough(target: AccessTarget, action?: Action, principal?: Principal): string | undefined {
    const name = target.repository.name;
    const undescribed = this.#undescribed(name);
    if (undescribed !== undefined) return undescribed;
    const { reserved, rules, path, form } = this.#deciding(target);
    const names = (rule: CompiledRule, candidates: readonly string[]): string | undefined =>
      candidates.find((candidate) => rule.repositories.some((glob) => glob.test(candidate)));
    // A change through a group lands in its write member: name that member and the rule owning
    // the path there, not whichever member came first (a read rule on `*` reserves the proxy
    // member too, which the write never reaches; trial 17 auth F7).
    const change = action !== undefined && action !== 'read';
    const lands = change ? this.#options.writeMemberOf?.(name) : undefined;
    // What lands there: a refused DELETE said "the write lands in its member" (trial 20 authx F5).
    const what = action === 'delete' || action === 'admin' ? 'the delete' : 'the write';
    // Only rules that name the caller are named: a refusal never points at (or describes) a rule
    // about someone else (trial finding: bob's 403 named carol's rule). Such a refusal says
    // only that nothing there grants the caller the action.
    const mine = (rule: CompiledRule): boolean =>
      principal === undefined || this.#names(rule, principal);
    const none =
      principal?.kind === 'user'
        ? `no rule there grants ${principal.name} ${action === 'admin' ? 'admin' : (action ?? 'read')}`
        : 'no rule there grants it';
    // The owning rule, named: when it names the caller without granting the action, what it
    // does grant them (trial 31: carol, read only through rule 0, was told only "owned by
    // auth.rules[0]"); a rule granting it (a role caps the caller) is only named.
    const owner = (index: number, on = ''): string => {
      const granted = this.#rules[index]?.actions;
      return principal?.kind === 'user' &&
        action !== undefined &&
        granted !== undefined &&
        !granted.has(action)
        ? `auth.rules[${index}]${on} grants ${principal.name} ${[...granted].join(', ')} only`
        : `owned by auth.rules[${index}]${on}`;
    };
    // A repository's own rules reserve the target: they decide, whoever else covers it. A
    // refused change names the rule owning the path (trial 19 fmts F7: `bob may not write
    // corp/a.txt in raw-hosted` named none); through a group reserved by its own rule (docs/auth.md
    // puts the read-only catch-all on the group), with the member it lands in (trial 19 authx F11).
    if (reserved.includes(name)) {
      if (action === undefined || action === 'read') return undefined;
      const owning = this.#rules.findIndex(
        (rule) =>
          rule.owns && rules.includes(rule) && names(rule, [name]) !== undefined && mine(rule),
      );
      if (owning < 0)
        return lands === undefined || lands === name
          ? none
          : `${what} lands in its member ${lands}, ${none}`;
      return lands === undefined || lands === name
        ? owner(owning)
        : `${what} lands in its member ${lands}, ${owner(owning, ` on ${name}`)}`;
    }
    if (lands !== undefined && reserved.includes(lands)) {
      const owning = this.#rules.findIndex(
        (rule) =>
          rule.owns && rules.includes(rule) && names(rule, [lands]) !== undefined && mine(rule),
      );
      return owning >= 0
        ? `${what} lands in its member ${lands}, ${owner(owning)}`
        : `${what} lands in its member ${lands}, ${none}`;
    }
    const reserving = reserved[0];
    if (reserving !== undefined) {
      // A rule that names the repository addressed as well as the member (`repositories = ["*"]`)
      // is no rule "on its member": say it as configured (trial 33 newB), the rule named only
      // when it names the caller.
      const covering = this.#rules.findIndex(
        (rule) =>
          rule.owns && names(rule, [reserving]) !== undefined && names(rule, [name]) !== undefined,
      );
      const rule = this.#rules[covering];
      if (rule !== undefined) return mine(rule) ? owner(covering) : none;
      return `a rule on its member ${reserving} owns it`;
    }
    for (const [index, rule] of this.#rules.entries()) {
      if (
        !rule.owns ||
        (path === undefined ? !rule.allPaths : !pathGlobs(rule, form).some((g) => g.test(path)))
      )
        continue;
      if (rule.repositories.some((glob) => glob.test(name))) return undefined;
      const group = names(rule, this.#options.groupsContaining?.(name) ?? []);
      if (group === undefined) continue;
      if (change && !mine(rule)) return none;
      // A change refused at the member itself names the group's rule as a change refused
      // through the group does (trial 20 authx F5); a refused read names no index.
      return change ? owner(index, ` on ${group}`) : `a rule on its group ${group} owns it`;
    }
    return undefined;
  }

  /**
   * Which of a group's direct `members` may answer for `target` (the group and a path), or
   * undefined when every member may. A member holds the path's files when it is not a proxy and
   * a *claiming* rule names it: an owning rule that covers the path, grants `write`, and names
   * some but not all of the group's members. So a writer of one hosted member cannot shadow
   * through the group a name that a rule gives to another member (the ninth trial's finding),
   * while rules that say only who may read (a read rule on the proxy member, a catch-all
   * `users = ["*"]`) or that name every member alike choose no member: they never let a proxy
   * answer for a hosted name, nor shut the proxies out (the tenth trial's F4). Nobody writes to a
   * proxy, so a rule never makes one hold a name.
   *
   * What the holders shut out depends on the claim. A rule granting `write` and `read`
   * (claimsFiles) says whose files the path holds: only the holding members answer, in their
   * order. A rule granting `write` without `read` only says who writes there (`nora import
   * --grant-write` writes the source's writers so, beside read rules, 26th session): it
   * reserves the path against the other hosted members, so a hosted member's name stays its own
   * through the group, and the proxies keep answering in their place (the group's
   * `protect_hosted_names` keeps them from a hosted name).
   */
  answeringMembers(
    target: AccessTarget,
    members: readonly string[],
  ): readonly string[] | undefined {
    if (this.#rules.length === 0 || target.path === undefined) return undefined;
    const form = this.#options.pathForms?.[target.repository.format];
    const path = form?.(target.path) ?? target.path;
    const names = (rule: CompiledRule, repository: string): boolean =>
      rule.repositories.some((glob) => glob.test(repository));
    const claiming = this.#rules.filter(
      (rule) =>
        rule.owns &&
        rule.actions.has('write') &&
        !members.every((member) => names(rule, member)) &&
        pathGlobs(rule, form).some((glob) => glob.test(path)),
    );
    if (claiming.length === 0) return undefined;
    const kind = (repository: string) => this.#options.kindOf?.(repository);
    // A member that is itself a group holds the path through its members.
    const heldBy = (rules: readonly CompiledRule[]) => {
      const holds = (repository: string): boolean =>
        kind(repository) !== 'proxy' && rules.some((rule) => names(rule, repository));
      return (member: string): boolean =>
        holds(member) || (this.#options.membersOf?.(member) ?? []).some(holds);
    };
    const held = heldBy(claiming);
    if (!members.some(held)) return undefined;
    // Where a rule granting read too gives the path to a member, the holders answer alone; where
    // only writers are named, the hosted members not holding it step aside and every other
    // member (proxies, an inner group, which filters its own members) answers as before.
    const answering = members.some(heldBy(claiming.filter(claimsFiles)))
      ? members.filter(held)
      : members.filter((member) => held(member) || kind(member) !== 'hosted');
    return answering.length === members.length ? undefined : answering;
  }

  /**
   * The rules that decide `target`, and the repositories that reserve it.
   *
   * Every rule covering the target counts (on the repository, a group containing it, or a member
   * when it is a group), except where a repository whose files the target serves (the repository
   * itself, or a member of it when it is a group) has a rule naming it directly that owns the
   * path: that repository has *reserved* the path, and only the rules naming it directly decide
   * there. A rule reaching it only through a group containing it (an anonymous rule opening the
   * default group `maven`, `users = ["*"]` on `npm`) does not open what the member reserved,
   * whether the file is read through the group or the member's own URL. When a member of a group
   * and the group (or an inner group) both reserve a path, the member's rules decide: the file
   * is the member's.
   */
  #deciding(
    target: AccessTarget,
    unruled = false,
  ): {
    readonly rules: readonly CompiledRule[];
    readonly relevant: readonly CompiledRule[];
    readonly reserved: readonly string[];
    readonly path: string | undefined;
    readonly form: PathForm | undefined;
  } {
    const name = target.repository.name;
    const repositories = this.#coveredThrough(name);
    const covering = this.#rules.filter((rule) =>
      repositories.some((candidate) => rule.repositories.some((glob) => glob.test(candidate))),
    );
    const form = this.#options.pathForms?.[target.repository.format];
    const path =
      unruled || target.path === undefined ? undefined : (form?.(target.path) ?? target.path);
    // Without a path (a listing), every rule on the repository counts for a grant; only a rule
    // over all its paths makes it owned. `unruled`: a path only the rules over all paths cover.
    // `*` counts as all paths here where names are one segment (a Cargo rule on `*` opens or
    // owns every crate, so config.json's auth-required must count it: trial 23).
    const format = target.repository.format;
    const whole = (rule: CompiledRule): boolean =>
      rule.allPaths || (unruled && coversEveryName(rule.pathGlobs, format));
    const relevant = unruled
      ? covering.filter(whole)
      : path === undefined
        ? covering
        : covering.filter((rule) => pathGlobs(rule, form).some((glob) => glob.test(path)));
    const names = (rule: CompiledRule, repository: string): boolean =>
      rule.repositories.some((glob) => glob.test(repository));
    const members = (repository: string): readonly string[] =>
      this.#options.membersOf?.(repository) ?? [];
    const reserving = [name, ...members(name)].filter((repository) =>
      relevant.some(
        (rule) => rule.owns && (path !== undefined || whole(rule)) && names(rule, repository),
      ),
    );
    // A group reserving a path that one of its own members reserves too gives way to the member.
    const reserved = reserving.filter(
      (repository) =>
        !reserving.some((other) => other !== repository && members(repository).includes(other)),
    );
    const rules =
      reserved.length === 0
        ? relevant
        : relevant.filter((rule) => reserved.some((repository) => names(rule, repository)));
    return { rules, relevant, reserved, path, form };
  }

  /**
   * Why only admins may use `name` until the restart, when it is a running repository the
   * configuration does not describe, or a group one of whose members (at any depth) is one: its
   * answers may be that member's files, and a write through it may land there. Undefined
   * otherwise. Checked before any rule: the reloaded rules do not describe such a repository (a
   * glob of theirs may match its old name by chance), and the running ones may have been edited
   * for a reason, so neither opens it.
   */
  #undescribed(name: string): string | undefined {
    const why = this.closedUntilRestart(name);
    return why === undefined
      ? undefined
      : `${why}: only admins may use it until the server restarts`;
  }

  /**
   * Why `name` is closed to all but admins until the restart (see #undescribed), without the
   * consequence: `private-raw is not in the reloaded configuration`, `its member private-raw is
   * a raw proxy repository in the reloaded configuration, a raw hosted one while running`.
   * Undefined when it is not closed.
   */
  closedUntilRestart(name: string): string | undefined {
    const undescribed = this.#options.undescribed;
    if (undescribed === undefined || undescribed.size === 0) return undefined;
    const own = undescribed.get(name);
    if (own !== undefined) return `${name} ${own}`;
    const member = (this.#options.membersOf?.(name) ?? []).find((m) => undescribed.has(m));
    if (member === undefined) return undefined;
    return `its member ${member} ${undescribed.get(member) ?? ''}`;
  }

  /**
   * The repositories whose rules cover `name`: itself, the groups it is a member of, and when it
   * is a group its members (what a read through it may return).
   */
  #coveredThrough(name: string): string[] {
    return [
      name,
      ...(this.#options.groupsContaining?.(name) ?? []),
      ...(this.#options.membersOf?.(name) ?? []),
    ];
  }

  /**
   * Unowned target: the repository's own anonymous_read, then the format's default. A group
   * with a member closed to anonymous reads (`anonymous_read = false`) is closed to them too,
   * whatever it says itself: its answers may come from that member.
   */
  #defaults(principal: Principal, target: AccessTarget, action: Action): boolean | undefined {
    if (principal.kind !== 'anonymous' || action !== 'read') return undefined;
    const settings = this.#options.repositoryAnonymousRead;
    const own = settings?.get(target.repository.name);
    const members = this.#options.membersOf?.(target.repository.name) ?? [];
    if (members.some((member) => settings?.get(member) === false)) return false;
    if (own !== undefined) return own;
    return this.#options.anonymousReadDefault?.(target);
  }

  #grants(rule: CompiledRule, principal: Principal, action: Action): boolean {
    return rule.actions.has(action) && this.#names(rule, principal);
  }

  #names(rule: CompiledRule, principal: Principal): boolean {
    if (rule.anonymous) return true;
    if (principal.kind !== 'user') return false;
    if (rule.anyUser || rule.users.has(principal.name)) return true;
    if (principal.tokenId !== undefined && rule.tokens.has(principal.tokenId)) return true;
    if (rule.groups.size === 0) return false;
    const configured = this.#memberOf.get(principal.name);
    if (configured && [...configured].some((g) => rule.groups.has(g))) return true;
    return (principal.groups ?? []).some((g) => rule.groups.has(g));
  }

  /**
   * A granted action, held to the principal's roles: read-only roles read only, no roles nothing.
   * Anonymous rules grant only read (ruleProblem refuses anything else).
   */
  #capped(principal: Principal, action: Action): boolean {
    if (principal.kind !== 'user') return action === 'read';
    if (hasRole(principal.roles, 'write')) return true;
    return action === 'read' && hasRole(principal.roles, 'read');
  }
}

/**
 * The rule set of a configuration: `[[auth.rules]]`, `[auth.groups]`, the named repositories'
 * `anonymous_read`, and group membership from the running repository registry (membership
 * changes need a restart, so the running registry is the right one on a reload too).
 */
export function permissionsFromConfig(
  config: AppConfig,
  registry: RepositoryRegistry,
  pathForms?: Partial<Record<FormatName, PathForm>>,
  undescribed?: ReadonlyMap<string, string>,
): RuleSet {
  const containing = new Map<string, string[]>();
  const direct = new Map<string, readonly string[]>();
  for (const repo of registry.all()) {
    if (repo.kind !== 'group') continue;
    direct.set(repo.name, repo.members);
    for (const member of repo.members)
      containing.set(member, [...(containing.get(member) ?? []), repo.name]);
  }
  const members = new Map<string, string[]>();
  for (const group of direct.keys()) {
    const seen = new Set<string>([group]);
    const pending = [...(direct.get(group) ?? [])];
    for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
      if (seen.has(next)) continue;
      seen.add(next);
      pending.push(...(direct.get(next) ?? []));
    }
    seen.delete(group);
    members.set(group, [...seen]);
  }
  const repositoryAnonymousRead = new Map<string, boolean>();
  for (const repo of config.repositories) {
    if (repo.anonymous_read !== undefined)
      repositoryAnonymousRead.set(repo.name, repo.anonymous_read);
  }
  return new RuleSet({
    rules: config.auth.rules,
    groups: config.auth.groups,
    repositoryAnonymousRead,
    groupsContaining: (name) => containing.get(name) ?? [],
    membersOf: (name) => members.get(name) ?? [],
    kindOf: (name) => registry.get(name)?.kind,
    writeMemberOf: (name) => {
      const repo = registry.get(name);
      return repo?.kind === 'group' ? registry.writeTarget(repo)?.name : undefined;
    },
    pathForms,
    undescribed,
  });
}

/**
 * The running repositories (`running`) that a reloaded configuration's repository set (`next`,
 * built from the file) does not describe, by name → why, for `permissionsFromConfig` and the
 * reload's warning: absent from it (renamed, removed, a misspelt entry; a default repository a
 * format key no longer makes), or named there with another format or kind (the running one holds
 * other files than the entry describes). A group whose members or write member changed is not
 * listed: the running group graph keeps deciding (rules on a member cover it through the running
 * group), and each member is described by its own entry. Empty when the sets agree.
 */
export function undescribedRepositories(
  running: RepositoryRegistry,
  next: RepositoryRegistry,
): Map<string, string> {
  const out = new Map<string, string>();
  for (const repo of running.all()) {
    const entry = next.get(repo.name);
    if (entry === undefined) out.set(repo.name, 'is not in the reloaded configuration');
    else if (entry.format !== repo.format || entry.kind !== repo.kind)
      out.set(
        repo.name,
        `is a ${entry.format} ${entry.kind} repository in the reloaded configuration, a ${repo.format} ${repo.kind} one while running`,
      );
  }
  return out;
}

/**
 * Where the configuration names `name` as a user before anyone may hold it — a rule's `users`
 * (`[[auth.rules]] #3 users`, counted from 1), a group's members (`[auth.groups] release`) or
 * `[auth] read_only_users` — or undefined. Self-registration refuses such names (npm adduser):
 * the first stranger to register one would get what the configuration grants it, or be the
 * user the operator meant to hold to read.
 */
export function namedByConfig(
  auth: Pick<AppConfig['auth'], 'rules' | 'groups' | 'read_only_users'>,
  name: string,
): string | undefined {
  const lower = name.toLowerCase();
  if (auth.read_only_users.some((u) => u.toLowerCase() === lower)) return '[auth] read_only_users';
  const rule = auth.rules.findIndex((r) => r.users.some((u) => u.toLowerCase() === lower));
  if (rule >= 0) return `[[auth.rules]] #${rule + 1} users`;
  for (const [group, users] of Object.entries(auth.groups)) {
    if (users.some((u) => u.toLowerCase() === lower)) return `[auth.groups] ${group}`;
  }
  return undefined;
}

/** A narrower `paths` to suggest per format: the namespace a hosted member holds. */
const NAMESPACE_EXAMPLE: Record<FormatName, string> = {
  docker: 'corp/**',
  npm: '@corp/*',
  pypi: 'corp-*',
  maven: 'com/corp/**',
  cargo: 'corp-*',
  go: 'corp.example/**',
  raw: 'corp/**',
  helm: 'corp-*',
};

/**
 * Whether an owning rule says whose files a path holds (RuleSet.answeringMembers): it grants
 * `write` and `read` there, and its members answer alone. A rule granting `write` without `read`
 * restricts who may write and reserves the path against the other hosted members only:
 * `nora import --grant-write` writes the source's writers so, beside a read rule, and pasting it
 * leaves the group's proxies answering (trial finding, 26th session).
 */
function claimsFiles(rule: CompiledRule): boolean {
  return rule.owns && rule.actions.has('write') && rule.actions.has('read');
}

/**
 * `nora config check` (and start-up, SIGHUP) warnings, auth on: a rule over every path (`**`)
 * of a member of a group with proxy members that grants `write` and `read` to someone (and names some,
 * not all, of the group's members) reserves every name of that group for the members it names
 * (`RuleSet.answeringMembers`): the group answers every name from them only, so its proxies no
 * longer answer through it for any name, not only for the member's own (docs/auth.md
 * "Permissions"). Often meant as "only the release team publishes here"; one warning per rule
 * and group, saying what it does and how to narrow it. The same rule granting `write` without
 * `read` leaves the proxies answering but shuts the group's other hosted members out for every
 * name: warned too, where the group has such members.
 */
export function proxiesShutOut(config: AppConfig, registry: RepositoryRegistry): string[] {
  if (!config.auth.enabled) return [];
  const warnings: string[] = [];
  config.auth.rules.forEach((rule, i) => {
    const compiled = compile(rule);
    if (!compiled.owns || !compiled.actions.has('write') || !compiled.allPaths) return;
    const names = (repository: Repository): boolean =>
      compiled.repositories.some((glob) => glob.test(repository.name));
    for (const group of registry.all()) {
      if (group.kind !== 'group') continue;
      const members = registry.membersOf(group);
      const holding = members.filter((m) => m.kind !== 'proxy' && names(m));
      const shutOut = claimsFiles(compiled)
        ? members.filter((m) => m.kind === 'proxy')
        : members.filter((m) => m.kind === 'hosted' && !names(m));
      if (shutOut.length === 0 || holding.length === 0 || members.every(names)) continue;
      const held = holding.map((m) => m.name).join(', ');
      const shut = shutOut.map((m) => m.name).join(', ');
      const narrow = `narrow the rule's paths to the names ${held} holds (e.g. paths = ["${NAMESPACE_EXAMPLE[group.format]}"]), or put a rule over all paths on the group ${group.name} instead (it covers the members without reserving them); see docs/auth.md "Permissions"`;
      if (!claimsFiles(compiled)) {
        const them =
          shutOut.length === 1
            ? `its hosted member ${shut} no longer answers`
            : `its hosted members ${shut} no longer answer`;
        warnings.push(
          `auth.rules[${i}] grants write without read over every path ("**") of ${held}, a member of group ${group.name}: ${members.some((m) => m.kind === 'proxy') ? "the group's proxies still answer through it, but " : ''}${them} through it for any name (a name only ${shut} has is a 404 at ${group.name}). To keep them, ${narrow}`,
        );
        continue;
      }
      const them =
        shutOut.length === 1
          ? `its proxy ${shut} no longer answers`
          : `its proxies ${shut} no longer answer`;
      warnings.push(
        `auth.rules[${i}] grants write over every path ("**") of ${held}, a member of group ${group.name}: the group now answers every name from ${held} only, and ${them} through it for any name (a name only a proxy has is a 404 at ${group.name}). To keep the proxies, ${narrow}`,
      );
    }
  });
  return warnings;
}

/**
 * `nora config check` (and start-up, SIGHUP) warnings, auth on: a rule letting anonymous clients
 * read some crates (`paths = ["corp-*"]`, docs/cargo.md's way to keep reserved crates readable
 * while anonymous reads are on) of a Cargo repository whose other crates they may not read
 * (`anonymous_read = false`). Its config.json then says `auth-required` (trial 21 authx F4), and
 * Cargo, told so, sends its token for every request and refuses to run without one ("no token
 * found"): the rule opens those crates to other clients (curl), not to a cargo without a token.
 * One warning per rule, naming the repositories it reaches.
 */
export function cargoAnonymousRules(config: AppConfig, registry: RepositoryRegistry): string[] {
  if (!config.auth.enabled) return [];
  const permissions = permissionsFromConfig(config, registry);
  const closed = registry
    .all()
    .filter(
      (repository) =>
        repository.format === 'cargo' &&
        !(
          permissions.decideUnruled(ANONYMOUS, { repository }, 'read') ?? config.auth.anonymous_read
        ),
    );
  const warnings: string[] = [];
  config.auth.rules.forEach((rule, i) => {
    if (!rule.anonymous || !rule.actions.includes('read') || coversEveryName(rule.paths, 'cargo'))
      return;
    const globs = rule.repositories.map(compileGlob);
    const reached = closed.filter((repo) => globs.some((glob) => glob.test(repo.name)));
    if (reached.length === 0) return;
    const names = reached.map((repo) => repo.name).join(', ');
    warnings.push(
      `auth.rules[${i}] lets anonymous clients read ${rule.paths.join(', ')} in ${names}, whose other crates they may not read (anonymous_read = false): config.json says "auth-required", so cargo sends its token for every request and, without one, reads nothing there ("no token found"); the rule opens these crates to other clients (curl) only. Cargo users need a token (a read token is enough); remove the rule if it was meant for cargo without one (docs/cargo.md "Authentication")`,
    );
  });
  return warnings;
}

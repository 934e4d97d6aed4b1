/**
 * The Cargo service: the one place that decides which CargoSource answers for a repository
 * (hosted, proxy or group, by its kind), checks every operation with access control
 * (`authorize(principal, repo, action, <crate name>)`), enforces crate ownership (a crate's
 * owners — NORA user names — or an admin may publish new versions, yank and manage owners; the
 * first publisher becomes the first owner; a crate without owners, published while auth was off,
 * is changed by admins only, and an admin's publish of it makes the admin its owner; with auth
 * off nobody is checked), lets admins delete hosted crates and versions, and routes writes
 * to the repository that takes them (a hosted repository, or a group's write member; a proxy
 * refuses with 405). Free of HTTP: routes.ts turns answers and RegistryErrors into responses.
 */
import type { Readable } from 'node:stream';
import {
  ANONYMOUS,
  refusalBeforeName,
  refusedAnswer,
  type AccessControl,
  type Action,
  type Principal,
  type UserPrincipal,
} from '../../auth/access.ts';
import { compileGlob } from '../../auth/patterns.ts';
import { isRegistryError, RegistryError } from '../../core/errors.ts';
import { shadowedProxies, shadowedText } from '../../repos/group-read.ts';
import { heldElsewhere } from '../../repos/group-write.ts';
import type { CurationGate } from '../../curation/types.ts';
import type { Repository, RepositoryRegistry } from '../../repos/repository.ts';
import type { CargoHosted, PublishResult } from './hosted.ts';
import type { CargoSource, IndexFile, OpenedCrate } from './model.ts';
import { canonicalName, separatorSpellings } from './names.ts';
import {
  notFoundLogins,
  type PublishCheck,
  type PublishedName,
  type StoredCrate,
} from './store.ts';

/** Matches read per hosted repository when a search is filtered by path rules. */
const SEARCH_FILTER_SCAN = 10_000;
export interface CargoServiceDeps {
  readonly repositories: RepositoryRegistry;
  readonly access: AccessControl;
  readonly hosted: CargoHosted;
  /** What answers for proxy repositories (proxy.ts). */
  readonly proxy: CargoSource;
  /** What answers for group repositories (group.ts). */
  readonly group: CargoSource;
  /** True when `login` is a NORA user (owners must be users). */
  readonly userExists: (login: string) => Promise<boolean>;
  /**
   * The principal `login` signs in as with its password (its roles, its `[auth]
   * read_only_users` mark), or undefined when it is no user: whether an owner may publish the
   * crate (`cargo owner --add` and `--remove`, see there). Without it every user may.
   */
  readonly userPrincipal?: (login: string) => Promise<UserPrincipal | undefined>;
  /**
   * True when the proxy repository `proxy` has served crate `name` (lower-cased): its index file
   * is in the cache. For the takeover warning of a new crate's first publish (see `publish`).
   */
  readonly servedIndex?: (proxy: Repository, name: string) => Promise<boolean>;
  /**
   * Another spelling of crate `name` (lower-cased; `-` and `_` swapped somewhere) whose index
   * file the proxy repository `proxy` has cached, or undefined: for a 404's "published as".
   */
  readonly cachedSpelling?: (proxy: Repository, name: string) => Promise<string | undefined>;
  /**
   * `[cargo] shadow_names`: the crate name globs whose first publish may take a name over from a
   * group's proxy (see `publish`). Default: none.
   */
  readonly shadowNames?: () => readonly string[];
  /** Curation (src/curation/types.ts): names the rule when a group's crate is a blocked version. */
  readonly curation?: CurationGate;
}

/** `cargo publish`'s outcome: what hosted.publish stored and the lines for `warnings.other`. */
export interface CargoPublishAnswer extends PublishResult {
  readonly warnings: readonly string[];
}

export class CargoService {
  readonly #deps: CargoServiceDeps;

  constructor(deps: CargoServiceDeps) {
    this.#deps = deps;
  }

  /** The source answering for `repo` by its kind. */
  sourceOf(repo: Repository): CargoSource {
    return this.#deps[repo.kind];
  }

  /** Refuses unless `principal` may `action` (`name`: a crate, undefined: the repository). */
  authorize(principal: Principal, repo: Repository, action: Action, name?: string): void {
    this.#deps.access.authorize(principal, repo, action, name);
  }

  /**
   * `config.json`'s `auth-required`: true when anonymous clients may not read every crate of
   * `repo` but those rules single out (see AccessControl.anonymousReadsUnruled), so Cargo sends
   * its token with every index and download request (RFC 3139). Not whether anonymous may read
   * *something* in it: with `anonymous_read = false` an anonymous rule on `corp-*` left
   * auth-required out, cargo sent no token, and every other crate was a 401 for every token
   * holder (trial 21 authx F4). Where anonymous reads are on and a rule reserves some crates, it
   * stays off (the other crates are read without a token); such a crate's 401 says why.
   */
  authRequired(repo: Repository): boolean {
    const { access } = this.#deps;
    return !access.can(ANONYMOUS, repo, 'read') || !access.anonymousReadsUnruled(repo);
  }

  /**
   * A read of an index file or `.crate` (cargo sends no token for them unless config.json says
   * auth-required): UNAUTHORIZED for an anonymous client says why cargo sent none and what to
   * change, since the user running cargo has a token and the bare "authentication required"
   * sends them checking it.
   */
  #authorizeCargoRead(principal: Principal, repo: Repository, name: string): void {
    try {
      this.authorize(principal, repo, 'read', name);
    } catch (err) {
      if (
        principal.kind !== 'anonymous' ||
        !(err instanceof RegistryError) ||
        err.code !== 'UNAUTHORIZED' ||
        this.authRequired(repo)
      )
        throw err;
      // Here anonymous clients read the crates no rule singles out, so a rule reserves this one.
      // What opened the others decides the advice: `[auth] anonymous_read` when it is on, else
      // the repository's own setting or an anonymous rule over all its crates.
      const opened = this.#deps.access.anonymousRead
        ? 'set anonymous_read = false (in [auth], or on the repository)'
        : `make them no longer readable anonymously (the repository's anonymous_read = true, or a rule with anonymous = true over all its crates, opens them)`;
      throw new RegistryError(
        'UNAUTHORIZED',
        `${err.message}: a rule reserves it, but anonymous clients may read the other crates of ${repo.name}, so its config.json does not say auth-required and cargo sends no token for index files and downloads; ${opened} so that cargo sends its token everywhere, or add a rule with anonymous = true and actions = ["read"] on these crates (docs/cargo.md, "Authentication")`,
      );
    }
  }

  /**
   * The index file of `name` (lower-cased); NOT_FOUND when absent, naming the spelling that
   * exists when another one does (#otherSpelling). The index itself stays exact but for case, as
   * crates.io's is: cargo asks other spellings itself, only to suggest one after a miss.
   */
  async indexFile(repo: Repository, name: string, principal: Principal): Promise<IndexFile> {
    this.#authorizeCargoRead(principal, repo, name);
    let file: IndexFile | undefined;
    try {
      file = await this.sourceOf(repo).indexFile(repo, name);
    } catch (err) {
      throw await this.#spellingAnswer(err, repo, name);
    }
    if (file === undefined) {
      throw await this.#spellingAnswer(
        new RegistryError('NOT_FOUND', `crate \`${name}\` not found`),
        repo,
        name,
      );
    }
    return file;
  }

  /**
   * `err` as it is, unless it is a NOT_FOUND of crate `name` (as asked) while another spelling
   * of it (`-` for `_` or back, any case) exists in `repo`: then a NOT_FOUND saying which
   * (`crate \`a-b_c\` not found; it is published as \`a_b-c\` …`), since a bare 404 sent the
   * client looking for a crate that is there (trial 25 devD F5).
   */
  async #spellingAnswer(err: unknown, repo: Repository, name: string): Promise<unknown> {
    if (!isRegistryError(err) || err.code !== 'NOT_FOUND') return err;
    const other = await this.#otherSpelling(repo, name).catch(() => undefined);
    if (other === undefined) return err;
    const where = repo.kind === 'group' ? ` in ${other.member}` : '';
    return new RegistryError(
      'NOT_FOUND',
      `crate \`${name}\` not found; it is published as \`${other.name}\`${where} (cargo treats - and _ as the same crate name: ask for \`${other.name}\`)`,
    );
  }

  /**
   * The spelling other than `name` (compared lower-cased) that `repo`, or a member of it,
   * holds the crate under: a hosted repository's published name, or the name of an index file a
   * proxy has cached; undefined when none does.
   */
  async #otherSpelling(
    repo: Repository,
    name: string,
  ): Promise<{ name: string; member: string } | undefined> {
    const lower = name.toLowerCase();
    for (const member of this.#deps.repositories.membersOf(repo, lower)) {
      if (member.kind === 'hosted') {
        const published = await this.#deps.hosted.crateName(member, lower);
        if (published !== undefined && published.displayName.toLowerCase() !== lower)
          return { name: published.displayName, member: member.name };
      } else if (member.kind === 'proxy') {
        const cached = await this.#deps.cachedSpelling?.(member, lower);
        if (cached !== undefined) return { name: cached, member: member.name };
      }
    }
    return undefined;
  }

  /**
   * A `.crate` file; NOT_FOUND when absent. `name` is any spelling of a hosted crate's name (case,
   * `-`/`_`: crates.io's API resolves the canonical name), see #published; a proxied crate is
   * known by its index file's name alone (any case).
   */
  async download(
    repo: Repository,
    name: string,
    version: string,
    principal: Principal,
  ): Promise<OpenedCrate> {
    const lower = name.toLowerCase();
    this.#authorizeCargoRead(principal, repo, lower);
    const published = await this.#published(repo, lower);
    let crate: OpenedCrate | undefined;
    try {
      crate = await this.sourceOf(repo).openCrate(repo, published?.name ?? lower, version);
    } catch (err) {
      throw published === undefined ? await this.#spellingAnswer(err, repo, name) : err;
    }
    if (crate === undefined) {
      // A group reads a crate from the member whose index lists it, and curation took a blocked
      // version off the proxy's index: say why (403 and the rule) rather than a bare 404.
      const gate = this.#deps.curation;
      const subject = { registry: 'cargo' as const, name: published?.name ?? lower, version };
      if (repo.kind !== 'hosted' && gate?.hides(subject)) gate.guard(subject);
      const missing = new RegistryError(
        'NOT_FOUND',
        `crate \`${published?.displayName ?? name}\` has no version \`${version}\``,
      );
      // A proxied crate is known by its index file's spelling alone: say which one it has.
      throw published === undefined ? await this.#spellingAnswer(missing, repo, name) : missing;
    }
    return crate;
  }

  /**
   * The name as published of the hosted crate `name` spells (any case, `-` or `_`) in `repo` or,
   * for a group, in its first hosted member holding one (the member the group's hosted-name
   * guard answers from); undefined when none does (a proxy: the name is the upstream's to know).
   */
  async #published(repo: Repository, name: string): Promise<PublishedName | undefined> {
    for (const member of this.#deps.repositories.membersOf(repo)) {
      if (member.kind !== 'hosted') continue;
      const published = await this.#deps.hosted.crateName(member, name);
      if (published !== undefined) return published;
    }
    return undefined;
  }

  /**
   * `cargo publish` to `repo` (or its write member). Repository-wide `write` is checked before
   * the body is read, `write` on the crate once the metadata names it, ownership inside the
   * store transaction. `bodyLength`: the body's declared length (Content-Length), when known.
   *
   * The first version of a crate new to the hosted repository, in a group guarding hosted names
   * (`protect_hosted_names`) whose proxy member serves that crate, would take the name over: that
   * group would serve only the hosted versions from then on, hiding the upstream's crate from
   * every build through it, and only an admin can undo it (deleteCrate; a yank keeps the name
   * hosted). Such a publish is refused (409, Cargo prints the detail) unless the name is in
   * `[cargo] shadow_names` (the operator's decision: Cargo cannot pass a flag such as Go's
   * `--shadow`); then it goes ahead and the answer's `warnings` say what it took over (Cargo
   * prints each `warnings.other` line as `warning: …`). "Serves" = the proxy's cache holds the
   * crate's index file (any of its `-`/`_` spellings), or, when it does not, the proxy's
   * upstreams have it now (one index look-up per spelling, in parallel, bounded by
   * `index_timeout`). A proxy that cannot be reached with nothing cached does not block the
   * publish: the answer warns that it could not be asked.
   */
  async publish(
    repo: Repository,
    body: Readable,
    principal: Principal,
    bodyLength?: number,
  ): Promise<CargoPublishAnswer> {
    // `…/crates/new` serves nothing but PUT: an empty `Allow` where publishes do not land.
    const target = this.#deps.repositories.requireWriteTarget(repo, { allow: [] });
    // A signed-in caller refused on the repository is refused on the crate once the metadata
    // names it (before the .crate is read), so the 403 names the crate and the owning rule.
    const refused = refusalBeforeName(principal, () => {
      this.#checkWrite(repo, target, principal, 'write', undefined);
    });
    const hosted = this.#deps.hosted;
    let warnings: readonly string[] = [];
    let result: Awaited<ReturnType<typeof hosted.publish>>;
    try {
      result = await hosted.publish(target, body, {
        bodyLength,
        publisher: principal.kind === 'user' ? principal.name : undefined,
        // With auth on, a publish allowed on a crate without owners (an admin's) makes the
        // publisher its owner, as for a new crate; with auth off nothing changes.
        adoptOwnerless: this.#deps.access.authEnabled,
        authorize: async (name) => {
          this.#checkWrite(repo, target, principal, 'write', name.toLowerCase());
          // Refused on the repository but not on the crate: the repository's answer holds.
          if (refused !== undefined) throw refused;
          warnings = await this.#takeover(target, name);
        },
        check: (name) => this.#ownerCheck(principal, name),
        // The registry the client published to is `repo` (the group, or the hosted repository
        // addressed directly): a dependency without `registry` must be one of its crates.
        lookupDependency: (name) => this.sourceOf(repo).indexFile(repo, name),
      });
    } catch (err) {
      throw refusedAnswer(err, refused);
    }
    return { ...result, warnings };
  }

  /**
   * The takeover check of a publish of crate `name` into `target` (see `publish`): throws
   * CONFLICT for a takeover of a name not in `shadow_names`, else returns the warning lines.
   */
  async #takeover(target: Repository, name: string): Promise<readonly string[]> {
    const served = this.#deps.servedIndex;
    const lower = name.toLowerCase();
    if (served === undefined || (await this.#deps.hosted.hasCrate(target, lower))) return [];
    // The spellings a client may have asked the proxy for (`-` and `_` name one crate).
    const spellings = separatorSpellings(lower);
    const unreachable = new Set<string>();
    const repositories = this.#deps.repositories;
    const shadowed = await shadowedProxies(
      repositories.byFormat('cargo'),
      (group, path) => repositories.membersOf(group, path),
      target,
      lower,
      async (proxy) => {
        // The spelling the proxy has, so the refusal names the upstream's crate (`up-other` for
        // a publish of `UP_OTHER`), not the one asked for.
        for (const spelling of spellings) if (await served(proxy, spelling)) return spelling;
        // Not cached: does the upstream have it now? (Cargo's own look-up of the name before
        // publishing through the group has usually cached it already.)
        const found = await Promise.all(
          spellings.map((spelling) =>
            this.#deps.proxy.indexFile(proxy, spelling).then(
              (file) => file !== undefined,
              () => {
                unreachable.add(proxy.name);
                return false;
              },
            ),
          ),
        );
        const at = found.indexOf(true);
        return at === -1 ? undefined : spellings[at];
      },
    );
    const lines = shadowedText(
      (crate) => `crate \`${crate}\``,
      shadowed[0]?.served ?? lower,
      target.name,
      shadowed,
    );
    if (lines.length > 0 && !this.#mayShadow(name)) {
      throw new RegistryError(
        'CONFLICT',
        `refusing to publish crate \`${name}\`: it is a new crate in ${target.name}, and ${lines.join('; and ')}. ` +
          'Builds through that group that use the proxied crate would then fail until an admin deletes the hosted crate (a yank keeps the name hosted). ' +
          `To take the name over on purpose, an operator adds it to [cargo] shadow_names in NORA's configuration (NORA_CARGO_SHADOW_NAMES; e.g. shadow_names = ["${name}"] or a glob such as "corp-*"); to keep the proxied crate, publish under another name (docs/cargo.md, "Group").`,
      );
    }
    const notAsked = [...unreachable].filter((proxy) => !shadowed.some((s) => s.proxy === proxy));
    if (notAsked.length > 0) {
      lines.push(
        `could not ask ${notAsked.join(', ')} whether its upstream has crate \`${lower}\` (unreachable, nothing cached): if it does, groups guarding hosted names now serve only ${target.name}'s versions of it (protect_hosted_names)`,
      );
    }
    return lines;
  }

  /** True when `[cargo] shadow_names` lets a publish of `name` take it over (see `publish`). */
  #mayShadow(name: string): boolean {
    const globs = this.#deps.shadowNames?.() ?? [];
    const canon = canonicalName(name);
    return globs.some((glob) => compileGlob(canonicalName(glob)).test(canon));
  }

  /** `cargo yank` (`yanked` true) or `cargo yank --undo`. */
  async setYanked(
    repo: Repository,
    name: string,
    version: string,
    yanked: boolean,
    principal: Principal,
  ): Promise<void> {
    const target = this.#writeTarget(repo, principal, 'write', name.toLowerCase(), []);
    try {
      await this.#requireOwner(target, name, principal);
      await this.#deps.hosted.setYanked(target, name, version, yanked);
    } catch (err) {
      throw await this.#proxiedHint(err, repo, target, name, YANK_OR_DELETE);
    }
  }

  /**
   * Whether the writes to crate `name` through the group `repo` — a yank, an unyank, a crate's
   * or a version's deletion, its owners — answer 405 with an empty `Allow` (#proxiedHint): its
   * write member does not host the crate and a proxy member serves it (any `-`/`_` spelling). A
   * 405 of another method at those URLs must then not list their methods (RFC 9110 §15.5.6;
   * trial 27 devA). False for anything but a group with a write member, and for a `principal`
   * that may not read `name` (its writes answer 401/403 first, and `Allow` must not tell it what
   * a member serves). Asks the proxy members as #proxiedHint does: for 405s only, which are rare.
   */
  async writesRefused(repo: Repository, name: string, principal: Principal): Promise<boolean> {
    if (repo.kind !== 'group') return false;
    const lower = name.toLowerCase();
    if (!this.#deps.access.can(principal, repo, 'read', lower)) return false;
    const target = this.#deps.repositories.writeTarget(repo);
    if (target === undefined || target.name === repo.name) return false;
    const missing = new RegistryError('NOT_FOUND', `crate \`${name}\` does not exist`);
    const hint = await this.#proxiedHint(missing, repo, target, name, '').catch(() => missing);
    return hint !== missing;
  }

  /**
   * `err` as it is, unless it is a NOT_FOUND of a request through a group for a crate its hosted
   * write member `target` does not hold while a proxy member serves it: "does not exist" would
   * contradict the group's own index (Cargo just built with it), so the answer names the proxy
   * member and says what cannot be done here (`consequence`: "so it cannot be yanked or deleted here"): 405,
   * as Maven's and Helm's groups answer for what a proxy member serves (trial 20 fmts F4: it was
   * 404; trial 21 fmts F4 for the owners endpoints). Its `Allow` is empty: RFC 9110 §10.2.1's "the
   * resource allows no methods", which is so of every URL this answers (a yank, an unyank, a
   * crate's or a version's deletion, a crate's owners: nothing else is served there for a crate
   * the group does not host; `DELETE …/crates/new`, where PUT publishes, is given its own in
   * routes.ts). A proxy member that fails to answer counts as not serving it. The proxy member
   * is asked for `name`'s other `-`/`_` spellings too (separatorSpellings, after the one given):
   * `foo_bar` when the upstream has `foo-bar` was a plain 404 (trial 23), though crates.io names
   * are unique modulo `-`/`_`; the answer then names the upstream's spelling for cargo to use.
   */
  async #proxiedHint(
    err: unknown,
    repo: Repository,
    target: Repository,
    name: string,
    consequence: string,
  ): Promise<unknown> {
    if (!isRegistryError(err) || err.code !== 'NOT_FOUND' || repo.kind !== 'group') return err;
    const lower = name.toLowerCase();
    if ((await this.#deps.hosted.crateName(target, lower)) !== undefined) return err;
    const members = this.#deps.repositories.membersOf(repo);
    // Every proxy member for the spelling given before any other spelling is tried.
    for (const spelling of separatorSpellings(lower)) {
      const held = await heldElsewhere({
        group: repo,
        writeTo: target,
        members,
        kinds: ['proxy'],
        holds: (member) => this.#deps.proxy.indexFile(member, spelling),
      });
      if (held === undefined) continue;
      const file = held.held;
      const respelt =
        file.name.toLowerCase() === lower
          ? ''
          : ` (\`${name}\` names the same crate, since crates.io names are unique modulo \`-\`/\`_\`, but the upstream spells it \`${file.name}\`: use \`${file.name}\` with cargo)`;
      return new RegistryError(
        'METHOD_NOT_ALLOWED',
        `crate \`${file.name}\` is not hosted in ${target.name}: the group ${repo.name} serves it ` +
          `from its proxy member ${held.member.name} (read-only), ${consequence}${respelt}`,
        { cause: err, headers: { allow: '' } },
      );
    }
    return err;
  }

  /**
   * An admin's deletion (crates.io's admin tooling; Cargo has no verb for it) of the hosted crate
   * `name` (any spelling) in `repo` or its write member: the whole crate, its owners included,
   * when `version` is undefined, else that version (the crate too when it was the last). Needs
   * the `admin` action on the crate, on the group and the member: the admin role (or a rule
   * granting `admin` there) — owners and writers get 403, they yank. With auth off anyone may, as
   * every format's deletes (a read-only or scoped credential excepted). The index file is derived
   * from the rows left: the version's line goes; a crate gone is a 404 again, so a group guarding
   * hosted names asks its proxy members for the name again (the undo of a takeover). The
   * `.crate` blobs are left for gc. Returns the answer's message.
   */
  async deleteCrate(
    repo: Repository,
    name: string,
    version: string | undefined,
    principal: Principal,
  ): Promise<string> {
    const what = version === undefined ? `crate \`${name}\`` : `\`${name}@${version}\``;
    let target: Repository;
    try {
      target = this.#writeTarget(repo, principal, 'admin', name.toLowerCase(), []);
    } catch (err) {
      if (!isRegistryError(err) || err.code !== 'DENIED') throw err;
      throw new RegistryError(
        'DENIED',
        `only an admin may delete ${what} (owners and writers may yank a version: cargo yank): ${err.message}`,
      );
    }
    const gc = 'garbage collection (`nora gc`)';
    try {
      return await this.#deleteHosted(target, name, version, gc);
    } catch (err) {
      throw await this.#proxiedHint(err, repo, target, name, YANK_OR_DELETE);
    }
  }

  /** deleteCrate once the hosted repository is known: the answer's message. */
  async #deleteHosted(
    target: Repository,
    name: string,
    version: string | undefined,
    gc: string,
  ): Promise<string> {
    const hosted = this.#deps.hosted;
    if (version === undefined) {
      const deleted = await hosted.deleteCrate(target, name);
      const count = deleted.versions.length;
      return (
        `deleted crate \`${deleted.name}\` (${count} version${count === 1 ? '' : 's'}: ${shortList(deleted.versions)}) ` +
        `and its owners from ${target.name}; groups guarding hosted names ask their proxies for it again; ` +
        `its .crate files are left for ${gc}`
      );
    }
    const deleted = await hosted.deleteVersion(target, name, version);
    const gone = deleted.crateDeleted
      ? `, its last version: crate \`${deleted.name}\` and its owners are gone from ${target.name} and groups guarding hosted names ask their proxies for it again`
      : ` from ${target.name}`;
    return `deleted \`${deleted.name}@${deleted.vers}\`${gone}; its .crate file is left for ${gc}`;
  }

  /**
   * `cargo owner --list`: the hosted crate's owners. Through a group, a crate only its proxy
   * member serves is a 405 saying so (#proxiedHint), not "does not exist".
   */
  async owners(
    repo: Repository,
    name: string,
    principal: Principal,
  ): Promise<{ id: number; login: string }[]> {
    const target = this.#readTarget(repo);
    this.authorize(principal, repo, 'read', name.toLowerCase());
    try {
      return await this.#deps.hosted.ownerUsers(target, name);
    } catch (err) {
      throw await this.#proxiedHint(err, repo, target, name, PROXIED_OWNERS);
    }
  }

  /**
   * `cargo owner --add`: every login must be a NORA user (400 naming each one that is not), and
   * with auth on not one `[auth] read_only_users` names (400: it could never publish, yank or
   * change the owners, so it would be an owner in name only). The crate is checked first (404,
   * or through a group the 405 of a crate its proxy member serves), then the caller's ownership,
   * then the logins (trial 21 fmts F4: a proxied crate got "could not find user"). Returns the
   * crate's name as published.
   */
  async addOwners(
    repo: Repository,
    name: string,
    logins: readonly string[],
    principal: Principal,
  ): Promise<string> {
    const target = this.#writeTarget(repo, principal, 'write', name.toLowerCase());
    try {
      await this.#deps.hosted.crate(target, name);
    } catch (err) {
      throw await this.#proxiedHint(err, repo, target, name, PROXIED_OWNERS);
    }
    await this.#requireOwner(target, name, principal);
    const unknown: string[] = [];
    for (const login of new Set(logins)) {
      if (!(await this.#deps.userExists(login))) unknown.push(login);
    }
    if (unknown.length > 0) throw new RegistryError('BAD_REQUEST', notFoundLogins('user', unknown));
    const userPrincipal = this.#deps.userPrincipal;
    if (this.#deps.access.authEnabled && userPrincipal !== undefined) {
      const readOnly: string[] = [];
      for (const login of new Set(logins)) {
        if ((await userPrincipal(login))?.readOnlyUser === true) readOnly.push(login);
      }
      if (readOnly.length > 0) {
        const crate = (await this.#deps.hosted.crate(target, name)).displayName;
        throw new RegistryError('BAD_REQUEST', readOnlyOwnerMessage(readOnly, crate));
      }
    }
    return this.#deps.hosted.addOwners(target, name, logins);
  }

  /**
   * `cargo owner --remove`: the last owner cannot be removed, nor a login that is not one (400);
   * with auth on, neither can the owners whose removal would leave only owners who may not
   * publish the crate (400 saying why each one left may not: `[auth] read_only_users`, no
   * longer a user, no write there), as crates.io refuses to leave a crate without an owner.
   * Through a group, a crate only its proxy member serves is a 405 saying so (#proxiedHint).
   * Returns the crate's name as published.
   */
  async removeOwners(
    repo: Repository,
    name: string,
    logins: readonly string[],
    principal: Principal,
  ): Promise<string> {
    const target = this.#writeTarget(repo, principal, 'write', name.toLowerCase());
    try {
      await this.#deps.hosted.crate(target, name);
    } catch (err) {
      throw await this.#proxiedHint(err, repo, target, name, PROXIED_OWNERS);
    }
    await this.#requireOwner(target, name, principal);
    const userPrincipal = this.#deps.userPrincipal;
    if (!this.#deps.access.authEnabled || userPrincipal === undefined) {
      return this.#deps.hosted.removeOwners(target, name, logins);
    }
    return this.#deps.hosted.removeOwners(target, name, logins, async (crate, owners) => {
      const why = new Map<string, string>();
      for (const owner of owners) {
        const user = await userPrincipal(owner);
        const reason =
          user === undefined
            ? 'is no longer a user'
            : user.readOnlyUser === true
              ? 'is a read-only user ([auth] read_only_users)'
              : this.#deps.access.can(user, target, 'write', crate.toLowerCase())
                ? undefined
                : `may not write to ${target.name}`;
        if (reason !== undefined) why.set(owner, reason);
      }
      return {
        logins: new Set(owners.filter((owner) => !why.has(owner))),
        refusal: (left) => lastPublisherMessage(logins, crate, left, why),
      };
    });
  }

  /**
   * `cargo search`: crates of the hosted repositories behind `repo` (itself, or a group's hosted
   * members) whose name, description or keywords contain `query`, the ones `principal` may read,
   * sorted by name: page `page` (from 1) of `perPage` crates, with the total count. Each crate's
   * `maxVersion` is its highest version not yanked ("0.0.0" when all are), as crates.io answers:
   * `cargo search` prints it as the line to copy into Cargo.toml.
   * A proxy answers an empty list (the upstream's search is not mirrored).
   */
  async search(
    repo: Repository,
    query: string,
    page: { readonly perPage: number; readonly page: number },
    principal: Principal,
  ): Promise<{ crates: StoredCrate[]; total: number }> {
    this.authorize(principal, repo, 'read');
    const hostedRepos =
      repo.kind === 'hosted'
        ? [repo]
        : this.#deps.repositories.membersOf(repo).filter((m) => m.kind === 'hosted');
    // Each member's first `offset + perPage` crates by name hold the page's crates of the union.
    // Pages past SEARCH_FILTER_SCAN crates are empty.
    const offset = (page.page - 1) * page.perPage;
    const wanted = Math.min(offset + page.perPage, SEARCH_FILTER_SCAN);
    // When rules hide some crates from this caller, the matches are filtered name by name and
    // counted after filtering (the store's count would tell how many hidden crates match), up to
    // SEARCH_FILTER_SCAN of them per repository.
    const filtered = !this.#deps.access.readsEveryPath(principal, repo);
    const from = new Map<string, Repository>();
    const crates: StoredCrate[] = [];
    let total = 0;
    for (const member of hostedRepos) {
      const found = await this.#deps.hosted.search(
        member,
        query,
        filtered ? SEARCH_FILTER_SCAN : wanted,
      );
      if (!filtered) total += found.total;
      for (const crate of found.crates) {
        if (from.has(crate.name)) continue;
        from.set(crate.name, member);
        if (this.#deps.access.can(principal, repo, 'read', crate.name, { listing: true })) {
          crates.push(crate);
        }
      }
    }
    if (filtered) total = crates.length;
    crates.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const shown = offset >= wanted ? [] : crates.slice(offset, wanted);
    // The highest version not yanked, read for the page's crates only, per member.
    const maxVersions = new Map<string, string>();
    for (const member of hostedRepos) {
      const names = shown.filter((c) => from.get(c.name) === member).map((c) => c.name);
      for (const [name, vers] of await this.#deps.hosted.maxUnyankedVersions(member, names)) {
        maxVersions.set(name, vers);
      }
    }
    return {
      crates: shown.map((c) => ({ ...c, maxVersion: maxVersions.get(c.name) ?? c.maxVersion })),
      total,
    };
  }

  /** The crate ownership rule for a publish (see the module comment). */
  #ownerCheck(principal: Principal, name: string): PublishCheck {
    return (owners) => {
      if (owners === undefined) return;
      this.#checkOwner(owners, name, principal);
    };
  }

  async #requireOwner(target: Repository, name: string, principal: Principal): Promise<void> {
    if (!this.#deps.access.authEnabled) return;
    const crate = await this.#deps.hosted.crate(target, name);
    const owners = await this.#deps.hosted.store.owners(target.name, crate.name);
    this.#checkOwner(owners, crate.displayName, principal);
  }

  #checkOwner(owners: readonly string[], name: string, principal: Principal): void {
    if (!this.#deps.access.authEnabled) return;
    if (principal.kind === 'user') {
      if (principal.roles.includes('admin') || owners.includes(principal.name)) return;
    }
    // A crate published while auth was off has no owner: letting any writer change it would let
    // the first one to try take it from the team that published it. An admin decides.
    if (owners.length === 0) throw new RegistryError('DENIED', ownerlessMessage(name));
    const who = principal.kind === 'user' ? principal.name : 'anonymous';
    throw new RegistryError(
      'DENIED',
      `${who} is not an owner of crate \`${name}\` (owners: ${owners.join(', ')})`,
    );
  }

  /** The hosted repository holding owners for reads through `repo`. */
  #readTarget(repo: Repository): Repository {
    const target = this.#deps.repositories.writeTarget(repo);
    if (target === undefined) {
      throw new RegistryError(
        'NOT_FOUND',
        `repository "${repo.name}" has no hosted crates (owners are kept by hosted repositories)`,
      );
    }
    return target;
  }

  /**
   * Where a write addressed to `repo` lands (itself when hosted, a group's write member), after
   * checking `action` on both the group and the member. A proxy, or a group without a hosted
   * member, refuses with 405 whose `Allow` is `allow`, what the URL serves there: GET for a
   * crate's owners, nothing for a yank, an unyank or a deletion.
   */
  #writeTarget(
    repo: Repository,
    principal: Principal,
    action: Action,
    name?: string,
    allow: readonly string[] = ['GET'],
  ): Repository {
    const target = this.#deps.repositories.requireWriteTarget(repo, { allow });
    this.#checkWrite(repo, target, principal, action, name);
    return target;
  }

  /** Whether writes addressed to `repo` land somewhere (hosted, or a group's write member). */
  acceptsWrites(repo: Repository): boolean {
    return this.#deps.repositories.writeTarget(repo) !== undefined;
  }

  #checkWrite(
    repo: Repository,
    target: Repository,
    principal: Principal,
    action: Action,
    name: string | undefined,
  ): void {
    if (target.name !== repo.name) this.authorize(principal, repo, action, name);
    this.#deps.access.authorize(
      principal,
      target,
      action,
      name,
      target.name === repo.name ? {} : { via: repo },
    );
  }
}

/** What a group cannot do with a crate its proxy member serves (#proxiedHint). */
const YANK_OR_DELETE = 'so it cannot be yanked or deleted here';

/**
 * What a group cannot do with the owners of a crate its proxy member serves: they are the
 * upstream registry's (crates.io's owners API is its own), which a proxy does not mirror.
 */
const PROXIED_OWNERS =
  "so its owners are the upstream registry's, which NORA does not mirror: they cannot be listed or changed here";

/** The first 20 of `items`, comma-separated, and how many more there are. */
function shortList(items: readonly string[]): string {
  const shown = items.slice(0, 20).join(', ');
  return items.length > 20 ? `${shown} and ${items.length - 20} more` : shown;
}

/** The 403 for a non-admin's change of a crate without owners (docs/cargo.md "Authentication"). */
export function ownerlessMessage(name: string): string {
  return (
    `crate \`${name}\` has no owner (it was published while authentication was off): only an ` +
    'admin may publish, yank or change its owners; an admin must add its owners first ' +
    `(\`cargo owner --add <user> ${name}\` with an admin token)`
  );
}

/**
 * The 400 for `cargo owner --add` of users `[auth] read_only_users` names (docs/cargo.md
 * "Authentication").
 */
export function readOnlyOwnerMessage(logins: readonly string[], crate: string): string {
  const named = logins.map((login) => `\`${login}\``).join(', ');
  const are = logins.length === 1 ? 'is a read-only user' : 'are read-only users';
  return (
    `${named} ${are} ([auth] read_only_users) and could never publish, yank or change the ` +
    `owners of crate \`${crate}\`: only users who may publish can be its owners`
  );
}

/**
 * The 400 for a `cargo owner --remove` of `logins` that would leave crate `crate` only with
 * owners (`left`) who may not publish it, `why` each may not (docs/cargo.md "Authentication").
 */
export function lastPublisherMessage(
  logins: readonly string[],
  crate: string,
  left: readonly string[],
  why: ReadonlyMap<string, string>,
): string {
  const named = [...new Set(logins)].map((login) => `\`${login}\``).join(', ');
  const reasons = left.map((owner) => `${owner} ${why.get(owner) ?? 'may not publish'}`);
  return (
    `cannot remove ${named} from the owners of crate \`${crate}\`: no owner left could ` +
    `publish it (${reasons.join('; ')}); add an owner who may publish first ` +
    `(\`cargo owner --add <user> ${crate}\`)`
  );
}

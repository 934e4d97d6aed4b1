/**
 * An admin's delete of hosted Go modules (trial cargogo F6): the undo of a mistaken publish — a
 * `--shadow` that hid a public module from every build through the group, a version that leaked
 * a secret — which the GOPROXY protocol has no verb for (proxy.golang.org removes modules on
 * request; a module's own publisher retracts a version with a `retract` directive in go.mod). No
 * HTTP types here: routes.ts (deleteHandler) translates.
 *
 *   DELETE <mount>/<escaped module>/@v/<escaped version>.zip   one version (the URL it was PUT to)
 *   DELETE <mount>/<escaped module>/@v/list                    the whole module, every version
 *                                                              (pseudo-versions, which `list`
 *                                                              does not show, included)
 *
 * addressed to a hosted repository or to a group (its write member). Access: the `admin` action
 * on the module path (`access.authorize(principal, repo, 'admin', module)`, the one choke point),
 * on the group and its member when addressed through a group — the admin role, or a rule granting
 * `admin` there; writers get 403 (module versions are immutable for their publishers), anonymous
 * 401. With auth off anyone may, as every format's deletes (a read-only or scoped credential is
 * still refused: access.ts). Checked before anything is looked up, so a 404 tells nothing to
 * whoever may not delete.
 *
 * After a delete the hosted reads are recomputed from the rows left (hosted.ts drops its copy):
 * `@v/list` no longer has the version, `.info`/`.mod`/`.zip` are 404, `@latest` is the newest
 * version left. A module path with no version left is no longer hosted: a group guarding hosted
 * names (`protect_hosted_names`) asks its proxy members for that path's tree again. The blobs
 * stay for garbage collection (`nora gc`). No tombstone: the version may be published again.
 */
import type { AccessControl, Principal } from '../../auth/access.ts';
import { isRegistryError, RegistryError } from '../../core/errors.ts';
import type { Repository, RepositoryRegistry } from '../../repos/repository.ts';
import { versionsHeld } from './group.ts';
import type { GoHosted } from './hosted.ts';

export interface GoDeleterDeps {
  readonly access: AccessControl;
  readonly repositories: RepositoryRegistry;
  readonly hosted: GoHosted;
}

/** What is left for gc after a delete, as every answer says it. */
const GC = 'its .mod and .zip files are left for garbage collection (nora gc)';
const AGAIN = 'groups guarding hosted names ask their proxies for its path again';

export class GoDeleter {
  readonly #deps: GoDeleterDeps;

  constructor(deps: GoDeleterDeps) {
    this.#deps = deps;
  }

  /**
   * Deletes `module@version` (decoded), or the whole module when `version` is undefined, from
   * `repo` or its write member. Returns the answer's one line. Throws UNAUTHORIZED/DENIED (see the
   * module comment), METHOD_NOT_ALLOWED (a proxy, a group without hosted member), BAD_REQUEST (an
   * invalid version), NOT_FOUND (not hosted there).
   */
  async delete(
    repo: Repository,
    module: string,
    version: string | undefined,
    principal: Principal,
  ): Promise<string> {
    const what = version === undefined ? `the module ${module}` : `${module}@${version}`;
    const target = this.#deps.repositories.requireWriteTarget(repo, { verb: 'delete' });
    try {
      this.#authorize(repo, target, principal, module);
    } catch (err) {
      if (!isRegistryError(err) || err.code !== 'DENIED') throw err;
      throw new RegistryError(
        'DENIED',
        `only an admin may delete ${what} (module versions are immutable for their publishers: publish a new version, and retract this one with a retract directive in go.mod): ${err.message}`,
        err.headers === undefined ? {} : { headers: err.headers },
      );
    }
    const hosted = this.#deps.hosted;
    try {
      if (version === undefined) {
        const versions = await hosted.deleteModule(target, module);
        const count = `${versions.length} version${versions.length === 1 ? '' : 's'}`;
        const after = await this.#afterModuleGone(target, module);
        return `deleted ${module} (${count}: ${shortList(versions)}) from ${target.name}; ${after}; ${GC}`;
      }
      const { moduleDeleted } = await hosted.deleteVersion(target, module, version);
      const gone = moduleDeleted
        ? `; it was its last version: ${module} is no longer hosted in ${target.name}, and ${await this.#afterModuleGone(target, module)}`
        : '';
      return `deleted ${module}@${version} from ${target.name}${gone}; ${GC}`;
    } catch (err) {
      if (!isRegistryError(err) || err.code !== 'NOT_FOUND') throw err;
      // A module the write member does host, at other versions: list them, as a download's 404
      // does (trial 17 F5: the answer spoke of proxy members, which had nothing to do with it).
      const versions =
        version === undefined ? [] : ((await hosted.list(target, module))?.versions ?? []);
      if (versions.length > 0) {
        const where = target.name === repo.name ? '' : ` (the write member of ${repo.name})`;
        throw new RegistryError('NOT_FOUND', `${err.message}${where}: ${versionsHeld(versions)}`, {
          cause: err,
        });
      }
      if (target.name !== repo.name) throw await this.#notInWriteMember(repo, target, module, err);
      throw err;
    }
  }

  /**
   * What a group guarding hosted names does with `module`'s path once `module` is gone from
   * `target`: asks its proxies again, unless another module at or around the path (a sub-module
   * `module/sub`, a parent module) is still hosted there, which keeps the whole tree hosted-only
   * (hosted.ts treeHolder; trial 15 godel F6: the answer promised the upstream back while a
   * sub-module still held the path).
   */
  async #afterModuleGone(target: Repository, module: string): Promise<string> {
    const holder = await this.#deps.hosted.treeHolder(target, module);
    if (holder === undefined) return AGAIN;
    return `groups guarding hosted names still serve its path from hosted only, since ${target.name} still hosts ${holder} (delete that too for them to ask their proxies again)`;
  }

  /**
   * The NOT_FOUND of a delete through `group` whose write member `target` lacks the module: names
   * the other hosted member holding it (to delete there, at its own URL) or says that a module the
   * group serves from a proxy member cannot be deleted (trial 15 godel F8: with two hosted
   * members, the proxy was blamed for a module another hosted member held).
   */
  async #notInWriteMember(
    group: Repository,
    target: Repository,
    module: string,
    err: RegistryError,
  ): Promise<RegistryError> {
    const holders: string[] = [];
    for (const member of this.#deps.repositories.membersOf(group)) {
      if (member.kind !== 'hosted' || member.name === target.name) continue;
      if (await this.#deps.hosted.hasModule(member, module)) holders.push(member.name);
    }
    const why =
      holders.length === 0
        ? 'a module the group serves from a proxy member cannot be deleted'
        : `${module} is hosted in ${holders.join(', ')}, another member of ${group.name}: delete it there (/repository/${holders[0] ?? ''}/…)`;
    return new RegistryError(
      'NOT_FOUND',
      `${err.message} (the write member of ${group.name}); ${why}`,
      { cause: err },
    );
  }

  /** `admin` on `module` in `target`, and in `repo` when that is a group deleting through it. */
  #authorize(repo: Repository, target: Repository, principal: Principal, module: string): void {
    if (target.name !== repo.name) this.#deps.access.authorize(principal, repo, 'admin', module);
    this.#deps.access.authorize(principal, target, 'admin', module, {
      via: target.name === repo.name ? undefined : repo,
    });
  }
}

/** The first versions of `versions`, `and N more` past eight. */
function shortList(versions: readonly string[]): string {
  const shown = versions.slice(0, 8).join(', ');
  return versions.length > 8 ? `${shown} and ${versions.length - 8} more` : shown;
}

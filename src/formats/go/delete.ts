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
        return `deleted ${module} (${count}: ${shortList(versions)}) from ${target.name}; ${AGAIN}; ${GC}`;
      }
      const { moduleDeleted } = await hosted.deleteVersion(target, module, version);
      const gone = moduleDeleted
        ? `; it was its last version: ${module} is no longer hosted in ${target.name}, and ${AGAIN}`
        : '';
      return `deleted ${module}@${version} from ${target.name}${gone}; ${GC}`;
    } catch (err) {
      // Through a group, a module its proxy members serve is "not found" here, and why is said.
      if (isRegistryError(err) && err.code === 'NOT_FOUND' && target.name !== repo.name) {
        throw new RegistryError(
          'NOT_FOUND',
          `${err.message} (the write member of ${repo.name}); a module the group serves from a proxy member cannot be deleted`,
          { cause: err },
        );
      }
      throw err;
    }
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

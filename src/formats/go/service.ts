/**
 * The Go module repository service: GOPROXY protocol reads and checksum-database forwarding over
 * hosted, proxy and group repositories. No HTTP types here: routes.ts translates.
 *
 * Every read authorizes first (`access.authorize(principal, repo, 'read', path)` with the module
 * path, so `[[auth.rules]] paths = ["corp.example/**"]` covers a module subtree; a checksum
 * database read with `sumdb/<name>`; a lookup of a module path hosted here is never forwarded,
 * and says it is hosted here only to a caller who may read the module). Absent things throw
 * NOT_FOUND (404), which `go` treats as "try the next GOPROXY entry".
 */
import type { AccessControl, Principal } from '../../auth/access.ts';
import { RegistryError } from '../../core/errors.ts';
import type { Repository, RepositoryRegistry } from '../../repos/repository.ts';
import { type HostedModules, rememberedNote, TreeMiss } from './group.ts';
import type { MissNotes } from '../../proxy/negative-cache.ts';
import type { GoSource, OpenedModuleFile, VersionInfo, VersionList } from './model.ts';
import type { GoRoute } from './paths.ts';
import type { GoSumdb, SumdbAnswer } from './sumdb.ts';

export interface GoServiceDeps {
  readonly access: AccessControl;
  readonly repositories: RepositoryRegistry;
  /** The GoSource answering reads of `repo` (hosted, proxy or group). */
  readonly sourceOf: (repo: Repository) => GoSource;
  readonly sumdb: GoSumdb;
  /** Which module paths the hosted repositories hold (a group's sumdb lookups of them stay here). */
  readonly hostedModules: HostedModules;
}

export type GoReadResult =
  | { readonly kind: 'list'; readonly list: VersionList }
  | { readonly kind: 'info'; readonly info: VersionInfo }
  | { readonly kind: 'file'; readonly file: OpenedModuleFile; readonly contentType: string }
  | { readonly kind: 'sumdb'; readonly answer: SumdbAnswer };

export class GoService {
  readonly #deps: GoServiceDeps;

  constructor(deps: GoServiceDeps) {
    this.#deps = deps;
  }

  /** Throws UNAUTHORIZED/DENIED unless `principal` may `action` `path` in `repo`. */
  authorize(
    principal: Principal,
    repo: Repository,
    action: 'read' | 'write' | 'delete',
    path: string | undefined,
    via?: Repository,
  ): void {
    this.#deps.access.authorize(principal, repo, action, path, { via });
  }

  sourceOf(repo: Repository): GoSource {
    return this.#deps.sourceOf(repo);
  }

  /** One GOPROXY or sumdb read of `repo`; throws NOT_FOUND when absent. */
  async read(repo: Repository, route: GoRoute, principal: Principal): Promise<GoReadResult> {
    if (route.kind === 'sumdb') {
      // Every Go repository forwards the databases of `[go] sumdb`, hosted-only ones included
      // (NORA_GO_PROXY=none): that list has its own key and needs no module proxy upstream.
      // `[go] sumdb = []` turns it off (then `supported` is 404 and `go` asks the database).
      this.authorize(principal, repo, 'read', `sumdb/${route.name}`);
      const notServed = () =>
        new RegistryError('NOT_FOUND', `not found: sumdb/${route.name}/${route.path}`);
      const held = route.module === undefined ? [] : await this.#hostedUnder(repo, route.module);
      if (route.module !== undefined && held.length > 0) {
        // The module is private to this NORA: asking the public database would leak its name
        // (and could only fail). Saying so tells the caller the path is hosted here: only to a
        // caller who may read a module it names in its hosted repository. Anyone else gets the
        // answer of a lookup not served, which says nothing about the path (access is checked
        // on `sumdb/<name>` above, not on the module path). `go` prints the line after "server
        // response:".
        const readable = held.find(({ repository, module }) =>
          this.#deps.access.can(principal, repository, 'read', module),
        );
        if (readable === undefined) throw notServed();
        throw new RegistryError(
          'NOT_FOUND',
          hostedLookupRefusal(route.module, route.name, readable),
        );
      }
      const answer = await this.#deps.sumdb.get(route.name, route.path, route.module);
      if (answer === undefined) throw notServed();
      return { kind: 'sumdb', answer };
    }
    this.authorize(principal, repo, 'read', route.module);
    try {
      return await this.#read(repo, route);
    } catch (err) {
      // A group's 404 may name the hosted module that kept its proxies out of this path (its
      // tree's): named only to a caller who may read that module in its hosted repository (as
      // the sumdb answer above); anyone else learns only that the path's tree is hosted there.
      if (err instanceof TreeMiss) {
        const hosted = this.#deps.repositories.get(err.kept.hosted);
        const readable =
          hosted !== undefined && this.#deps.access.can(principal, hosted, 'read', err.kept.held);
        if (!readable) throw new RegistryError('NOT_FOUND', err.withheld);
      }
      throw err;
    }
  }

  async #read(repo: Repository, route: Exclude<GoRoute, { kind: 'sumdb' }>): Promise<GoReadResult> {
    const source = this.sourceOf(repo);
    // What a proxy's remembered upstream miss adds to the 404 (a group's members fill it too).
    const miss: MissNotes = {};
    const notFound = (what: string) =>
      new RegistryError('NOT_FOUND', `not found: ${what}${rememberedNote(miss)}`);
    switch (route.kind) {
      case 'list': {
        const list = await source.list(repo, route.module, miss);
        // An unknown module has an empty list at proxy.golang.org too; 404 lets `go` fall
        // through to the next GOPROXY entry, which is what a mirror should do.
        if (list === undefined) throw notFound(`${route.module}/@v/list`);
        return { kind: 'list', list };
      }
      case 'latest': {
        const info = await source.latest(repo, route.module, miss);
        if (info === undefined) throw notFound(`${route.module}@latest`);
        return { kind: 'info', info };
      }
      case 'info': {
        const info = await source.info(repo, route.module, route.version, miss);
        if (info === undefined) throw notFound(`${route.module}@${route.version}`);
        return { kind: 'info', info };
      }
      case 'mod': {
        const file = await source.mod(repo, route.module, route.version, miss);
        if (file === undefined) throw notFound(`${route.module}@${route.version}.mod`);
        return { kind: 'file', file, contentType: 'text/plain; charset=utf-8' };
      }
      case 'zip': {
        const file = await source.zip(repo, route.module, route.version, miss);
        if (file === undefined) throw notFound(`${route.module}@${route.version}.zip`);
        return { kind: 'file', file, contentType: 'application/zip' };
      }
    }
  }

  /**
   * The hosted modules that are `module` or below it (`go` probes a path's prefixes too), each
   * with the hosted repository holding it, when `repo` is that hosted repository or a group
   * guarding hosted names (`protect_hosted_names`, the same guard its `@v/list`/`.info` reads
   * apply, group.ts) with it as a member: then no upstream, the checksum database included, is
   * asked about the path.
   */
  async #hostedUnder(
    repo: Repository,
    module: string,
  ): Promise<{ readonly repository: Repository; readonly module: string }[]> {
    const hosted =
      repo.kind === 'hosted'
        ? [repo]
        : repo.kind === 'group' && repo.protectHostedNames
          ? this.#deps.repositories.membersOf(repo).filter((member) => member.kind === 'hosted')
          : [];
    const held: { repository: Repository; module: string }[] = [];
    for (const repository of hosted) {
      for (const name of await this.#deps.hostedModules.modulesUnder(repository, module)) {
        held.push({ repository, module: name });
      }
    }
    return held;
  }
}

/**
 * The 404 of a checksum database lookup of `module` (or of a prefix of a module path) that a
 * hosted repository holds: NORA does not forward it, because its hosted copy is what `go` will
 * download and may differ from the public module of that path (which the database may well know:
 * `github.com/pkg/errors` published here; sixteenth trial F7), and a private path's name must not
 * leave. `go` prints the line after "server response:"; GOPRIVATE/GONOSUMDB make it skip the
 * database for the path.
 */
function hostedLookupRefusal(
  module: string,
  database: string,
  held: { readonly repository: Repository; readonly module: string },
): string {
  const what =
    held.module === module
      ? `${module} is hosted in ${held.repository.name}, so NORA does not ask ${database} about it`
      : `${held.module} is hosted in ${held.repository.name}, so NORA does not ask ${database} about ${module}, a prefix of its path`;
  return `not found: ${what} (NORA's copy may differ from the public one): set GOPRIVATE=${module} (or GONOSUMDB=${module}) for go`;
}

/**
 * Maven group repositories, read through the shared GroupReader (src/repos/group-read.ts):
 *
 * - Files: members in order, the first that has the file answers. A member whose upstream fails
 *   is "not here" for that read. When nobody has the file and some member failed, the answer is
 *   that failure's 5xx (502, or 504 for a timeout) naming it, not the 404 of
 *   the project's group rule (src/repos/group-read.ts): Maven Resolver caches a 404 in the local
 *   repository (`*.lastUpdated`) until the update interval (daily) or `-U`, but never a transfer
 *   error, so a 404 during an upstream outage would keep every build that tried broken after the
 *   upstream is back. Never a 5xx when another member had the file.
 * - `maven-metadata.xml` misses stay 404 (naming the failure): `mvn deploy` and Gradle's
 *   maven-publish GET the artifact's metadata before a first deploy, and a host whose upstream is
 *   unreachable (air-gapped, the default Maven Central) must still be able to deploy.
 * - `maven-metadata.xml`: every member's document, merged (metadata.ts `mergeMetadata`: all
 *   versions in Maven order, the newest latest/release/lastUpdated/snapshot), as Nexus does; the
 *   routes render the merged document and its checksums.
 * - Members: those that may answer for the path (`membersOf(group, path)`): a path a rule on a
 *   member reserved is that member's alone, files and metadata.
 * - The dependency-confusion guard (`protect_hosted_names` on the group): a groupId:artifactId
 *   that a hosted member holds is served (files and metadata) from hosted members only, never
 *   from a proxy, so an upstream cannot shadow or extend an internal artifact.
 */
import { type ErrorCode, RegistryError } from '../../core/errors.ts';
import { isUpstreamFailure } from '../../proxy/engine.ts';
import type { GroupDeps } from '../../repos/group-read.ts';
import {
  hostedNameGuard,
  type KeptOut,
  keptOutText,
  missNote,
  type NameGuard,
} from '../../repos/group-read.ts';
import type { Repository } from '../../repos/repository.ts';
import { METADATA_FILE } from './coordinates.ts';
import { mergeMetadata } from './metadata.ts';
import {
  bound,
  type MavenMetadata,
  type MavenSource,
  type MetadataValidity,
  noteMiss,
  type OpenedMavenFile,
} from './model.ts';

/** What the group needs from hosted repositories for the dependency-confusion guard. */
export interface HostedNames {
  /** True when the hosted repository `repo` holds (any version of) groupId:artifactId. */
  hasArtifact(repo: Repository, groupId: string, artifactId: string): Promise<boolean>;
}

export interface MavenGroupDeps extends GroupDeps<MavenSource> {
  readonly hostedNames: HostedNames;
}

/** A groupId:artifactId. */
export interface ArtifactName {
  readonly groupId: string;
  readonly artifactId: string;
}

/**
 * The artifact a file path belongs to: `<group dirs>/<artifactId>/<version>/<file>` (at least
 * four segments). Undefined for shorter paths (root files such as `archetype-catalog.xml`).
 */
export function artifactOfFile(path: string): ArtifactName | undefined {
  const segments = path.split('/');
  if (segments.length < 4) return undefined;
  return {
    groupId: segments.slice(0, -3).join('.'),
    artifactId: segments.at(-3) ?? '',
  };
}

/**
 * The artifact a metadata directory belongs to: `<group dirs>/<artifactId>/<x>-SNAPSHOT`
 * (snapshot-version level) or `<group dirs>/<artifactId>` (artifact level; at least two
 * segments). A group-level directory (plugins) reads as an artifact named after its last
 * segment, which no hosted repository holds in practice, so plugin lists stay merged.
 */
export function artifactOfMetadataDir(dir: string): ArtifactName | undefined {
  const segments = dir === '' ? [] : dir.split('/');
  const last = segments.at(-1) ?? '';
  if (last.toUpperCase().endsWith('-SNAPSHOT') && segments.length >= 3) {
    return { groupId: segments.slice(0, -2).join('.'), artifactId: segments.at(-2) ?? '' };
  }
  if (segments.length < 2) return undefined;
  return { groupId: segments.slice(0, -1).join('.'), artifactId: last };
}

/**
 * The status of a file miss while members failed: the failures' own code when they agree
 * (UPSTREAM_TIMEOUT 504), else UPSTREAM_FAILED (502).
 */
function failureCode(failed: readonly RegistryError[]): ErrorCode {
  const first = failed[0]?.code;
  return first !== undefined && failed.every((e) => e.code === first) ? first : 'UPSTREAM_FAILED';
}

/**
 * Whether an upstream failure is a copy the upstream sent that cannot be used (the Maven proxy's
 * errors say `badCopy: true` in their detail), not an upstream that could not be asked.
 */
function isBadCopy(err: RegistryError): boolean {
  const detail: unknown = err.detail;
  return typeof detail === 'object' && detail !== null && 'badCopy' in detail
    ? detail.badCopy === true
    : false;
}

/** MavenSource of group repositories (see the module comment). */
export class MavenGroup implements MavenSource {
  readonly #deps: MavenGroupDeps;

  constructor(deps: MavenGroupDeps) {
    this.#deps = deps;
  }

  #guard(
    group: Repository,
    members: readonly Repository[],
    name: ArtifactName | undefined,
  ): NameGuard<Repository> | undefined {
    if (name === undefined) return undefined;
    return hostedNameGuard(group, members, `${name.groupId}:${name.artifactId}`, (member) =>
      this.#deps.hostedNames.hasArtifact(member, name.groupId, name.artifactId),
    );
  }

  /**
   * The first member's file at `path`. Undefined when no member has it; when none has it and
   * some member's upstream failed, throws that failure's class (502, or 504 when every failure
   * was a timeout; see the module comment) naming the failing upstreams.
   */
  async openFile(
    group: Repository,
    path: string,
    validity?: MetadataValidity,
  ): Promise<OpenedMavenFile | undefined> {
    const members = this.#deps.membersOf(group, path);
    const failed: RegistryError[] = [];
    let guarded: KeptOut | undefined;
    const found = this.#deps.reader.first(
      group,
      members,
      async (member) => {
        try {
          return await this.#deps.sourceOf(member).openFile(member, path, validity);
        } catch (err) {
          // An answer given while a member failed (another member's file, or a miss) is not
          // kept: the failing member may have it, or come first, once it is back.
          bound(validity, 0);
          if (isUpstreamFailure(err)) failed.push(err as RegistryError);
          throw err;
        }
      },
      (note, kept) => {
        if (failed.length > 0) {
          // An upstream that answered with a damaged copy was asked: saying it "could not be
          // asked" sent operators to check connectivity, and mvn shows only this line (trial 23
          // fmts F5).
          const bad = failed.filter(isBadCopy).length;
          const why =
            bad === failed.length
              ? `no member has a good copy of ${path}: an upstream sent a damaged one`
              : bad > 0
                ? `${path} is in no member that answered, and a member's upstream could not be asked or sent a damaged copy`
                : `${path} is in no member that answered, and a member's upstream could not be asked`;
          return new RegistryError(failureCode(failed), `${why}${note}`);
        }
        // Nobody failed: the guard kept the proxies out of a hosted artifact. A miss like any
        // other (kept by the hot-file cache), its 404 saying why (MetadataValidity.missNote).
        guarded = kept;
        return new RegistryError('NOT_FOUND', `${path} not found in ${group.name}${note}`);
      },
      this.#guard(group, members, artifactOfFile(path)),
    );
    if (validity === undefined) return found;
    try {
      return await found;
    } catch (err) {
      if (guarded === undefined) throw err;
      noteMiss(validity, keptOutText(guarded));
      return undefined;
    }
  }

  /**
   * Every member's `maven-metadata.xml` of `dir`, merged. Undefined when no member has one;
   * throws NOT_FOUND naming the failing upstreams when none has it and some failed.
   */
  async metadata(
    group: Repository,
    dir: string,
    validity?: MetadataValidity,
  ): Promise<MavenMetadata | undefined> {
    // The rule path of a metadata document is the document's own (service.ts authorizes it).
    const members = this.#deps.membersOf(
      group,
      dir === '' ? METADATA_FILE : `${dir}/${METADATA_FILE}`,
    );
    const { answers, failures, kept, reserved } = await this.#deps.reader.all(
      group,
      members,
      (member) => this.#deps.sourceOf(member).metadata(member, dir, validity),
      this.#guard(group, members, artifactOfMetadataDir(dir)),
    );
    // A merge without a failing member's part is answered, never kept.
    if (failures.length > 0) bound(validity, 0);
    if (answers.length === 0) {
      const note = missNote(failures, kept, reserved);
      if (note !== '') {
        const what = dir === '' ? 'maven-metadata.xml' : `${dir}/maven-metadata.xml`;
        throw new RegistryError('NOT_FOUND', `${what} not found${note}`);
      }
      return undefined;
    }
    return mergeMetadata(answers.map((a) => a.value));
  }
}

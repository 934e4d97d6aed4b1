/**
 * The OCI distribution API as plain functions: a parsed request in, a status + headers + body
 * out. No Fastify here (routes.ts adapts). This layer picks the repository a URL addresses,
 * checks access, sends reads to that repository's backend and writes to its hosted write target
 * (405 UNSUPPORTED when there is none, e.g. a proxy).
 */
import type { Readable } from 'node:stream';
import { noteArtifact, noteOverwrite } from '../../audit/requests.ts';
import type { AccessControl, Action, Principal } from '../../auth/access.ts';
import { parseDigest } from '../../core/digest.ts';
import { isRegistryError, methodNotAllowed, RegistryError } from '../../core/errors.ts';
import { ifRangeHolds } from '../../core/http-conditional.ts';
import { contentRangeHeader, parseRange } from '../../core/http-range.ts';
import { readAllBounded } from '../../core/streams.ts';
import { isUpstreamFailure } from '../../proxy/engine.ts';
import { compileGlob } from '../../auth/patterns.ts';
import type { Logger } from '../../core/logger.ts';
import { isNotFound } from '../../repos/group-read.ts';
import { proxyTakeovers, takeoverRefusal, takeoverWarning } from '../../repos/group-write.ts';
import type { Repository, RepositoryRegistry } from '../../repos/repository.ts';
import type { BlobStore } from '../../storage/blob-store.ts';
import type { OciBackend } from './backend.ts';
import { compare } from './group.ts';
import { blobUnknown, type Hosted, manifestUnknown, nameUnknown } from './hosted.ts';
import { MAX_MANIFEST_BYTES, MEDIA_TYPES, parseManifest, type ParsedManifest } from './manifest.ts';
import { parseOciPath, type OciRoute } from './paths.ts';
import { isValidName, isValidTag, parseDigestString, type Reference } from './reference.ts';
import { isRefusal } from './proxy-upstream.ts';
import type { UploadManager } from './uploads.ts';

export interface OciRequest {
  readonly method: string;
  readonly principal: Principal;
  /** The client's address key (core/address-key.ts): who holds an anonymous upload session. */
  readonly client: string;
  /** The URL prefix the client used: `/v2` or `/repository/<repo>/v2`. */
  readonly prefix: string;
  /** The repository addressed by `/repository/<repo>/v2`, or undefined under `/v2`. */
  readonly repository: Repository | undefined;
  /** Raw path after the prefix and its slash (`myapp/manifests/latest`). */
  readonly rest: string;
  readonly query: URLSearchParams;
  header(name: string): string | undefined;
  readonly body: Readable;
}

export interface OciReply {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: Buffer | Readable | string;
}

export interface OciServiceDeps {
  readonly repositories: RepositoryRegistry;
  readonly access: AccessControl;
  readonly blobs: BlobStore;
  readonly hosted: Hosted;
  readonly uploads: UploadManager;
  readonly backends: ReadonlyMap<string, OciBackend>;
  /** The repository behind `/v2/` (the default docker group). */
  readonly defaultRepository: string;
  /** Named (non-default) docker repositories reachable as `/v2/<repo>/<image>`. */
  readonly namedRepositories: () => readonly string[];
  readonly maxRequestBytes: () => number;
  /**
   * `[docker] shadow_names` as running: the image name globs whose first push may take a name
   * over from a guarding group's proxy member (#refuseTakeover). Absent: none.
   */
  readonly shadowNames?: () => readonly string[];
  readonly log?: Logger | undefined;
}

/** Where a URL's name lands. */
interface Target {
  readonly repo: Repository;
  readonly backend: OciBackend;
  /** Name inside the repository. */
  readonly name: string;
  /** Name as written in the URL (for Location headers and tag lists). */
  readonly urlName: string;
}

const INDEX_TYPE = MEDIA_TYPES.ociIndex;

/**
 * Answers that change with every push, tag, attach or delete (manifests by tag, tag lists,
 * referrers, the catalog): a shared cache must ask again on each use, or a cache in front with
 * `proxy_cache_valid 200 10m` hides a new tag or signature for 10 minutes. Requests with
 * credentials get `private` on top (http/cache-control.ts).
 */
const REVALIDATE = { 'cache-control': 'no-cache' } as const;
/** Names checked for a mount without `from` (bounded work; past them the client uploads). */
const MOUNT_CANDIDATES = 100;

export class OciService {
  readonly #deps: OciServiceDeps;

  constructor(deps: OciServiceDeps) {
    this.#deps = deps;
  }

  async handle(request: OciRequest): Promise<OciReply> {
    const route = parseOciPath(request.rest);
    if (!route) throw notFoundRoute();
    switch (route.kind) {
      case 'base':
        // The version check is where clients learn to send credentials (a 401 challenge), unless
        // anonymous pulls are allowed: a daemon using NORA as a mirror then never logs in.
        if (!this.#deps.access.anonymousPull('docker')) {
          this.#deps.access.requireIdentity(request.principal);
        }
        return allow(request, ['GET', 'HEAD'], () => ({
          status: 200,
          headers: jsonHeaders(2),
          body: '{}',
        }));
      case 'catalog':
        return allow(request, ['GET'], () => this.#catalog(request));
      case 'tags':
        return allow(request, ['GET'], () => this.#tags(request, route.name));
      case 'manifest':
        return this.#manifest(request, route);
      case 'manifest-invalid-tag':
        return this.#invalidTag(request, route);
      case 'blob':
        return this.#blob(request, route);
      case 'uploads':
        return allow(
          request,
          ['POST'],
          () => this.#startUpload(request, route.name),
          this.#served(request, route.name, [], ['POST']),
        );
      case 'upload':
        return this.#upload(request, route);
      case 'referrers':
        return allow(request, ['GET'], () => this.#referrers(request, route.name, route.digest));
    }
  }

  // Resolution and access.

  /**
   * Where a name written under `/v2/` lands: `/v2/<repo>/<image>` for a named docker repository,
   * else the default repository. Undefined when that repository does not exist. The token
   * endpoint resolves the names of `repository:<name>:…` scopes with it, so a token grants exactly
   * what the URL with that name reaches.
   */
  locate(urlName: string): { readonly repository: Repository; readonly name: string } | undefined {
    const { repositories } = this.#deps;
    const slash = urlName.indexOf('/');
    const first = slash === -1 ? '' : urlName.slice(0, slash);
    const named = first === '' ? undefined : repositories.get(first);
    if (named !== undefined && this.#deps.namedRepositories().includes(first)) {
      return { repository: named, name: urlName.slice(slash + 1) };
    }
    const repository = repositories.get(this.#deps.defaultRepository);
    return repository === undefined ? undefined : { repository, name: urlName };
  }

  #target(request: OciRequest, urlName: string): Target {
    const located =
      request.repository === undefined
        ? this.locate(urlName)
        : { repository: request.repository, name: urlName };
    const repo = located?.repository;
    const backend = repo === undefined ? undefined : this.#deps.backends.get(repo.name);
    if (located === undefined || repo === undefined || backend === undefined) {
      throw new RegistryError('NOT_FOUND', 'repository not found', {
        protocolCode: 'NAME_UNKNOWN',
      });
    }
    return { repo, backend, name: located.name, urlName };
  }

  /**
   * `path`: the image name inside `repo` (rules name it); undefined for repository-wide reads.
   * A registry token (auth on) that does not reach `action` is refused 401 UNAUTHORIZED with the
   * refusal's words, not 403 DENIED: Distribution's token access controller answers any Bearer
   * token lacking a requested scope so, and the routes add `error="insufficient_scope"` and the
   * refusal as `error_description` to the challenge (routes.ts, token.ts bearerChallenge), which
   * skopeo, podman and oras print as `denied: <refusal>` either way. Other credentials (Basic,
   * auth off) keep 403: a new login is what a 401 asks for, and it would not help.
   */
  #authorize(
    request: OciRequest,
    repo: Repository,
    action: Action,
    path?: string,
    via?: Repository,
  ): void {
    const { principal } = request;
    try {
      this.#deps.access.authorize(principal, repo, action, path, { via });
    } catch (err) {
      if (
        isRegistryError(err) &&
        err.code === 'DENIED' &&
        principal.kind === 'user' &&
        principal.credential === 'registry-token' &&
        this.#deps.access.authEnabled
      ) {
        throw new RegistryError('UNAUTHORIZED', err.message, { cause: err });
      }
      throw err;
    }
  }

  /** `listing`: `path` is a catalog entry being listed, not read. */
  #can(request: OciRequest, repo: Repository, path?: string, listing?: boolean): boolean {
    return this.#deps.access.can(request.principal, repo, 'read', path, { listing });
  }

  /**
   * The hosted repository receiving writes for `target`, or 405 UNSUPPORTED whose `Allow` is
   * `allow`, what the URL serves without writes (GET for a manifest or a blob, nothing for the
   * upload URLs). A write through a group is checked on the group and on the member it lands in,
   * so a rule on the member holds whichever way a client addresses it.
   */
  #writeRepo(
    request: OciRequest,
    target: Target,
    action: Action,
    allow: readonly string[] = ['GET'],
  ): string {
    this.#authorize(request, target.repo, action, target.name);
    const writeTo = this.#deps.repositories.requireWriteTarget(target.repo, {
      protocolCode: 'UNSUPPORTED',
      allow,
    });
    if (writeTo.name !== target.repo.name) {
      this.#authorize(request, writeTo, action, target.name, target.repo);
    }
    return writeTo.name;
  }

  /**
   * The methods a URL of `urlName`'s repository serves, its 405's `Allow`: `reads`, and `writes`
   * too where writes land (hosted, a group with a hosted member). A name no repository holds
   * (its requests answer 404) is given `reads` and `writes`, as the route is.
   */
  #served(
    request: OciRequest,
    urlName: string,
    reads: readonly string[],
    writes: readonly string[],
  ): readonly string[] {
    const repo =
      request.repository ?? (urlName === '' ? undefined : this.locate(urlName)?.repository);
    if (repo !== undefined && this.#deps.repositories.writeTarget(repo) === undefined) return reads;
    return [...reads, ...writes];
  }

  /**
   * A DELETE through a group found nothing in its write member `writeRepo`: when another member
   * the group reads has it (what a GET of the same URL answers), 405 UNSUPPORTED saying whose it
   * is, instead of a 404 that `skopeo inspect` contradicts the next moment (trial ocijvm F3). A
   * proxy member's content is a cached copy of an upstream image, which NORA cannot delete; a
   * member that cannot be asked (upstream down) counts as not having it. Another hosted member's
   * content is named as an image reference a registry client can delete it through (#deleteAt).
   */
  async #heldElsewhere(
    request: OciRequest,
    target: Target,
    writeRepo: string,
    reference: Reference,
    kind: 'manifests' | 'blobs',
    has: (backend: OciBackend) => Promise<unknown>,
  ): Promise<void> {
    if (target.repo.kind !== 'group') return;
    const what =
      reference.kind === 'tag'
        ? `${target.urlName}:${reference.tag}`
        : `${target.urlName}@${reference.digest}`;
    for (const member of this.#deps.repositories.membersOf(target.repo, target.name)) {
      if (member.name === writeRepo) continue;
      const backend = this.#deps.backends.get(member.name);
      if (backend === undefined) continue;
      const found = await has(backend).then(
        (value) => value !== undefined,
        () => false,
      );
      if (!found) continue;
      const message =
        member.kind === 'proxy'
          ? `${what} is a cached copy of an upstream image (proxy member "${member.name}" of group "${target.repo.name}"), not stored in the write member "${writeRepo}": it cannot be deleted through the group. NORA has no way to evict cached upstream content; delete or move it upstream (a cached tag follows its upstream, revalidated per [docker] metadata_ttl)`
          : `${what} is stored in member "${member.name}" of group "${target.repo.name}", not in its write member "${writeRepo}": ${this.#deleteAt(request, member, target.name, reference, kind)}`;
      throw new RegistryError('METHOD_NOT_ALLOWED', message, {
        protocolCode: 'UNSUPPORTED',
        headers: { allow: 'GET, HEAD' },
      });
    }
  }

  /**
   * Where to delete `name` (an image in hosted `member`) with `reference`, as the tail of a 405:
   * the image reference a registry client (skopeo, oras, docker: they always send `/v2/<name>`)
   * reaches `member` through, `<host>/<member>/<name>` for a named repository, `<host>/<name>`
   * when the default group writes to `member` (docker-hosted), followed by the URL path (a blob:
   * the `/v2/` URL alone); else
   * only `/repository/<member>/v2/<name>`, which curl can use but no registry client can (trial
   * 35 newA F1: that URL alone was all the message gave). `<host>` is the request's `Host`.
   */
  #deleteAt(
    request: OciRequest,
    member: Repository,
    name: string,
    reference: Reference,
    kind: 'manifests' | 'blobs',
  ): string {
    const raw = `/repository/${member.name}/v2/${name}`;
    const ref = reference.kind === 'tag' ? reference.tag : reference.digest;
    const reaches = (urlName: string): boolean => {
      const located = this.locate(urlName);
      if (located === undefined || located.name !== name) return false;
      const writes = this.#deps.repositories.writeTarget(located.repository);
      return writes?.name === member.name;
    };
    const urlName = [`${member.name}/${name}`, name].find(reaches);
    if (urlName === undefined) return `delete it at ${raw}/${kind}/${ref}`;
    // A blob has no image reference: a client deletes it by URL.
    if (kind === 'blobs')
      return `delete it at /v2/${urlName}/blobs/${ref} (or ${raw}/blobs/${ref})`;
    const host = request.header('host');
    const image = `${host === undefined ? '' : `${host}/`}${urlName}`;
    const shown = reference.kind === 'tag' ? `${image}:${ref}` : `${image}@${ref}`;
    return `delete it as ${shown} (URL /v2/${urlName}/${kind}/${ref}, or ${raw}/${kind}/${ref})`;
  }

  // Listings.

  async #catalog(request: OciRequest): Promise<OciReply> {
    // The listing names only what the principal may read: refusing it whole would hide what it
    // may read, listing everything would leak names it may not.
    let names: string[];
    if (request.repository !== undefined) {
      const target = this.#target(request, 'catalog');
      this.#authorize(request, target.repo, 'read');
      names = (await target.backend.catalog()).filter((n) =>
        this.#can(request, target.repo, n, true),
      );
    } else {
      const root = this.#target(request, 'catalog');
      this.#authorize(request, root.repo, 'read');
      names = (await root.backend.catalog()).filter((n) => this.#can(request, root.repo, n, true));
      for (const repoName of this.#deps.namedRepositories()) {
        const backend = this.#deps.backends.get(repoName);
        const repo = this.#deps.repositories.get(repoName);
        if (!backend || !repo || !this.#can(request, repo)) continue;
        for (const name of await backend.catalog()) {
          if (this.#can(request, repo, name, true)) names.push(`${repoName}/${name}`);
        }
      }
      names.sort(compare);
    }
    const page = paginate(names, request.query);
    const body = JSON.stringify({ repositories: page.items });
    return {
      status: 200,
      headers: {
        ...jsonHeaders(Buffer.byteLength(body)),
        ...page.link(`${request.prefix}/_catalog`),
        ...REVALIDATE,
      },
      body,
    };
  }

  async #tags(request: OciRequest, urlName: string): Promise<OciReply> {
    const target = this.#target(request, urlName);
    this.#authorize(request, target.repo, 'read', target.name);
    const tags = await target.backend.listTags(target.name);
    if (tags === undefined) throw nameUnknown(urlName);
    const page = paginate([...tags], request.query);
    const body = JSON.stringify({ name: urlName, tags: page.items });
    return {
      status: 200,
      headers: {
        ...jsonHeaders(Buffer.byteLength(body)),
        ...page.link(`${request.prefix}/${urlName}/tags/list`),
        ...REVALIDATE,
      },
      body,
    };
  }

  async #referrers(request: OciRequest, urlName: string, digest: string): Promise<OciReply> {
    const target = this.#target(request, urlName);
    this.#authorize(request, target.repo, 'read', target.name);
    let manifests = [...(await target.backend.referrers(target.name, digest))];
    const headers: Record<string, string> = {};
    const artifactType = request.query.get('artifactType');
    if (artifactType !== null) {
      manifests = manifests.filter((m) => m.artifactType === artifactType);
      headers['oci-filters-applied'] = 'artifactType';
    }
    const body = JSON.stringify({ schemaVersion: 2, mediaType: INDEX_TYPE, manifests });
    return {
      status: 200,
      headers: {
        ...headers,
        'content-type': INDEX_TYPE,
        'content-length': String(Buffer.byteLength(body)),
        ...REVALIDATE,
      },
      body,
    };
  }

  // Manifests.

  async #manifest(
    request: OciRequest,
    route: Extract<OciRoute, { kind: 'manifest' }>,
  ): Promise<OciReply> {
    const target = this.#target(request, route.name);
    const { reference } = route;
    switch (request.method) {
      case 'GET':
      case 'HEAD': {
        this.#authorize(request, target.repo, 'read', target.name);
        // A tag moves on every push: a shared cache revalidates each use (by ETag, the digest).
        const byTag = reference.kind === 'tag' ? REVALIDATE : {};
        if (request.method === 'HEAD') {
          const info = await unknownWhenRefused(
            target.backend.statManifest(target.name, reference),
            reference,
          );
          if (!info) throw manifestUnknown(reference);
          return { status: 200, headers: { ...manifestHeaders(info), ...byTag } };
        }
        const manifest = await unknownWhenRefused(
          target.backend.getManifest(target.name, reference),
          reference,
        );
        if (!manifest) throw manifestUnknown(reference);
        if (request.header('if-none-match') === `"${manifest.digest}"`) {
          return {
            status: 304,
            headers: {
              etag: `"${manifest.digest}"`,
              'docker-content-digest': manifest.digest,
              ...byTag,
            },
          };
        }
        return {
          status: 200,
          headers: { ...manifestHeaders(manifest), ...byTag },
          body: manifest.body,
        };
      }
      case 'PUT':
        return this.#putManifest(request, target, reference);
      case 'DELETE': {
        const repo = this.#writeRepo(request, target, 'delete');
        const { hosted } = this.#deps;
        const deleted =
          reference.kind === 'tag'
            ? await hosted.sql.deleteTag(repo, target.name, reference.tag)
            : await hosted.deleteManifest(repo, target.name, reference.digest);
        if (!deleted) {
          await this.#heldElsewhere(request, target, repo, reference, 'manifests', (b) =>
            b.statManifest(target.name, reference),
          );
          throw manifestUnknown(reference);
        }
        return { status: 202, headers: { 'content-length': '0' } };
      }
      default:
        throw unsupportedMethod(
          request.method,
          this.#served(request, route.name, ['GET'], ['PUT', 'DELETE']),
        );
    }
  }

  /**
   * A reference that can name no manifest: reads and deletes find nothing (404, as the
   * conformance suite requires for `.INVALID_MANIFEST_NAME`), a PUT is refused as invalid.
   */
  #invalidTag(
    request: OciRequest,
    route: Extract<OciRoute, { kind: 'manifest-invalid-tag' }>,
  ): never {
    const target = this.#target(request, route.name);
    switch (request.method) {
      case 'GET':
      case 'HEAD':
        this.#authorize(request, target.repo, 'read', target.name);
        throw manifestUnknown({ kind: 'tag', tag: route.tag });
      case 'DELETE':
        this.#writeRepo(request, target, 'delete');
        throw manifestUnknown({ kind: 'tag', tag: route.tag });
      case 'PUT':
        this.#writeRepo(request, target, 'write');
        throw new RegistryError('MANIFEST_INVALID', `invalid tag: ${route.tag.slice(0, 140)}`, {
          protocolCode: 'MANIFEST_INVALID',
          detail: { tag: route.tag.slice(0, 140) },
        });
      default:
        throw unsupportedMethod(
          request.method,
          this.#served(request, route.name, ['GET'], ['PUT', 'DELETE']),
        );
    }
  }

  async #putManifest(request: OciRequest, target: Target, reference: Reference): Promise<OciReply> {
    const repo = this.#writeRepo(request, target, 'write');
    const body = await readAllBounded(request.body, MAX_MANIFEST_BYTES, 'manifest');
    const contentType = request.header('content-type')?.split(';')[0]?.trim();
    const tags = reference.kind === 'tag' ? [reference.tag] : request.query.getAll('tag');
    for (const tag of tags) {
      if (!isValidTag(tag)) {
        throw new RegistryError('MANIFEST_INVALID', `invalid tag: ${tag.slice(0, 140)}`, {
          protocolCode: 'MANIFEST_INVALID',
        });
      }
    }
    const expected = reference.kind === 'digest' ? reference.digest : undefined;
    await this.#refuseTakeover(target, repo);
    if (target.repo.name !== repo) await this.#supplyReferences(target, repo, body, contentType, 1);
    const result = await this.#deps.hosted.putManifest(
      repo,
      target.name,
      body,
      contentType,
      tags,
      expected,
    );
    // A tag moved to another manifest: the image under that name was replaced.
    if (result.retagged) noteOverwrite();
    const headers: Record<string, string> = {
      location: `${request.prefix}/${target.urlName}/manifests/${result.digest}`,
      'docker-content-digest': result.digest,
      'content-length': '0',
    };
    if (result.subject !== undefined) headers['oci-subject'] = result.subject;
    return { status: 201, headers };
  }

  /**
   * The takeover check of a manifest push of `target.name` into the hosted repository `repo`
   * (addressed directly or through a group; trial 25 fmts F3), as npm's, PyPI's, Maven's and
   * Helm's: the first manifest of an image name `repo` does not hold (blob links alone do not
   * count), while a group guarding hosted names (`protect_hosted_names`) that has `repo` among
   * its members serves the name from a proxy member, would make that group take the name's tags
   * and manifests by tag from its hosted members only from then on, hiding every upstream tag.
   * Refused (409, code DENIED, before the manifest is stored; skopeo and docker print the
   * message) unless `[docker] shadow_names` lists the name; then it goes ahead and the log says
   * what it took over. "Serves": a manifest of the name in the proxy's cache (a write never asks
   * an upstream). Deleting every pushed manifest gives the name back.
   */
  async #refuseTakeover(target: Target, repo: string): Promise<void> {
    const { repositories, backends } = this.#deps;
    const hosted = repositories.get(repo);
    if (hosted === undefined) return;
    const holds = (member: Repository) =>
      backends.get(member.name)?.holds?.(target.name) ?? Promise.resolve(false);
    if (await holds(hosted)) return;
    const taken = await proxyTakeovers({
      repositories: repositories.byFormat('docker'),
      membersOf: (group, path) => repositories.membersOf(group, path),
      target: hosted,
      name: target.name,
      cached: holds,
      hostedHolds: holds,
    });
    if (taken.length === 0) return;
    // The name as the groups (and `shadow_names`) see it: without the URL's repository prefix
    // (`all-images/up/newb/art` pushed through group all-images is `up/newb/art`; trial 33 newB).
    const words = { what: `image ${target.name}`, versions: 'tags' };
    if ((this.#deps.shadowNames?.() ?? []).some((glob) => compileGlob(glob).test(target.name))) {
      this.#deps.log?.warn({ image: target.name }, `docker push: ${takeoverWarning(taken, words)}`);
      return;
    }
    throw takeoverRefusal(
      taken,
      {
        ...words,
        doing: 'push',
        section: 'docker',
        name: target.name,
        glob: 'corp/*',
        undo: `every manifest of it in ${hosted.name} is deleted`,
        docs: 'docs/oci.md, "Repositories and URLs"',
      },
      { protocolCode: 'DENIED' },
    );
  }

  /**
   * "What a group says exists is usable through it": a client pushing through a group asks HEAD
   * for each blob first, and a proxy member may answer 200, so the client skips the upload. The
   * manifest then references blobs the hosted write member has not linked. Before the manifest
   * is accepted, each such reference the group can supply is linked into the write member: at
   * once when the bytes are already in the shared blob store (content-addressed, so verified),
   * else after filling them through the group, verified against the digest. Child manifests of
   * an index are copied the same way, one level deep. Bounded by the manifest's own references;
   * a reference nobody has is left to putManifest (400 MANIFEST_BLOB_UNKNOWN).
   */
  async #supplyReferences(
    target: Target,
    repo: string,
    body: Buffer,
    contentType: string | undefined,
    depth: number,
  ): Promise<void> {
    let parsed: ParsedManifest;
    try {
      parsed = parseManifest(body, contentType);
    } catch {
      return; // putManifest refuses it with the precise error
    }
    const { hosted, blobs } = this.#deps;
    for (const digest of new Set(parsed.blobs)) {
      if ((await hosted.sql.blobLink(repo, target.name, digest)) !== undefined) continue;
      const handle = await undefinedWhenAbsent(target.backend.getBlob(target.name, digest));
      if (!handle) continue;
      const address = parseDigest(digest);
      let size = (await blobs.stat(address))?.size;
      // Bounded by the size the group reported (and the digest), whatever the member streams.
      size ??= (
        await blobs.ingest(await handle.open(), {
          expected: address,
          expectedSize: handle.size,
          maxBytes: handle.size,
        })
      ).size;
      await hosted.sql.linkBlob(repo, target.name, digest, size);
    }
    if (depth === 0) return;
    for (const digest of new Set(parsed.children)) {
      const reference = { kind: 'digest', digest } as const;
      if ((await hosted.sql.manifestByDigest(repo, target.name, digest)) !== undefined) continue;
      const child = await undefinedWhenAbsent(target.backend.getManifest(target.name, reference));
      if (!child) continue;
      await this.#supplyReferences(target, repo, child.body, child.mediaType, depth - 1);
      await hosted.putManifest(repo, target.name, child.body, child.mediaType, [], digest);
    }
  }

  // Blobs.

  async #blob(request: OciRequest, route: Extract<OciRoute, { kind: 'blob' }>): Promise<OciReply> {
    const target = this.#target(request, route.name);
    switch (request.method) {
      case 'GET':
      case 'HEAD': {
        this.#authorize(request, target.repo, 'read', target.name);
        const blob = await this.#findBlob(request, target, route.digest);
        if (!blob) throw blobUnknown(route.digest);
        const base = {
          'content-type': 'application/octet-stream',
          'docker-content-digest': blob.digest,
          etag: `"${blob.digest}"`,
          'accept-ranges': 'bytes',
        };
        // If-Range (RFC 9110 §13.1.5): a Range under another validator than the ETag is ignored.
        const range = parseRange(
          ifRangeHolds(request.header('if-range'), base.etag, undefined)
            ? request.header('range')
            : undefined,
          blob.size,
        );
        if (range.kind === 'unsatisfiable') {
          throw new RegistryError('RANGE_NOT_SATISFIABLE', 'requested range is not satisfiable', {
            protocolCode: 'BLOB_UNKNOWN',
            headers: { 'content-range': `bytes */${blob.size}` },
          });
        }
        if (range.kind === 'range') {
          const length = range.range.end - range.range.start + 1;
          const headers = {
            ...base,
            'content-length': String(length),
            'content-range': contentRangeHeader(range.range, blob.size),
          };
          if (request.method === 'HEAD') return { status: 206, headers };
          return { status: 206, headers, body: await blob.open(range.range) };
        }
        const headers = { ...base, 'content-length': String(blob.size) };
        if (request.method === 'HEAD') return { status: 200, headers };
        return { status: 200, headers, body: await blob.open() };
      }
      case 'DELETE': {
        const repo = this.#writeRepo(request, target, 'delete');
        if (!(await this.#deps.hosted.sql.unlinkBlob(repo, target.name, route.digest))) {
          const reference = { kind: 'digest', digest: route.digest } as const;
          await this.#heldElsewhere(request, target, repo, reference, 'blobs', (b) =>
            b.statBlob(target.name, route.digest),
          );
          throw blobUnknown(route.digest);
        }
        return { status: 202, headers: { 'content-length': '0' } };
      }
      default:
        throw unsupportedMethod(
          request.method,
          this.#served(request, route.name, ['GET'], ['DELETE']),
        );
    }
  }

  // Uploads.

  async #startUpload(request: OciRequest, urlName: string): Promise<OciReply> {
    const target = this.#target(request, urlName);
    const repo = this.#writeRepo(request, target, 'write', []);
    const mount = request.query.get('mount');
    if (mount !== null) {
      const mounted = await this.#mount(
        request,
        target,
        repo,
        parseDigestString(mount),
        request.query.get('from'),
      );
      if (mounted) return mounted;
    }
    const digest = request.query.get('digest');
    if (digest !== null) {
      // Monolithic upload: the whole blob in the POST body.
      const expected = parseDigest(digest);
      const result = await this.#deps.blobs.ingest(request.body, {
        expected,
        maxBytes: this.#deps.maxRequestBytes(),
      });
      const canonical = parseDigestString(digest);
      await this.#deps.hosted.sql.linkBlob(repo, target.name, canonical, result.size);
      return blobCreated(request, target, canonical);
    }
    const status = await this.#deps.uploads.start(repo, target.name, uploadClient(request));
    return uploadReply(request, target, 202, status.uuid, status.offset);
  }

  /**
   * The blob for GET/HEAD; HEAD never starts a download (statBlob). In a group, a member whose
   * upstream cannot be reached counts as "not here" (the group rule, repos/group-read.ts): a push
   * on an air-gapped machine whose configuration still names Docker Hub gets its 404s and
   * uploads; a proxy addressed alone keeps its 502/504.
   */
  #findBlob(request: OciRequest, target: Target, digest: string) {
    return request.method === 'HEAD'
      ? target.backend.statBlob(target.name, digest)
      : target.backend.getBlob(target.name, digest);
  }

  /** Cross-repository mount; undefined when not mountable (the caller starts an upload: 202). */
  async #mount(
    request: OciRequest,
    target: Target,
    repo: string,
    digest: string,
    from: string | null,
  ): Promise<OciReply | undefined> {
    const { hosted, blobs } = this.#deps;
    let size: number | undefined;
    if (from === null || from === '') {
      // No source named: mount only what this repository already holds under another name the
      // principal may read (a digest is no proof of access to a name the rules keep from it).
      const writeRepo = this.#deps.repositories.get(repo);
      const links = await hosted.sql.blobLinksAnyName(repo, digest, MOUNT_CANDIDATES);
      size = links.find(
        (link) => writeRepo !== undefined && this.#can(request, writeRepo, link.name),
      )?.size;
      // Linked but gone from the store (or cut short): the client must upload it instead.
      if (size !== undefined && (await blobs.stat(parseDigest(digest)))?.size !== size)
        size = undefined;
    } else {
      if (!isValidName(from)) return undefined;
      const source = this.#target(request, from);
      try {
        this.#authorize(request, source.repo, 'read', source.name);
      } catch {
        return undefined;
      }
      // An unreachable upstream makes the mount fail, not the push: the client uploads instead.
      const blob = await undefinedWhenAbsent(source.backend.getBlob(source.name, digest));
      if (blob && (await blobs.stat(parseDigest(digest)))?.size === blob.size) size = blob.size;
    }
    if (size === undefined) return undefined;
    await hosted.sql.linkBlob(repo, target.name, digest, size);
    return blobCreated(request, target, digest);
  }

  /**
   * The chunk's Content-Range. A malformed one is refused with 416 and the session's current
   * `Range`, `Location` and `Docker-Upload-UUID` (trial 13 F6: it came without them, so the
   * client learnt nothing about the offset); a session that is unknown (or another user's) is
   * still its 404, whatever the header.
   */
  async #chunkRange(
    request: OciRequest,
    target: Target,
    repo: string,
    uuid: string,
  ): Promise<{ start: number; end: number } | undefined> {
    try {
      return parseContentRange(request.header('content-range'));
    } catch (err) {
      if (!isRegistryError(err)) throw err;
      const status = await this.#deps.uploads.status(
        repo,
        target.name,
        uuid,
        uploadClient(request),
      );
      throw new RegistryError(
        err.code,
        `${err.message}; nothing was written (current offset ${status.offset})`,
        {
          ...(err.protocolCode === undefined ? {} : { protocolCode: err.protocolCode }),
          headers: { ...sessionHeaders(request, target, uuid), range: rangeHeader(status.offset) },
        },
      );
    }
  }

  async #upload(
    request: OciRequest,
    route: Extract<OciRoute, { kind: 'upload' }>,
  ): Promise<OciReply> {
    const target = this.#target(request, route.name);
    const { uploads } = this.#deps;
    switch (request.method) {
      case 'GET':
      case 'HEAD': {
        // The status answer has no body: HEAD is the same answer.
        const repo = this.#writeRepo(request, target, 'write', []);
        const status = await uploads.status(repo, target.name, route.uuid, uploadClient(request));
        return uploadReply(request, target, 204, status.uuid, status.offset);
      }
      case 'PATCH': {
        const repo = this.#writeRepo(request, target, 'write', []);
        const range = await this.#chunkRange(request, target, repo, route.uuid);
        const status = await withSessionHeaders(
          request,
          target,
          route.uuid,
          uploads.append(
            repo,
            target.name,
            route.uuid,
            request.body,
            range,
            declaredLength(request),
            uploadClient(request),
          ),
        );
        return uploadReply(request, target, 202, status.uuid, status.offset);
      }
      case 'PUT': {
        const repo = this.#writeRepo(request, target, 'write', []);
        const digest = request.query.get('digest');
        if (digest === null) {
          throw new RegistryError('DIGEST_INVALID', 'the digest query parameter is required', {
            protocolCode: 'DIGEST_INVALID',
          });
        }
        const range = await this.#chunkRange(request, target, repo, route.uuid);
        const length = declaredLength(request);
        const hasBody =
          (length !== undefined && length > 0) || request.header('transfer-encoding') !== undefined;
        const result = await withSessionHeaders(
          request,
          target,
          route.uuid,
          uploads.finish(
            repo,
            target.name,
            route.uuid,
            digest,
            hasBody ? request.body : undefined,
            range,
            uploadClient(request),
          ),
        );
        await this.#deps.hosted.sql.linkBlob(repo, target.name, result.digest, result.size);
        return blobCreated(request, target, result.digest);
      }
      case 'DELETE': {
        const repo = this.#writeRepo(request, target, 'write', []);
        await uploads.cancel(repo, target.name, route.uuid, uploadClient(request));
        return { status: 204, headers: {} };
      }
      default:
        throw unsupportedMethod(
          request.method,
          this.#served(request, route.name, [], ['GET', 'PATCH', 'PUT', 'DELETE']),
        );
    }
  }
}

// Helpers.

/**
 * `pending`, its 416 (a chunk out of order, a range that is not the chunk's length, a malformed
 * Content-Range) carrying `Location` and `Docker-Upload-UUID` besides the current `Range`: what
 * the 202 of a chunk carries, so a client resumes from the refusal itself (the distribution
 * spec's chunked-upload section, and the 416 it specified before: `Location`, `Range: 0-<last
 * valid>`).
 */
async function withSessionHeaders<T>(
  request: OciRequest,
  target: Target,
  uuid: string,
  pending: Promise<T>,
): Promise<T> {
  try {
    return await pending;
  } catch (err) {
    if (!isRegistryError(err) || err.status !== 416) throw err;
    throw new RegistryError(err.code, err.message, {
      ...(err.protocolCode === undefined ? {} : { protocolCode: err.protocolCode }),
      detail: err.detail,
      headers: { ...err.headers, ...sessionHeaders(request, target, uuid) },
      cause: err,
    });
  }
}

function sessionHeaders(request: OciRequest, target: Target, uuid: string): Record<string, string> {
  return {
    location: `${request.prefix}/${target.urlName}/blobs/uploads/${uuid}`,
    'docker-upload-uuid': uuid,
  };
}

/**
 * Who an upload session belongs to: the user (any of its credentials: password, API token,
 * registry token), or the address of an anonymous client. Counted by the per-client session limit;
 * a user's session answers only that user (UploadManager.#row).
 */
function uploadClient(request: OciRequest): string {
  return request.principal.kind === 'user'
    ? `user:${request.principal.name}`
    : `address:${request.client}`;
}

/**
 * Runs `handler` for a method in `methods` (HEAD wherever GET is), else 405 whose `Allow` is
 * `advertised`: what the URL serves in its repository's mode (a POST listed in `methods` that a
 * proxy does not serve goes on to the handler, whose write refusal says why).
 */
async function allow(
  request: OciRequest,
  methods: readonly string[],
  handler: () => OciReply | Promise<OciReply>,
  advertised: readonly string[] = methods,
): Promise<OciReply> {
  // Every GET answers HEAD (same status and headers, no body), whether or not the route lists it.
  const head = request.method === 'HEAD' && methods.includes('GET');
  if (!head && !methods.includes(request.method)) {
    throw unsupportedMethod(request.method, advertised);
  }
  const reply = await handler();
  if (request.method !== 'HEAD') return reply;
  const headers = { ...reply.headers };
  if (headers['content-length'] === undefined && reply.body !== undefined) {
    if (typeof reply.body === 'string')
      headers['content-length'] = String(Buffer.byteLength(reply.body));
    else if (Buffer.isBuffer(reply.body)) headers['content-length'] = String(reply.body.length);
  }
  if (reply.body !== undefined && typeof reply.body !== 'string' && !Buffer.isBuffer(reply.body)) {
    reply.body.destroy();
  }
  return { status: reply.status, headers };
}

function jsonHeaders(length: number): Record<string, string> {
  return { 'content-type': 'application/json', 'content-length': String(length) };
}

function manifestHeaders(info: {
  digest: string;
  mediaType: string;
  size: number;
  stale?: boolean;
}): Record<string, string> {
  return {
    'content-type': info.mediaType,
    'content-length': String(info.size),
    'docker-content-digest': info.digest,
    etag: `"${info.digest}"`,
    // A proxy served its last cached copy because every upstream failed.
    ...(info.stale === true ? { 'x-nora-stale': 'true' } : {}),
  };
}

function blobCreated(request: OciRequest, target: Target, digest: string): OciReply {
  // The request's path names the upload session (`…/blobs/uploads/<uuid>`) or nothing but
  // `…/blobs/uploads/`: the audit line names the blob stored, as its Location does.
  noteArtifact(`${target.urlName}/blobs/${digest}`);
  return {
    status: 201,
    headers: {
      location: `${request.prefix}/${target.urlName}/blobs/${digest}`,
      'docker-content-digest': digest,
      'content-length': '0',
    },
  };
}

function uploadReply(
  request: OciRequest,
  target: Target,
  status: number,
  uuid: string,
  offset: number,
): OciReply {
  return {
    status,
    headers: {
      ...sessionHeaders(request, target, uuid),
      range: rangeHeader(offset),
      'content-length': '0',
    },
  };
}

/** `Range: 0-<offset-1>`, the bytes a session holds (`0-0` for none, as the spec writes it). */
function rangeHeader(offset: number): string {
  return `0-${Math.max(0, offset - 1)}`;
}

/**
 * `<start>-<end>` as the distribution spec writes it, optionally after `bytes ` or `bytes=`, and
 * optionally followed by `/<complete length>` or `/*` (RFC 9110 §14.4, what generic HTTP
 * tooling sends), whose length must then lie past `end`.
 */
const CONTENT_RANGE = /^(?:bytes[ =])?(\d+)-(\d+)(?:\/(\d+|\*))?$/;

/**
 * A chunk's `Content-Range` (inclusive end), undefined when absent. Malformed: 416
 * BLOB_UPLOAD_INVALID (what the distribution spec answered for an invalid Content-Range
 * format; the caller adds the session's headers).
 */
export function parseContentRange(
  header: string | undefined,
): { start: number; end: number } | undefined {
  if (header === undefined || header.trim() === '') return undefined;
  const match = CONTENT_RANGE.exec(header.trim());
  const start = Number(match?.[1]);
  const end = Number(match?.[2]);
  const complete = match?.[3];
  if (
    !match ||
    !Number.isSafeInteger(start) ||
    !Number.isSafeInteger(end) ||
    end < start ||
    (complete !== undefined && complete !== '*' && !(Number(complete) > end))
  ) {
    throw new RegistryError(
      'RANGE_NOT_SATISFIABLE',
      `invalid Content-Range: ${header.slice(0, 100)} (expected <start>-<end>, inclusive, starting at the session's offset)`,
      {
        protocolCode: 'BLOB_UPLOAD_INVALID',
      },
    );
  }
  return { start, end };
}

function declaredLength(request: OciRequest): number | undefined {
  const value = request.header('content-length');
  if (value === undefined) return undefined;
  const length = Number(value);
  return Number.isSafeInteger(length) && length >= 0 ? length : undefined;
}

interface Page {
  readonly items: string[];
  link(path: string): Record<string, string>;
}

/** `n`/`last` pagination over a sorted list, with the spec's `Link: <…>; rel="next"`. */
export function paginate(sorted: readonly string[], query: URLSearchParams): Page {
  const last = query.get('last');
  const nText = query.get('n');
  let n: number | undefined;
  if (nText !== null && nText !== '') {
    n = Number(nText);
    if (!Number.isSafeInteger(n) || n < 0) {
      throw new RegistryError('BAD_REQUEST', 'n must be a non-negative integer', {
        protocolCode: 'PAGINATION_NUMBER_INVALID',
      });
    }
  }
  const after = last === null || last === '' ? sorted : sorted.filter((item) => item > last);
  const items = n === undefined ? [...after] : after.slice(0, n);
  const more = n !== undefined && n > 0 && after.length > items.length;
  return {
    items,
    link(path: string) {
      if (!more || n === undefined) return {};
      const lastItem = items[items.length - 1] ?? '';
      return { link: `<${path}?n=${n}&last=${encodeURIComponent(lastItem)}>; rel="next"` };
    },
  };
}

/** The OCI 405 (UNSUPPORTED) of `method` at a URL serving `allowed` (its `Allow`). */
function unsupportedMethod(method: string, allowed: readonly string[]): RegistryError {
  return methodNotAllowed(`${method} is not supported here`, allowed, {
    protocolCode: 'UNSUPPORTED',
  });
}

function notFoundRoute(): RegistryError {
  return new RegistryError('NOT_FOUND', 'not an OCI distribution API route', {
    protocolCode: 'NOT_FOUND',
  });
}

/**
 * A proxy addressed alone whose every upstream refused the manifest (401/403) and that has no
 * cached copy to serve stale: the protocol's 404 naming the refusal
 * (`manifest unknown: latest (upstream docker/0 answered 401 for myapp:latest: …)`), not a 502:
 * Docker Hub answers 401 for names that do not exist, and clients print a 4xx's message. A group
 * gets the same words from its member-failure note (repos/group-read.ts).
 */
async function unknownWhenRefused<T>(pending: Promise<T>, reference: Reference): Promise<T> {
  try {
    return await pending;
  } catch (err) {
    if (isRefusal(err)) throw manifestUnknown(reference, ` (${err.message})`);
    throw err;
  }
}

/**
 * The value, or undefined when the promise failed because an upstream could not be reached (a
 * proxy addressed alone) or the content is not there (a group's 404 naming a failed upstream).
 */
async function undefinedWhenAbsent<T>(pending: Promise<T>): Promise<T | undefined> {
  try {
    return await pending;
  } catch (err) {
    if (isUpstreamFailure(err) || isNotFound(err)) return undefined;
    throw err;
  }
}

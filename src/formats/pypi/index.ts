/**
 * The PyPI format module: default repositories `pypi-hosted`, `pypi-proxy` (only when
 * pypiUpstreams([pypi]) is non-empty) and the group `pypi` served at `/simple` (simple index) and
 * `/pypi` (JSON API and management); named pypi repositories at `/repository/<name>/simple` and
 * `/repository/<name>/pypi` (uploads also to `/repository/<name>/`).
 */
import { upstreamCheckWaitOf } from '../../repos/group-write.ts';
import type { FastifyInstance } from 'fastify';
import type { AppConfig, RepositoryConfig } from '../../config/schema.ts';
import { RegistryError } from '../../core/errors.ts';
import { GroupReader } from '../../repos/group-read.ts';
import type { Repository } from '../../repos/repository.ts';
import type { FormatContext, FormatModule, ProtocolPath } from '../format.ts';
import { pypiUpstreams } from './config.ts';
import { PypiGroup } from './group.ts';
import { PypiHosted } from './hosted.ts';
import { type PypiTables, pypiMigrations } from './migrations.ts';
import { PypiProxy } from './proxy.ts';
import { parseVersion } from './versions.ts';
import { curatedPypiSource } from './curated.ts';
import type { PypiSource } from './model.ts';
import { type PypiMount, registerPypiRoutes } from './routes.ts';
import { PageRenderCache } from './simple-index.ts';
import { type PypiHostedOperations, type PypiJsonApi, PypiService } from './service.ts';
import { normalizeProjectName } from './names.ts';
import { PYPI_RETENTION, pypiRetention } from './retention.ts';
import type { RetentionAdapter } from '../../retention/types.ts';
import { PYPI_CACHE, pypiBrowse } from './browse.ts';
import { cacheIndexMigration, cacheIndexUpkeepMigration } from '../../ui/cache-index.ts';

export const PYPI_MOUNT = '/simple';
export const PYPI_JSON_MOUNT = '/pypi';

/** What answers for hosted and proxy repositories (the group is built over them). */
export interface PypiBackends {
  readonly hosted: PypiSource;
  readonly proxy: PypiSource;
  readonly operations?: PypiHostedOperations | undefined;
  readonly jsonApi?: PypiJsonApi | undefined;
  /** Retention over the same hosted store (retention.ts); absent: the rules skip PyPI. */
  readonly retention?: RetentionAdapter | undefined;
}

export interface PypiFormatOptions {
  /** Builds the backends from the app's context (tests substitute in-memory ones). */
  readonly backends?: (context: FormatContext) => PypiBackends | Promise<PypiBackends>;
}

const MB = 1024 * 1024;

/** The real backends: the hosted store (hosted.ts) and the proxy on the shared engine (proxy.ts). */
function defaultBackends(context: FormatContext): PypiBackends {
  const hosted = new PypiHosted({
    db: context.db.$extendTables<PypiTables>(),
    blobs: context.blobs,
    maxUploadBytes: () => context.config().pypi.max_upload_mb * MB,
  });
  const proxy = new PypiProxy(context);
  // Documents served from memory are still being written behind the answers: finish them first.
  context.onClose(() => proxy.settle(true));
  return {
    hosted,
    proxy,
    operations: hostedOperations(hosted),
    jsonApi: (repo, project, version, fileUrl) => hosted.json(repo, project, version, fileUrl),
    retention: pypiRetention(hosted),
  };
}

/** The service's write operations on a PypiHosted (hosted.ts), with plain JSON answers. */
export function hostedOperations(hosted: PypiHosted): PypiHostedOperations {
  return {
    // The project's write rule is checked by hosted.upload as soon as the form names the project
    // (and again before anything is stored), so a refused upload leaves nothing behind.
    upload: (repo, request) =>
      hosted.upload(
        repo,
        request.uploader,
        request.contentType,
        request.body,
        request.authorize,
        request.refused,
        request.admit,
      ),
    setYanked: (repo, project, version, yanked) =>
      yanked === false
        ? hosted.unyank(repo, project, version)
        : hosted.yank(repo, project, version, yanked),
    deleteRelease: async (repo, project, version) => ({
      project,
      version,
      deleted: await hosted.deleteRelease(repo, project, version),
    }),
    projectVersions: (repo, project) => hosted.projectVersions(repo, project),
    deleteFile: async (repo, project, version, filename) => {
      // The file must belong to the release the URL names.
      const file = (await hosted.projectPage(repo, project))?.files.find(
        (f) => f.filename === filename,
      );
      if (file === undefined || parseVersion(file.version)?.key !== parseVersion(version)?.key) {
        throw new RegistryError(
          'NOT_FOUND',
          `no file ${filename} in release ${version} of project ${project}`,
        );
      }
      await hosted.deleteFile(repo, project, filename);
      return { project, version, deleted: [filename] };
    },
    // The guard's question: a file of it now (a project whose files were all deleted is no
    // longer hosted, and the group asks its proxies again; its filenames stay refused).
    holdsProject: async (repo, project) => (await hosted.projectPage(repo, project)) !== undefined,
  };
}

/** The default repositories of the PyPI format (see the module comment). */
export function pypiDefaultRepositories(config: AppConfig): RepositoryConfig[] {
  const hosted: RepositoryConfig = {
    name: 'pypi-hosted',
    format: 'pypi',
    kind: 'hosted',
    members: [],
    upstreams: [],
  };
  const repos: RepositoryConfig[] = [hosted];
  const members = ['pypi-hosted'];
  const upstreams = pypiUpstreams(config.pypi);
  if (upstreams.length > 0) {
    repos.push({
      name: 'pypi-proxy',
      format: 'pypi',
      kind: 'proxy',
      members: [],
      upstreams: upstreams.map((u) => ({ url: u.url, ...(u.auth ? { auth: u.auth } : {}) })),
      proxy_timeout: config.pypi.proxy_timeout,
      metadata_ttl: config.pypi.metadata_ttl,
      serve_stale: config.pypi.serve_stale,
    });
    members.push('pypi-proxy');
  }
  repos.push({
    name: 'pypi',
    format: 'pypi',
    kind: 'group',
    members,
    upstreams: [],
    write_member: 'pypi-hosted',
    protect_hosted_names: config.pypi.protect_hosted_names,
  });
  return repos;
}

/** Where a pypi repository is mounted: the default group at /simple + /pypi, others by name. */
export function pypiMountOf(repo: Repository): PypiMount {
  if (repo.name === 'pypi' && repo.isDefault) {
    return {
      repo,
      prefixes: [PYPI_MOUNT, PYPI_JSON_MOUNT],
      simple: PYPI_MOUNT,
      json: PYPI_JSON_MOUNT,
    };
  }
  const base = `/repository/${repo.name}`;
  return { repo, prefixes: [base], simple: `${base}/simple`, json: `${base}/pypi`, base };
}

/**
 * `/simple/…` (PEP 503/691) and `/pypi/…` (the JSON API). A project is checked only in its
 * normal form: another spelling is first redirected, after a check of the repository alone.
 */
export const PYPI_PROTOCOL_PATH: ProtocolPath = {
  errorShape: 'text',
  claim({ segments, decoded }) {
    if (segments[0] !== 'simple' && segments[0] !== 'pypi') return undefined;
    const project = decoded[1];
    const normal = project === undefined ? undefined : normalizeProjectName(project);
    return { path: project === normal ? normal : undefined };
  },
};

/** The PyPI format module; `options.backends` replaces the hosted/proxy sources (tests). */
export function createPypiFormat(options: PypiFormatOptions = {}): FormatModule {
  return {
    format: 'pypi',
    mount: PYPI_MOUNT,
    extraMounts: [PYPI_JSON_MOUNT],
    defaultRepository: 'pypi',
    proxiedMetadataTtl: (config) => config.pypi.metadata_ttl,
    migrations: {
      ...pypiMigrations,
      '0932_pypi_ui_cache': cacheIndexMigration(PYPI_CACHE),
      '0942_pypi_ui_cache_upkeep': cacheIndexUpkeepMigration(PYPI_CACHE),
    },
    blobReferences: [
      { table: 'pypi_files', column: 'blob' },
      { table: 'pypi_files', column: 'metadata_blob' },
    ],
    defaultRepositories: pypiDefaultRepositories,
    // PEP 503: `My_Pkg` and `my-pkg` are one project: a rule on either spelling holds both.
    rulePath: normalizeProjectName,
    protocolPath: PYPI_PROTOCOL_PATH,
    retention: PYPI_RETENTION,
    async register(scope: FastifyInstance, context: FormatContext): Promise<void> {
      const built = await (options.backends ?? defaultBackends)(context);
      // Every proxy read passes curation (curated.ts): a proxy's and a group's proxy members'.
      const backends = { ...built, proxy: curatedPypiSource(built.proxy, context.curation) };
      if (backends.retention !== undefined) context.retention.provide(backends.retention);
      context.browse.provide(
        pypiBrowse({
          db: context.db,
          access: context.access,
          repositories: context.repositories,
          curation: context.curation,
          cachedPage: (repo, project) =>
            built.proxy.cachedPage?.(repo, project) ?? Promise.resolve(undefined),
        }),
      );
      const { repositories } = context;
      const sourceOf = (member: Repository): PypiSource =>
        member.kind === 'proxy' ? backends.proxy : backends.hosted;
      const operations = backends.operations;
      const group = new PypiGroup({
        reader: new GroupReader({
          log: context.log,
          failures: context.metrics.groupMemberFailures,
        }),
        membersOf: (repo, path) => repositories.membersOf(repo, path),
        sourceOf,
        ...(operations?.holdsProject !== undefined
          ? {
              hostedKnows: (member: Repository, project: string) =>
                operations.holdsProject?.(member, project) ?? Promise.resolve(false),
            }
          : {}),
      });
      const service = new PypiService({
        repositories,
        access: context.access,
        hosted: backends.hosted,
        proxy: backends.proxy,
        group,
        operations,
        jsonApi: backends.jsonApi,
        shadowNames: () => context.config().pypi.shadow_names,
        upstreamCheckWait: upstreamCheckWaitOf(context.config, 'pypi'),
        log: context.log,
        curation: context.curation,
      });
      registerPypiRoutes(scope, repositories.byFormat('pypi').map(pypiMountOf), {
        service,
        config: context.config,
        pages: new PageRenderCache(),
      });
    },
  };
}

export const pypiFormat: FormatModule = createPypiFormat();

/**
 * The Docker/OCI format module (OCI Distribution Spec 1.1), mounted at `/v2` for the default
 * `docker` group and at `/repository/<name>/v2` (and `/v2/<name>/<image>`) for named repositories.
 */
import { ociRetention } from './retention.ts';
import type { FastifyInstance } from 'fastify';
import type { AppConfig, RepositoryConfig } from '../../config/schema.ts';
import type { FormatContext, FormatModule, ProtocolPath } from '../format.ts';
import { emptyBackend, type OciBackend, type OciBackendFactories } from './backend.ts';
import { GroupReader } from '../../repos/group-read.ts';
import { mapMembers } from '../../repos/repository.ts';
import { GroupBackend } from './group.ts';
import { createOciProxyBackend } from './proxy.ts';
import { Hosted, ManifestCache } from './hosted.ts';
import { REGISTRY_SERVICE } from '../../auth/registry-token.ts';
import { baseUrl } from '../../http/request.ts';
import { registerOciRoutes } from './routes.ts';
import { OciService } from './service.ts';
import { TokenEndpoint } from './token.ts';
import { OciStore, ociMigrations } from './store.ts';
import { UploadManager } from './uploads.ts';
import { ociBrowse } from './browse.ts';

const MB = 1024 * 1024;

/**
 * Read backends per repository kind. The proxy engine plugs in here with one line
 * (`proxy: createOciProxyBackend`); until then a proxy member has nothing.
 */
export const OCI_BACKEND_FACTORIES: OciBackendFactories = {
  hosted: (repository, deps) => deps.hosted.forRepository(repository),
  proxy: createOciProxyBackend,
};

/** The OCI API's path segments after an image name. */
const OCI_OPERATIONS = new Set(['manifests', 'blobs', 'tags', 'referrers']);

/** `/v2…` (the distribution spec's API): the image named before its operation segment. */
export const OCI_PROTOCOL_PATH: ProtocolPath = {
  errorShape: 'oci',
  claim({ segments, decoded }) {
    if (segments[0] !== 'v2') return undefined;
    if (segments.length === 1) return { path: undefined, oci: {} };
    if (segments[1] === '_catalog') return { path: undefined, oci: { catalog: true } };
    const at = decoded.findIndex((s, i) => i >= 2 && OCI_OPERATIONS.has(s));
    const image = at === -1 ? undefined : decoded.slice(1, at).join('/');
    return { path: image, oci: { image } };
  },
};

export function createOciFormat(
  factories: OciBackendFactories = OCI_BACKEND_FACTORIES,
): FormatModule {
  return {
    format: 'docker',
    mount: '/v2',
    defaultRepository: 'docker',
    migrations: ociMigrations,
    // Layers and configs are linked per repository; manifests are blobs too (tags name manifests).
    // A link whose last manifest was deleted (unreferenced_at) no longer keeps its blob.
    blobReferences: [
      { table: 'oci_blob_links', column: 'digest', tombstone: 'unreferenced_at' },
      { table: 'oci_manifests', column: 'digest' },
      { table: 'oci_tags', column: 'digest' },
    ],
    spoolReferences: [{ table: 'oci_uploads', column: 'spool_path' }],
    defaultRepositories,
    protocolPath: OCI_PROTOCOL_PATH,
    register: (scope, context) => register(scope, context, factories),
    retention: { name: 'image', version: 'tag' },
  };
}

export const ociFormat: FormatModule = createOciFormat();

function defaultRepositories(config: AppConfig): RepositoryConfig[] {
  const hosted: RepositoryConfig = {
    name: 'docker-hosted',
    format: 'docker',
    kind: 'hosted',
    members: [],
    upstreams: [],
  };
  const repos: RepositoryConfig[] = [hosted];
  if (config.docker.upstreams.length > 0) {
    repos.push({
      name: 'docker-proxy',
      format: 'docker',
      kind: 'proxy',
      members: [],
      upstreams: config.docker.upstreams,
    });
  }
  repos.push({
    name: 'docker',
    format: 'docker',
    kind: 'group',
    members: repos.map((r) => r.name),
    write_member: 'docker-hosted',
    upstreams: [],
    protect_hosted_names: config.docker.protect_hosted_names,
  });
  return repos;
}

function register(
  scope: FastifyInstance,
  context: FormatContext,
  factories: OciBackendFactories,
): Promise<void> {
  const store = new OciStore(context.db);
  const hosted = new Hosted(
    store,
    context.blobs,
    new ManifestCache(() => context.config().docker.manifest_cache_mb * MB),
  );
  context.retention.provide(ociRetention(hosted));
  context.reindex.provide('docker', () => {
    store.forgetTags();
  });
  context.browse.provide(
    ociBrowse({
      db: context.db,
      access: context.access,
      repositories: context.repositories,
      curation: context.curation,
    }),
  );
  const dockerRepos = context.repositories.byFormat('docker');
  const backends = new Map<string, OciBackend>();
  const reader = new GroupReader({
    log: context.log,
    failures: context.metrics.groupMemberFailures,
  });
  for (const repo of dockerRepos) {
    if (repo.kind === 'group') continue;
    backends.set(repo.name, factories[repo.kind](repo, { context, hosted }));
  }
  for (const repo of dockerRepos) {
    if (repo.kind !== 'group') continue;
    // Per image name: the members that may answer for it (a name a member reserved is its own).
    // The backends keep what a rule left out (Members.reserved): the group's 404 says so.
    const members = (name?: string) =>
      mapMembers(
        context.repositories.membersOf(repo, name),
        (m) => backends.get(m.name) ?? emptyBackend(m),
      );
    backends.set(repo.name, new GroupBackend(repo, members, reader));
  }
  const limits = () => {
    const config = context.config();
    return {
      maxSessions: config.docker.max_upload_sessions,
      maxSessionsPerClient: config.docker.max_upload_sessions_per_client,
      maxSessionBytes: config.docker.max_upload_session_size_mb * MB,
      maxRequestBytes: config.server.body_limit_mb * MB,
      ttlSeconds: config.docker.upload_session_ttl,
      idleSeconds: config.docker.upload_session_idle,
    };
  };
  const uploads = new UploadManager(store, context.blobs, limits, context.log);
  context.uploadSessions.provide({
    list: () => uploads.sessions(),
    cancel: (uuid) => uploads.cancelAny(uuid),
  });
  const named = dockerRepos.filter((r) => !r.isDefault).map((r) => r.name);
  const service = new OciService({
    repositories: context.repositories,
    access: context.access,
    blobs: context.blobs,
    hosted,
    uploads,
    backends,
    defaultRepository: 'docker',
    namedRepositories: () => named,
    maxRequestBytes: () => Math.min(limits().maxRequestBytes, limits().maxSessionBytes),
    shadowNames: () => context.config().docker.shadow_names,
    log: context.log,
  });
  const endpoint = new TokenEndpoint({
    access: context.access,
    tokens: context.identity.registryTokens,
    users: context.identity.directory,
    locate: (name) => service.locate(name),
    writeTarget: (repository) => context.repositories.writeTarget(repository),
    catalogRepositories: () =>
      ['docker', ...named].flatMap((name) => context.repositories.get(name) ?? []),
    service: () => REGISTRY_SERVICE,
    ttlSeconds: () => context.config().auth.docker_token_ttl,
  });
  registerOciRoutes(scope, {
    service,
    repositories: context.repositories,
    mount: '/v2',
    repositoryNames: dockerRepos.map((r) => r.name),
    defaultRepository: 'docker',
    token: {
      endpoint,
      authEnabled: () => context.access.authEnabled,
      realm: (request) => `${baseUrl(request, context.config().server.public_url)}/v2/token`,
      service: () => REGISTRY_SERVICE,
      authenticate: (request, username, password) =>
        context.access.authenticate({
          authorization: `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`,
          remoteAddress: request.ip,
        }),
    },
  });

  // Idle sessions are purged on a timer every ttl/2 (1 s to 60 s), unref'd so it never keeps the
  // process alive. A reload that changes upload_session_ttl re-arms it with the new period, so a
  // shorter TTL does not wait out the old period; purges never overlap.
  let timer: NodeJS.Timeout | undefined;
  let purging = false;
  let closed = false;
  const arm = (): void => {
    clearTimeout(timer);
    if (closed) return;
    const every = Math.min(60_000, Math.max(1000, (limits().ttlSeconds * 1000) / 2));
    timer = setTimeout(() => {
      timer = undefined;
      purging = true;
      uploads
        .purgeIdle()
        .catch((err: unknown) => {
          context.log.warn({ err }, 'purging idle upload sessions failed');
        })
        .finally(() => {
          purging = false;
          arm();
        });
    }, every);
    timer.unref();
  };
  arm();
  context.onReload((previous, next) => {
    // While a purge runs, its end re-arms with the new TTL.
    if (previous.docker.upload_session_ttl !== next.docker.upload_session_ttl && !purging) arm();
  });
  context.onClose(() => {
    closed = true;
    clearTimeout(timer);
  });
  return Promise.resolve();
}

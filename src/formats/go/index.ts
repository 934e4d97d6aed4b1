/**
 * The Go modules format module: default repositories `go-hosted`, `go-proxy` (only when [go]
 * proxy is non-empty) and the group `go` at `/go` (hosted first, then the proxy; write member
 * go-hosted); named Go repositories at `/repository/<name>`. Use with `GOPROXY=<nora>/go`.
 */
import type { FastifyInstance } from 'fastify';
import type { AppConfig, RepositoryConfig } from '../../config/schema.ts';
import { GroupReader } from '../../repos/group-read.ts';
import type { Repository } from '../../repos/repository.ts';
import type { FormatContext, FormatModule, ProtocolPath } from '../format.ts';
import { GoGroup } from './group.ts';
import { GoHosted } from './hosted.ts';
import { goMigrations, type GoTables } from './migrations.ts';
import type { GoSource } from './model.ts';
import { GoProxy } from './proxy.ts';
import { GoPublisher } from './publish.ts';
import { GoDeleter } from './delete.ts';
import { deleteHandler, publishHandler, registerGoRoutes, writeHandlers } from './routes.ts';
import { GoService } from './service.ts';
import { GoSumdb } from './sumdb.ts';
import { GO_RETENTION, goRetention } from './retention.ts';
import { GO_CACHE, goBrowse } from './browse.ts';
import { cacheIndexMigration, cacheIndexUpkeepMigration } from '../../ui/cache-index.ts';

export const GO_MOUNT = '/go';

/**
 * The GOPROXY protocol (`<module>/@v/…`, `<module>/@latest`) and the checksum database proxy
 * (`/sumdb/…`). Module paths are case-encoded on the wire (`!x` is `X`); decoded leniently here
 * (a claim never throws).
 */
export const GO_PROTOCOL_PATH: ProtocolPath = {
  errorShape: 'text',
  claim({ segments, decoded }) {
    const at = decoded.findIndex((s) => s === '@v' || s === '@latest');
    if (at <= 0 && segments[0] !== 'sumdb') return undefined;
    const module = decoded.slice(0, at > 0 ? at : 0).join('/');
    return {
      path:
        module === '' ? undefined : module.replace(/!([a-z])/g, (_, c: string) => c.toUpperCase()),
    };
  },
};

export const goFormat: FormatModule = {
  format: 'go',
  protocolPath: GO_PROTOCOL_PATH,
  retention: GO_RETENTION,
  mount: GO_MOUNT,
  defaultRepository: 'go',
  proxiedMetadataTtl: (config) => config.go.metadata_ttl,
  migrations: {
    ...goMigrations,
    '0931_go_ui_cache': cacheIndexMigration(GO_CACHE),
    '0941_go_ui_cache_upkeep': cacheIndexUpkeepMigration(GO_CACHE),
  },
  blobReferences: [
    { table: 'go_module_versions', column: 'mod_blob', file: '.mod' },
    { table: 'go_module_versions', column: 'zip_blob', file: '.zip' },
  ],
  defaultRepositories(config: AppConfig): RepositoryConfig[] {
    const go = config.go;
    const repos: RepositoryConfig[] = [
      { name: 'go-hosted', format: 'go', kind: 'hosted', members: [], upstreams: [] },
    ];
    const members = ['go-hosted'];
    if (go.proxy !== '') {
      repos.push({
        name: 'go-proxy',
        format: 'go',
        kind: 'proxy',
        members: [],
        upstreams: [{ url: go.proxy, ...(go.proxy_auth ? { auth: go.proxy_auth } : {}) }],
        proxy_timeout: go.proxy_timeout,
        metadata_ttl: go.metadata_ttl,
        serve_stale: go.serve_stale,
      });
      members.push('go-proxy');
    }
    repos.push({
      name: 'go',
      format: 'go',
      kind: 'group',
      members,
      upstreams: [],
      write_member: 'go-hosted',
      protect_hosted_names: go.protect_hosted_names,
    });
    return repos;
  },
  register(scope: FastifyInstance, context: FormatContext): Promise<void> {
    const hosted = new GoHosted({
      db: context.db.$extendTables<GoTables>(),
      blobs: context.blobs,
      maxZipSize: () => context.config().go.max_zip_size,
    });
    context.retention.provide(goRetention(hosted));
    context.reindex.provide('go', () => {
      hosted.forgetStates();
    });
    context.browse.provide(
      goBrowse({
        db: context.db,
        access: context.access,
        repositories: context.repositories,
        curation: context.curation,
      }),
    );
    const proxySource = new GoProxy({
      config: context.config,
      blobs: context.blobs,
      proxy: context.proxy,
      log: context.log,
      curation: context.curation,
      metrics: context.metrics,
    });
    // Shutdown: the prefetches still waiting are dropped, not started against a closing store.
    context.onClose(() => {
      proxySource.close();
    });
    const sourceOfMember = (member: Repository): GoSource =>
      member.kind === 'hosted' ? hosted : proxySource;
    const groupSource = new GoGroup({
      reader: new GroupReader({ log: context.log, failures: context.metrics.groupMemberFailures }),
      membersOf: (repo, path) => context.repositories.membersOf(repo, path),
      sourceOf: sourceOfMember,
      hostedModules: hosted,
    });
    const sumdb = new GoSumdb({
      config: context.config,
      proxy: context.proxy,
      blobs: context.blobs,
      curation: context.curation,
    });
    const service = new GoService({
      access: context.access,
      repositories: context.repositories,
      sourceOf: (repo) => (repo.kind === 'group' ? groupSource : sourceOfMember(repo)),
      sumdb,
      hostedModules: hosted,
    });
    const mounts = context.repositories.byFormat('go').map((repo) => ({
      prefix: repo.name === 'go' && repo.isDefault ? GO_MOUNT : `/repository/${repo.name}`,
      repo,
    }));
    // go-hosted's upload: PUT <mount>/<module>/@v/<version>.zip (publish.ts, hosted.ts).
    const publisher = new GoPublisher({
      access: context.access,
      repositories: context.repositories,
      hosted,
      servedInTree: (proxy, module) => proxySource.servedInTree(proxy, module),
      servedVersion: (proxy, module, version) => proxySource.servedVersion(proxy, module, version),
      upstreamHas: (proxy, module) => proxySource.upstreamHas(proxy, module),
    });
    // An admin's delete: DELETE <mount>/<module>/@v/<version>.zip or …/@v/list (delete.ts).
    const deleter = new GoDeleter({
      access: context.access,
      repositories: context.repositories,
      hosted,
    });
    registerGoRoutes(
      scope,
      mounts,
      {
        service,
        config: context.config,
        takesWrites: (repo) => context.repositories.writeTarget(repo) !== undefined,
      },
      writeHandlers(publishHandler(publisher), deleteHandler(deleter)),
    );
    return Promise.resolve();
  },
};

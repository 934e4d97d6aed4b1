/**
 * The raw format module: the default repository `raw-hosted` (hosted, as NORA's raw store) at
 * `/raw`, so NORA's URLs (`PUT/GET/HEAD/DELETE /raw/<path>`) work unchanged; named raw
 * repositories (hosted, proxy of any HTTP origin, group) at `/repository/<name>`.
 */
import { rawRetention } from './retention.ts';
import type { FastifyInstance } from 'fastify';
import type { AppConfig, RepositoryConfig } from '../../config/schema.ts';
import { GroupReader } from '../../repos/group-read.ts';
import type { FormatContext, FormatModule, ProtocolPath } from '../format.ts';
import { RawGroup } from './group.ts';
import { RawHosted } from './hosted.ts';
import { rawMigrations, type RawTables } from './migrations.ts';
import { RawProxy } from './proxy.ts';
import { registerRawRoutes } from './routes.ts';
import { RawService } from './service.ts';
import { RawStore } from './store.ts';
import { rawBrowse } from './browse.ts';

export const RAW_MOUNT = '/raw';
export const RAW_DEFAULT_REPOSITORY = 'raw-hosted';

/** Any path is a raw file path (the folder of an empty path): asked last. */
export const RAW_PROTOCOL_PATH: ProtocolPath = {
  errorShape: 'text',
  claim: ({ decoded }) => ({ path: decoded.length === 0 ? undefined : decoded.join('/') }),
};

export const rawFormat: FormatModule = {
  format: 'raw',
  protocolPath: RAW_PROTOCOL_PATH,
  // Request paths are NFC (paths.ts decodeSegment): `[[auth.rules]]` paths written in NFD (a
  // macOS editor) are compared in NFC too.
  rulePath: (path) => path.normalize('NFC'),
  mount: RAW_MOUNT,
  defaultRepository: RAW_DEFAULT_REPOSITORY,
  proxiedMetadataTtl: (config) => config.raw.proxy_ttl,
  migrations: rawMigrations,
  blobReferences: [{ table: 'raw_files', column: 'digest' }],
  defaultRepositories(_config: AppConfig): RepositoryConfig[] {
    return [
      { name: RAW_DEFAULT_REPOSITORY, format: 'raw', kind: 'hosted', members: [], upstreams: [] },
    ];
  },
  retention: { name: 'folder', version: 'file' },
  register(scope: FastifyInstance, context: FormatContext): Promise<void> {
    const store = new RawStore(context.db.$extendTables<RawTables>());
    const hosted = new RawHosted({
      store,
      blobs: context.blobs,
      durable: () => context.config().storage.fsync,
    });
    context.retention.provide(rawRetention(store, hosted));
    context.reindex.provide('raw', () => {
      hosted.forgetRows();
    });
    context.browse.provide(
      rawBrowse({
        db: context.db,
        access: context.access,
        repositories: context.repositories,
        curation: context.curation,
        hosted,
      }),
    );
    const proxySource = new RawProxy({
      config: context.config,
      blobs: context.blobs,
      proxy: context.proxy,
      curation: context.curation,
    });
    const groupSource = new RawGroup({
      reader: new GroupReader({ log: context.log, failures: context.metrics.groupMemberFailures }),
      membersOf: (repo, path) => context.repositories.membersOf(repo, path),
      sourceOf: (member) => (member.kind === 'hosted' ? hosted : proxySource),
    });
    const service = new RawService({
      hosted,
      repositories: context.repositories,
      access: context.access,
      config: context.config,
      sourceOf: (repo) => (repo.kind === 'group' ? groupSource : proxySource),
    });
    // raw-hosted answers at /raw and, as every format's hosted member does, at
    // /repository/raw-hosted: a group's messages name a member's file there ("delete it at
    // /repository/<member>/…"), and raw-hosted is the hosted member of the raw groups the docs
    // show (trial 33: that URL was refused).
    const mounts = context.repositories.byFormat('raw').flatMap((repo) =>
      repo.name === RAW_DEFAULT_REPOSITORY && repo.isDefault
        ? [
            { prefix: RAW_MOUNT, repo },
            { prefix: `/repository/${repo.name}`, repo },
          ]
        : [{ prefix: `/repository/${repo.name}`, repo }],
    );
    registerRawRoutes(scope, mounts, {
      service,
      config: context.config,
      takesWrites: (repo) => context.repositories.writeTarget(repo) !== undefined,
    });
    return Promise.resolve();
  },
};

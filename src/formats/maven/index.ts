/**
 * The Maven format module: default repositories `maven-hosted` (version policy `mixed`: releases
 * and snapshots, as NORA's single hosted Maven repository), `maven-proxy` (only when [maven]
 * proxies is non-empty) and the group `maven` at `/maven2` (write member maven-hosted); named
 * Maven repositories at `/repository/<name>`.
 */
import type { FastifyInstance } from 'fastify';
import type { AppConfig, RepositoryConfig } from '../../config/schema.ts';
import { GroupReader } from '../../repos/group-read.ts';
import type { Repository } from '../../repos/repository.ts';
import type { FormatContext, FormatModule, ProtocolPath } from '../format.ts';
import { MavenHosted } from './hosted.ts';
import { HotFiles } from './hot-files.ts';
import { mavenMigrations, type MavenTables } from './migrations.ts';
import { MavenGroup } from './group.ts';
import { MavenProxy, mavenProxyMigrations } from './proxy.ts';
import { renderMetadata } from './metadata.ts';
import { RenderedDocCache } from '../../core/rendered-docs.ts';

/** Budget of the rendered-metadata cache, bytes (bodies; a 1,000-version document is ~31 KB). */
const METADATA_CACHE_BYTES = 32 * 1024 * 1024;
import { registerMavenRoutes } from './routes.ts';
import { type HostedSettings, MavenService } from './service.ts';
import { MavenStore } from './store.ts';
import { compareMavenVersions } from './version.ts';
import { MAVEN_RETENTION, mavenRetention } from './retention.ts';
import { MAVEN_CACHE, mavenBrowse } from './browse.ts';
import { cacheIndexMigration, cacheIndexUpkeepMigration } from '../../ui/cache-index.ts';

export const MAVEN_MOUNT = '/maven2';

/** The file names a Maven repository layout serves (artifacts, their signatures and sums). */
const MAVEN_FILE = /\.(?:pom|jar|war|aar|module|asc|sha1|sha256|sha512|md5)$|maven-metadata\.xml/;

/** A Maven repository file by its name; the rule path is the whole file path. */
export const MAVEN_PROTOCOL_PATH: ProtocolPath = {
  errorShape: 'text',
  claim: ({ path, decoded }) => (MAVEN_FILE.test(path) ? { path: decoded.join('/') } : undefined),
};

export const mavenFormat: FormatModule = {
  format: 'maven',
  protocolPath: MAVEN_PROTOCOL_PATH,
  retention: MAVEN_RETENTION,
  mount: MAVEN_MOUNT,
  defaultRepository: 'maven',
  proxiedMetadataTtl: (config) => config.maven.metadata_ttl,
  migrations: {
    ...mavenMigrations,
    ...mavenProxyMigrations,
    '0933_maven_ui_cache': cacheIndexMigration(MAVEN_CACHE),
    '0943_maven_ui_cache_upkeep': cacheIndexUpkeepMigration(MAVEN_CACHE),
  },
  blobReferences: [
    { table: 'maven_files', column: 'digest' },
    { table: 'maven_proxy_files', column: 'digest' },
  ],
  defaultRepositories(config: AppConfig): RepositoryConfig[] {
    const maven = config.maven;
    const repos: RepositoryConfig[] = [
      {
        name: 'maven-hosted',
        format: 'maven',
        kind: 'hosted',
        members: [],
        upstreams: [],
        version_policy: 'mixed',
        keep_snapshots: 0,
      },
    ];
    const members = ['maven-hosted'];
    if (maven.proxies.length > 0) {
      repos.push({
        name: 'maven-proxy',
        format: 'maven',
        kind: 'proxy',
        members: [],
        upstreams: maven.proxies.map((u) => ({ url: u.url, ...(u.auth ? { auth: u.auth } : {}) })),
        proxy_timeout: maven.proxy_timeout,
        metadata_ttl: maven.metadata_ttl,
        serve_stale: maven.serve_stale,
      });
      members.push('maven-proxy');
    }
    repos.push({
      name: 'maven',
      format: 'maven',
      kind: 'group',
      members,
      upstreams: [],
      write_member: 'maven-hosted',
      protect_hosted_names: maven.protect_hosted_names,
    });
    return repos;
  },
  register(scope: FastifyInstance, context: FormatContext): Promise<void> {
    const store = new MavenStore(context.db.$extendTables<MavenTables>());
    // Rendered maven-metadata.xml (npm's packument cache: LRU by bytes, generation per scope).
    const metadataCache = new RenderedDocCache(METADATA_CACHE_BYTES);
    // What each (repository, path) answered: repeated artifact GETs skip SQL, stat and group walk.
    const hotFiles = new HotFiles();
    const hosted = new MavenHosted({
      store,
      blobs: context.blobs,
      compareVersions: compareMavenVersions,
      log: context.log,
      changed: (scope, repository) => {
        metadataCache.invalidate(scope);
        hotFiles.changed(repository);
      },
    });
    context.retention.provide(mavenRetention(hosted));
    context.reindex.provide('maven', () => {
      metadataCache.invalidateAll();
      hotFiles.reset();
    });
    context.browse.provide(
      mavenBrowse({
        db: context.db,
        access: context.access,
        repositories: context.repositories,
        curation: context.curation,
      }),
    );
    const settingsOf = (repo: Repository): HostedSettings => {
      const config = context.config();
      const entry =
        config.repositories.find((r) => r.name === repo.name) ??
        mavenFormat.defaultRepositories(config).find((r) => r.name === repo.name);
      return {
        versionPolicy: entry?.version_policy ?? 'mixed',
        keepSnapshots: entry?.keep_snapshots ?? 0,
      };
    };
    const proxySource = new MavenProxy({
      config: context.config,
      db: context.db,
      blobs: context.blobs,
      proxy: context.proxy,
      curation: context.curation,
    });
    context.onClose(() => proxySource.close());
    const groupSource = new MavenGroup({
      reader: new GroupReader({ log: context.log, failures: context.metrics.groupMemberFailures }),
      membersOf: (repo, path) => context.repositories.membersOf(repo, path),
      sourceOf: (member) => (member.kind === 'hosted' ? hosted : proxySource),
      hostedNames: hosted,
    });
    const service = new MavenService({
      hosted,
      repositories: context.repositories,
      access: context.access,
      config: context.config,
      settingsOf,
      sourceOf: (repo) => (repo.kind === 'group' ? groupSource : proxySource),
      render: renderMetadata,
      metadataCache,
      hotFiles,
      log: context.log,
      curation: context.curation,
    });
    const mounts = context.repositories.byFormat('maven').map((repo) => ({
      prefix: repo.name === 'maven' && repo.isDefault ? MAVEN_MOUNT : `/repository/${repo.name}`,
      repo,
    }));
    registerMavenRoutes(scope, mounts, {
      service,
      config: context.config,
      takesWrites: (repo) => context.repositories.writeTarget(repo) !== undefined,
    });
    return Promise.resolve();
  },
};

/**
 * The Maven format module: default repositories `maven-hosted` (version policy `mixed`: releases
 * and snapshots, as NORA's single hosted Maven repository), `maven-proxy` (only when [maven]
 * proxies is non-empty) and the group `maven` at `/maven2` (write member maven-hosted); named
 * Maven repositories at `/repository/<name>`.
 */
import type { FastifyInstance } from 'fastify';
import type { AppConfig, RepositoryConfig } from '../../config/schema.ts';
import { RegistryError } from '../../core/errors.ts';
import type { Repository } from '../../repos/repository.ts';
import type { FormatContext, FormatModule } from '../format.ts';
import { MavenHosted } from './hosted.ts';
import { mavenMigrations, type MavenTables } from './migrations.ts';
import type { MavenMetadata, MavenSource, OpenedMavenFile } from './model.ts';
import { mergeMetadata, renderMetadata } from './metadata.ts';
import { registerMavenRoutes } from './routes.ts';
import { type HostedSettings, MavenService } from './service.ts';
import { MavenStore } from './store.ts';
import { compareMavenVersions } from './version.ts';

export const MAVEN_MOUNT = '/maven2';

export const mavenFormat: FormatModule = {
  format: 'maven',
  mount: MAVEN_MOUNT,
  defaultRepository: 'maven',
  migrations: mavenMigrations,
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
    const hosted = new MavenHosted({
      store,
      blobs: context.blobs,
      compareVersions: compareMavenVersions,
    });
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
    const proxySource = interimUnbuiltProxy;
    const groupSource = interimGroupSource(
      (repo) => context.repositories.membersOf(repo),
      (member) => (member.kind === 'hosted' ? hosted : proxySource),
    );
    const service = new MavenService({
      hosted,
      repositories: context.repositories,
      access: context.access,
      config: context.config,
      settingsOf,
      sourceOf: (repo) => (repo.kind === 'group' ? groupSource : proxySource),
      render: renderMetadata,
    });
    const mounts = context.repositories.byFormat('maven').map((repo) => ({
      prefix: repo.name === 'maven' && repo.isDefault ? MAVEN_MOUNT : `/repository/${repo.name}`,
      repo,
    }));
    registerMavenRoutes(scope, mounts, { service, config: context.config });
    return Promise.resolve();
  },
};

// ------------------------------------------------------------------------------------------
// INTERIM, until the maven-meta-proxy branch lands proxy.ts and group.ts: a proxy that has
// nothing and a group that reads members in order and merges their metadata. Replaced (and
// deleted) at the merge.

/** A proxy repository before proxy.ts: nothing cached, nothing fetched. */
const interimUnbuiltProxy: MavenSource = {
  openFile: () => Promise.resolve(undefined),
  metadata: () => Promise.resolve(undefined),
};

/** Members in order for files; metadata merged across members (metadata.ts). */
function interimGroupSource(
  membersOf: (repo: Repository) => Repository[],
  sourceOf: (member: Repository) => MavenSource,
): MavenSource {
  return {
    async openFile(repo, path): Promise<OpenedMavenFile | undefined> {
      for (const member of membersOf(repo)) {
        try {
          const file = await sourceOf(member).openFile(member, path);
          if (file) return file;
        } catch (err) {
          if (err instanceof RegistryError && err.status < 500) throw err;
        }
      }
      return undefined;
    },
    async metadata(repo, dir): Promise<MavenMetadata | undefined> {
      const found: MavenMetadata[] = [];
      for (const member of membersOf(repo)) {
        try {
          const metadata = await sourceOf(member).metadata(member, dir);
          if (metadata) found.push(metadata);
        } catch (err) {
          if (err instanceof RegistryError && err.status < 500) throw err;
        }
      }
      return mergeMetadata(found);
    },
  };
}

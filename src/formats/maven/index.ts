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
      render: interimRenderMetadata,
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
// INTERIM, until the maven-meta-proxy branch lands metadata.ts, proxy.ts and group.ts: a
// renderer, a proxy that has nothing and a group that reads
// members in order. Replaced (and deleted) at the merge.

/** A proxy repository before proxy.ts: nothing cached, nothing fetched. */
const interimUnbuiltProxy: MavenSource = {
  openFile: () => Promise.resolve(undefined),
  metadata: () => Promise.resolve(undefined),
};

/** Members in order for files; metadata from the first member having it. */
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
      for (const member of membersOf(repo)) {
        try {
          const metadata = await sourceOf(member).metadata(member, dir);
          if (metadata) return metadata;
        } catch (err) {
          if (err instanceof RegistryError && err.status < 500) throw err;
        }
      }
      return undefined;
    },
  };
}

function xml(text: string): string {
  return text.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** Renders MavenMetadata like Maven's MetadataXpp3Writer (interim). */
function interimRenderMetadata(m: MavenMetadata): Buffer {
  const out: string[] = ['<?xml version="1.0" encoding="UTF-8"?>'];
  out.push(m.snapshotVersions.length > 0 ? '<metadata modelVersion="1.1.0">' : '<metadata>');
  const el = (indent: string, name: string, value: string | number | undefined) => {
    if (value !== undefined) out.push(`${indent}<${name}>${xml(String(value))}</${name}>`);
  };
  el('  ', 'groupId', m.groupId);
  el('  ', 'artifactId', m.artifactId);
  el('  ', 'version', m.version);
  const hasVersioning =
    m.versions.length > 0 ||
    m.latest !== undefined ||
    m.release !== undefined ||
    m.snapshot !== undefined ||
    m.snapshotVersions.length > 0 ||
    m.lastUpdated !== undefined;
  if (hasVersioning) {
    out.push('  <versioning>');
    el('    ', 'latest', m.latest);
    el('    ', 'release', m.release);
    if (m.versions.length > 0) {
      out.push('    <versions>');
      for (const v of m.versions) el('      ', 'version', v);
      out.push('    </versions>');
    }
    if (m.snapshot) {
      out.push('    <snapshot>');
      el('      ', 'timestamp', m.snapshot.timestamp);
      el('      ', 'buildNumber', m.snapshot.buildNumber);
      out.push('    </snapshot>');
    }
    el('    ', 'lastUpdated', m.lastUpdated);
    if (m.snapshotVersions.length > 0) {
      out.push('    <snapshotVersions>');
      for (const s of m.snapshotVersions) {
        out.push('      <snapshotVersion>');
        el('        ', 'classifier', s.classifier);
        el('        ', 'extension', s.extension);
        el('        ', 'value', s.value);
        el('        ', 'updated', s.updated);
        out.push('      </snapshotVersion>');
      }
      out.push('    </snapshotVersions>');
    }
    out.push('  </versioning>');
  }
  if (m.plugins.length > 0) {
    out.push('  <plugins>');
    for (const p of m.plugins) {
      out.push('    <plugin>');
      el('      ', 'name', p.name);
      el('      ', 'prefix', p.prefix);
      el('      ', 'artifactId', p.artifactId);
      out.push('    </plugin>');
    }
    out.push('  </plugins>');
  }
  out.push('</metadata>', '');
  return Buffer.from(out.join('\n'));
}

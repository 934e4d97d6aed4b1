/**
 * The Helm (classic chart repository) format module: default repositories `helm-hosted`,
 * `helm-proxy` (only when [helm] proxies is non-empty) and the group `helm` at `/helm` (write
 * member helm-hosted); named Helm repositories at `/repository/<name>`. Charts pushed over OCI
 * (`/v2/`) are the Docker/OCI format's and unrelated to these (docs/helm.md).
 */
import { helmRetention } from './retention.ts';
import type { FastifyInstance } from 'fastify';
import type { AppConfig, RepositoryConfig } from '../../config/schema.ts';
import { GroupReader } from '../../repos/group-read.ts';
import type { FormatContext, FormatModule, ProtocolPath } from '../format.ts';
import { HelmGroup } from './group.ts';
import { HelmHosted } from './hosted.ts';
import { UpstreamIndexParser } from './index-parser.ts';
import {
  helmDeletedVersionsMigration,
  helmMigrations,
  helmProxyBackfillMigration,
  type HelmTables,
} from './migrations.ts';
import { HelmProxy } from './proxy.ts';
import { registerHelmRoutes } from './routes.ts';
import { HelmService } from './service.ts';
import { HelmStore } from './store.ts';
import { HELM_CACHE, helmBrowse } from './browse.ts';
import { cacheIndexMigration, cacheIndexUpkeepMigration } from '../../ui/cache-index.ts';
import { helmVersionPairs } from './consistency.ts';

export const HELM_MOUNT = '/helm';

/** `/index.yaml` and the ChartMuseum API (`/api/charts…`). */
export const HELM_PROTOCOL_PATH: ProtocolPath = {
  errorShape: 'helm',
  claim: ({ path }) =>
    path === '/index.yaml' || path.startsWith('/api/charts') ? { path: undefined } : undefined,
};

export interface HelmFormatOptions {
  /**
   * The upstream index.yaml parser of this app's proxy repositories (tests: one with a `hold`
   * or small bounds); default: a new UpstreamIndexParser. Closed with the app either way.
   */
  readonly indexParser?: () => UpstreamIndexParser;
  /** Called for each full index.yaml rendering (tests: a warm GET renders nothing). */
  readonly onRender?: (repository: string, key: string) => void;
}

export function createHelmFormat(options: HelmFormatOptions = {}): FormatModule {
  return {
    format: 'helm',
    mount: HELM_MOUNT,
    defaultRepository: 'helm',
    proxiedMetadataTtl: (config) => config.helm.index_ttl,
    protocolPath: HELM_PROTOCOL_PATH,
    migrations: {
      ...helmMigrations,
      '0934_helm_ui_cache': cacheIndexMigration(HELM_CACHE),
      '0944_helm_ui_cache_upkeep': cacheIndexUpkeepMigration(HELM_CACHE),
      '0945_helm_proxy_backfill_pending': helmProxyBackfillMigration,
      '0946_helm_deleted_versions': helmDeletedVersionsMigration,
    },
    blobReferences: [
      { table: 'helm_charts', column: 'digest' },
      { table: 'helm_charts', column: 'prov_digest' },
    ],
    consistency: (db) => helmVersionPairs(db.$extendTables<HelmTables>()),
    defaultRepositories(config: AppConfig): RepositoryConfig[] {
      const helm = config.helm;
      const repos: RepositoryConfig[] = [
        { name: 'helm-hosted', format: 'helm', kind: 'hosted', members: [], upstreams: [] },
      ];
      const members = ['helm-hosted'];
      if (helm.proxies.length > 0) {
        repos.push({
          name: 'helm-proxy',
          format: 'helm',
          kind: 'proxy',
          members: [],
          upstreams: helm.proxies.map((u) => ({ url: u.url, ...(u.auth ? { auth: u.auth } : {}) })),
          proxy_timeout: helm.proxy_timeout,
          metadata_ttl: helm.index_ttl,
          serve_stale: helm.serve_stale,
        });
        members.push('helm-proxy');
      }
      repos.push({
        name: 'helm',
        format: 'helm',
        kind: 'group',
        members,
        upstreams: [],
        write_member: 'helm-hosted',
        protect_hosted_names: helm.protect_hosted_names,
      });
      return repos;
    },
    retention: { name: 'chart', version: 'version' },
    register(scope: FastifyInstance, context: FormatContext): Promise<void> {
      const store = new HelmStore(context.db.$extendTables<HelmTables>());
      const hosted = new HelmHosted({ store, blobs: context.blobs });
      context.retention.provide(helmRetention(store, hosted));
      context.reindex.provide('helm', () => {
        hosted.forgetSnapshots();
      });
      context.browse.provide(
        helmBrowse({
          db: context.db,
          access: context.access,
          repositories: context.repositories,
          curation: context.curation,
        }),
      );
      const parser = options.indexParser?.() ?? new UpstreamIndexParser();
      context.onClose(() => parser.close());
      const proxySource = new HelmProxy({
        config: context.config,
        db: context.db,
        blobs: context.blobs,
        proxy: context.proxy,
        parser,
        log: context.log,
        curation: context.curation,
      });
      // Chart files cached before migration 0926 recorded no chart: recorded once (the proxies
      // migration 0945 marked), from the cached index copies (bounded, never asking an
      // upstream), so the web UI lists them.
      const backfill = proxySource.backfillPending(context.repositories.byFormat('helm')).then(
        () => undefined,
        (err: unknown) => {
          context.log.warn({ err }, 'helm: recording the charts of cached files failed');
        },
      );
      context.onClose(() => backfill);
      const groupSource = new HelmGroup({
        reader: new GroupReader({
          log: context.log,
          failures: context.metrics.groupMemberFailures,
        }),
        membersOf: (repo, path) => context.repositories.membersOf(repo, path),
        answeringEpoch: () => context.repositories.answeringEpoch,
        sourceOf: (member) => (member.kind === 'hosted' ? hosted : proxySource),
        hostedHas: (member, name) => hosted.hasName(member, name),
        hostedNames: (member) => hosted.publishedNames(member),
      });
      const service = new HelmService({
        hosted,
        repositories: context.repositories,
        access: context.access,
        config: context.config,
        sourceOf: (repo) => (repo.kind === 'group' ? groupSource : proxySource),
        onRender: options.onRender,
        proxyServes: (proxy, name) => proxySource.serves(proxy, name),
        log: context.log,
      });
      const mounts = context.repositories.byFormat('helm').map((repo) => ({
        prefix: repo.name === 'helm' && repo.isDefault ? HELM_MOUNT : `/repository/${repo.name}`,
        repo,
      }));
      registerHelmRoutes(scope, mounts, {
        service,
        takesWrites: (repo) => context.repositories.writeTarget(repo) !== undefined,
      });
      return Promise.resolve();
    },
  };
}

export const helmFormat: FormatModule = createHelmFormat();

/**
 * The npm format module: default repositories `npm-hosted`, `npm-proxy` (only when [npm] proxy
 * is set: there is no built-in upstream) and the group `npm` at `/npm`; named npm repositories at
 * `/repository/<name>`. Users and tokens come from the shared identity (src/auth/identity.ts).
 */
import { upstreamCheckWaitOf } from '../../repos/group-write.ts';
import type { FastifyInstance } from 'fastify';
import type { AppConfig, RepositoryConfig } from '../../config/schema.ts';
import type { FormatContext, FormatModule, ProtocolPath } from '../format.ts';
import { NpmAccounts } from './accounts.ts';
import { namedByConfig } from '../../auth/rules.ts';
import { RenderedDocCache } from '../../core/rendered-docs.ts';
import { npmMigrations, type NpmTables } from './migrations.ts';
import { registerNpmRoutes } from './routes.ts';
import { NpmService } from './service.ts';
import { NpmStore } from './store.ts';
import { npmRetention } from './retention.ts';
import { createUpstreams } from './proxy.ts';
import { GroupReader } from '../../repos/group-read.ts';
import { npmBrowse } from './browse.ts';

export const NPM_MOUNT = '/npm';

/**
 * The npm registry API: `/-/…` (search, login, tokens) and a package's paths: `/<name>`,
 * `/@scope%2fname`, `/@scope/name`, `/<name>/-/<file>.tgz`. A one-segment path is any package,
 * so this claim is asked after the formats with more telling shapes.
 */
export const NPM_PROTOCOL_PATH: ProtocolPath = {
  errorShape: 'npm',
  claim({ segments, decoded }) {
    const [first = ''] = segments;
    if (first === '-') return { path: undefined };
    if (!first.startsWith('@') && segments.length !== 1 && segments[1] !== '-') return undefined;
    const scoped = first.startsWith('@') && !/%2f/i.test(first) && decoded[1] !== undefined;
    return { path: scoped ? `${decoded[0] ?? ''}/${decoded[1] ?? ''}` : (decoded[0] ?? '') };
  },
};

export const npmFormat: FormatModule = {
  format: 'npm',
  protocolPath: NPM_PROTOCOL_PATH,
  mount: NPM_MOUNT,
  defaultRepository: 'npm',
  proxiedMetadataTtl: (config) => config.npm.metadata_ttl,
  migrations: npmMigrations,
  // An unpublished version keeps its row (name@version is never reused) but not its tarball.
  blobReferences: [{ table: 'npm_versions', column: 'digest', tombstone: 'unpublished_at' }],
  retention: { name: 'package', version: 'version' },
  defaultRepositories(config: AppConfig): RepositoryConfig[] {
    const hosted: RepositoryConfig = {
      name: 'npm-hosted',
      format: 'npm',
      kind: 'hosted',
      members: [],
      upstreams: [],
    };
    const members = ['npm-hosted'];
    const repos: RepositoryConfig[] = [hosted];
    if (config.npm.proxy !== undefined) {
      repos.push({
        name: 'npm-proxy',
        format: 'npm',
        kind: 'proxy',
        members: [],
        upstreams: [
          {
            url: config.npm.proxy,
            ...(config.npm.proxy_auth ? { auth: config.npm.proxy_auth } : {}),
          },
        ],
      });
      members.push('npm-proxy');
    }
    repos.push({
      name: 'npm',
      format: 'npm',
      kind: 'group',
      members,
      upstreams: [],
      write_member: 'npm-hosted',
      protect_hosted_names: config.npm.protect_hosted_names,
    });
    return repos;
  },
  register(scope: FastifyInstance, context: FormatContext): Promise<void> {
    const { users, tokens } = context.identity;
    const store = new NpmStore(context.db.$extendTables<NpmTables>());
    const upstreams = createUpstreams(context, store);
    const cache = new RenderedDocCache(() => context.config().npm.packument_cache_mb * 1024 * 1024);
    const service = new NpmService({
      store,
      blobs: context.blobs,
      repositories: context.repositories,
      access: context.access,
      upstream: (repo) => upstreams.get(repo),
      lookupEmail: async (name) => (await users.get(name))?.email,
      recordCacheHit: (registry) => {
        context.proxy.metrics.record(registry, 'hit');
      },
      cache,
      reader: new GroupReader({
        log: context.log,
        failures: context.metrics.groupMemberFailures,
      }),
      rules: () => context.config().auth.rules,
      shadowNames: () => context.config().npm.shadow_names,
      upstreamCheckWait: upstreamCheckWaitOf(context.config, 'npm'),
      log: context.log,
      curation: context.curation,
    });
    const accounts = new NpmAccounts(context.identity.directory, users, tokens, {
      allowRegistration: () => context.config().auth.allow_registration,
      authEnabled: () => context.access.authEnabled,
      checkPassword: (user, address, verify) => context.access.checkPassword(user, address, verify),
      namedByConfig: (name) => namedByConfig(context.config().auth, name),
    });
    context.retention.provide(npmRetention(store, cache));
    context.reindex.provide('npm', () => {
      cache.invalidateAll();
    });
    context.browse.provide(
      npmBrowse(
        { db: context.db, access: context.access, repositories: context.repositories },
        context.curation,
        async (repoName, name) => {
          const repo = context.repositories.get(repoName);
          return repo === undefined ? undefined : upstreams.get(repo)?.peek(name);
        },
      ),
    );
    const npmRepos = context.repositories.byFormat('npm');
    const mounts = npmRepos.map((repo) => ({
      prefix: repo.name === 'npm' && repo.isDefault ? NPM_MOUNT : `/repository/${repo.name}`,
      repo,
    }));
    registerNpmRoutes(scope, mounts, {
      service,
      accounts,
      config: context.config,
      spoolPath: () => context.blobs.spoolPath('ingest'),
    });
    return Promise.resolve();
  },
};

/**
 * The Cargo format module: default repositories `cargo-hosted`, `cargo-proxy` (only when
 * `[cargo] proxy` is non-empty) and the group `cargo` at `/cargo` (write member cargo-hosted);
 * named Cargo repositories at `/repository/<name>`. Cargo's sparse URL is
 * `sparse+http(s)://<host>/cargo/index/` (or `/repository/<name>/index/`).
 *
 * Seam for the proxy and group (their own files, proxy.ts and group.ts): the service picks the
 * CargoSource by the repository's kind — hosted.ts for hosted, `createCargoProxy` for proxy,
 * CargoGroup over both for groups.
 */
import type { FastifyInstance } from 'fastify';
import type { AppConfig, RepositoryConfig } from '../../config/schema.ts';
import { accountPrincipal } from '../../auth/directory.ts';
import { GroupReader } from '../../repos/group-read.ts';
import type { Repository } from '../../repos/repository.ts';
import type { FormatContext, FormatModule, ProtocolPath } from '../format.ts';
import { CargoGroup } from './group.ts';
import { CargoHosted } from './hosted.ts';
import { type CargoTables, cargoMigrations } from './migrations.ts';
import type { CargoSource } from './model.ts';
import { CargoProxy, createCargoProxy, indexKey } from './proxy.ts';
import { curatedCargoSource } from './curated.ts';
import { type CargoMount, registerCargoRoutes } from './routes.ts';
import { CargoService } from './service.ts';
import { canonicalName } from './names.ts';
import { CARGO_RETENTION, cargoRetention } from './retention.ts';
import { CARGO_CACHE, cargoBrowse } from './browse.ts';
import { cacheIndexMigration, cacheIndexUpkeepMigration } from '../../ui/cache-index.ts';

/** How many cached index keys sharing a name's first word a 404's spelling hint reads at most. */
const SPELLING_SCAN = 1000;

export const CARGO_MOUNT = '/cargo';

/** `/config.json` and the web API (`/api/v1/crates…`); index files have no telling shape. */
export const CARGO_PROTOCOL_PATH: ProtocolPath = {
  errorShape: 'cargo',
  claim: ({ path }) =>
    path === '/config.json' || path.startsWith('/api/v1/crates') ? { path: undefined } : undefined,
};

const MB = 1024 * 1024;

/** Owner-less crates named in the start-up warning (the count covers them all). */
const OWNERLESS_NAMED = 20;

/** The default repositories of the Cargo format (see the module comment). */
export function cargoDefaultRepositories(config: AppConfig): RepositoryConfig[] {
  const cargo = config.cargo;
  const repos: RepositoryConfig[] = [
    { name: 'cargo-hosted', format: 'cargo', kind: 'hosted', members: [], upstreams: [] },
  ];
  const members = ['cargo-hosted'];
  if (cargo.proxy !== '') {
    repos.push({
      name: 'cargo-proxy',
      format: 'cargo',
      kind: 'proxy',
      members: [],
      upstreams: [{ url: cargo.proxy, ...(cargo.proxy_auth ? { auth: cargo.proxy_auth } : {}) }],
      proxy_timeout: cargo.proxy_timeout,
      metadata_ttl: cargo.metadata_ttl,
      serve_stale: cargo.serve_stale,
    });
    members.push('cargo-proxy');
  }
  repos.push({
    name: 'cargo',
    format: 'cargo',
    kind: 'group',
    members,
    upstreams: [],
    write_member: 'cargo-hosted',
    protect_hosted_names: cargo.protect_hosted_names,
  });
  return repos;
}

/** Where a cargo repository is mounted: the default group at /cargo, others by name. */
export function cargoMountOf(repo: Repository): CargoMount {
  return {
    repo,
    prefix: repo.name === 'cargo' && repo.isDefault ? CARGO_MOUNT : `/repository/${repo.name}`,
  };
}

export interface CargoFormatOptions {
  /** Builds the proxy source (tests substitute one; default proxy.ts). */
  readonly proxy?: (context: FormatContext) => CargoSource;
}

export function createCargoFormat(options: CargoFormatOptions = {}): FormatModule {
  return {
    format: 'cargo',
    mount: CARGO_MOUNT,
    defaultRepository: 'cargo',
    proxiedMetadataTtl: (config) => config.cargo.metadata_ttl,
    migrations: {
      ...cargoMigrations,
      '0930_cargo_ui_cache': cacheIndexMigration(CARGO_CACHE),
      '0940_cargo_ui_cache_upkeep': cacheIndexUpkeepMigration(CARGO_CACHE),
    },
    blobReferences: [{ table: 'cargo_versions', column: 'blob' }],
    defaultRepositories: cargoDefaultRepositories,
    // `Corp-App` and `corp_app` are one crate: a rule on `corp-*` holds both spellings.
    rulePath: canonicalName,
    protocolPath: CARGO_PROTOCOL_PATH,
    retention: CARGO_RETENTION,
    async register(scope: FastifyInstance, context: FormatContext): Promise<void> {
      const hosted = new CargoHosted({
        db: context.db.$extendTables<CargoTables>(),
        blobs: context.blobs,
        maxCrateBytes: () => context.config().cargo.max_upload_mb * MB,
      });
      context.retention.provide(cargoRetention(hosted));
      context.reindex.provide('cargo', () => {
        hosted.forgetKept();
      });
      context.browse.provide(
        cargoBrowse({
          db: context.db,
          access: context.access,
          repositories: context.repositories,
          curation: context.curation,
        }),
      );
      // Crates published while auth was off have no owner: with auth on only an admin may change
      // them (service.ts). Said once at start-up and when a reload turns auth on.
      const warnOwnerless = async (): Promise<void> => {
        try {
          const repos = context.repositories
            .byFormat('cargo')
            .filter((repo) => repo.kind === 'hosted')
            .map((repo) => repo.name);
          const { total, crates } = await hosted.store.ownerless(repos, OWNERLESS_NAMED);
          if (total === 0) return;
          context.log.warn(
            { crates: total, first: crates },
            `${String(total)} hosted Cargo crate(s) have no owner (published while [auth] was off): ` +
              'only an admin may publish, yank or change their owners until an admin adds them with ' +
              '`cargo owner --add <user> <crate>` using an admin token (docs/cargo.md, "Authentication")',
          );
        } catch (err) {
          context.log.warn({ err }, 'could not count the Cargo crates without owners');
        }
      };
      if (context.config().auth.enabled) await warnOwnerless();
      context.onReload((previous, next) => {
        if (!previous.auth.enabled && next.auth.enabled) void warnOwnerless();
      });
      // Every proxy read passes curation (curated.ts): a proxy's and a group's proxy members'.
      const proxySource = (options.proxy ?? createCargoProxy)(context);
      // Shutdown: the prefetches still waiting are dropped, not started against a closing store.
      if (proxySource instanceof CargoProxy) {
        context.onClose(() => {
          proxySource.close();
        });
      }
      const proxy = curatedCargoSource(proxySource, context.curation);
      const sourceOf = (member: Repository): CargoSource =>
        member.kind === 'hosted' ? hosted : proxy;
      const group = new CargoGroup({
        reader: new GroupReader({
          log: context.log,
          failures: context.metrics.groupMemberFailures,
        }),
        membersOf: (repo, path) => context.repositories.membersOf(repo, path),
        sourceOf,
        hostedHas: (member, name) => hosted.hasCrate(member, name),
      });
      const service = new CargoService({
        repositories: context.repositories,
        access: context.access,
        hosted,
        proxy,
        group,
        userExists: async (login) =>
          (await context.identity.directory.account(login)) !== undefined,
        userPrincipal: async (login) => {
          const account = await context.identity.directory.account(login);
          return account === undefined ? undefined : accountPrincipal(account, 'password');
        },
        // A crate's index file in a proxy's cache: it has served the crate (no upstream request).
        servedIndex: async (member, name) =>
          (await context.proxy.lookup(member.name, indexKey(name))) !== undefined,
        shadowNames: () => context.config().cargo.shadow_names,
        curation: context.curation,
        // Another spelling's index file in a proxy's cache, for a 404's "published as" (one
        // range read of the keys sharing the name's first word, on a miss only).
        cachedSpelling: async (member, name) => {
          const cut = name.search(/[-_]/);
          if (cut < 0) return undefined;
          const prefix = indexKey(name.slice(0, cut));
          const keys = await context.proxy.state.keys(member.name, prefix, SPELLING_SCAN);
          const found = keys
            .map((key) => key.slice(indexKey('').length))
            .find((other) => other !== name && canonicalName(other) === canonicalName(name));
          return found;
        },
      });
      registerCargoRoutes(scope, context.repositories.byFormat('cargo').map(cargoMountOf), {
        service,
        config: context.config,
      });
    },
  };
}

export const cargoFormat: FormatModule = createCargoFormat();

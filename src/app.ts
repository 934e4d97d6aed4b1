/**
 * The composition root: builds every service from the configuration and mounts every format.
 * It never listens (server.ts does), so tests drive it in-process with `app.inject()` or on an
 * ephemeral port.
 */
import { curationWarnings } from './curation/settings.ts';
import { readFileSync, rmSync, statSync } from 'node:fs';
import fs from 'node:fs/promises';
import type http from 'node:http';
import path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import Fastify, { type FastifyInstance, type FastifyReply, LogController } from 'fastify';
import { answerClientError, trackResponse } from './http/client-error.ts';
import { continueOnFirstRead } from './http/expect-continue.ts';
import { AccessControl, type Principal } from './auth/access.ts';
import { registerTokenRoutes } from './http/tokens-api.ts';
import { registerReindexRoutes } from './http/reindex-api.ts';
import { registerUploadsRoutes } from './http/uploads-api.ts';
import { registerRepositoriesRoutes } from './http/repositories-api.ts';
import { registerRetentionRoutes } from './http/retention-api.ts';
import { TokenApi } from './auth/api/tokens.ts';
import { createIdentity } from './auth/identity.ts';
import { exposureWarnings } from './auth/exposure.ts';
import { OidcResolver } from './auth/oidc.ts';
import { authMigrations } from './auth/migrations.ts';
import { NetworkList } from './auth/networks.ts';
import {
  cargoAnonymousRules,
  ownershipLockouts,
  permissionsFromConfig,
  proxiesShutOut,
  readOnlyUserGrants,
  ruleWarnings,
  shadowedByRules,
  undescribedRepositories,
} from './auth/rules.ts';
import {
  ConfigError,
  type KeyOrigins,
  loadConfig,
  type LoadedConfig,
  type LoadOptions,
  originNote,
} from './config/load.ts';
import { closest } from './config/env.ts';
import { describeHtpasswdProblem, type HtpasswdProblem, parseHtpasswd } from './auth/htpasswd.ts';
import { compileGlob } from './auth/patterns.ts';
import {
  type AppConfig,
  FORMAT_NAMES,
  type FormatName,
  type RepositoryConfig,
} from './config/schema.ts';
import {
  errnoCode,
  RegistryError,
  RequestBodyStalledError,
  toRegistryError,
} from './core/errors.ts';
import type { Logger } from './core/logger.ts';
import { createServer } from './core/node-http.ts';
import { SqlBlobIndex } from './db/blob-index.ts';
import {
  checkDatabase,
  type Db,
  DatabaseWriteError,
  openDatabase,
  probeDatabaseWrite,
} from './db/database.ts';
import { sqliteHandleOf } from './db/sqlite-handle.ts';
import { freesSpace } from './db/reserve.ts';
import { databaseInUse } from './db/in-use.ts';
import { StorageSpace } from './storage/free-space.ts';
import { unconfiguredRepositories, unconfiguredWarning } from './repos/unconfigured.ts';
import type { FormatContext, FormatModule } from './formats/format.ts';
import { FORMATS } from './formats/index.ts';
import { type GcScheduler, startGcScheduler } from './gc/scheduler.ts';
import { unavailableMount } from './formats/unavailable.ts';
import { AnswerMemo, type MemoHitDuties } from './http/answer-memo.ts';
import {
  genericErrorBody,
  type InFlightRequests,
  installHooks,
  recordAnswer,
  requestIdFrom,
  SECURITY_HEADERS,
} from './http/hooks.ts';
import { WriteGeneration } from './core/write-generation.ts';
import { formatDigest } from './core/digest.ts';
import { loggerOptions } from './http/log-options.ts';
import { clientAddress } from './http/client-address.ts';
import { UntrustedForwardNotice } from './http/untrusted-forward.ts';
import { RateLimiter } from './http/rate-limit.ts';
import { baseUrl, useRawBodies } from './http/request.ts';
import { errorAnswer, protocolOf, standIn } from './http/unknown-repository.ts';
import { REGISTRY_SERVICE } from './auth/registry-token.ts';
import { registerSystemRoutes } from './http/system-routes.ts';
import { Metrics } from './metrics/metrics.ts';
import type { AddressPolicy } from './proxy/address-policy.ts';
import { ProxyEngine } from './proxy/engine.ts';
import { proxyMigrations } from './proxy/state.ts';
import {
  type AnsweringMembers,
  type Repository,
  RepositoryConfigError,
  RepositoryRegistry,
} from './repos/repository.ts';
import { BlobStore } from './storage/blob-store.ts';
import type { StorageDriver } from './storage/driver.ts';
import {
  BucketLeaseHeldError,
  bucketWhere,
  claimLease,
  LEASE_KEY,
  type BucketLease,
} from './storage/bucket-lease.ts';
import { createStorageDriver } from './storage/drivers/index.ts';
import { GuardedDriver } from './storage/guarded-driver.ts';
import { BLOBS_PREFIX } from './storage/keys.ts';
import { abortStaleUploadsOnce, sweepStaleUploads } from './storage/stale-uploads.ts';
import { VERSION } from './version.ts';
import { RetentionAdapters } from './retention/types.ts';
import { Reindexers } from './core/reindex.ts';
import { UploadSessionsSlot } from './core/upload-sessions.ts';
import { BrowseSources } from './ui/types.ts';
import { registerUiRoutes, uiRefusal } from './ui/routes.ts';
import { type RetentionScheduler, startRetentionScheduler } from './retention/scheduler.ts';
import { rulesMatchingNothing } from './retention/rule-targets.ts';
import { dropRepresentationHeaders } from './http/format-errors.ts';
import { BYPASS_HEADER, curationRequest, privateBypassAnswer } from './curation/context.ts';
import { AuditLog } from './audit/sink.ts';
import {
  attachSlot,
  auditScope,
  damagedDetail,
  damagedFate,
  noteDamagedRead,
  RequestAuditor,
  type AuditSlot,
  type AuditTarget,
} from './audit/requests.ts';
import type { AuditSettings } from './audit/types.ts';
import { CurationEngine, loadPolicy, reloadCuration } from './curation/engine.ts';
import { installationMigrations, readInstallation } from './db/installation.ts';
import { firstSeenMigrations, SqlFirstSeenStore, startPruning } from './curation/first-seen.ts';

export interface BuildOptions {
  readonly formats?: readonly FormatModule[];
  /** Overrides server.log_level (tests pass 'silent'). */
  readonly logLevel?: string;
  /** How long a metadata revalidation may take before the cached copy is served stale (tests). */
  readonly proxyStaleAfterMs?: number;
  /** Which upstream addresses count as internal for the redirect rule (tests). */
  readonly proxyAddressPolicy?: AddressPolicy;
  /** Where log lines go instead of stdout (tests that read them). */
  readonly logStream?: { write(line: string): void };
  /**
   * Built for an offline command (`nora retention-apply`), never listening: the gc and retention
   * timers do not fire (their passes are the command's to run, or not).
   */
  readonly offline?: boolean;
  /**
   * With `offline`: a dry run that writes nothing to the storage or the database (`nora re-pin`
   * without --yes): the database opened read-only, no `.nora-serve/<pid>` marker, no spool wiped,
   * no S3 lease claimed nor stale upload aborted.
   */
  readonly readOnly?: boolean;
  /** Overrides the retention scheduler's first-pass delay, ms (tests). */
  readonly retentionFirstDelayMs?: number;
  /** The environment curation's env-only settings come from (NORA_CURATION_BYPASS_TOKEN); process.env. */
  readonly env?: NodeJS.ProcessEnv;
}

export interface NoraApp {
  readonly fastify: FastifyInstance;
  readonly context: FormatContext;
  /**
   * Applies a new configuration to everything that can change while running (per-request
   * readers, access policy, trusted proxies, proxy upstreams and timings, the log level) and
   * returns the keys whose change needs a restart, compared with what is running: such a key
   * keeps its running value in `context.config()`, so it is reported again on every reload
   * until the process restarts. Throws, applying nothing, when the repositories are invalid.
   */
  reload(next: AppConfig): string[];
  /**
   * Warnings for names in the running `[auth]` lists that are no user (listedNonUsers), judged by
   * the htpasswd file as the server read it and by the metadata store: what start-up and SIGHUP
   * log (a check run with `later`). `origins`: those of the loaded configuration (a list is named
   * with its variable only when the variable set it). Waits for the latest read of the file (a
   * reload's).
   */
  listedUserWarnings(origins?: KeyOrigins): Promise<string[]>;
  /** The `[gc]` scheduler (runNow: one pass with the configured settings). */
  readonly gc: GcScheduler;
  /** The `[retention]` scheduler (runNow: one pass; src/retention/scheduler.ts). */
  readonly retention: RetentionScheduler;
  /** `POST /api/v1/admin/reindex`'s runner (idle(): the running reindex is done). */
  readonly reindex: Reindexers;
  /** Every route Fastify registered (method, URL pattern), for checks over all routes. */
  readonly routes: readonly { readonly method: string; readonly url: string }[];
  /** Requests not yet answered: a shutdown that gives up on them logs them (`cut`). */
  readonly inFlight: InFlightRequests;
  /**
   * Removes, synchronously, the `.nora-serve/<pid>` files naming this process: for an exit that
   * does not wait for close() (a shutdown cut short by `shutdown_timeout`; trial 25 ops F6).
   */
  forgetMarkers(): void;
  /**
   * Writes the audit events still queued, synchronously, and closes the audit log: for an exit
   * that does not wait for close() (a shutdown cut short by `shutdown_timeout`).
   */
  closeAudit(): void;
  /**
   * The error of the last reload's curation policy (a list that did not load: the previous
   * policy and `[curation]` stay in force), or undefined when it was loaded or nothing reloaded.
   */
  curationReloadFailure(): string | undefined;
  /** The curation lists in force (`blocklist 3 rules, allowlist 1 entry`), undefined if none. */
  curationLists(): string | undefined;
  close(): Promise<void>;
}

const MB = 1024 * 1024;
/** WebDAV methods routed like the standard ones (see where they are added to the router). */
const WEBDAV_METHODS = ['MKCOL', 'PROPFIND'] as const;

/**
 * Loads the configuration (file + environment, see loadConfig) and makes every check `serve`
 * makes before it opens anything: the one validation `nora serve`, `nora config check` and a
 * SIGHUP reload share. `htpasswdLines`: CheckOptions.htpasswdLines (`nora token` passes false).
 * Throws ConfigError naming the key or repository at fault.
 */
export async function loadCheckedConfig(
  options: LoadOptions,
  formats: readonly FormatModule[] = FORMATS,
  listedUsers: ListedUserCheck = 'file-only',
  htpasswdLines = listedUsers === 'file-only',
): Promise<LoadedConfig> {
  const loaded = await loadConfig(options);
  const warnings = checkConfig(loaded.config, formats, listedUsers, {
    origins: loaded.origins,
    htpasswdLines,
  });
  return warnings.length === 0
    ? loaded
    : { ...loaded, warnings: [...loaded.warnings, ...warnings] };
}

/** What a configuration check knows beyond the configuration (checkConfig). */
export interface CheckOptions {
  /**
   * Where the values came from (the loader's): a warning names a setting's NORA_* variable only
   * when the variable set it. Unknown: the setting alone.
   */
  readonly origins?: KeyOrigins | undefined;
  /**
   * Warn about each htpasswd line the server will skip (an MD5 `$apr1$` line), in the server's
   * words (describeHtpasswdProblem). Default: with `file-only`, where nothing else reads the file
   * (`nora config check`); not for the server, which logs them on every read, nor `nora token`,
   * whose identity reads the file and warns itself.
   */
  readonly htpasswdLines?: boolean | undefined;
}

/**
 * The checks of a schema-valid configuration that need the formats: the repository set (default
 * repositories of every format plus the named ones: unique names, group members that exist and
 * match), and `[[auth.rules]]` that name repositories which exist. Throws ConfigError; returns
 * warnings (a rule's group that `[auth.groups]` does not define: it may come from an identity
 * provider; a rule granting write without read, `ruleWarnings`; a rule another rule makes
 * redundant, `shadowedByRules`; a rule naming only some users over everything, which locks
 * everyone else out, `ownershipLockouts`; a rule granting write to a read-only user,
 * `readOnlyUserGrants`; a rule that shuts a group's proxies out, `proxiesShutOut`; an anonymous
 * rule on some crates of a Cargo repository closed to anonymous reads, `cargoAnonymousRules`; a
 * retention rule matching no hosted repository of its registry, `rulesMatchingNothing`).
 */
export function checkConfig(
  config: AppConfig,
  formats: readonly FormatModule[] = FORMATS,
  listedUsers: ListedUserCheck = 'file-only',
  options: CheckOptions = {},
): string[] {
  const { origins, htpasswdLines = listedUsers === 'file-only' } = options;
  const registry = checkedRegistry(config, formats);
  // Read once for the checks (its existence, its skipped lines, the names the lists give).
  const htpasswd = config.auth.enabled ? readHtpasswdNames(config.auth.htpasswd_file) : undefined;
  return [
    ...checkRuleNames(
      config,
      registry.all().map((repo) => repo.name),
    ),
    ...checkHtpasswdFile(config, htpasswd, origins),
    // The lines the server will skip: before, only its log said so (trial 19 authx F10).
    ...(htpasswdLines && htpasswd !== undefined && 'users' in htpasswd
      ? htpasswd.problems.map(describeHtpasswdProblem)
      : []),
    ...unusedWithAuthOff(config, origins),
    ...(listedUsers === 'file-only' && htpasswd !== undefined && 'users' in htpasswd
      ? listedNonUsers(config, htpasswd.users, undefined, origins)
      : []),
    ...ruleWarnings(config.auth.rules),
    ...curationWarnings(config.curation),
    ...shadowedByRules(config.auth.rules),
    // With auth off rules decide nothing: "nobody keeps the role defaults" would be false
    // (trial 19 authx F10); unusedWithAuthOff says the rules wait for auth.
    ...(config.auth.enabled
      ? ownershipLockouts(config.auth.rules, { anonymousRead: config.auth.anonymous_read })
      : []),
    ...readOnlyUserGrants(config.auth),
    ...proxiesShutOut(config, registry),
    ...exposureWarnings(config.auth, origins),
    ...cargoAnonymousRules(config, registry),
    ...rulesMatchingNothing(config.retention.rules, registry.all()),
  ];
}

/**
 * The repository set of `config` (default repositories of every format plus the named ones).
 * Throws ConfigError when it is invalid.
 */
function checkedRegistry(config: AppConfig, formats: readonly FormatModule[]): RepositoryRegistry {
  try {
    return RepositoryRegistry.build(defaultRepositories(formats, config), config.repositories);
  } catch (err) {
    if (err instanceof RepositoryConfigError) {
      throw new ConfigError(`invalid configuration:\n  repositories: ${err.message}`);
    }
    throw err;
  }
}

/**
 * With auth off, `[auth]` user lists and rules are kept but decide nothing: anyone may read and
 * write. Said once, naming what is set, so an operator who configured a read-only user does not
 * take it for applied (trial 18 authx F14); the rule warnings that follow describe what they
 * will do once auth is on (not the ownership trap, which is about access taken now). That anyone
 * may read and write is not repeated here: the server logs it at start ("authentication is
 * disabled: …"), and start-up said it twice (trial 19 authx F10).
 */
function unusedWithAuthOff(config: AppConfig, origins: KeyOrigins | undefined): string[] {
  if (config.auth.enabled) return [];
  // Every setting that would close or open something once auth is on: `anonymous_read = false`
  // above all reads as "the server is closed" (trial 19 authx F10).
  // Each named with its variable when one set it, as `enabled` is (trial 21 authx F3).
  const from = (key: string) => originNote(origins, `auth.${key}`);
  const set = [
    ...(config.auth.read_only_users.length > 0
      ? [`read_only_users${from('read_only_users')}`]
      : []),
    ...(config.auth.admin_users.length > 0 ? [`admin_users${from('admin_users')}`] : []),
    ...(!config.auth.anonymous_read ? [`anonymous_read = false${from('anonymous_read')}`] : []),
    ...(!config.auth.public_metrics ? [`public_metrics = false${from('public_metrics')}`] : []),
    ...(config.auth.allow_registration ? [`allow_registration${from('allow_registration')}`] : []),
    ...(Object.keys(config.auth.groups).length > 0 ? ['[auth.groups]'] : []),
    ...(config.auth.rules.length > 0 ? ['[[auth.rules]]'] : []),
  ];
  if (set.length === 0) return [];
  return [
    `[auth] enabled = false${originNote(origins, 'auth.enabled')}: ${set.join(', ')} ${set.length === 1 ? 'has' : 'have'} no effect until it is true`,
  ];
}

/**
 * With auth on, a missing or unreadable `[auth] htpasswd_file` (a typo, most often) is said at
 * once: the server would start and answer every password login 401. Not with auth off, where
 * nobody needs the file.
 */
function checkHtpasswdFile(
  config: AppConfig,
  read: HtpasswdNames | undefined,
  origins: KeyOrigins | undefined,
): string[] {
  if (read === undefined || 'users' in read) return [];
  const file = path.resolve(config.auth.htpasswd_file);
  // "the file" between the key and the path: `htpasswd_file: "…"` reads as a secret pair to the
  // log's redaction (core/redact.ts), which logged the path as [redacted].
  const where = `[auth] htpasswd_file${originNote(origins, 'auth.htpasswd_file')}: the file "${file}" ${read.problem}`;
  // A SIGHUP runs this check too: a running server keeps the users it read last (htpasswd.ts).
  const running =
    'a running server reloaded (SIGHUP) onto this path keeps the htpasswd users it read last, and their API tokens, until the file can be read';
  return [
    config.auth.allow_registration
      ? `${where}: at a start users come only from the metadata store (npm adduser) until it exists; ${running}`
      : `${where}: with [auth] allow_registration = false, at a start nobody can log in with a password until it exists, except users already in the metadata store (npm adduser), whose API tokens still work, as OIDC identities do; API tokens of htpasswd users are refused until then; ${running}`,
  ];
}

/**
 * The user names of an htpasswd file and the lines the server skips, or why it cannot be read
 * (`does not exist`, …).
 */
type HtpasswdNames =
  | { readonly users: readonly string[]; readonly problems: readonly HtpasswdProblem[] }
  | { readonly problem: string };

/** Reads the htpasswd file once for a configuration check (checkHtpasswdFile, listedNonUsers). */
function readHtpasswdNames(htpasswdFile: string): HtpasswdNames {
  const file = path.resolve(htpasswdFile);
  try {
    if (!statSync(file).isFile()) return { problem: 'is not a file' };
    const parsed = parseHtpasswd(readFileSync(file, 'utf8'));
    return { users: [...parsed.users.keys()], problems: parsed.problems };
  } catch (err) {
    const code = errnoCode(err);
    return {
      problem: code === 'ENOENT' ? 'does not exist' : `cannot be read (${code ?? String(err)})`,
    };
  }
}

/**
 * How a check treats names in `[auth]` lists that are no user of the htpasswd file:
 * `file-only`, warned as unknown to the file, the metadata store not being open (`nora config
 * check`, the offline commands); `later`, left to the running server, which looks in its store
 * too (NoraApp.listedUserWarnings: start-up and SIGHUP).
 */
export type ListedUserCheck = 'file-only' | 'later';

/**
 * Where a user name is written in `[auth]`: its lists, each rule's `users` and every
 * `[auth.groups]` member list (a typo there makes the rule own the path for nobody, taking it
 * from everyone: trial 18 F9), each with the name a warning gives it (a list's variable only
 * when it set the list: originNote).
 */
function listedUserNames(
  auth: AppConfig['auth'],
  origins: KeyOrigins | undefined,
): (readonly [where: string, names: readonly string[]])[] {
  return [
    [`[auth] read_only_users${originNote(origins, 'auth.read_only_users')}`, auth.read_only_users],
    [`[auth] admin_users${originNote(origins, 'auth.admin_users')}`, auth.admin_users],
    ...auth.rules.map((rule, i) => [`auth.rules[${i}].users`, rule.users] as const),
    ...Object.entries(auth.groups).map(
      ([group, members]) => [`[auth.groups] ${group}`, members] as const,
    ),
  ];
}

/**
 * The names `[auth]` lists (listedUserNames) that are no user of the htpasswd file (`users`),
 * `*` aside (a rule's "any signed-in user"; the other lists refuse it, schema.ts): those the
 * metadata store may hold.
 */
export function namesOutsideHtpasswd(auth: AppConfig['auth'], users: readonly string[]): string[] {
  const names = listedUserNames(auth, undefined).flatMap(([, listed]) => listed);
  return [...new Set(names.filter((name) => name !== '*' && !users.includes(name)))];
}

/**
 * A name in `[auth] read_only_users`, `admin_users`, a rule's `users` or an `[auth.groups]`
 * member list that is no user: a typo (`carl` for `carol`, `Carol`: names are compared exactly)
 * leaves the intended user writing, or without its admin rights, and nothing said so (trial 17
 * F6). `users`: the htpasswd file's. `stored`: the names of the metadata store's users (npm
 * adduser) among them, when the store was looked in (start-up, SIGHUP): a name it holds is a
 * user, not warned (trial 18 authx F8: such a user was said to have "no effect"); one it does not
 * hold has none, and npm adduser refuses a name the configuration lists, so only the htpasswd
 * file can give it one. Undefined: the store was not opened (`nora config check`), which the
 * warning says. Warned, not refused. Only with auth on and a readable file (checkHtpasswdFile
 * speaks of a missing one). `origins`: where the lists came from (originNote).
 */
export function listedNonUsers(
  config: AppConfig,
  users: readonly string[],
  stored: ReadonlySet<string> | undefined,
  origins?: KeyOrigins,
): string[] {
  if (!config.auth.enabled) return [];
  const warnings: string[] = [];
  for (const [where, names] of listedUserNames(config.auth, origins)) {
    // Rules and groups match a principal by name, and an OIDC identity is one, `<provider>:<sub>`
    // (oidc.ts): such a name is no htpasswd or store user and still works (trial 23 authx F6).
    // admin_users and read_only_users do not reach OIDC identities: their role rules decide.
    const identities = where.startsWith('auth.rules[') || where.startsWith('[auth.groups]');
    for (const name of names) {
      if (name === '*' || users.includes(name) || stored?.has(name) === true) continue;
      const identity = oidcIdentity(config.auth.oidc, name);
      if (identity !== undefined) {
        if (identities && identity.problem === undefined) continue;
        warnings.push(
          identities
            ? `${where}: ${JSON.stringify(name)} is an identity of OIDC provider "${identity.provider}", but ${identity.problem ?? ''}: it has no effect`
            : `${where}: ${JSON.stringify(name)} is an identity of OIDC provider "${identity.provider}": it has no effect here, an OIDC identity's role is given by its provider's role_rules (a rule's users or an [auth.groups] list may name it)`,
        );
        continue;
      }
      const near = closest(name, users);
      const hint =
        near === undefined
          ? ''
          : ` (did you mean ${JSON.stringify(near)}? names are compared exactly)`;
      warnings.push(
        stored === undefined
          ? `${where}: user ${JSON.stringify(name)} is not in the htpasswd file${hint}; unless the metadata store holds a user of that name (registered through npm adduser: this check does not open the store, start-up and SIGHUP look there too), it has no effect`
          : `${where}: user ${JSON.stringify(name)} is in neither the htpasswd file nor the metadata store${hint}; it has no effect until the htpasswd file has it (npm adduser refuses a name the configuration lists)`,
      );
    }
  }
  return warnings;
}

/**
 * When `name` is in the form of an OIDC identity of a configured provider, `<provider>:<sub>`
 * (the principal name oidc.ts gives), the provider and why the identity could not sign in, if it
 * could not: OIDC off, the provider disabled, or no role rule of the provider matching `sub`.
 * Undefined when the part before the first `:` names no configured provider.
 */
function oidcIdentity(
  oidc: AppConfig['auth']['oidc'],
  name: string,
): { provider: string; problem: string | undefined } | undefined {
  const colon = name.indexOf(':');
  if (colon <= 0) return undefined;
  const provider = oidc.providers.find((p) => p.name === name.slice(0, colon));
  if (provider === undefined) return undefined;
  const sub = name.slice(colon + 1);
  const problem = !oidc.enabled
    ? 'OIDC is off ([auth.oidc] enabled = false)'
    : !provider.enabled
      ? 'the provider is disabled'
      : provider.role_rules.some((rule) => compileGlob(rule.pattern).test(sub))
        ? undefined
        : `no role rule of the provider matches sub ${JSON.stringify(sub)}, so no token of it is accepted`;
  return { provider: provider.name, problem };
}

/**
 * A rule whose `repositories` glob matches no repository protects nothing (a typo such as
 * `maven-hostd` would leave `com/priv/**` open): refused, with the nearest name. A group name
 * outside `[auth.groups]` is only warned about: OIDC identities carry groups of their own.
 */
function checkRuleNames(config: AppConfig, repositories: readonly string[]): string[] {
  const problems: string[] = [];
  const warnings: string[] = [];
  const defined = Object.keys(config.auth.groups);
  config.auth.rules.forEach((rule, i) => {
    for (const glob of rule.repositories) {
      const pattern = compileGlob(glob);
      if (repositories.some((name) => pattern.test(name))) continue;
      const near = closest(glob, repositories) ?? onlyExtension(glob, repositories);
      problems.push(
        `auth.rules[${i}].repositories: "${glob}" names no repository${near === undefined ? '' : ` (did you mean "${near}"?)`}`,
      );
    }
    for (const group of rule.groups) {
      if (defined.includes(group)) continue;
      const near = closest(group, defined);
      warnings.push(
        `auth.rules[${i}].groups: "${group}" is not a group of [auth.groups]${near === undefined ? '' : ` (did you mean "${near}"?)`}; the rule holds only for identities whose provider gives that group`,
      );
    }
  });
  if (problems.length > 0) {
    throw new ConfigError(`invalid configuration:\n  ${problems.join('\n  ')}`);
  }
  return warnings;
}

/**
 * The names of every repository `config` defines (the default repositories of each format, then
 * the named ones), as the server builds them; throws ConfigError as checkConfig does. For
 * `nora token create --scope`, which checks a scope's repository part against them.
 */
export function repositoryNames(
  config: AppConfig,
  formats: readonly FormatModule[] = FORMATS,
): string[] {
  try {
    return RepositoryRegistry.build(defaultRepositories(formats, config), config.repositories)
      .all()
      .map((repo) => repo.name);
  } catch (err) {
    if (err instanceof RepositoryConfigError) {
      throw new ConfigError(`invalid configuration:\n  repositories: ${err.message}`);
    }
    throw err;
  }
}

/**
 * The one repository named `<name>-<something>` (`raw` → `raw-hosted`), for a rule naming a
 * format where a repository of it was meant: too far for `closest` (trial 17 F8). Undefined when
 * none or several (`raw-hosted`, `raw-proxy`) are.
 */
function onlyExtension(name: string, repositories: readonly string[]): string | undefined {
  const extended = repositories.filter((repo) => repo.startsWith(`${name}-`));
  return extended.length === 1 ? extended[0] : undefined;
}

/**
 * Spool folders whose files belong to one request each (proxy fills, PyPI/Go uploads, Cargo
 * publishes): what a crash or kill left there is garbage at start. Not `uploads`: OCI upload
 * sessions outlive a restart (src/formats/oci/uploads.ts expires them).
 */
const REQUEST_SPOOLS = ['ingest', 'pypi-upload', 'go-upload', 'cargo-publish'];

/**
 * The storage driver, its request spools wiped. A local storage directory that cannot be made or
 * written (a regular file on the path, a read-only mount, a pseudo file system, no permission)
 * fails start-up with an error naming the setting, the path and the cause, not a bare errno line.
 * `database`: the metadata database file; a server that uses it with another storage refuses
 * this start (refuseSharedDatabase). `markers`: the `.nora-serve/<pid>` files this process made
 * are added to it (removed at close, and by a shutdown cut short: NoraApp.forgetMarkers).
 * `readOnly` (a dry run): the driver only, checked, with none of these writes.
 */
async function openStorage(
  storage: AppConfig['storage'],
  database: string,
  markers: string[],
  onClose: (task: () => Promise<void>) => void,
  warn: (message: string) => void,
  onLease: (lease: BucketLease) => void = () => undefined,
  readOnly = false,
): Promise<StorageDriver> {
  try {
    const driver = await createStorageDriver(storage);
    // A store NORA cannot use (unreachable, no bucket, denied) stops start-up here, naming the
    // endpoint and the bucket, instead of failing every request later.
    if (storage.mode === 's3') {
      await driver.check().catch(async (err: unknown) => {
        await driver.close();
        throw new StorageUnusableError((err as Error).message);
      });
    }
    // A dry run leaves the store as it found it: no lease, marker or spool wipe (below).
    if (readOnly) return driver;
    if (storage.mode === 's3') {
      // Another installation on this bucket would delete this one's blobs (and this one
      // theirs) at its next gc: one owner per bucket (src/storage/bucket-lease.ts).
      const where = bucketWhere(storage);
      const lease = await claimLease(driver, { localDir: storage.path, warn, where }).catch(
        async (err: unknown) => {
          await driver.close();
          throw err instanceof BucketLeaseHeldError ? new StorageUnusableError(err.message) : err;
        },
      );
      if (driver instanceof GuardedDriver) {
        driver.guardDeletes(() => {
          if (lease.lost) {
            throw new BucketLeaseHeldError(
              `refusing to delete from S3 storage ${where}: its lease (${LEASE_KEY}) was taken by another NORA installation`,
            );
          }
        });
      }
      onLease(lease);
      onClose(() => lease.release());
      // A crash (kill -9) mid-upload leaves its multipart upload in the bucket, its parts kept
      // (and billed) forever: aborted at start, then hourly (src/storage/stale-uploads.ts).
      await abortStaleUploadsOnce(driver, BLOBS_PREFIX, warn);
      const sweeps = sweepStaleUploads(driver, BLOBS_PREFIX, warn);
      onClose(() => sweeps.stop());
    }
    const servers = path.join(
      storage.mode === 'memory' ? driver.spoolDir() : path.resolve(storage.path),
      SERVING_DIR,
    );
    const others = await otherServers(servers);
    const storageId = await realPath(path.dirname(servers));
    await refuseWhileMigrating(path.dirname(servers), database, 'a server (or offline command)');
    await refuseSharedDatabase(database, storageId);
    if (others.length === 0) await wipeRequestSpools(driver.spoolDir());
    else {
      warn(
        `another NORA process (pid ${others.join(', ')}) uses this storage: the spool files were left alone (two servers on one storage are not supported; this one will fail if it shares the port too)`,
      );
    }
    // Every server names itself, also one started beside another (a rolling restart on one
    // host): once the first stops, a third start must still see the second. Best effort: a
    // storage that cannot take this file cannot take uploads either, which the write probe and
    // the uploads themselves report. The file says which storage and database (ServingMarker);
    // a database kept apart from the storage gets a marker of its own beside it, which
    // refuseSharedDatabase reads.
    const resolved = database === ':memory:' ? database : await realPath(database);
    const content = JSON.stringify({
      storage: storageId,
      database: resolved,
    } satisfies ServingMarker);
    const dirs = [servers];
    if (resolved !== ':memory:') {
      const beside = path.join(path.dirname(resolved), SERVING_DIR);
      if (beside !== servers) dirs.push(beside);
    }
    for (const dir of dirs) {
      const own = path.join(dir, String(process.pid));
      const named = await fs
        .mkdir(dir, { recursive: true })
        .then(() => fs.writeFile(own, content))
        .then(
          () => true,
          () => false,
        );
      if (named) {
        markers.push(own);
        onClose(() => fs.rm(own, { force: true }));
      }
    }
    return driver;
  } catch (err) {
    const code = errnoCode(err);
    if (storage.mode !== 'local' || code === undefined) throw err;
    const why =
      code === 'EROFS'
        ? 'it is on a read-only file system'
        : code === 'EACCES' || code === 'EPERM'
          ? 'permission denied'
          : code === 'ENOTDIR'
            ? 'a file is in the way (not a directory)'
            : code === 'ENOSPC'
              ? 'the disk is full'
              : code === 'ENOENT'
                ? 'it cannot be created there'
                : code;
    throw new StorageUnusableError(
      `storage directory ${path.resolve(storage.path)} ([storage] path, NORA_STORAGE_PATH) is not usable: ${why} (${(err as Error).message})`,
    );
  }
}

/**
 * A local storage directory that is missing while the metadata database kept elsewhere
 * (`[database] path`) already exists: NORA has run on this storage before, so its absence is an
 * unmounted volume or a wrong path, not a first start. Making it would put new uploads on the
 * mount point's disk — acknowledged, then lost from sight when the volume is mounted again —
 * while every stored artifact answers 503; so start-up stops (StorageUnusableError), saying how
 * to start with an empty storage on purpose. With the database inside the storage directory
 * (the default), both are missing together on a first start, and nothing is refused.
 */
export async function refuseMissingStorage(config: AppConfig): Promise<void> {
  if (config.storage.mode !== 'local') return;
  const storage = path.resolve(config.storage.path);
  const database = databaseFile(config);
  if (database === ':memory:') return;
  const databasePath = path.resolve(database);
  if (databasePath.startsWith(storage + path.sep)) return;
  const exists = (file: string) =>
    fs.stat(file).then(
      () => true,
      (err: unknown) => errnoCode(err) !== 'ENOENT',
    );
  if ((await exists(storage)) || !(await exists(databasePath))) return;
  throw new StorageUnusableError(
    `storage directory ${storage} ([storage] path, NORA_STORAGE_PATH) does not exist, but the metadata database ${databasePath} ([database] path) does: NORA has stored artifacts there before, so the volume may not be mounted or the path be wrong. Mount it, or fix the path; to start with an empty storage on purpose, create the directory first (mkdir -p ${storage})`,
  );
}

/**
 * The metadata database an offline command that works on an existing NORA (`nora gc`,
 * `nora verify`, `nora token list|revoke`) opens: it must exist, and so must the local storage
 * directory beside it (refuseMissingStorage). Opening a missing one would create an empty
 * database (and its folders) where the configuration points: a wrong path or an unmounted volume
 * would then read as "no tokens", "every blob unreferenced" or "every blob missing", and leave a
 * stray `nora.db` behind. Returns the database file (`:memory:` when the storage is memory, which
 * the caller decides about). Throws MissingStorageError: `no database at <absolute path>:
 * <consequence>`, or the missing-storage sentence.
 */
export async function existingDatabase(config: AppConfig, consequence: string): Promise<string> {
  const file = databaseFile(config);
  if (file === ':memory:') return file;
  const found = await fs.stat(file).then(
    () => true,
    (err: unknown) => errnoCode(err) !== 'ENOENT',
  );
  if (!found) throw new MissingStorageError(`no database at ${path.resolve(file)}: ${consequence}`);
  await refuseMissingStorage(config).catch((err: unknown) => {
    throw new MissingStorageError((err as Error).message);
  });
  return file;
}

/** An offline command found no NORA database (or storage) where the configuration points. */
export class MissingStorageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MissingStorageError';
  }
}

/** Start-up failed because the local storage directory cannot be made or written. */
export class StorageUnusableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StorageUnusableError';
  }
}

/**
 * The folder naming the processes that serve a storage, one empty file per PID, in the storage
 * directory (the spool directory for S3): a second `nora serve` started by mistake on the same
 * storage must not wipe the spool files of one running — before this, it removed `.tmp/ingest`
 * and then failed on the port, and every upload of the running server answered 503 until its
 * restart (trial ops F6).
 */
const SERVING_DIR = '.nora-serve';

/**
 * The PIDs of other live NORA processes named in `dir` (files of processes gone — a crash or
 * kill -9 — are removed).
 */
async function otherServers(dir: string): Promise<number[]> {
  const names = await fs.readdir(dir).catch(() => [] as string[]);
  const live: number[] = [];
  for (const name of names) {
    const pid = Number(name);
    if (!Number.isSafeInteger(pid) || pid <= 0 || pid === process.pid) continue;
    if (await isNoraProcess(pid)) live.push(pid);
    else await fs.rm(path.join(dir, name), { force: true }).catch(() => undefined);
  }
  return live;
}

/**
 * The PIDs of live NORA servers on the local storage directory `storage` (named in its
 * `.nora-serve/`; the files of processes gone are removed): what `nora restore` refuses to run
 * beside. Empty when there is none, or no such directory.
 */
export async function liveServers(storage: string): Promise<number[]> {
  return await otherServers(path.join(path.resolve(storage), SERVING_DIR));
}

/** `nora serve` found its database used by a NORA server with another storage (trial 25 ops F5). */
export class DatabaseInUseError extends Error {
  override readonly name = 'DatabaseInUseError';
}

/** What a `.nora-serve/<pid>` file holds (empty from builds before 2026-12-06). */
export interface ServingMarker {
  /** The storage's `.nora-serve/` parent: the local storage directory, or the spool (S3). */
  readonly storage: string;
  /** The database file, resolved. */
  readonly database: string;
  /**
   * `migrate`: a `nora migrate` copying that storage holds it (src/storage/migrate.ts); absent
   * for a server (and the offline commands that open the storage as one).
   */
  readonly command?: 'migrate';
}

/** A live process named in a `.nora-serve/`: its PID and what its marker says (if readable). */
export interface StorageHolder {
  readonly pid: number;
  readonly marker?: Partial<ServingMarker>;
}

/**
 * The live NORA processes named in `<dir>/.nora-serve/` with their markers (files of processes
 * gone are removed): liveServers with what each one is — a server, or a `nora migrate`, and on
 * which storage (a marker beside a database kept apart names the server's own storage).
 */
export async function storageHolders(dir: string): Promise<StorageHolder[]> {
  const serving = path.join(path.resolve(dir), SERVING_DIR);
  const holders: StorageHolder[] = [];
  for (const pid of await otherServers(serving)) {
    const marker = await fs
      .readFile(path.join(serving, String(pid)), 'utf8')
      .then((text) => JSON.parse(text) as Partial<ServingMarker>)
      .catch(() => undefined);
    holders.push(marker === undefined ? { pid } : { pid, marker });
  }
  return holders;
}

/**
 * `nora serve`, gc, the retention commands or restore was asked to start while a `nora migrate`
 * holds the storage or database: what it stored would never reach the migrate's target.
 */
export class MigrateRunningError extends Error {
  override readonly name = 'MigrateRunningError';
}

/**
 * Throws MigrateRunningError when a live `nora migrate` named itself in the `.nora-serve/` of
 * `storage` (a local storage directory, or the `[storage] path` of an S3 one) or beside
 * `database` (trial 28 newO F1): `what` names the refused command for the message.
 */
export async function refuseWhileMigrating(
  storage: string,
  database: string,
  what: string,
): Promise<void> {
  const dirs = [path.resolve(storage)];
  if (database !== ':memory:') {
    const beside = path.dirname(path.resolve(database));
    if (!dirs.includes(beside)) dirs.push(beside);
  }
  for (const dir of dirs) {
    const migrating = (await storageHolders(dir)).filter((h) => h.marker?.command === 'migrate');
    const first = migrating[0];
    if (first === undefined) continue;
    throw new MigrateRunningError(
      `nora migrate (pid ${migrating.map((h) => h.pid).join(', ')}) is copying the storage ${
        first.marker?.storage ?? dir
      } to another backend and holds ${dir}: ${what} would store or remove objects the copy would not carry over; wait for the migrate to end (or stop it), then start again`,
    );
  }
}

/**
 * Refuses a start on a database another live NORA server uses with another storage: both would
 * then record blobs the other's storage does not hold, and answer 410 "missing from storage" for
 * each other's files (trial 25 ops F5). Such a server is named in the `.nora-serve/` beside the
 * database (ServingMarker: same database, another storage), and holds the database open
 * (databaseInUse, the probe `nora restore` refuses with), which rules out a marker whose PID a
 * new process reused. A process holding the database that no marker names (`nora gc`,
 * `nora backup`) is no reason to refuse, nor is a server of the same storage (the caller warns).
 * Throws DatabaseInUseError naming the PIDs and what to do.
 */
async function refuseSharedDatabase(database: string, storage: string): Promise<void> {
  if (database === ':memory:') return;
  const file = await realPath(database);
  const dir = path.join(path.dirname(file), SERVING_DIR);
  const holders: number[] = [];
  for (const pid of await otherServers(dir)) {
    const marker = await fs
      .readFile(path.join(dir, String(pid)), 'utf8')
      .then((text) => JSON.parse(text) as Partial<ServingMarker>)
      .catch(() => undefined);
    if (marker?.database === file && marker.storage !== storage) holders.push(pid);
  }
  if (holders.length === 0 || !databaseInUse(file)) return;
  throw new DatabaseInUseError(
    `the database ${file} is in use by the NORA server (pid ${holders.join(', ')}) of another storage: two servers sharing a database but not a storage answer 410 for each other's files; give this one its own [database] path (NORA_DATABASE_PATH), or stop pid ${holders.join(', ')} first`,
  );
}

/**
 * `file` with its directory's symbolic links resolved (a storage reached through a link is the
 * same storage), the file itself need not exist; `path.resolve` of it when the directory does
 * not exist yet either.
 */
async function realPath(file: string): Promise<string> {
  const resolved = path.resolve(file);
  const dir = await fs.realpath(path.dirname(resolved)).catch(() => undefined);
  return dir === undefined ? resolved : path.join(dir, path.basename(resolved));
}

/** Whether `pid` is a live process that may be a NORA server. */
async function isNoraProcess(pid: number): Promise<boolean> {
  try {
    process.kill(pid, 0);
  } catch (err) {
    // EPERM: alive, another user's; ESRCH: gone.
    if (errnoCode(err) !== 'EPERM') return false;
  }
  // A PID is reused (a container's restarted server may find its old PID held by its init):
  // where the command line can be read, only a node process running NORA counts.
  const cmdline = await fs.readFile(`/proc/${pid}/cmdline`, 'latin1').catch(() => undefined);
  return cmdline === undefined || /nora|node/i.test(cmdline);
}

/** Removes the request spools and the storage driver's own temp files (`w-<uuid>`) at start. */
async function wipeRequestSpools(spoolDir: string): Promise<void> {
  for (const name of REQUEST_SPOOLS)
    await fs.rm(path.join(spoolDir, name), { recursive: true, force: true });
  const names = await fs.readdir(spoolDir).catch(() => [] as string[]);
  for (const name of names) {
    if (/^w-[0-9a-f-]{36}$/.test(name)) await fs.rm(path.join(spoolDir, name), { force: true });
  }
}

/** A timer delay that never comes in an offline command's life (setTimeout's longest). */
const NEVER_MS = 2 ** 31 - 1;

export async function buildApp(initial: AppConfig, options: BuildOptions = {}): Promise<NoraApp> {
  let config = initial;
  let curationReloadFailure: string | undefined;
  const formats = options.formats ?? FORMATS;
  // What checkConfig refuses (its warnings were the loader's to give): nothing is opened for a
  // configuration that fails. Not the htpasswd file, which identity reads below.
  checkRuleNames(
    config,
    checkedRegistry(config, formats)
      .all()
      .map((repo) => repo.name),
  );
  const closeTasks: (() => Promise<void> | void)[] = [];

  await refuseMissingStorage(config);
  // Found before the logger exists: logged once it does.
  const openingWarnings: string[] = [];
  // The `.nora-serve/<pid>` files this process made (NoraApp.forgetMarkers).
  const markers: string[] = [];
  let lease: BucketLease | undefined;
  const driver = await openStorage(
    config.storage,
    databaseFile(config),
    markers,
    (task) => closeTasks.push(task),
    (message) => openingWarnings.push(message),
    (claimed) => (lease = claimed),
    options.readOnly === true,
  );
  const writes = new WriteGeneration();
  const db = await openDatabase({
    file: databaseFile(config),
    migrations: allMigrations(formats),
    onWrite: () => {
      writes.bump();
    },
    // A data directory made read-only (a stopped server's volume mounted ro, chmod a-w): reads
    // go on, degraded, as for a database file that cannot be written (trial 25 devA F2).
    readOnlyFallback: true,
    readOnly: options.readOnly === true,
    warn: (message) => openingWarnings.push(message),
  });
  const blobs = new BlobStore(driver, new SqlBlobIndex(db));
  const repositories = RepositoryRegistry.build(
    defaultRepositories(formats, config),
    config.repositories,
  );
  // A renamed repository starts empty and the old name's files are not served: said at start
  // (trial 25 ops F4). A failing look-up is no reason to stop a start.
  const unconfigured = unconfiguredWarning(
    await unconfiguredRepositories(
      db,
      formats.flatMap((f) => (f.blobReferences ?? []).map((ref) => ref.table)),
      new Set(repositories.all().map((repo) => repo.name)),
    ).catch(() => []),
  );
  if (unconfigured !== undefined) openingWarnings.push(unconfigured);
  const memo = new AnswerMemo({
    generation: writes,
    freshSeconds: proxiedFreshness(formats, repositories, () => config),
    proxyAt: (pathname) => {
      const repo = repositoryAt(formats, repositories, pathname);
      return repo?.kind === 'proxy' ? repo.name : undefined;
    },
  });
  const metrics = new Metrics();
  const rulePathForms = Object.fromEntries(
    formats.flatMap((f) => (f.rulePath === undefined ? [] : [[f.format, f.rulePath]])),
  );
  const access = new AccessControl(
    accessPolicy(config),
    permissionsFromConfig(config, repositories, rulePathForms),
    rulePathForms,
  );
  // A group answers a path a member reserved from that member only (docs/auth.md "Semantics").
  const answering: AnsweringMembers = (group, path, members) =>
    access.answeringMembers(group, path, members);
  repositories.answerWith(answering);
  // Replaced on reload; Fastify asks it per request (client address, X-Forwarded-Proto/Host).
  let trustedProxies = new NetworkList(config.auth.trusted_proxies);
  const trusted = (address: string | undefined): boolean => trustedProxies.allows(address);
  // The client of a request the answer memo answers (before Fastify): as request.ip works it out.
  const memoClient = (req: http.IncomingMessage): string | undefined => clientAddress(req, trusted);

  const fastify = Fastify({
    // Every line is redacted on its way out (no credential in any log line).
    logger: {
      ...loggerOptions(options.logLevel ?? config.server.log_level),
      ...(options.logStream === undefined ? {} : { stream: options.logStream }),
    },
    // Our onResponse hook writes one compact access-log line per request instead.
    logController: new LogController({ disableRequestLogging: true }),
    genReqId: (request) => requestIdFrom(request.headers['x-request-id']),
    bodyLimit: config.server.body_limit_mb * MB,
    // Accept anything the formats' own parsers accept: OCI names and npm scopes need it.
    routerOptions: { maxParamLength: 8192, ignoreDuplicateSlashes: false },
    // Only these peers' X-Forwarded-* headers count (request.ip, request.protocol, request.host).
    trustProxy: trusted,
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    // A request the HTTP parser gave up on (truncated body…): a clear answer and a log line.
    clientErrorHandler: (err: Error & { code?: string }, socket) => {
      answerClientError(err, socket, fastify.log);
    },
    // A URL the router cannot decode (`/raw/a/%ZZ`): the path guard's answer, as plain text
    // every client shows, instead of Fastify's own JSON error object.
    frameworkErrors: (error, _request, reply: FastifyReply) => {
      const status = error.code === 'FST_ERR_BAD_URL' ? 400 : 500;
      const message =
        status === 400 ? 'malformed percent-encoding in request path' : 'internal server error';
      void reply
        .code(status)
        .headers(SECURITY_HEADERS)
        .type('text/plain; charset=utf-8')
        .send(`${message}\n`);
    },
    // Fastify's own HTTP/1 server, with the answer memo's look first (http/answer-memo.ts).
    serverFactory: (handler, opts) =>
      httpServer(
        opts,
        (req, res) => {
          // Which answer a parser error after it concerns (http/client-error.ts).
          trackResponse(req, res);
          // The request's audit slot (src/audit/requests.ts): what its handlers note (a proxy
          // fetch, an overwrite, a token) for the event recordAnswer makes of the request.
          // A DELETE frees space: on a full disk its writes may use the database's space
          // reserve (db/reserve.ts), so an operator can free space through NORA.
          if (req.method === 'DELETE') {
            const slot = attachSlot(req);
            freesSpace(sqliteHandleOf(db)?.reserve, () => {
              auditScope.run(slot, handler, req, res);
            });
            return;
          }
          // memoDuties is set below, before the server listens.
          if (memo.serve(req, res, memoDuties)) return;
          const slot = attachSlot(req);
          // Curation reads the client's bypass token from here (curation/context.ts).
          const bypass = req.headers[BYPASS_HEADER];
          if (typeof bypass === 'string') {
            privateBypassAnswer(res);
            curationRequest.run({ bypassToken: bypass }, () => {
              auditScope.run(slot, handler, req, res);
            });
          } else auditScope.run(slot, handler, req, res);
        },
        // Read per request: a SIGHUP reload's `body_timeout` bounds the next request's body.
        () => config.server.body_timeout * 1000,
      ),
  });
  // The WebDAV methods Maven's `dav:` deploy URLs send (wagon-webdav: MKCOL for every directory
  // before a PUT, PROPFIND to list one): known to the router, so a format's catch-all routes
  // answer them in the format's own error style (Maven: plain-text 405, which the wagon reads as
  // "the collection exists" and goes on to PUT) instead of the root's JSON 404 for an unknown
  // method (trial13 F5). Added here, before any route exists, so every scope sees the same set.
  for (const method of WEBDAV_METHODS) fastify.addHttpMethod(method, { hasBody: true });
  const log = fastify.log as unknown as Logger;
  // Forwarded headers from a peer not trusted: said once per peer, so a proxy left unlisted shows.
  const untrustedForward = new UntrustedForwardNotice(trusted, (message) => {
    log.warn(message);
  });
  for (const warning of openingWarnings) log.warn(warning);
  // Later heartbeats report to the server's log.
  lease?.logTo((message) => {
    log.warn(message);
  });
  // The audit log (src/audit/): [audit] is read at start. Closed last (close tasks run in
  // reverse), after the requests and retention passes whose events it writes.
  // A dry run makes no audit.jsonl (it records nothing: it changes nothing).
  const settings = auditSettings(config);
  const audit = AuditLog.open({
    settings: options.readOnly === true ? { ...settings, log: 'off' } : settings,
    metrics,
    log,
  });
  closeTasks.push(() => {
    audit.close();
  });
  // A database this process cannot write (a `nora.db` restored with mode 444, a read-only
  // `nora.db-shm` SQLite left beside it, a read-only mount) opens and serves reads, but every
  // upload answers 503: say so now, naming the file, and again whenever /health's probe finds
  // it newly so (it is "degraded" there).
  let databaseWritable = true;
  const probeDatabase = async (): Promise<void> => {
    try {
      await probeDatabaseWrite(db, databaseFile(config));
      databaseWritable = true;
    } catch (err) {
      if (databaseWritable) {
        databaseWritable = false;
        const detail =
          err instanceof DatabaseWriteError && err.blockerPath !== undefined
            ? `: ${err.blockerPath}`
            : '';
        log.error(
          { err },
          `the metadata database ${databaseFile(config)} cannot be written (${errnoCode(err) ?? String(err)})${detail}; every upload, delete and token change answers 503 until it can (reads go on); fix the file's owner, mode or immutable flag (lsattr), and restart when it was so at start-up`,
        );
      }
      throw err;
    }
  };
  await probeDatabase().catch(() => undefined);
  // One warning per lock a failed login sets (who, from where, how long; never a password, nor
  // a user name that names no user: it may be a password typed into the user field).
  access.lockout.onLock((event) => {
    const user = event.user === undefined ? undefined : event.user.slice(0, 128);
    const lockSeconds = Math.max(1, Math.round(event.lockMs / 1000));
    const fields = {
      lockout: event.by,
      client: event.address,
      user,
      ...(event.unknownUser === true ? { unknownUser: true } : {}),
      failures: event.failures,
      lockSeconds,
    };
    log.warn(
      fields,
      event.by === 'address'
        ? `failed logins: address ${event.address} locked for ${lockSeconds} s after ${event.failures} consecutive failures${user !== undefined ? ` (last user name tried: ${JSON.stringify(user)})` : event.unknownUser === true ? ' (last user name tried: an unknown user, name not logged)' : ''}; every request from it gets 429 until then`
        : `failed logins: ${user === undefined ? 'an unknown user (name not logged)' : `user ${JSON.stringify(user)}`} locked for ${lockSeconds} s after ${event.failures} consecutive failures (the last from ${event.address}); addresses it has logged in from before are not locked`,
    );
  });
  const rateLimiter = new RateLimiter(config.rate_limit);
  // First: a CI token is told apart by its shape and issuer, before any password hashing.
  const oidc = new OidcResolver({ config: () => config.auth.oidc, log: () => log, metrics });
  access.addResolver(oidc);
  const identity = await createIdentity(db, access, config.auth, {
    log,
    writes,
    oidcStanding: (name) => oidc.standing(name),
  });
  // Failed logins name only existing users in the log (lock warnings, access lines' userTried).
  access.setUserLookup(async (name) => (await identity.directory.account(name)) !== undefined);
  closeTasks.push(() => {
    identity.close();
  });
  const proxy = new ProxyEngine({
    db,
    blobs,
    metrics,
    log,
    circuitBreaker: () => ({
      enabled: config.circuit_breaker.enabled,
      threshold: config.circuit_breaker.threshold,
      resetTimeoutMs: config.circuit_breaker.reset_timeout * 1000,
    }),
    staleAfterMs:
      options.proxyStaleAfterMs ?? ((): number => config.circuit_breaker.stale_after * 1000),
    ...(options.proxyAddressPolicy === undefined
      ? {}
      : { addressPolicy: options.proxyAddressPolicy }),
  });
  closeTasks.push(() => proxy.close());
  const curationEnv = options.env ?? process.env;
  // First-seen times of proxied artifacts (digest quarantine, min release age): rows older than
  // 90 days are pruned here, at each start, and hourly.
  const firstSeen = new SqlFirstSeenStore(db, (err) => {
    log.warn(
      { error: err instanceof Error ? err.message : String(err) },
      'curation: could not write first-seen times (kept in memory for this process)',
    );
  });
  const pruned = await firstSeen.load(Date.now());
  const prunedOld = (count: number): void => {
    if (count > 0)
      log.info({ pruned: count }, 'curation: pruned first-seen times older than 90 days');
  };
  prunedOld(pruned);
  // Then hourly, bounded per run: the table grows with every proxied artifact.
  const prunes = startPruning(firstSeen, prunedOld, (err) => {
    log.warn({ error: (err as Error).message }, 'curation: could not prune first-seen times');
  });
  closeTasks.push(async () => {
    await prunes.stop();
    await firstSeen.flush();
  });
  const curation = new CurationEngine(
    loadPolicy(config.curation, curationEnv, false),
    metrics,
    log,
    { store: firstSeen },
  );

  const reloadTasks: ((previous: AppConfig, next: AppConfig) => void)[] = [];
  // POST /api/v1/admin/reindex: the formats' tasks, then the answer memo's kept answers.
  const reindexers = new Reindexers((err, format) => {
    log.error({ err, registry: format }, 'a reindex task failed');
  });
  reindexers.provideAlways(() => {
    memo.clear();
  });
  const context: FormatContext = {
    config: () => config,
    db,
    writes,
    blobs,
    repositories,
    access,
    identity,
    metrics,
    log,
    proxy,
    curation,
    audit,
    activity: audit.feed,
    onClose: (task) => closeTasks.push(task),
    onReload: (task) => reloadTasks.push(task),
    retention: new RetentionAdapters(),
    reindex: reindexers,
    browse: new BrowseSources(),
    uploadSessions: new UploadSessionsSlot(),
  };

  const routes: { method: string; url: string }[] = [];
  // The bypass header is judged once per request, now that the principal is known: with auth on
  // only an authenticated user may use it, and every use or refusal names who (trial 27 newC F6).
  fastify.addHook('preHandler', (request, _reply, done) => {
    const store = curationRequest.getStore();
    if (store?.bypassToken !== undefined) {
      const principal = (request as { readonly principal: Principal | null }).principal;
      curation.admitBypass(
        store,
        {
          reqId: request.id,
          user: principal?.kind === 'user' ? principal.name : 'anonymous',
          client: request.ip,
        },
        access.authEnabled ? principal?.kind === 'user' : undefined,
      );
    }
    done();
  });
  fastify.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) routes.push({ method, url: route.url });
  });
  // No route outside a format reads a body, and each format parses its own from the raw stream:
  // Fastify's default JSON/text parsers would otherwise run for every route (system routes, the
  // not-found handler, unavailable mounts) and refuse other media types before any handler runs.
  useRawBodies(fastify);

  fastify.setErrorHandler((err, request, reply) => {
    const registryError = toRegistryError(err);
    if (registryError.status >= 500) request.log.error({ err }, 'request failed');
    const { status, body } = genericErrorBody(registryError);
    dropRepresentationHeaders(reply);
    // Credentials or a path refused before routing (request hook) on a UI path: the UI's own
    // 400, 401 or 429 page.
    const ui = uiRefusal(request, reply, registryError, config.server.public_url);
    if (ui !== undefined) return ui;
    return reply
      .code(status)
      .headers(registryError.headers ?? {})
      .send(body);
  });
  fastify.setNotFoundHandler((request, reply) => {
    const under = repositoryPath(repositories, request.url);
    if (under === undefined) {
      return reply.code(404).send({ error: notFoundMessage(formats, repositories, request.url) });
    }
    // Under /repository/<name>/: answered in the protocol the path speaks (unknown-repository.ts),
    // and when no repository has the name, whoever may not read one of that name gets the
    // refusal a closed repository gives (a default repository's name is public: its 404 says
    // where it is served).
    const guess = protocolOf(under.rest, formats);
    const method = request.method;
    const action =
      method === 'GET' || method === 'HEAD' ? 'read' : method === 'DELETE' ? 'delete' : 'write';
    let error: RegistryError;
    try {
      if (!under.known) {
        access.authorize(request.principal, standIn(under.name, guess.format), action, guess.path);
      }
      error = new RegistryError('NOT_FOUND', notFoundMessage(formats, repositories, request.url));
    } catch (err) {
      error = toRegistryError(err);
    }
    const answer = errorAnswer(
      error,
      guess,
      { name: under.name, method, userAgent: request.headers['user-agent'] },
      {
        realm: `${baseUrl(request, config.server.public_url)}/v2/token`,
        service: REGISTRY_SERVICE,
      },
    );
    // Bytes: Fastify would add a charset to a string sent as `application/json` (OCI's has none).
    return reply
      .code(answer.status)
      .headers(answer.headers)
      .send(method === 'HEAD' ? undefined : Buffer.from(answer.body));
  });

  const hookOptions = {
    access,
    metrics,
    audit: new RequestAuditor(
      audit,
      auditTargeter(formats, repositories),
      (name) => repositories.get(name) !== undefined,
      // The operator's line of a damaged blob a request met: which repository and path.
      ({ blob, kept, removed, error, repository, path, method, status, reqId }) => {
        log.error(
          { blob, kept, removed, error, repository, path, method, status, reqId },
          `a stored blob failed its integrity check: its bytes do not match its digest; ${damagedFate(kept, removed)}${kept === undefined ? '' : ' under the storage directory (docs/storage.md)'}`,
        );
      },
    ),
    bodyLimitBytes: () => config.server.body_limit_mb * MB,
    registryLabel: registryLabeler(formats, repositories),
    rateLimiter,
    publicMetrics: () => config.auth.public_metrics,
    memo,
    trusted,
    untrustedForward,
  };
  const inFlight = installHooks(fastify, hookOptions);
  const memoHits = metrics.counter(
    'nora_answer_memo_hits_total',
    'GET/HEAD requests answered from the answer memo (kept small answers), before routing',
  );
  // NORA's storage operation counter; this build counts the read verifications that fail.
  const storageOperations = metrics.counter(
    'nora_storage_operations_total',
    'storage operations by outcome (operation="verify", status="integrity_fail": a stored blob read whole did not match its digest and was removed)',
    ['operation', 'status'],
  );
  blobs.observeGone((digest) => {
    log.warn(
      { blob: formatDigest(digest) },
      'a hosted artifact read found its stored blob missing: answered 410 until it is uploaded again (nora verify lists every missing blob and what refers to it)',
    );
  });
  blobs.observeReads(({ digest, removal }) => {
    storageOperations.inc({ operation: 'verify', status: 'integrity_fail' });
    const blob = formatDigest(digest);
    // In a request: its answer makes the audit event and log line, naming repository and path
    // (RequestAuditor); it waits for this removal, so `read` is complete by then.
    const read = noteDamagedRead(blob);
    removal.then(
      ({ removed, kept, keepError }) => {
        const error = keepError === undefined ? undefined : whyFailed(keepError);
        if (read !== undefined) {
          read.kept = kept;
          read.removed = removed;
          read.error = error;
          read.settled = true;
          if (keepError !== undefined)
            log.warn({ blob, err: keepError }, 'a damaged blob could not be kept in quarantine/');
          return;
        }
        log.error(
          { blob, removed, kept, error },
          `a stored blob failed its integrity check (a read outside any request): its bytes do not match its digest; ${damagedFate(kept, removed)}${kept === undefined ? '' : ' under the storage directory (docs/storage.md)'}`,
        );
        if (audit.wants('integrity-fail')) {
          audit.record({
            ts: new Date().toISOString(),
            action: 'integrity-fail',
            actor: 'system',
            artifact: blob,
            registry: 'system',
            detail: damagedDetail(blob, kept, removed),
          });
        }
      },
      (err: unknown) => {
        if (read !== undefined) read.error = whyFailed(err);
        log.error(
          { blob, err },
          'a stored blob failed its integrity check and could not be removed',
        );
      },
    );
  });
  // The audit slots of memo hits: nothing runs in a hit's scope to note anything, so every hit
  // shares one of two frozen slots (recordAnswer only reads them) instead of a new one each.
  const MEMO_SLOT: AuditSlot = Object.freeze({});
  const MEMO_PROXY_SLOT: AuditSlot = Object.freeze({ proxied: 'cache_hit' });
  // Set by proxyHit, read by answered: the memo calls both, in that order, for one hit.
  let memoProxyHit = false;
  const memoDuties: MemoHitDuties = {
    rateLimiter,
    // One clock read while no address is locked; behind a proxy, Fastify works out the client.
    mayBeLocked: (socketAddress, forwarded) =>
      access.lockout.anyAddressLocked() &&
      (forwarded || access.addressLockRefusal(socketAddress) !== undefined),
    requestId: requestIdFrom,
    proxyHit: (repository) => {
      proxy.metrics.record(repository, 'hit');
      memoProxyHit = true;
    },
    answered: (requestId, method, url, status, seconds, req) => {
      memoHits.inc();
      // Answered before Fastify's hooks: the unlisted-proxy notice is said from here too.
      untrustedForward.check(req.socket.remoteAddress, req.headers);
      // Its audit event: a pull, or a cache hit when the kept answer is a proxy's.
      attachSlot(req, memoProxyHit ? MEMO_PROXY_SLOT : MEMO_SLOT);
      memoProxyHit = false;
      const query = url.indexOf('?');
      recordAnswer(
        hookOptions,
        fastify.log,
        query === -1 ? url : url.slice(0, query),
        method,
        url,
        status,
        seconds,
        requestId,
        false,
        req,
        memoClient,
      );
    },
  };
  // Closing: what still comes gets Fastify's 503, not a kept answer.
  fastify.addHook('preClose', (done) => {
    memo.stop();
    done();
  });

  // The storage disk's room for /health: statfs, and the full disk uploads met (F10).
  const storageSpace =
    initial.storage.mode === 'local' ? new StorageSpace(initial.storage.path) : undefined;
  if (storageSpace !== undefined) {
    closeTasks.push(() => {
      storageSpace.close();
    });
  }
  registerSystemRoutes(fastify, {
    version: VERSION,
    metrics,
    storageBackend: driver.name,
    checkStorage: () => driver.check(),
    probeWrite: () => driver.probeWrite?.(BLOBS_PREFIX) ?? Promise.resolve(),
    checkDatabase: () => checkDatabase(db),
    probeDatabaseWrite: probeDatabase,
    databaseSpace: () => {
      const reserve = sqliteHandleOf(db)?.reserve;
      if (reserve === undefined) return undefined;
      // Room again (space freed outside NORA, or by gc): the reserve is made again first.
      reserve.ensure();
      return { full: reserve.full, reserve: reserve.state };
    },
    ...(storageSpace === undefined ? {} : { freeSpace: () => storageSpace.state() }),
    totalSizeBytes: () => blobs.totalSize(),
    registries: () => new Map(formats.map((f) => [f.format, isEnabled(config, f.format)])),
    upstreams: () => proxy.circuits(),
  });

  // Retention per [retention] (src/retention/scheduler.ts), over the adapters the formats
  // provided in register(): the same services their routes use.
  const retention = startRetentionScheduler({
    config: () => config,
    repositories,
    adapters: context.retention,
    metrics,
    log: () => log,
    audit,
    ...(options.offline === true
      ? { firstDelayMs: NEVER_MS }
      : options.retentionFirstDelayMs === undefined
        ? {}
        : { firstDelayMs: options.retentionFirstDelayMs }),
  });
  // Close tasks run last-pushed first: a running pass (deleting rows) ends before the database
  // and the formats' services close. Started here, before the routes are sealed, for its admin
  // endpoint; it reads the adapters the formats provide in register() at each pass.
  closeTasks.push(() => retention.stop());
  registerRetentionRoutes(fastify, retention, () => config.auth.enabled);
  registerReindexRoutes(fastify, reindexers, () => config.auth.enabled);
  registerUploadsRoutes(fastify, context.uploadSessions, () => config.auth.enabled);
  registerRepositoriesRoutes(fastify, {
    installation: await readInstallation(db),
    formats,
    isEnabled: (format) => isEnabled(config, format),
    repositories,
    access,
    authEnabled: () => config.auth.enabled,
  });

  // NORA's token API: at the root, owned by no format. The web UI's tokens page uses the same.
  const tokenApi = new TokenApi(
    identity.directory,
    identity.tokens,
    (user, address, verify) => access.checkPassword(user, address, verify),
    () => repositories.all().map((repo) => repo.name),
  );
  registerTokenRoutes(fastify, tokenApi, () => config.auth.enabled);

  // The web UI (src/ui/routes.ts): reads the browse sources the formats provide in register().
  registerUiRoutes(fastify, {
    config: () => config,
    formats,
    isEnabled: (format) => isEnabled(config, format),
    repositories,
    access,
    browse: context.browse,
    retention: context.retention,
    storageBytes: () => blobs.totalSize(),
    cacheCounters: async () => ({
      hits: await counterValue(proxy.metrics.cacheHits),
      misses: await counterValue(proxy.metrics.cacheMisses),
    }),
    activity: context.activity,
    tokens: tokenApi,
  });

  for (const format of formats) {
    await fastify.register(async (scope) => {
      if (isEnabled(config, format.format)) {
        await format.register(scope, context);
      } else {
        const message = `the ${format.format} registry is disabled (NORA_${format.format.toUpperCase()}_ENABLED=false)`;
        unavailableMount(scope, format.mount, message);
        for (const repo of repositories.byFormat(format.format).filter((r) => !r.isDefault)) {
          unavailableMount(scope, `/repository/${repo.name}`, message);
        }
      }
    });
  }
  await fastify.ready();

  // Garbage collection per [gc] (src/gc/scheduler.ts): first pass shortly after start-up, off
  // its path; stopped (a running pass awaited) before the database closes.
  const gc = startGcScheduler({
    config: () => config,
    db,
    blobs,
    formats,
    metrics,
    log: () => log,
    beforeMark: () => proxy.state.flush(),
    // A pass frees space: its index removals may use the reserve on a full disk.
    freesSpace: (work) => freesSpace(sqliteHandleOf(db)?.reserve, work),
    // Space freed: the reserve a full disk used up is made again (db/reserve.ts).
    afterPass: () => sqliteHandleOf(db)?.reserve?.ensure(),
    ...(options.offline === true ? { firstDelayMs: NEVER_MS } : {}),
  });
  closeTasks.push(() => gc.stop());

  return {
    fastify,
    context,
    routes,
    inFlight,
    forgetMarkers: () => {
      for (const marker of markers) rmSync(marker, { force: true });
    },
    closeAudit: () => {
      audit.close();
    },
    gc,
    retention,
    reindex: reindexers,
    reload(next: AppConfig): string[] {
      // Throws (RepositoryConfigError) before anything is applied when the new set is invalid.
      // A default proxy the file no longer makes (`[helm] proxies` emptied) keeps running
      // without upstreams (withRunningProxies), described, not closed as a renamed repository is.
      const nextDefaults = withRunningProxies(
        defaultRepositories(formats, next),
        repositories,
        next.repositories,
      );
      const nextRepositories = RepositoryRegistry.build(nextDefaults.defaults, next.repositories);
      const previous = config;
      const needsRestart = restartOnlyChanges(config, next);
      // Format keys whose change adds or removes a default repository (routes are mounted at
      // start): named, and kept at their running values, as `enabled`.
      const routing = routingChanges(formats, config, next, repositories);
      for (const key of [...repositories.reload(nextRepositories), ...routing]) {
        if (!needsRestart.includes(key)) needsRestart.push(key);
      }
      // Running repositories the file no longer describes (renamed, removed, another kind) keep
      // running until the restart: they keep their running `[[repositories]]` entry (its
      // anonymous_read, Maven's version_policy), and only admins may use them — the reloaded
      // rules do not describe them, and the running ones may have been edited for a reason
      // (trial 23 authx F9: the renamed repository fell back to the defaults, open to all).
      const undescribed = undescribedRepositories(repositories, nextRepositories);
      config = keepRestartOnly(config, next, routing);
      config = {
        ...config,
        repositories: [
          ...next.repositories.filter((entry) => !undescribed.has(entry.name)),
          ...previous.repositories.filter((entry) => undescribed.has(entry.name)),
        ],
      };
      // Said when applied: a reload that also reshapes the repository set applies no upstreams.
      const emptied = nextDefaults.emptied.filter(
        (name) => repositories.get(name)?.upstreams.length === 0,
      );
      if (emptied.length > 0) log.warn({ repositories: emptied }, emptiedProxiesWarning(emptied));
      if (undescribed.size > 0 && config.auth.enabled) {
        log.warn(
          { repositories: [...undescribed.keys()] },
          undescribedWarning(undescribed, repositories),
        );
      }
      // The rules were validated with the rest of the file (loadCheckedConfig): a bad rule never
      // gets here, the running ones stay.
      access.updatePolicy(
        accessPolicy(config),
        permissionsFromConfig(config, repositories, rulePathForms, undescribed),
      );
      // New rules may pick other members for a path: caches of merged answers start over.
      repositories.answerWith(answering);
      // Re-reads the htpasswd file and admins in the background; identity logs its own failures.
      void identity.reload(config.auth);
      trustedProxies = new NetworkList(config.auth.trusted_proxies);
      untrustedForward.reset();
      rateLimiter.configure(config.rate_limit);
      // Mode, lists and bypass token; a list that does not load keeps the running policy (warned),
      // mode included: the running config keeps the previous [curation] too, so the reload's log
      // line does not call a mode change applied that is not (trial 27 newC F2).
      curationReloadFailure = reloadCuration(curation, config.curation, curationEnv, log);
      if (curationReloadFailure !== undefined) config = { ...config, curation: previous.curation };
      // Kept answers were anonymous's under the old rules and repository set.
      memo.clear();
      // Child loggers are made per request from this one, so the next request logs at the new level.
      fastify.log.level = options.logLevel ?? config.server.log_level;
      // The timer was set with the old interval (86400 s by default): a pass due under the new
      // settings must not wait for it.
      if (previous.gc.enabled !== config.gc.enabled || previous.gc.interval !== config.gc.interval)
        gc.reschedule();
      if (
        previous.retention.enabled !== config.retention.enabled ||
        previous.retention.interval !== config.retention.interval
      )
        retention.reschedule();
      for (const task of reloadTasks) {
        try {
          task(previous, config);
        } catch (err) {
          log.error({ err }, 'a reload task failed');
        }
      }
      return needsRestart;
    },
    curationReloadFailure: () => curationReloadFailure,
    curationLists: () => curation.lists(),
    async listedUserWarnings(origins) {
      const running = config;
      if (!running.auth.enabled) return [];
      await identity.settled();
      // Unread (missing, unreadable): checkHtpasswdFile has said so; no users to judge by.
      if (!identity.htpasswd.readable) return [];
      const users = identity.htpasswd.names();
      const stored = new Set<string>();
      for (const name of namesOutsideHtpasswd(running.auth, users)) {
        // A store row without a password only owns an old htpasswd user's tokens: no account.
        if ((await identity.users.get(name))?.hasPassword === true) stored.add(name);
      }
      return listedNonUsers(running, users, stored, origins);
    },
    async close() {
      // A keep-alive connection that goes idle while we close would hold close() until its
      // keep-alive timeout (72 s); sweep idle connections until every in-flight request is done.
      const sweeper = setInterval(() => {
        fastify.server.closeIdleConnections();
      }, 200);
      try {
        await fastify.close();
      } finally {
        clearInterval(sweeper);
      }
      for (const task of closeTasks.reverse()) await task();
      await db.destroy();
      await driver.close();
    },
  };
}

/**
 * The HTTP/1 server Fastify would make itself (fastify/lib/server.js: the same timeouts from its
 * processed options), with `listener` in front of Fastify's handler, and request bodies that stop
 * arriving for `bodyTimeoutMs()` (the running `[server] body_timeout`, milliseconds, asked for
 * each request) answered 408 (stalledBodies).
 */
function httpServer(
  opts: Record<string, unknown>,
  listener: http.RequestListener,
  bodyTimeoutMs: () => number,
): http.Server {
  const server = createServer(
    (opts['http'] ?? {}) as http.ServerOptions,
    stalledBodies(listener, bodyTimeoutMs),
  );
  server.keepAliveTimeout = Number(opts['keepAliveTimeout'] ?? 72_000);
  server.requestTimeout = Number(opts['requestTimeout'] ?? 0);
  server.setTimeout(Number(opts['connectionTimeout'] ?? 0));
  const perSocket = Number(opts['maxRequestsPerSocket'] ?? 0);
  if (perSocket > 0) server.maxRequestsPerSocket = perSocket;
  continueOnFirstRead(server);
  return server;
}

/**
 * `listener` with an idle bound on request bodies: a request that announces a body (a length
 * or chunked) and then sends nothing for `bodyTimeoutMs()` (read as the request arrives, so a
 * reload applies to the next request) is answered 408 and its connection closed,
 * so the upload's handler sees it aborted and removes its spool file. Node's own bounds do not
 * cover this: `headersTimeout` stops at the headers, and `requestTimeout` bounds a whole request,
 * which would cut a large upload on a slow link (NORA sets it to 0). Only requests with a body
 * pay for it (a socket timeout armed for the body, disarmed at its end); a response being
 * written, or a handler waiting on an upstream, is not bounded by it.
 */
function stalledBodies(
  listener: http.RequestListener,
  bodyTimeoutMs: () => number,
): http.RequestListener {
  return (req, res) => {
    const hasBody =
      req.headers['transfer-encoding'] !== undefined ||
      (req.headers['content-length'] !== undefined && req.headers['content-length'] !== '0');
    const timeoutMs = hasBody ? bodyTimeoutMs() : 0;
    if (hasBody && timeoutMs > 0 && !req.complete) {
      // node:http emits a socket's timeout on the request while its body is incomplete (and
      // destroys the socket when nobody listens): answered here instead.
      req.setTimeout(timeoutMs, () => {
        if (req.complete) return;
        if (res.headersSent) {
          req.socket.destroy();
          return;
        }
        const body = `request body stalled: nothing received for ${timeoutMs / 1000} s ([server] body_timeout); nothing was stored\n`;
        // When the 408 is written, node:http detaches the request from its socket (it dumps
        // the unread body and drops its 'data' listeners), so the socket's close no longer
        // aborts it: the upload's pipeline would wait for ever and keep its spool file under
        // `.tmp/ingest` until the next start (trial ops F7). Destroying the request ends that
        // pipeline as a client disconnect does (premature close): its spool file is removed.
        res.on('finish', () => {
          req.destroy(
            new RequestBodyStalledError(
              `request body stalled for ${timeoutMs / 1000} s ([server] body_timeout): answered 408, upload dropped`,
            ),
          );
          req.socket.destroy();
        });
        res.writeHead(408, {
          'content-type': 'text/plain; charset=utf-8',
          'content-length': Buffer.byteLength(body),
          connection: 'close',
        });
        res.end(body);
      });
      req.once('end', () => {
        req.socket.setTimeout(0);
      });
    }
    listener(req, res);
  };
}

/**
 * Every migration the app runs (core ones aside): for any tool that opens the same database. The
 * installation id's is here, not among the core ones openDatabase always adds: a test that builds
 * an old database from a few early migrations would otherwise record it first, and its later
 * upgrade would be refused as out of order.
 */
export function allMigrations(formats: readonly FormatModule[] = FORMATS): Record<string, never> {
  return Object.assign(
    {},
    installationMigrations,
    proxyMigrations,
    authMigrations,
    firstSeenMigrations,
    ...formats.map((f) => f.migrations ?? {}),
  ) as Record<string, never>;
}

export function databaseFile(config: AppConfig): string {
  if (config.database.path !== undefined) return config.database.path;
  switch (config.storage.mode) {
    case 'memory':
      return ':memory:';
    // s3: `[storage] path` is the local directory for what stays on disk (this database and the
    // spool), as it is the storage directory in local mode.
    case 'local':
    case 's3':
      return path.join(config.storage.path, 'nora.db');
  }
}

function defaultRepositories(
  formats: readonly FormatModule[],
  config: AppConfig,
): RepositoryConfig[] {
  return formats.flatMap((f) => f.defaultRepositories(config));
}

function isEnabled(config: AppConfig, format: FormatName): boolean {
  return config[format].enabled;
}

function accessPolicy(config: AppConfig) {
  return {
    authEnabled: config.auth.enabled,
    anonymousRead: config.auth.anonymous_read,
    anonymousPullFormats: config.auth.docker_anon_pull ? ['docker'] : [],
  };
}

/**
 * `next` with the keys that only take effect on restart kept at their running values, so that
 * `context.config()` says what is running and the next reload compares with it. `routing`: more
 * `<format>.<key>` names to keep (routingChanges).
 */
function keepRestartOnly(
  running: AppConfig,
  next: AppConfig,
  routing: readonly string[] = [],
): AppConfig {
  const sections = Object.fromEntries(
    FORMAT_NAMES.map((f) => {
      const kept: Record<string, unknown> = { ...next[f], enabled: running[f].enabled };
      const was = running[f] as Record<string, unknown>;
      for (const key of routing) {
        const [format, name] = key.split('.');
        if (format === f && name !== undefined) kept[name] = was[name];
      }
      return [f, kept];
    }),
  );
  return {
    ...next,
    ...sections,
    server: { ...next.server, host: running.server.host, port: running.server.port },
    storage: running.storage,
    database: running.database,
    audit: running.audit,
  };
}

/**
 * The reload's warning about the running repositories a reloaded configuration does not describe
 * (`undescribed`: name → why, undescribedRepositories), and the running groups they close with
 * them: `running repositories that the reloaded configuration does not describe keep running,
 * with the settings they were started with, until the restart; until then only admins may use
 * them: private-raw (is not in the reloaded configuration)`.
 */
function undescribedWarning(
  undescribed: ReadonlyMap<string, string>,
  running: RepositoryRegistry,
): string {
  const listed = [...undescribed].map(([name, why]) => `${name} (${why})`).join(', ');
  const groups = running
    .all()
    .filter(
      (repo) =>
        repo.kind === 'group' &&
        !undescribed.has(repo.name) &&
        running.membersOf(repo).some((member) => undescribed.has(member.name)),
    )
    .map((repo) => repo.name);
  return (
    'running repositories that the reloaded configuration does not describe keep running, with ' +
    'the settings they were started with, until the restart; until then only admins may use ' +
    `them: ${listed}` +
    (groups.length === 0 ? '' : `; and the running groups that contain them: ${groups.join(', ')}`)
  );
}

/** Keys that only take effect on restart; reported when a reload changes them. */
function restartOnlyChanges(current: AppConfig, next: AppConfig): string[] {
  const watched: [string, unknown, unknown][] = [
    ['server.host', current.server.host, next.server.host],
    ['server.port', current.server.port, next.server.port],
    ['storage', JSON.stringify(current.storage), JSON.stringify(next.storage)],
    ['database', JSON.stringify(current.database), JSON.stringify(next.database)],
    // The audit file is opened, and its actions read, at start (src/audit/sink.ts).
    ['audit', JSON.stringify(current.audit), JSON.stringify(next.audit)],
    ...FORMAT_NAMES.map((f): [string, unknown, unknown] => [
      `${f}.enabled`,
      current[f].enabled,
      next[f].enabled,
    ]),
  ];
  return watched.filter(([, a, b]) => a !== b).map(([key]) => key);
}

/**
 * The `<format>.<key>` names (`maven.proxies`, `helm.proxies`, `docker.upstreams`) of the format
 * keys whose change alone adds, removes or reshapes a default repository (`[helm] proxies` from
 * none to some makes helm-proxy and a member of `/helm/`): repositories and their routes are
 * built at start, so such a change needs a restart. A change that keeps the shape (another
 * upstream URL) is applied live (RepositoryRegistry.reload), and so is one emptying the list of
 * a default proxy `registry` (the running repositories) runs: withRunningProxies keeps it.
 */
function routingChanges(
  formats: readonly FormatModule[],
  current: AppConfig,
  next: AppConfig,
  registry?: RepositoryRegistry,
): string[] {
  const made = (config: AppConfig) => {
    const defaults = defaultRepositories(formats, config);
    return registry === undefined
      ? defaults
      : withRunningProxies(defaults, registry, config.repositories).defaults;
  };
  const shape = (config: AppConfig) =>
    JSON.stringify(
      made(config).map((r) => [r.name, r.format, r.kind, r.members, r.write_member ?? null]),
    );
  const running = shape(current);
  const out: string[] = [];
  for (const format of FORMAT_NAMES) {
    const was = current[format] as Record<string, unknown>;
    const now = next[format] as Record<string, unknown>;
    for (const key of Object.keys(now)) {
      if (key === 'enabled' || isDeepStrictEqual(was[key], now[key])) continue;
      const trial = { ...current, [format]: { ...was, [key]: now[key] } };
      if (shape(trial) !== running) out.push(`${format}.${key}`);
    }
  }
  return out;
}

/**
 * `defaults` (the default repositories a reloaded configuration makes) with every running default
 * proxy they lack put back without upstreams, in the default groups that run it, at its place
 * (`emptied`: their names). Emptying `[helm] proxies` or `[docker] upstreams` removes the default
 * proxy at the next start; until then it runs, and the reload applies the empty list to it (a
 * group's reads of it find nothing, a miss is a 404, as a proxy whose upstreams no longer have
 * a file), rather than leaving it out of the reloaded set, where it and its group were closed to
 * all but admins as an undescribed repository (undescribedRepositories) until the restart.
 * Put back only where the default group otherwise has its running members, so nothing else of
 * the shape changes; a proxy the running server never had is not made (that needs the restart).
 */
function withRunningProxies(
  defaults: readonly RepositoryConfig[],
  running: RepositoryRegistry,
  named: readonly RepositoryConfig[],
): { defaults: RepositoryConfig[]; emptied: string[] } {
  const out = [...defaults];
  const emptied: string[] = [];
  // A `[[repositories]]` entry taking the name is another repository (that needs the restart).
  const names = new Set([...defaults, ...named].map((r) => r.name));
  for (const proxy of running.all()) {
    if (!proxy.isDefault || proxy.kind !== 'proxy' || names.has(proxy.name)) continue;
    const groups = out.flatMap((entry, index) => {
      const group = running.get(entry.name);
      if (entry.kind !== 'group' || group?.kind !== 'group' || !group.members.includes(proxy.name))
        return [];
      const without = group.members.filter((m) => m !== proxy.name);
      return isDeepStrictEqual(without, entry.members) ? [{ index, members: group.members }] : [];
    });
    if (groups.length === 0) continue;
    for (const { index, members } of groups) {
      const entry = out[index];
      if (entry !== undefined) out[index] = { ...entry, members: [...members] };
    }
    // Before its first group, where the format module puts it (the shape compares the order).
    out.splice(Math.min(...groups.map((g) => g.index)), 0, {
      name: proxy.name,
      format: proxy.format,
      kind: 'proxy',
      members: [],
      upstreams: [],
      ...(proxy.proxyTimeout === undefined ? {} : { proxy_timeout: proxy.proxyTimeout }),
      ...(proxy.metadataTtl === undefined ? {} : { metadata_ttl: proxy.metadataTtl }),
      ...(proxy.serveStale === undefined ? {} : { serve_stale: proxy.serveStale }),
    });
    emptied.push(proxy.name);
  }
  return { defaults: out, emptied };
}

/**
 * The reload's warning when it left default proxies without upstreams (withRunningProxies):
 * `… helm-proxy (…, is empty): it keeps running without upstreams until the restart, which
 * removes it; …`.
 */
function emptiedProxiesWarning(names: readonly string[]): string {
  const them = names.join(', ');
  const one = names.length === 1;
  return (
    `the reloaded configuration makes no ${them} (its format's upstream list, [docker] ` +
    'upstreams or [maven]/[helm] proxies, is empty): ' +
    `${one ? 'it keeps' : 'they keep'} running without upstreams until the restart, which ` +
    `removes ${one ? 'it; until then it asks' : 'them; until then they ask'} no upstream, and ` +
    `${one ? 'its groups answer' : 'their groups answer'} from the other members: a name only ` +
    'an upstream had is a 404'
  );
}

/**
 * The name and the rest of a `/repository/<name>/…` URL no route took (the rest raw, starting
 * with `/` or empty), and whether a repository has the name (a default one, served at its mount);
 * undefined for any other URL.
 */
function repositoryPath(
  repositories: RepositoryRegistry,
  url: string,
): { readonly name: string; readonly rest: string; readonly known: boolean } | undefined {
  if (!url.startsWith('/repository/')) return undefined;
  const after = url.slice('/repository/'.length);
  const raw = after.split(/[/?]/, 1)[0] ?? '';
  let name: string;
  try {
    name = decodeURIComponent(raw);
  } catch {
    return undefined;
  }
  if (name === '') return undefined;
  return { name, rest: after.slice(raw.length), known: repositories.get(name) !== undefined };
}

/**
 * The not-found answer's message: a `/repository/<name>/…` path whose name is no configured
 * repository says so (a typo in a client's registry URL otherwise reads as a missing package);
 * the configured names are not listed (they may not be public). Anything else: "not found".
 */
function notFoundMessage(
  formats: readonly FormatModule[],
  repositories: RepositoryRegistry,
  url: string,
): string {
  if (!url.startsWith('/repository/')) return 'not found';
  const raw = url.slice('/repository/'.length).split(/[/?]/, 1)[0] ?? '';
  let name: string;
  try {
    name = decodeURIComponent(raw);
  } catch {
    return 'not found';
  }
  if (name === '') return 'not found';
  const repo = repositories.get(name);
  if (repo === undefined) {
    return `no repository named ${JSON.stringify(name.slice(0, 100))} on this server (named repositories are served at /repository/<name>/, as [[repositories]] in the configuration names them)`;
  }
  // A format's default repository answers at its mount (`/maven2/`), not under /repository/.
  const mount = formats.find((f) => f.defaultRepository === repo.name)?.mount;
  return repo.isDefault && mount !== undefined
    ? `the repository "${repo.name}" is served at ${mount}/, not under /repository/`
    : 'not found';
}

/** Bounded metric label from a path: a format name, a configured repository, or "system". */
function registryLabeler(formats: readonly FormatModule[], repositories: RepositoryRegistry) {
  const mountOf = mountMatcher(formats);
  return (pathname: string): string => {
    if (pathname.startsWith('/repository/')) {
      const name = pathname.split('/')[2] ?? '';
      return repositories.get(name)?.name ?? 'unknown';
    }
    return mountOf(pathname)?.format.format ?? 'system';
  };
}

/**
 * The format whose mount (`/raw`, `/npm`…) `pathname` is or is under. Every answered request
 * asks it twice (metrics label, audit target): the `<mount>/` prefixes are made once here, not
 * one string per format per request.
 */
function mountMatcher(
  formats: readonly FormatModule[],
): (pathname: string) => { readonly format: FormatModule; readonly mount: string } | undefined {
  const mounts = formats.flatMap((f) =>
    [f.mount, ...(f.extraMounts ?? [])].map((mount) => ({ format: f, mount, prefix: `${mount}/` })),
  );
  return (pathname) => {
    for (const m of mounts) {
      if (pathname === m.mount || pathname.startsWith(m.prefix)) return m;
    }
    return undefined;
  };
}

/**
 * How long (seconds) an answer under `pathname` may be kept by the answer memo as far as proxied
 * metadata goes: the shortest TTL of the repository there and of its proxy members (a group's),
 * each `metadata_ttl ?? the format's default`; undefined when no proxy is involved or every TTL
 * is -1 (forever); 0 (keep nothing) for a proxy of a format that declares no TTL.
 */
function proxiedFreshness(
  formats: readonly FormatModule[],
  repositories: RepositoryRegistry,
  config: () => AppConfig,
) {
  const byFormat = new Map(formats.map((f) => [f.format, f]));
  const ttlOf = (repo: Repository, depth: number): number | undefined => {
    if (repo.kind === 'proxy') {
      const ttl =
        repo.metadataTtl ?? byFormat.get(repo.format)?.proxiedMetadataTtl?.(config()) ?? 0;
      return ttl < 0 ? undefined : ttl;
    }
    if (repo.kind !== 'group' || depth > 4) return undefined;
    let shortest: number | undefined;
    for (const name of repo.members) {
      const member = repositories.get(name);
      const ttl = member === undefined ? undefined : ttlOf(member, depth + 1);
      if (ttl !== undefined && (shortest === undefined || ttl < shortest)) shortest = ttl;
    }
    return shortest;
  };
  return (pathname: string): number | undefined => {
    const repo = repositoryAt(formats, repositories, pathname);
    return repo === undefined ? undefined : ttlOf(repo, 0);
  };
}

/** The repository a request path addresses (a named one, or a format mount's), if any. */
function repositoryAt(
  formats: readonly FormatModule[],
  repositories: RepositoryRegistry,
  pathname: string,
): Repository | undefined {
  const name = pathname.startsWith('/repository/')
    ? pathname.split('/')[2]
    : formats.find((f) => pathname === f.mount || pathname.startsWith(`${f.mount}/`))
        ?.defaultRepository;
  return name === undefined ? undefined : repositories.get(name);
}

/**
 * The repository a request path is in and the artifact path below it, for audit events
 * (src/audit/requests.ts): `/repository/<name>/<artifact>`, `<mount>/<artifact>`, or for a
 * named docker repository `/v2/<name>/<artifact>`. The artifact is the path as sent
 * (percent-encoded), without the leading `/`.
 */
function auditTargeter(
  formats: readonly FormatModule[],
  repositories: RepositoryRegistry,
): (pathname: string) => AuditTarget | undefined {
  const mountOf = mountMatcher(formats);
  return (pathname) => {
    let name: string | undefined;
    let rest: string;
    if (pathname.startsWith('/repository/')) {
      const slash = pathname.indexOf('/', 12);
      name = pathname.slice(12, slash === -1 ? undefined : slash);
      rest = slash === -1 ? '' : pathname.slice(slash + 1);
    } else {
      const mounted = mountOf(pathname);
      if (mounted === undefined) return undefined;
      name = mounted.format.defaultRepository;
      rest = pathname.slice(mounted.mount.length + 1);
      // `/v2/<repo>/<image>/…` addresses the named docker repository `<repo>` (OciService.locate):
      // the event names it, as `/repository/<repo>/…` would (trial 34: a group's push said `docker`).
      const slash = rest.indexOf('/');
      const named = slash > 0 ? repositories.get(rest.slice(0, slash)) : undefined;
      if (mounted.format.format === 'docker' && named?.format === 'docker' && !named.isDefault) {
        name = named.name;
        rest = rest.slice(slash + 1);
      }
    }
    const repo = repositories.get(name);
    if (repo === undefined) return undefined;
    return { repository: repo.name, format: repo.format, artifact: rest };
  };
}

/**
 * `[audit]` as the sink takes it: the file defaults to `audit.jsonl` in `[storage] path` (the
 * storage directory in local mode, the local data directory beside `nora.db` in s3 mode); with
 * memory storage and no `path` nothing is written to disk (`log = "file"` keeps the feed only).
 */
export function auditSettings(config: AppConfig): AuditSettings {
  const audit = config.audit;
  const inMemory = config.storage.mode === 'memory' && audit.path === undefined;
  let log = audit.log;
  if (inMemory) log = log === 'both' ? 'stdout' : log === 'file' ? 'off' : log;
  return {
    log,
    path: path.resolve(audit.path ?? path.join(config.storage.path, 'audit.jsonl')),
    maxSizeMb: audit.max_size_mb,
    keep: audit.keep,
    actions: audit.actions,
  };
}

export type { Db, StorageDriver };

/** A label-less prom-client counter's value now. */
async function counterValue(counter: {
  get(): Promise<{ values: { value: number }[] }>;
}): Promise<number> {
  return (await counter.get()).values.reduce((sum, v) => sum + v.value, 0);
}

/** An error as a log field or audit text: its errno code, else its message. */
function whyFailed(err: unknown): string {
  return errnoCode(err) ?? (err instanceof Error ? err.message : String(err));
}

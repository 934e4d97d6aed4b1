/**
 * The `nora` command line: `nora serve` (default), `nora config check [FILE]`,
 * `nora token create|list|revoke` (offline, on the configured database), `nora gc [--apply]
 * [--grace <seconds>]` and `nora verify [--remove]` (offline, on the configured storage and
 * database), `nora backup -o FILE` / `nora restore -i FILE [--force]` (src/backup/), `nora go
 * publish|delete`, `nora mirror <format>` (src/mirror/), `nora migrate --from … --to …`
 * (src/storage/migrate.ts), `nora re-pin` (src/storage/re-pin.ts), `nora migrate-docker-keys`
 * (src/formats/oci/nora-import.ts), `nora import assess|run` (src/import/), `--version`, `--help`.
 * Exit codes: 0 ok, 1 runtime failure, 2 invalid configuration or usage (unknown command or
 * option, a restore refused over data or beside a running server, a
 * migrate, re-pin --yes or migrate-docker-keys refused beside one, a KEY re-pin cannot repair).
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { allMigrations, databaseFile, loadCheckedConfig } from './app.ts';
import { addCurationCommands } from './curation/cli.ts';
import type { Role } from './auth/access.ts';
import {
  createTokenOffline,
  listTokensOffline,
  revokeTokenOffline,
  type TokenCliContext,
  TokenCommandError,
} from './auth/token-cli.ts';
import { BackupCommandError, type BackupReport, runBackup } from './backup/backup.ts';
import { RestoreCommandError, RestoreRefusedError, runRestore } from './backup/restore.ts';
import { describeConfig, maskTokensIn } from './config/describe.ts';
import { ConfigError, loadConfig, loadServerAddress } from './config/load.ts';
import { InterruptedError } from './core/interrupts.ts';
import { openDatabase } from './db/database.ts';
import { redactText } from './core/redact.ts';
import { GoDeleteError, goDelete } from './formats/go/delete-cli.ts';
import { GoPublishError, goPublish, registryOfServer } from './formats/go/publish-cli.ts';
import { GcCommandError, runGcOffline } from './gc/cli.ts';
import { localServerUrl } from './config/server-url.ts';
import { probeHealth } from './http/healthcheck-cli.ts';
import { GcFailedError, GcRefusedError } from './gc/collector.ts';
import { describeGcReport } from './gc/report.ts';
import {
  refuseApplyBesideServer,
  RetentionCommandError,
  runRetentionOffline,
} from './retention/cli.ts';
import { describeRetentionReport, type RetentionReport, reportJson } from './retention/engine.ts';
import { describeVerifyReport, runVerifyOffline, VerifyCommandError } from './gc/verify.ts';
import { addMirrorCommand } from './mirror/run.ts';
import { addImportCommand } from './import/run.ts';
import {
  MigrateCommandError,
  migrateBackend,
  MigrateRefusedError,
  type MigrateReport,
  MigrateUsageError,
  runMigrate,
} from './storage/migrate.ts';
import {
  describeNoraImport,
  NoraImportFailedError,
  NoraImportUsageError,
  runNoraImport,
} from './formats/oci/nora-import.ts';
import { OfflineWriteRefusedError } from './storage/offline-write.ts';
import { describeRePin, RePinFailedError, RePinUsageError, runRePin } from './storage/re-pin.ts';
import { overrideNotes, quietOnBrokenPipe, runServe } from './serve-command.ts';
import { VERSION } from './version.ts';

// Where they were before src/serve-command.ts (tests, scripts).
export { overriddenEdits, overrideNotes } from './serve-command.ts';

export const EXIT_RUNTIME = 1;
export const EXIT_CONFIG = 2;

/** A command-line mistake: its message is printed as is (it starts with `nora …:`), exit 2. */
class UsageError extends Error {}

export function buildProgram(): Command {
  const program = new Command('nora')
    .description(
      'NORA: one self-hosted registry for Docker/OCI, Helm, npm, PyPI, Maven, Cargo, Go and raw files',
    )
    .version(VERSION, '-V, --version')
    // Program options only before a subcommand, so `nora go publish --version v1.2.3` is the
    // subcommand's --version, not the program's.
    .enablePositionalOptions()
    .exitOverride();

  program
    .command('serve', { isDefault: true })
    .description('run the registry server (NORA_HOST:NORA_PORT, default 127.0.0.1:4000)')
    .option('-c, --config <file>', 'config file (default: NORA_CONFIG_PATH or ./config.toml)')
    // `nora <word>` lands here when <word> is no command: say that, not "too many arguments".
    .allowExcessArguments(true)
    .action(async (opts: { config?: string }, command: Command) => {
      const [word] = command.args;
      if (word !== undefined) {
        throw new UsageError(`nora: unknown command '${word}' (see nora --help)`);
      }
      await runServe(opts);
    });

  const config = program.command('config').description('configuration tools');
  config
    .command('check')
    .argument('[file]', 'config file (default: NORA_CONFIG_PATH or ./config.toml)')
    // -c as every other command takes it (a script checks, then serves, with the same flags).
    .option('-c, --config <file>', 'the same as [file]')
    .description(
      'validate a config file (with NORA_* overrides) exactly as `serve` does, and print the effective config, secrets masked',
    )
    .action(async (positional: string | undefined, opts: { config?: string }) => {
      if (positional !== undefined && opts.config !== undefined && positional !== opts.config) {
        throw new UsageError(
          `nora config check: two files given (${positional} and --config ${opts.config}); name one`,
        );
      }
      const file = positional ?? opts.config;
      const loaded = await loadCheckedConfig({
        env: process.env,
        ...(file === undefined ? {} : { file }),
      });
      // Values quoted in these lines are masked as the dump masks them (trial 25 ops F3).
      for (const warning of loaded.warnings) {
        process.stderr.write(`warning: ${redactText(maskTokensIn(warning))}\n`);
      }
      // A file value a variable overrides is not what runs, at start or on SIGHUP (trial 18
      // authx F11); the same value in both is no news.
      for (const note of overrideNotes(loaded)) {
        process.stderr.write(`note: ${redactText(maskTokensIn(note))}\n`);
      }
      process.stdout.write(
        `# effective configuration (${loaded.file ?? 'defaults + environment'})\n`,
      );
      process.stdout.write(describeConfig(loaded.config));
      process.stdout.write('\n');
    });

  addTokenCommands(program);
  addGcCommand(program);
  addRetentionCommands(program);
  addVerifyCommand(program);
  addBackupCommands(program);
  addGoCommands(program);
  addHealthcheckCommand(program);
  addMigrateCommand(program);
  addMirrorCommand(program);
  addImportCommand(program);
  addCurationCommands(program);
  addRePinCommand(program);
  addMigrateDockerKeysCommand(program);

  nameCommandsInErrors(program);
  return program;
}

/**
 * `--config` as `serve` reads it (the file, or NORA_CONFIG_PATH / ./config.toml, + NORA_*), and
 * the database it names, opened with every migration the server runs.
 */
async function tokenContext(file: string | undefined): Promise<TokenCliContext> {
  // The checks still refuse what `serve` refuses (a ConfigError stops the command), but their
  // warnings are `nora config check`'s report, not the token command's: nine lines of it (among
  // them "this check does not open the store", said by a command that has it open) buried the
  // one-line answer (trial 20 authx F6). What concerns the token's user is still said: the
  // identity reads the htpasswd file and warns about a skipped line itself (token-cli.ts).
  const loaded = await loadCheckedConfig(
    { env: process.env, ...(file === undefined ? {} : { file }) },
    undefined,
    'later',
    false,
  );
  const config = loaded.config;
  return {
    config,
    openDb: () => openDatabase({ file: databaseFile(config), migrations: allMigrations() }),
  };
}

/**
 * What removes the database at `file` and the folders made for it, if neither exists yet: a
 * token command that fails (no such user) leaves nothing behind in a place the server may not
 * even read (new-user trial).
 */
async function undoNewDatabase(file: string): Promise<() => Promise<void>> {
  const absolute = path.resolve(file);
  let firstMissing: string | undefined;
  for (let dir = absolute; ; dir = path.dirname(dir)) {
    const exists = await fs.stat(dir).then(
      () => true,
      () => false,
    );
    if (exists) break;
    firstMissing = dir;
    if (path.dirname(dir) === dir) break;
  }
  if (firstMissing === undefined) return () => Promise.resolve(); // the database exists
  const made = firstMissing;
  return async () => {
    if (made === absolute) {
      for (const suffix of ['', '-wal', '-shm'])
        await fs.rm(`${absolute}${suffix}`, { force: true });
    } else {
      await fs.rm(made, { recursive: true, force: true });
    }
  };
}

function positiveDays(value: string): number {
  const days = Number(value);
  if (!/^\d+$/.test(value) || days < 1 || days > 3650) {
    throw new InvalidArgumentError('expected a whole number of days from 1 to 3650');
  }
  return days;
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** `nora token create|list|revoke`: API tokens managed on the host (src/auth/token-cli.ts). */
function addTokenCommands(program: Command): void {
  const token = program
    .command('token')
    .description('API tokens (nra_…), managed offline on the configured database');
  const configOption = () =>
    new Option('-c, --config <file>', 'config file (default: NORA_CONFIG_PATH or ./config.toml)');
  token
    .command('create')
    .description('create a token for a user (htpasswd or metadata store); prints the secret once')
    .requiredOption('-u, --user <name>', 'the user the token acts as')
    .addOption(
      new Option('-r, --role <role>', 'what it may do')
        .choices(['read', 'write', 'admin'])
        .default('read'),
    )
    .option('--ttl-days <days>', 'expire after this many days (default: never)', positiveDays)
    .option('-d, --description <text>', 'what the token is for')
    .option(
      '-s, --scope <pattern>',
      'limit it to a resource pattern such as "team/**" or "npm:@corp/*" (repeatable)',
      collect,
      [],
    )
    .addOption(configOption())
    .action(
      async (opts: {
        user: string;
        role: Role;
        ttlDays?: number;
        description?: string;
        scope: string[];
        config?: string;
      }) => {
        const context = await tokenContext(opts.config);
        const undo = await undoNewDatabase(databaseFile(context.config));
        const created = await createTokenOffline(context, {
          user: opts.user,
          role: opts.role,
          ttlDays: opts.ttlDays,
          description: opts.description,
          scope: opts.scope,
        }).catch(async (err: unknown) => {
          await undo();
          throw err;
        });
        process.stdout.write(`${created.secret}\n`);
        // Which database: a token made in one the server does not read is useless (new-user trial).
        process.stderr.write(
          `${created.summary}\nin the database ${path.resolve(databaseFile(context.config))}\n`,
        );
      },
    );
  token
    .command('list')
    .description('list tokens (never their secrets): id, hash prefix, role, dates, description')
    .option('-u, --user <name>', "only this user's tokens")
    .addOption(configOption())
    .action(async (opts: { user?: string; config?: string }) => {
      for (const line of await listTokensOffline(await tokenContext(opts.config), opts.user)) {
        process.stdout.write(`${line}\n`);
      }
    });
  token
    .command('revoke')
    .argument('<id-or-prefix>', 'token id, or a prefix (≥ 6 characters) of its id or hash')
    .description('revoke a token')
    .addOption(configOption())
    .action(async (ref: string, opts: { config?: string }) => {
      process.stderr.write(`${await revokeTokenOffline(await tokenContext(opts.config), ref)}\n`);
    });
}

function graceSeconds(value: string): number {
  const seconds = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(seconds)) {
    throw new InvalidArgumentError('expected a whole number of seconds (0 or more)');
  }
  return seconds;
}

/** `nora gc`: one garbage-collection pass offline (src/gc/cli.ts); a dry run unless --apply. */
function addGcCommand(program: Command): void {
  program
    .command('gc')
    .description(
      'remove blobs nothing references, older than the grace period (dry run unless --apply)',
    )
    .option('--apply', 'delete them (default: only report what would go)')
    .option(
      '--grace <seconds>',
      'keep blobs stored less than this long ago (default: [gc] grace, NORA_GC_GRACE, 604800)',
      graceSeconds,
    )
    .option('-c, --config <file>', 'config file (default: NORA_CONFIG_PATH or ./config.toml)')
    .action(async (opts: { apply?: boolean; grace?: number; config?: string }) => {
      const loaded = await loadCheckedConfig({
        env: process.env,
        ...(opts.config === undefined ? {} : { file: opts.config }),
      });
      for (const warning of loaded.warnings) process.stderr.write(`warning: ${warning}\n`);
      const report = await runGcOffline(loaded.config, {
        apply: opts.apply === true,
        ...(opts.grace === undefined ? {} : { graceSeconds: opts.grace }),
      });
      for (const line of describeGcReport(report)) process.stdout.write(`${line}\n`);
    });
}

/**
 * `nora retention-plan [--json]` (what `[[retention.rules]]` would delete) and
 * `nora retention-apply --yes` (delete it), offline: src/retention/cli.ts.
 */
function addRetentionCommands(program: Command): void {
  const configOption = [
    '-c, --config <file>',
    'config file (default: NORA_CONFIG_PATH or ./config.toml)',
  ] as const;
  const load = async (file: string | undefined) => {
    const loaded = await loadCheckedConfig({
      env: process.env,
      ...(file === undefined ? {} : { file }),
    });
    for (const warning of loaded.warnings) process.stderr.write(`warning: ${warning}\n`);
    return loaded.config;
  };
  const print = (report: RetentionReport, json: boolean | undefined): void => {
    if (json === true) process.stdout.write(`${JSON.stringify(reportJson(report), null, 2)}\n`);
    else for (const line of describeRetentionReport(report)) process.stdout.write(`${line}\n`);
  };
  program
    .command('retention-plan')
    .description(
      'show what the [[retention.rules]] would delete from hosted repositories (deletes nothing)',
    )
    .option('--json', 'print the plan as JSON')
    .option(...configOption)
    .action(async (opts: { json?: boolean; config?: string }) => {
      const config = await load(opts.config);
      print(await runRetentionOffline(config, { apply: false }), opts.json);
    });
  program
    .command('retention-apply')
    .description(
      'delete what the [[retention.rules]] select from hosted repositories (needs --yes)',
    )
    .option('--yes', 'really delete (without it nothing is deleted)')
    .option('--json', 'print the report as JSON')
    .option(...configOption)
    .action(async (opts: { yes?: boolean; json?: boolean; config?: string }) => {
      const config = await load(opts.config);
      if (opts.yes !== true) {
        // A server running on the storage refuses the apply: say that first, not "pass --yes".
        await refuseApplyBesideServer(config);
        throw new UsageError(
          'nora retention-apply: nothing deleted: pass --yes to delete what `nora retention-plan` lists',
        );
      }
      const report = await runRetentionOffline(config, { apply: true });
      print(report, opts.json);
      if (report.failures.length > 0) process.exitCode = EXIT_RUNTIME;
    });
}

function concurrency(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < 1 || n > 64) {
    throw new InvalidArgumentError('expected a whole number from 1 to 64');
  }
  return n;
}

/**
 * `nora migrate --from local|s3 --to local|s3 [--to-path DIR | --to-bucket NAME] [--dry-run]
 * [--concurrency N] [--json]`: the storage copied to another backend, offline
 * (src/storage/migrate.ts). Exit 0 when every object is at the target, 1 when any failed, 2 for
 * a usage mistake or a refusal (a server running on the storage).
 */
function addMigrateCommand(program: Command): void {
  program
    .command('migrate')
    .description(
      'copy every stored object to another storage backend, verified, resumable (offline; the source is never changed)',
    )
    .requiredOption(
      '--from <backend>',
      'where the objects are: local or s3 (as [storage] configures it)',
    )
    .requiredOption('--to <backend>', 'where they go: local or s3')
    .option('--to-path <dir>', 'a local target: this directory instead of [storage] path')
    .option('--to-bucket <name>', 'an s3 target: this bucket instead of [storage] bucket')
    .option('--dry-run', 'list what would be copied; copy nothing')
    .option('--concurrency <n>', 'objects copied at once, 1 to 64', concurrency, 4)
    .option('--json', 'print the report as JSON (no line per object)')
    .option('-c, --config <file>', 'config file (default: NORA_CONFIG_PATH or ./config.toml)')
    .action(
      async (opts: {
        from: string;
        to: string;
        toPath?: string;
        toBucket?: string;
        dryRun?: boolean;
        concurrency: number;
        json?: boolean;
        config?: string;
      }) => {
        const from = migrateBackend('--from', opts.from);
        const to = migrateBackend('--to', opts.to);
        const loaded = await loadCheckedConfig({
          env: process.env,
          ...(opts.config === undefined ? {} : { file: opts.config }),
        });
        for (const warning of loaded.warnings) process.stderr.write(`warning: ${warning}\n`);
        const report = await runMigrate(loaded.config, {
          from,
          to,
          ...(opts.toPath === undefined ? {} : { toPath: opts.toPath }),
          ...(opts.toBucket === undefined ? {} : { toBucket: opts.toBucket }),
          dryRun: opts.dryRun === true,
          concurrency: opts.concurrency,
          ...(opts.json === true
            ? {}
            : {
                onObject: (event) => {
                  const line = `${event.outcome} ${event.key} (${event.size} bytes)${
                    event.error === undefined ? '' : `: ${event.error}`
                  }`;
                  if (event.outcome === 'failed') process.stderr.write(`${line}\n`);
                  else if (event.outcome !== 'skipped') process.stdout.write(`${line}\n`);
                },
              }),
        });
        if (opts.json === true) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
        else for (const line of describeMigrateReport(report)) process.stdout.write(`${line}\n`);
        if (report.failed.objects > 0) process.exitCode = EXIT_RUNTIME;
      },
    );
}

/** The text report: sides, counts and bytes, then the config change to make. */
function describeMigrateReport(report: MigrateReport): string[] {
  const tally = (t: { objects: number; bytes: number }) => `${t.objects} (${t.bytes} bytes)`;
  const lines = [`from ${report.from}`, `to   ${report.to}`];
  if (report.dryRun) {
    lines.push(
      `dry run: would copy ${tally(report.wouldCopy)}, already at the target ${tally(report.skipped)}; nothing was written`,
    );
    return lines;
  }
  lines.push(
    `copied ${tally(report.copied)}, skipped (already at the target) ${tally(report.skipped)}, failed ${tally(report.failed)}`,
  );
  if (report.failed.objects > 0) {
    lines.push(
      'some objects were not copied (listed above): fix their cause and run the same command again; what was copied is skipped',
    );
  } else if (report.configChange.length > 0) {
    lines.push(
      '',
      'every object is at the target. To serve from it, stop using the source and set:',
      '',
    );
    lines.push(...report.configChange.map((line) => (line === '' ? '' : `  ${line}`)));
    if (report.skippedUnhashed.objects > 0) {
      // The skip trusts a content-addressed name and its size (trial 28 newO F2): say what
      // was not checked, and what checks it.
      lines.push(
        '',
        `${report.skippedUnhashed.objects} of the objects skipped as already at the target were taken as the same by their digest name and size, not re-hashed: before removing the source, run \`nora verify\` with the settings above (it hashes every blob of the target; \`nora verify --remove\` then this command again replaces a damaged one).`,
      );
    }
  }
  return lines;
}

/** The configuration of an offline command, its warnings on stderr. */
async function offlineConfig(file: string | undefined) {
  const loaded = await loadCheckedConfig({
    env: process.env,
    ...(file === undefined ? {} : { file }),
  });
  for (const warning of loaded.warnings) process.stderr.write(`warning: ${warning}\n`);
  return loaded.config;
}

/**
 * `nora re-pin KEY --expected SHA256 [--file F] [--yes] [--json]` (src/storage/re-pin.ts): exit 0
 * done or nothing to do, 1 refused over data (the bytes do not match, none stored), 2 a bad KEY
 * or flag, a format it does not re-pin, --yes beside a running server.
 */
function addRePinCommand(program: Command): void {
  program
    .command('re-pin')
    .description(
      "point a stored file's name at the digest you vouch for (a hosted raw file), after checking a blob with it is stored or storing --file (dry run unless --yes)",
    )
    // KEY and --expected are checked in the action, not by commander: a missing one is then a
    // usage error like any other (exit 2), with its --json document (docs/storage.md).
    .argument('[key]', '<format>/<repository>/<path>, e.g. raw/raw-hosted/dist/app-1.0.bin')
    .option('--expected <sha256>', 'the SHA-256 the file must have (64 hex digits); required')
    .option('--file <file>', 'the right bytes: stored when they hash to --expected')
    .option('--yes', 'apply (default: only report what would change)')
    .option('--json', 'print the report as JSON')
    .option('-c, --config <file>', 'config file (default: NORA_CONFIG_PATH or ./config.toml)')
    .action(
      async (
        given: string | undefined,
        opts: { expected?: string; file?: string; yes?: boolean; json?: boolean; config?: string },
      ) => {
        const key = given ?? '';
        let report;
        try {
          if (given === undefined)
            throw new RePinUsageError('missing KEY: nora re-pin KEY --expected SHA256');
          if (opts.expected === undefined)
            throw new RePinUsageError('missing --expected SHA256 (the digest you vouch for)');
          report = await runRePin(await offlineConfig(opts.config), {
            key,
            expected: opts.expected,
            ...(opts.file === undefined ? {} : { file: opts.file }),
            apply: opts.yes === true,
          });
        } catch (err) {
          // A script reading --json parses stdout: an empty one on failure left it nothing to
          // parse. The error still goes on to runCli's handler (stderr line, exit code).
          if (opts.json === true) {
            process.stdout.write(`${JSON.stringify(rePinFailure(key, err), null, 2)}\n`);
          }
          throw err;
        }
        if (opts.json === true) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
        else for (const line of describeRePin(report)) process.stdout.write(`${line}\n`);
      },
    );
}

/**
 * `nora re-pin --json`'s document on failure: `{key, error: {kind, message}}`, kind `usage` (exit
 * 2: a bad KEY or flag, a refusal beside a running server, a bad configuration), `refused` (exit
 * 1: the bytes do not match, none stored) or `error` (exit 1: anything else). The message is the
 * stderr line's, redacted as it is.
 */
function rePinFailure(
  key: string,
  err: unknown,
): { key: string; error: { kind: 'usage' | 'refused' | 'error'; message: string } } {
  const kind =
    err instanceof RePinUsageError ||
    err instanceof OfflineWriteRefusedError ||
    err instanceof ConfigError
      ? 'usage'
      : err instanceof RePinFailedError
        ? 'refused'
        : 'error';
  const message = err instanceof Error ? err.message : String(err);
  return { key, error: { kind, message: redactText(maskTokensIn(message)) } };
}

/**
 * `nora migrate-docker-keys --from DIR [--repository NAME] [--dry-run] [--json]`: the images of a
 * NORA (Rust) storage directory brought into a hosted Docker repository, offline
 * (src/formats/oci/nora-import.ts). Exit 0 all there, 1 any image failed, 2 usage or refusal.
 */
function addMigrateDockerKeysCommand(program: Command): void {
  program
    .command('migrate-docker-keys')
    .description(
      'bring the Docker images of a NORA (Rust) storage directory (flat pre-0.9 or namespaced keys) into a hosted Docker repository, verified (offline)',
    )
    .requiredOption('--from <dir>', "NORA's storage directory (holding docker/)")
    .option('--repository <name>', 'the hosted docker repository to fill', 'docker-hosted')
    .option('--dry-run', 'list what would be brought in; write nothing')
    .option('--json', 'print the report as JSON')
    .option('-c, --config <file>', 'config file (default: NORA_CONFIG_PATH or ./config.toml)')
    .action(
      async (opts: {
        from: string;
        repository: string;
        dryRun?: boolean;
        json?: boolean;
        config?: string;
      }) => {
        const report = await runNoraImport(await offlineConfig(opts.config), {
          from: opts.from,
          repository: opts.repository,
          dryRun: opts.dryRun === true,
          ...(opts.json === true
            ? {}
            : { onLine: (line: string) => process.stdout.write(`${line}\n`) }),
        });
        if (opts.json === true) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
        else for (const line of describeNoraImport(report)) process.stdout.write(`${line}\n`);
        if (report.failed.length > 0) process.exitCode = EXIT_RUNTIME;
      },
    );
}

function addVerifyCommand(program: Command): void {
  program
    .command('verify')
    .description(
      'hash every stored blob against its digest, report damaged, unreadable and missing ones and metadata rows that disagree (exit 1 when any)',
    )
    .option('--remove', 'remove damaged blobs, so uploads and proxy fills store them again')
    .option('-c, --config <file>', 'config file (default: NORA_CONFIG_PATH or ./config.toml)')
    .action(async (opts: { remove?: boolean; config?: string }) => {
      const loaded = await loadCheckedConfig({
        env: process.env,
        ...(opts.config === undefined ? {} : { file: opts.config }),
      });
      for (const warning of loaded.warnings) process.stderr.write(`warning: ${warning}\n`);
      const report = await runVerifyOffline(loaded.config, { remove: opts.remove === true });
      for (const line of describeVerifyReport(report)) process.stdout.write(`${line}\n`);
      // Damage is news for a cron job or a monitor, removed or not; so is a blob the metadata
      // refers to that storage does not hold, a blob that could not be read, and a check that
      // could not be made, and rows that disagree (a Helm version in both spellings).
      if (
        report.damaged.length > 0 ||
        report.unreadable.length > 0 ||
        (report.missing ?? 0) > 0 ||
        report.referencesError !== undefined ||
        (report.inconsistencies ?? []).length > 0 ||
        report.consistencyError !== undefined
      ) {
        process.exitCode = 1;
      }
    });
}

function addHealthcheckCommand(program: Command): void {
  program
    .command('healthcheck')
    .description(
      "probe a running server's /health for a container HEALTHCHECK: exit 0 healthy (or degraded), 1 otherwise",
    )
    .option('--timeout-secs <seconds>', 'give up after this long', timeoutSeconds, 5)
    .option(
      '--url <url>',
      'the server to probe (default: http://[server] host:port of the configuration, a wildcard host probed on loopback)',
    )
    .option('--ready', 'probe /ready instead (storage and database answer)')
    .option(
      '--strict',
      'a degraded server (storage or database not writable, disk full) is unhealthy (with --ready too: /health is asked as well)',
    )
    .option('-c, --config <file>', 'config file (default: NORA_CONFIG_PATH or ./config.toml)')
    .action(
      async (opts: {
        timeoutSecs: number;
        url?: string;
        ready?: boolean;
        strict?: boolean;
        config?: string;
      }) => {
        let base = opts.url;
        if (base === undefined) {
          try {
            const { config } = await loadConfig({
              env: process.env,
              ...(opts.config === undefined ? {} : { file: opts.config }),
            });
            base = localServerUrl(config.server.host, config.server.port);
          } catch (err) {
            // A file the running server refused at SIGHUP keeps it serving on the previous
            // configuration: probe the address the file still names (trial 25 ops F9).
            const fallback = await loadServerAddress({
              env: process.env,
              ...(opts.config === undefined ? {} : { file: opts.config }),
            }).catch(() => undefined);
            if (fallback === undefined) {
              // Exit 2 is reserved in Docker's HEALTHCHECK: a probe that cannot run says unhealthy.
              process.stderr.write(
                `unhealthy: cannot read the configuration: ${(err as Error).message}\n`,
              );
              process.exitCode = 1;
              return;
            }
            process.stderr.write(
              `note: the configuration does not validate (${oneLine((err as Error).message)}); probing the address its [server] host/port (or NORA_HOST/NORA_PORT) give\n`,
            );
            base = localServerUrl(fallback.host, fallback.port);
          }
        }
        const result = await probeHealth(base, {
          timeoutMs: opts.timeoutSecs * 1000,
          ready: opts.ready === true,
          strict: opts.strict === true,
        });
        (result.ok ? process.stdout : process.stderr).write(`${result.line}\n`);
        if (!result.ok) process.exitCode = 1;
      },
    );
}

/** A multi-line configuration error on the one line a health log keeps. */
function oneLine(message: string): string {
  return message
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '')
    .join('; ')
    .replaceAll(':; ', ': ');
}

/** `--timeout-secs`: a positive number of seconds, at most an hour. */
function timeoutSeconds(value: string): number {
  const seconds = Number(value);
  if (!Number.isFinite(seconds) || seconds <= 0 || seconds > 3600) {
    throw new InvalidArgumentError('a number of seconds above 0, at most 3600');
  }
  return seconds;
}

/** `nora backup` and `nora restore` (src/backup/): one tar.gz of the storage and database. */
function addBackupCommands(program: Command): void {
  const configured = async (file: string | undefined) => {
    const loaded = await loadCheckedConfig({
      env: process.env,
      ...(file === undefined ? {} : { file }),
    });
    for (const warning of loaded.warnings) process.stderr.write(`warning: ${warning}\n`);
    return loaded.config;
  };
  program
    .command('backup')
    .description(
      'write the database and every blob it references to one tar.gz (safe while the server runs)',
    )
    .requiredOption('-o, --output <file>', 'the archive to write (FILE.tar.gz), or - for stdout')
    .option(
      '--snapshot-dir <dir>',
      "where the database snapshot is made (needs the database's size free; default: beside FILE, the storage's .tmp/ for -o -)",
    )
    .option('-c, --config <file>', 'config file (default: NORA_CONFIG_PATH or ./config.toml)')
    .action(async (opts: { output: string; snapshotDir?: string; config?: string }) => {
      const report = await runBackup(await configured(opts.config), {
        output: opts.output,
        ...(opts.snapshotDir === undefined ? {} : { snapshotDir: opts.snapshotDir }),
      });
      // With -o - the archive is stdout: the summary goes to stderr.
      const out = opts.output === '-' ? process.stderr : process.stdout;
      out.write(`${describeBackup(report)}\n`);
    });
  program
    .command('restore')
    .description(
      'restore a `nora backup` archive into the configured storage and database (the server stopped)',
    )
    .requiredOption('-i, --input <file>', 'the archive to read, or - for stdin')
    .option('--force', 'restore over a storage or database that already holds data')
    .option('-c, --config <file>', 'config file (default: NORA_CONFIG_PATH or ./config.toml)')
    .action(async (opts: { input: string; force?: boolean; config?: string }) => {
      const report = await runRestore(await configured(opts.config), {
        input: opts.input,
        force: opts.force === true,
      });
      process.stdout.write(
        `nora restore: ${report.blobs} blobs, ${report.bytes} bytes, ${report.auditFiles} audit log files and the database ${report.database} restored in ${report.seconds.toFixed(3)} s (backup of ${report.metadata.created_at}, NORA ${report.metadata.nora_version})\n`,
      );
    });
}

function describeBackup(report: BackupReport): string {
  const { metadata } = report;
  const where =
    report.output === '-'
      ? 'stdout'
      : `${report.output}${report.replaced === true ? ' (replacing the archive that was there)' : ''}`;
  const size = report.archiveBytes === undefined ? '' : `, ${report.archiveBytes} bytes compressed`;
  return `nora backup: wrote ${where}: the database (${metadata.database_bytes} bytes) and ${metadata.blobs} blobs (${metadata.blob_bytes} bytes)${size}, in ${report.seconds.toFixed(3)} s`;
}

function emptyToUndefined(value: string | undefined): string | undefined {
  return value === '' ? undefined : value;
}

/**
 * `nora go publish` without --registry/NORA_GO_REGISTRY whose configuration (often another
 * program's ./config.toml in the module's directory) does not load: says which file, and how to
 * name the registry instead (then no configuration is read). Exit 2, as any configuration error.
 */
class PublishConfigError extends ConfigError {
  /** The command that failed, for its error line (`nora go publish`, `nora go delete`). */
  readonly command: string;

  constructor(cause: ConfigError, file: string | undefined, command = 'nora go publish') {
    const named = file ?? emptyToUndefined(process.env['NORA_CONFIG_PATH']) ?? 'config.toml';
    const reason = cause.message.replaceAll('\n', '\n  ');
    super(
      `no default registry: the configuration it comes from (${path.resolve(named)}, NORA_* variables) does not load:\n  ${reason}\n` +
        "name the registry with --registry http://<host>:<port>/go or NORA_GO_REGISTRY (then no configuration is read), or the NORA server's config file with --config <file>",
    );
    this.command = command;
  }
}

/**
 * The registry of a `nora go` command: `--registry`, else NORA_GO_REGISTRY (then no configuration
 * is read at all), else the `/go` of the server the configuration describes, loaded as `nora
 * token`/`gc`/`verify` load it (file + NORA_*), saying so on stderr.
 */
async function goRegistry(
  given: string | undefined,
  config: string | undefined,
  command: string,
  log: (line: string) => void,
): Promise<string> {
  const registry = given ?? emptyToUndefined(process.env['NORA_GO_REGISTRY']);
  if (registry !== undefined) return registry;
  const loaded = await loadCheckedConfig({
    env: process.env,
    ...(config === undefined ? {} : { file: config }),
  }).catch((err: unknown) => {
    throw err instanceof ConfigError ? new PublishConfigError(err, config, command) : err;
  });
  for (const warning of loaded.warnings) log(`warning: ${warning}`);
  const fromServer = registryOfServer(loaded.config.server);
  log(`registry ${fromServer} (from ${loaded.file ?? 'defaults + environment'})`);
  return fromServer;
}

/**
 * The options every `nora go` command that talks to a registry takes: `--registry`, `--token`
 * (registryOf in publish-cli.ts reads them), `-c/--config` (goRegistry's default registry).
 */
function withGoRegistryOptions(command: Command): Command {
  return command
    .option(
      '--registry <url>',
      "the Go repository URL (default: NORA_GO_REGISTRY, else the configured server's /go: [server] public_url or http://host:port/go)",
    )
    .option('--token <token>', 'API token, sent as Bearer (default: NORA_TOKEN)')
    .option(
      '-c, --config <file>',
      'config file giving the default registry (default: NORA_CONFIG_PATH or ./config.toml)',
    );
}

/**
 * `nora go publish`: builds a module zip and uploads it (src/formats/go/publish-cli.ts);
 * `nora go delete`: an admin deletes a hosted version or module (src/formats/go/delete-cli.ts).
 */
function addGoCommands(program: Command): void {
  const go = program
    .command('go')
    .description('Go modules: publish to a hosted repository, delete from it (admins)');
  withGoRegistryOptions(go.command('publish'))
    .argument('[dir]', 'the module root (holding go.mod)', '.')
    .description('build the module zip of DIR by the module zip rules and upload it to NORA')
    .option('--version <vX.Y.Z>', 'the version to publish (default: the semver tag at HEAD)')
    .option('--module <path>', 'the module path of a tree without go.mod')
    .option('--dry-run', 'build the zip and report, upload nothing')
    .option('--allow-dirty', 'publish a git checkout with uncommitted changes (else refused)')
    .option(
      '--shadow',
      "publish a module path a group's proxy has served: that group then serves only the hosted module (else refused)",
    )
    .action(
      async (
        dir: string,
        opts: {
          version?: string;
          module?: string;
          registry?: string;
          token?: string;
          dryRun?: boolean;
          allowDirty?: boolean;
          shadow?: boolean;
          config?: string;
        },
      ) => {
        const { config, ...publishOptions } = opts;
        const log = (line: string) => process.stderr.write(`${line}\n`);
        const registry =
          opts.dryRun === true
            ? opts.registry
            : await goRegistry(opts.registry, config, 'nora go publish', log);
        const result = await goPublish({ dir, ...publishOptions, registry, log });
        process.stdout.write(
          result.answer === undefined
            ? `${result.module}@${result.version}: ${result.files} files, ${result.zipSize} bytes (dry run)\n`
            : `${result.answer}\n`,
        );
      },
    );
  withGoRegistryOptions(go.command('delete'))
    .argument('<module[@version]>', 'MODULE@VERSION, or MODULE with --all')
    .description(
      'an admin deletes one hosted module version, or with --all every version of a hosted module',
    )
    .option('--all', 'delete every version of MODULE (pseudo-versions included)')
    .action(
      async (
        target: string,
        opts: { all?: boolean; registry?: string; token?: string; config?: string },
      ) => {
        const log = (line: string) => process.stderr.write(`${line}\n`);
        const registry = await goRegistry(opts.registry, opts.config, 'nora go delete', log);
        const answer = await goDelete({ target, all: opts.all, registry, token: opts.token });
        process.stdout.write(`${answer}\n`);
      },
    );
}

/**
 * Commander's own errors ("error: unknown option '--x'") do not say which command refused them;
 * each command prints them as `nora <command>: …`.
 */
function nameCommandsInErrors(command: Command, path = 'nora'): void {
  command.configureOutput({
    writeErr: (text) => process.stderr.write(text),
    outputError: (text, write) => {
      write(text.replace(/^error: /, `${path}: `));
    },
  });
  for (const sub of command.commands) nameCommandsInErrors(sub, `${path} ${sub.name()}`);
}

export async function main(argv: readonly string[]): Promise<void> {
  quietOnBrokenPipe();
  try {
    await buildProgram().parseAsync([...argv], { from: 'user' });
  } catch (err) {
    reportError(err, argv);
  }
}

/** What a failed command prints, and its exit code (src/serve-command.ts's serve path too). */
export function reportError(err: unknown, argv: readonly string[]): void {
  if (err instanceof CommanderError) {
    // A HEALTHCHECK line with a bad option is unhealthy (1): Docker reserves exit 2.
    const probe = argv.find((arg) => !arg.startsWith('-')) === 'healthcheck';
    process.exitCode = err.exitCode === 0 ? 0 : probe ? EXIT_RUNTIME : EXIT_CONFIG;
    return;
  }
  if (err instanceof GoPublishError) {
    process.stderr.write(`nora go publish: ${redactText(err.message)}\n`);
    process.exitCode = EXIT_RUNTIME;
    return;
  }
  if (err instanceof GoDeleteError) {
    process.stderr.write(`nora go delete: ${redactText(err.message)}\n`);
    process.exitCode = EXIT_RUNTIME;
    return;
  }
  if (
    err instanceof GcCommandError ||
    err instanceof GcRefusedError ||
    err instanceof GcFailedError
  ) {
    process.stderr.write(`nora gc: ${redactText(err.message)}\n`);
    process.exitCode = EXIT_RUNTIME;
    return;
  }
  if (err instanceof RetentionCommandError) {
    process.stderr.write(
      `nora ${argv.find((arg) => arg.startsWith('retention-')) ?? 'retention'}: ${redactText(err.message)}\n`,
    );
    process.exitCode = EXIT_RUNTIME;
    return;
  }
  if (err instanceof MigrateCommandError) {
    process.stderr.write(`nora migrate: ${redactText(err.message)}\n`);
    process.exitCode = EXIT_RUNTIME;
    return;
  }
  if (err instanceof MigrateUsageError || err instanceof MigrateRefusedError) {
    // Nothing was read or written: the operator's to fix (flags) or decide (stop the server).
    process.stderr.write(`nora migrate: ${redactText(err.message)}\n`);
    process.exitCode = EXIT_CONFIG;
    return;
  }
  if (err instanceof RePinFailedError || err instanceof NoraImportFailedError) {
    const command = err instanceof RePinFailedError ? 'nora re-pin' : 'nora migrate-docker-keys';
    process.stderr.write(`${command}: ${redactText(err.message)}\n`);
    process.exitCode = EXIT_RUNTIME;
    return;
  }
  if (
    err instanceof RePinUsageError ||
    err instanceof NoraImportUsageError ||
    err instanceof OfflineWriteRefusedError
  ) {
    // Nothing was written: the operator's to fix (KEY, flags) or decide (stop the server).
    const command =
      err instanceof OfflineWriteRefusedError
        ? err.command
        : err instanceof RePinUsageError
          ? 'nora re-pin'
          : 'nora migrate-docker-keys';
    process.stderr.write(`${command}: ${redactText(err.message)}\n`);
    process.exitCode = EXIT_CONFIG;
    return;
  }
  if (err instanceof VerifyCommandError) {
    process.stderr.write(`nora verify: ${redactText(err.message)}\n`);
    process.exitCode = EXIT_RUNTIME;
    return;
  }
  if (err instanceof BackupCommandError) {
    process.stderr.write(`nora backup: ${redactText(err.message)}\n`);
    process.exitCode = EXIT_RUNTIME;
    return;
  }
  if (err instanceof InterruptedError) {
    process.stderr.write(`nora ${err.command}: ${err.message}\n`);
    // 130 / 143: what a shell reports for a process its signal ended, which it would have.
    process.exitCode = err.exitCode;
    return;
  }
  if (err instanceof RestoreCommandError || err instanceof RestoreRefusedError) {
    process.stderr.write(`nora restore: ${redactText(err.message)}\n`);
    // A refusal touched nothing and is the operator's to decide (--force, stop the server).
    process.exitCode = err instanceof RestoreRefusedError ? EXIT_CONFIG : EXIT_RUNTIME;
    return;
  }
  if (err instanceof TokenCommandError) {
    process.stderr.write(`nora token: ${redactText(err.message)}\n`);
    process.exitCode = EXIT_RUNTIME;
    return;
  }
  if (err instanceof ConfigError || err instanceof UsageError) {
    const command = err instanceof PublishConfigError ? err.command : 'nora';
    process.stderr.write(
      err instanceof UsageError
        ? `${err.message}\n`
        : `${command}: ${redactText(maskTokensIn(err.message))}\n`,
    );
    process.exitCode = EXIT_CONFIG;
    return;
  }
  // A config file's syntax error quotes its line, which may hold a credential.
  process.stderr.write(`nora: ${redactText(err instanceof Error ? err.message : String(err))}\n`);
  process.exitCode = EXIT_RUNTIME;
}

if (import.meta.main) {
  await main(process.argv.slice(2));
}

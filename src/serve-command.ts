/**
 * `nora serve` without the rest of the command line. bin/nora.js runs a plain `nora`,
 * `nora serve` or `nora serve -c FILE` / `--config FILE` here, without loading src/main.ts: the
 * other commands' modules (import, mirror, backup, migrate, re-pin, go publish, curation, token,
 * healthcheck; ~60 modules, ~0.7 MB of source) and commander stay out of a server's memory
 * (docs/performance.md "Idle RSS: the serve path without the command line", 2026-12-06). Any
 * other argument list, and every error, goes through src/main.ts as before: what is printed
 * and the exit codes are the same.
 */
import { isDeepStrictEqual } from 'node:util';
import { loadCheckedConfig } from './app.ts';
import { describeOverride, type LoadedConfig, type LoadOptions } from './config/load.ts';
import { errnoCode } from './core/errors.ts';
import { startServer } from './server.ts';

/**
 * The `serve` options when `argv` is one of the plain forms the fast path takes (`[]`,
 * `['serve']`, `['serve', '-c' | '--config', FILE]` with FILE not starting with `-`), else
 * undefined (src/main.ts's commander parses it: help, unknown words, other spellings).
 */
export function plainServeOptions(argv: readonly string[]): { config?: string } | undefined {
  if (argv.length === 0) return {};
  if (argv[0] !== 'serve') return undefined;
  if (argv.length === 1) return {};
  const [, flag, file] = argv;
  if (
    argv.length === 3 &&
    (flag === '-c' || flag === '--config') &&
    file !== undefined &&
    file !== '' &&
    !file.startsWith('-')
  ) {
    return { config: file };
  }
  return undefined;
}

/** What `nora serve` runs once its options are parsed (src/main.ts's serve action too). */
export async function runServe(opts: { config?: string }): Promise<void> {
  const loadOptions: LoadOptions = {
    env: process.env,
    ...(opts.config === undefined ? {} : { file: opts.config }),
  };
  // Names in [auth] lists are judged once the server has opened its user store.
  const loaded = await loadCheckedConfig(loadOptions, undefined, 'later');
  await startServer(loaded.config, {
    // The file keys a variable overrides, as `config check` notes them: start-up said
    // nothing, and the first SIGHUP called the unchanged value "the edit" (trial 20 authx F3).
    warnings: [...loaded.warnings, ...overrideNotes(loaded)],
    origins: loaded.origins,
    reload: configReloader(loadOptions, loaded),
  });
}

/**
 * `nora serve` on the fast path: as src/main.ts's `main` would run it. An error is reported by
 * src/main.ts (loaded then), so its message and exit code are the command line's.
 */
export async function serveMain(argv: readonly string[], opts: { config?: string }): Promise<void> {
  quietOnBrokenPipe();
  try {
    await runServe(opts);
  } catch (err) {
    const { reportError } = await import('./main.ts');
    reportError(err, argv);
  }
}

/**
 * What SIGHUP runs: the configuration loaded again, from the last file the server read (at start,
 * or by a reload: a ./config.toml made after start). Once a file has been read, a reload that
 * cannot read it is an error that keeps the running configuration, never a fall back to the
 * defaults (which may turn authentication off). Before any file, a missing ./config.toml is
 * still "defaults + environment". A key edited in the file since the last load that a NORA_*
 * variable overrides is warned about (overriddenEdits): the reload keeps the variable's value.
 */
function configReloader(options: LoadOptions, first: LoadedConfig): () => Promise<LoadedConfig> {
  let file = first.file;
  let previous = first;
  return async () => {
    const loaded = await loadCheckedConfig(
      file === undefined ? options : { ...options, file },
      undefined,
      'later',
    );
    file = loaded.file ?? file;
    const edits = overriddenEdits(previous, loaded);
    previous = loaded;
    return edits.length === 0 ? loaded : { ...loaded, warnings: [...loaded.warnings, ...edits] };
  };
}

/**
 * One line per file key a NORA_* variable overrides with another value (`auth.admin_users in
 * /etc/nora/config.toml is overridden by NORA_AUTH_ADMIN_USERS: the file's ["alice"] is not
 * used`): `nora config check` notes them, start-up logs them. The same value in both is no news.
 */
export function overrideNotes(loaded: LoadedConfig): string[] {
  return (loaded.overridden ?? [])
    .filter((override) => override.differs)
    .map((override) => describeOverride(override, loaded.file));
}

/**
 * One warning per key whose value in the file changed between two loads while a NORA_* variable
 * overrides it: the edit does nothing, and the reload said nothing (trial 18 authx F11), e.g.
 * `auth.read_only_users in /etc/nora/config.toml is overridden by NORA_AUTH_READ_ONLY_USERS: the
 * file's ["carol","dave"] is not used; the edit takes effect only once the variable is unset and
 * the server restarted`.
 */
export function overriddenEdits(before: LoadedConfig, after: LoadedConfig): string[] {
  const was = new Map((before.overridden ?? []).map((o) => [o.key, o.fileValue]));
  return (after.overridden ?? [])
    .filter((o) => !isDeepStrictEqual(was.get(o.key), o.fileValue))
    .map(
      (o) =>
        `${describeOverride(o, after.file)}; the edit takes effect only once the variable is unset and the server restarted`,
    );
}

/**
 * A closed stdout (`nora config check | head -1`) ends the command quietly: the reader has what
 * it wanted. Any other stream error is still thrown.
 */
export function quietOnBrokenPipe(): void {
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (err) => {
      if (errnoCode(err) === 'EPIPE') process.exit(process.exitCode ?? 0);
      throw err;
    });
  }
}

/**
 * Runs the app on a socket: listen, graceful shutdown on SIGTERM/SIGINT (stop accepting, let
 * in-flight requests finish within `server.shutdown_timeout`), and SIGHUP reload (a bad config,
 * or a config file that is gone, keeps the running one and logs an error).
 */
import { isDeepStrictEqual } from 'node:util';
import v8 from 'node:v8';
import { buildApp, type NoraApp } from './app.ts';
import { collectNow, collectWhenIdle } from './core/idle-gc.ts';
import { ConfigError, isRecord, type KeyOrigins, type LoadedConfig } from './config/load.ts';
import { takeHeldReload } from './early-reload.ts';
import type { AppConfig } from './config/schema.ts';
import { RepositoryConfigError } from './repos/repository.ts';
import { VERSION } from './version.ts';

export interface RunningServer {
  readonly app: NoraApp;
  readonly url: string;
  stop(): Promise<void>;
}

export interface StartOptions {
  /**
   * Loads and checks the configuration again, for SIGHUP. Once a file has been read (at start or
   * by a reload) it must read that same file (a file deleted since is an error, not a fall back
   * to defaults).
   */
  readonly reload: () => Promise<LoadedConfig>;
  /** Warnings of the first load, logged once the logger exists. */
  readonly warnings?: readonly string[];
  /** Where the first load's values came from (LoadedConfig.origins), for the warnings it names. */
  readonly origins?: KeyOrigins | undefined;
}

/** Logged when the server runs with auth off: at start-up, and by a SIGHUP that turns it off. */
const AUTH_DISABLED =
  'authentication is disabled: anyone who can reach this server can read and write';

export async function startServer(
  config: AppConfig,
  options: StartOptions,
): Promise<RunningServer> {
  const warnings = options.warnings ?? [];
  const app = await buildApp(config);
  const log = app.fastify.log;

  let url: string;
  try {
    url = await app.fastify.listen({ host: config.server.host, port: config.server.port });
  } catch (err) {
    // A port in use (a second `nora serve` by mistake): let go of the storage and database
    // cleanly — the process naming itself as a server of this storage included.
    await app.close().catch(() => undefined);
    // main.ts prints the error on stderr (synchronously) while pino writes stdout asynchronously:
    // the lines logged so far go out first, so the error is the last line an operator sees.
    await flushLog(log);
    throw listenError(err, config.server.host, config.server.port);
  }
  // Said once listening: before, a start that then failed on its port printed lines of a
  // server that seemed to run ("authentication is disabled: anyone who can reach this server…")
  // next to its error.
  for (const warning of warnings) log.warn(warning);
  // Judged here, not by the configuration check: the store of registered users is open now.
  for (const warning of await listedUserWarnings(app, options.origins)) log.warn(warning);
  if (!config.auth.enabled) log.warn(AUTH_DISABLED);
  growHeapForStreaming();
  collectNow();
  // Every request, answer-memo hits included, passes the raw server's 'request' event.
  let requests = 0;
  app.fastify.server.on('request', () => {
    requests += 1;
  });
  const idleGc = collectWhenIdle({
    requests: () => requests,
    onCollect: (before, after) => {
      log.debug(
        { rss_before_mb: Math.round(before / 1e6), rss_after_mb: Math.round(after / 1e6) },
        'quiet after work: garbage collected',
      );
    },
  });
  log.info({ version: VERSION, url, storage: config.storage.mode }, 'nora listening');

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      // The running value: a reload may have changed it.
      const seconds = app.context.config().server.shutdown_timeout;
      const timer = setTimeout(() => {
        // Exiting closes their connections without an answer: their access lines, written
        // now with `"cut":"shutdown"`, are the only trace of them (which uploads were lost).
        const cut = app.inFlight.cut('shutdown');
        log.error({ cut }, `in-flight requests did not finish within ${seconds}s; exiting`);
        // close() never finished, so its removal of `.nora-serve/<pid>` did not run: a marker
        // left behind names a server that is gone, which a process reusing the PID (a new
        // container's `node`) would seem to be (trial 25 ops F6).
        try {
          app.forgetMarkers();
          // The audit events of what did finish, which close() would have written.
          app.closeAudit();
        } catch {
          // Best effort, as when it was made; the next start removes a dead process's file.
        }
        void flushLog(log).finally(() => process.exit(1));
      }, seconds * 1000);
      timer.unref();
      idleGc.stop();
      await app.close();
      clearTimeout(timer);
    })();
    return stopping;
  };

  const onSignal = (signal: NodeJS.Signals) => {
    log.info({ signal }, 'shutting down: finishing in-flight requests');
    stop().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
  const reloadConfig = (): void => {
    options
      .reload()
      .then(async (loaded) => {
        const before = app.context.config();
        const restart = app.reload(loaded.config);
        for (const warning of loaded.warnings) log.warn(warning);
        const applied = changedKeys(before, app.context.config()).filter(
          (key) => !restart.some((r) => key === r || key.startsWith(`${r}.`)),
        );
        for (const warning of await listedUserWarnings(app, loaded.origins)) log.warn(warning);
        // The reload that opens the server to anonymous writes says so, as start-up does: it
        // logged only what waits for auth (trial 20 authx F8).
        if (before.auth.enabled && !app.context.config().auth.enabled) log.warn(AUTH_DISABLED);
        // A curation list that did not load keeps the previous policy, `[curation]` included:
        // its changed keys are named as not applied (trial 27 newC F2).
        const failure = app.curationReloadFailure();
        const notApplied =
          failure === undefined
            ? []
            : changedKeys(before.curation, loaded.config.curation, 'curation');
        log.info(
          {
            applied,
            requires_restart: restart,
            ...(failure === undefined ? {} : { not_applied: notApplied }),
          },
          reloadMessage(
            applied,
            restart,
            failure === undefined ? undefined : notApplied,
            // The lists are re-read on every reload: an edit of a list file alone is applied
            // too, and the line says so with the counts in force (trial 27 newC F3).
            failure === undefined ? app.curationLists() : undefined,
          ),
        );
      })
      .catch((err: unknown) => {
        const reason =
          err instanceof ConfigError || err instanceof RepositoryConfigError
            ? err.message
            : String(err);
        log.error({ error: reason }, 'configuration reload failed, keeping previous config');
      });
  };
  process.on('SIGHUP', reloadConfig);
  if (takeHeldReload()) {
    log.info('SIGHUP received while starting: reloading the configuration now');
    reloadConfig();
  }

  return { app, url, stop };
}

/**
 * app.listedUserWarnings, or none when the store cannot be read (logged): a failed look-up must
 * not fail a start, nor make an applied reload look failed.
 */
async function listedUserWarnings(
  app: NoraApp,
  origins: KeyOrigins | undefined,
): Promise<string[]> {
  try {
    return await app.listedUserWarnings(origins);
  } catch (err) {
    app.fastify.log.warn({ err }, 'could not check the [auth] user lists against the user store');
    return [];
  }
}

/** Resolves once the lines logged so far are written (pino's `flush`; a stream without one: at once). */
function flushLog(log: unknown): Promise<void> {
  const flush = (log as { flush?: (cb: () => void) => void }).flush;
  if (typeof flush !== 'function') return Promise.resolve();
  return new Promise((resolve) => {
    flush.call(log, () => {
      resolve();
    });
  });
}

/**
 * The error `nora serve` exits with when it cannot listen: what stopped it and what to do, e.g.
 * `cannot listen on 127.0.0.1:4000: the address is already in use (another nora serve or
 * another program has it): stop that one, or choose another port ([server] port, NORA_PORT)`.
 * Other errors are returned as they are.
 */
export function listenError(err: unknown, host: string, port: number): unknown {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  const where = `cannot listen on ${host.includes(':') ? `[${host}]` : host}:${port}`;
  const fix = 'choose another port ([server] port, NORA_PORT)';
  const why =
    code === 'EADDRINUSE'
      ? `the address is already in use (another nora serve or another program has it): stop that one, or ${fix}`
      : code === 'EACCES'
        ? `permission denied (ports below 1024 need privileges): ${fix}`
        : code === 'EADDRNOTAVAIL'
          ? "the address is not one of this host's ([server] host, NORA_HOST)"
          : undefined;
  return why === undefined ? err : new Error(`${where}: ${why}`, { cause: err });
}

/**
 * The reload's log message, saying what took effect and what waits for a restart (the same lists
 * are the line's `applied` and `requires_restart` fields): `configuration reloaded: applied
 * maven.header_timeout, helm.shadow_names; needs a restart to take effect: helm.enabled`, or
 * `configuration reloaded: nothing changed`; `curationNotApplied` (the changed `[curation]` keys
 * of a reload whose curation lists did not load) adds `curation NOT applied (curation.mode): …`;
 * `curationLists` (the lists a successful reload read) adds `curation lists re-read (blocklist 3
 * rules)`.
 * Keys are `<section>.<key>` (`repositories` for a
 * change of the repository set).
 */
export function reloadMessage(
  applied: readonly string[],
  restart: readonly string[],
  curationNotApplied?: readonly string[],
  curationLists?: string,
): string {
  const parts: string[] = [];
  if (applied.length > 0) parts.push(`applied ${applied.join(', ')}`);
  if (restart.length > 0) {
    parts.push(`needs a restart to take effect: ${restart.join(', ')}`);
  }
  if (curationNotApplied !== undefined) {
    const keys = curationNotApplied.length > 0 ? ` (${curationNotApplied.join(', ')})` : '';
    parts.push(
      `curation NOT applied${keys}: a list did not load, the previous policy stays in force`,
    );
  }
  if (curationLists !== undefined) parts.push(`curation lists re-read (${curationLists})`);
  return `configuration reloaded: ${parts.length === 0 ? 'nothing changed' : parts.join('; ')}`;
}

/** Dotted keys (`server.log_level`, `repositories`) whose values differ between two configs. */
export function changedKeys(before: unknown, after: unknown, prefix = ''): string[] {
  if (isRecord(before) && isRecord(after)) {
    const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
    return keys.flatMap((key) =>
      changedKeys(before[key], after[key], prefix === '' ? key : `${prefix}.${key}`),
    );
  }
  return isDeepStrictEqual(before, after) ? [] : [prefix];
}

/** The growth factor V8's old generation limit gets after each full GC (1 + percent / 100). */
const HEAP_GROWING_PERCENT = 200;

/**
 * V8 counts the bytes allocated outside its heap since the last full GC (socket reads, file reads,
 * request bodies: every byte a registry streams) against the old generation's headroom, which its
 * own sizing keeps small for a ~30 MB heap like ours (limit ~1.5x live, 12-18 MB of headroom): a
 * cold 100 MB pull-through pull then set off 4-10 full GCs, ~40 ms of CPU each on the cores the
 * client and the upstream need. A fixed factor of 3 leaves ~60 MB of headroom: 0-1 full GC per
 * such pull, and on the OCI bench pushes went from 327 to 409 MB/s and the peak RSS of a 2 GiB
 * push + pull from 161 to 167 MB (docs/performance.md). Set once listening, so that start-up's own
 * garbage is collected at V8's pace; the full GC that follows (collectNow) sizes the limit with
 * this factor at once. A `--heap-growing-percent` given on node's command line wins.
 */
function growHeapForStreaming(): void {
  if (process.execArgv.some((arg) => arg.startsWith('--heap-growing-percent'))) return;
  v8.setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
}

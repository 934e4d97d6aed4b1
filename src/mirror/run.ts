/**
 * `nora mirror [--registry URL] [--concurrency N] [--json] [--repo NAME] <format> …` (NORA's
 * verb, reference §3.10): pulls what a lock file (or a list) names through a running server, so
 * its proxies cache it before a host goes air-gapped. Each format (MIRROR_FORMATS) plans items
 * from its input; this file runs them with bounded concurrency and reports each one.
 *
 * Credentials come from the environment only (a command line shows in `ps`): NORA_MIRROR_TOKEN
 * (an API token, sent as Bearer) or NORA_MIRROR_USER + NORA_MIRROR_PASSWORD (Basic).
 *
 * Exit codes: 0 every item fetched, 1 any item failed, 2 bad usage or input (MirrorInputError:
 * a lock file that does not parse, a missing file; credentials in --registry).
 */
import { type Command, InvalidArgumentError } from 'commander';
import { cargoFormat } from './cargo.ts';
import { createMirrorClient, errorNote, type MirrorCredentials } from './client.ts';
import { dockerFormat } from './docker.ts';
import type { MirrorFormat, MirrorPlan, MirrorSkip, RepoProbe } from './format.ts';
import { npmFormat } from './npm.ts';
import { pipFormat } from './pip.ts';
import { mavenFormat } from './maven.ts';
import { formatBytes } from './pull.ts';
import { type MirrorClient, MirrorInputError, type MirrorItem } from './types.ts';
import { yarnFormat } from './yarn.ts';

/**
 * The formats `nora mirror` knows, by subcommand name: one line each.
 * cargo, maven, docker: src/mirror/*.ts
 */
export const MIRROR_FORMATS: Record<string, MirrorFormat> = {
  npm: npmFormat,
  yarn: yarnFormat,
  pip: pipFormat,
  cargo: cargoFormat,
  maven: mavenFormat,
  docker: dockerFormat,
};

/** The reference's default: a NORA on this host's port 4000. */
export const DEFAULT_REGISTRY = 'http://localhost:4000';
const DEFAULT_CONCURRENCY = 8;
const MAX_CONCURRENCY = 64;
const DEFAULT_TIMEOUT_SECS = 120;

export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;

/** The options of `nora mirror` itself (before or after the format's name). */
interface MirrorOptions {
  readonly registry: string;
  readonly concurrency: number;
  readonly json?: boolean;
  readonly repo?: string;
  readonly timeoutSecs: number;
}

/** What happened to one item. */
export interface MirrorOutcome {
  readonly label: string;
  readonly ok: boolean;
  readonly bytes: number;
  readonly error?: string;
}

/** Registers `nora mirror` and one subcommand per entry of MIRROR_FORMATS on `program`. */
export function addMirrorCommand(program: Command): void {
  const mirror = program
    .command('mirror')
    // `nora mirror npm --lockfile x --registry URL` as well as `nora mirror --registry URL npm …`:
    // the verb's options are read wherever they stand (the program's are positional).
    .enablePositionalOptions(false)
    .description(
      'pre-fetch the packages a lock file or a list names through a running server, so its proxies cache them (air-gap preparation); credentials from NORA_MIRROR_TOKEN or NORA_MIRROR_USER + NORA_MIRROR_PASSWORD',
    )
    .option(
      '--registry <url>',
      "the running server's root URL (no credentials: see the environment variables)",
      DEFAULT_REGISTRY,
    )
    .option('--concurrency <n>', 'items fetched at once', concurrency, DEFAULT_CONCURRENCY)
    .option('--json', 'print one JSON document instead of a line per item')
    .option(
      '--repo <name>',
      "a named repository's mount (/repository/<name>/) instead of the default",
    )
    .option(
      '--timeout-secs <seconds>',
      'give up on a request whose answer (or body) is silent this long',
      timeoutSeconds,
      DEFAULT_TIMEOUT_SECS,
    );
  for (const [name, format] of Object.entries(MIRROR_FORMATS)) {
    const sub = mirror.command(name).description(format.description);
    format.options(sub);
    sub.action(async (opts: Record<string, unknown>, command: Command) => {
      const parent = command.parent?.opts<MirrorOptions>() ?? ({} as MirrorOptions);
      process.exitCode = await runMirror(name, format, opts, parent);
    });
  }
}

/** `--concurrency`: a whole number from 1 to MAX_CONCURRENCY. */
export function concurrency(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > MAX_CONCURRENCY) {
    throw new InvalidArgumentError(`a whole number from 1 to ${MAX_CONCURRENCY}`);
  }
  return n;
}

/** `--timeout-secs`: seconds above 0, at most an hour. */
export function timeoutSeconds(value: string): number {
  const seconds = Number(value);
  if (!Number.isFinite(seconds) || seconds <= 0 || seconds > 3600) {
    throw new InvalidArgumentError('a number of seconds above 0, at most 3600');
  }
  return seconds;
}

/**
 * Runs one format end to end and returns the exit code: plans (MirrorInputError → 2 with its
 * line), fetches with bounded concurrency, prints the report (or the JSON document).
 */
export async function runMirror(
  name: string,
  format: MirrorFormat,
  formatOptions: Readonly<Record<string, unknown>>,
  options: MirrorOptions,
): Promise<number> {
  const started = Date.now();
  const command = `nora mirror ${name}`;
  let client: MirrorClient;
  let plan: MirrorPlan;
  try {
    const base = registryBase(options.registry);
    // An empty value (an unset shell variable, `--repo "$REPO"`) is no repository name: said so,
    // not probed as `/repository//` (trial 27 newR F9). Maven's items are not probed either.
    if (options.repo !== undefined && options.repo.trim() === '') {
      throw new MirrorInputError(
        `--repo needs a name (it was given ${options.repo === '' ? 'an empty value' : 'only spaces'}, e.g. from an unset shell variable): name a repository (/repository/<name>/), or leave --repo out to read through ${format.probe?.mount ?? 'the default mount'}`,
      );
    }
    client = createMirrorClient(base, {
      credentials: credentialsFromEnv(process.env),
      idleTimeoutMs: options.timeoutSecs * 1000,
    });
    if (options.repo !== undefined && format.probe !== undefined) {
      await checkRepo(client, options.repo, format.probe, name);
    }
    plan = await format.plan(formatOptions, {
      client,
      repo: options.repo,
      concurrency: options.concurrency,
    });
  } catch (err) {
    if (err instanceof MirrorInputError) {
      process.stderr.write(`${command}: ${err.message}\n`);
      return EXIT_USAGE;
    }
    throw err;
  }
  const items = uniqueByLabel(plan.items);
  const json = options.json === true;
  if (!json) {
    for (const skip of plan.skipped) process.stdout.write(`skip ${skip.label}: ${skip.reason}\n`);
  }
  const outcomes = await runPool(items, client, options.concurrency, (outcome) => {
    if (!json) process.stdout.write(`${reportLine(outcome)}\n`);
  });
  const seconds = (Date.now() - started) / 1000;
  const failed = outcomes.filter((outcome) => !outcome.ok).length;
  const bytes = outcomes.reduce((sum, outcome) => sum + outcome.bytes, 0);
  if (json) {
    process.stdout.write(
      `${JSON.stringify(
        {
          format: name,
          registry: client.base,
          ok: failed === 0,
          fetched: outcomes.length - failed,
          failed,
          skipped: plan.skipped.length,
          bytes,
          seconds,
          items: outcomes,
          skips: plan.skipped,
        },
        null,
        2,
      )}\n`,
    );
  } else {
    process.stdout.write(`${summaryLine(command, outcomes, plan.skipped, client.base, seconds)}\n`);
  }
  return failed === 0 ? EXIT_OK : EXIT_FAILED;
}

/**
 * `--repo NAME` checked with one request before anything is planned (trial 26 mirrorR F2: the
 * default group's name, or a repository of another format, failed every item with a 404, exit 1):
 * GET `/repository/<name><probe.path>`. Resolves when the repository answers as the format's
 * (`probe.answers`), and also when the answer cannot tell (no answer, 401/403 with the
 * credentials given, a 5xx: the items then report it as before). A 404 is a MirrorInputError
 * (exit 2) saying what `--repo` named, from the server's own words: this format's default group
 * (served at its mount: leave `--repo` out), another format's, no repository of that name, or a
 * repository that does not answer as this format's. The server does not list its repositories
 * (their names may not be public), so the message says what to pass instead of naming them.
 */
export async function checkRepo(
  client: MirrorClient,
  repo: string,
  probe: RepoProbe,
  command: string,
): Promise<void> {
  const path = `/repository/${encodeURIComponent(repo)}${probe.path}`;
  const res = await client.get(path).catch(() => undefined);
  if (res === undefined) return;
  const answers = probe.answers ?? ((status: number) => status >= 200 && status < 300);
  if (answers(res.status, (name) => res.header(name)) || res.status !== 404) {
    await res.drain().catch(() => 0);
    return;
  }
  const note = errorNote(await res.text(16 * 1024).catch(() => '')).replace(/^: /, '');
  const instead = `name ${probe.kind} repository (hosted, proxy or group: /repository/<name>/ as [[repositories]] in the server's configuration names them), or leave --repo out to read through ${probe.mount}`;
  const served = /the repository "([^"]*)" is served at (\S+?)\/?, not under \/repository\//.exec(
    note,
  );
  if (served !== null && `${served[2] ?? ''}/` === probe.mount) {
    throw new MirrorInputError(
      `--repo ${repo}: the repository "${repo}" is this server's default ${probe.kind.replace(/^an? /, '')} repository, served at ${probe.mount}, which nora mirror ${command} reads without --repo: leave --repo out`,
    );
  }
  if (served !== null) {
    throw new MirrorInputError(
      `--repo ${repo}: the repository "${repo}" is served at ${served[2] ?? ''}/, not ${probe.kind} repository: ${instead}`,
    );
  }
  if (note.startsWith('no repository named')) {
    throw new MirrorInputError(`--repo ${repo}: ${note}; ${instead}`);
  }
  throw new MirrorInputError(
    `--repo ${repo} is not ${probe.kind} repository (GET ${path} answered 404${note === '' ? '' : `: ${note}`}): ${instead}`,
  );
}

/** `ok   npm lodash@4.17.21  (123 KB)` or `fail npm x@1.0.0: 404 from /npm/x/-/x-1.0.0.tgz`. */
export function reportLine(outcome: MirrorOutcome): string {
  return outcome.ok
    ? `ok   ${outcome.label}  (${formatBytes(outcome.bytes)})`
    : `fail ${outcome.label}: ${outcome.error ?? 'failed'}`;
}

function summaryLine(
  command: string,
  outcomes: readonly MirrorOutcome[],
  skipped: readonly MirrorSkip[],
  base: string,
  seconds: number,
): string {
  const failed = outcomes.filter((outcome) => !outcome.ok).length;
  const bytes = outcomes.reduce((sum, outcome) => sum + outcome.bytes, 0);
  const skips = skipped.length === 0 ? '' : `, ${skipped.length} skipped`;
  const none = outcomes.length === 0 ? ' (nothing to fetch)' : '';
  return `${command}: ${outcomes.length - failed} fetched (${formatBytes(bytes)}), ${failed} failed${skips} through ${base} in ${seconds.toFixed(1)} s${none}`;
}

/**
 * Runs `items` at most `limit` at a time, calling `report` as each one ends; resolves with the
 * outcomes in the items' order. An item's rejection is its outcome, never the pool's.
 */
export async function runPool(
  items: readonly MirrorItem[],
  client: MirrorClient,
  limit: number,
  report: (outcome: MirrorOutcome) => void,
): Promise<MirrorOutcome[]> {
  const outcomes: MirrorOutcome[] = new Array<MirrorOutcome>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next;
      next += 1;
      const item = items[index] as MirrorItem;
      let outcome: MirrorOutcome;
      try {
        const bytes = await item.fetch(client);
        outcome = { label: item.label, ok: true, bytes };
      } catch (err) {
        outcome = { label: item.label, ok: false, bytes: 0, error: oneLine(err) };
      }
      outcomes[index] = outcome;
      report(outcome);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return outcomes;
}

function oneLine(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return message.replace(/\s*\n\s*/g, ' ');
}

/** The same artifact named twice (a lock file's nested copies of one version) is fetched once. */
function uniqueByLabel(items: readonly MirrorItem[]): MirrorItem[] {
  const seen = new Set<string>();
  return items.filter((item) => {
    if (seen.has(item.label)) return false;
    seen.add(item.label);
    return true;
  });
}

/**
 * `--registry` checked: an http(s) URL without credentials, query or fragment; returned without
 * a trailing `/`. MirrorInputError otherwise (credentials on a command line show in `ps`).
 */
export function registryBase(registry: string): string {
  let url: URL;
  try {
    url = new URL(registry);
  } catch {
    throw new MirrorInputError(`--registry ${registry} is not a URL (e.g. http://localhost:4000)`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new MirrorInputError(`--registry ${registry}: only http:// and https:// URLs`);
  }
  if (url.username !== '' || url.password !== '') {
    throw new MirrorInputError(
      '--registry must not hold credentials (a command line shows in ps): set NORA_MIRROR_TOKEN, or NORA_MIRROR_USER and NORA_MIRROR_PASSWORD',
    );
  }
  if (url.search !== '' || url.hash !== '') {
    throw new MirrorInputError(`--registry ${registry}: the server's root URL, without ? or #`);
  }
  return `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
}

/**
 * The credentials the environment gives: NORA_MIRROR_TOKEN, or NORA_MIRROR_USER with
 * NORA_MIRROR_PASSWORD; none when all are unset or empty. MirrorInputError for half a pair or
 * both kinds at once (which one was meant is unclear).
 */
export function credentialsFromEnv(env: NodeJS.ProcessEnv): MirrorCredentials {
  const token = nonEmpty(env['NORA_MIRROR_TOKEN']);
  const user = nonEmpty(env['NORA_MIRROR_USER']);
  const password = nonEmpty(env['NORA_MIRROR_PASSWORD']);
  if (token !== undefined && (user !== undefined || password !== undefined)) {
    throw new MirrorInputError(
      'NORA_MIRROR_TOKEN and NORA_MIRROR_USER/NORA_MIRROR_PASSWORD are both set: set one kind',
    );
  }
  if (token !== undefined) return { kind: 'token', token };
  if (user !== undefined && password !== undefined) return { kind: 'basic', user, password };
  if (user !== undefined || password !== undefined) {
    throw new MirrorInputError(
      `${user === undefined ? 'NORA_MIRROR_PASSWORD' : 'NORA_MIRROR_USER'} is set without ${user === undefined ? 'NORA_MIRROR_USER' : 'NORA_MIRROR_PASSWORD'}: set both (or NORA_MIRROR_TOKEN)`,
    );
  }
  return { kind: 'none' };
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}

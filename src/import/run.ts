/**
 * `nora import assess|run --source artifactory|nexus --url URL …` (NORA's verb, reference
 * §3.9): reads an Artifactory's or a Nexus 3's hosted repositories and publishes their files into
 * a running NORA (`--registry`) through each format's own publish endpoint (types.ts).
 *
 * - assess: lists the source's repositories, what would go where, counts and bytes per
 *   repository and format, and what cannot be imported and why. Reads listings only.
 * - run: imports, `--concurrency` files at once, each verified while it streams (verify.ts),
 *   recording what is done in the resume state (state.ts); a re-run skips it, and a file NORA
 *   already has is skipped too.
 *
 * Credentials only from the environment (a command line shows in `ps`): NORA_IMPORT_AUTH for the
 * source (`user:password` or a token), NORA_IMPORT_TARGET_TOKEN or NORA_IMPORT_TARGET_USER +
 * NORA_IMPORT_TARGET_PASSWORD for NORA.
 *
 * Exit codes: 0 done, 1 any file failed or (run, without --allow-unimportable) any file cannot
 * be imported (or the source/NORA could not be read), 2 bad usage, 130 interrupted (Ctrl-C; a
 * re-run resumes). assess is a report: 0 whatever it lists.
 */
import path from 'node:path';
import type { Command } from 'commander';
import type { FormatName } from '../config/schema.ts';
import { loadConfig } from '../config/load.ts';
import { formatBytes } from '../mirror/pull.ts';
import { concurrency, DEFAULT_REGISTRY, registryBase, timeoutSeconds } from '../mirror/run.ts';
import { MirrorInputError } from '../mirror/types.ts';
import { artifactorySource } from './artifactory.ts';
import { nexusSource } from './nexus.ts';
import { createSourceHttp, parseSourceAuth, plainTimeout, type SourceHttp } from './source-http.ts';
import {
  type ImportedRepository,
  mapPermissions,
  readArtifactoryPermissions,
  readNexusPermissions,
  renderFragment,
  writeFragment,
} from './permissions.ts';
import { unsafePath } from './put.ts';
import { openState, type ImportState } from './state.ts';
import {
  createNoraTarget,
  readCatalog,
  resolveTarget,
  type TargetCatalog,
  targetCredentials,
} from './target.ts';
import {
  type AssessReport,
  type AssessRepository,
  type ImportFailure,
  type ImportSource,
  ImportSourceError,
  ImportUsageError,
  type ImportWriter,
  KIND_WORDS,
  type NoraTarget,
  PACKAGE_TYPE_FORMAT,
  type RunReport,
  type RunRepository,
  type SourceFile,
  type SourceRepository,
  type Tally,
  type TargetRepository,
} from './types.ts';
import { expectedDigest, verifying } from './verify.ts';
import type { Expected } from './verify.ts';

/** The digest a taken file is verified against. */
type Digest = Exclude<Expected, { readonly refused: string }>;
import { IMPORT_WRITERS } from './writers.ts';

const DEFAULT_CONCURRENCY = 8;
const DEFAULT_TIMEOUT_SECS = 120;
const MAX_FAILURES_KEPT = 1000;

export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;
export const EXIT_INTERRUPTED = 130;

interface ImportOptions {
  readonly source?: string;
  readonly url?: string;
  readonly repos?: string;
  readonly map?: readonly string[];
  readonly registry: string;
  readonly json?: boolean;
  readonly dryRun?: boolean;
  /** run only (default DEFAULT_CONCURRENCY). */
  readonly concurrency?: number;
  readonly state?: string;
  readonly allowPrivateCidrs?: boolean;
  readonly allowSha1?: boolean;
  /** run: files that cannot be imported are expected, not a reason for exit 1. */
  readonly allowUnimportable?: boolean;
  readonly withPermissions?: boolean;
  readonly grantWrite?: boolean;
  readonly permissionsOut?: string;
  readonly timeoutSecs: number;
  readonly config?: string;
}

/** Registers `nora import assess` and `nora import run` on `program`. */
export function addImportCommand(program: Command): void {
  const verb = program
    .command('import')
    .description(
      'import the hosted repositories of an Artifactory or a Nexus 3 into a running NORA (source credentials from NORA_IMPORT_AUTH, NORA credentials from NORA_IMPORT_TARGET_TOKEN or NORA_IMPORT_TARGET_USER + NORA_IMPORT_TARGET_PASSWORD)',
    );
  for (const mode of ['assess', 'run'] as const) {
    const sub = verb
      .command(mode)
      .description(
        mode === 'assess'
          ? 'list what would be imported where, with counts and bytes, and what cannot be and why'
          : 'import, verifying every file against the source checksum; resumable',
      )
      .requiredOption('--source <kind>', 'artifactory or nexus')
      .requiredOption('--url <url>', "the source's root URL (no credentials: NORA_IMPORT_AUTH)")
      .option('--repos <names>', 'only these source repositories (comma-separated)')
      .option(
        '--map <src=dst>',
        'import source repository src into NORA hosted repository dst (repeatable)',
        (value: string, previous: string[] | undefined) => [...(previous ?? []), value],
      )
      .option('--registry <url>', "the running NORA's root URL", DEFAULT_REGISTRY)
      .option('--json', 'print one JSON document (the report) instead of lines')
      .option(
        '--allow-private-cidrs',
        'allow a source on a private, loopback or link-local address',
      )
      .option('--allow-sha1', 'verify files the source lists only a sha1 for (else refused)')
      .option(
        '--with-permissions',
        "write the source's permissions on the imported repositories as NORA [[auth.rules]] (a TOML fragment to review and paste into config.toml)",
      )
      .option('--grant-write', 'with --with-permissions: map write and delete too (else read only)')
      .option(
        '--permissions-out <file>',
        'the fragment --with-permissions writes (default: next to the resume state, <host>.permissions.toml)',
      )
      .option(
        '--timeout-secs <seconds>',
        'give up on a request whose answer (or body) is silent this long',
        timeoutSeconds,
        DEFAULT_TIMEOUT_SECS,
      );
    if (mode === 'run') {
      sub
        .option('--dry-run', 'do everything but publish: list what would be imported')
        .option('--concurrency <n>', 'files imported at once', concurrency, DEFAULT_CONCURRENCY)
        .option(
          '--allow-unimportable',
          'exit 0 even when files cannot be imported (unsafe path, no checksum…): they are expected',
        )
        .option(
          '--state <file>',
          'the resume state (default <[storage] path>/import-state/<source host>-to-<NORA host>.jsonl)',
        )
        .option('-c, --config <file>', 'config file giving [storage] path for the state');
    }
    sub.action(async (opts: ImportOptions) => {
      process.exitCode = await runImport(mode, opts);
    });
  }
}

/** `--url`: http(s), no user info (credentials: NORA_IMPORT_AUTH), no query. */
function sourceUrl(value: string): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ImportUsageError(`nora import: --url ${value} is not a URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ImportUsageError(`nora import: --url ${value}: only http:// and https:// URLs`);
  }
  if (url.username !== '' || url.password !== '') {
    throw new ImportUsageError(
      'nora import: --url must not hold credentials (a command line shows in ps): set NORA_IMPORT_AUTH',
    );
  }
  if (url.search !== '' || url.hash !== '') {
    throw new ImportUsageError(
      `nora import: --url ${value}: the source's root URL, without ? or #`,
    );
  }
  return url;
}

/** `--map a=b,c=d` (repeatable) → source name → target name. */
function parseMap(values: readonly string[] | undefined): Map<string, string> {
  const map = new Map<string, string>();
  for (const value of values ?? []) {
    for (const pair of value.split(',')) {
      const [from, to, ...rest] = pair.split('=');
      if (from === undefined || to === undefined || from === '' || to === '' || rest.length > 0) {
        throw new ImportUsageError(`nora import: --map ${pair}: give source=target`);
      }
      map.set(from, to);
    }
  }
  return map;
}

/** Everything both modes set up: the source, NORA, the selection. */
interface Session {
  readonly source: ImportSource;
  readonly http: SourceHttp;
  readonly nora: NoraTarget;
  readonly repos: readonly SourceRepository[];
  readonly map: ReadonlyMap<string, string>;
}

async function openSession(options: ImportOptions): Promise<Session> {
  if (
    options.withPermissions !== true &&
    (options.grantWrite === true || options.permissionsOut !== undefined)
  ) {
    throw new ImportUsageError(
      `nora import: ${options.grantWrite === true ? '--grant-write' : '--permissions-out'} goes with --with-permissions`,
    );
  }
  const kind = options.source;
  if (kind !== 'artifactory' && kind !== 'nexus') {
    throw new ImportUsageError(`nora import: --source ${kind ?? ''}: give artifactory or nexus`);
  }
  const url = sourceUrl(options.url ?? '');
  let base: string;
  try {
    base = registryBase(options.registry);
  } catch (err) {
    if (err instanceof MirrorInputError) {
      throw new ImportUsageError(
        `nora import: ${err.message.replace('NORA_MIRROR_TOKEN, or NORA_MIRROR_USER and NORA_MIRROR_PASSWORD', 'NORA_IMPORT_TARGET_TOKEN, or NORA_IMPORT_TARGET_USER and NORA_IMPORT_TARGET_PASSWORD')}`,
      );
    }
    throw err;
  }
  const auth = parseSourceAuth(process.env['NORA_IMPORT_AUTH']);
  const nora = createNoraTarget(base, targetCredentials(process.env));
  const map = parseMap(options.map);
  const http = await createSourceHttp({
    base: url,
    auth,
    allowPrivate: options.allowPrivateCidrs === true,
    idleTimeoutMs: options.timeoutSecs * 1000,
  });
  const shown = `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
  const source =
    kind === 'artifactory'
      ? artifactorySource(http, shown, url.host)
      : nexusSource(http, shown, url.host);
  let repos: readonly SourceRepository[];
  try {
    repos = await source.listRepositories();
  } catch (err) {
    await http.close();
    throw err;
  }
  if (options.repos !== undefined) {
    const wanted = options.repos
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '');
    if (wanted.length === 0) {
      await http.close();
      throw new ImportUsageError(
        'nora import: --repos names no repository: give source repository names, comma-separated, or leave --repos out for all',
      );
    }
    const missing = wanted.filter((name) => !repos.some((r) => r.name === name));
    if (missing.length > 0) {
      await http.close();
      throw new ImportUsageError(
        `nora import: --repos names ${missing.join(', ')}, which the source does not list (it lists ${repos.map((r) => r.name).join(', ') || 'none'})`,
      );
    }
    repos = repos.filter((r) => wanted.includes(r.name));
  }
  for (const from of map.keys()) {
    if (!repos.some((r) => r.name === from)) {
      await http.close();
      throw new ImportUsageError(`nora import: --map ${from}=…: no such source repository`);
    }
  }
  return { source, http, nora, repos, map };
}

/** Why a repository is not imported, or its format and writer. */
type Plan =
  | { readonly skip: string; readonly format: FormatName | null }
  | {
      readonly format: FormatName;
      readonly writer: ImportWriter;
      readonly target: TargetRepository;
    };

function planRepository(
  source: ImportSource,
  repo: SourceRepository,
  catalog: TargetCatalog | undefined,
  map: ReadonlyMap<string, string>,
): Plan {
  const format = PACKAGE_TYPE_FORMAT[repo.packageType] ?? null;
  const word = KIND_WORDS[source.kind][repo.kind];
  if (repo.kind === 'remote') {
    return { skip: `${word} repository: a cache of an upstream, not imported`, format };
  }
  if (repo.kind === 'virtual') {
    return { skip: `${word} repository: a view over others, not imported`, format };
  }
  if (format === null) {
    return {
      skip: `package type ${JSON.stringify(repo.packageType)}: NORA has no such format`,
      format,
    };
  }
  const writer = IMPORT_WRITERS.find((w) => w.format === format);
  if (writer === undefined) {
    return { skip: `no ${format} importer in this build`, format };
  }
  if (catalog === undefined) {
    return { format, writer, target: { name: '?', format, isDefault: true, path: '?' } };
  }
  const target = resolveTarget(catalog, format, repo.name, map.get(repo.name));
  if (target === undefined) {
    return { skip: `the ${format} format is not enabled on the NORA server`, format };
  }
  return { format, writer, target };
}

/** `1 file`, `2 files`. */
function files(count: number): string {
  return `${count} file${count === 1 ? '' : 's'}`;
}

/** A mutable tally. */
class Count {
  files = 0;
  bytes = 0;
  add(file: SourceFile): void {
    this.files += 1;
    this.bytes += Math.max(0, file.size);
  }
  get tally(): Tally {
    return { files: this.files, bytes: this.bytes };
  }
}

function byReason(map: Map<string, Count>, reason: string, file: SourceFile): void {
  let count = map.get(reason);
  if (count === undefined) {
    count = new Count();
    map.set(reason, count);
  }
  count.add(file);
}

const tallies = (map: Map<string, Count>): Record<string, Tally> =>
  Object.fromEntries([...map].map(([reason, count]) => [reason, count.tally]));

/**
 * Runs `assess` or `run` and returns the exit code. Usage errors → 2 (message on stderr); the
 * source or NORA unreadable → 1.
 */
export async function runImport(mode: 'assess' | 'run', options: ImportOptions): Promise<number> {
  const command = `nora import ${mode}`;
  // Ctrl-C while the source, NORA and the permissions are read (before importRun's own handler,
  // or during assess): Node's default would end the process with 130 and nothing said (trial 31).
  const early = (): void => {
    process.stderr.write(`${command}: interrupted before any file was imported\n`);
    process.exit(EXIT_INTERRUPTED);
  };
  process.once('SIGINT', early);
  process.once('SIGTERM', early);
  const quiet = (): void => {
    process.off('SIGINT', early);
    process.off('SIGTERM', early);
  };
  let session: Session;
  try {
    session = await openSession(options);
  } catch (err) {
    quiet();
    return exitFor(err, command);
  }
  try {
    let catalog: TargetCatalog | undefined;
    try {
      catalog = await readCatalog(session.nora);
    } catch (err) {
      if (mode === 'run' && options.dryRun !== true) {
        process.stderr.write(
          `${command}: cannot read the NORA server: ${(err as Error).message}\n`,
        );
        return EXIT_FAILED;
      }
      process.stderr.write(
        `${command}: cannot read the NORA server (${(err as Error).message}): targets are not shown\n`,
      );
    }
    try {
      // Before any file moves: a credential that cannot read the permissions fails fast.
      if (options.withPermissions === true) {
        const written = await proposePermissions(session, catalog, options);
        if (written !== EXIT_OK) return written;
      }
      if (mode === 'assess') return await assess(session, catalog, options);
      quiet();
      return await importRun(session, catalog, options);
    } catch (err) {
      return exitFor(err, command);
    }
  } finally {
    quiet();
    await session.http.close();
  }
}

/** A usage mistake → 2, the source unreadable → 1 (its message on stderr); anything else throws. */
function exitFor(err: unknown, command: string): number {
  if (err instanceof ImportUsageError) {
    process.stderr.write(`${err.message}\n`);
    return EXIT_USAGE;
  }
  if (err instanceof ImportSourceError) {
    process.stderr.write(`${command}: ${err.message}\n`);
    return EXIT_FAILED;
  }
  throw err;
}

async function assess(
  session: Session,
  catalog: TargetCatalog | undefined,
  options: ImportOptions,
): Promise<number> {
  const repositories: AssessRepository[] = [];
  const byFormat = new Map<FormatName, Count>();
  const allImportable = new Count();
  const allUnimportable = new Count();
  let skippedRepositories = 0;
  for (const repo of session.repos) {
    const plan = planRepository(session.source, repo, catalog, session.map);
    const common = {
      name: repo.name,
      packageType: repo.packageType,
      kind: repo.kind,
      type: KIND_WORDS[session.source.kind][repo.kind],
      format: plan.format,
    };
    if ('skip' in plan) {
      skippedRepositories += 1;
      repositories.push({
        ...common,
        action: 'skip',
        reason: plan.skip,
        listed: { files: 0, bytes: 0 },
        importable: { files: 0, bytes: 0 },
        ignored: {},
        unimportable: {},
      });
      continue;
    }
    const listed = new Count();
    const importable = new Count();
    const ignored = new Map<string, Count>();
    const unimportable = new Map<string, Count>();
    for await (const file of session.source.listFiles(repo)) {
      listed.add(file);
      const verdict = classify(plan.writer, file, repo, options.allowSha1 === true);
      if (verdict.kind === 'ignore') byReason(ignored, verdict.reason, file);
      else if (verdict.kind === 'refuse') {
        byReason(unimportable, verdict.reason, file);
        allUnimportable.add(file);
      } else {
        importable.add(file);
        allImportable.add(file);
        let f = byFormat.get(plan.format);
        if (f === undefined) {
          f = new Count();
          byFormat.set(plan.format, f);
        }
        f.add(file);
      }
    }
    repositories.push({
      ...common,
      action: 'import',
      ...(catalog === undefined
        ? {}
        : { target: { name: plan.target.name, path: plan.target.path } }),
      listed: listed.tally,
      importable: importable.tally,
      ignored: tallies(ignored),
      unimportable: tallies(unimportable),
    });
  }
  const report: AssessReport = {
    source: { kind: session.source.kind, url: session.source.url },
    repositories,
    totals: {
      importable: allImportable.tally,
      byFormat: Object.fromEntries([...byFormat].map(([f, c]) => [f, c.tally])),
      unimportable: allUnimportable.tally,
      skippedRepositories,
    },
  };
  if (options.json === true) {
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    return EXIT_OK;
  }
  const out: string[] = [`${session.source.kind} ${session.source.url}`];
  for (const r of repositories) {
    const head = `${r.name} (${r.type} ${r.packageType || '?'})`;
    if (r.action === 'skip') {
      out.push(`skip   ${head}: ${r.reason ?? ''}`);
      continue;
    }
    const where = r.target === undefined ? '' : ` → ${r.target.name} (${r.target.path}/)`;
    out.push(
      `import ${head}${where}: ${files(r.importable.files)}, ${formatBytes(r.importable.bytes)} of ${r.listed.files} listed`,
    );
    for (const [reason, t] of Object.entries(r.ignored)) {
      out.push(`         ignored ${t.files} (${formatBytes(t.bytes)}): ${reason}`);
    }
    for (const [reason, t] of Object.entries(r.unimportable)) {
      out.push(`         CANNOT import ${t.files} (${formatBytes(t.bytes)}): ${reason}`);
    }
  }
  const formats = Object.entries(report.totals.byFormat)
    .map(([f, t]) => `${f} ${files(t.files)} ${formatBytes(t.bytes)}`)
    .join(', ');
  out.push(
    `total: ${files(allImportable.files)}, ${formatBytes(allImportable.bytes)} importable${formats === '' ? '' : ` (${formats})`}; ${allUnimportable.files} cannot be imported; ${skippedRepositories} ${skippedRepositories === 1 ? 'repository' : 'repositories'} not imported`,
  );
  process.stdout.write(`${out.join('\n')}\n`);
  return EXIT_OK;
}

type Verdict =
  | { readonly kind: 'take'; readonly algorithm: 'sha256' | 'sha1'; readonly digest: string }
  | { readonly kind: 'ignore' | 'refuse'; readonly reason: string };

/** The path's safety (unsafePath), the writer's acceptance, then the checksum rule. */
function classify(
  writer: ImportWriter,
  file: SourceFile,
  repo: SourceRepository,
  allowSha1: boolean,
): Verdict {
  const unsafe = unsafePath(file.path);
  if (unsafe !== undefined) return { kind: 'refuse', reason: unsafe };
  const acceptance = writer.accepts(file, repo);
  if (acceptance.action !== 'take') {
    return { kind: acceptance.action, reason: acceptance.reason };
  }
  const expected = expectedDigest(file, allowSha1);
  if ('refused' in expected) return { kind: 'refuse', reason: expected.refused };
  return { kind: 'take', ...expected };
}

/** `text` with control characters as `\xNN`: a listed path is the source's, printed on a terminal. */
function printable(text: string): string {
  return text.replace(
    // eslint-disable-next-line no-control-regex -- control characters are what it escapes
    /[\u0000-\u001f\u007f-\u009f]/g,
    (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`,
  );
}

/**
 * The state file: `--state`, else under the storage path of a loaded config file (or
 * NORA_STORAGE_PATH), else ./nora-import-state/; named `<source host>-to-<NORA host>.jsonl`
 * (`<source host>.jsonl` without `target`: the permissions fragment's name), so a run into another
 * NORA starts its own state.
 */
async function statePath(options: ImportOptions, host: string, target?: string): Promise<string> {
  if (options.state !== undefined) return path.resolve(options.state);
  const safe = (h: string): string => h.replace(/[^A-Za-z0-9._-]/g, '_');
  const name = `${safe(host)}${target === undefined ? '' : `-to-${safe(new URL(target).host)}`}.jsonl`;
  try {
    const { config, file } = await loadConfig({
      env: process.env,
      ...(options.config === undefined ? {} : { file: options.config }),
    });
    // Only a storage path someone chose (a config file, NORA_STORAGE_PATH): the built-in
    // ./data/storage of a bare directory is no place an operator would look for it.
    const chosen = file !== undefined || (process.env['NORA_STORAGE_PATH'] ?? '') !== '';
    if (chosen && config.storage.mode === 'local') {
      return path.resolve(config.storage.path, 'import-state', name);
    }
  } catch {
    // no configuration here: the working directory
  }
  return path.resolve('nora-import-state', name);
}

/**
 * `--with-permissions`: reads the source's permissions, maps them onto the NORA repositories the
 * selected source repositories are imported into (permissions.ts) and writes the fragment
 * (`--permissions-out`, else `<state dir>/<host>.permissions.toml`); says where on stderr with
 * what was not mapped. Exit 1 when NORA's repositories are unknown (nothing to name in rules).
 */
async function proposePermissions(
  session: Session,
  catalog: TargetCatalog | undefined,
  options: ImportOptions,
): Promise<number> {
  const command = 'nora import: --with-permissions';
  if (catalog === undefined) {
    process.stderr.write(`${command}: NORA's repositories are unknown, no rules written\n`);
    return EXIT_FAILED;
  }
  const imported: ImportedRepository[] = [];
  for (const repo of session.repos) {
    const plan = planRepository(session.source, repo, catalog, session.map);
    if ('skip' in plan) continue;
    imported.push({
      name: repo.name,
      packageType: repo.packageType,
      format: plan.format,
      target: plan.target.name,
    });
  }
  const permissions =
    session.source.kind === 'artifactory'
      ? await readArtifactoryPermissions(session.http)
      : await readNexusPermissions(session.http);
  const grantWrite = options.grantWrite === true;
  const proposal = mapPermissions(permissions, imported, grantWrite);
  const file =
    options.permissionsOut === undefined
      ? (await statePath(options, session.source.host)).replace(/\.jsonl$/, '.permissions.toml')
      : path.resolve(options.permissionsOut);
  const written = await writeFragment(
    file,
    renderFragment(proposal, `${session.source.kind} ${session.source.url}`, grantWrite),
  );
  const lines = [
    ...(written.kept === undefined
      ? []
      : [`permissions: ${written.kept} exists with other rules: left as it is`]),
    `permissions: ${proposal.rules.length} rule${proposal.rules.length === 1 ? '' : 's'} written to ${written.file} (review, then paste into config.toml)`,
    ...proposal.unmapped.map((u) => `permissions: not mapped: ${printable(u)}`),
  ];
  process.stderr.write(`${lines.join('\n')}\n`);
  return EXIT_OK;
}

async function importRun(
  session: Session,
  catalog: TargetCatalog | undefined,
  options: ImportOptions,
): Promise<number> {
  const json = options.json === true;
  const dryRun = options.dryRun === true;
  const allowSha1 = options.allowSha1 === true;
  const line = (text: string): void => {
    if (!json) process.stdout.write(`${text}\n`);
  };
  const state: ImportState | undefined = dryRun
    ? undefined
    : await openState(
        await statePath(options, session.source.host, session.nora.base),
        session.nora.base,
        options.state === undefined,
        catalog?.installation,
      );
  if (state !== undefined) line(`resume state: ${state.file}`);
  const controller = new AbortController();
  const onSignal = (): void => {
    controller.abort(new Error('interrupted'));
  };
  // A function, not the property: the checks below run after awaits the compiler cannot see.
  const stopped = (): boolean => controller.signal.aborted;
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const repositories: RunRepository[] = [];
  const failures: ImportFailure[] = [];
  // Said again under the total: a line among thousands of `imported` ones is easily missed.
  const notes: string[] = [];
  let failedTotal = 0;
  let unimportableTotal = 0;
  const importedTotal = new Count();
  let skippedTotal = 0;
  if (state !== undefined && state.superseded > 0) {
    // Never a silent skip: what the state says was done went with the old storage.
    const why = `the resume state records ${files(state.superseded)} as done in ${session.nora.base} by another installation of it (NORA's installation id is now ${catalog?.installation ?? 'not reported'}): its storage is new (wiped or restored), so they are imported again`;
    line(why);
    notes.push(why);
  }
  // Set once NORA refuses connections: every later file would fail the same way.
  let targetDown: string | undefined;
  const checkTarget = async (reason: string): Promise<void> => {
    if (targetDown !== undefined || !/ECONNREFUSED|ECONNRESET|other side closed/.test(reason)) {
      return;
    }
    try {
      const probe = await session.nora.request('HEAD', '/');
      await probe.discard().catch(() => undefined);
    } catch (err) {
      targetDown = `NORA at ${session.nora.base} does not answer (${(err as Error).message}): stopped; run the same command again once it is up (the state resumes)`;
      controller.abort(new Error(targetDown));
    }
  };
  try {
    for (const repo of session.repos) {
      if (controller.signal.aborted) break;
      const plan = planRepository(session.source, repo, catalog, session.map);
      if ('skip' in plan) {
        line(`skip ${repo.name}: ${plan.skip}`);
        continue;
      }
      const imported = new Count();
      let skipped = 0;
      let failed = 0;
      let ignored = 0;
      let unimportable = 0;
      const inflight = new Set<Promise<void>>();
      const fail = (file: SourceFile, why: string): void => {
        const reason = plainTimeout(why, options.timeoutSecs * 1000);
        failed += 1;
        failedTotal += 1;
        if (failures.length < MAX_FAILURES_KEPT) {
          failures.push({ repository: repo.name, path: file.path, reason });
        }
        line(`FAILED ${repo.name}/${file.path}: ${reason}`);
      };
      // Files a writer deferred (waiting for another file of this repository), and why.
      let deferred: { file: SourceFile; expected: Digest; reason: string }[] = [];
      // Files imported or skipped: a round of deferred files that adds none made no progress.
      let progress = 0;
      const one = async (file: SourceFile, expected: Digest): Promise<void> => {
        try {
          const outcome = await plan.writer.write({
            source: repo,
            file,
            target: plan.target,
            nora: session.nora,
            signal: controller.signal,
            sourceRegistry: (r) => session.source.dockerRegistry(r),
            open: async () =>
              verifying(
                await session.source.open(repo, file.path, controller.signal),
                file,
                expected,
              ),
          });
          if (outcome.status === 'deferred') {
            deferred.push({ file, expected, reason: outcome.reason });
            return;
          }
          if (outcome.status === 'failed') {
            if (controller.signal.aborted) {
              if (targetDown === undefined) fail(file, 'interrupted');
              return;
            }
            fail(file, outcome.reason);
            await checkTarget(outcome.reason);
            return;
          }
          state?.record(repo.name, file.path, expected.digest);
          progress += 1;
          if (outcome.note !== undefined && notes.length < MAX_FAILURES_KEPT) {
            notes.push(outcome.note);
          }
          if (outcome.status === 'imported') {
            imported.files += 1;
            imported.bytes += outcome.bytes;
            importedTotal.files += 1;
            importedTotal.bytes += outcome.bytes;
            line(`imported ${repo.name}/${file.path} (${formatBytes(outcome.bytes)})`);
          } else {
            skipped += 1;
            skippedTotal += 1;
            line(`skipped ${repo.name}/${file.path}: ${outcome.reason}`);
          }
        } catch (err) {
          fail(file, (err as Error).message);
          await checkTarget((err as Error).message);
        }
      };
      /** Starts `one`, waiting first while `--concurrency` files are under way. */
      const schedule = async (file: SourceFile, expected: Digest): Promise<void> => {
        const task = one(file, expected).finally(() => inflight.delete(task));
        inflight.add(task);
        if (inflight.size >= (options.concurrency ?? DEFAULT_CONCURRENCY))
          await Promise.race(inflight);
      };
      // A dry run goes on without NORA's catalog (runImport said why on stderr): say so here
      // too rather than print a `?` for the target.
      const where =
        catalog === undefined
          ? `target unknown: NORA at ${session.nora.base} could not be read`
          : `${plan.target.name} (${plan.target.path}/)`;
      line(
        `${dryRun ? 'would import' : 'importing'} ${repo.name} (${repo.packageType}) → ${where}`,
      );
      for await (const file of session.source.listFiles(repo, controller.signal)) {
        if (stopped()) break;
        const verdict = classify(plan.writer, file, repo, allowSha1);
        if (verdict.kind !== 'take') {
          if (verdict.kind === 'ignore') ignored += 1;
          else {
            unimportable += 1;
            unimportableTotal += 1;
            line(`cannot import ${repo.name}/${printable(file.path)}: ${verdict.reason}`);
          }
          continue;
        }
        if (state?.has(repo.name, file.path, verdict.digest) === true) {
          skipped += 1;
          skippedTotal += 1;
          continue;
        }
        if (dryRun) {
          imported.add(file);
          importedTotal.add(file);
          line(`would import ${repo.name}/${file.path} (${formatBytes(Math.max(0, file.size))})`);
          continue;
        }
        await schedule(file, verdict);
      }
      await Promise.all(inflight);
      // Dependency order: the deferred files again, in rounds, while a round lets one more in
      // (a crate goes in after the crates it depends on, however the listing ordered them).
      while (deferred.length > 0 && !stopped()) {
        const round = deferred;
        deferred = [];
        const before = progress;
        for (const { file, expected } of round) {
          if (stopped()) break;
          await schedule(file, expected);
        }
        await Promise.all(inflight);
        if (progress === before) break;
      }
      for (const { file, reason } of deferred) fail(file, reason);
      repositories.push({
        name: repo.name,
        target: { name: plan.target.name, path: plan.target.path },
        imported: imported.tally,
        skipped,
        failed,
        ignored,
        unimportable,
      });
      line(
        `${repo.name}: ${imported.files} ${dryRun ? 'to import' : 'imported'} (${formatBytes(imported.bytes)}), ${skipped} skipped, ${failed} failed, ${ignored} ignored, ${unimportable} cannot be imported`,
      );
    }
  } catch (err) {
    if (!controller.signal.aborted) throw err;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await state?.close();
  }
  const interrupted = controller.signal.aborted && targetDown === undefined;
  if (targetDown !== undefined) process.stderr.write(`nora import run: ${targetDown}\n`);
  const report: RunReport = {
    source: { kind: session.source.kind, url: session.source.url },
    dryRun,
    repositories,
    failures,
    totals: {
      imported: importedTotal.tally,
      skipped: skippedTotal,
      failed: failedTotal,
      unimportable: unimportableTotal,
    },
    interrupted,
    notes,
  };
  // A CI job must see a partial copy: files that cannot be imported fail the run unless the
  // operator said they are expected (the summary says which way it went).
  const allowUnimportable = options.allowUnimportable === true;
  const unimportableNote = allowUnimportable
    ? ' (expected: --allow-unimportable)'
    : ' (exit 1: pass --allow-unimportable if they are expected)';
  if (json) {
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  } else {
    line(
      `${interrupted ? 'INTERRUPTED: ' : ''}${dryRun ? 'would import' : 'imported'} ${files(importedTotal.files)} (${formatBytes(importedTotal.bytes)}), ${skippedTotal} skipped, ${failedTotal} failed, ${unimportableTotal} cannot be imported${unimportableTotal > 0 && !interrupted ? unimportableNote : ''}${interrupted ? '; run the same command again to resume' : ''}${dryRun ? ' (dry run: neither NORA nor the resume state was checked, so files already imported are counted too)' : ''}`,
    );
    for (const note of notes) line(`note: ${note}`);
  }
  if (interrupted) {
    // On stderr too: stdout may go to a file or be --json (trial 31: Ctrl-C showed nothing).
    process.stderr.write(
      `nora import run: interrupted: ${files(importedTotal.files)} done${state === undefined ? ' (dry run)' : `; run again with the same --state ${state.file} to resume`}\n`,
    );
    return EXIT_INTERRUPTED;
  }
  return failedTotal === 0 && (unimportableTotal === 0 || allowUnimportable)
    ? EXIT_OK
    : EXIT_FAILED;
}

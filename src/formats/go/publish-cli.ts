/**
 * `nora go publish [--version vX.Y.Z] [--registry URL] [--token T] [DIR]`: builds the module zip
 * of the module in DIR (default `.`) by the module zip rules (zip-create.ts) and uploads it to a
 * NORA Go repository with `PUT <registry>/<escaped module>/@v/<escaped version>.zip`
 * (docs/go.md "Hosted modules"); the server makes `.mod` and `.info` from it.
 *
 * - Module path: DIR/go.mod's `module` line; `--module` for a tree without go.mod (an old,
 *   pre-modules library; its `.mod` is then `module <path>`, as the `go` command synthesizes).
 * - Version: `--version`, else the semver tag at HEAD of DIR's git repository (`git tag
 *   --points-at HEAD`; the newest if several). Must be canonical (`v1.2.3`, `v1.2.3-rc.1`, a
 *   pseudo-version, `v2.0.0+incompatible` without go.mod).
 * - Registry: `--registry`, else `NORA_GO_REGISTRY`, else the `/go` of the server the
 *   configuration describes (registryOfServer; main.ts loads it as `nora token` does: `--config`,
 *   NORA_CONFIG_PATH or ./config.toml, and NORA_HOST/NORA_PORT), else `http://127.0.0.1:4000/go`; a
 *   `user:secret@` in the URL is sent as Basic credentials. Token: `--token`, else `NORA_TOKEN`,
 *   sent as `Authorization: Bearer`; `--token` wins over URL credentials, which win over
 *   `NORA_TOKEN`.
 * - In a git work tree, files git ignores (`.gitignore`, `.git/info/exclude`, the global excludes
 *   file: `.env`, `node_modules/`) are left out, as from a zip the `go` command makes from the
 *   repository, and stderr says how many, with a few names. Without git, every file goes in.
 * - A git checkout with uncommitted changes under DIR is refused, naming the changed files, as
 *   `cargo publish` refuses one: a published version is immutable, and its bytes would be no
 *   commit's. `--allow-dirty` publishes the working tree as it is, with a warning.
 * - The first publish of a module path that a group's proxy has served (the group would serve
 *   only the hosted module from then on: `protect_hosted_names`) is refused by the server, which
 *   says so; `--shadow` (`?shadow=1`) publishes it all the same. Each `warning: …` line of the
 *   server's answer goes to stderr.
 */
import { execFile } from 'node:child_process';
import { createReadStream } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { type HttpAnswer, httpRequest } from '../../core/http-client.ts';
import { errorNote } from '../../mirror/client.ts';
import { checkGoModSyntax } from './gomod-syntax.ts';
import {
  checkModuleVersion,
  compareSemver,
  escapePath,
  escapeVersion,
  isValidSemver,
  semverBuild,
} from './module.ts';
import {
  type GitFileSet,
  gitFileSet,
  IGNORED_BY_GIT,
  listModuleFiles,
  VERSION_CONTROL,
  writeModuleZip,
} from './zip-create.ts';
import { parseModulePath } from './zip.ts';
import { localServerUrl } from '../../config/server-url.ts';

/** A failure the user can act on: printed as `nora go publish: …`, exit 1. */
export class GoPublishError extends Error {}

export interface GoPublishOptions {
  readonly dir: string;
  readonly version?: string | undefined;
  readonly module?: string | undefined;
  readonly registry?: string | undefined;
  readonly token?: string | undefined;
  /** Build the zip and report, but upload nothing. */
  readonly dryRun?: boolean | undefined;
  /** Publish a git checkout with uncommitted changes under `dir` (else refused). */
  readonly allowDirty?: boolean | undefined;
  /** Take the module path over from a group's proxy (the server refuses it otherwise). */
  readonly shadow?: boolean | undefined;
  /** Where progress lines go (stderr). */
  readonly log?: (line: string) => void;
}

export interface GoPublishResult {
  readonly module: string;
  readonly version: string;
  readonly files: number;
  readonly zipSize: number;
  /** The registry's answer (one line), or undefined for a dry run. */
  readonly answer: string | undefined;
}

const DEFAULT_REGISTRY = 'http://127.0.0.1:4000/go';

/**
 * The `/go` URL of the server a configuration describes (the default registry of `nora go
 * publish`, as `nora token`/`gc`/`verify` follow the configuration): `[server] public_url` +
 * `/go` when set, else `http://<host>:<port>/go`, a wildcard host (`0.0.0.0`, `::`) read as the
 * loopback address of its family.
 */
export function registryOfServer(server: {
  readonly host: string;
  readonly port: number;
  readonly public_url?: string | undefined;
}): string {
  if (server.public_url !== undefined) return `${server.public_url.replace(/\/+$/, '')}/go`;
  return `${localServerUrl(server.host, server.port)}/go`;
}

export async function goPublish(options: GoPublishOptions): Promise<GoPublishResult> {
  const log = options.log ?? (() => undefined);
  const dir = path.resolve(options.dir);
  const stat = await fs.stat(dir).catch(() => undefined);
  if (stat?.isDirectory() !== true) throw new GoPublishError(`${dir} is not a directory`);

  const goModText = await fs.readFile(path.join(dir, 'go.mod'), 'utf8').catch(() => undefined);
  let module: string;
  if (goModText !== undefined) {
    // go's own parse error first, in the server's words (zip.ts): a module line with bad quoting
    // (`module "example.net/x` unterminated) is not "no module line" (trial 20 fmts F3). This is
    // the module's own go.mod, read as `go build` in it reads it (strict): a misspelt directive
    // (`modul x`, `requre …`) is named, not left for "no module line" or a silently dropped
    // requirement (trial 21 fmts F3).
    const syntax = checkGoModSyntax(goModText, { mainModule: true });
    if (syntax !== undefined) {
      throw new GoPublishError(
        `${dir}/go.mod does not parse as go reads it (${syntax}): fix it and publish again`,
      );
    }
    const declared = parseModulePath(goModText);
    if (declared === undefined) throw new GoPublishError(`${dir}/go.mod has no module line`);
    if (options.module !== undefined && options.module !== declared) {
      throw new GoPublishError(`--module ${options.module} disagrees with go.mod (${declared})`);
    }
    module = declared;
  } else if (options.module !== undefined) {
    module = options.module;
  } else {
    throw new GoPublishError(`${dir} has no go.mod (give --module for a tree without one)`);
  }

  const version = options.version ?? (await tagAtHead(dir));
  const err = versionArgumentError(module, version);
  if (err !== undefined) throw new GoPublishError(err);
  if (goModText !== undefined && semverBuild(version) === '+incompatible') {
    throw new GoPublishError(
      `${version}: +incompatible versions are for modules without go.mod; this one has go.mod, so its path needs a /${version.split('.')[0] ?? ''} suffix`,
    );
  }

  const git = await gitFiles(dir);
  let listed;
  try {
    listed = await listModuleFiles(dir, git);
  } catch (e) {
    throw new GoPublishError(e instanceof Error ? e.message : String(e));
  }
  const ignored = listed.omitted.filter((o) => o.reason === IGNORED_BY_GIT).map((o) => o.path);
  if (goModText !== undefined && ignored.includes('go.mod')) {
    // A DIR git ignores as a whole (a build output): its zip would lack the go.mod it declares.
    throw new GoPublishError(
      `${dir}/go.mod is ignored by git: publish a directory git keeps, or run outside the work tree`,
    );
  }
  // A checkout's `.git` is left out of every zip, as `go mod` does: information, not a problem
  // (trial 33 read `omitted .git: directory is a version control repository` as a warning).
  const vcs = listed.omitted.filter((o) => o.reason === VERSION_CONTROL).map((o) => `${o.path}/`);
  for (const o of listed.omitted)
    if (o.reason !== IGNORED_BY_GIT && o.reason !== VERSION_CONTROL) {
      log(`omitted ${o.path}: ${o.reason}`);
    }
  if (vcs.length > 0) {
    log(
      `${vcs.join(', ')} ${vcs.length === 1 ? 'is' : 'are'} not put in the zip (version control data never is)`,
    );
  }
  if (ignored.length > 0) {
    const shown = ignored.slice(0, 5).join(', ');
    const more = ignored.length > 5 ? ` and ${ignored.length - 5} more` : '';
    log(
      `left out ${ignored.length === 1 ? '1 path' : `${ignored.length} paths`} git ignores (${shown}${more}), as a zip made from the repository would`,
    );
  }
  const changed = await uncommittedChanges(dir);
  if (changed.length > 0) {
    // The version would name bytes no commit has, and a published version never changes: refuse
    // unless asked (a local test publish is legitimate), as `cargo publish` does.
    const shown = changed.slice(0, 3).join(', ');
    const more = changed.length > 3 ? ` and ${changed.length - 3} more` : '';
    if (options.allowDirty !== true) {
      throw new GoPublishError(
        `${dir} has uncommitted changes (${shown}${more}): commit them, or pass --allow-dirty to publish the working tree as ${version}`,
      );
    }
    log(
      `warning: ${dir} has uncommitted changes (${shown}${more}): the zip holds the working tree, not a commit of ${version}`,
    );
  }
  const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'nora-go-publish-'));
  try {
    const zipPath = path.join(tmp, 'module.zip');
    const zipSize = await writeModuleZip(zipPath, module, version, listed.files);
    log(
      `built ${module}@${version}: ${listed.files.length === 1 ? '1 file' : `${listed.files.length} files`}, ${zipSize} bytes`,
    );
    if (options.dryRun === true) {
      return { module, version, files: listed.files.length, zipSize, answer: undefined };
    }
    const lines = (await upload(options, module, version, zipPath, zipSize)).split('\n');
    // The server's warnings (a module path taken over from a group's proxy) go to stderr.
    for (const line of lines) if (line.startsWith('warning: ')) log(line);
    const answer = lines.filter((line) => !line.startsWith('warning: ')).join('\n');
    return { module, version, files: listed.files.length, zipSize, answer };
  } finally {
    await fs.rm(tmp, { recursive: true, force: true });
  }
}

async function upload(
  options: GoPublishOptions,
  module: string,
  version: string,
  zipPath: string,
  zipSize: number,
): Promise<string> {
  const { prefix, headers } = registryOf(options, (message) => new GoPublishError(message));
  headers['content-type'] = 'application/zip';
  headers['content-length'] = String(zipSize);
  const shadow = options.shadow === true ? '?shadow=1' : '';
  const url = `${prefix}/${escapePath(module)}/@v/${escapeVersion(version)}.zip${shadow}`;
  let res: HttpAnswer;
  try {
    res = await httpRequest(url, { method: 'PUT', headers, body: createReadStream(zipPath) });
  } catch (e) {
    throw new GoPublishError(unreachable(prefix, e));
  }
  return answerOf(res, prefix, headers, (message) => new GoPublishError(message));
}

/**
 * The registry a `nora go` command talks to and the headers that authenticate it: `--registry`,
 * else NORA_GO_REGISTRY, else the default. Credentials, first found: Bearer `--token`, Basic from a
 * `user:secret@` in the URL, Bearer NORA_TOKEN. `prefix` has no trailing slash and no credentials. Throws
 * `fail(message)` for a registry that is not a URL.
 */
export function registryOf(
  options: { readonly registry?: string | undefined; readonly token?: string | undefined },
  fail: (message: string) => Error,
): { prefix: string; headers: Record<string, string> } {
  const fromEnv = process.env['NORA_GO_REGISTRY'];
  const raw =
    options.registry ?? (fromEnv === undefined || fromEnv === '' ? DEFAULT_REGISTRY : fromEnv);
  let base: URL;
  try {
    base = new URL(raw);
  } catch {
    throw fail(`--registry: not a URL: ${raw}`);
  }
  const headers: Record<string, string> = {};
  if (base.username !== '' || base.password !== '') {
    const user = decodeURIComponent(base.username);
    const pass = decodeURIComponent(base.password);
    headers['authorization'] = `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;
    base.username = '';
    base.password = '';
  }
  // What the command line says wins over the environment: `--token`, then credentials written
  // in `--registry`'s URL, then NORA_TOKEN (a token exported for another registry or user must
  // not replace the user:secret typed in the URL: trial 15 godel F13).
  const fromUrl = headers['authorization'] !== undefined;
  const envToken = process.env['NORA_TOKEN'];
  const token = options.token ?? (fromUrl ? undefined : envToken);
  if (token !== undefined && token !== '') headers['authorization'] = `Bearer ${token}`;
  return { prefix: base.href.replace(/\/+$/, ''), headers };
}

/** `cannot reach <prefix>: <why>` for a request to `prefix` that got no answer (`err`). */
export function unreachable(prefix: string, err: unknown): string {
  const why = err instanceof Error ? err.message : String(err);
  return `cannot reach ${prefix}${why === '' ? '' : `: ${why}`}`;
}

/**
 * Why `version` of `module` cannot be published or deleted (checkModuleVersion), with a `did you
 * mean v0.1.0?` when the version lacks only its leading `v` (Go versions always have one; tags
 * of other ecosystems, `0.1.0`, do not). Undefined when it is valid.
 */
export function versionArgumentError(module: string, version: string): string | undefined {
  const err = checkModuleVersion(module, version);
  if (err === undefined || version.startsWith('v')) return err;
  return checkModuleVersion(module, `v${version}`) === undefined
    ? `${err}: did you mean v${version}?`
    : err;
}

/**
 * What a 401 says when the request carried no credentials: where the CLI takes them from.
 */
const NO_CREDENTIALS_HINT =
  " (pass --token or set NORA_TOKEN, or put user:password in --registry's URL)";

/**
 * The text of a registry's answer `res` to a request at `prefix` (sent with `headers`); throws
 * `fail("<status> <reason>: <message>")` for an error, or, for a 404/405 of a URL that is no
 * Go repository, that it is not one. A 401 to a request without credentials says how to give
 * them. The message is the body's text, or the message of NORA's JSON error shapes (`error`,
 * `message`, `errors[0].message`: a URL outside the Go mount answers those; trial 32 ops printed
 * `{"error":"invalid credentials"}` raw).
 */
export async function answerOf(
  res: HttpAnswer,
  prefix: string,
  headers: Record<string, string>,
  fail: (message: string) => Error,
): Promise<string> {
  const text = (await res.text()).trim();
  if (!res.ok) {
    // The Go mount's refusals are plain text, printed whole (they name the way out); only a JSON
    // body (another mount's) goes through errorNote, which picks its message and bounds it.
    const answer = text.startsWith('{')
      ? `${res.status} ${res.statusText}${errorNote(text) || ':'}`
      : `${res.status} ${res.statusText}: ${text.split('\n')[0] ?? ''}`;
    // A 4xx from a URL that is no Go repository (another format's mount such as /cargo or
    // /maven2, the root URL) would otherwise echo that format's raw error (Maven's 400 `invalid
    // characters in path segment "@v"`: trial 33): asked what answered instead.
    if (
      res.status >= 400 &&
      res.status < 500 &&
      res.status !== 401 &&
      res.status !== 403 &&
      !(await isGoRepository(prefix, headers))
    ) {
      const base = serverBase(prefix);
      throw fail(
        `${prefix} is not a Go module mount of NORA (${answer}); --registry must be the Go ` +
          `group (${base}/go) or a Go repository (${base}/repository/<name>)`,
      );
    }
    if (res.status === 401 && headers['authorization'] === undefined) {
      throw fail(`${answer}${NO_CREDENTIALS_HINT}`);
    }
    throw fail(answer);
  }
  return text;
}

/**
 * The server URL below `prefix` (a wrong `--registry`): `prefix` without its `/repository/<name>`
 * or its last path segment (another format's mount such as `/maven2`), `prefix` itself when it
 * has no path. Keeps a reverse proxy's path prefix (`https://host/nora/maven2` → `…/nora`).
 */
export function serverBase(prefix: string): string {
  let url: URL;
  try {
    url = new URL(prefix);
  } catch {
    return prefix;
  }
  const pathname = url.pathname.replace(/\/+$/, '');
  const under = /^(.*)\/repository\/[^/]+$/.exec(pathname)?.[1];
  const kept = under ?? pathname.replace(/\/[^/]*$/, '');
  return `${url.origin}${kept}`;
}

/**
 * True when `prefix` answers as a NORA Go repository does at its root (`GET <prefix>/` → 200
 * `<name>: Go module proxy`, routes.ts) or cannot tell (401/403, unreachable): only a clear
 * other answer makes the CLI say the URL is not a Go repository.
 */
async function isGoRepository(prefix: string, headers: Record<string, string>): Promise<boolean> {
  const probe: Record<string, string> = {};
  if (headers['authorization'] !== undefined) probe['authorization'] = headers['authorization'];
  try {
    const res = await httpRequest(`${prefix}/`, { headers: probe });
    const body = await res.text();
    if (res.status === 401 || res.status === 403) return true;
    return res.ok && /: Go module proxy\n?$/.test(body);
  } catch {
    return true;
  }
}

/**
 * The files git keeps below `dir` (tracked, and untracked but not ignored: `git ls-files
 * --cached --others --exclude-standard`), or undefined when `dir` is not in a git work tree or
 * git is missing (then every file is published, as before). Files git ignores (`.env`,
 * `node_modules/`) are never in a module zip the `go` command makes from the repository, and a
 * published version cannot be taken back: leaving them out keeps a secret from leaking.
 */
export async function gitFiles(dir: string): Promise<GitFileSet | undefined> {
  let inside: string;
  try {
    inside = (
      await promisify(execFile)('git', ['rev-parse', '--is-inside-work-tree'], { cwd: dir })
    ).stdout.trim();
  } catch (e) {
    const stderr = e instanceof Error && 'stderr' in e ? String(e.stderr).trim() : '';
    // git missing, or not a repository: nothing to ask. Any other refusal (a repository owned
    // by someone else, `safe.directory`) must not quietly publish the ignored files.
    if (stderr === '' || /not a git repository/i.test(stderr)) return undefined;
    throw new GoPublishError(`git cannot list the files of ${dir}: ${stderr.split('\n')[0] ?? ''}`);
  }
  if (inside !== 'true') return undefined;
  try {
    const { stdout } = await promisify(execFile)(
      'git',
      ['ls-files', '-z', '--cached', '--others', '--exclude-standard', '--', '.'],
      { cwd: dir, maxBuffer: 256 * 1024 * 1024 },
    );
    return gitFileSet(stdout);
  } catch (e) {
    // In a work tree but unable to list it: refuse rather than publish ignored files.
    const detail = e instanceof Error && 'stderr' in e ? String(e.stderr).trim() : String(e);
    throw new GoPublishError(`git ls-files in ${dir} failed: ${detail}`);
  }
}

/** The newest semver tag pointing at HEAD of the git repository holding `dir`. */
async function tagAtHead(dir: string): Promise<string> {
  let out: string;
  try {
    out = (await promisify(execFile)('git', ['tag', '--points-at', 'HEAD'], { cwd: dir })).stdout;
  } catch {
    throw new GoPublishError(`no --version given and ${dir} is not in a git repository`);
  }
  // In a subdirectory module (`a/b/go.mod` tagged `a/b/v1.2.3`), tags carry the directory.
  const top = (
    await promisify(execFile)('git', ['rev-parse', '--show-prefix'], { cwd: dir }).catch(() => ({
      stdout: '',
    }))
  ).stdout.trim();
  const atHead = out
    .split('\n')
    .map((t) => t.trim())
    .map((t) => (top !== '' && t.startsWith(top) ? t.slice(top.length) : t));
  const tags = atHead.filter((t) => isValidSemver(t) && t.split('.').length >= 3);
  if (tags.length === 0) {
    // A tag made by another ecosystem's habit (`1.4.0`): go ignores it, say so and how to fix.
    const unprefixed = atHead.find((t) => isValidSemver(`v${t}`) && t.split('.').length >= 3);
    throw new GoPublishError(
      unprefixed === undefined
        ? 'no --version given and no semver tag (vX.Y.Z) points at HEAD'
        : `no --version given and no semver tag (vX.Y.Z) points at HEAD: HEAD is tagged ${top}${unprefixed}, which go ignores (no leading v): tag ${top}v${unprefixed} or pass --version v${unprefixed}`,
    );
  }
  return tags.sort(compareSemver).at(-1) ?? '';
}

/**
 * Paths (relative to the repository root) with uncommitted changes under `dir`: modified, staged,
 * deleted or untracked (not ignored) files, as `git status` lists them. Empty when `dir` is not in
 * a git checkout or git is missing: there is nothing to warn about then.
 */
export async function uncommittedChanges(dir: string): Promise<string[]> {
  let out: string;
  try {
    out = (
      await promisify(execFile)(
        'git',
        ['status', '--porcelain=v1', '-z', '--untracked-files=all', '--', '.'],
        { cwd: dir, maxBuffer: 16 * 1024 * 1024 },
      )
    ).stdout;
  } catch {
    return [];
  }
  const paths: string[] = [];
  const records = out.split('\0');
  for (let i = 0; i < records.length; i++) {
    const record = records[i] ?? '';
    if (record.length < 4) continue;
    paths.push(record.slice(3));
    // A rename or copy is followed by its source path: skip it.
    if (record[0] === 'R' || record[0] === 'C') i++;
  }
  return paths;
}

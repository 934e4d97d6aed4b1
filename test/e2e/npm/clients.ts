/**
 * The four npm clients behind one interface, so the e2e scenario is written once. Every client
 * gets its own HOME, user config, caches and store under a temp dir; inherited npm/yarn/pnpm
 * settings are dropped so the machine's configuration never leaks in.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { findTool, PROJECT_ROOT, run, type RunResult } from '../../helpers/tools.ts';
import { NpmHttp } from '../../integration/npm/client.ts';

export interface ClientContext {
  /** Registry URL with a trailing slash, e.g. http://127.0.0.1:40000/npm/ */
  readonly registry: string;
  /** '' for an anonymous client (no credentials written). */
  readonly token: string;
  /** Private HOME for this client. */
  readonly home: string;
}

export interface NpmClient {
  readonly id: string;
  /** Why the client cannot run here, or false. */
  readonly missing: string | false;
  /** Commands the client does not have, with the reason (the step is skipped, never passed). */
  readonly lacks: Partial<Record<'whoami' | 'deprecate' | 'unpublish' | 'search', string>>;
  configure(ctx: ClientContext): Promise<void>;
  /** Makes `dir` a project the client can work in (berry needs a lockfile). */
  prepareProject(dir: string): Promise<void>;
  publish(dir: string, tag?: string): Promise<RunResult>;
  install(dir: string, specs: readonly string[]): Promise<RunResult>;
  view(name: string): Promise<RunResult>;
  distTagAdd(spec: string, tag: string): Promise<RunResult>;
  distTagList(name: string): Promise<RunResult>;
  distTagRemove(name: string, tag: string): Promise<RunResult>;
  deprecate(spec: string, message: string): Promise<RunResult>;
  unpublish(spec: string): Promise<RunResult>;
  search(text: string): Promise<RunResult>;
  whoami(): Promise<RunResult>;
}

const TIMEOUT = 180_000;
/**
 * pnpm and yarn are installed by scripts/install-test-clients.sh under .tools/npm-tools, not as
 * devDependencies: pnpm's lockfile entry needs per-platform binaries that the registry this
 * machine reaches does not all serve, which breaks `npm ci`.
 */
const NPM_TOOLS = path.join(PROJECT_ROOT, '.tools', 'npm-tools', 'node_modules');
const PNPM = path.join(NPM_TOOLS, 'pnpm', 'bin', 'pnpm.mjs');
const YARN_CLASSIC = path.join(NPM_TOOLS, 'yarn', 'bin', 'yarn.js');
const YARN_BERRY = path.join(NPM_TOOLS, '@yarnpkg', 'cli-dist', 'bin', 'yarn.js');

/** The parent environment minus every package-manager setting. */
function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (/^(npm_|yarn_|pnpm_|corepack_|berry_)/i.test(key)) continue;
    env[key] = value;
  }
  return env;
}

function scriptMissing(script: string, what: string): string | false {
  return existsSync(script)
    ? false
    : `client not installed: ${what} (run scripts/install-test-clients.sh)`;
}

/**
 * Writes `home/.npmrc`: `registry`, the `extra` lines (credentials, scope registries), no fund,
 * audit or update notices, npm's cache inside `home`. Returns the file's path.
 */
export async function writeUserNpmrc(
  home: string,
  registry: string,
  extra: readonly string[] = [],
): Promise<string> {
  const file = path.join(home, '.npmrc');
  await fs.writeFile(
    file,
    [
      `registry=${registry}`,
      ...extra,
      'fund=false',
      'audit=false',
      'update-notifier=false',
      `cache=${path.join(home, 'npm-cache')}`,
      '',
    ].join('\n'),
  );
  return file;
}

/** A publisher's home and a one-file package ready for `npm publish`, as {@link writePublisher} leaves them. */
export interface PublisherTree {
  /** HOME of the publishing npm, its .npmrc holding an anonymous token for the registry. */
  readonly home: string;
  /** The package folder: package.json (`name`@1.0.0) and index.js. */
  readonly pkg: string;
  /** The `//host/path/:_authToken=anonymous` line, for other homes on the same registry. */
  readonly authLine: string;
}

/**
 * Writes, under `work`, a publisher home (`publisher/`, its .npmrc on `registry` with an
 * anonymous token: auth off takes any) and a one-file package `name`@1.0.0 (`pkg/`).
 */
export async function writePublisher(
  work: string,
  registry: string,
  name: string,
): Promise<PublisherTree> {
  const authLine = `${registry.replace(/^https?:/, '')}:_authToken=anonymous`;
  const home = path.join(work, 'publisher');
  const pkg = path.join(work, 'pkg');
  await fs.mkdir(home, { recursive: true });
  await fs.mkdir(pkg, { recursive: true });
  await writeUserNpmrc(home, registry, [authLine]);
  await fs.writeFile(
    path.join(pkg, 'package.json'),
    JSON.stringify({ name, version: '1.0.0', main: 'index.js' }),
  );
  await fs.writeFile(path.join(pkg, 'index.js'), 'module.exports = 1;\n');
  return { home, pkg, authLine };
}

function writeNpmrc(ctx: ClientContext): Promise<string> {
  const hostPath = ctx.registry.replace(/^https?:/, '');
  return writeUserNpmrc(
    ctx.home,
    ctx.registry,
    ctx.token === '' ? [] : [`${hostPath}:_authToken=${ctx.token}`],
  );
}

/**
 * npm's environment for a test that wrote its own user config `npmrc`: `home` as HOME, no
 * inherited npm settings and no NORA_ variable (the server's, not the client's).
 */
export function npmUserEnv(home: string, npmrc: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!/^(npm_|NORA_)/i.test(key)) env[key] = value;
  }
  return { ...env, HOME: home, npm_config_userconfig: npmrc };
}

/** A client's environment: `home` as HOME, its .npmrc and XDG directories, no inherited settings. */
export function homeEnv(home: string): NodeJS.ProcessEnv {
  return {
    ...cleanEnv(),
    HOME: home,
    NPM_CONFIG_USERCONFIG: path.join(home, '.npmrc'),
    XDG_CACHE_HOME: path.join(home, 'xdg-cache'),
    XDG_DATA_HOME: path.join(home, 'xdg-data'),
    XDG_CONFIG_HOME: path.join(home, 'xdg-config'),
    XDG_STATE_HOME: path.join(home, 'xdg-state'),
  };
}

/**
 * npm run by a test on its own: a private HOME under `dir` whose npm talks to `serverUrl`'s
 * `/npm/` with the token a login handed back (auth off: any login gets an anonymous token,
 * which npm wants for writes). Returns a runner of `npm <args> --registry …` in `cwd` (the home
 * by default) that never throws: the test reads the exit code and output.
 */
export async function npmFor(
  serverUrl: string,
  dir: string,
): Promise<(args: readonly string[], cwd?: string) => Promise<RunResult>> {
  const http = new NpmHttp(`${serverUrl}/npm`);
  assert.equal((await http.login('e2e', 'e2e-password')).status, 201);
  const home = path.join(dir, 'home');
  const registry = `${serverUrl}/npm/`;
  await fs.mkdir(home, { recursive: true });
  await writeUserNpmrc(home, registry, [
    `${registry.replace(/^https?:/, '')}:_authToken=${http.token ?? ''}`,
  ]);
  const env = homeEnv(home);
  return (args, cwd = home) =>
    run('npm', [...args, '--registry', registry], {
      cwd,
      env,
      check: false,
      timeoutMs: 120_000,
      input: '',
    });
}

/** A one-file package `name`@`version` (package.json, index.js) in `root/<name>-<version>`. */
export async function packageDir(root: string, name: string, version: string): Promise<string> {
  const dir = path.join(root, `${name}-${version}`);
  await fs.mkdir(dir, { recursive: true });
  await fs.writeFile(path.join(dir, 'package.json'), JSON.stringify({ name, version }));
  await fs.writeFile(path.join(dir, 'index.js'), `module.exports = '${name}@${version}';\n`);
  return dir;
}

abstract class BaseClient implements NpmClient {
  abstract readonly id: string;
  abstract readonly missing: string | false;
  readonly lacks: NpmClient['lacks'] = {};
  protected ctx!: ClientContext;
  protected env: NodeJS.ProcessEnv = {};
  protected cwd = '/';

  async configure(ctx: ClientContext): Promise<void> {
    this.ctx = ctx;
    await writeNpmrc(ctx);
    this.env = homeEnv(ctx.home);
    this.cwd = ctx.home;
  }

  async prepareProject(_dir: string): Promise<void> {
    // Most clients need nothing beyond package.json.
  }

  protected abstract exec(args: readonly string[], cwd?: string): Promise<RunResult>;

  abstract publish(dir: string, tag?: string): Promise<RunResult>;
  abstract install(dir: string, specs: readonly string[]): Promise<RunResult>;
  abstract view(name: string): Promise<RunResult>;
  abstract distTagAdd(spec: string, tag: string): Promise<RunResult>;
  abstract distTagList(name: string): Promise<RunResult>;
  abstract distTagRemove(name: string, tag: string): Promise<RunResult>;

  deprecate(spec: string, message: string): Promise<RunResult> {
    return this.exec(['deprecate', spec, message]);
  }
  unpublish(spec: string): Promise<RunResult> {
    return this.exec(['unpublish', spec, '--force']);
  }
  search(text: string): Promise<RunResult> {
    return this.exec(['search', text]);
  }
  whoami(): Promise<RunResult> {
    return this.exec(['whoami']);
  }
}

export class NpmCli extends BaseClient {
  readonly id = 'npm';
  readonly missing = findTool('npm') === undefined ? 'client not installed: npm' : false;

  protected exec(args: readonly string[], cwd = this.cwd): Promise<RunResult> {
    return run('npm', [...args, '--registry', this.ctx.registry], {
      cwd,
      env: this.env,
      timeoutMs: TIMEOUT,
    });
  }
  publish(dir: string, tag = 'latest'): Promise<RunResult> {
    return this.exec(['publish', '--access', 'public', '--tag', tag], dir);
  }
  install(dir: string, specs: readonly string[]): Promise<RunResult> {
    return this.exec(['install', '--no-audit', '--no-fund', ...specs], dir);
  }
  view(name: string): Promise<RunResult> {
    return this.exec(['view', name, '--json']);
  }
  distTagAdd(spec: string, tag: string): Promise<RunResult> {
    return this.exec(['dist-tag', 'add', spec, tag]);
  }
  distTagList(name: string): Promise<RunResult> {
    return this.exec(['dist-tag', 'ls', name]);
  }
  distTagRemove(name: string, tag: string): Promise<RunResult> {
    return this.exec(['dist-tag', 'rm', name, tag]);
  }
}

export class PnpmCli extends BaseClient {
  readonly id = 'pnpm';
  readonly missing = scriptMissing(PNPM, 'pnpm');

  protected exec(args: readonly string[], cwd = this.cwd): Promise<RunResult> {
    return run(process.execPath, [PNPM, ...args, '--registry', this.ctx.registry], {
      cwd,
      env: this.env,
      timeoutMs: TIMEOUT,
    });
  }
  publish(dir: string, tag = 'latest'): Promise<RunResult> {
    return this.exec(['publish', '--no-git-checks', '--access', 'public', '--tag', tag], dir);
  }
  install(dir: string, specs: readonly string[]): Promise<RunResult> {
    return this.exec(['add', ...specs, '--store-dir', path.join(this.ctx.home, 'pnpm-store')], dir);
  }
  view(name: string): Promise<RunResult> {
    return this.exec(['view', name, '--json']);
  }
  distTagAdd(spec: string, tag: string): Promise<RunResult> {
    return this.exec(['dist-tag', 'add', spec, tag]);
  }
  distTagList(name: string): Promise<RunResult> {
    return this.exec(['dist-tag', 'ls', name]);
  }
  distTagRemove(name: string, tag: string): Promise<RunResult> {
    return this.exec(['dist-tag', 'rm', name, tag]);
  }
}

export class YarnClassicCli extends BaseClient {
  readonly id = 'yarn-classic';
  readonly missing = scriptMissing(YARN_CLASSIC, 'yarn@1');
  override readonly lacks = {
    whoami: 'yarn classic has no whoami command',
    deprecate: 'yarn classic has no deprecate command',
    unpublish: 'yarn classic has no unpublish command',
    search: 'yarn classic has no search command',
  };

  protected exec(args: readonly string[], cwd = this.cwd): Promise<RunResult> {
    return run(
      process.execPath,
      [
        YARN_CLASSIC,
        ...args,
        '--registry',
        this.ctx.registry,
        '--non-interactive',
        '--cache-folder',
        path.join(this.ctx.home, 'yarn-cache'),
      ],
      {
        cwd,
        env: { ...this.env, YARN_CACHE_FOLDER: path.join(this.ctx.home, 'yarn-cache') },
        timeoutMs: TIMEOUT,
      },
    );
  }
  publish(dir: string, tag = 'latest'): Promise<RunResult> {
    return this.exec(['publish', '--access', 'public', '--tag', tag], dir);
  }
  install(dir: string, specs: readonly string[]): Promise<RunResult> {
    return this.exec(['add', ...specs], dir);
  }
  view(name: string): Promise<RunResult> {
    return this.exec(['info', name, '--json']);
  }
  distTagAdd(spec: string, tag: string): Promise<RunResult> {
    return this.exec(['tag', 'add', spec, tag]);
  }
  distTagList(name: string): Promise<RunResult> {
    return this.exec(['tag', 'list', name]);
  }
  distTagRemove(name: string, tag: string): Promise<RunResult> {
    return this.exec(['tag', 'remove', name, tag]);
  }
}

export class YarnBerryCli extends BaseClient {
  readonly id = 'yarn-berry';
  readonly missing = scriptMissing(YARN_BERRY, '@yarnpkg/cli-dist');
  override readonly lacks = {
    deprecate: 'yarn berry has no deprecate command',
    unpublish: 'yarn berry has no unpublish command',
    search: 'yarn berry has no search command',
  };

  override async configure(ctx: ClientContext): Promise<void> {
    await super.configure(ctx);
    // Plain http needs unsafeHttpWhitelist; npmMinimalAgeGate 0 lets fresh publishes resolve.
    this.env = {
      ...this.env,
      YARN_IGNORE_PATH: '1',
      YARN_ENABLE_IMMUTABLE_INSTALLS: 'false',
      YARN_ENABLE_TELEMETRY: '0',
      YARN_ENABLE_GLOBAL_CACHE: 'false',
      YARN_NPM_REGISTRY_SERVER: ctx.registry.replace(/\/$/, ''),
      YARN_UNSAFE_HTTP_WHITELIST: '127.0.0.1',
      YARN_NPM_AUTH_TOKEN: ctx.token,
      YARN_NPM_MINIMAL_AGE_GATE: '0',
      YARN_NODE_LINKER: 'node-modules',
      YARN_CACHE_FOLDER: path.join(ctx.home, 'berry-cache'),
      YARN_GLOBAL_FOLDER: path.join(ctx.home, 'berry-global'),
    };
    // `yarn npm …` commands run inside a project.
    this.cwd = path.join(ctx.home, 'berry-cwd');
    await fs.mkdir(this.cwd, { recursive: true });
    await fs.writeFile(
      path.join(this.cwd, 'package.json'),
      '{"name":"berry-cwd","private":true}\n',
    );
    await this.prepareProject(this.cwd);
  }

  override async prepareProject(dir: string): Promise<void> {
    await fs.writeFile(path.join(dir, 'yarn.lock'), '');
    await this.exec(['install'], dir);
  }

  protected exec(args: readonly string[], cwd = this.cwd): Promise<RunResult> {
    return run(process.execPath, [YARN_BERRY, ...args], { cwd, env: this.env, timeoutMs: TIMEOUT });
  }
  publish(dir: string, tag = 'latest'): Promise<RunResult> {
    return this.exec(['npm', 'publish', '--access', 'public', '--tag', tag], dir);
  }
  install(dir: string, specs: readonly string[]): Promise<RunResult> {
    return this.exec(['add', ...specs], dir);
  }
  view(name: string): Promise<RunResult> {
    return this.exec(['npm', 'info', name, '--json']);
  }
  distTagAdd(spec: string, tag: string): Promise<RunResult> {
    return this.exec(['npm', 'tag', 'add', spec, tag]);
  }
  distTagList(name: string): Promise<RunResult> {
    return this.exec(['npm', 'tag', 'list', name]);
  }
  distTagRemove(name: string, tag: string): Promise<RunResult> {
    return this.exec(['npm', 'tag', 'remove', name, tag]);
  }
  override whoami(): Promise<RunResult> {
    return this.exec(['npm', 'whoami']);
  }
}

export const CLIENTS: readonly NpmClient[] = [
  new NpmCli(),
  new PnpmCli(),
  new YarnClassicCli(),
  new YarnBerryCli(),
];

/**
 * Python real-client plumbing for the PyPI e2e tests: Debian's own interpreter and clients
 * (`/usr/bin/python3`, python3-build, python3-venv, twine, python3-poetry, python3-pdm, pipenv),
 * each run asynchronously with a timeout in an isolated environment (a private HOME, XDG dirs,
 * no pip/poetry/pdm/pipenv user configuration, no keyring, no prompts), so a test never reads
 * the machine's settings nor waits on a question.
 *
 * Building is offline: `python3 -m build --no-isolation` uses the system's setuptools (or
 * pdm-pep517); `poetry build` uses poetry-core in-process. Nothing here needs the public index.
 */
import assert from 'node:assert/strict';
import { accessSync, constants, existsSync, readdirSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { tempDir } from './tmp.ts';
import { findTool, output, run, type RunResult } from './tools.ts';

/** Debian's interpreter: the one python3-build, python3-venv, poetry, pdm and pipenv run on. */
export const SYSTEM_PYTHON = '/usr/bin/python3';
/** Debian's real wheels (python3-pip-whl, python3-setuptools-whl, python3-wheel-whl). */
export const DEBIAN_WHEELS_DIR = '/usr/share/python-wheels';
/** One client step may take this long at most (ms). */
export const STEP_TIMEOUT_MS = 120_000;

const SYSTEM_SITE = '/usr/lib/python3/dist-packages';

/** What a PyPI e2e test may need; each maps to a Debian package. */
export type PythonNeed = 'build' | 'venv' | 'twine' | 'poetry' | 'pdm' | 'pipenv' | 'wheels';

function executable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function debianWheels(): string[] {
  try {
    return readdirSync(DEBIAN_WHEELS_DIR)
      .filter((f) => f.endsWith('.whl'))
      .sort();
  } catch {
    return [];
  }
}

const NEED_CHECKS: Record<PythonNeed, () => string | undefined> = {
  build: () =>
    existsSync(path.join(SYSTEM_SITE, 'build')) && existsSync(path.join(SYSTEM_SITE, 'setuptools'))
      ? undefined
      : 'python3-build / python3-setuptools',
  // Debian's venv module seeds pip from python3-pip-whl (ensurepip is patched to use it).
  venv: () =>
    debianWheels().some((f) => f.startsWith('pip-')) &&
    existsSync('/var/lib/dpkg/info/python3-venv.list') &&
    existsSync(path.join(SYSTEM_SITE, 'pip'))
      ? undefined
      : 'python3-venv, python3-pip (python3-pip-whl)',
  twine: () => (findTool('twine') ? undefined : 'twine'),
  poetry: () =>
    findTool('poetry') && existsSync(path.join(SYSTEM_SITE, 'poetry', 'core'))
      ? undefined
      : 'python3-poetry (poetry, poetry-core)',
  pdm: () =>
    findTool('pdm') && existsSync(path.join(SYSTEM_SITE, 'pdm', 'pep517'))
      ? undefined
      : 'python3-pdm (pdm, pdm-pep517)',
  pipenv: () => (findTool('pipenv') ? undefined : 'pipenv'),
  wheels: () =>
    ['pip-', 'setuptools-', 'wheel-'].every((p) => debianWheels().some((f) => f.startsWith(p)))
      ? undefined
      : 'python3-pip-whl, python3-setuptools-whl, python3-wheel-whl',
};

/**
 * For `test(name, { skip: missingPython('twine', 'venv') }, …)`: a reason naming the missing
 * Debian packages, or false when everything is there.
 */
export function missingPython(...needs: PythonNeed[]): string | false {
  if (!executable(SYSTEM_PYTHON))
    return `${SYSTEM_PYTHON} not installed (run scripts/install-test-clients.sh)`;
  const missing = needs.map((n) => NEED_CHECKS[n]()).filter((m): m is string => m !== undefined);
  return missing.length === 0
    ? false
    : `client not installed: ${missing.join(', ')} (run scripts/install-test-clients.sh)`;
}

/** Debian's real wheel files, absolute paths, sorted. */
export function debianWheelFiles(): string[] {
  return debianWheels().map((f) => path.join(DEBIAN_WHEELS_DIR, f));
}

const INHERITED_DROP =
  /^(PIP_|PYTHON|VIRTUAL_ENV|CONDA|POETRY_|PDM_|PIPENV_|TWINE_|PYENV|UV_|HTTPS?_PROXY$|ALL_PROXY$|REQUESTS_CA_BUNDLE$|CURL_CA_BUNDLE$|NETRC$)/i;

/**
 * A private home for Python clients: `dir` is created; the environment has no inherited
 * pip/poetry/pdm/pipenv/twine variables, its own HOME and XDG dirs, pip without config, cache
 * prompts or version checks, the null keyring, and `/usr/bin` first on PATH (Debian's python,
 * not a pyenv shim).
 */
export async function pythonHome(
  dir: string,
  extra: Record<string, string> = {},
): Promise<PythonHome> {
  await fs.mkdir(dir, { recursive: true });
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!INHERITED_DROP.test(key)) env[key] = value;
  }
  const pathDirs = (process.env['PATH'] ?? '')
    .split(path.delimiter)
    .filter((d) => d !== '' && !/pyenv/.test(d));
  Object.assign(env, {
    PATH: ['/usr/bin', '/bin', ...pathDirs].join(path.delimiter),
    HOME: dir,
    XDG_CONFIG_HOME: path.join(dir, '.config'),
    XDG_CACHE_HOME: path.join(dir, '.cache'),
    XDG_DATA_HOME: path.join(dir, '.local', 'share'),
    LANG: 'C.UTF-8',
    LC_ALL: 'C.UTF-8',
    NO_PROXY: '127.0.0.1,localhost',
    no_proxy: '127.0.0.1,localhost',
    PIP_CONFIG_FILE: '/dev/null',
    PIP_NO_INPUT: '1',
    PIP_DISABLE_PIP_VERSION_CHECK: '1',
    PIP_NO_COLOR: '1',
    NO_COLOR: '1',
    TERM: 'dumb',
    PIP_PROGRESS_BAR: 'off',
    PYTHONNOUSERSITE: '1',
    PYTHON_KEYRING_BACKEND: 'keyring.backends.null.Keyring',
    POETRY_CONFIG_DIR: path.join(dir, 'poetry-config'),
    POETRY_CACHE_DIR: path.join(dir, 'poetry-cache'),
    POETRY_NO_INTERACTION: '1',
    POETRY_VIRTUALENVS_IN_PROJECT: 'true',
    PDM_CHECK_UPDATE: 'false',
    PDM_PYTHON: SYSTEM_PYTHON,
    PDM_CACHE_DIR: path.join(dir, 'pdm-cache'),
    PIPENV_VENV_IN_PROJECT: '1',
    PIPENV_NOSPIN: '1',
    PIPENV_YES: '1',
    PIPENV_IGNORE_VIRTUALENVS: '1',
    PIPENV_CACHE_DIR: path.join(dir, 'pipenv-cache'),
    PIPENV_VERBOSITY: '-1',
    VIRTUALENV_OVERRIDE_APP_DATA: path.join(dir, 'virtualenv-app-data'),
    ...extra,
  });
  return { dir, env };
}

export interface PythonHome {
  readonly dir: string;
  readonly env: NodeJS.ProcessEnv;
}

export interface StepOptions {
  readonly cwd?: string;
  readonly timeoutMs?: number;
  /** Throw on a non-zero exit (default true; the error carries stdout and stderr). */
  readonly check?: boolean;
  readonly env?: Record<string, string>;
}

/** Runs one client command in `home`'s environment, bounded by `timeoutMs` (killed after). */
export function step(
  home: PythonHome,
  command: string,
  args: readonly string[],
  options: StepOptions = {},
): Promise<RunResult> {
  return run(command, args, {
    cwd: options.cwd ?? home.dir,
    env: { ...home.env, ...(options.env ?? {}) },
    timeoutMs: options.timeoutMs ?? STEP_TIMEOUT_MS,
    check: options.check ?? true,
  });
}

export { output } from './tools.ts';

export interface Venv {
  readonly dir: string;
  readonly python: string;
  /** Runs pip for this venv (installs go into it). */
  pip(args: readonly string[], options?: StepOptions): Promise<RunResult>;
  /** `importlib.metadata.version(dist)` for each name, or null when not installed. */
  versions(...dists: string[]): Promise<Record<string, string | null>>;
}

/**
 * A fresh venv (`/usr/bin/python3 -m venv`), offline. By default without a pip of its own:
 * `pip()` runs Debian's pip on it (`python3 -m pip --python <venv>/bin/python`, pip ≥ 22.3),
 * which installs into the venv exactly as the venv's own pip would, without ensurepip's seconds
 * of installing pip + setuptools into every venv. `seed: true` runs ensurepip and uses the
 * venv's own pip; `buildTools: true` lets the venv see Debian's setuptools and wheel (an sdist
 * built with `--no-build-isolation`; ensurepip alone brings no `wheel`).
 */
export async function createVenv(
  home: PythonHome,
  dir: string,
  options: { readonly seed?: boolean; readonly buildTools?: boolean } = {},
): Promise<Venv> {
  const seed = options.seed ?? false;
  await step(home, SYSTEM_PYTHON, [
    '-m',
    'venv',
    ...(seed ? [] : ['--without-pip']),
    // Debian's setuptools + wheel visible inside: building an sdist with --no-build-isolation.
    ...(options.buildTools === true ? ['--system-site-packages'] : []),
    dir,
  ]);
  const python = path.join(dir, 'bin', 'python');
  return {
    dir,
    python,
    pip: (args, stepOptions) =>
      seed
        ? step(home, python, ['-m', 'pip', ...args], stepOptions)
        : step(home, SYSTEM_PYTHON, ['-m', 'pip', '--python', python, ...args], stepOptions),
    async versions(...dists) {
      const script = [
        'import importlib.metadata as m, json, sys',
        'out = {}',
        'for d in sys.argv[1:]:',
        '    try: out[d] = m.version(d)',
        '    except m.PackageNotFoundError: out[d] = None',
        'print(json.dumps(out))',
      ].join('\n');
      const res = await step(home, python, ['-c', script, ...dists]);
      return JSON.parse(res.stdout) as Record<string, string | null>;
    },
  };
}

export interface ProjectSpec {
  /** Distribution name as written in metadata, e.g. `nora-demo-lib`. */
  readonly name: string;
  readonly version: string;
  readonly dependencies?: readonly string[];
  readonly requiresPython?: string;
  readonly description?: string;
  /** PEP 517 backend (default setuptools); both are Debian packages, so builds stay offline. */
  readonly backend?: 'setuptools' | 'pdm-pep517';
}

/** The import package of a distribution: `nora-demo-lib` → `nora_demo_lib`. */
export function moduleName(dist: string): string {
  return dist.toLowerCase().replace(/[-_.]+/g, '_');
}

const BACKENDS = {
  setuptools: ['requires = ["setuptools>=61"]', 'build-backend = "setuptools.build_meta"'],
  'pdm-pep517': ['requires = ["pdm-pep517>=1.0"]', 'build-backend = "pdm.pep517.api"'],
} as const;

/**
 * Writes a PEP 621 project (`[project]` table, src layout, setuptools or pdm-pep517 backend)
 * into `dir`: one module whose `__version__` is the version.
 */
export async function writeProject(dir: string, spec: ProjectSpec): Promise<void> {
  const mod = moduleName(spec.name);
  await fs.mkdir(path.join(dir, 'src', mod), { recursive: true });
  await fs.writeFile(
    path.join(dir, 'pyproject.toml'),
    [
      '[build-system]',
      ...BACKENDS[spec.backend ?? 'setuptools'],
      '',
      '[project]',
      `name = ${JSON.stringify(spec.name)}`,
      `version = ${JSON.stringify(spec.version)}`,
      `description = ${JSON.stringify(spec.description ?? `NORA e2e fixture ${spec.name}`)}`,
      `requires-python = ${JSON.stringify(spec.requiresPython ?? '>=3.8')}`,
      `dependencies = ${JSON.stringify(spec.dependencies ?? [])}`,
      '',
    ].join('\n'),
  );
  await fs.writeFile(
    path.join(dir, 'src', mod, '__init__.py'),
    `__version__ = ${JSON.stringify(spec.version)}\n`,
  );
}

/**
 * `python3 -m build --no-isolation` of `projectDir` into `outDir` (sdist + wheel unless
 * `only` says one), offline. `outDir` should be new (builds in parallel need one each).
 * Returns the files in `outDir` afterwards (absolute paths, sorted).
 */
export async function buildDists(
  home: PythonHome,
  projectDir: string,
  outDir: string,
  only?: 'sdist' | 'wheel',
): Promise<string[]> {
  await fs.mkdir(outDir, { recursive: true });
  await step(
    home,
    SYSTEM_PYTHON,
    [
      '-m',
      'build',
      '--no-isolation',
      ...(only ? [`--${only}`] : []),
      '--outdir',
      outDir,
      projectDir,
    ],
    { cwd: projectDir },
  );
  return (await fs.readdir(outDir))
    .filter((f) => !f.startsWith('.'))
    .sort()
    .map((f) => path.join(outDir, f));
}

/**
 * Writes and builds several projects in parallel under `workDir` (sources in
 * `<name>-<version>/`, files in `<name>-<version>-dist/`); returns every file built, sorted by
 * base name.
 */
export async function buildProjects(
  home: PythonHome,
  workDir: string,
  specs: readonly ProjectSpec[],
  only?: 'sdist' | 'wheel',
): Promise<string[]> {
  const built = await Promise.all(
    specs.map(async (spec) => {
      const dir = path.join(workDir, `${spec.name}-${spec.version}`);
      await writeProject(dir, spec);
      return buildDists(home, dir, `${dir}-dist`, only);
    }),
  );
  return built.flat().sort((a, b) => path.basename(a).localeCompare(path.basename(b)));
}

/**
 * Copies a wheel to `dest` (a path) with a zip comment added: a valid wheel with the same name and
 * other bytes, as a rebuild would make. An index refuses it when the name is taken (PyPI answers
 * an identical re-upload 200 — twine retries rely on it — and a different one 400
 * "File already exists").
 */
export async function alteredWheel(home: PythonHome, file: string, dest: string): Promise<string> {
  await fs.mkdir(path.dirname(dest), { recursive: true });
  if (path.resolve(file) !== path.resolve(dest)) await fs.copyFile(file, dest);
  await step(home, SYSTEM_PYTHON, [
    '-c',
    "import sys, zipfile\nwith zipfile.ZipFile(sys.argv[1], 'a') as z: z.comment = b'rebuilt by the NORA tests'",
    dest,
  ]);
  return dest;
}

/** Hex sha256 of a file. */
export { sha256File } from './storage.ts';

/** `http://user:pass@127.0.0.1:PORT/simple/` from a server URL (credentials URL-encoded). */
export function indexUrl(
  serverUrl: string,
  credentials?: { username: string; password: string },
  prefix = '/simple/',
): string {
  const url = new URL(prefix, serverUrl);
  if (credentials) {
    url.username = encodeURIComponent(credentials.username);
    url.password = encodeURIComponent(credentials.password);
  }
  return url.toString();
}

/**
 * A pip test's upstream set-up: builds `specs` as wheels under `workDir` and uploads them with
 * twine to the NORA at `serverUrl` (its `/simple/`, any credentials). Returns the wheels' paths;
 * throws with twine's output when the upload fails.
 */
export async function uploadWheels(
  home: PythonHome,
  workDir: string,
  serverUrl: string,
  specs: readonly ProjectSpec[],
): Promise<string[]> {
  const files = await buildProjects(home, workDir, specs, 'wheel');
  const up = await twineUpload(home, indexUrl(serverUrl), { username: 'u', password: 'p' }, files);
  if (up.code !== 0) throw new Error(`twine upload failed: ${output(up)}`);
  return files;
}

/** `twine upload --repository-url <url> -u -p --non-interactive [extra…] files…`. */
export function twineUpload(
  home: PythonHome,
  repositoryUrl: string,
  credentials: { username: string; password: string },
  files: readonly string[],
  extra: readonly string[] = [],
  options: StepOptions = {},
): Promise<RunResult> {
  return step(
    home,
    'twine',
    [
      'upload',
      '--non-interactive',
      '--disable-progress-bar',
      '--repository-url',
      repositoryUrl,
      '-u',
      credentials.username,
      '-p',
      credentials.password,
      ...extra,
      ...files,
    ],
    { check: false, ...options },
  );
}

/**
 * A twine test's set-up: a work folder (removed when disposed) holding a private Python home
 * (`home/`, {@link pythonHome}), and `upload`: {@link twineUpload} of `files` to the NORA at
 * `serverUrl` (its `/simple/`) with `credentials` (auth off takes any).
 */
export interface TwineWork extends AsyncDisposable {
  readonly path: string;
  readonly home: PythonHome;
  upload(
    serverUrl: string,
    files: readonly string[],
    extra?: readonly string[],
    options?: StepOptions,
  ): Promise<RunResult>;
}

/** A {@link TwineWork} in a fresh temp folder named `prefix…`. */
export async function twineWork(
  prefix: string,
  credentials: { username: string; password: string } = { username: 'u', password: 'p' },
): Promise<TwineWork> {
  const work = await tempDir(prefix);
  try {
    const home = await pythonHome(path.join(work.path, 'home'));
    return {
      path: work.path,
      home,
      upload: (serverUrl, files, extra = [], options = {}) =>
        twineUpload(home, indexUrl(serverUrl), credentials, files, extra, options),
      [Symbol.asyncDispose]: () => work[Symbol.asyncDispose](),
    };
  } catch (err) {
    await work[Symbol.asyncDispose]();
    throw err;
  }
}

/**
 * Asserts that a twine run failed showing HTTP `status` and `reason` (matched against the output
 * with every run of whitespace made one space: twine wraps long reasons over lines).
 */
export function assertTwineRefused(result: RunResult, status: number, reason: RegExp): void {
  const text = output(result);
  assert.notEqual(result.code, 0, text);
  assert.match(text, new RegExp(String(status)), text);
  assert.match(text.replace(/\s+/g, ' '), reason, text);
}

/**
 * A poetry or pdm application (no package of its own) whose one dependency is
 * `<project><requirement>` (`requirement` '' = any version), read from `index` only: what
 * `poetry lock` / `pdm lock` resolve in tests of the index's answers.
 */
export async function writeLockApp(
  dir: string,
  tool: 'poetry' | 'pdm',
  index: string,
  project: string,
  requirement: string,
): Promise<void> {
  await fs.mkdir(dir, { recursive: true });
  const lines =
    tool === 'poetry'
      ? [
          '[tool.poetry]',
          'name = "nora-lock-app"',
          'version = "1.0.0"',
          'description = "NORA lock fixture"',
          'authors = ["NORA tests <nora@example.invalid>"]',
          'packages = []',
          '',
          '[tool.poetry.dependencies]',
          'python = "^3.8"',
          `${project} = ${JSON.stringify(requirement === '' ? '*' : requirement)}`,
          '',
          '[[tool.poetry.source]]',
          'name = "nora"',
          `url = ${JSON.stringify(index)}`,
          'default = true',
        ]
      : [
          '[project]',
          'name = "nora-lock-app"',
          'version = "1.0.0"',
          'requires-python = ">=3.8"',
          `dependencies = [${JSON.stringify(`${project}${requirement}`)}]`,
          '',
          '[[tool.pdm.source]]',
          'name = "pypi"',
          `url = ${JSON.stringify(index)}`,
          'verify_ssl = false',
        ];
  await fs.writeFile(path.join(dir, 'pyproject.toml'), `${lines.join('\n')}\n`);
}

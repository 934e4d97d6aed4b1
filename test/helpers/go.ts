/**
 * Go module test plumbing shared by test/e2e/go-* and bench/go: the `gotree` helper (Go, built
 * offline from Debian's golang-golang-x-mod-dev with GO111MODULE=off), static GOPROXY trees of
 * Debian's golang-*-dev sources, nginx serving such a tree, a test checksum database, and `go`
 * runs with an isolated environment.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { runNginx } from './nginx.ts';
import { findTool, PROJECT_ROOT, run, type RunResult } from './tools.ts';

export const GOCODE = '/usr/share/gocode';
const SRC = `${GOCODE}/src`;

/** Why Go tests cannot run here (for `skip`), or false. */
export function missingGo(): string | false {
  if (findTool('go') === undefined) return 'go is not installed (Debian golang-go)';
  if (findTool('nginx') === undefined) return 'nginx is not installed';
  return false;
}

/** Whether Debian's golang-golang-x-mod-dev sources are present (gotree needs them). */
export async function hasXMod(): Promise<boolean> {
  return fs
    .stat(`${SRC}/golang.org/x/mod/sumdb/test.go`)
    .then(() => true)
    .catch(() => false);
}

/**
 * Real modules from Debian's golang-*-dev packages (their versions from the package versions);
 * `gotree tree` adds the other versions their go.mod files require.
 */
export const DEBIAN_MODULES: readonly { path: string; version: string }[] = [
  { path: 'github.com/creack/pty', version: 'v1.1.18' },
  { path: 'github.com/davecgh/go-spew', version: 'v1.1.1' },
  { path: 'github.com/kr/pretty', version: 'v0.3.0' },
  { path: 'github.com/kr/text', version: 'v0.2.0' },
  { path: 'github.com/pkg/diff', version: 'v0.0.0-20210226163009-20ebb0f2a09e' },
  { path: 'github.com/pkg/errors', version: 'v0.9.1' },
  { path: 'github.com/pmezard/go-difflib', version: 'v1.0.0' },
  { path: 'github.com/rogpeppe/go-internal', version: 'v1.9.0' },
  { path: 'github.com/stretchr/objx', version: 'v0.5.0' },
  { path: 'github.com/stretchr/testify', version: 'v1.8.1' },
  { path: 'golang.org/x/sys', version: 'v0.3.0' },
  { path: 'golang.org/x/term', version: 'v0.3.0' },
  { path: 'gopkg.in/check.v1', version: 'v0.0.0-20200902074654-038fdea0a05b' },
  { path: 'gopkg.in/yaml.v3', version: 'v3.0.1' },
];

/** An isolated `go` environment under `dir` (own GOPATH, GOMODCACHE, GOCACHE, HOME). */
export function goEnv(dir: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    PATH: process.env['PATH'] ?? '/usr/bin:/bin',
    HOME: dir,
    GOPATH: path.join(dir, 'gopath'),
    GOMODCACHE: path.join(dir, 'modcache'),
    GOCACHE: path.join(dir, 'gocache'),
    GO111MODULE: 'on',
    GOFLAGS: '-mod=mod',
    GOTOOLCHAIN: 'local',
    GONOSUMDB: '',
    GOPRIVATE: '',
    GONOPROXY: '',
    GOINSECURE: '',
    CGO_ENABLED: '0',
    ...extra,
  };
}

/** Runs `go` with `env` in `cwd`. */
export function goRun(
  args: readonly string[],
  cwd: string,
  env: NodeJS.ProcessEnv,
  check = true,
): Promise<RunResult> {
  return run('go', args, { cwd, env, check, timeoutMs: 300_000 });
}

/** Builds test/helpers/gotree into `dir` (offline, GOPATH mode); returns the binary's path. */
export async function buildGotree(dir: string): Promise<string> {
  const out = path.join(dir, 'gotree');
  await fs.mkdir(dir, { recursive: true });
  await run('go', ['build', '-o', out, '.'], {
    cwd: path.join(PROJECT_ROOT, 'test', 'helpers', 'gotree'),
    env: {
      PATH: process.env['PATH'] ?? '/usr/bin:/bin',
      HOME: dir,
      GO111MODULE: 'off',
      GOPATH: GOCODE,
      GOCACHE: path.join(dir, 'gocache'),
      GOFLAGS: '',
      CGO_ENABLED: '0',
    },
  });
  return out;
}

/**
 * Writes a static GOPROXY tree at `out` for `modules` (each `{path, version, dir}`; `dir`
 * defaults to the Debian source) plus every version their go.mod files require of one another.
 */
export async function buildTree(
  gotree: string,
  out: string,
  modules: readonly { path: string; version: string; dir?: string }[],
): Promise<void> {
  const spec = `${out}.spec`;
  await fs.writeFile(
    spec,
    modules.map((m) => `${m.path} ${m.version} ${m.dir ?? path.join(SRC, m.path)}\n`).join(''),
  );
  await run(gotree, ['tree', spec, out]);
}

/**
 * Synthetic modules `bench.nora.test/mNN` (NN from 0), each one package; module i requires
 * module i+1 (a chain), the last requires nothing. Returns their spec entries.
 */
export async function syntheticModules(
  dir: string,
  count: number,
  host = 'bench.nora.test',
): Promise<{ path: string; version: string; dir: string }[]> {
  const out: { path: string; version: string; dir: string }[] = [];
  for (let i = 0; i < count; i++) {
    const name = `m${String(i).padStart(2, '0')}`;
    const modPath = `${host}/${name}`;
    const moduleDir = path.join(dir, name);
    await fs.mkdir(moduleDir, { recursive: true });
    const next = i + 1 < count ? `${host}/m${String(i + 1).padStart(2, '0')}` : undefined;
    await fs.writeFile(
      path.join(moduleDir, 'go.mod'),
      `module ${modPath}\n\ngo 1.17\n${next === undefined ? '' : `\nrequire ${next} v1.0.0\n`}`,
    );
    const filler = `// ${'x'.repeat(100)}\n`.repeat(20 + ((i * 37) % 200));
    await fs.writeFile(
      path.join(moduleDir, `${name}.go`),
      `package ${name}\n\n${filler}\n// Name is this module's name.\nconst Name = "${name}"\n`,
    );
    out.push({ path: modPath, version: 'v1.0.0', dir: moduleDir });
  }
  return out;
}

export interface Nginx {
  readonly url: string;
  readonly child: ChildProcess;
  readonly exited: Promise<unknown>;
  /** The access log (one line per request: `<status> <uri>`). */
  readonly accessLog: string;
  stop(): Promise<void>;
}

/** nginx serving `root` as a static GOPROXY on 127.0.0.1 (a free port); `root` must be world-readable. */
export async function startNginx(dir: string, root: string): Promise<Nginx> {
  const accessLog = path.join(dir, 'access.log');
  const nginx = await runNginx(dir, {
    http: (listen) => [
      'types { application/zip zip; application/json info; text/plain mod; }',
      'default_type text/plain;',
      "log_format brief '$status $request_uri';",
      `access_log ${accessLog} brief;`,
      'sendfile on; tcp_nopush on; keepalive_requests 100000;',
      `server { listen ${listen}; root ${root}; }`,
    ],
  });
  return { ...nginx, accessLog };
}

export interface SumdbServer {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  /** The verifier key (`<name>+<hash>+<key>`), what GOSUMDB takes. */
  readonly vkey: string;
  /** Paths requested so far. */
  readonly requests: string[];
  stop(): Promise<void>;
}

/** `gotree sumdb <name> <tree>`: a checksum database over the tree's modules. */
export async function startSumdb(gotree: string, name: string, tree: string): Promise<SumdbServer> {
  const child = spawn(gotree, ['sumdb', name, tree], { stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const requests: string[] = [];
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
    const lines = stderr.split('\n');
    stderr = lines.pop() ?? '';
    for (const line of lines) if (line.startsWith('REQ ')) requests.push(line.slice(4));
  });
  const ready = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const line = out.split('\n').find((l) => l.startsWith('READY '));
      if (line !== undefined) resolve(line);
    });
    child.once('exit', (code) => {
      reject(new Error(`gotree sumdb exited ${code}: ${stderr}`));
    });
  });
  const [, url = '', vkey = ''] = ready.split(' ');
  return {
    url,
    vkey,
    requests,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

/** nginx terminating TLS on 127.0.0.1 (a free port) in front of `upstream`, with a fresh cert. */
export async function startTlsFront(
  dir: string,
  upstream: string,
): Promise<{ url: string; cert: string; stop(): Promise<void> }> {
  await fs.mkdir(dir, { recursive: true });
  const cert = path.join(dir, 'cert.pem');
  const key = path.join(dir, 'key.pem');
  await run('openssl', [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-keyout',
    key,
    '-out',
    cert,
    '-days',
    '1',
    '-subj',
    '/CN=127.0.0.1',
    '-addext',
    'subjectAltName=IP:127.0.0.1',
  ]);
  const nginx = await runNginx(dir, {
    http: (listen) => [
      'access_log off;',
      `server { listen ${listen} ssl; ssl_certificate ${cert}; ssl_certificate_key ${key};`,
      `  location / { proxy_pass ${upstream}; proxy_set_header Host $http_host; client_max_body_size 0; } }`,
    ],
    // Up when the port accepts a TLS handshake (any HTTP status).
    ready: async (port) => {
      const deadline = Date.now() + 10_000;
      for (;;) {
        const probe = await run('openssl', ['s_client', '-connect', `127.0.0.1:${port}`], {
          check: false,
          input: '',
          timeoutMs: 5_000,
        });
        if (probe.code === 0) return;
        if (Date.now() > deadline)
          throw new Error(`nginx TLS front did not start: ${probe.stderr}`);
        await new Promise((r) => setTimeout(r, 200));
      }
    },
  });
  return { url: nginx.url.replace(/^http:/, 'https:'), cert, stop: () => nginx.stop() };
}

/**
 * Why startTlsFront cannot run here (go sends credentials, .netrc or user:secret@ in GOPROXY,
 * over https only), or false.
 */
export const missingTlsFront: string | false =
  findTool('nginx') === undefined || findTool('openssl') === undefined
    ? 'nginx or openssl missing (the TLS front go needs to send credentials)'
    : false;

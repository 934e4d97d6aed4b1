/**
 * Issue 16 "Hosted", with real clients: `nora go publish` (the CLI, as a user runs it) uploads
 * real modules (the sources of Debian's golang-*-dev packages under /usr/share/gocode/src: a
 * dependency tree of testify, yaml.v3, kr/pretty, go-spew, pkg/errors, x/term, x/sys, …, plus
 * every version their go.mod files require of one another) to go-hosted through the `/go`
 * group; Debian's `go` then resolves, downloads and builds a consumer with GOPROXY=<nora>/go
 * (GONOSUMDB / GOPRIVATE for the hosted paths: they are in no public checksum database).
 * Once with auth off; once with auth on: publishing needs a write token (a read token gets 403,
 * anonymous 401), `go` reads with the token in the GOPROXY URL and with a .netrc password.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { describe, test } from 'node:test';
import bcrypt from 'bcryptjs';
import {
  DEBIAN_MODULES,
  GOCODE,
  goEnv,
  goRun,
  missingTlsFront as skipTls,
  startTlsFront,
} from '../../helpers/go.ts';
import { startTestServer } from '../../helpers/server.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { findTool, PROJECT_ROOT, run, type RunResult } from '../../helpers/tools.ts';
import { parseModulePath } from '../../../src/formats/go/zip.ts';

const NODE = process.execPath;
const NORA = path.join(PROJECT_ROOT, 'bin', 'nora.js');
const USER = { username: 'gopher', password: 'gopher-pw' };
const HOSTED_PATHS = 'github.com,golang.org,gopkg.in';

const MAIN_GO = `package main

import (
	"fmt"

	"github.com/kr/pretty"
	"github.com/pkg/errors"
	"github.com/stretchr/testify/assert"
	"golang.org/x/term"
	"gopkg.in/yaml.v3"
)

func main() {
	var v map[string]int
	if err := yaml.Unmarshal([]byte("a: 1\\nb: 2\\n"), &v); err != nil {
		panic(errors.Wrap(err, "yaml"))
	}
	fmt.Println(pretty.Sprint(v), assert.ObjectsAreEqual(v["a"], 1), term.IsTerminal(-1))
}
`;

interface ModuleVersion {
  readonly path: string;
  readonly version: string;
  readonly dir: string;
  /** True when the tree has no go.mod (published with --module). */
  readonly noGoMod: boolean;
}

/** `require` lines of a go.mod (single and block form): [path, version]. */
function requires(goMod: string): [string, string][] {
  const out: [string, string][] = [];
  let inBlock = false;
  for (const raw of goMod.split('\n')) {
    const line = raw.replace(/\/\/.*$/, '').trim();
    if (inBlock) {
      if (line === ')') inBlock = false;
      else if (line !== '') out.push(pair(line));
      continue;
    }
    if (/^require\s*\($/.test(line)) inBlock = true;
    else if (line.startsWith('require ')) out.push(pair(line.slice('require '.length)));
  }
  return out;
}

function pair(text: string): [string, string] {
  const [p = '', v = ''] = text.trim().split(/\s+/);
  return [p.replace(/^"|"$/g, ''), v];
}

/**
 * The Debian modules present on this machine and every version of them their go.mod files
 * require (published from the same source: only their go.mod is ever read for those).
 */
async function moduleClosure(): Promise<ModuleVersion[]> {
  const dirs = new Map<string, string>();
  for (const m of DEBIAN_MODULES) {
    const dir = path.join(GOCODE, 'src', m.path);
    if (await exists(dir)) dirs.set(m.path, dir);
  }
  const seen = new Map<string, ModuleVersion>();
  const queue = DEBIAN_MODULES.filter((m) => dirs.has(m.path)).map((m) => [m.path, m.version]);
  for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
    const [p = '', v = ''] = next;
    const dir = dirs.get(p);
    if (dir === undefined || seen.has(`${p}@${v}`)) continue;
    const goMod = await fs.readFile(path.join(dir, 'go.mod'), 'utf8').catch(() => undefined);
    seen.set(`${p}@${v}`, { path: p, version: v, dir, noGoMod: goMod === undefined });
    if (goMod !== undefined) queue.push(...requires(goMod));
  }
  return [...seen.values()];
}

async function exists(p: string): Promise<boolean> {
  return fs
    .stat(p)
    .then(() => true)
    .catch(() => false);
}

/** Runs the real CLI: `nora go publish --version V [--module P] --registry R [--token T] DIR`. */
function publish(m: ModuleVersion, registry: string, token?: string): Promise<RunResult> {
  const args = [NORA, 'go', 'publish', '--version', m.version, '--registry', registry];
  if (m.noGoMod) args.push('--module', m.path);
  if (token !== undefined) args.push('--token', token);
  args.push(m.dir);
  return run(NODE, args, { check: false, timeoutMs: 60_000, env: { ...process.env } });
}

async function publishAll(modules: readonly ModuleVersion[], registry: string, token?: string) {
  // Two at a time: each is a node process (2 cores).
  for (let i = 0; i < modules.length; i += 2) {
    const results = await Promise.all(
      modules.slice(i, i + 2).map(async (m) => [m, await publish(m, registry, token)] as const),
    );
    for (const [m, r] of results) {
      assert.equal(r.code, 0, `publish ${m.path}@${m.version}: ${r.stderr}`);
      assert.match(r.stdout, new RegExp(`published ${m.path.replace(/\./g, '\\.')}@`));
    }
  }
}

async function writeConsumer(dir: string): Promise<void> {
  await fs.mkdir(dir, { recursive: true });
  await fs.writeFile(path.join(dir, 'main.go'), MAIN_GO);
  await fs.writeFile(path.join(dir, 'go.mod'), 'module example.com/consumer\n\ngo 1.19\n');
}

/**
 * `go build` (GOFLAGS=-mod=mod: it finds the modules of the imports through the proxy) then
 * `go mod download` of the consumer in `dir`; returns the binary's output. Not `go mod tidy`:
 * it wants every platform's imports, and Debian's golang.org/x/sys drops the windows and plan9
 * packages that x/term imports there.
 */
async function buildConsumer(dir: string, env: NodeJS.ProcessEnv): Promise<string> {
  const src = path.join(dir, 'src');
  await writeConsumer(src);
  await goRun(['build', '-o', 'consumer', '.'], src, env);
  await goRun(['mod', 'download'], src, env);
  const goMod = await fs.readFile(path.join(src, 'go.mod'), 'utf8');
  assert.match(goMod, /github\.com\/stretchr\/testify v1\.8\.1/);
  assert.match(goMod, /gopkg\.in\/yaml\.v3 v3\.0\.1/);
  assert.match(await fs.readFile(path.join(src, 'go.sum'), 'utf8'), /github\.com\/pkg\/errors/);
  return (await run(path.join(src, 'consumer'), [], { timeoutMs: 30_000 })).stdout;
}

const skip =
  findTool('go') === undefined
    ? 'go is not installed (Debian golang-go)'
    : !(await exists(path.join(GOCODE, 'src', 'github.com/stretchr/testify/go.mod')))
      ? 'Debian golang-*-dev module sources missing (scripts/install-test-clients.sh)'
      : false;

describe('go hosted: nora go publish of real modules, go builds from NORA', { skip }, () => {
  test('auth off: publish a dependency tree, go build + go mod download through /go', async () => {
    await using work = await tempDir('nora-e2e-go-hosted-');
    const modules = await moduleClosure();
    assert.ok(modules.length >= 5, `${modules.length} modules`);
    await using server = await startTestServer({ env: { NORA_GO_PROXY: 'none' } });
    const goproxy = `${server.url}/go`;
    await publishAll(modules, goproxy);

    // The protocol as go reads it: list (tags only), info, latest, mod, immutability.
    const list = await fetch(`${goproxy}/github.com/stretchr/testify/@v/list`);
    assert.equal(await list.text(), 'v1.8.0\nv1.8.1\n');
    const latest = (await (
      await fetch(`${goproxy}/github.com/stretchr/testify/@latest`)
    ).json()) as {
      Version: string;
    };
    assert.equal(latest.Version, 'v1.8.1');
    const mod = await fetch(`${goproxy}/github.com/pkg/errors/@v/v0.9.1.mod`);
    assert.equal(await mod.text(), 'module github.com/pkg/errors\n');
    const yamlMod = await (await fetch(`${goproxy}/gopkg.in/yaml.v3/@v/v3.0.1.mod`)).text();
    assert.equal(parseModulePath(yamlMod), 'gopkg.in/yaml.v3');
    const pseudo = modules.find((m) => m.path === 'gopkg.in/check.v1');
    if (pseudo !== undefined) {
      // Only pseudo-versions: an empty list, @latest the newest pseudo-version with its time.
      assert.equal(await (await fetch(`${goproxy}/gopkg.in/check.v1/@v/list`)).text(), '');
      const info = (await (await fetch(`${goproxy}/gopkg.in/check.v1/@latest`)).json()) as {
        Version: string;
        Time: string;
      };
      const newest = modules
        .filter((m) => m.path === 'gopkg.in/check.v1')
        .map((m) => m.version)
        .sort()
        .at(-1);
      assert.equal(info.Version, newest);
      assert.match(info.Time, /^20\d\d-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    }
    // A retried publish of the same tree: success, nothing changed.
    const again = await publish(modules[0] as ModuleVersion, goproxy);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /was already published with these exact bytes; nothing changed/);

    const env = goEnv(work.path, { GOPROXY: goproxy, GONOSUMDB: HOSTED_PATHS });
    const out = await buildConsumer(path.join(work.path, 'consumer'), env);
    assert.match(out, /map\[string\]int\{"a":1, "b":2\} true false/);
    const versions = await goRun(
      ['list', '-m', '-versions', 'github.com/stretchr/testify'],
      path.join(work.path, 'consumer', 'src'),
      env,
    );
    assert.match(versions.stdout, /github\.com\/stretchr\/testify v1\.8\.0 v1\.8\.1/);
  });

  test(
    'auth on: write token publishes, read token 403, anonymous 401; go reads with credentials',
    { skip: skipTls },
    async () => {
      await using work = await tempDir('nora-e2e-go-hosted-auth-');
      const htpasswd = path.join(work.path, 'users.htpasswd');
      await fs.writeFile(
        htpasswd,
        `${USER.username}:${bcrypt.hashSync(USER.password, 5).replace(/^\$2b\$/, '$2y$')}\n`,
      );
      await using server = await startTestServer({
        config: { auth: { enabled: true, anonymous_read: false, htpasswd_file: htpasswd } },
        env: { NORA_GO_PROXY: 'none' },
      });
      const mint = async (role: string): Promise<string> => {
        const res = await fetch(`${server.url}/api/tokens`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ ...USER, role, description: `go e2e ${role}` }),
        });
        assert.equal(res.status, 200, await res.clone().text());
        return ((await res.json()) as { token: string }).token;
      };
      const writeToken = await mint('write');
      const readToken = await mint('read');
      const goproxy = `${server.url}/go`;
      const modules = await moduleClosure();

      const first = modules[0] as ModuleVersion;
      const anonymous = await publish(first, goproxy);
      assert.equal(anonymous.code, 1);
      assert.match(anonymous.stderr, /401/);
      const reader = await publish(first, goproxy, readToken);
      assert.equal(reader.code, 1);
      assert.match(reader.stderr, /403/);
      await publishAll(modules, goproxy, writeToken);

      const anonList = await fetch(`${goproxy}/github.com/stretchr/testify/@v/list`);
      assert.equal(anonList.status, 401);
      assert.match(anonList.headers.get('www-authenticate') ?? '', /^Basic/);
      await anonList.arrayBuffer();

      // `go` sends credentials (.netrc, or user:secret@ in GOPROXY) over https only: an nginx TLS
      // front with a test certificate, which go trusts through SSL_CERT_FILE.
      const tls = await startTlsFront(path.join(work.path, 'tls'), server.url);
      const secureProxy = `${tls.url}/go`;
      const netrc = async (dir: string, login: string, password: string) => {
        await fs.mkdir(dir, { recursive: true });
        await fs.writeFile(
          path.join(dir, '.netrc'),
          `machine 127.0.0.1 login ${login} password ${password}\n`,
          { mode: 0o600 },
        );
      };
      // The build cache is shared: module downloads are what is tested, not compiling.
      const gocache = path.join(work.path, 'gocache');
      // The user's password in .netrc; GOPRIVATE for the paths (GONOPROXY=none keeps them on
      // the proxy).
      const one = path.join(work.path, 'one');
      await netrc(one, USER.username, USER.password);
      const env1 = goEnv(one, {
        GOPROXY: secureProxy,
        GOPRIVATE: HOSTED_PATHS,
        GONOPROXY: 'none',
        SSL_CERT_FILE: tls.cert,
        GOCACHE: gocache,
      });
      assert.match(await buildConsumer(one, env1), / true false\n/);

      // A read token in the GOPROXY URL itself (any user name), no .netrc.
      const two = path.join(work.path, 'two');
      await fs.mkdir(two, { recursive: true });
      const withToken = new URL(secureProxy);
      withToken.username = 'go';
      withToken.password = readToken;
      const env2 = goEnv(two, {
        GOPROXY: withToken.href,
        GONOSUMDB: HOSTED_PATHS,
        SSL_CERT_FILE: tls.cert,
        GOCACHE: gocache,
      });
      assert.match(await buildConsumer(two, env2), / true false\n/);
      await tls.stop();
    },
  );
});

describe(
  'go hosted: go without GOPRIVATE/GONOSUMDB is told to set GOPRIVATE',
  { skip: findTool('go') === undefined ? 'go is not installed (Debian golang-go)' : false },
  () => {
    for (const withProxy of [true, false]) {
      test(`go get of a hosted module: the sumdb lookup stays in NORA, its 404 names GOPRIVATE (${withProxy ? 'with' : 'without'} a module proxy)`, async () => {
        await using work = await tempDir('nora-e2e-go-hosted-sumdb-');
        // The group's proxy member and the forwarded sum.golang.org are this local server: every
        // request it gets is recorded (none may name the hosted module). Without a module proxy
        // (NORA_GO_PROXY=none) the checksum database is still forwarded: [go] sumdb is its own key.
        const seen: string[] = [];
        const upstream = http.createServer((req, res) => {
          seen.push(req.url ?? '/');
          res.writeHead(404).end('not found\n');
        });
        await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
        try {
          const url = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
          await using server = await startTestServer({
            config: { go: { proxy: withProxy ? url : '', sumdb: [`sum.golang.org=${url}`] } },
          });
          const goproxy = `${server.url}/go`;
          const lib = path.join(work.path, 'hello');
          await fs.mkdir(lib, { recursive: true });
          await fs.writeFile(
            path.join(lib, 'go.mod'),
            'module corp.example.com/hello\n\ngo 1.19\n',
          );
          await fs.writeFile(path.join(lib, 'hello.go'), 'package hello\n\nconst Hello = "hi"\n');
          const published = await publish(
            { path: 'corp.example.com/hello', version: 'v1.4.0', dir: lib, noGoMod: false },
            goproxy,
          );
          assert.equal(published.code, 0, published.stderr);
          // The publish asked the proxy's upstream whether it has the path or a prefix of it
          // (trial 18 fmts F1: it does not, 404s): no request after it may name the hosted module.
          assert.deepEqual(
            seen.splice(0).sort(),
            withProxy ? ['/corp.example.com/@v/list', '/corp.example.com/hello/@v/list'] : [],
          );
          const consumer = path.join(work.path, 'consumer');
          await fs.mkdir(consumer, { recursive: true });
          await fs.writeFile(
            path.join(consumer, 'go.mod'),
            'module example.com/consumer\n\ngo 1.19\n',
          );
          // goEnv leaves GOPRIVATE/GONOSUMDB empty and GOSUMDB unset (sum.golang.org).
          const env = goEnv(work.path, { GOPROXY: goproxy });
          const got = await goRun(['get', 'corp.example.com/hello@v1.4.0'], consumer, env, false);
          assert.notEqual(got.code, 0);
          assert.match(
            got.stderr,
            /sumdb\/sum\.golang\.org\/lookup\/corp\.example\.com\/hello@v1\.4\.0/,
          );
          assert.match(
            got.stderr,
            /server response:.*is hosted in go-hosted, so NORA does not ask sum\.golang\.org about/,
          );
          assert.match(got.stderr, /GOPRIVATE=corp\.example\.com\/hello/);
          // (go also probes the path's prefix corp.example.com@v1.4.0, which go-hosted does not
          // hold: that one is asked upstream, as any module path nobody here holds.)
          assert.deepEqual(
            seen.filter((u) => u.includes('corp.example.com/hello')),
            [],
          );
          // With GOPRIVATE as the message says, the same go get succeeds.
          const ok = await goRun(['get', 'corp.example.com/hello@v1.4.0'], consumer, {
            ...env,
            GOPRIVATE: 'corp.example.com/hello',
            GONOPROXY: 'none',
          });
          assert.equal(ok.code, 0, ok.stderr);
        } finally {
          upstream.closeAllConnections();
          await new Promise((resolve) => upstream.close(resolve));
        }
      });
    }
  },
);

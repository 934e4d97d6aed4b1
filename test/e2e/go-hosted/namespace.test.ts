/**
 * Trial rustgo F7 with real clients: a rule reserves `corp.example.com/platform/**` for the
 * group platform; carol (write elsewhere) runs `nora go publish` (the CLI, as a user runs it) of
 * the parent module `corp.example.com` whose tree holds `platform/x/x.go` and `platform/y/y.go`.
 * The publish is refused (exit 1, the 403's line on stderr) and nothing is stored; carol's parent
 * module without those directories publishes. Debian's `go` then builds a consumer importing
 * `corp.example.com/platform/x` (alice's module) and the root package of carol's module through
 * `/go`: no ambiguous import; an import of `corp.example.com/platform/y` finds no module.
 * Reads are anonymous (an anonymous read rule on the namespace): `go` sends credentials over
 * https only, and what is tested here is the publish.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, test } from 'node:test';
import { rule } from '../../helpers/auth.ts';
import { goEnv, goRun } from '../../helpers/go.ts';
import { startTestServer } from '../../helpers/server.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { findTool, PROJECT_ROOT, run, type RunResult } from '../../helpers/tools.ts';

const NODE = process.execPath;
const NORA = path.join(PROJECT_ROOT, 'bin', 'nora.js');
const PASSWORDS: Readonly<Record<string, string>> = { alice: 'alice-pw-1', carol: 'carol-pw-1' };

const skip = findTool('go') === undefined ? 'go is not installed (Debian golang-go)' : false;

async function writeTree(dir: string, files: Readonly<Record<string, string>>): Promise<string> {
  for (const [name, content] of Object.entries(files)) {
    await fs.mkdir(path.join(dir, path.dirname(name)), { recursive: true });
    await fs.writeFile(path.join(dir, name), content);
  }
  return dir;
}

describe(
  'go hosted: a parent module cannot put packages into a reserved namespace',
  { skip },
  () => {
    test('nora go publish refused with 403; go builds the namespace unambiguously', async () => {
      await using work = await tempDir('nora-e2e-go-namespace-');
      await using server = await startTestServer({
        config: {
          go: { proxy: '', sumdb: [] },
          auth: {
            enabled: true,
            groups: { platform: ['alice'] },
            rules: [
              rule({
                repositories: ['go-hosted'],
                paths: ['corp.example.com/platform/**'],
                groups: ['platform'],
                actions: ['read', 'write'],
              }),
              rule({
                repositories: ['go-hosted'],
                paths: ['corp.example.com/platform/**'],
                anonymous: true,
                actions: ['read'],
              }),
            ],
          },
        },
      });
      const { users } = server.app.context.identity;
      for (const [name, password] of Object.entries(PASSWORDS)) {
        await users.create(name, password, undefined, ['read', 'write']);
      }
      const registry = (user: string) => {
        const url = new URL(`${server.url}/go`);
        url.username = user;
        url.password = PASSWORDS[user] ?? '';
        return url.href;
      };
      const publish = (user: string, version: string, dir: string): Promise<RunResult> =>
        run(
          NODE,
          [NORA, 'go', 'publish', '--version', version, '--registry', registry(user), dir],
          {
            check: false,
            timeoutMs: 60_000,
            env: { ...process.env },
          },
        );

      const x = await writeTree(path.join(work.path, 'x'), {
        'go.mod': 'module corp.example.com/platform/x\n\ngo 1.19\n',
        'x.go': 'package x\n\nconst Who = "platform"\n',
      });
      const own = await publish('alice', 'v1.3.0', x);
      assert.equal(own.code, 0, own.stderr);

      const evil = await writeTree(path.join(work.path, 'evil'), {
        'go.mod': 'module corp.example.com\n\ngo 1.19\n',
        'corp.go': 'package corp\n\nconst Name = "corp"\n',
        'platform/x/x.go': 'package x\n\nconst Who = "carol"\n',
        'platform/y/y.go': 'package y\n\nconst Who = "carol"\n',
      });
      const refused = await publish('carol', 'v1.0.1', evil);
      assert.equal(refused.code, 1, refused.stdout);
      assert.match(
        refused.stderr,
        /403 Forbidden: refusing to publish corp\.example\.com@v1\.0\.1: its zip holds the package corp\.example\.com\/platform\/x \(directory platform\/x\/\), and carol may not write corp\.example\.com\/platform\/x in go \(the write lands in its member go-hosted, no rule there grants carol write\)/,
      );
      const list = await fetch(`${server.url}/go/corp.example.com/@v/list`, {
        headers: { authorization: `Basic ${Buffer.from('carol:carol-pw-1').toString('base64')}` },
      });
      assert.equal(list.status, 404);
      await list.arrayBuffer();

      // Without the namespace's directories the parent module is carol's to publish.
      await fs.rm(path.join(evil, 'platform'), { recursive: true });
      const parent = await publish('carol', 'v1.0.2', evil);
      assert.equal(parent.code, 0, parent.stderr);

      const consumer = await writeTree(path.join(work.path, 'consumer'), {
        'go.mod': 'module example.com/consumer\n\ngo 1.19\n',
        'main.go':
          'package main\n\nimport (\n\t"fmt"\n\n\t"corp.example.com"\n\t"corp.example.com/platform/x"\n)\n\n' +
          'func main() { fmt.Println(corp.Name, x.Who) }\n',
      });
      const env = goEnv(work.path, {
        GOPROXY: `${server.url}/go`,
        GOPRIVATE: 'corp.example.com',
        GONOPROXY: 'none',
        GOSUMDB: 'off',
      });
      await goRun(['build', '-o', 'consumer', '.'], consumer, env);
      const goMod = await fs.readFile(path.join(consumer, 'go.mod'), 'utf8');
      assert.match(goMod, /corp\.example\.com v1\.0\.2/);
      assert.match(goMod, /corp\.example\.com\/platform\/x v1\.3\.0/);
      const out = await run(path.join(consumer, 'consumer'), [], { timeoutMs: 30_000 });
      assert.equal(out.stdout, 'corp platform\n');

      // carol's platform/y was never stored: no module provides it.
      await fs.writeFile(
        path.join(consumer, 'y.go'),
        'package main\n\nimport "corp.example.com/platform/y"\n\nvar _ = y.Who\n',
      );
      const y = await goRun(['build', '-o', 'consumer', '.'], consumer, env, false);
      assert.notEqual(y.code, 0);
      assert.doesNotMatch(y.stderr, /ambiguous import/);
      assert.match(y.stderr, /corp\.example\.com\/platform\/y/);
    });
  },
);

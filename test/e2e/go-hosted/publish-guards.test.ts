/**
 * The hosted publish guards with the real clients (trial 18 real-client gap): `nora go publish`
 * (bin/nora.js, as a user runs it) against a listening server whose go-proxy upstream is a
 * scripted GOPROXY (startGoProxyServer):
 * - the first publish of a module path the upstream's `@v/list` already has (nobody fetched it
 *   through NORA yet) is refused: the CLI exits 1 and prints the server's 409, saying how to go
 *   ahead (`--shadow`);
 * - a go.mod that go cannot parse is refused: exit 1 with go's own message and position; so is
 *   one go refuses to read even as a dependency's (`go banana`, a require version that is none),
 *   and one with a misspelt directive (`modul x`: `go.mod:1: unknown directive: modul`, as `go mod
 *   edit -json` says in that directory);
 * - a normal publish (a path the upstream lacks) succeeds, and Debian's `go` then downloads and
 *   builds against it with GOPROXY=<nora>/go and GOPRIVATE/GONOPROXY=none as the README says.
 * Skipped, saying so, without `go`.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, test } from 'node:test';
import { goEnv, goRun } from '../../helpers/go.ts';
import { startGoProxyServer } from '../../helpers/go-fixtures.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { findTool, PROJECT_ROOT, run } from '../../helpers/tools.ts';

const NODE = process.execPath;
const NORA = path.join(PROJECT_ROOT, 'bin', 'nora.js');
const TAKEN = 'upstream.example.org/taken';
const missing =
  findTool('go') === undefined ? 'client not installed: go (Debian golang-go)' : false;

async function writeModule(dir: string, goMod: string, pkg: string, version: string) {
  await fs.mkdir(dir, { recursive: true });
  await fs.writeFile(path.join(dir, 'go.mod'), goMod);
  await fs.writeFile(
    path.join(dir, `${pkg}.go`),
    `package ${pkg}\n\n// Version is the version of this copy.\nfunc Version() string { return "${version}" }\n`,
  );
}

function publish(dir: string, registry: string, version: string) {
  return run(NODE, [NORA, 'go', 'publish', '--registry', registry, '--version', version, dir], {
    check: false,
    timeoutMs: 60_000,
    env: { ...process.env },
  });
}

describe(
  'nora go publish: the upstream guard and the go.mod check, real CLI and go',
  { skip: missing },
  () => {
    test('refused: a path the upstream has, an unparsable go.mod; a normal publish builds with go', async () => {
      await using work = await tempDir('nora-go-publish-guards-');
      const rig = await startGoProxyServer({ [TAKEN]: 'v1.0.0' });
      try {
        // The upstream has the path (never fetched through NORA): the CLI is refused, exit 1.
        const taken = path.join(work.path, 'taken');
        await writeModule(taken, `module ${TAKEN}\n\ngo 1.19\n`, 'taken', 'v1.1.0');
        const refused = await publish(taken, rig.go, 'v1.1.0');
        assert.equal(refused.code, 1, refused.stderr);
        assert.equal(refused.stdout, '');
        assert.match(
          refused.stderr,
          /nora go publish: 409 Conflict: refusing to publish upstream\.example\.org\/taken@v1\.1\.0/,
        );
        assert.match(refused.stderr, /run nora go publish --shadow/);
        assert.ok(
          rig.upstream.requests.includes(`/${TAKEN}/@v/list`),
          rig.upstream.requests.join(),
        );
        const nothing = await fetch(`${rig.server.url}/repository/go-hosted/${TAKEN}/@v/list`);
        assert.equal(nothing.status, 404, 'nothing hosted');
        await nothing.arrayBuffer();

        // A go.mod go cannot parse: refused with go's own message, nothing stored.
        const broken = path.join(work.path, 'broken');
        await writeModule(
          broken,
          'module corp.example.com/broken\n\ngo 1.19\n\nrequire (\n\texample.com/dep v1.0.0\n',
          'broken',
          'v1.0.0',
        );
        const bad = await publish(broken, rig.go, 'v1.0.0');
        assert.equal(bad.code, 1, bad.stderr);
        assert.equal(bad.stdout, '');
        assert.match(
          bad.stderr,
          /go\.mod:7: syntax error \(unterminated block started at go\.mod:5:1\)/,
        );
        const none = await fetch(`${rig.go}/corp.example.com/broken/@v/v1.0.0.info`);
        assert.equal(none.status, 404);
        await none.arrayBuffer();

        // A go.mod that parses but that go refuses to read, even as a dependency (trial 19 fmts
        // F2): refused with go's message, the same go itself prints for that go.mod.
        for (const [name, goMod, message] of [
          ['badgo', 'go banana', "go.mod:3: invalid go version 'banana': must match format 1.23.0"],
          // trial 23: a line go's strict parse refuses (`go mod edit`, `go install m@v`).
          [
            'badreplace',
            'replace foo.com/x => ../x v1.0.0',
            'go.mod:3: replacement module directory path "../x" cannot have version',
          ],
          [
            'badreq',
            'require foo.com/x notaversion',
            'go.mod:3: require foo.com/x: version "notaversion" invalid: must be of the form v1.2.3',
          ],
        ] as const) {
          const dir = path.join(work.path, name);
          await writeModule(dir, `module corp.example.com/${name}\n\n${goMod}\n`, name, 'v1.0.0');
          const refusedMod = await publish(dir, rig.go, 'v1.0.0');
          assert.equal(refusedMod.code, 1, refusedMod.stderr);
          assert.ok(refusedMod.stderr.includes(message), refusedMod.stderr);
          const gone = await fetch(`${rig.go}/corp.example.com/${name}/@v/v1.0.0.info`);
          assert.equal(gone.status, 404);
          await gone.arrayBuffer();
          if (name !== 'badreq') {
            // go reads its own go.mod strictly, with the same message for the go line and the
            // replace (a bad require version it would first try to resolve on the network
            // instead); go before 1.22 says "must match format 1.23", newer ones (and NORA)
            // "1.23.0".
            const said = message.replace(/\.0$/, '');
            const own = await goRun(
              ['list', '-m'],
              dir,
              goEnv(path.join(work.path, 'go-home')),
              false,
            );
            assert.notEqual(own.code, 0);
            assert.ok(own.stderr.includes(said), own.stderr);
          }
        }

        // A misspelt directive (trial 21 fmts F3): the module's own go.mod, so named as `go`
        // itself names it in that directory (strict parse), not "has no module line".
        const misspelt = path.join(work.path, 'misspelt');
        await writeModule(misspelt, 'modul corp.example.com/misspelt\n', 'misspelt', 'v1.0.0');
        const typo = await publish(misspelt, rig.go, 'v1.0.0');
        assert.equal(typo.code, 1, typo.stderr);
        assert.ok(typo.stderr.includes('go.mod:1: unknown directive: modul'), typo.stderr);
        assert.ok(!typo.stderr.includes('no module line'), typo.stderr);
        const goSays = await goRun(
          ['mod', 'edit', '-json'],
          misspelt,
          goEnv(path.join(work.path, 'go-home')),
          false,
        );
        assert.notEqual(goSays.code, 0);
        assert.ok(goSays.stderr.includes('go.mod:1: unknown directive: modul'), goSays.stderr);

        // A normal publish, then go downloads and builds against it through /go.
        const hello = path.join(work.path, 'hello');
        await writeModule(hello, 'module corp.example.com/hello\n\ngo 1.19\n', 'hello', 'v1.0.0');
        const published = await publish(hello, rig.go, 'v1.0.0');
        assert.equal(published.code, 0, published.stderr);
        assert.match(published.stdout, /^published corp\.example\.com\/hello@v1\.0\.0 /);
        const consumer = path.join(work.path, 'consumer');
        await fs.mkdir(consumer, { recursive: true });
        await fs.writeFile(
          path.join(consumer, 'go.mod'),
          'module example.com/consumer\n\ngo 1.19\n',
        );
        await fs.writeFile(
          path.join(consumer, 'main.go'),
          'package main\n\nimport (\n\t"fmt"\n\n\t"corp.example.com/hello"\n)\n\nfunc main() { fmt.Println(hello.Version()) }\n',
        );
        const env = goEnv(path.join(work.path, 'go-home'), {
          GOPROXY: rig.go,
          GOPRIVATE: 'corp.example.com',
          GONOPROXY: 'none',
        });
        await goRun(['get', 'corp.example.com/hello@v1.0.0'], consumer, env);
        await goRun(['mod', 'download', 'corp.example.com/hello'], consumer, env);
        await goRun(['build', '-o', 'consumer', '.'], consumer, env);
        const ran = await run(path.join(consumer, 'consumer'), [], { timeoutMs: 30_000 });
        assert.equal(ran.stdout.trim(), 'v1.0.0');
        assert.match(
          await fs.readFile(path.join(consumer, 'go.sum'), 'utf8'),
          /^corp\.example\.com\/hello v1\.0\.0 h1:/m,
        );
      } finally {
        await rig.close();
      }
    });
  },
);

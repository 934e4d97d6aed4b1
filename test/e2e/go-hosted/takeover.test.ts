/**
 * F3 of the new-user trial, with real clients: NORA A's group `go` has go-hosted and go-proxy,
 * whose upstream is NORA B, serving `upstream.example.org/lib v1.0.0`. A consumer builds against
 * it through A. Then `nora go publish` of `upstream.example.org/lib v1.5.0` to A would take the
 * module path over (`protect_hosted_names`): the CLI is refused, saying how to go ahead
 * (`--shadow`); with `--shadow` it publishes and prints the server's warning; afterwards the
 * consumer's `go build` (fresh module cache) fails with a 404 whose server response names the
 * guard, not a bare "not found". Skipped, saying so, without `go`.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, test } from 'node:test';
import { goEnv, goRun } from '../../helpers/go.ts';
import { startTestServer } from '../../helpers/server.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { findTool, PROJECT_ROOT, run } from '../../helpers/tools.ts';

const NODE = process.execPath;
const NORA = path.join(PROJECT_ROOT, 'bin', 'nora.js');
const LIB = 'upstream.example.org/lib';
const missing =
  findTool('go') === undefined ? 'client not installed: go (Debian golang-go)' : false;

async function writeLib(dir: string, version: string): Promise<void> {
  await fs.mkdir(dir, { recursive: true });
  await fs.writeFile(path.join(dir, 'go.mod'), `module ${LIB}\n\ngo 1.19\n`);
  await fs.writeFile(
    path.join(dir, 'lib.go'),
    `package lib\n\n// Version is the version of this copy.\nfunc Version() string { return "${version}" }\n`,
  );
}

function publish(dir: string, registry: string, version: string, ...flags: string[]) {
  return run(
    NODE,
    [NORA, 'go', 'publish', '--registry', registry, '--version', version, ...flags, dir],
    {
      check: false,
      timeoutMs: 60_000,
      env: { ...process.env },
    },
  );
}

describe('nora go publish of a module path the group proxy serves', { skip: missing }, () => {
  test('refused without --shadow, warned with it; then go build gets a 404 naming the guard', async () => {
    await using work = await tempDir('nora-go-takeover-');
    await using b = await startTestServer({ config: { go: { proxy: '', sumdb: [] } } });
    await using a = await startTestServer({
      config: { go: { sumdb: [], negative_cache_ttl: 0 } },
      env: { NORA_GO_PROXY: `${b.url}/go` },
    });

    // B hosts the public v1.0.0; a consumer builds against it through A (cached in go-proxy).
    const v1 = path.join(work.path, 'lib-v1');
    await writeLib(v1, 'v1.0.0');
    const published = await publish(v1, `${b.url}/go`, 'v1.0.0');
    assert.equal(published.code, 0, published.stderr);
    const consumer = path.join(work.path, 'consumer');
    await fs.mkdir(consumer, { recursive: true });
    await fs.writeFile(
      path.join(consumer, 'go.mod'),
      `module example.com/consumer\n\ngo 1.19\n\nrequire ${LIB} v1.0.0\n`,
    );
    await fs.writeFile(
      path.join(consumer, 'main.go'),
      `package main\n\nimport (\n\t"fmt"\n\n\t"${LIB}"\n)\n\nfunc main() { fmt.Println(lib.Version()) }\n`,
    );
    const env = (home: string) =>
      goEnv(path.join(work.path, home), { GOPROXY: `${a.url}/go`, GOSUMDB: 'off' });
    await goRun(['build', '-o', 'consumer', '.'], consumer, env('go-home-1'));

    // The takeover, refused: the CLI says why and how to go ahead.
    const v15 = path.join(work.path, 'lib-v15');
    await writeLib(v15, 'v1.5.0');
    const refused = await publish(v15, `${a.url}/go`, 'v1.5.0');
    assert.equal(refused.code, 1, refused.stderr);
    assert.match(
      refused.stderr,
      /nora go publish: 409 Conflict: refusing to publish upstream\.example\.org\/lib@v1\.5\.0/,
    );
    assert.match(refused.stderr, /served by go-proxy through group go/);
    assert.match(refused.stderr, /run nora go publish --shadow/);
    assert.doesNotMatch(refused.stderr, new RegExp(b.host.replace(/\./g, '\\.')));

    // Asked for: published, with the warning on stderr.
    const taken = await publish(v15, `${a.url}/go`, 'v1.5.0', '--shadow');
    assert.equal(taken.code, 0, taken.stderr);
    assert.match(taken.stdout, /^published upstream\.example\.org\/lib@v1\.5\.0 /);
    assert.doesNotMatch(taken.stdout, /warning/);
    assert.match(
      taken.stderr,
      /^warning: upstream\.example\.org\/lib is served by go-proxy through group go; from now on that group serves only go-hosted's versions of it/m,
    );

    // The consumer pinned to v1.0.0 (a fresh module cache, as a CI runner has): the 404 explains.
    const broken = await goRun(['build', '-o', 'consumer', '.'], consumer, env('go-home-2'), false);
    assert.notEqual(broken.code, 0, broken.stdout);
    assert.match(
      broken.stderr,
      /upstream\.example\.org\/lib@v1\.0\.0(\.\w+)?: go-hosted has no such version \(it has v1\.5\.0\) \(group go does not ask its proxy for a module hosted in go-hosted: protect_hosted_names\)/,
    );
  });
});

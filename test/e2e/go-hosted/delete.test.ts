/**
 * F6 of the new-user trial (cargogo), with Debian's `go`: an admin deletes hosted module versions
 * (`DELETE <mount>/<module>/@v/<version>.zip`, `…/@v/list` for the whole module; delete.ts).
 *
 * 1. A version: `go mod download mod@v1.1.0` works, then after the delete it fails with a fresh
 *    module cache, printing NORA's 404 line; `go list -m -versions` shows only v1.0.0 and
 *    `@latest` resolves to v1.0.0.
 * 2. The undo of a takeover: NORA A's group `go` proxies NORA B, which serves
 *    `upstream.example.org/lib v1.0.0`; a consumer pinned to it breaks once `nora go publish
 *    --shadow` hosts the path in A (404 naming the guard), and builds again (fresh module cache)
 *    once an admin deletes the hosted module.
 * The admin's delete goes through `nora go delete` (a writer's is refused: 403, exit 1; an
 * anonymous DELETE asks for credentials: 401). Skipped,
 * saying so, without `go`.
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
const missing =
  findTool('go') === undefined ? 'client not installed: go (Debian golang-go)' : false;

async function writeModule(dir: string, module: string, version: string): Promise<void> {
  await fs.mkdir(dir, { recursive: true });
  await fs.writeFile(path.join(dir, 'go.mod'), `module ${module}\n\ngo 1.19\n`);
  await fs.writeFile(
    path.join(dir, 'lib.go'),
    `package lib\n\n// Version is the version of this copy.\nfunc Version() string { return "${version}" }\n`,
  );
}

function publish(dir: string, registry: string, version: string, ...flags: string[]) {
  return run(
    NODE,
    [NORA, 'go', 'publish', '--registry', registry, '--version', version, ...flags, dir],
    { check: false, timeoutMs: 60_000, env: { ...process.env } },
  );
}

function deleteCli(registry: string, token: string, ...args: string[]) {
  return run(NODE, [NORA, 'go', 'delete', '--registry', registry, '--token', token, ...args], {
    check: false,
    timeoutMs: 60_000,
    env: { ...process.env },
  });
}

async function remove(url: string, authorization?: string) {
  const res = await fetch(url, {
    method: 'DELETE',
    headers: authorization === undefined ? {} : { authorization },
  });
  return { status: res.status, body: (await res.text()).trim() };
}

describe('go: an admin deletes hosted versions; go sees them gone', { skip: missing }, () => {
  test('a deleted version: go mod download fails with a fresh cache; list and @latest follow', async () => {
    await using work = await tempDir('nora-go-delete-');
    await using nora = await startTestServer({
      config: {
        go: { proxy: '', sumdb: [] },
        auth: { enabled: true, anonymous_read: true, admin_users: ['root'] },
      },
    });
    const { users, tokens } = nora.app.context.identity;
    assert.ok(await users.create('alice', 'alice-pw-1', undefined, ['read', 'write']));
    assert.ok(await users.create('root', 'root-pw-12', undefined, ['read', 'write']));
    const alice = (await tokens.create('alice', { role: 'write' })).secret;
    const admin = (await tokens.create('root', { role: 'admin' })).secret;
    const module = 'corp.example.com/own';
    for (const version of ['v1.0.0', 'v1.1.0']) {
      const dir = path.join(work.path, `own-${version}`);
      await writeModule(dir, module, version);
      const published = await publish(dir, `${nora.url}/go`, version, '--token', alice);
      assert.equal(published.code, 0, published.stderr);
    }
    const cwd = path.join(work.path, 'cwd');
    await fs.mkdir(cwd);
    const env = (home: string) =>
      goEnv(path.join(work.path, home), { GOPROXY: `${nora.url}/go`, GOSUMDB: 'off' });
    await goRun(['mod', 'download', `${module}@v1.1.0`], cwd, env('go-home-1'));

    // Only an admin: the publisher is refused, anonymous is asked for credentials.
    assert.equal((await remove(`${nora.url}/go/${module}/@v/v1.1.0.zip`)).status, 401);
    const registry = `${nora.url}/go`;
    const refused = await deleteCli(registry, alice, `${module}@v1.1.0`);
    assert.equal(refused.code, 1, refused.stderr);
    assert.match(
      refused.stderr,
      /^nora go delete: 403 Forbidden: only an admin may delete corp\.example\.com\/own@v1\.1\.0 /,
    );
    // A module without a version is deleted only with --all.
    const bare = await deleteCli(registry, admin, module);
    assert.equal(bare.code, 1, bare.stderr);
    assert.match(bare.stderr, /give MODULE@VERSION to delete one version, or --all/);
    const deleted = await deleteCli(registry, admin, `${module}@v1.1.0`);
    assert.equal(deleted.code, 0, deleted.stderr);
    assert.match(deleted.stdout, /^deleted corp\.example\.com\/own@v1\.1\.0 from go-hosted; /);

    const gone = await goRun(['mod', 'download', `${module}@v1.1.0`], cwd, env('go-home-2'), false);
    assert.notEqual(gone.code, 0, gone.stdout);
    assert.match(gone.stderr, /corp\.example\.com\/own@v1\.1\.0: .*404 Not Found/);
    assert.match(gone.stderr, /server response: not found: corp\.example\.com\/own@v1\.1\.0/);

    const versions = await goRun(['list', '-m', '-versions', module], cwd, env('go-home-3'));
    assert.equal(versions.stdout.trim(), `${module} v1.0.0`);
    const latest = await goRun(['list', '-m', `${module}@latest`], cwd, env('go-home-4'));
    assert.equal(latest.stdout.trim(), `${module} v1.0.0`);
    await goRun(['mod', 'download', `${module}@v1.0.0`], cwd, env('go-home-5'));
  });

  test('a takeover undone: the consumer pinned to the proxied version builds again', async () => {
    const LIB = 'upstream.example.org/lib';
    await using work = await tempDir('nora-go-undo-');
    await using b = await startTestServer({ config: { go: { proxy: '', sumdb: [] } } });
    await using a = await startTestServer({
      config: { go: { sumdb: [], negative_cache_ttl: 0 } },
      env: { NORA_GO_PROXY: `${b.url}/go` },
    });
    const v1 = path.join(work.path, 'lib-v1');
    await writeModule(v1, LIB, 'v1.0.0');
    assert.equal((await publish(v1, `${b.url}/go`, 'v1.0.0')).code, 0);
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

    // The mistaken --shadow: the pinned build breaks.
    const v15 = path.join(work.path, 'lib-v15');
    await writeModule(v15, LIB, 'v1.5.0');
    const taken = await publish(v15, `${a.url}/go`, 'v1.5.0', '--shadow');
    assert.equal(taken.code, 0, taken.stderr);
    const broken = await goRun(['build', '-o', 'consumer', '.'], consumer, env('go-home-2'), false);
    assert.notEqual(broken.code, 0, broken.stdout);
    assert.match(broken.stderr, /protect_hosted_names/);

    // The admin's undo (auth off: anyone may): the whole hosted module.
    const undone = await remove(`${a.url}/go/${LIB}/@v/list`);
    assert.equal(undone.status, 200, undone.body);
    assert.match(undone.body, /groups guarding hosted names ask their proxies for its path again/);
    await goRun(['build', '-o', 'consumer', '.'], consumer, env('go-home-3'));
    const ran = await run(path.join(consumer, 'consumer'), [], { cwd: consumer });
    assert.equal(ran.stdout.trim(), 'v1.0.0');
  });
});

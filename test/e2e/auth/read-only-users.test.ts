/**
 * `[auth] read_only_users` with the real Cargo and Go clients (auth on, anonymous read off):
 * - `cargo publish` by the read-only user is refused, and cargo's output carries NORA's text
 *   naming the setting (`reader is a read-only user ([auth] read_only_users): …`);
 * - `nora go publish` by the read-only user fails (non-zero exit, the refusal printed), and
 *   `go get` by the same user (its password in .netrc, through a TLS front: go sends credentials
 *   over https only) still resolves a module another user published.
 * Maven's `mvn deploy` is in test/e2e/maven/deploy-resolve.test.ts (its offline plugin set-up).
 * A missing client skips and says so.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, test } from 'node:test';
import {
  CARGO,
  cargoEnv,
  crateManifest,
  missingCargo,
  writeCargoHome,
  writeCrateFiles,
} from '../../helpers/cargo.ts';
import { nora } from '../../helpers/cli.ts';
import { goEnv, goRun, missingTlsFront, startTlsFront } from '../../helpers/go.ts';
import { startTestServer } from '../../helpers/server.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { findTool, output, run } from '../../helpers/tools.ts';

const READ_ONLY = /reader is a read-only user \(\[auth\] read_only_users\): it may not write/;

/** A server with auth on, `reader` listed in read_only_users, and `writer`; both with write roles. */
async function startServer(extra: Record<string, unknown> = {}) {
  const server = await startTestServer({
    config: {
      ...extra,
      auth: { enabled: true, anonymous_read: false, read_only_users: ['reader'] },
    },
  });
  const { users } = server.app.context.identity;
  assert.ok(await users.create('reader', 'reader-pw-1', undefined, ['read', 'write']));
  assert.ok(await users.create('writer', 'writer-pw-1', undefined, ['read', 'write']));
  return server;
}

describe('read_only_users: cargo publish is refused with NORA text', { skip: missingCargo }, () => {
  test('cargo publish by the read-only user: refused, the output names the setting', async () => {
    await using work = await tempDir('nora-e2e-ro-cargo-');
    await using server = await startServer({ cargo: { proxy: '' } });
    // A token the user holds (made before it was listed, or any read token): still read only.
    const token = (await server.app.context.identity.tokens.create('reader', { role: 'write' }))
      .secret;
    const home = path.join(work.path, 'cargo-home');
    await writeCargoHome(home, server.url);
    const crate = path.join(work.path, 'ro-crate');
    await writeCrateFiles(crate, {
      'Cargo.toml': crateManifest('nora-ro-crate', '0.1.0'),
      'src/lib.rs': 'pub fn x() -> u8 { 1 }\n',
    });
    const result = await run(
      CARGO ?? 'cargo',
      ['publish', '--registry', 'nora', '--no-verify', '--allow-dirty'],
      { cwd: crate, env: cargoEnv(home, work.path, token), timeoutMs: 240_000, check: false },
    );
    assert.notEqual(result.code, 0, output(result));
    assert.match(output(result), READ_ONLY);
    const index = await fetch(`${server.url}/cargo/index/no/ra/nora-ro-crate`, {
      headers: { authorization: token },
    });
    await index.arrayBuffer();
    assert.equal(index.status, 404, 'nothing was published');
  });
});

const missingGo =
  findTool('go') === undefined ? 'client not installed: go (Debian golang-go)' : missingTlsFront;

describe('read_only_users: nora go publish fails, go get works', { skip: missingGo }, () => {
  test('the read-only user may not publish but go-gets a module', async () => {
    await using work = await tempDir('nora-e2e-ro-go-');
    await using server = await startServer({ go: { proxy: '', sumdb: [] } });
    const module = 'corp.example.com/ro/lib';
    const lib = path.join(work.path, 'lib');
    await fs.mkdir(lib, { recursive: true });
    await fs.writeFile(path.join(lib, 'go.mod'), `module ${module}\n\ngo 1.19\n`);
    await fs.writeFile(path.join(lib, 'lib.go'), 'package lib\n\nfunc X() int { return 7 }\n');
    const registry = (user: string, password: string) => {
      const url = new URL(`${server.url}/go`);
      url.username = user;
      url.password = password;
      return url.href;
    };
    const publish = (user: string, password: string) =>
      nora(
        ['go', 'publish', '--version', 'v1.0.0', '--registry', registry(user, password), lib],
        {},
      );

    const refused = await publish('reader', 'reader-pw-1');
    assert.notEqual(refused.code, 0, output(refused));
    assert.match(refused.stderr, /403/);
    assert.match(refused.stderr, READ_ONLY);
    const published = await publish('writer', 'writer-pw-1');
    assert.equal(published.code, 0, output(published));

    const tls = await startTlsFront(path.join(work.path, 'tls'), server.url);
    try {
      const home = path.join(work.path, 'home');
      await fs.mkdir(home, { recursive: true });
      await fs.writeFile(
        path.join(home, '.netrc'),
        'machine 127.0.0.1 login reader password reader-pw-1\n',
        { mode: 0o600 },
      );
      const env = goEnv(home, {
        GOPROXY: `${tls.url}/go`,
        GOPRIVATE: 'corp.example.com',
        GONOPROXY: 'none',
        SSL_CERT_FILE: tls.cert,
      });
      const consumer = path.join(work.path, 'consumer');
      await fs.mkdir(consumer, { recursive: true });
      await fs.writeFile(path.join(consumer, 'go.mod'), 'module example.org/consumer\n\ngo 1.19\n');
      const got = await goRun(['get', `${module}@v1.0.0`], consumer, env, false);
      assert.equal(got.code, 0, output(got));
      assert.match(
        await fs.readFile(path.join(consumer, 'go.mod'), 'utf8'),
        /corp\.example\.com\/ro\/lib v1\.0\.0/,
      );
    } finally {
      await tls.stop();
    }
  });
});

/**
 * `[[auth.rules]]` paths hold for every spelling of a name, with the real clients (the HTTP-level
 * checks are test/integration/auth/name-spellings.test.ts): a rule reserving `corp-*` for bob
 * makes `cargo publish` of `corp_app` by carol fail with the 403 cargo shows, and a rule
 * reserving `my-pkg` for bob makes carol's `twine upload` of `My_Pkg` fail with the 403 twine
 * shows; bob's own publishes of those spellings go through. Everyone may read the reserved
 * names (an anonymous rule): cargo reads the crate's index file without its token first, and a
 * rule that also reserves reading answers that read 401 before the publish is even sent. Each
 * client is skipped, saying so, when it is not installed.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  buildProjects,
  indexUrl,
  missingPython,
  output,
  pythonHome,
  twineUpload,
} from '../../helpers/python.ts';
import { startTestServer, type TestServer } from '../../helpers/server.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { run } from '../../helpers/tools.ts';
import {
  CARGO,
  cargoEnv,
  crateManifest,
  missingCargo,
  writeCargoHome,
  writeCrateFiles,
} from '../../helpers/cargo.ts';
const missingTwine = missingPython('build', 'twine');

const USERS = { bob: 'bob-pw-123', carol: 'carol-pw-1' } as const;

async function serverWithRules(): Promise<TestServer> {
  const server = await startTestServer({
    config: {
      cargo: { proxy: '' },
      auth: {
        enabled: true,
        anonymous_read: true,
        rules: [
          {
            repositories: ['cargo-hosted'],
            paths: ['corp-*'],
            users: ['bob'],
            actions: ['read', 'write'],
          },
          {
            repositories: ['pypi-hosted'],
            paths: ['my-pkg'],
            users: ['bob'],
            actions: ['read', 'write'],
          },
          // Everyone reads the reserved names: cargo reads a crate's index file anonymously
          // (config.json does not say auth-required) before it publishes.
          {
            repositories: ['cargo-hosted', 'pypi-hosted'],
            paths: ['corp-*', 'my-pkg'],
            anonymous: true,
            actions: ['read'],
          },
        ],
      },
    },
    env: { NORA_PYPI_PROXY: 'none' },
  });
  const { users } = server.app.context.identity;
  for (const [name, password] of Object.entries(USERS)) {
    assert.ok(await users.create(name, password, undefined, ['read', 'write']));
  }
  return server;
}

describe('cargo publish: a rule on corp-* holds for corp_app', { skip: missingCargo }, () => {
  let server: TestServer;
  let work: { path: string; [Symbol.asyncDispose](): Promise<void> };
  const tokens: Record<string, string> = {};

  before(async () => {
    server = await serverWithRules();
    for (const name of Object.keys(USERS)) {
      tokens[name] = (
        await server.app.context.identity.tokens.create(name, { role: 'write' })
      ).secret;
    }
    work = await tempDir('nora-e2e-spellings-cargo-');
    await writeCargoHome(path.join(work.path, 'cargo-home'), server.url);
  });
  after(async () => {
    await server.close();
    await work[Symbol.asyncDispose]();
  });

  const publish = async (user: keyof typeof USERS, crate: string, version: string) => {
    const dir = path.join(work.path, `${user}-${crate}-${version}`);
    await writeCrateFiles(dir, {
      'Cargo.toml': crateManifest(crate, version),
      'src/lib.rs': 'pub fn f() {}\n',
    });
    const env = cargoEnv(path.join(work.path, 'cargo-home'), work.path, tokens[user]);
    return run(
      CARGO ?? 'cargo',
      ['publish', '--registry', 'nora', '--allow-dirty', '--no-verify'],
      { cwd: dir, env, timeoutMs: 240_000, check: false },
    );
  };

  test('carol: corp_app refused with 403; bob: corp_app published', async () => {
    const refused = await publish('carol', 'corp_app', '1.0.0');
    assert.notEqual(refused.code, 0, refused.stderr);
    assert.match(refused.stderr, /403/, refused.stderr);
    const index = await fetch(`${server.url}/cargo/index/co/rp/corp_app`);
    assert.equal(index.status, 404, 'nothing published');
    const allowed = await publish('bob', 'corp_app', '1.0.0');
    assert.equal(allowed.code, 0, allowed.stderr);
    assert.match(allowed.stderr, /Uploaded corp_app v1\.0\.0/);
    // And carol still cannot add a version under another spelling.
    const again = await publish('carol', 'Corp-App', '1.0.1');
    assert.notEqual(again.code, 0, again.stderr);
    assert.match(again.stderr, /403/, again.stderr);
  });
});

describe('twine upload: a rule on my-pkg holds for My_Pkg', { skip: missingTwine }, () => {
  let server: TestServer;
  let work: { path: string; [Symbol.asyncDispose](): Promise<void> };
  let files: string[];
  let home: Awaited<ReturnType<typeof pythonHome>>;

  before(async () => {
    work = await tempDir('nora-e2e-spellings-pypi-');
    home = await pythonHome(path.join(work.path, 'home'));
    [files, server] = await Promise.all([
      buildProjects(
        home,
        path.join(work.path, 'src'),
        [
          { name: 'My_Pkg', version: '1.0.0' },
          { name: 'My_Pkg', version: '1.1.0' },
        ],
        'wheel',
      ),
      serverWithRules(),
    ]);
  });
  after(async () => {
    await (server as TestServer | undefined)?.close();
    await (work as typeof work | undefined)?.[Symbol.asyncDispose]();
  });

  const file = (version: string): string => {
    const found = files.find((f) => path.basename(f).includes(`-${version}-`));
    assert.ok(found, `no wheel of ${version} in ${files.join(', ')}`);
    return found;
  };

  test('carol: My_Pkg refused with 403 (as twine shows it); bob: My_Pkg uploaded', async () => {
    const index = indexUrl(server.url);
    const refused = await twineUpload(home, index, { username: 'carol', password: USERS.carol }, [
      file('1.0.0'),
    ]);
    assert.notEqual(refused.code, 0, output(refused));
    assert.match(output(refused), /403/, output(refused));
    const page = await fetch(`${server.url}/simple/my-pkg/`);
    assert.equal(page.status, 404, 'nothing uploaded');
    const allowed = await twineUpload(home, index, { username: 'bob', password: USERS.bob }, [
      file('1.0.0'),
    ]);
    assert.equal(allowed.code, 0, output(allowed));
    const later = await twineUpload(home, index, { username: 'carol', password: USERS.carol }, [
      file('1.1.0'),
    ]);
    assert.notEqual(later.code, 0, output(later));
    assert.match(output(later), /403/, output(later));
  });
});

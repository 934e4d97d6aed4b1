/**
 * A rule reserving a Go namespace (`corp.example.com/platform/**` for the group platform) also
 * holds against packages a *parent* module's zip provides inside it (trial rustgo F7): `go`
 * resolves an import path against every module whose path is a prefix of it, so carol's module
 * `corp.example.com` holding `platform/y/y.go` served `corp.example.com/platform/y` from inside
 * the reserved namespace, and made `corp.example.com/platform/x` an ambiguous import. A publish
 * now needs `write` on the import path of every package of its zip (each directory holding a
 * `.go` file): else 403 naming the first such package and the rule's owner, nothing stored.
 * Uploads go through `goPublish` (what `nora go publish` runs) with the user's password in the
 * registry URL, against an in-process server with auth on.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { goPublish, GoPublishError } from '../../../src/formats/go/publish-cli.ts';
import { basic, rule } from '../../helpers/auth.ts';
import { startTestServer, type TestServer } from '../../helpers/server.ts';
import { tempDir } from '../../helpers/tmp.ts';

const PASSWORDS: Readonly<Record<string, string>> = {
  alice: 'alice-pw-1',
  bob: 'bob-pw-1',
  carol: 'carol-pw-1',
};

describe('go hosted: a module may hold packages only where its publisher may write', () => {
  let server: TestServer;
  let work: Awaited<ReturnType<typeof tempDir>>;
  let trees = 0;

  before(async () => {
    work = await tempDir('nora-go-namespace-');
    server = await startTestServer({
      config: {
        go: { proxy: '', sumdb: [] },
        auth: {
          enabled: true,
          anonymous_read: false,
          groups: { platform: ['alice', 'bob'] },
          rules: [
            rule({
              repositories: ['go-hosted'],
              paths: ['corp.example.com/platform/**'],
              groups: ['platform'],
              actions: ['read', 'write'],
            }),
            // Spelled with capitals: the rule path is the decoded module path (`!acme` → `Acme`).
            rule({
              repositories: ['go-hosted'],
              paths: ['corp.example.com/Acme/Team/**'],
              groups: ['platform'],
              actions: ['read', 'write'],
            }),
          ],
        },
      },
    });
    const { users } = server.app.context.identity;
    for (const [name, password] of Object.entries(PASSWORDS)) {
      await users.create(name, password, undefined, ['read', 'write']);
    }
  });
  after(async () => {
    await server.close();
    await work[Symbol.asyncDispose]();
  });

  /** A module tree: go.mod declaring `module`, plus `files` (slash path → content). */
  const tree = async (module: string, files: Readonly<Record<string, string>>) => {
    const dir = path.join(work.path, `m${trees++}`);
    await fs.mkdir(dir, { recursive: true });
    await fs.writeFile(path.join(dir, 'go.mod'), `module ${module}\n\ngo 1.19\n`);
    for (const [name, content] of Object.entries(files)) {
      await fs.mkdir(path.join(dir, path.dirname(name)), { recursive: true });
      await fs.writeFile(path.join(dir, name), content);
    }
    return dir;
  };
  /** `nora go publish --version <version> <dir>` as `user`, through `mount` (`/go` by default). */
  const publish = async (user: string, dir: string, version: string, mount = '/go') => {
    const registry = new URL(`${server.url}${mount}`);
    registry.username = user;
    registry.password = PASSWORDS[user] ?? '';
    try {
      const done = await goPublish({ dir, version, registry: registry.href });
      return { ok: true, text: done.answer ?? '' };
    } catch (err) {
      if (!(err instanceof GoPublishError)) throw err;
      return { ok: false, text: err.message };
    }
  };
  const status = async (url: string, user = 'alice') => {
    const res = await fetch(`${server.url}/go/${url}`, {
      headers: { authorization: basic(user, PASSWORDS[user] ?? '') },
    });
    await res.arrayBuffer();
    return res.status;
  };
  const pkg = (name: string) => `package ${name}\n\nconst Who = "${name}"\n`;

  test("the reserved module is its group's; carol may not publish it (as before)", async () => {
    const x = await tree('corp.example.com/platform/x', { 'x.go': pkg('x') });
    const own = await publish('alice', x, 'v1.3.0');
    assert.ok(own.ok, own.text);
    const refused = await publish('carol', x, 'v1.3.1');
    assert.equal(refused.ok, false);
    assert.match(
      refused.text,
      /^403 Forbidden: carol may not write corp\.example\.com\/platform\/x in go \(the write lands in its member go-hosted, no rule there grants carol write\)/,
    );
  });

  test('a parent module holding packages in the namespace: 403 naming the first, nothing stored', async () => {
    const evil = await tree('corp.example.com', {
      'root.go': pkg('corp'),
      'platform/y/y.go': pkg('y'),
      'platform/x/x.go': pkg('x'),
    });
    const refused = await publish('carol', evil, 'v1.0.1');
    assert.equal(refused.ok, false);
    assert.equal(
      refused.text,
      '403 Forbidden: refusing to publish corp.example.com@v1.0.1: its zip holds the package corp.example.com/platform/x (directory platform/x/), and carol may not write corp.example.com/platform/x in go (the write lands in its member go-hosted, no rule there grants carol write). ' +
        'Go looks a package up in every module whose path is a prefix of its import path, so a module may hold packages only where its publisher may write: ' +
        'leave platform/x/ out of the module, or have it published as its own module by someone who may.',
    );
    // Through the member's own URL: the same check, its refusal names the member and the
    // owning rule (trial 19 fmts F7).
    const direct = await publish('carol', evil, 'v1.0.1', '/repository/go-hosted');
    assert.equal(direct.ok, false);
    assert.match(
      direct.text,
      /^403 Forbidden: refusing to publish corp\.example\.com@v1\.0\.1: its zip holds the package corp\.example\.com\/platform\/x \(directory platform\/x\/\), and carol may not write corp\.example\.com\/platform\/x in go-hosted \(no rule there grants carol write\)\. /,
    );
    // Nothing stored: no version of corp.example.com at all.
    assert.equal(await status('corp.example.com/@v/list'), 404);
    assert.equal(await status('corp.example.com/@v/v1.0.1.info'), 404);
    assert.equal(await status('corp.example.com/@v/v1.0.1.zip'), 404);
    // One package is enough: the other alone is refused too.
    const onlyY = await tree('corp.example.com', { 'platform/y/y.go': pkg('y') });
    const y = await publish('carol', onlyY, 'v1.0.1');
    assert.equal(y.ok, false);
    assert.match(y.text, /its zip holds the package corp\.example\.com\/platform\/y /);
    // A nested directory of the namespace, its parent without Go files, is a package too.
    const deep = await tree('corp.example.com', { 'platform/a/b/c/c.go': pkg('c') });
    const d = await publish('carol', deep, 'v1.0.1');
    assert.match(
      d.text,
      /the package corp\.example\.com\/platform\/a\/b\/c \(directory platform\/a\/b\/c\/\)/,
    );
    assert.equal(await status('corp.example.com/@v/list'), 404);
  });

  test('the parent module without packages in the namespace publishes; platform then publishes inside', async () => {
    // Files that are no package (no .go file) in the namespace are no import path: allowed.
    const parent = await tree('corp.example.com', {
      'root.go': pkg('corp'),
      'util/u.go': pkg('util'),
      'platform/README.md': 'the platform team owns platform/\n',
      'platform/x/notes.txt': 'not Go\n',
      'platformx/p.go': pkg('platformx'),
    });
    const ok = await publish('carol', parent, 'v1.0.2');
    assert.ok(ok.ok, ok.text);
    assert.match(ok.text, /^published corp\.example\.com@v1\.0\.2 /);
    assert.equal(await status('corp.example.com/@v/v1.0.2.zip', 'carol'), 200);
    // The other direction: the parent exists first (without the namespace's packages), and the
    // platform team publishes a module inside it: nothing to refuse, no package is in both.
    const y = await tree('corp.example.com/platform/y', { 'y.go': pkg('y') });
    const own = await publish('bob', y, 'v0.1.0');
    assert.ok(own.ok, own.text);
  });

  test("the namespace's own writers may publish a parent module holding its packages", async () => {
    const whole = await tree('corp.example.com', {
      'root.go': pkg('corp'),
      'platform/z/z.go': pkg('z'),
    });
    const ok = await publish('alice', whole, 'v1.1.0');
    assert.ok(ok.ok, ok.text);
  });

  test('a token scope is a ceiling on the packages too: `<module>/**` covers them, the exact path does not', async () => {
    const mint = async (scope: string[]) => {
      const res = await fetch(`${server.url}/api/tokens`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          username: 'carol',
          password: PASSWORDS['carol'],
          role: 'write',
          scope,
        }),
      });
      assert.equal(res.status, 200, await res.clone().text());
      return ((await res.json()) as { token: string }).token;
    };
    const lib = await tree('corp.example.com/lib', {
      'lib.go': pkg('lib'),
      'sub/s.go': pkg('sub'),
    });
    const send = async (token: string, version: string) => {
      try {
        return (
          (await goPublish({ dir: lib, version, registry: `${server.url}/go`, token })).answer ?? ''
        );
      } catch (err) {
        if (!(err instanceof GoPublishError)) throw err;
        return err.message;
      }
    };
    const exact = await send(await mint(['corp.example.com/lib']), 'v1.0.0');
    assert.match(
      exact,
      /^403 Forbidden: refusing to publish corp\.example\.com\/lib@v1\.0\.0: its zip holds the package corp\.example\.com\/lib\/sub \(directory sub\/\), and this credential may not write corp\.example\.com\/lib\/sub in go \(it is limited to /,
    );
    const prefixed = await send(await mint(['corp.example.com/lib/**']), 'v1.0.0');
    assert.match(prefixed, /^published corp\.example\.com\/lib@v1\.0\.0 /);
  });

  test('case-encoded module paths: the package path is the decoded module path + directory', async () => {
    const acme = await tree('corp.example.com/Acme', {
      'acme.go': pkg('acme'),
      'Team/x/x.go': pkg('x'),
    });
    const refused = await publish('carol', acme, 'v1.0.0');
    assert.equal(refused.ok, false);
    assert.match(
      refused.text,
      /refusing to publish corp\.example\.com\/Acme@v1\.0\.0: its zip holds the package corp\.example\.com\/Acme\/Team\/x \(directory Team\/x\/\), and carol may not write corp\.example\.com\/Acme\/Team\/x in go /,
    );
    assert.equal(await status('corp.example.com/!acme/@v/list'), 404);
    // `team/` is another import path than `Team/` (Go's are case-sensitive): not reserved.
    const lower = await tree('corp.example.com/Acme', {
      'acme.go': pkg('acme'),
      'team/x/x.go': pkg('x'),
    });
    const ok = await publish('carol', lower, 'v1.0.0');
    assert.ok(ok.ok, ok.text);
    const own = await publish('alice', acme, 'v1.1.0');
    assert.ok(own.ok, own.text);
  });
});

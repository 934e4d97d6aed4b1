/**
 * Issue 13 with auth on (NORA_AUTH_ENABLED=true, anonymous read off, an htpasswd user, API
 * tokens from `POST /api/tokens`): twine uploads with the user's password and with
 * `__token__` + a write `nra_` token; a read token's upload is refused (403); anonymous pip
 * fails with 401; pip with the credentials in the index URL (user:password, or
 * `__token__:<read token>`) installs.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import bcrypt from 'bcryptjs';
import { startTestServer, type TestServer } from '../../helpers/server.ts';
import { tempDir } from '../../helpers/tmp.ts';
import {
  buildProjects,
  createVenv,
  indexUrl,
  missingPython,
  output,
  pythonHome,
  twineUpload,
  type PythonHome,
} from '../../helpers/python.ts';

const missing = missingPython('build', 'venv', 'twine');
const USER = { username: 'hanna', password: 'hanna-pw' };

describe('PyPI with auth on: twine and pip with users and nra_ tokens', { skip: missing }, () => {
  let server: TestServer;
  let work: { path: string; [Symbol.asyncDispose](): Promise<void> };
  let home: PythonHome;
  let index: string;
  let files: string[];
  let writeToken: string;
  let readToken: string;
  const file = (re: RegExp) => {
    const found = files.find((f) => re.test(path.basename(f)));
    assert.ok(found, `no built file matches ${re}`);
    return found;
  };
  const mint = async (role: string, scope?: string[]) => {
    const res = await fetch(`${server.url}/api/tokens`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ ...USER, role, description: `pypi e2e ${role}`, scope }),
    });
    assert.equal(res.status, 200, await res.clone().text());
    return ((await res.json()) as { token: string }).token;
  };

  before(async () => {
    work = await tempDir('nora-e2e-pypi-auth-');
    home = await pythonHome(path.join(work.path, 'home'));
    const htpasswd = path.join(work.path, 'users.htpasswd');
    await fs.writeFile(
      htpasswd,
      `${USER.username}:${bcrypt.hashSync(USER.password, 5).replace(/^\$2b\$/, '$2y$')}\n`,
    );
    [files, server] = await Promise.all([
      buildProjects(
        home,
        path.join(work.path, 'src'),
        [
          { name: 'nora-auth-lib', version: '1.0.0' },
          { name: 'nora-auth-lib', version: '1.1.0' },
          { name: 'nora-auth-lib', version: '1.2.0' },
        ],
        'wheel',
      ),
      startTestServer({
        config: { auth: { enabled: true, anonymous_read: false, htpasswd_file: htpasswd } },
        env: { NORA_PYPI_PROXY: 'none' },
      }),
    ]);
    index = indexUrl(server.url);
    writeToken = await mint('write');
    readToken = await mint('read');
  });
  after(async () => {
    await (server as TestServer | undefined)?.close();
    await (work as typeof work | undefined)?.[Symbol.asyncDispose]();
  });

  test('twine with the user password, with __token__ + a write token; read token → 403', async () => {
    const byUser = await twineUpload(home, index, USER, [file(/-1\.0\.0-/)]);
    assert.equal(byUser.code, 0, output(byUser));
    const byToken = await twineUpload(
      home,
      index,
      { username: '__token__', password: writeToken },
      [file(/-1\.1\.0-/)],
    );
    assert.equal(byToken.code, 0, output(byToken));
    const byRead = await twineUpload(home, index, { username: '__token__', password: readToken }, [
      file(/-1\.2\.0-/),
    ]);
    assert.notEqual(byRead.code, 0, output(byRead));
    assert.match(output(byRead), /403/, output(byRead));
    const wrong = await twineUpload(home, index, { username: USER.username, password: 'nope' }, [
      file(/-1\.2\.0-/),
    ]);
    assert.notEqual(wrong.code, 0, output(wrong));
    assert.match(output(wrong), /401|403/, output(wrong));
  });

  test('anonymous pip → 401; credentials in the index URL → installs', async () => {
    const anon = await createVenv(home, path.join(work.path, 'venv-anon'));
    const refused = await anon.pip(
      // -vv: pip logs an index page's HTTP error at debug level only.
      ['install', '-vv', '--no-cache-dir', '--index-url', index, 'nora-auth-lib'],
      { check: false },
    );
    assert.notEqual(refused.code, 0, output(refused));
    assert.match(output(refused), /401 Client Error/, output(refused).slice(-3000));
    assert.deepEqual(await anon.versions('nora-auth-lib'), { 'nora-auth-lib': null });

    for (const [label, creds] of [
      ['user:password', USER],
      ['__token__:read token', { username: '__token__', password: readToken }],
    ] as const) {
      const venv = await createVenv(
        home,
        path.join(work.path, `venv-${label.replace(/\W+/g, '-')}`),
      );
      const res = await venv.pip([
        'install',
        '--no-cache-dir',
        '--index-url',
        indexUrl(server.url, creds),
        'nora-auth-lib',
      ]);
      assert.match(res.stdout, /Successfully installed/, `${label}: ${output(res)}`);
      assert.deepEqual(await venv.versions('nora-auth-lib'), { 'nora-auth-lib': '1.1.0' }, label);
    }
  });

  // Trial 13 F6: a token scoped to the project as pyproject.toml spells it (`Nora_Auth.Lib`)
  // reached nothing, because scopes were compared as written while the project is `nora-auth-lib`.
  test('a token scoped to another spelling of the project uploads and installs it (PEP 503)', async () => {
    const writer = await mint('write', ['pypi:Nora_Auth.Lib']);
    const upload = await twineUpload(home, index, { username: '__token__', password: writer }, [
      file(/-1\.2\.0-/),
    ]);
    assert.equal(upload.code, 0, output(upload));
    const reader = await mint('read', ['pypi:NORA_AUTH_*']);
    const venv = await createVenv(home, path.join(work.path, 'venv-scoped'));
    const res = await venv.pip([
      'install',
      '--no-cache-dir',
      '--index-url',
      indexUrl(server.url, { username: '__token__', password: reader }),
      'nora-auth-lib==1.2.0',
    ]);
    assert.match(res.stdout, /Successfully installed/, output(res));
    // A scope naming another project still reaches nothing of this one.
    const other = await mint('read', ['pypi:other_lib']);
    const refused = await createVenv(home, path.join(work.path, 'venv-other-scope'));
    const no = await refused.pip(
      [
        'install',
        '-vv',
        '--no-cache-dir',
        '--index-url',
        indexUrl(server.url, { username: '__token__', password: other }),
        'nora-auth-lib',
      ],
      { check: false },
    );
    assert.notEqual(no.code, 0, output(no));
    assert.match(output(no), /403 Client Error/, output(no).slice(-3000));
  });
});

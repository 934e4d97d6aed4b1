/**
 * `nora mirror --repo NAME` is checked with one request before anything is fetched. trial 26
 * mirrorR F2: the default group's name (`--repo npm`), a repository of another format (`--repo
 * py-hosted` with `npm`, `--repo npm-hosted` with `pip`) or an unknown name failed every item
 * with a 404, exit 1 ("a failed fetch"), one line per package and none saying what was wrong.
 * Now: exit 2 and one usage line saying what the name is and what to pass; a repository of the
 * right format goes on as before.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createMirrorClient } from '../../../src/mirror/client.ts';
import { MIRROR_FORMATS, checkRepo } from '../../../src/mirror/run.ts';
import { MirrorInputError } from '../../../src/mirror/types.ts';
import { nora } from '../../helpers/cli.ts';
import { startTestServer, type TestServer } from '../../helpers/server.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { NpmHttp } from '../npm/client.ts';

describe('nora mirror --repo: the repository checked up front', () => {
  let server: TestServer;
  let work: { path: string; [Symbol.asyncDispose](): Promise<void> };
  let requirements: string;

  before(async () => {
    work = await tempDir('nora-mirror-repo-');
    server = await startTestServer({
      config: {
        repositories: [
          { name: 'npm-hosted-b', format: 'npm', kind: 'hosted' },
          { name: 'py-hosted', format: 'pypi', kind: 'hosted' },
          { name: 'files', format: 'raw', kind: 'hosted' },
          { name: 'crates', format: 'cargo', kind: 'hosted' },
          { name: 'images', format: 'docker', kind: 'hosted' },
        ],
      },
    });
    const npm = new NpmHttp(`${server.url}/repository/npm-hosted-b`);
    const published = await npm.publish({ name: 'repo-check', version: '1.0.0' });
    assert.equal(published.status, 201);
    requirements = path.join(work.path, 'requirements.txt');
    await fs.writeFile(requirements, 'six==1.16.0\n');
  });
  after(async () => {
    await server.close();
    await work[Symbol.asyncDispose]();
  });

  const mirror = (args: string[]) => nora(['mirror', '--registry', server.url, ...args]);

  test('the default npm or PyPI group by name: exit 2, leave --repo out', async () => {
    const res = await mirror(['--repo', 'npm', 'npm', '--packages', 'repo-check,other']);
    assert.equal(res.code, 2, res.stdout + res.stderr);
    assert.equal(res.stdout, '', 'nothing fetched, no item line');
    assert.equal(
      res.stderr.trim(),
      'nora mirror npm: --repo npm: the repository "npm" is this server\'s default npm repository, served at /npm/, which nora mirror npm reads without --repo: leave --repo out',
    );
    const pip = await mirror(['--repo', 'pypi', 'pip', '--lockfile', requirements]);
    assert.equal(pip.code, 2, pip.stdout + pip.stderr);
    assert.match(
      pip.stderr,
      /^nora mirror pip: --repo pypi: the repository "pypi" is this server's default PyPI repository, served at \/simple\/, which nora mirror pip reads without --repo: leave --repo out\n$/,
    );
  });

  test('an empty --repo (an unset shell variable): exit 2, "--repo needs a name", no probe (trial 27 newR F9)', async () => {
    for (const [value, said] of [
      ['', 'an empty value'],
      ['  ', 'only spaces'],
    ]) {
      const res = await mirror(['--repo', value ?? '', 'npm', '--packages', 'repo-check']);
      assert.equal(res.code, 2, res.stdout + res.stderr);
      assert.equal(res.stdout, '', 'nothing fetched, no item line');
      assert.equal(
        res.stderr.trim(),
        `nora mirror npm: --repo needs a name (it was given ${said}, e.g. from an unset shell variable): name a repository (/repository/<name>/), or leave --repo out to read through /npm/`,
      );
    }
    // Maven has no probe: still refused before any item.
    const maven = await mirror(['--repo', '', 'maven', '--lockfile', requirements]);
    assert.equal(maven.code, 2, maven.stdout + maven.stderr);
    assert.match(maven.stderr, /--repo needs a name/);
  });

  test('a repository of another format, or another default group: exit 2, what to pass', async () => {
    const pypi = await mirror(['--repo', 'py-hosted', 'npm', '--packages', 'repo-check']);
    assert.equal(pypi.code, 2, pypi.stdout + pypi.stderr);
    assert.match(
      pypi.stderr,
      /^nora mirror npm: --repo py-hosted is not an npm repository \(GET \/repository\/py-hosted\/-\/ping answered 404: .*\): name an npm repository \(hosted, proxy or group: \/repository\/<name>\/ as \[\[repositories\]\] in the server's configuration names them\), or leave --repo out to read through \/npm\/\n$/,
    );
    const raw = await mirror(['--repo', 'files', 'yarn', '--lockfile', requirements]);
    assert.equal(raw.code, 2, raw.stdout + raw.stderr);
    assert.match(raw.stderr, /^nora mirror yarn: --repo files is not an npm repository /);
    const npmForPip = await mirror(['--repo', 'npm-hosted-b', 'pip', '--lockfile', requirements]);
    assert.equal(npmForPip.code, 2, npmForPip.stdout + npmForPip.stderr);
    assert.match(
      npmForPip.stderr,
      /^nora mirror pip: --repo npm-hosted-b is not a PyPI repository \(GET \/repository\/npm-hosted-b\/simple\/ answered 404.*\): name a PyPI repository .*, or leave --repo out to read through \/simple\/\n$/,
    );
    const group = await mirror(['--repo', 'npm', 'pip', '--lockfile', requirements]);
    assert.equal(group.code, 2, group.stdout + group.stderr);
    assert.match(
      group.stderr,
      /^nora mirror pip: --repo npm: the repository "npm" is served at \/npm\/, not a PyPI repository: name a PyPI repository /,
    );
  });

  test("an unknown name: exit 2 with the server's words, <name> kept", async () => {
    const res = await mirror(['--repo', 'nope', 'npm', '--packages', 'repo-check']);
    assert.equal(res.code, 2, res.stdout + res.stderr);
    assert.match(
      res.stderr,
      /^nora mirror npm: --repo nope: no repository named "nope" on this server \(named repositories are served at \/repository\/<name>\/, .*\); name an npm repository /,
    );
  });

  test('a repository of the right format: fetched as before', async () => {
    const res = await mirror(['--repo', 'npm-hosted-b', 'npm', '--packages', 'repo-check']);
    assert.equal(res.code, 0, res.stdout + res.stderr);
    assert.match(res.stdout, /^ok {3}npm repo-check@1\.0\.0 /m);
  });

  test("cargo and docker: their own repositories pass, another format's is refused", async () => {
    const client = createMirrorClient(server.url, {
      credentials: { kind: 'none' },
      idleTimeoutMs: 10_000,
    });
    const check = (repo: string, format: string) => {
      const probe = MIRROR_FORMATS[format]?.probe;
      assert.ok(probe, format);
      return checkRepo(client, repo, probe, format);
    };
    await check('crates', 'cargo');
    await check('images', 'docker');
    await check('npm-hosted-b', 'npm');
    await check('py-hosted', 'pip');
    for (const [repo, format, kind] of [
      ['images', 'cargo', 'a Cargo'],
      ['crates', 'docker', 'an OCI \\(docker\\)'],
      ['crates', 'npm', 'an npm'],
    ] as const) {
      await assert.rejects(check(repo, format), (err: unknown) => {
        assert.ok(err instanceof MirrorInputError);
        assert.match(err.message, new RegExp(`^--repo ${repo} is not ${kind} repository `));
        return true;
      });
    }
  });
});

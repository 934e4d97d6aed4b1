/**
 * The write-only-rule warning (auth/rules.ts ruleWarnings) against what real clients do: alice's
 * rules grant `write` without `read` on pypi-hosted and maven-hosted, so nobody but admins may
 * read there, alice included. The warning says twine uploads publish without reading and
 * succeed, and that `mvn deploy` uploads the POM and jar, then fails reading the
 * maven-metadata.xml (which it then never uploads): both are run
 * here as alice, with Debian's twine and Maven, and the test asserts the warning's words and the
 * clients' outcomes agree. Each client's part skips and says so when it is not installed.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import bcrypt from 'bcryptjs';
import { type RuleConfig, ruleWarnings } from '../../../src/auth/rules.ts';
import {
  M2_REPOSITORY,
  mavenMissing,
  mvn,
  settingsXml,
  startNginx,
  tail,
  writeProject,
  type Nginx,
} from '../../helpers/maven.ts';
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

const ALICE = { username: 'alice', password: 'alice-pw-1' };
/** Alice's rules, as `[[auth.rules]]` entries after the config is read (defaults filled in). */
const RULES: RuleConfig[] = [
  { paths: ['write-only-lib'], repositories: ['pypi-hosted'] },
  { paths: ['com/example/writeonly/**'], repositories: ['maven-hosted'] },
].map((rule) => ({
  ...rule,
  users: ['alice'],
  groups: [],
  tokens: [],
  anonymous: false,
  actions: ['write'],
}));
const noPython = missingPython('build', 'twine');
const noMaven = mavenMissing();

describe('a rule granting write without read: the warning and real clients agree', () => {
  let server: TestServer;
  let nginx: Nginx | undefined;
  let work: { path: string; [Symbol.asyncDispose](): Promise<void> };

  before(async () => {
    work = await tempDir('nora-e2e-write-only-');
    const htpasswd = path.join(work.path, 'users.htpasswd');
    await fs.writeFile(htpasswd, `alice:${bcrypt.hashSync(ALICE.password, 5)}\n`);
    if (noMaven === false) nginx = await startNginx(M2_REPOSITORY, path.join(work.path, 'nginx'));
    server = await startTestServer({
      config: {
        auth: { enabled: true, anonymous_read: false, htpasswd_file: htpasswd, rules: RULES },
      },
      env: {
        NORA_PYPI_PROXY: 'none',
        ...(nginx === undefined ? {} : { NORA_MAVEN_PROXIES: nginx.url }),
      },
    });
  });

  after(async () => {
    await server.close();
    await nginx?.stop();
    await work[Symbol.asyncDispose]();
  });

  test('the warning names both rules, twine as succeeding and mvn deploy as failing', () => {
    const warnings = ruleWarnings(RULES);
    assert.equal(warnings.length, 2);
    const owns = ['pypi-hosted write-only-lib', 'maven-hosted com/example/writeonly/**'];
    for (const [i, space] of owns.entries()) {
      const warning = warnings[i] ?? '';
      const head = `auth.rules[${i}] grants write but not read: it owns ${space},`;
      assert.ok(warning.startsWith(head), warning);
      assert.match(warning, /they cannot read back what they publish/);
      assert.match(
        warning,
        /mvn deploy uploads the POM and jar, then fails reading the maven-metadata\.xml/,
      );
      assert.match(warning, /twine and curl uploads publish without reading and succeed/);
    }
  });

  test(
    'twine upload as alice: published, though alice cannot read it back',
    { skip: noPython },
    async () => {
      const home = await pythonHome(path.join(work.path, 'home'));
      const files = await buildProjects(
        home,
        path.join(work.path, 'src'),
        [{ name: 'write-only-lib', version: '1.0.0' }],
        'wheel',
      );
      const up = await twineUpload(home, indexUrl(server.url), ALICE, files);
      assert.equal(up.code, 0, output(up));
      const basic = `Basic ${Buffer.from(`${ALICE.username}:${ALICE.password}`).toString('base64')}`;
      const page = await fetch(`${server.url}/simple/write-only-lib/`, {
        headers: { authorization: basic },
      });
      await page.arrayBuffer();
      assert.equal(page.status, 403, 'alice may not read what she published');
    },
  );

  test(
    'mvn deploy as alice: the POM and jar upload, then the maven-metadata.xml read fails',
    { skip: noMaven },
    async () => {
      const deployUrl = `${server.url}/maven2/`;
      const settings = path.join(work.path, 'settings.xml');
      await fs.writeFile(
        settings,
        settingsXml(deployUrl, [
          { id: 'nora', username: ALICE.username, password: ALICE.password },
        ]),
      );
      const project = path.join(work.path, 'lib');
      await writeProject(project, {
        groupId: 'com.example.writeonly',
        artifactId: 'lib',
        version: '1.0',
        deployUrl,
        sources: {
          'com/example/writeonly/Lib.java':
            'package com.example.writeonly;\npublic final class Lib {}\n',
        },
      });
      const deployed = await mvn(['deploy', '-DskipTests'], {
        cwd: project,
        settings,
        localRepo: path.join(work.path, 'm2'),
      });
      const text = tail(deployed, 20_000);
      assert.notEqual(deployed.code, 0, text);
      assert.match(
        text,
        /Uploaded to nora: \S+\/com\/example\/writeonly\/lib\/1\.0\/lib-1\.0\.jar/,
        text,
      );
      assert.match(
        text,
        /Failed to retrieve remote metadata com\.example\.writeonly:lib\/maven-metadata\.xml: .*status: 403 Forbidden - alice may not read com\/example\/writeonly\/lib\/maven-metadata\.xml/,
        text,
      );
      assert.doesNotMatch(text, /Uploading to nora: \S+maven-metadata\.xml/, text);
    },
  );
});

/**
 * `nora import` of Maven artifacts checked with the real client: a source (the Artifactory
 * fixture) serves HikariCP 5.1.0's jar and POM read from the machine's local Maven repository
 * (test/helpers/maven.ts); after `nora import run` puts them into NORA's `maven-hosted`, Debian's
 * `mvn` builds a tiny project depending on it through NORA's `/maven2/` group with strict
 * checksums (`-C`: a missing or wrong `.sha1` fails the build). The group's proxy member asks
 * nginx serving that same repository for what the build needs besides (plugins, parent POMs):
 * nginx's access log shows the imported jar and POM were never asked of it, so they came from
 * the import. Skipped (and says why) without mvn, nginx or that repository.
 *
 * Not commons-io (THIRD_PARTY): the plugins need another version of it, which the group's
 * dependency-confusion guard (`protect_hosted_names`, docs/maven.md "Group") no longer takes from
 * the proxy once maven-hosted holds commons-io:commons-io — as designed, and what an operator
 * importing third-party artifacts into maven-hosted meets too (docs/import.md).
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, test } from 'node:test';
import { nora } from '../../helpers/cli.ts';
import { type FixtureFile, startSourceFixture } from '../../helpers/import-source.ts';
import {
  M2_REPOSITORY,
  mavenMissing,
  mvn,
  settingsXml,
  startNginx,
  tail,
  writeProject,
} from '../../helpers/maven.ts';
import { startTestServer } from '../../helpers/server.ts';
import { tempDir } from '../../helpers/tmp.ts';

/** In the local Maven repository, with no parent POM; nothing the build's plugins use. */
const LIBRARY = { groupId: 'com.zaxxer', artifactId: 'HikariCP', version: '5.1.0' };
const { groupId, artifactId, version } = LIBRARY;
const DIR = `${groupId.replaceAll('.', '/')}/${artifactId}/${version}`;
const IMPORTED = [`${DIR}/${artifactId}-${version}.jar`, `${DIR}/${artifactId}-${version}.pom`];

describe('nora import: maven, resolved by mvn', { skip: mavenMissing(), timeout: 600_000 }, () => {
  test('an imported jar and POM resolve through /maven2/ with strict checksums, never asked of the upstream', async () => {
    await using work = await tempDir('nora-import-mvn-');
    const files = new Map<string, FixtureFile>();
    for (const rel of IMPORTED) {
      files.set(rel, { data: await fs.readFile(path.join(M2_REPOSITORY, rel)) });
    }
    await using fixture = await startSourceFixture({
      flavour: 'artifactory',
      repos: [{ name: 'libs-release-local', packageType: 'maven', kind: 'local', files }],
    });
    const nginx = await startNginx(M2_REPOSITORY, path.join(work.path, 'nginx'));
    try {
      await using server = await startTestServer({ env: { NORA_MAVEN_PROXIES: nginx.url } });
      const ran = await nora([
        'import',
        'run',
        '--source',
        'artifactory',
        '--url',
        fixture.url,
        '--registry',
        server.url,
        '--allow-private-cidrs',
        '--state',
        path.join(work.path, 'state.jsonl'),
      ]);
      assert.equal(ran.code, 0, ran.stdout + ran.stderr);
      assert.match(ran.stdout, /imported 2 files/);
      assert.match(ran.stdout, /libs-release-local \(maven\) → maven-hosted/);

      const settings = path.join(work.path, 'settings.xml');
      await fs.writeFile(settings, settingsXml(`${server.url}/maven2/`));
      const app = path.join(work.path, 'app');
      await writeProject(app, {
        groupId: 'org.example.imported',
        artifactId: 'uses-imported',
        version: '1.0.0',
        dependencies: [LIBRARY],
      });
      const localRepo = path.join(work.path, 'm2');
      const built = await mvn(['-C', 'compile'], { cwd: app, settings, localRepo });
      assert.equal(built.code, 0, tail(built));
      for (const rel of IMPORTED) {
        const got = await fs.readFile(path.join(localRepo, rel));
        const want = files.get(rel)?.data ?? Buffer.alloc(0);
        assert.ok(got.equals(want), `${rel}: the bytes imported`);
        // mvn checked the checksum file it downloaded beside it (-C) and kept it.
        const sha1 = (await fs.readFile(path.join(localRepo, `${rel}.sha1`), 'utf8')).trim();
        assert.equal(sha1, createHash('sha1').update(want).digest('hex'), `${rel}.sha1`);
      }
      const asked = (await nginx.accessLog()).join('\n');
      assert.match(asked, /maven-compiler-plugin/, 'the upstream served the build its plugins');
      for (const rel of IMPORTED) {
        assert.ok(!asked.includes(rel), `${rel} came from the import, not the upstream`);
      }
    } finally {
      await nginx.stop();
    }
  });
});

/**
 * Retention of a hosted Maven repository with the real `mvn` (skipped, saying so, when mvn,
 * nginx or the local Maven repository is missing): `mvn deploy` of com.example.keep:keep-lib
 * 1.0, 1.1, 2.0-SNAPSHOT (build 1), 1.2 and 2.0-SNAPSHOT again (build 2), in that order, to the
 * default group; a rule `keep_last = 2` applied through the Maven retention adapter keeps
 * 2.0-SNAPSHOT (one version with both builds, stored at its newest) and 1.2, and deletes 1.0 and
 * 1.1. Then maven-metadata.xml lists only the kept versions, and a consumer build (`mvn -U
 * compile`, fresh local repository) pinning a deleted version fails while one pinning a kept
 * version (the snapshot too) builds. nginx serves the machine's local
 * Maven repository as the upstream (plugins), as in deploy-resolve.test.ts.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
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
import { keepLast } from '../../helpers/retention.ts';
import { startTestServer, type TestServer } from '../../helpers/server.ts';
import { removeDir } from '../../helpers/tmp.ts';

const missing = mavenMissing();
const GROUP = 'com.example.keep';
const LIB = 'keep-lib';
const GA = `${GROUP}:${LIB}`;

describe(
  'retention keep_last 2 on maven-hosted: mvn deploy, mvn sees the kept versions',
  { skip: missing },
  () => {
    let work = '';
    let nginx: Nginx | undefined;
    let server: TestServer | undefined;
    let settings = '';
    let producerRepo = '';
    const url = () => `${server?.url ?? ''}/maven2/`;

    before(async () => {
      work = await fs.mkdtemp(path.join(os.tmpdir(), 'nora-e2e-maven-retention-'));
      nginx = await startNginx(M2_REPOSITORY, path.join(work, 'nginx'));
      server = await startTestServer({ env: { NORA_MAVEN_PROXIES: nginx.url } });
      settings = path.join(work, 'settings.xml');
      await fs.writeFile(settings, settingsXml(url()));
      producerRepo = path.join(work, 'producer-m2');
    });
    after(async () => {
      await server?.close();
      await nginx?.stop();
      if (work !== '') await removeDir(work);
    });

    test(
      'five deploys, four versions, two deleted; mvn resolves only the kept ones',
      { timeout: 900_000 },
      async () => {
        const dir = path.join(work, 'lib');
        for (const version of ['1.0', '1.1', '2.0-SNAPSHOT', '1.2', '2.0-SNAPSHOT']) {
          await writeProject(dir, {
            groupId: GROUP,
            artifactId: LIB,
            version,
            deployUrl: url(),
            sources: {
              'com/example/keep/Keep.java': `package com.example.keep;\npublic final class Keep { public static String v() { return ${JSON.stringify(version)}; } }\n`,
            },
          });
          const deployed = await mvn(['deploy', '-DskipTests'], {
            cwd: dir,
            settings,
            localRepo: producerRepo,
          });
          assert.equal(deployed.code, 0, tail(deployed));
        }

        const result = await keepLast(server as TestServer, 'maven', 'maven-hosted', 2);
        assert.deepEqual(result.deleted, [`${GA}@1.0`, `${GA}@1.1`]);
        assert.deepEqual(result.kept, [`${GA}@1.2`, `${GA}@2.0-SNAPSHOT`]);
        assert.ok(result.bytes > 0);

        // The artifact's metadata is regenerated from what is left.
        const metadata = await (
          await fetch(`${url()}com/example/keep/${LIB}/maven-metadata.xml`)
        ).text();
        assert.match(metadata, /<version>1\.2<\/version>/, metadata);
        assert.match(metadata, /<version>2\.0-SNAPSHOT<\/version>/, metadata);
        assert.doesNotMatch(metadata, /<version>1\.[01]<\/version>/, metadata);
        // The snapshot kept both its builds (one version for retention).
        const snapshot = await (
          await fetch(`${url()}com/example/keep/${LIB}/2.0-SNAPSHOT/maven-metadata.xml`)
        ).text();
        assert.match(snapshot, /<buildNumber>2<\/buildNumber>/, snapshot);

        // A consumer build with a fresh local repository (what a build pinning a version does):
        // a deleted version no longer resolves, the kept ones (the snapshot's newest build) do.
        const build = async (version: string) => {
          const consumer = path.join(work, `consumer-${version}`);
          await writeProject(consumer, {
            groupId: 'com.example.use',
            artifactId: 'use-keep',
            version: '1.0',
            dependencies: [{ groupId: GROUP, artifactId: LIB, version }],
            sources: {
              'com/example/use/Use.java':
                'package com.example.use;\npublic final class Use { public static String v() { return com.example.keep.Keep.v(); } }\n',
            },
          });
          return mvn(['-U', 'compile'], {
            cwd: consumer,
            settings,
            localRepo: path.join(work, `consumer-m2-${version}`),
          });
        };
        const gone = await build('1.0');
        assert.notEqual(gone.code, 0, tail(gone));
        assert.match(tail(gone), /com\.example\.keep:keep-lib:(jar:)?1\.0/, tail(gone));
        const kept = await build('1.2');
        assert.equal(kept.code, 0, tail(kept));
        const snap = await build('2.0-SNAPSHOT');
        assert.equal(snap.code, 0, tail(snap));

        // A second pass finds nothing more to delete.
        const second = await keepLast(server as TestServer, 'maven', 'maven-hosted', 2);
        assert.deepEqual(second.deleted, []);
      },
    );
  },
);

/**
 * `nora mirror maven` end to end with real artifacts: nginx serves the machine's local Maven
 * repository read-only as the upstream (standing for Maven Central), a NORA proxies it through
 * `/maven2/`. A project's `mvn dependency:list` output (jackson-databind, whose POM has a parent
 * chain and imports a BOM, and HikariCP; hand-written: no dependency plugin's tree is complete
 * in that repository); the mirror pulls them through NORA, which has seen none of them; nginx is
 * stopped, and `mvn compile` of the project with an empty local repository builds from NORA
 * alone (its plugins were cached by building a project without dependencies first). An artifact
 * nobody has fails naming it; a file that is no dependency list is exit 2.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, test } from 'node:test';
import { nora } from '../../helpers/cli.ts';
import {
  mavenMissing,
  M2_REPOSITORY,
  mvn,
  settingsXml,
  startNginx,
  tail,
  writeProject,
} from '../../helpers/maven.ts';
import { serveNora } from '../../helpers/process.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { output } from '../../helpers/tools.ts';

const DEPENDENCIES = [
  { groupId: 'com.fasterxml.jackson.core', artifactId: 'jackson-databind', version: '2.18.2' },
  { groupId: 'com.zaxxer', artifactId: 'HikariCP', version: '5.1.0' },
];

async function missingArtifacts(): Promise<string | false> {
  for (const d of DEPENDENCIES) {
    const dir = path.join(M2_REPOSITORY, ...d.groupId.split('.'), d.artifactId, d.version);
    if ((await fs.readdir(dir).catch(() => [])).length === 0) return `${dir} is missing`;
  }
  return false;
}

const skip = mavenMissing() || (await missingArtifacts());

describe('nora mirror maven', { skip }, () => {
  test(
    'pre-fetches a dependency:list through NORA, which then serves mvn alone',
    { timeout: 600_000 },
    async () => {
      await using work = await tempDir('nora-mirror-maven-');
      const nginx = await startNginx(M2_REPOSITORY, path.join(work.path, 'nginx'), {
        accessLog: false,
      });
      try {
        const noraDir = path.join(work.path, 'nora');
        await fs.mkdir(noraDir);
        await using server = await serveNora({ dir: noraDir }, { NORA_MAVEN_PROXIES: nginx.url });
        const viaNora = path.join(work.path, 'nora-settings.xml');
        await fs.writeFile(viaNora, settingsXml(`${server.url}/maven2/`));

        const app = path.join(work.path, 'app');
        await writeProject(app, {
          groupId: 'com.example',
          artifactId: 'mirror-app',
          version: '1.0',
          dependencies: DEPENDENCIES,
          sources: {
            'example/App.java':
              'package example;\npublic class App {\n  com.fasterxml.jackson.databind.ObjectMapper mapper;\n  com.zaxxer.hikari.HikariConfig config;\n}\n',
          },
        });
        // What `mvn dependency:list` (plugin 3.6.1 on Maven 3.9) prints for this project; no
        // maven-dependency-plugin's tree is complete in the local repository nginx serves, so the
        // list is written here. Complete: the build below needs every one of them.
        const deps = path.join(work.path, 'deps.txt');
        await fs.writeFile(
          deps,
          [
            '[INFO] --- dependency:3.6.1:list (default-cli) @ mirror-app ---',
            '[INFO]',
            '[INFO] The following files have been resolved:',
            '[INFO]    com.fasterxml.jackson.core:jackson-databind:jar:2.18.2:compile -- module com.fasterxml.jackson.databind',
            '[INFO]    com.fasterxml.jackson.core:jackson-annotations:jar:2.18.2:compile -- module com.fasterxml.jackson.annotation',
            '[INFO]    com.fasterxml.jackson.core:jackson-core:jar:2.18.2:compile -- module com.fasterxml.jackson.core',
            '[INFO]    com.zaxxer:HikariCP:jar:5.1.0:compile -- module com.zaxxer.hikari',
            '[INFO]    org.slf4j:slf4j-api:jar:1.7.36:compile -- module org.slf4j [auto]',
            '[INFO]',
            '',
          ].join('\n'),
        );

        // The plugins a build needs, cached by a build without dependencies.
        const warm = path.join(work.path, 'warm');
        await writeProject(warm, { groupId: 'com.example', artifactId: 'warm', version: '1.0' });
        let res = await mvn(['compile'], {
          cwd: warm,
          settings: viaNora,
          localRepo: path.join(work.path, 'repo-1'),
        });
        assert.equal(res.code, 0, tail(res));

        const mirrored = await nora([
          'mirror',
          'maven',
          '--lockfile',
          deps,
          '--registry',
          server.url,
        ]);
        assert.equal(mirrored.code, 0, output(mirrored));
        for (const label of [
          'maven com.fasterxml.jackson.core:jackson-databind:2.18.2',
          'maven com.fasterxml.jackson.core:jackson-core:2.18.2',
          'maven com.zaxxer:HikariCP:5.1.0',
        ]) {
          assert.match(mirrored.stdout, new RegExp(`^ok {3}${label.replaceAll('.', '\\.')} `, 'm'));
        }

        const missing = path.join(work.path, 'missing.txt');
        await fs.writeFile(
          missing,
          '[INFO] The following files have been resolved:\n[INFO]    com.example:no-such-lib:jar:1.0:compile\n',
        );
        res = await nora(['mirror', 'maven', '--lockfile', missing, '--registry', server.url]);
        assert.equal(res.code, 1, output(res));
        assert.match(
          res.stdout,
          /^fail maven com\.example:no-such-lib:1\.0: 404 from \/maven2\/com\/example\/no-such-lib\/1\.0\/no-such-lib-1\.0\.pom/m,
        );
        res = await nora(['mirror', 'maven', '--lockfile', viaNora, '--registry', server.url]);
        assert.equal(res.code, 2, output(res));
        assert.match(
          res.stderr,
          /^nora mirror maven: no dependencies found: expected the output of `mvn dependency:list`/m,
        );

        // The upstream gone: mvn builds the project from NORA alone.
        await nginx.stop();
        res = await mvn(['compile'], {
          cwd: app,
          settings: viaNora,
          localRepo: path.join(work.path, 'repo-2'),
        });
        assert.equal(res.code, 0, `${tail(res)}\n${server.output().slice(-3000)}`);
        await fs.access(
          path.join(
            work.path,
            'repo-2',
            'com/fasterxml/jackson/core/jackson-databind/2.18.2/jackson-databind-2.18.2.jar',
          ),
        );
      } finally {
        await nginx.stop();
      }
    },
  );
});

/**
 * Gradle (Debian's 4.4.1, which runs on this machine's JDK 17) resolves through NORA's default
 * Maven group `/maven2/`, auth on and anonymous read off, offline: a library deployed into
 * maven-hosted by PUT (what Gradle's maven-publish sends) and a third-party library that NORA
 * fetches from its upstream (nginx serving the machine's local Maven repository read-only), with
 * `credentials { }` in build.gradle (Gradle sends them after the 401 challenge). Gradle's own
 * caches live in a temporary GRADLE_USER_HOME.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import bcrypt from 'bcryptjs';
import { M2_REPOSITORY, THIRD_PARTY, mavenMissing, startNginx, tail } from '../../helpers/maven.ts';
import { startTestServer } from '../../helpers/server.ts';
import { removeDir } from '../../helpers/tmp.ts';
import { missingTools, run } from '../../helpers/tools.ts';

const missing = missingTools('gradle') || mavenMissing();

test(
  'gradle 4.4.1 resolves a hosted and a proxied dependency from /maven2/ (auth on)',
  {
    skip: missing,
    timeout: 300_000,
  },
  async () => {
    const work = await fs.mkdtemp(path.join(os.tmpdir(), 'nora-e2e-gradle-'));
    const nginx = await startNginx(M2_REPOSITORY, path.join(work, 'nginx'));
    const htpasswd = path.join(work, 'users.htpasswd');
    await fs.writeFile(htpasswd, `builder:${bcrypt.hashSync('builder-pw', 5)}\n`);
    const server = await startTestServer({
      config: { auth: { enabled: true, anonymous_read: false, htpasswd_file: htpasswd } },
      env: { NORA_MAVEN_PROXIES: nginx.url },
    });
    try {
      const auth = `Basic ${Buffer.from('builder:builder-pw').toString('base64')}`;
      // A library in maven-hosted, deployed the way maven-publish does: file, then checksums.
      const base = `${server.url}/maven2/com/example/gradle/greeter/2.0.0/greeter-2.0.0`;
      const pom = `<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion>
<groupId>com.example.gradle</groupId><artifactId>greeter</artifactId><version>2.0.0</version>
<dependencies><dependency><groupId>${THIRD_PARTY.groupId}</groupId><artifactId>${THIRD_PARTY.artifactId}</artifactId><version>${THIRD_PARTY.version}</version></dependency></dependencies>
</project>
`;
      // Any bytes do for resolution; Gradle does not open the jar.
      const jar = Buffer.from('PK\u0005\u0006' + '\0'.repeat(18), 'binary');
      for (const [ext, body] of [
        ['pom', Buffer.from(pom)],
        ['jar', jar],
      ] as const) {
        const put = await fetch(`${base}.${ext}`, {
          method: 'PUT',
          headers: { authorization: auth },
          body,
        });
        assert.ok(put.status === 201 || put.status === 200, `PUT .${ext}: ${put.status}`);
        const sha1 = await fetch(`${base}.${ext}.sha1`, {
          method: 'PUT',
          headers: { authorization: auth },
          body: createHash('sha1').update(body).digest('hex'),
        });
        assert.ok(sha1.status < 300, `PUT .${ext}.sha1: ${sha1.status}`);
      }

      const project = path.join(work, 'project');
      await fs.mkdir(project, { recursive: true });
      await fs.writeFile(path.join(project, 'settings.gradle'), "rootProject.name = 'consumer'\n");
      await fs.writeFile(
        path.join(project, 'build.gradle'),
        `apply plugin: 'java'
repositories {
  maven {
    url '${server.url}/maven2/'
    credentials { username 'builder'; password 'builder-pw' }
  }
}
dependencies { compile 'com.example.gradle:greeter:2.0.0' }
task resolveAll { doLast { configurations.compile.files.each { println "RESOLVED " + it.name + " " + it.length() } } }
`,
      );
      const result = await run(
        'gradle',
        [
          '--no-daemon',
          '--console=plain',
          '-g',
          path.join(work, 'gradle-home'),
          '-q',
          'resolveAll',
        ],
        {
          cwd: project,
          env: {
            ...process.env,
            GRADLE_OPTS: '-XX:TieredStopAtLevel=1',
            JAVA_OPTS: '-XX:TieredStopAtLevel=1',
          },
          timeoutMs: 200_000,
          check: false,
        },
      );
      assert.equal(result.code, 0, tail(result));
      assert.match(result.stdout, new RegExp(`RESOLVED greeter-2\\.0\\.0\\.jar ${jar.length}\\b`));
      const upstreamJar = await fs.stat(
        path.join(
          M2_REPOSITORY,
          'commons-io/commons-io',
          THIRD_PARTY.version,
          `commons-io-${THIRD_PARTY.version}.jar`,
        ),
      );
      assert.match(
        result.stdout,
        new RegExp(`RESOLVED commons-io-${THIRD_PARTY.version}\\.jar ${upstreamJar.size}\\b`),
      );
    } finally {
      await server.close();
      await nginx.stop();
      await removeDir(work);
    }
  },
);

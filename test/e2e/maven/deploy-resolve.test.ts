/**
 * Real Maven (Debian's 3.8.7) against NORA with auth on and anonymous read off, offline: nginx
 * serves the machine's local Maven repository read-only as the upstream of `maven-proxy`, so the
 * plugins every build needs flow through NORA too (test/helpers/maven.ts).
 *
 * - `mvn deploy` of a release and of two snapshot builds (timestamped, uniqueVersion) to the
 *   default group `/maven2/` with credentials in settings.xml `<servers>` (Maven sends Basic only
 *   after a 401 challenge); the generated `maven-metadata.xml` at artifact and snapshot level;
 * - a re-deploy of the release fails (409), a deploy without credentials fails (401), one with
 *   a read-only API token fails (403) and one with a wrong password (401), mvn printing NORA's
 *   explanation from the reason phrase (`403 Forbidden - this token is read-only: …`), and one by
 *   a user `[auth] read_only_users` names (403, `viewer is a read-only user …`);
 * - a consumer build with a fresh local repository, `-U` and strict checksums (`-C`) through the
 *   group compiles against the release, then against the newest snapshot build, and a third-party
 *   library from the upstream.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import bcrypt from 'bcryptjs';
import {
  M2_REPOSITORY,
  THIRD_PARTY,
  mavenMissing,
  mvn,
  settingsXml,
  startNginx,
  tail,
  writeProject,
  type Nginx,
} from '../../helpers/maven.ts';
import { startTestServer, type TestServer } from '../../helpers/server.ts';
import { removeDir } from '../../helpers/tmp.ts';
import { run } from '../../helpers/tools.ts';

const missing = mavenMissing();
const GROUP = 'com.example.nora';
const GROUP_PATH = 'com/example/nora';
const LIB = 'hello-lib';
const SNAPSHOT = '1.1-SNAPSHOT';

function helloSource(text: string): Record<string, string> {
  return {
    'com/example/nora/Hello.java': `package com.example.nora;\npublic final class Hello {\n  public static String hi() { return ${JSON.stringify(text)}; }\n}\n`,
  };
}

describe('mvn deploy and resolve through /maven2/ (auth on)', { skip: missing }, () => {
  let work = '';
  let nginx: Nginx | undefined;
  let server: TestServer | undefined;
  let settings = '';
  /** Shared by the producer runs: plugins are fetched once. */
  let producerRepo = '';
  const deployUrl = () => `${server?.url ?? ''}/maven2/`;
  const libDir = () => path.join(work, 'lib');
  const auth = () => `Basic ${Buffer.from('deployer:deployer-pw').toString('base64')}`;
  const get = (p: string) =>
    fetch(`${server?.url ?? ''}/maven2/${p}`, { headers: { authorization: auth() } });
  const deploy = async (version: string, text: string, settingsFile = settings) => {
    await writeProject(libDir(), {
      groupId: GROUP,
      artifactId: LIB,
      version,
      deployUrl: deployUrl(),
      sources: helloSource(text),
    });
    return mvn(['deploy', '-DskipTests'], {
      cwd: libDir(),
      settings: settingsFile,
      localRepo: producerRepo,
    });
  };
  /** A deploy of `version` with `username`/`password` in its own settings.xml (`settings-<name>`). */
  const deployAs = async (version: string, name: string, username: string, password: string) => {
    const file = path.join(work, `settings-${name}.xml`);
    await fs.writeFile(file, settingsXml(deployUrl(), [{ id: 'nora', username, password }]));
    return deploy(version, name, file);
  };
  /** A refused deploy of `version` left no POM behind. */
  const nothingStored = async (version: string) => {
    const none = await get(`${GROUP_PATH}/${LIB}/${version}/${LIB}-${version}.pom`);
    await none.arrayBuffer();
    assert.equal(none.status, 404, 'nothing of the refused deploy is stored');
  };

  before(async () => {
    work = await fs.mkdtemp(path.join((await import('node:os')).tmpdir(), 'nora-e2e-maven-'));
    nginx = await startNginx(M2_REPOSITORY, path.join(work, 'nginx'));
    const htpasswd = path.join(work, 'users.htpasswd');
    await fs.writeFile(
      htpasswd,
      `deployer:${bcrypt.hashSync('deployer-pw', 5)}\nviewer:${bcrypt.hashSync('viewer-pw', 5)}\n`,
    );
    server = await startTestServer({
      config: {
        auth: {
          enabled: true,
          anonymous_read: false,
          htpasswd_file: htpasswd,
          read_only_users: ['viewer'],
        },
      },
      env: { NORA_MAVEN_PROXIES: nginx.url },
    });
    settings = path.join(work, 'settings.xml');
    await fs.writeFile(
      settings,
      settingsXml(deployUrl(), [{ id: 'nora', username: 'deployer', password: 'deployer-pw' }]),
    );
    producerRepo = path.join(work, 'producer-m2');
  });

  after(async () => {
    await server?.close();
    await nginx?.stop();
    if (work !== '') await removeDir(work);
  });

  test('mvn deploy of a release (Basic after a 401 challenge)', { timeout: 300_000 }, async () => {
    const challenge = await fetch(`${deployUrl()}${GROUP_PATH}/${LIB}/maven-metadata.xml`);
    await challenge.arrayBuffer();
    assert.equal(challenge.status, 401, 'anonymous read is off: a 401 challenge');
    assert.match(challenge.headers.get('www-authenticate') ?? '', /^Basic/i);

    const result = await deploy('1.0.0', 'release 1.0.0');
    assert.equal(result.code, 0, tail(result));
    assert.match(result.stdout, /Uploaded to nora: .*hello-lib-1\.0\.0\.jar/);

    const jar = await get(`${GROUP_PATH}/${LIB}/1.0.0/${LIB}-1.0.0.jar`);
    const body = Buffer.from(await jar.arrayBuffer());
    assert.equal(jar.status, 200);
    assert.deepEqual(
      body,
      await fs.readFile(path.join(libDir(), 'target', `${LIB}-1.0.0.jar`)),
      'the jar comes back byte for byte',
    );
    for (const ext of ['md5', 'sha1', 'sha256', 'sha512']) {
      const sum = await get(`${GROUP_PATH}/${LIB}/1.0.0/${LIB}-1.0.0.jar.${ext}`);
      assert.equal(sum.status, 200, `.${ext}`);
      const algo = ext === 'sha1' ? 'sha1' : ext;
      const { createHash } = await import('node:crypto');
      assert.equal(
        (await sum.text()).trim().split(/\s/)[0],
        createHash(algo).update(body).digest('hex'),
      );
    }
  });

  test(
    'mvn deploy of two snapshot builds: timestamped files and generated metadata',
    {
      timeout: 300_000,
    },
    async () => {
      for (const build of [1, 2]) {
        const result = await deploy(SNAPSHOT, `snapshot build ${build}`);
        assert.equal(result.code, 0, tail(result));
        assert.match(
          result.stdout,
          new RegExp(`Uploaded to nora: .*${LIB}-1\\.1-\\d{8}\\.\\d{6}-${build}\\.jar`),
        );
        await fs.copyFile(
          path.join(libDir(), 'target', `${LIB}-${SNAPSHOT}.jar`),
          path.join(work, `snapshot-build-${build}.jar`),
        );
      }
      const artifactMeta = await get(`${GROUP_PATH}/${LIB}/maven-metadata.xml`);
      const artifactXml = await artifactMeta.text();
      assert.equal(artifactMeta.status, 200, artifactXml);
      assert.match(artifactXml, /<version>1\.0\.0<\/version>/);
      assert.match(artifactXml, /<version>1\.1-SNAPSHOT<\/version>/);
      assert.match(artifactXml, /<release>1\.0\.0<\/release>/);
      assert.match(artifactXml, /<latest>1\.1-SNAPSHOT<\/latest>/);

      const snapMeta = await get(`${GROUP_PATH}/${LIB}/${SNAPSHOT}/maven-metadata.xml`);
      const snapXml = await snapMeta.text();
      assert.equal(snapMeta.status, 200, snapXml);
      assert.match(snapXml, /<buildNumber>2<\/buildNumber>/);
      assert.match(snapXml, /<timestamp>\d{8}\.\d{6}<\/timestamp>/);
      assert.match(snapXml, /<extension>jar<\/extension>\s*<value>1\.1-\d{8}\.\d{6}-2<\/value>/);
      assert.match(snapXml, /<extension>pom<\/extension>\s*<value>1\.1-\d{8}\.\d{6}-2<\/value>/);
      const sha1 = await get(`${GROUP_PATH}/${LIB}/${SNAPSHOT}/maven-metadata.xml.sha1`);
      const { createHash } = await import('node:crypto');
      assert.equal(
        (await sha1.text()).trim(),
        createHash('sha1').update(snapXml).digest('hex'),
        'the metadata checksum matches the metadata served',
      );
    },
  );

  test('a re-deploy of the release fails with 409 Conflict', { timeout: 300_000 }, async () => {
    const result = await deploy('1.0.0', 'release 1.0.0 again');
    assert.notEqual(result.code, 0, tail(result));
    assert.match(result.stdout + result.stderr, /409/, tail(result));
    // The first deploy's bytes are still there.
    const jar = await get(`${GROUP_PATH}/${LIB}/1.0.0/${LIB}-1.0.0.jar.sha1`);
    assert.equal(jar.status, 200);
  });

  test(
    'a retried deploy of the same release files succeeds and changes nothing',
    { timeout: 300_000 },
    async () => {
      // What a deploy cut short leaves: files that landed. `mvn deploy:deploy-file` sends the
      // stored jar and POM again (with their checksums and the metadata).
      const retry = path.join(work, 'retry');
      await fs.mkdir(retry, { recursive: true });
      const stored: Record<string, Buffer> = {};
      for (const ext of ['jar', 'pom']) {
        const res = await get(`${GROUP_PATH}/${LIB}/1.0.0/${LIB}-1.0.0.${ext}`);
        assert.equal(res.status, 200);
        stored[ext] = Buffer.from(await res.arrayBuffer());
        await fs.writeFile(path.join(retry, `${LIB}-1.0.0.${ext}`), stored[ext]);
      }
      const result = await mvn(
        [
          'deploy:deploy-file',
          `-Dfile=${path.join(retry, `${LIB}-1.0.0.jar`)}`,
          `-DpomFile=${path.join(retry, `${LIB}-1.0.0.pom`)}`,
          '-DgeneratePom=false',
          `-Durl=${deployUrl()}`,
          '-DrepositoryId=nora',
        ],
        { cwd: libDir(), settings, localRepo: producerRepo },
      );
      assert.equal(result.code, 0, tail(result));
      for (const ext of ['jar', 'pom']) {
        const res = await get(`${GROUP_PATH}/${LIB}/1.0.0/${LIB}-1.0.0.${ext}`);
        assert.deepEqual(
          Buffer.from(await res.arrayBuffer()),
          stored[ext],
          `the ${ext} is unchanged`,
        );
      }
    },
  );

  test(
    'a deploy without credentials fails with 401, with a read-only token with 403',
    {
      timeout: 600_000,
    },
    async () => {
      const anonymous = path.join(work, 'settings-anonymous.xml');
      await fs.writeFile(anonymous, settingsXml(deployUrl()));
      // Resolution needs credentials too (anonymous read is off): the build fails at its first read.
      const refused = await deploy('1.2.0', 'no credentials', anonymous);
      assert.notEqual(refused.code, 0, tail(refused));
      assert.match(refused.stdout + refused.stderr, /401|Unauthorized/, tail(refused));

      const res = await fetch(`${server?.url ?? ''}/api/tokens`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          username: 'deployer',
          password: 'deployer-pw',
          role: 'read',
          description: 'maven read',
        }),
      });
      assert.equal(res.status, 200);
      const token = ((await res.json()) as { token: string }).token;
      const forbidden = await deployAs('1.3.0', 'read-token', 'token', token);
      assert.notEqual(forbidden.code, 0, tail(forbidden));
      assert.match(forbidden.stdout + forbidden.stderr, /403|Forbidden/, tail(forbidden));
      // mvn prints the status line, never the body: NORA's reason phrase carries the why.
      assert.match(
        forbidden.stdout + forbidden.stderr,
        /Forbidden - this token is read-only: it may not write/,
        tail(forbidden),
      );
      await nothingStored('1.3.0');
    },
  );

  test(
    'a deploy by a read-only user ([auth] read_only_users) fails with 403, mvn printing why',
    { timeout: 300_000 },
    async () => {
      const forbidden = await deployAs('1.5.0', 'read-only-user', 'viewer', 'viewer-pw');
      assert.notEqual(forbidden.code, 0, tail(forbidden));
      assert.match(
        forbidden.stdout + forbidden.stderr,
        /Forbidden - viewer is a read-only user \(\[auth\] read_only_users\): it may not write/,
        tail(forbidden),
      );
      await nothingStored('1.5.0');
    },
  );

  test(
    'a deploy with a wrong password fails with 401, mvn printing why',
    { timeout: 300_000 },
    async () => {
      const unauthorized = await deployAs('1.4.0', 'wrong-password', 'deployer', 'not-it');
      assert.notEqual(unauthorized.code, 0, tail(unauthorized));
      assert.match(
        unauthorized.stdout + unauthorized.stderr,
        /Unauthorized - invalid credentials/,
        tail(unauthorized),
      );
    },
  );

  test(
    'a consumer build (-U -C, fresh local repository) resolves the release, the newest snapshot and a third-party library',
    {
      timeout: 300_000,
    },
    async () => {
      const consumerRepo = path.join(work, 'consumer-m2');
      const consumer = path.join(work, 'consumer');
      const build = async (libVersion: string, expected: string) => {
        await writeProject(consumer, {
          groupId: GROUP,
          artifactId: 'hello-app',
          version: '1.0.0',
          dependencies: [{ groupId: GROUP, artifactId: LIB, version: libVersion }, THIRD_PARTY],
          sources: {
            'com/example/nora/app/Main.java': `package com.example.nora.app;
public final class Main {
  public static void main(String[] args) {
    String s = com.example.nora.Hello.hi();
    if (!${JSON.stringify(expected)}.equals(s)) throw new IllegalStateException(s);
    System.out.println(org.apache.commons.io.FilenameUtils.getExtension("a/b.jar") + " " + s);
  }
}
`,
          },
        });
        const result = await mvn(['-U', '-C', 'package', '-DskipTests'], {
          cwd: consumer,
          settings,
          localRepo: consumerRepo,
        });
        if (result.code !== 0) return result;
        // Run it against the jars Maven resolved: the right build of the library is on the path.
        const resolvedLib = path.join(consumerRepo, GROUP_PATH, LIB, libVersion);
        const classpath = [
          path.join(consumer, 'target', 'classes'),
          path.join(resolvedLib, `${LIB}-${libVersion}.jar`),
          path.join(
            consumerRepo,
            'commons-io/commons-io',
            THIRD_PARTY.version,
            `commons-io-${THIRD_PARTY.version}.jar`,
          ),
        ].join(path.delimiter);
        const ran = await run('java', ['-cp', classpath, 'com.example.nora.app.Main'], {
          check: false,
          timeoutMs: 60_000,
        });
        assert.equal(ran.code, 0, ran.stderr);
        assert.equal(ran.stdout.trim(), `jar ${expected}`);
        return result;
      };
      const release = await build('1.0.0', 'release 1.0.0');
      assert.equal(release.code, 0, tail(release));
      assert.doesNotMatch(release.stdout, /Checksum validation failed/);

      const snapshot = await build(SNAPSHOT, 'snapshot build 2');
      assert.equal(snapshot.code, 0, tail(snapshot));
      const resolvedDir = path.join(consumerRepo, GROUP_PATH, LIB, SNAPSHOT);
      assert.deepEqual(
        await fs.readFile(path.join(resolvedDir, `${LIB}-${SNAPSHOT}.jar`)),
        await fs.readFile(path.join(work, 'snapshot-build-2.jar')),
        'the snapshot jar resolved is build 2',
      );
      const meta = await fs.readFile(path.join(resolvedDir, 'maven-metadata-nora.xml'), 'utf8');
      assert.match(meta, /<buildNumber>2<\/buildNumber>/, meta);
      const third = path.join(
        consumerRepo,
        'commons-io/commons-io',
        THIRD_PARTY.version,
        `commons-io-${THIRD_PARTY.version}.jar`,
      );
      assert.deepEqual(
        await fs.readFile(third),
        await fs.readFile(path.join(M2_REPOSITORY, path.relative(consumerRepo, third))),
        'the third-party jar came from the upstream tree unchanged',
      );
    },
  );
});

/**
 * Real Maven (Debian's 3.8.7): `mvn deploy:deploy-file` of a truncated jar (a real jar cut short:
 * it starts with `PK` but has no zip end record, trial 19 fmts F5) to NORA's hosted repository
 * through `/maven2/` fails with NORA's refusal, which mvn prints from the reason phrase
 * (`status: 400 Bad Request - … starts with PK but has no zip end record …`), and the jar is not
 * stored. Deployed alone (`-DgeneratePom=false`) nothing is stored: no `maven-metadata.xml`
 * lists the version. With its generated POM (mvn sends it after the refused jar) the POM is
 * refused too and the version is not listed (trial 21); the whole jar then deploys under that
 * version, POM and all. The whole jar deploys and is listed. `mvn deploy` of a project sends
 * the POM BEFORE the jar: when that jar is refused (cut between `mvn package` and `mvn deploy`), the
 * POM it stored just before is withdrawn and the version is not listed (trial 23); for a SNAPSHOT
 * with an earlier build, only the new build's POM is withdrawn and the metadata names the earlier
 * build again (twenty-first session). nginx serves the machine's local
 * Maven repository as the upstream, for maven-deploy-plugin's tree; the test skips when mvn,
 * nginx or that repository is missing (mavenMissing).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { PLUGINS, mavenMissing, mvn, pinnedPlugins, tail } from '../../helpers/maven.ts';
import { startMavenRig, type MavenRig } from '../../helpers/maven-rig.ts';
import { makeZip } from '../../integration/pypi/fixtures.ts';

const missing = mavenMissing();
const TIMEOUT = 300_000;
const GROUP_PATH = 'com/acme/cut';

describe('mvn deploy-file of a truncated jar is refused, nothing stored', { skip: missing }, () => {
  let rig: MavenRig | undefined;
  let work = '';
  let settings = '';
  const serverUrl = () => rig?.server.url ?? '';
  const jar = makeZip([
    { name: 'META-INF/MANIFEST.MF', data: Buffer.from('Manifest-Version: 1.0\r\n\r\n') },
    { name: 'com/acme/cut/Cut.class', data: randomBytes(40_000), store: true },
  ]);

  before(async () => {
    rig = await startMavenRig({ prefix: 'nora-e2e-maven-cut-' });
    ({ work, settings } = rig);
  });

  after(async () => {
    await rig?.close();
  });

  const deployFile = async (file: string, version: string, generatePom: boolean) => {
    const empty = path.join(work, 'empty');
    await fs.mkdir(empty, { recursive: true });
    return mvn(
      [
        `org.apache.maven.plugins:maven-deploy-plugin:${PLUGINS['maven-deploy-plugin'] ?? ''}:deploy-file`,
        `-Dfile=${file}`,
        '-DgroupId=com.acme',
        '-DartifactId=cut',
        `-Dversion=${version}`,
        '-Dpackaging=jar',
        `-DgeneratePom=${String(generatePom)}`,
        `-Durl=${serverUrl()}/maven2/`,
        '-DrepositoryId=nora',
      ],
      { cwd: empty, settings, localRepo: path.join(work, 'm2-deploy') },
    );
  };
  const cutJar = async (version: string) => {
    const file = path.join(work, `cut-${version}.jar`);
    await fs.writeFile(file, jar.subarray(0, Math.floor(jar.length * 0.6)));
    return file;
  };
  const refused = (result: Awaited<ReturnType<typeof deployFile>>) => {
    assert.notEqual(result.code, 0, tail(result));
    const output = result.stdout + result.stderr;
    assert.match(output, /status: 400 Bad Request/, tail(result));
    assert.match(
      output,
      /cut-\d\.\d\.\d\.jar starts with PK but has no zip end record: a truncated or damaged \.jar; nothing stored/,
      tail(result),
    );
  };
  const stored = async (version: string) => {
    const res = await fetch(`${serverUrl()}/maven2/${GROUP_PATH}/${version}/cut-${version}.jar`);
    await res.arrayBuffer();
    return res.status;
  };
  const listed = async (version: string) => {
    const res = await fetch(`${serverUrl()}/maven2/${GROUP_PATH}/maven-metadata.xml`);
    const xml = await res.text();
    return res.status === 200 && xml.includes(`<version>${version}</version>`);
  };

  test(
    'the jar alone: mvn fails with the refusal; nothing stored, no version listed',
    { timeout: TIMEOUT },
    async () => {
      refused(await deployFile(await cutJar('1.0.0'), '1.0.0', false));
      assert.equal(await stored('1.0.0'), 404, 'the truncated jar is not stored');
      assert.equal(await listed('1.0.0'), false, 'no maven-metadata.xml lists 1.0.0');
    },
  );

  test('the whole jar then deploys and is listed', { timeout: TIMEOUT }, async () => {
    const whole = path.join(work, 'cut-1.0.1.jar');
    await fs.writeFile(whole, jar);
    const result = await deployFile(whole, '1.0.1', true);
    assert.equal(result.code, 0, tail(result));
    const file = await fetch(`${serverUrl()}/maven2/${GROUP_PATH}/1.0.1/cut-1.0.1.jar`);
    assert.equal(file.status, 200);
    assert.deepEqual(Buffer.from(await file.arrayBuffer()), jar);
    assert.equal(await listed('1.0.1'), true);
    assert.equal(await listed('1.0.0'), false);
  });

  // mvn sends the jar, then the generated POM, and goes on after the jar's 400 (it prints the
  // first error only). The POM is refused (400 naming the refused jar: hosted.ts, RefusedArchives),
  // so 1.0.2 is not listed with a POM and no jar (it was before, trial 21).
  test(
    'with its generated POM: the truncated jar is refused, then its POM; no version listed',
    { timeout: TIMEOUT },
    async () => {
      const result = await deployFile(await cutJar('1.0.2'), '1.0.2', true);
      refused(result);
      assert.match(
        result.stdout + result.stderr,
        /Uploading to nora: \S+\/com\/acme\/cut\/1\.0\.2\/cut-1\.0\.2\.pom/,
        'mvn sent the POM after the refused jar',
      );
      assert.equal(await stored('1.0.2'), 404, 'the truncated jar is not stored');
      const pom = await fetch(`${serverUrl()}/maven2/${GROUP_PATH}/1.0.2/cut-1.0.2.pom`);
      await pom.arrayBuffer();
      assert.equal(pom.status, 404, 'the POM sent after it is refused');
      assert.equal(await listed('1.0.2'), false, 'no maven-metadata.xml lists 1.0.2');
    },
  );

  test(
    'the same version with its whole jar then deploys, POM and all, and is listed',
    {
      timeout: TIMEOUT,
    },
    async () => {
      const whole = path.join(work, 'cut-1.0.2.jar');
      await fs.writeFile(whole, jar);
      const result = await deployFile(whole, '1.0.2', true);
      assert.equal(result.code, 0, tail(result));
      assert.equal(await stored('1.0.2'), 200);
      const pom = await fetch(`${serverUrl()}/maven2/${GROUP_PATH}/1.0.2/cut-1.0.2.pom`);
      assert.equal(pom.status, 200);
      assert.match(await pom.text(), /<version>1\.0\.2<\/version>/);
      assert.equal(await listed('1.0.2'), true);
    },
  );

  // `mvn deploy` of a project: the POM (and its checksums) first, then the jar. The jar is cut
  // after packaging (between `mvn package` and `mvn deploy`), so NORA refuses it; the POM this deploy stored just
  // before is withdrawn, so 2.0.0 is not listed with no jar (it was, until trial 23).
  test(
    'mvn deploy of a project: POM first, then the cut jar is refused; the POM is withdrawn, no version listed',
    { timeout: TIMEOUT },
    async () => {
      const project = path.join(work, 'project');
      await fs.mkdir(project, { recursive: true });
      await fs.writeFile(
        path.join(project, 'pom.xml'),
        `<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>com.acme</groupId><artifactId>cut</artifactId><version>2.0.0</version>
  <packaging>jar</packaging>
  <properties><project.build.sourceEncoding>UTF-8</project.build.sourceEncoding></properties>
  <build>
    <pluginManagement><plugins>${pinnedPlugins().join('')}</plugins></pluginManagement>
  </build>
</project>
`,
      );
      await fs.mkdir(path.join(project, 'src/main/resources'), { recursive: true });
      await fs.writeFile(path.join(project, 'src/main/resources/cut.txt'), 'cut\n'.repeat(500));
      const localRepo = path.join(work, 'm2-project');
      const built = await mvn(['package'], { cwd: project, settings, localRepo });
      assert.equal(built.code, 0, tail(built));
      // Cut after packaging: the jar plugin finds it newer than its inputs and keeps it (not
      // forced), so `mvn deploy` sends these 100 bytes, as a jar damaged on the way would be.
      const jarFile = path.join(project, 'target/cut-2.0.0.jar');
      await fs.truncate(jarFile, 100);
      const result = await mvn(
        ['deploy', `-DaltDeploymentRepository=nora::${serverUrl()}/maven2/`],
        { cwd: project, settings, localRepo },
      );
      assert.notEqual(result.code, 0, tail(result));
      const output = result.stdout + result.stderr;
      assert.match(
        output,
        /Uploading to nora: \S+\/com\/acme\/cut\/2\.0\.0\/cut-2\.0\.0\.pom[\s\S]*Uploading to nora: \S+\/com\/acme\/cut\/2\.0\.0\/cut-2\.0\.0\.jar/,
        `mvn sent the POM before the jar\n${tail(result)}`,
      );
      assert.match(
        output,
        /status: 400 Bad Request - \S*cut-2\.0\.0\.jar starts with PK/,
        tail(result),
      );
      assert.equal(await stored('2.0.0'), 404, 'the cut jar is not stored');
      const pom = await fetch(`${serverUrl()}/maven2/${GROUP_PATH}/2.0.0/cut-2.0.0.pom`);
      await pom.arrayBuffer();
      assert.equal(pom.status, 404, 'the POM stored just before was withdrawn');
      assert.equal(await listed('2.0.0'), false, 'no maven-metadata.xml lists 2.0.0');
    },
  );

  // A SNAPSHOT with an earlier build: build 1 deploys whole, build 2's jar is cut. Build 2's POM
  // (sent first) is withdrawn, build 1 stays, and the snapshot's maven-metadata.xml names build 1
  // again; until the twenty-first session build 2's POM was kept once earlier builds were there.
  test(
    'mvn deploy of a SNAPSHOT whose second build has a cut jar: that build withdrawn, the first stays newest',
    { timeout: TIMEOUT },
    async () => {
      const project = path.join(work, 'project-snapshot');
      await fs.mkdir(path.join(project, 'src/main/resources'), { recursive: true });
      await fs.writeFile(
        path.join(project, 'pom.xml'),
        `<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>com.acme</groupId><artifactId>cut</artifactId><version>3.0.0-SNAPSHOT</version>
  <packaging>jar</packaging>
  <properties><project.build.sourceEncoding>UTF-8</project.build.sourceEncoding></properties>
  <build>
    <pluginManagement><plugins>${pinnedPlugins().join('')}</plugins></pluginManagement>
  </build>
</project>
`,
      );
      const resource = path.join(project, 'src/main/resources/cut.txt');
      const localRepo = path.join(work, 'm2-project-snapshot');
      const deploy = () =>
        mvn(['deploy', `-DaltDeploymentRepository=nora::${serverUrl()}/maven2/`], {
          cwd: project,
          settings,
          localRepo,
        });
      const dir = `${serverUrl()}/maven2/${GROUP_PATH}/3.0.0-SNAPSHOT`;
      const buildOf = async () => {
        const res = await fetch(`${dir}/maven-metadata.xml`);
        const xml = await res.text();
        assert.equal(res.status, 200, xml);
        return /<buildNumber>(\d+)<\/buildNumber>/.exec(xml)?.[1];
      };

      await fs.writeFile(resource, 'build one\n'.repeat(500));
      const first = await deploy();
      assert.equal(first.code, 0, tail(first));
      assert.equal(await buildOf(), '1');
      const firstJar = Buffer.from(
        await (await fetch(`${dir}/cut-3.0.0-SNAPSHOT.jar`)).arrayBuffer(),
      );
      assert.equal(firstJar.subarray(0, 2).toString('latin1'), 'PK');

      await fs.writeFile(resource, 'build two\n'.repeat(500));
      const built = await mvn(['package'], { cwd: project, settings, localRepo });
      assert.equal(built.code, 0, tail(built));
      await fs.truncate(path.join(project, 'target/cut-3.0.0-SNAPSHOT.jar'), 100);
      const second = await deploy();
      assert.notEqual(second.code, 0, tail(second));
      const output = second.stdout + second.stderr;
      const sent = /Uploading to nora: \S+\/(cut-3\.0\.0-(\d{8}\.\d{6})-2)\.pom/.exec(output);
      assert.ok(sent, `mvn sent build 2's POM first\n${tail(second)}`);
      assert.match(output, /status: 400 Bad Request - \S*cut-3\.0\.0-\S+-2\.jar starts with PK/);
      const pom = await fetch(`${dir}/${sent[1] ?? ''}.pom`);
      await pom.arrayBuffer();
      assert.equal(pom.status, 404, "build 2's POM was withdrawn");
      assert.equal(await buildOf(), '1', 'the snapshot metadata names build 1 again');
      const served = await fetch(`${dir}/cut-3.0.0-SNAPSHOT.jar`);
      assert.deepEqual(Buffer.from(await served.arrayBuffer()), firstJar, 'build 1 is served');
      assert.equal(await listed('3.0.0-SNAPSHOT'), true);
    },
  );
});

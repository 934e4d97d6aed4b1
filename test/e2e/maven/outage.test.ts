/**
 * Real Maven (Debian's 3.8.7) through the default group `/maven2/` while an upstream is down, and
 * after it is back: Maven Resolver caches a 404 in the local repository as "not found"
 * (`*.lastUpdated`, retried only after the update interval or with `-U`), never a transfer error
 * (5xx). So a file that no member has while a member's upstream could not be asked must be the
 * failure's 502, not a 404: the next build after the outage, without `-U`, must succeed.
 *
 * Upstreams of `maven-proxy`, in order: nginx serving the machine's local Maven repository (the
 * build plugins; always up), then a small HTTP server holding `com.acme.outage:lib:1.0`, stopped
 * for the first build and started on the same port for the second.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { mavenMissing, mvn, pinnedPlugins, tail } from '../../helpers/maven.ts';
import { startMavenRig, type MavenRig } from '../../helpers/maven-rig.ts';
import { freePort } from '../../helpers/process.ts';
import { findTool, run } from '../../helpers/tools.ts';

const missing =
  mavenMissing() || (findTool('jar') === undefined ? 'jar (JDK) not installed' : false);
const TIMEOUT = 300_000;
const LIB_DIR = 'com/acme/outage/lib/1.0';

/** A static file server over `root` on 127.0.0.1:`port` (GET/HEAD only). */
function staticServer(root: string): http.Server {
  return http.createServer((req, res) => {
    const rel = decodeURIComponent((req.url ?? '/').split('?')[0] ?? '/');
    if (rel.includes('..')) {
      res.writeHead(400).end();
      return;
    }
    fs.readFile(path.join(root, rel)).then(
      (body) => {
        res
          .writeHead(200, { 'content-length': body.length })
          .end(req.method === 'HEAD' ? undefined : body);
      },
      () => {
        res.writeHead(404).end('not found');
      },
    );
  });
}

/** A POM of `com.acme.outage:<artifactId>:1.0` with `body` and the pinned plugins. */
function projectPom(artifactId: string, body: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>com.acme.outage</groupId><artifactId>${artifactId}</artifactId><version>1.0</version>
${body}
  <build><pluginManagement><plugins>${pinnedPlugins().join('')}</plugins></pluginManagement></build>
</project>
`;
}

describe('mvn through /maven2/ during and after an upstream outage', { skip: missing }, () => {
  let rig: MavenRig | undefined;
  let work = '';
  let upstream: http.Server | undefined;
  let port = 0;
  let settings = '';
  let project = '';
  let localRepo = '';
  const serverUrl = () => rig?.server.url ?? '';

  before(async () => {
    port = await freePort();
    rig = await startMavenRig({
      prefix: 'nora-e2e-maven-outage-',
      env: (nginxUrl) => ({
        NORA_MAVEN_PROXIES: `${nginxUrl},http://127.0.0.1:${port}/`,
        // The circuit would answer 502 "circuit open" for a while after the upstream is back.
        NORA_CB_ENABLED: 'false',
      }),
    });
    ({ work, settings } = rig);
    // The second upstream's tree: a library (POM + jar + .sha1 files).
    const lib = path.join(work, 'upstream', LIB_DIR);
    await fs.mkdir(lib, { recursive: true });
    const pom = `<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>com.acme.outage</groupId><artifactId>lib</artifactId><version>1.0</version>
</project>
`;
    const content = path.join(work, 'jar-content');
    await fs.mkdir(content, { recursive: true });
    await fs.writeFile(path.join(content, 'hello.txt'), 'hello\n');
    await run('jar', ['--create', '--file', path.join(lib, 'lib-1.0.jar'), '-C', content, '.']);
    await fs.writeFile(path.join(lib, 'lib-1.0.pom'), pom);
    for (const name of ['lib-1.0.jar', 'lib-1.0.pom']) {
      const sha1 = createHash('sha1')
        .update(await fs.readFile(path.join(lib, name)))
        .digest('hex');
      await fs.writeFile(path.join(lib, `${name}.sha1`), sha1);
    }
    project = path.join(work, 'project');
    await fs.mkdir(project, { recursive: true });
    await fs.writeFile(
      path.join(project, 'pom.xml'),
      projectPom(
        'app',
        `  <properties><maven.compiler.source>8</maven.compiler.source><maven.compiler.target>8</maven.compiler.target>
    <project.build.sourceEncoding>UTF-8</project.build.sourceEncoding></properties>
  <dependencies><dependency><groupId>com.acme.outage</groupId><artifactId>lib</artifactId><version>1.0</version></dependency></dependencies>`,
      ),
    );
    localRepo = path.join(work, 'm2');
  });

  after(async () => {
    await new Promise<void>((resolve) => {
      if (upstream === undefined) resolve();
      else
        upstream.close(() => {
          resolve();
        });
    });
    await rig?.close();
  });

  test(
    'outage: mvn deploy through /maven2/ still works (a metadata miss stays 404)',
    { timeout: TIMEOUT },
    async () => {
      const meta = await fetch(`${serverUrl()}/maven2/com/acme/outage/deployed/maven-metadata.xml`);
      const text = await meta.text();
      assert.equal(meta.status, 404, text);
      assert.match(text, /upstream maven-proxy#1 unreachable: ECONNREFUSED/);
      // A POM-packaged project: only the install and deploy plugins run (their trees are
      // complete upstream; a file of another plugin's tree that nginx lacks would be the down
      // upstream's 502 now).
      const dir = path.join(work, 'deployed');
      await fs.mkdir(dir, { recursive: true });
      await fs.writeFile(
        path.join(dir, 'pom.xml'),
        projectPom(
          'deployed',
          `  <packaging>pom</packaging>
  <distributionManagement><repository><id>nora</id><url>${serverUrl()}/maven2/</url></repository></distributionManagement>`,
        ),
      );
      const result = await mvn(['deploy'], { cwd: dir, settings, localRepo });
      assert.equal(result.code, 0, tail(result));
      const pom = await fetch(
        `${serverUrl()}/maven2/com/acme/outage/deployed/1.0/deployed-1.0.pom`,
      );
      assert.equal(pom.status, 200);
      await pom.arrayBuffer();
    },
  );

  test(
    'outage: the build fails with a transfer error; upstream back: the next build without -U succeeds',
    { timeout: TIMEOUT },
    async () => {
      // The library's upstream is down (nothing listens on its port).
      const direct = await fetch(`${serverUrl()}/maven2/${LIB_DIR}/lib-1.0.pom`);
      const text = await direct.text();
      assert.equal(direct.status, 502, text);
      assert.match(text, /upstream maven-proxy#1 unreachable: ECONNREFUSED/);

      const down = await mvn(['compile'], { cwd: project, settings, localRepo });
      assert.notEqual(down.code, 0, tail(down));
      assert.match(down.stdout, /com\.acme\.outage:lib/);
      assert.doesNotMatch(down.stdout, /was not found in .* during a previous attempt/);

      upstream = staticServer(path.join(work, 'upstream'));
      await new Promise<void>((resolve) => upstream?.listen(port, '127.0.0.1', resolve));

      const back = await mvn(['compile'], { cwd: project, settings, localRepo });
      assert.equal(back.code, 0, tail(back));
      assert.doesNotMatch(back.stdout, /This failure was cached in the local repository/);
      const jar = await fs.readFile(path.join(localRepo, LIB_DIR, 'lib-1.0.jar'));
      assert.deepEqual(jar, await fs.readFile(path.join(work, 'upstream', LIB_DIR, 'lib-1.0.jar')));
    },
  );
});

/**
 * NORA as a Maven proxy of a real Maven tree, with auth off: nginx serves the machine's local
 * Maven repository (~1,000 real artifacts) read-only as the upstream of `maven-proxy`
 * (NORA_MAVEN_PROXIES). Debian's Maven 3.8.7 builds a real project through the default group
 * `/maven2/` with a fresh local repository and strict checksums (`-C`): its whole dependency tree
 * (the build plugins and their dependencies, a third-party library: well over 100 files) comes
 * from nginx through NORA, byte for byte. nginx is stopped (by PID) and a second build with
 * another fresh local repository is served from NORA's cache alone. A missing artifact is asked
 * upstream once (negative cache). With auth off, a deploy needs no credentials; a deploy of a
 * coordinate the proxy serves is refused (409), which mvn prints.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  M2_REPOSITORY,
  THIRD_PARTY,
  listFiles,
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

const missing = mavenMissing();
const TIMEOUT = 300_000;

describe('mvn through the Maven proxy of a real tree (auth off)', { skip: missing }, () => {
  let work = '';
  let nginx: Nginx | undefined;
  let server: TestServer | undefined;
  let settings = '';
  let project = '';
  let firstTree: string[] = [];

  before(async () => {
    work = await fs.mkdtemp(path.join(os.tmpdir(), 'nora-e2e-maven-proxy-'));
    nginx = await startNginx(M2_REPOSITORY, path.join(work, 'nginx'));
    // The last test stops the upstream and builds again: files nginx does not have (404s) must
    // still be remembered then, or the group answers their outage with 502 (mvn would stop)
    // instead of the 404 mvn skips. On a loaded machine the builds before it outlast 300 s.
    server = await startTestServer({
      env: { NORA_MAVEN_PROXIES: nginx.url, NORA_MAVEN_NEGATIVE_CACHE_TTL: '-1' },
    });
    settings = path.join(work, 'settings.xml');
    await fs.writeFile(settings, settingsXml(`${server.url}/maven2/`));
    project = path.join(work, 'project');
    await writeProject(project, {
      groupId: 'com.example.nora',
      artifactId: 'proxied-app',
      version: '1.0.0',
      deployUrl: `${server.url}/maven2/`,
      dependencies: [THIRD_PARTY],
      sources: {
        'com/example/nora/App.java': `package com.example.nora;
public final class App {
  public static String ext(String name) { return org.apache.commons.io.FilenameUtils.getExtension(name); }
}
`,
      },
    });
  });

  after(async () => {
    await server?.close();
    await nginx?.stop();
    if (work !== '') await removeDir(work);
  });

  test(
    'a build with a fresh local repository and -C resolves its whole tree through the proxy',
    {
      timeout: TIMEOUT,
    },
    async () => {
      const localRepo = path.join(work, 'm2-first');
      const result = await mvn(['-C', 'package', '-DskipTests'], {
        cwd: project,
        settings,
        localRepo,
      });
      assert.equal(result.code, 0, tail(result));
      assert.doesNotMatch(result.stdout, /Checksum validation failed/);
      firstTree = await listFiles(localRepo, ['.jar', '.pom']);
      assert.ok(firstTree.length >= 100, `only ${firstTree.length} artifacts resolved`);
      // Every file is the upstream's, byte for byte.
      let compared = 0;
      for (const rel of firstTree) {
        const upstream = await fs.readFile(path.join(M2_REPOSITORY, rel)).catch(() => undefined);
        if (upstream === undefined) continue;
        assert.deepEqual(await fs.readFile(path.join(localRepo, rel)), upstream, rel);
        compared++;
      }
      assert.equal(compared, firstTree.length, 'every resolved file exists upstream');
      const served = (await nginx?.accessLog())?.filter((l) => l.startsWith('200 ')) ?? [];
      assert.ok(served.length >= firstTree.length, `nginx served ${served.length} files`);
    },
  );

  test(
    'a missing artifact is asked upstream once (negative cache)',
    {
      timeout: TIMEOUT,
    },
    async () => {
      const missingDir = path.join(work, 'missing');
      await writeProject(missingDir, {
        groupId: 'com.example.nora',
        artifactId: 'wants-missing',
        version: '1.0.0',
        dependencies: [{ groupId: 'org.example.absent', artifactId: 'nowhere', version: '9.9' }],
      });
      for (const round of [1, 2]) {
        const result = await mvn(['-C', 'compile'], {
          cwd: missingDir,
          settings,
          localRepo: path.join(work, `m2-missing-${round}`),
        });
        assert.notEqual(result.code, 0, tail(result));
        assert.match(result.stdout, /nowhere.*9\.9/);
      }
      const asked = (await nginx?.accessLog())?.filter((l) =>
        l.endsWith('/org/example/absent/nowhere/9.9/nowhere-9.9.pom'),
      );
      assert.equal(asked?.length, 1, `upstream asked ${asked?.length} times: ${asked?.join(', ')}`);
    },
  );

  test('auth off: mvn deploy without credentials', { timeout: TIMEOUT }, async () => {
    const result = await mvn(['deploy', '-DskipTests'], {
      cwd: project,
      settings,
      localRepo: path.join(work, 'm2-first'),
    });
    assert.equal(result.code, 0, tail(result));
    const pom = await fetch(
      `${server?.url ?? ''}/maven2/com/example/nora/proxied-app/1.0.0/proxied-app-1.0.0.pom`,
    );
    assert.equal(pom.status, 200);
    assert.equal(await pom.text(), await fs.readFile(path.join(project, 'pom.xml'), 'utf8'));
  });

  test(
    'mvn deploy of a coordinate the proxy serves is refused with 409, saying why (trial13 F6)',
    { timeout: TIMEOUT },
    async () => {
      // commons-io came through the proxy in the first build; a patched build of it deployed
      // under the same groupId:artifactId would hide every upstream version from /maven2/.
      const patched = path.join(work, 'patched');
      await writeProject(patched, {
        groupId: THIRD_PARTY.groupId,
        artifactId: THIRD_PARTY.artifactId,
        version: `${THIRD_PARTY.version}-corp1`,
        deployUrl: `${server?.url ?? ''}/maven2/`,
      });
      const result = await mvn(['deploy', '-DskipTests'], {
        cwd: patched,
        settings,
        localRepo: path.join(work, 'm2-first'),
      });
      assert.notEqual(result.code, 0, tail(result));
      assert.match(
        result.stdout,
        /409 Conflict - refusing to deploy commons-io:commons-io, new in maven-hosted: group maven would stop serving its upstream versions \(\[maven\] shadow_names allows it\)/,
      );
      const upstreamPom = await fetch(
        `${server?.url ?? ''}/maven2/commons-io/commons-io/${THIRD_PARTY.version}/commons-io-${THIRD_PARTY.version}.pom`,
      );
      assert.equal(upstreamPom.status, 200, 'the upstream version is still served');
    },
  );

  test(
    'upstream stopped: a second fresh build is served from the cache',
    {
      timeout: TIMEOUT,
    },
    async () => {
      assert.ok(firstTree.length > 0, 'the first build ran');
      await nginx?.stop();
      const down = await fetch(nginx?.url ?? '').catch((err: unknown) => err);
      assert.ok(down instanceof Error, 'nginx is down');
      const localRepo = path.join(work, 'm2-second');
      await fs.rm(path.join(project, 'target'), { recursive: true, force: true });
      const result = await mvn(['-C', 'package', '-DskipTests'], {
        cwd: project,
        settings,
        localRepo,
      });
      assert.equal(result.code, 0, tail(result));
      const secondTree = await listFiles(localRepo, ['.jar', '.pom']);
      assert.deepEqual(
        secondTree.filter((f) => !f.includes('proxied-app')),
        firstTree,
        'the same tree, from cache',
      );
    },
  );
});

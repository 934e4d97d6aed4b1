/**
 * Curation on the Maven proxy (docs/curation.md "Maven"), with Debian's `mvn` resolving through
 * NORA's `/maven2/` group, whose proxy member asks nginx serving the machine's local Maven
 * repository (test/helpers/maven.ts). `mvn dependency:get` cannot run here (no version of
 * maven-dependency-plugin has its whole dependency tree in that repository: commons-beanutils
 * 1.9.4, weld-api-parent… are missing), so a project's `mvn compile` resolves the dependency,
 * the same artifact download:
 * - enforce: a blocklisted version (commons-io 2.15.1) fails the build with NORA's 403, whose
 *   reason phrase (what mvn prints) names the rule's reason; the allowed version (2.16.1) builds;
 *   the refused version is never asked of the upstream; `maven-metadata.xml` leaves it out;
 * - `X-Nora-Bypass-Token` downloads it; a cached copy of a version blocked later is refused too
 *   (the hot-file cache answers nothing the policy refuses);
 * - internal namespaces: an artifact under one is never asked of the upstream (404);
 * - audit: served, counted as `audited`.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  M2_REPOSITORY,
  mavenMissing,
  mvn,
  type Nginx,
  settingsXml,
  startNginx,
  tail,
  THIRD_PARTY,
  writeProject,
} from '../../helpers/maven.ts';
import { startTestServer, type TestServer } from '../../helpers/server.ts';
import { tempDir } from '../../helpers/tmp.ts';

const TOKEN = 'maven-bypass-secret';
const BLOCKED = '2.15.1';
const JAR = `commons-io/commons-io/${BLOCKED}/commons-io-${BLOCKED}.jar`;

describe('curation: maven proxy (mvn)', { skip: mavenMissing(), timeout: 600_000 }, () => {
  let work: Awaited<ReturnType<typeof tempDir>>;
  let nginx: Nginx;
  let blocklist: string;
  let enforce: TestServer;
  let audit: TestServer;

  before(async () => {
    work = await tempDir('nora-curation-maven-');
    nginx = await startNginx(M2_REPOSITORY, path.join(work.path, 'nginx'));
    blocklist = path.join(work.path, 'blocklist.json');
    await fs.writeFile(
      blocklist,
      JSON.stringify({
        version: 1,
        rules: [
          {
            registry: 'maven',
            name: 'commons-io:commons-io',
            version: BLOCKED,
            reason: 'CVE-2026-0101',
          },
        ],
      }),
    );
    const start = (mode: string, env: Record<string, string> = {}) =>
      startTestServer({
        env: {
          NORA_MAVEN_PROXIES: nginx.url,
          NORA_CURATION_MODE: mode,
          NORA_CURATION_BLOCKLIST_PATH: blocklist,
          ...env,
        },
      });
    enforce = await start('enforce', {
      NORA_CURATION_INTERNAL_NS: 'maven:com.corp.**',
      NORA_CURATION_BYPASS_TOKEN: TOKEN,
    });
    audit = await start('audit');
  });
  after(async () => {
    await enforce.close();
    await audit.close();
    await nginx.stop();
    await work[Symbol.asyncDispose]();
  });

  /** settings.xml whose mirror of everything is `server`'s `/maven2/`. */
  async function settingsFor(server: TestServer): Promise<string> {
    const file = path.join(work.path, `settings-${server.port}.xml`);
    await fs.writeFile(file, settingsXml(`${server.url}/maven2/`));
    return file;
  }

  /** What nginx (the upstream) was asked so far. */
  const asked = async () => (await nginx.accessLog()).join('\n');

  async function compile(settings: string, version: string, name: string) {
    const dir = path.join(work.path, name);
    await writeProject(dir, {
      groupId: 'org.example.curation',
      artifactId: name,
      version: '1.0.0',
      dependencies: [{ ...THIRD_PARTY, version }],
    });
    return mvn(['-q', 'compile'], {
      cwd: dir,
      settings,
      localRepo: path.join(work.path, `m2-${name}`),
    });
  }

  test('enforce: the blocked version fails mvn with 403 and the reason; the allowed one builds', async () => {
    const server = enforce;
    const settings = await settingsFor(server);
    const blocked = await compile(settings, BLOCKED, 'blocked');
    assert.notEqual(blocked.code, 0, tail(blocked));
    const said = `${blocked.stdout}\n${blocked.stderr}`;
    assert.match(said, /403/, tail(blocked));
    assert.match(said, /CVE-2026-0101/, tail(blocked));

    const allowed = await compile(settings, THIRD_PARTY.version, 'allowed');
    assert.equal(allowed.code, 0, tail(allowed));

    // Refused before the upstream was asked for the blocked version's files.
    assert.doesNotMatch(await asked(), new RegExp(`/${BLOCKED}/`));

    // The proxied metadata leaves the refused version out (a range then skips it).
    const metadata = await fetch(`${server.url}/maven2/commons-io/commons-io/maven-metadata.xml`);
    if (metadata.status === 200) {
      const xml = await metadata.text();
      assert.doesNotMatch(xml, new RegExp(`<version>${BLOCKED.replaceAll('.', '\\.')}</version>`));
      assert.match(xml, /<version>2\.16\.1<\/version>/);
    }

    // The bypass token downloads it (and the token is the only way).
    const url = `${server.url}/maven2/${JAR}`;
    const bypassed = await fetch(url, { headers: { 'X-Nora-Bypass-Token': TOKEN } });
    assert.equal(bypassed.status, 200);
    assert.ok((await bypassed.arrayBuffer()).byteLength > 0);
    const refused = await fetch(url);
    assert.equal(refused.status, 403);
    assert.equal((await fetch(`${url}.sha1`)).status, 403);
  });

  test('internal namespace: never asked of the upstream, 404', async () => {
    const server = enforce;
    for (const p of [
      'com/corp/secret/lib/1.0/lib-1.0.pom',
      'com/corp/secret/lib/maven-metadata.xml',
    ]) {
      const r = await fetch(`${server.url}/repository/maven-proxy/${p}`);
      assert.equal(r.status, 404, p);
      const g = await fetch(`${server.url}/maven2/${p}`);
      assert.equal(g.status, 404, p);
    }
    assert.doesNotMatch(await asked(), /com\/corp/);
  });

  test('audit: served, counted as audited; the hot cache does not skip the count', async () => {
    const settings = await settingsFor(audit);
    const built = await compile(settings, BLOCKED, 'audited');
    assert.equal(built.code, 0, tail(built));
    // A second GET of the same jar, answered from the hot-file cache: counted too.
    const again = await fetch(`${audit.url}/maven2/${JAR}`);
    assert.equal(again.status, 200);
    await again.arrayBuffer();
    const metrics = await (await fetch(`${audit.url}/metrics`)).text();
    const line = metrics
      .split('\n')
      .find(
        (l) =>
          l.startsWith('nora_curation_decisions_total{') &&
          l.includes('"audited"') &&
          l.includes('registry="maven"'),
      );
    assert.ok(line !== undefined, metrics);
    assert.ok(Number(line.split(' ').at(-1)) >= 2, line);
  });
});

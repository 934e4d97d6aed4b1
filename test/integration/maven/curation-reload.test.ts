/**
 * Curation on the Maven proxy across a policy reload (docs/maven.md "Curation"): a version served
 * and kept by the hot-file cache, then blocklisted by an edited list file and a reload, is refused
 * at once from the cache (no upstream request), its checksum files with it, while another version
 * is still served; the proxied maven-metadata.xml drops the version after the reload (rendered
 * metadata is kept per curation view); the bypass token still reads it.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startTestServer, type TestServer } from '../../helpers/server.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { type FixtureUpstream, startFixtureUpstream } from './fixture-upstream.ts';

const TOKEN = 'reload-bypass';
const DIR = 'org/acme/widget';
const pom = (version: string) =>
  `<project><modelVersion>4.0.0</modelVersion><groupId>org.acme</groupId><artifactId>widget</artifactId><version>${version}</version><packaging>pom</packaging></project>\n`;

describe('maven proxy curation: a reload blocks a cached version at once', () => {
  let work: Awaited<ReturnType<typeof tempDir>>;
  let upstream: FixtureUpstream;
  let server: TestServer;
  let blocklist: string;

  before(async () => {
    work = await tempDir('nora-maven-curation-');
    upstream = await startFixtureUpstream();
    for (const v of ['1.0', '2.0']) await upstream.put(`${DIR}/${v}/widget-${v}.pom`, pom(v));
    await upstream.put(
      `${DIR}/maven-metadata.xml`,
      '<metadata><groupId>org.acme</groupId><artifactId>widget</artifactId><versioning><latest>2.0</latest><release>2.0</release><versions><version>1.0</version><version>2.0</version></versions><lastUpdated>20260101000000</lastUpdated></versioning></metadata>\n',
    );
    blocklist = path.join(work.path, 'blocklist.json');
    await fs.writeFile(blocklist, JSON.stringify({ version: 1, rules: [] }));
    server = await startTestServer({
      config: {
        maven: { proxies: [{ url: upstream.url() }] },
        curation: { mode: 'enforce', blocklist_path: blocklist },
      },
      env: { NORA_CURATION_BYPASS_TOKEN: TOKEN },
    });
  });
  after(async () => {
    await server.close();
    await upstream.close();
    await work[Symbol.asyncDispose]();
  });

  const get = (p: string, headers: Record<string, string> = {}) =>
    fetch(`${server.url}/maven2/${p}`, { headers });

  test('served, kept, blocked by a reload, refused from the cache', async () => {
    const file = `${DIR}/2.0/widget-2.0.pom`;
    for (let i = 0; i < 3; i++) {
      const r = await get(file);
      assert.equal(r.status, 200);
      assert.equal(await r.text(), pom('2.0'));
    }
    const before = await get(`${DIR}/maven-metadata.xml`);
    assert.match(await before.text(), /<version>2\.0<\/version>/);
    const asked = upstream.hitsFor('/widget-2.0.pom');

    await fs.writeFile(
      blocklist,
      JSON.stringify({
        version: 1,
        rules: [{ registry: 'maven', name: 'org.acme:widget', version: '2.0', reason: 'bad 2.0' }],
      }),
    );
    server.app.reload({ ...server.config });

    const refused = await get(file);
    assert.equal(refused.status, 403);
    assert.match(refused.statusText, /bad 2\.0/);
    assert.equal((await get(`${file}.sha1`)).status, 403);
    assert.equal(upstream.hitsFor('/widget-2.0.pom'), asked, 'answered from the cache');
    assert.equal((await get(`${DIR}/1.0/widget-1.0.pom`)).status, 200);

    const metadata = await (await get(`${DIR}/maven-metadata.xml`)).text();
    assert.doesNotMatch(metadata, /<version>2\.0<\/version>/);
    assert.match(metadata, /<latest>1\.0<\/latest>/);
    assert.match(metadata, /<release>1\.0<\/release>/);

    const bypassed = await get(file, { 'x-nora-bypass-token': TOKEN });
    assert.equal(bypassed.status, 200);
    const full = await (
      await get(`${DIR}/maven-metadata.xml`, { 'x-nora-bypass-token': TOKEN })
    ).text();
    assert.match(full, /<version>2\.0<\/version>/);
    assert.equal((await get(file)).status, 403, 'still refused without the token');
  });
});

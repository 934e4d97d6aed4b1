/**
 * What a deploy's guards remember between its requests survives a restart (review of trial 23):
 * the refused main archive (`maven_refused_archives`) and who stored a file new a moment ago
 * (`maven_recent_deploys`) are in the database, so a NORA restarted between two requests of one
 * deploy — or another node over the same database — judges the second as one process would
 * have. Until the twenty-first session both were in memory: after a restart the POM sent after a
 * refused jar was stored, and a POM stored before it was kept, the version listed with no jar.
 * Real server over HTTP, the same data directory across the restart; the requests are mvn's
 * orders (deploy-file: jar then POM; deploy of a project: POM then jar).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startTestServer, type TestServer } from '../../helpers/server.ts';
import { removeDir } from '../../helpers/tmp.ts';
import { makeZip } from '../pypi/fixtures.ts';

const jar = makeZip([
  { name: 'META-INF/MANIFEST.MF', data: Buffer.from('Manifest-Version: 1.0\r\n\r\n') },
  { name: 'com/acme/r/R.class', data: randomBytes(20_000), store: true },
]);
const cut = jar.subarray(0, Math.floor(jar.length * 0.6));
const pom = (artifactId: string, version: string) =>
  `<project><modelVersion>4.0.0</modelVersion><groupId>com.acme</groupId><artifactId>${artifactId}</artifactId><version>${version}</version><packaging>jar</packaging></project>`;

describe('Maven: a refused deploy is judged the same across a restart', () => {
  let dataDir = '';
  let server: TestServer | undefined;
  const start = async () => {
    server = await startTestServer({ dataDir, config: { maven: { proxies: [] } } });
  };
  const restart = async () => {
    await server?.close();
    await start();
  };
  before(async () => {
    dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'nora-maven-restart-'));
    await start();
  });
  after(async () => {
    await server?.close();
    await removeDir(dataDir);
  });

  const url = (file: string) => `${server?.url ?? ''}/maven2/com/acme/${file}`;
  const put = async (file: string, body: string | Buffer) => {
    const res = await fetch(url(file), { method: 'PUT', body });
    return { status: res.status, text: await res.text() };
  };
  const status = async (file: string) => {
    const res = await fetch(url(file));
    await res.arrayBuffer();
    return res.status;
  };

  test('deploy-file order: the jar refused, a restart, then its POM is refused as before', async () => {
    assert.equal((await put('r1/1.0/r1-1.0.jar', cut)).status, 400);
    await restart();
    const refused = await put('r1/1.0/r1-1.0.pom', pom('r1', '1.0'));
    assert.equal(refused.status, 400, refused.text);
    assert.match(
      refused.text,
      /^com\/acme\/r1\/1\.0\/r1-1\.0\.pom not stored: com\/acme\/r1\/1\.0\/r1-1\.0\.jar was refused \d+ s ago \(no zip end record\)/,
    );
    assert.equal(await status('r1/1.0/r1-1.0.pom'), 404);
    assert.equal(await status('r1/maven-metadata.xml'), 404, 'no version listed');
    // The whole jar clears it, across the restart too: then the POM is taken.
    assert.equal((await put('r1/1.0/r1-1.0.jar', jar)).status, 201);
    assert.equal((await put('r1/1.0/r1-1.0.pom', pom('r1', '1.0'))).status, 201);
  });

  test('mvn deploy order: the POM, a restart, then a cut jar withdraws that POM as before', async () => {
    assert.equal((await put('r2/1.0/r2-1.0.pom', pom('r2', '1.0'))).status, 201);
    await restart();
    const refused = await put('r2/1.0/r2-1.0.jar', cut);
    assert.equal(refused.status, 400);
    assert.match(
      refused.text,
      /; withdrawn with it, as this deploy stored them just before: com\/acme\/r2\/1\.0\/r2-1\.0\.pom \(1\.0 is not listed/,
    );
    assert.equal(await status('r2/1.0/r2-1.0.pom'), 404);
    assert.equal(await status('r2/maven-metadata.xml'), 404, 'no version listed');
  });
});

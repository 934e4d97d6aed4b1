/**
 * Trial 21 (docs/maven.md, "A refused jar from `mvn deploy:deploy-file` leaves its POM"): real mvn
 * `deploy:deploy-file` sends the jar, then its generated POM, and goes on after the jar's 400. The
 * POM was stored and maven-metadata.xml listed the version (as `<latest>`/`<release>`) with no
 * jar. Now, after a refused main archive, the other main files of the same build (the POM unless
 * its packaging is `pom`, a `.module`) are refused with a 400 naming the refused archive, until a
 * whole archive arrives; classified files and signatures, which list nothing, are judged as
 * usual. The requests below are mvn's own order (logged from mvn 3.8.7 with
 * maven-deploy-plugin 3.1.1).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { LOOPBACK_PROXY, startTestServer, type TestServer } from '../../helpers/server.ts';
import { makeZip } from '../pypi/fixtures.ts';

const jar = makeZip([
  { name: 'META-INF/MANIFEST.MF', data: Buffer.from('Manifest-Version: 1.0\r\n\r\n') },
  { name: 'com/acme/cut/Cut.class', data: randomBytes(20_000), store: true },
]);
const cut = jar.subarray(0, Math.floor(jar.length * 0.6));

/** What deploy-file generates (`-DgeneratePom`), `packaging` as given. */
const pom = (artifactId: string, version: string, packaging = 'jar') =>
  `<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion>
<groupId>com.acme</groupId><artifactId>${artifactId}</artifactId><version>${version}</version>
<packaging>${packaging}</packaging><description>POM was created from deploy:deploy-file</description>
</project>
`;

describe('Maven: after a refused main archive, its POM is refused, no version listed', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({
      config: { maven: { proxies: [] }, auth: { trusted_proxies: [...LOOPBACK_PROXY] } },
    });
  });
  after(() => server.close());

  const put = (path: string, body: string | Buffer) =>
    fetch(`${server.url}/maven2/com/acme/${path}`, { method: 'PUT', body });
  const status = async (path: string) => {
    const res = await fetch(`${server.url}/maven2/com/acme/${path}`);
    await res.arrayBuffer();
    return res.status;
  };
  const listed = async (artifactId: string) => {
    const res = await fetch(`${server.url}/maven2/com/acme/${artifactId}/maven-metadata.xml`);
    const xml = await res.text();
    return res.status === 200
      ? [...xml.matchAll(/<version>([^<]+)<\/version>/g)].map((m) => m[1])
      : [];
  };

  test("deploy-file's order: the jar refused, then its POM refused naming the jar; nothing listed", async () => {
    const jarPath = 'cut/1.0.2/cut-1.0.2.jar';
    assert.equal((await put(jarPath, cut)).status, 400);
    const refused = await put('cut/1.0.2/cut-1.0.2.pom', pom('cut', '1.0.2'));
    assert.equal(refused.status, 400);
    const text = await refused.text();
    assert.match(
      text,
      /^com\/acme\/cut\/1\.0\.2\/cut-1\.0\.2\.pom not stored: com\/acme\/cut\/1\.0\.2\/cut-1\.0\.2\.jar was refused \d+ s ago \(no zip end record\), and this file would list 1\.0\.2 in maven-metadata\.xml with no \.jar; deploy the whole \.jar first/,
    );
    assert.match(text, /or, if 1\.0\.2 has no \.jar, a POM with <packaging>pom<\/packaging>\n$/);
    // mvn prints the reason phrase: the refused jar is named within its 200 characters.
    assert.match(
      refused.statusText,
      /^Bad Request - com\/acme\/cut\/1\.0\.2\/cut-1\.0\.2\.pom not stored: com\/acme\/cut\/1\.0\.2\/cut-1\.0\.2\.jar was refused/,
    );
    // mvn sends no checksum of a refused file, nor metadata after a failure.
    assert.equal(await status('cut/1.0.2/cut-1.0.2.pom'), 404);
    assert.equal(await status('cut/maven-metadata.xml'), 404, 'no version listed, no <release>');
    // A `.module` (Gradle's) would list the version too; a classified file lists nothing.
    assert.equal((await put('cut/1.0.2/cut-1.0.2.module', '{}')).status, 400);
    assert.equal((await put('cut/1.0.2/cut-1.0.2-sources.jar', jar)).status, 201);
    assert.equal((await put('cut/1.0.2/cut-1.0.2.jar.asc', 'sig')).status, 201);
    assert.deepEqual(await listed('cut'), []);
  });

  test('the whole jar clears it: the POM is then taken and the version listed', async () => {
    assert.equal((await put('cut/1.0.2/cut-1.0.2.jar', jar)).status, 201);
    assert.equal((await put('cut/1.0.2/cut-1.0.2.pom', pom('cut', '1.0.2'))).status, 201);
    assert.deepEqual(await listed('cut'), ['1.0.2']);
  });

  test('a refused jar again (a rerun) refuses the POM again; other versions are not concerned', async () => {
    assert.equal((await put('again/1.0/again-1.0.jar', cut)).status, 400);
    assert.equal((await put('again/1.0/again-1.0.pom', pom('again', '1.0'))).status, 400);
    assert.equal((await put('again/1.0/again-1.0.jar', 'not a zip')).status, 400);
    const second = await put('again/1.0/again-1.0.pom', pom('again', '1.0'));
    assert.equal(second.status, 400);
    assert.match(await second.text(), /again-1\.0\.jar was refused \d+ s ago \(not a zip\)/);
    assert.equal((await put('again/1.1/again-1.1.pom', pom('again', '1.1'))).status, 201);
    assert.deepEqual(await listed('again'), ['1.1']);
  });

  test('a POM of packaging pom is taken after a refused jar (a POM alone is legitimate) and clears it', async () => {
    assert.equal((await put('parent/1.0/parent-1.0.jar', '')).status, 400);
    assert.equal((await put('parent/1.0/parent-1.0.pom', pom('parent', '1.0', 'pom'))).status, 201);
    assert.equal((await put('parent/1.0/parent-1.0.module', '{}')).status, 201, 'cleared');
    assert.deepEqual(await listed('parent'), ['1.0']);
    // A pom project never sends an archive: its POM alone is taken as ever.
    assert.equal((await put('bom/2.0/bom-2.0.pom', pom('bom', '2.0', 'pom'))).status, 201);
    assert.deepEqual(await listed('bom'), ['2.0']);
  });

  test('a DELETE of the version clears it: what follows is a new deploy', async () => {
    assert.equal((await put('gone/1.0/gone-1.0.jar', cut)).status, 400);
    assert.equal((await put('gone/1.0/gone-1.0.pom', pom('gone', '1.0'))).status, 400);
    const del = await fetch(`${server.url}/maven2/com/acme/gone/1.0/`, { method: 'DELETE' });
    await del.arrayBuffer();
    assert.equal(del.status, 404, 'nothing was stored');
    assert.equal((await put('gone/1.0/gone-1.0.pom', pom('gone', '1.0'))).status, 201);
  });

  test('snapshots: the refusal holds for the same timestamped build only', async () => {
    const dir = 'snap/1.1-SNAPSHOT';
    assert.equal((await put(`${dir}/snap-1.1-20261204.101010-1.jar`, cut)).status, 400);
    const refused = await put(`${dir}/snap-1.1-20261204.101010-1.pom`, pom('snap', '1.1-SNAPSHOT'));
    assert.equal(refused.status, 400);
    assert.match(await refused.text(), /snap-1\.1-20261204\.101010-1\.jar was refused/);
    assert.equal(await status('snap/maven-metadata.xml'), 404);
    assert.equal(await status(`${dir}/maven-metadata.xml`), 404);
    // The next build (another deploy) is judged on its own.
    assert.equal((await put(`${dir}/snap-1.1-20261204.101111-2.jar`, jar)).status, 201);
    assert.equal(
      (await put(`${dir}/snap-1.1-20261204.101111-2.pom`, pom('snap', '1.1-SNAPSHOT'))).status,
      201,
    );
    assert.deepEqual(await listed('snap'), ['1.1-SNAPSHOT']);
  });

  test("mvn deploy's order (POM first): the jar's refusal withdraws the POM; a rerun is taken", async () => {
    const dir = 'proj/1.2-SNAPSHOT';
    const body = pom('proj', '1.2-SNAPSHOT');
    assert.equal((await put(`${dir}/proj-1.2-SNAPSHOT.pom`, body)).status, 201);
    const refused = await put(`${dir}/proj-1.2-SNAPSHOT.jar`, cut);
    assert.equal(refused.status, 400);
    assert.match(
      await refused.text(),
      /no zip end record: .*; withdrawn with it, as this deploy stored them just before: com\/acme\/proj\/1\.2-SNAPSHOT\/proj-1\.2-SNAPSHOT\.pom \(1\.2-SNAPSHOT is not listed in maven-metadata\.xml; deploy it again with the whole \.jar\)\n$/,
    );
    assert.equal(await status(`${dir}/proj-1.2-SNAPSHOT.pom`), 404, 'the POM was withdrawn');
    assert.equal(await status('proj/maven-metadata.xml'), 404, 'no version listed');
    // A rerun sends the POM again first (new at its path, taken), then the whole jar.
    assert.equal((await put(`${dir}/proj-1.2-SNAPSHOT.pom`, body)).status, 201);
    assert.equal((await put(`${dir}/proj-1.2-SNAPSHOT.jar`, jar)).status, 201);
    assert.deepEqual(await listed('proj'), ['1.2-SNAPSHOT']);
  });

  test("POM first from another client (X-Forwarded-For, auth off): that client's POM is kept", async () => {
    const from = (address: string) => ({ 'x-forwarded-for': address });
    const send = (file: string, body: string | Buffer, address: string) =>
      fetch(`${server.url}/maven2/com/acme/${file}`, {
        method: 'PUT',
        body,
        headers: from(address),
      });
    assert.equal((await send('two/1.0/two-1.0.pom', pom('two', '1.0'), '192.0.2.10')).status, 201);
    const refused = await send('two/1.0/two-1.0.jar', cut, '192.0.2.11');
    assert.equal(refused.status, 400);
    assert.doesNotMatch(await refused.text(), /withdrawn/);
    assert.equal(await status('two/1.0/two-1.0.pom'), 200);
    assert.deepEqual(await listed('two'), ['1.0']);
    // The same client's POM goes.
    assert.equal((await send('two/1.1/two-1.1.pom', pom('two', '1.1'), '192.0.2.10')).status, 201);
    assert.equal((await send('two/1.1/two-1.1.jar', cut, '192.0.2.10')).status, 400);
    assert.deepEqual(await listed('two'), ['1.0']);
  });

  test('a bad redeploy of a stored release jar is not remembered: its POM stays idempotent', async () => {
    assert.equal((await put('kept/1.0/kept-1.0.jar', jar)).status, 201);
    assert.equal((await put('kept/1.0/kept-1.0.pom', pom('kept', '1.0'))).status, 201);
    assert.equal((await put('kept/1.0/kept-1.0.jar', cut)).status, 400);
    assert.equal((await put('kept/1.0/kept-1.0.pom', pom('kept', '1.0'))).status, 200);
    assert.deepEqual(await listed('kept'), ['1.0']);
  });
});

/**
 * Maven hosted repositories over HTTP (a started server, fetch): deploy, checksums, release
 * immutability, snapshots (timestamped and non-unique, keep-last-N), generated metadata at the
 * three levels, concurrent deploys, delete, version policies, and the bad inputs of issue 14.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';
import { startTestServer, type TestServer } from '../../helpers/server.ts';
import { makeZip } from '../pypi/fixtures.ts';
import { emptyJar, zipLike } from '../../helpers/zip-fixtures.ts';

const G = 'org/example';

function hex(alg: string, body: Buffer | string): string {
  return createHash(alg).update(body).digest('hex');
}

function pom(artifactId: string, version: string, extra = ''): string {
  return `<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>org.example</groupId>
  <artifactId>${artifactId}</artifactId>
  <version>${version}</version>
  ${extra}
</project>
`;
}

/** Sends a raw request (paths sent exactly as written: encoded traversal stays encoded). */
function raw(
  port: number,
  method: string,
  path: string,
  headers: Record<string, string> = {},
  body?: Buffer,
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        method,
        path,
        headers: body ? { ...headers, 'content-length': String(body.length) } : headers,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString('utf8'),
          });
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

describe('maven hosted repository (auth disabled)', () => {
  let server: TestServer;
  let base: string;

  const put = (path: string, body: Buffer | string, prefix = '/maven2') =>
    fetch(`${server.url}${prefix}/${path}`, { method: 'PUT', body });
  const get = (path: string, init: RequestInit = {}, prefix = '/maven2') =>
    fetch(`${server.url}${prefix}/${path}`, init);

  before(async () => {
    server = await startTestServer({
      config: {
        maven: { proxies: [], max_upload_mb: 1 },
        repositories: [
          { name: 'releases', format: 'maven', kind: 'hosted', version_policy: 'release' },
          {
            name: 'snapshots',
            format: 'maven',
            kind: 'hosted',
            version_policy: 'snapshot',
            keep_snapshots: 2,
          },
          {
            name: 'mproxy',
            format: 'maven',
            kind: 'proxy',
            upstreams: [{ url: 'http://127.0.0.1:9/maven2' }],
          },
          { name: 'jvm-all', format: 'maven', kind: 'group', members: ['releases', 'snapshots'] },
          { name: 'rel-only', format: 'maven', kind: 'group', members: ['releases'] },
        ],
      },
    });
    base = `${server.url}/maven2`;
  });
  after(async () => {
    await server.close();
  });

  test('deploy a release: jar, pom, checksums; GET with content types, ETag, Range, 304', async () => {
    const jar = zipLike(5000);
    const dir = `${G}/demo/1.0`;
    let r = await put(`${dir}/demo-1.0.jar`, jar);
    assert.equal(r.status, 201, await r.text());
    r = await put(`${dir}/demo-1.0.jar.sha1`, hex('sha1', jar));
    assert.equal(r.status, 201, await r.text());
    r = await put(`${dir}/demo-1.0.jar.md5`, `${hex('md5', jar)}  demo-1.0.jar\n`);
    assert.equal(r.status, 201, await r.text());
    r = await put(`${dir}/demo-1.0.pom`, pom('demo', '1.0'));
    assert.equal(r.status, 201, await r.text());
    r = await put(`${dir}/demo-1.0.jar.asc`, '-----BEGIN PGP SIGNATURE-----\nx\n');
    assert.equal(r.status, 201, await r.text());

    const got = await get(`${dir}/demo-1.0.jar`);
    assert.equal(got.status, 200);
    assert.equal(got.headers.get('content-type'), 'application/java-archive');
    assert.equal(got.headers.get('etag'), `"${hex('sha1', jar)}"`);
    assert.ok(got.headers.get('last-modified'));
    assert.deepEqual(Buffer.from(await got.arrayBuffer()), jar);

    for (const alg of ['md5', 'sha1', 'sha256', 'sha512']) {
      const c = await get(`${dir}/demo-1.0.jar.${alg}`);
      assert.equal(c.status, 200, alg);
      assert.equal(await c.text(), hex(alg, jar), alg);
    }
    const pomGet = await get(`${dir}/demo-1.0.pom`);
    assert.match(pomGet.headers.get('content-type') ?? '', /xml/);
    const asc = await get(`${dir}/demo-1.0.jar.asc`);
    assert.match(asc.headers.get('content-type') ?? '', /^text\/plain/);
    const ascSha1 = await get(`${dir}/demo-1.0.jar.asc.sha1`);
    assert.equal(await ascSha1.text(), hex('sha1', '-----BEGIN PGP SIGNATURE-----\nx\n'));

    const ranged = await get(`${dir}/demo-1.0.jar`, { headers: { range: 'bytes=10-19' } });
    assert.equal(ranged.status, 206);
    assert.deepEqual(Buffer.from(await ranged.arrayBuffer()), jar.subarray(10, 20));
    const cached = await get(`${dir}/demo-1.0.jar`, {
      headers: { 'if-none-match': `"${hex('sha1', jar)}"` },
    });
    assert.equal(cached.status, 304);
    const head = await get(`${dir}/demo-1.0.jar`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get('content-length'), '5000');

    // The same file through the hosted member's own URL.
    const direct = await get(`${dir}/demo-1.0.jar`, {}, '/repository/maven-hosted');
    assert.equal(direct.status, 200);
  });

  test('release files are immutable (409 for other bytes; the same bytes again are a no-op 200)', async () => {
    const dir = `${G}/immut/2.0`;
    assert.equal((await put(`${dir}/immut-2.0.jar`, emptyJar('one'))).status, 201);
    const again = await put(`${dir}/immut-2.0.jar`, emptyJar('two'));
    assert.equal(again.status, 409);
    assert.match(await again.text(), /already exists with other bytes.*immutable/);
    assert.equal(await (await get(`${dir}/immut-2.0.jar`)).text(), emptyJar('one'));
    // A retried deploy (the file had landed): the same bytes succeed and change nothing.
    const retried = await put(`${dir}/immut-2.0.jar`, emptyJar('one'));
    assert.equal(retried.status, 200);
    assert.match(await retried.text(), /already stored with these bytes/);
    assert.equal(await (await get(`${dir}/immut-2.0.jar`)).text(), emptyJar('one'));
  });

  test('a checksum that does not match is refused (400) and nothing is stored for it', async () => {
    const dir = `${G}/sums/1.0`;
    assert.equal((await put(`${dir}/sums-1.0.jar`, emptyJar('content'))).status, 201);
    const bad = await put(`${dir}/sums-1.0.jar.sha1`, 'a'.repeat(40));
    assert.equal(bad.status, 400);
    assert.match(await bad.text(), /checksum mismatch/);
    const served = await get(`${dir}/sums-1.0.jar.sha1`);
    assert.equal(await served.text(), hex('sha1', emptyJar('content')));
    // A body that is no checksum at all says so, not "mismatch".
    const garbage = await put(`${dir}/sums-1.0.jar.md5`, 'not a checksum');
    assert.equal(garbage.status, 400);
    assert.match(await garbage.text(), /the uploaded md5 of .*sums-1\.0\.jar is not a md5 digest/);
  });

  test('a checksum uploaded BEFORE its file is compared when the file arrives (checksum_verify)', async () => {
    // Found by review: the checksum-first order (some clients use it) was never compared.
    const blobs = async () => {
      const { readdir } = await import('node:fs/promises');
      const files = await readdir(`${server.dataDir}/storage`, { recursive: true });
      return files.filter((f) => /[0-9a-f]{64}$/.test(f)).length;
    };
    const dir = `${G}/early/1.0`;
    const jar = emptyJar('the early jar');
    // Agreeing checksums first (every algorithm, `sha1sum` layout too): the file is accepted.
    assert.equal(
      (await put(`${dir}/early-1.0.jar.sha1`, `${hex('sha1', jar)}  early-1.0.jar\n`)).status,
      201,
    );
    assert.equal((await put(`${dir}/early-1.0.jar.md5`, hex('md5', jar))).status, 201);
    assert.equal((await put(`${dir}/early-1.0.jar.sha256`, hex('sha256', jar))).status, 201);
    assert.equal((await put(`${dir}/early-1.0.jar.sha512`, hex('sha512', jar))).status, 201);
    assert.equal((await put(`${dir}/early-1.0.jar`, jar)).status, 201);
    assert.equal(await (await get(`${dir}/early-1.0.jar`)).text(), jar);

    // A disagreeing one first: the file is refused (400), nothing stored.
    const blobsBefore = await blobs();
    assert.equal((await put(`${dir}/early-1.0.pom.md5`, hex('md5', 'other bytes'))).status, 201);
    assert.equal(
      (await put(`${dir}/early-1.0.pom.sha1`, hex('sha1', pom('early', '1.0')))).status,
      201,
    );
    const refused = await put(`${dir}/early-1.0.pom`, pom('early', '1.0'));
    assert.equal(refused.status, 400);
    const refusal = await refused.text();
    assert.match(refusal, /checksum mismatch: .*early-1\.0\.pom hashes to md5/);
    // It says the wrong checksum has done its job and how to go on (trial13 F4).
    assert.match(refusal, /nothing stored, and that md5 is forgotten \(upload the file again/);
    assert.equal((await get(`${dir}/early-1.0.pom`)).status, 404);
    assert.equal((await get(`${dir}/early-1.0.pom.sha1`)).status, 404);
    assert.equal(await blobs(), blobsBefore, 'no blob left by the refused file');
    // The refusal consumed the remembered checksums: a retry of the file alone (a re-run that
    // uploads files first, as mvn does) is judged on its own — it used to be refused for an hour.
    // A wrong checksum sent again before it refuses it again, once.
    assert.equal((await put(`${dir}/early-1.0.pom.md5`, hex('md5', 'other bytes'))).status, 201);
    assert.equal((await put(`${dir}/early-1.0.pom`, pom('early', '1.0'))).status, 400);
    assert.equal((await put(`${dir}/early-1.0.pom`, pom('early', '1.0'))).status, 201);
    assert.equal(await (await get(`${dir}/early-1.0.pom`)).text(), pom('early', '1.0'));
    // An agreeing checksum first is consumed by its file too: the next build's file (a snapshot,
    // replaceable) is not compared with the previous build's checksum.
    const snap = `${G}/early/2.0-SNAPSHOT/early-2.0-SNAPSHOT.jar`;
    assert.equal((await put(`${snap}.sha1`, hex('sha1', emptyJar('build 1')))).status, 201);
    assert.equal((await put(snap, emptyJar('build 1'))).status, 201);
    assert.equal((await put(snap, emptyJar('build 2'))).status, 200);
    assert.equal(await (await get(snap)).text(), emptyJar('build 2'));

    // A checksum file that is no digest of its algorithm is refused at once.
    const garbage = await put(`${dir}/early-1.0-sources.jar.sha1`, 'not a digest');
    assert.equal(garbage.status, 400);
    assert.match(await garbage.text(), /not a sha1 digest/);
    assert.equal((await put(`${dir}/early-1.0-sources.jar`, emptyJar('sources'))).status, 201);

    // After its file (the usual order), every algorithm is compared too.
    for (const alg of ['md5', 'sha1', 'sha256', 'sha512']) {
      const wrong = await put(`${dir}/early-1.0.jar.${alg}`, hex(alg, 'not the jar'));
      assert.equal(wrong.status, 400, alg);
      assert.match(await wrong.text(), /checksum mismatch/);
      assert.equal((await put(`${dir}/early-1.0.jar.${alg}`, hex(alg, jar))).status, 201, alg);
    }
  });

  test('an uploaded maven-metadata.xml is accepted and ignored; metadata is generated', async () => {
    const r = await put(`${G}/demo/maven-metadata.xml`, '<metadata><bogus/></metadata>');
    assert.equal(r.status, 201);
    assert.equal((await put(`${G}/demo/maven-metadata.xml.sha1`, 'ffff')).status, 201);
    const md = await get(`${G}/demo/maven-metadata.xml`);
    assert.equal(md.status, 200);
    const text = await md.text();
    assert.doesNotMatch(text, /bogus/);
    assert.match(text, /<groupId>org\.example<\/groupId>/);
    assert.match(text, /<artifactId>demo<\/artifactId>/);
    const sha1 = await get(`${G}/demo/maven-metadata.xml.sha1`);
    assert.equal(await sha1.text(), hex('sha1', text));
    const md5 = await get(`${G}/demo/maven-metadata.xml.md5`);
    assert.equal(await md5.text(), hex('md5', text));
  });

  test('a version is listed once it holds a main file, not for a signature or classified file alone (trial13 F11)', async () => {
    const versions = async () => {
      const res = await get(`${G}/partial/maven-metadata.xml`);
      if (res.status === 404) return [];
      const text = await res.text();
      return [...text.matchAll(/<version>([^<]+)<\/version>/g)].map((m) => m[1]);
    };
    assert.equal((await put(`${G}/partial/1.0/partial-1.0.jar.asc`, 'sig')).status, 201);
    assert.equal((await put(`${G}/partial/1.1/partial-1.1.jar.sigstore.json`, '{}')).status, 201);
    assert.equal(
      (await put(`${G}/partial/1.2/partial-1.2-sources.jar`, emptyJar('src'))).status,
      201,
    );
    assert.deepEqual(await versions(), [], 'nothing resolvable yet');
    // Its files are served all the same.
    assert.equal(await (await get(`${G}/partial/1.0/partial-1.0.jar.asc`)).text(), 'sig');
    // The POM alone (an interrupted deploy) or the main file alone lists the version.
    assert.equal(
      (await put(`${G}/partial/0.9/partial-0.9.pom`, pom('partial', '0.9'))).status,
      201,
    );
    assert.equal((await put(`${G}/partial/1.0/partial-1.0.jar`, emptyJar('jar'))).status, 201);
    assert.deepEqual(await versions(), ['0.9', '1.0']);
    const text = await (await get(`${G}/partial/maven-metadata.xml`)).text();
    assert.match(text, /<latest>1\.0<\/latest>/);
    assert.match(text, /<release>1\.0<\/release>/);
  });

  test('artifact metadata: versions in Maven order, latest, release, lastUpdated', async () => {
    for (const v of ['1.9', '1.10', '1.10-alpha-1', '2.0-SNAPSHOT', '1.10-rc-1']) {
      const name = v === '2.0-SNAPSHOT' ? `order-2.0-20261130.101010-1.jar` : `order-${v}.jar`;
      const r = await put(`${G}/order/${v}/${name}`, emptyJar(v));
      assert.equal(r.status, 201, `${v}: ${await r.text()}`);
    }
    const text = await (await get(`${G}/order/maven-metadata.xml`)).text();
    const versions = [...text.matchAll(/<version>([^<]+)<\/version>/g)].map((m) => m[1]);
    assert.deepEqual(versions, ['1.9', '1.10-alpha-1', '1.10-rc-1', '1.10', '2.0-SNAPSHOT']);
    assert.match(text, /<latest>2\.0-SNAPSHOT<\/latest>/);
    assert.match(text, /<release>1\.10<\/release>/);
    assert.match(text, /<lastUpdated>\d{14}<\/lastUpdated>/);
  });

  test('snapshots: timestamped builds, -SNAPSHOT resolves to the newest, snapshot metadata', async () => {
    const dir = `${G}/snap/1.0-SNAPSHOT`;
    for (const [ts, n] of [
      ['20261130.101010', 1],
      ['20261130.111111', 2],
    ] as const) {
      for (const [suffix, body] of [
        ['.jar', emptyJar(`jar ${n}`)],
        ['.pom', pom('snap', '1.0-SNAPSHOT')],
        ['-sources.jar', emptyJar(`src ${n}`)],
      ] as const) {
        const r = await put(`${dir}/snap-1.0-${ts}-${n}${suffix}`, body);
        assert.equal(r.status, 201, await r.text());
      }
    }
    // A re-deploy of a snapshot build file is allowed (snapshots are mutable).
    assert.equal(
      (await put(`${dir}/snap-1.0-20261130.111111-2.jar`, emptyJar('jar 2'))).status,
      200,
    );
    assert.equal(await (await get(`${dir}/snap-1.0-SNAPSHOT.jar`)).text(), emptyJar('jar 2'));
    assert.equal(
      await (await get(`${dir}/snap-1.0-SNAPSHOT-sources.jar`)).text(),
      emptyJar('src 2'),
    );
    assert.equal(
      await (await get(`${dir}/snap-1.0-SNAPSHOT.jar.sha1`)).text(),
      hex('sha1', emptyJar('jar 2')),
    );
    assert.equal(
      await (await get(`${dir}/snap-1.0-20261130.101010-1.jar`)).text(),
      emptyJar('jar 1'),
    );

    const text = await (await get(`${dir}/maven-metadata.xml`)).text();
    assert.match(text, /<version>1\.0-SNAPSHOT<\/version>/);
    assert.match(text, /<timestamp>20261130\.111111<\/timestamp>/);
    assert.match(text, /<buildNumber>2<\/buildNumber>/);
    assert.match(
      text,
      /<classifier>sources<\/classifier>\s*<extension>jar<\/extension>\s*<value>1\.0-20261130\.111111-2<\/value>/,
    );
    assert.match(text, /<extension>pom<\/extension>\s*<value>1\.0-20261130\.111111-2<\/value>/);
    const artifactLevel = await (await get(`${G}/snap/maven-metadata.xml`)).text();
    assert.match(artifactLevel, /<version>1\.0-SNAPSHOT<\/version>/);
  });

  test('a non-unique snapshot file (old Gradle) is accepted and served', async () => {
    const dir = `${G}/plain/1.0-SNAPSHOT`;
    assert.equal((await put(`${dir}/plain-1.0-SNAPSHOT.jar`, emptyJar('v1'))).status, 201);
    assert.equal((await put(`${dir}/plain-1.0-SNAPSHOT.jar`, emptyJar('v2'))).status, 200);
    assert.equal(await (await get(`${dir}/plain-1.0-SNAPSHOT.jar`)).text(), emptyJar('v2'));
    const text = await (await get(`${dir}/maven-metadata.xml`)).text();
    assert.match(text, /<value>1\.0-SNAPSHOT<\/value>/);
  });

  test('mixed snapshot styles: the highest build number is newest; a plain PUT is seen by its name only while last', async () => {
    const dir = `${G}/mixed/1.0-SNAPSHOT`;
    const plainName = `${dir}/mixed-1.0-SNAPSHOT.jar`;
    const metadata = async () => (await get(`${dir}/maven-metadata.xml`)).text();
    const jarValue = (text: string) =>
      /<extension>jar<\/extension>\s*<value>([^<]*)<\/value>/.exec(text)?.[1];
    assert.equal(
      (await put(`${dir}/mixed-1.0-20261202.170000-1.jar`, emptyJar('ts17-1'))).status,
      201,
    );
    assert.equal(await (await get(plainName)).text(), emptyJar('ts17-1'));
    // A plain PUT after it: the plain name answers it (uploaded last); the metadata, which mvn
    // and Gradle resolve through, still names the timestamped build.
    assert.equal((await put(plainName, emptyJar('plain'))).status, 201);
    assert.equal(await (await get(plainName)).text(), emptyJar('plain'));
    let text = await metadata();
    assert.equal(jarValue(text), '1.0-20261202.170000-1');
    assert.match(text, /<timestamp>20261202\.170000<\/timestamp>\s*<buildNumber>1</);
    // An older timestamp with a higher build number is newest (Maven's rule: the build number).
    assert.equal(
      (await put(`${dir}/mixed-1.0-20261202.160000-2.jar`, emptyJar('ts16-2'))).status,
      201,
    );
    assert.equal(await (await get(plainName)).text(), emptyJar('ts16-2'));
    text = await metadata();
    assert.equal(jarValue(text), '1.0-20261202.160000-2');
    assert.match(text, /<timestamp>20261202\.160000<\/timestamp>\s*<buildNumber>2</);
    // A newer timestamp with a lower number is not.
    assert.equal(
      (await put(`${dir}/mixed-1.0-20261202.180000-1.jar`, emptyJar('ts18-1'))).status,
      201,
    );
    assert.equal(await (await get(plainName)).text(), emptyJar('ts16-2'));
    assert.equal(jarValue(await metadata()), '1.0-20261202.160000-2');
    // Equal numbers: the later timestamp, in <snapshot> as in <snapshotVersions> and the GET.
    assert.equal(
      (await put(`${dir}/mixed-1.0-20261202.190000-2.jar`, emptyJar('ts19-2'))).status,
      201,
    );
    assert.equal(await (await get(plainName)).text(), emptyJar('ts19-2'));
    text = await metadata();
    assert.equal(jarValue(text), '1.0-20261202.190000-2');
    assert.match(text, /<timestamp>20261202\.190000<\/timestamp>\s*<buildNumber>2</);
    // The plain file again, uploaded last: its name answers it, the metadata is unchanged.
    assert.equal((await put(plainName, emptyJar('plain 2'))).status, 200);
    assert.equal(await (await get(plainName)).text(), emptyJar('plain 2'));
    assert.equal(jarValue(await metadata()), '1.0-20261202.190000-2');
  });

  test('repeated GETs (answered from the caches, the body from memory) stay exact', async () => {
    const dir = `${G}/hot/1.0-SNAPSHOT`;
    const file = `${dir}/hot-1.0-SNAPSHOT.pom`;
    const v1 = pom('hot', '1.0-SNAPSHOT', '<!-- v1 -->');
    assert.equal((await put(file, v1)).status, 201);
    const etag = `"${hex('sha1', v1)}"`;
    // The second GET keeps the body in memory; the ones after it are sent from there.
    for (let i = 0; i < 4; i++) {
      const r = await get(file);
      assert.equal(r.status, 200);
      assert.equal(r.headers.get('etag'), etag);
      assert.equal(r.headers.get('content-type'), 'application/xml');
      assert.equal(r.headers.get('accept-ranges'), 'bytes');
      assert.equal(r.headers.get('content-length'), String(Buffer.byteLength(v1)));
      assert.ok(r.headers.get('last-modified'));
      assert.equal(await r.text(), v1);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    assert.equal((await get(file, { headers: { 'if-none-match': etag } })).status, 304);
    const ranged = await get(file, { headers: { range: 'bytes=0-4' } });
    assert.equal(ranged.status, 206);
    assert.equal(await ranged.text(), v1.slice(0, 5));
    const head = await get(file, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get('content-length'), String(Buffer.byteLength(v1)));
    assert.equal(await (await get(`${file}.sha1`)).text(), hex('sha1', v1));
    const missing = `${dir}/hot-1.0-SNAPSHOT-none.pom`;
    assert.equal((await get(missing)).status, 404);
    assert.equal((await get(missing)).status, 404);
    const metadata = await (await get(`${dir}/maven-metadata.xml`)).text();
    assert.equal(await (await get(`${dir}/maven-metadata.xml`)).text(), metadata);
    // A redeploy (a non-unique snapshot is mutable) is seen at once, body and checksums.
    const v2 = pom('hot', '1.0-SNAPSHOT', '<!-- v2, longer -->');
    assert.equal((await put(file, v2)).status, 200);
    const after = await get(file);
    assert.equal(after.headers.get('etag'), `"${hex('sha1', v2)}"`);
    assert.equal(await after.text(), v2);
    assert.equal(await (await get(`${file}.sha1`)).text(), hex('sha1', v2));
    assert.equal((await put(missing, v2)).status, 201);
    assert.equal((await get(missing)).status, 200);
  });

  test('keep_snapshots keeps the newest N builds (repository setting)', async () => {
    const dir = `${G}/kept/1.0-SNAPSHOT`;
    for (let n = 1; n <= 4; n++) {
      const r = await put(
        `${dir}/kept-1.0-20261130.10101${n}-${n}.jar`,
        emptyJar(`b${n}`),
        '/repository/snapshots',
      );
      assert.equal(r.status, 201, await r.text());
    }
    const at = (n: number) =>
      get(`${dir}/kept-1.0-20261130.10101${n}-${n}.jar`, {}, '/repository/snapshots');
    assert.equal((await at(1)).status, 404);
    assert.equal((await at(2)).status, 404);
    assert.equal((await at(3)).status, 200);
    assert.equal((await at(4)).status, 200);
  });

  test('version policies: a release repository refuses snapshots, a snapshot one releases', async () => {
    const snap = await put(
      `${G}/pol/1.0-SNAPSHOT/pol-1.0-20261130.101010-1.jar`,
      'x',
      '/repository/releases',
    );
    assert.equal(snap.status, 400);
    assert.match(await snap.text(), /version_policy = release/);
    const rel = await put(`${G}/pol/1.0/pol-1.0.jar`, emptyJar('x'), '/repository/snapshots');
    assert.equal(rel.status, 400);
    assert.equal(
      (await put(`${G}/pol/1.0/pol-1.0.jar`, emptyJar('x'), '/repository/releases')).status,
      201,
    );
  });

  test('a group deploys to its write member only: a refused version names the member that takes it (trial13 F3)', async () => {
    // jvm-all = [releases, snapshots]: its write member is releases (the first hosted one).
    assert.equal(
      (await put(`${G}/grp/1.0/grp-1.0.jar`, emptyJar('x'), '/repository/jvm-all')).status,
      201,
    );
    const snap = await put(
      `${G}/grp/1.1-SNAPSHOT/grp-1.1-20261203.120000-1.jar`,
      'x',
      '/repository/jvm-all',
    );
    assert.equal(snap.status, 400);
    const text = await snap.text();
    assert.equal(
      text,
      'repository "releases" takes release versions only (version_policy = release), not 1.1-SNAPSHOT; group jvm-all deploys to its write member releases only: deploy snapshots to /repository/snapshots/ (in Maven\'s <distributionManagement>, the <snapshotRepository> URL)\n',
    );
    assert.match(
      snap.statusText,
      /^Bad Request - repository "releases" takes release versions only/,
    );
    // Where it says, it lands.
    const there = await put(
      `${G}/grp/1.1-SNAPSHOT/grp-1.1-20261203.120000-1.jar`,
      emptyJar('x'),
      '/repository/snapshots',
    );
    assert.equal(there.status, 201);
    const none = await put(
      `${G}/grp/1.2-SNAPSHOT/grp-1.2-20261203.120000-1.jar`,
      'x',
      '/repository/rel-only',
    );
    assert.match(
      await none.text(),
      /; group rel-only deploys to its write member releases only, and none of its hosted members takes snapshot versions$/m,
    );
  });

  test('two concurrent deploys of different versions both end up in the metadata', async () => {
    const versions = Array.from({ length: 12 }, (_, i) => `3.${i}`);
    const answers = await Promise.all(
      versions.map((v) => put(`${G}/race/${v}/race-${v}.jar`, emptyJar(`jar ${v}`))),
    );
    for (const a of answers) assert.equal(a.status, 201);
    const text = await (await get(`${G}/race/maven-metadata.xml`)).text();
    for (const v of versions) assert.ok(text.includes(`<version>${v}</version>`), v);
  });

  test('maven-plugin POMs give group-level metadata with prefixes', async () => {
    const plugins = [
      ['foo-maven-plugin', ''],
      ['maven-bar-plugin', '<name>Bar Plugin</name>'],
      [
        'custom-plugin',
        '<build><plugins><plugin><artifactId>maven-plugin-plugin</artifactId><configuration><goalPrefix>cust</goalPrefix></configuration></plugin></plugins></build>',
      ],
    ] as const;
    for (const [a, extra] of plugins) {
      const r = await put(
        `org/plug/${a}/1.0/${a}-1.0.pom`,
        pom(a, '1.0', `<packaging>maven-plugin</packaging>${extra}`).replace(
          'org.example',
          'org.plug',
        ),
      );
      assert.equal(r.status, 201, await r.text());
    }
    const text = await (await get('org/plug/maven-metadata.xml')).text();
    assert.match(text, /<prefix>foo<\/prefix>\s*<artifactId>foo-maven-plugin<\/artifactId>/);
    assert.match(
      text,
      /<name>Bar Plugin<\/name>\s*<prefix>bar<\/prefix>\s*<artifactId>maven-bar-plugin<\/artifactId>/,
    );
    assert.match(text, /<prefix>cust<\/prefix>\s*<artifactId>custom-plugin<\/artifactId>/);
  });

  test("a plugin jar's META-INF/maven/plugin.xml gives the group metadata's prefix and name", async () => {
    const descriptor = (prefix: string, name: string) =>
      Buffer.from(`<?xml version="1.0" encoding="UTF-8"?>
<plugin>
  <name>${name}</name>
  <description>says hello</description>
  <groupId>com.acme.tools</groupId>
  <artifactId>x</artifactId>
  <version>1.0.0</version>
  <goalPrefix>${prefix}</goalPrefix>
  <mojos><mojo><goal>hello</goal><name>not-the-plugin-name</name></mojo></mojos>
</plugin>
`);
    const jar = (entries: { name: string; data: Buffer }[]) =>
      makeZip([
        { name: 'META-INF/MANIFEST.MF', data: Buffer.from('Manifest-Version: 1.0\n') },
        ...entries,
      ]);
    const deployPlugin = async (artifactId: string, body: Buffer, jarFirst: boolean) => {
      const dir = `com/acme/tools/${artifactId}/1.0.0`;
      const pomBody = pom(artifactId, '1.0.0', '<packaging>maven-plugin</packaging>').replace(
        'org.example',
        'com.acme.tools',
      );
      const steps = [
        () => put(`${dir}/${artifactId}-1.0.0.jar`, body),
        () => put(`${dir}/${artifactId}-1.0.0.pom`, pomBody),
      ];
      for (const step of jarFirst ? steps : steps.reverse()) {
        const r = await step();
        assert.equal(r.status, 201, await r.text());
      }
    };
    // The prefix the descriptor declares, whichever of jar and POM came first.
    await deployPlugin(
      'hello-maven-plugin',
      jar([{ name: 'META-INF/maven/plugin.xml', data: descriptor('greet', 'Hello Plugin') }]),
      true,
    );
    await deployPlugin(
      'pitest-maven',
      jar([{ name: 'META-INF/maven/plugin.xml', data: descriptor('pitest', 'PIT &amp; co') }]),
      false,
    );
    // No descriptor, a bad one, a DOCTYPE, not a zip at all: the artifactId rule, deploy fine.
    await deployPlugin('plain-maven-plugin', jar([]), true);
    await deployPlugin(
      'broken-maven-plugin',
      jar([
        { name: 'META-INF/maven/plugin.xml', data: Buffer.from('<plugin><goalPrefix>x</plug') },
      ]),
      true,
    );
    await deployPlugin(
      'doctype-maven-plugin',
      jar([
        {
          name: 'META-INF/maven/plugin.xml',
          data: Buffer.from(
            '<!DOCTYPE plugin [<!ENTITY e "x">]><plugin><goalPrefix>&e;</goalPrefix></plugin>',
          ),
        },
      ]),
      true,
    );
    await deployPlugin('notzip-maven-plugin', Buffer.from(emptyJar('not really a zip')), true);
    const text = await (await get('com/acme/tools/maven-metadata.xml')).text();
    assert.match(
      text,
      /<name>Hello Plugin<\/name>\s*<prefix>greet<\/prefix>\s*<artifactId>hello-maven-plugin<\/artifactId>/,
    );
    assert.match(
      text,
      /<name>PIT &amp; co<\/name>\s*<prefix>pitest<\/prefix>\s*<artifactId>pitest-maven<\/artifactId>/,
    );
    assert.doesNotMatch(text, /not-the-plugin-name/);
    for (const name of ['plain', 'broken', 'doctype', 'notzip']) {
      assert.match(
        text,
        new RegExp(`<prefix>${name}</prefix>\\s*<artifactId>${name}-maven-plugin</artifactId>`),
      );
    }
    // A jar with a descriptor but no maven-plugin POM (yet) lists nothing.
    const lone = await put(
      'com/acme/lone/only-maven-plugin/1.0/only-maven-plugin-1.0.jar',
      jar([{ name: 'META-INF/maven/plugin.xml', data: descriptor('only', 'Only') }]),
    );
    assert.equal(lone.status, 201);
    assert.equal((await get('com/acme/lone/maven-metadata.xml')).status, 404);
  });

  test('delete a version, then the whole artifact; metadata regenerated', async () => {
    for (const v of ['1.0', '1.1']) {
      assert.equal((await put(`${G}/gone/${v}/gone-${v}.jar`, emptyJar(v))).status, 201);
    }
    const delVersion = await fetch(`${base}/${G}/gone/1.1/`, { method: 'DELETE' });
    assert.equal(delVersion.status, 200, await delVersion.text());
    assert.equal((await get(`${G}/gone/1.1/gone-1.1.jar`)).status, 404);
    const text = await (await get(`${G}/gone/maven-metadata.xml`)).text();
    assert.doesNotMatch(text, /1\.1/);
    assert.match(text, /<release>1\.0<\/release>/);
    const delArtifact = await fetch(`${base}/${G}/gone/`, { method: 'DELETE' });
    assert.equal(delArtifact.status, 200);
    assert.equal((await get(`${G}/gone/maven-metadata.xml`)).status, 404);
    assert.equal((await fetch(`${base}/${G}/gone/`, { method: 'DELETE' })).status, 404);
    // A deleted release version may be deployed again.
    assert.equal((await put(`${G}/gone/1.1/gone-1.1.jar`, emptyJar('again'))).status, 201);
    // Without the trailing slash (no file has that path): the version directory is meant.
    const bare = await fetch(`${base}/${G}/gone/1.1`, { method: 'DELETE' });
    assert.equal(bare.status, 200, await bare.text());
    assert.equal((await get(`${G}/gone/1.1/gone-1.1.jar`)).status, 404);
    assert.equal((await fetch(`${base}/${G}/gone/1.1`, { method: 'DELETE' })).status, 404);
  });

  test('bad input: traversal, encoded traversal, non-coordinates, bad POMs, size limits', async () => {
    const port = server.port;
    for (const path of [
      `/maven2/${G}/../../etc/passwd`,
      `/maven2/${G}/%2e%2e/x/1.0/x-1.0.jar`,
      `/maven2/${G}/x%2F..%2F/1.0/x-1.0.jar`,
      `/maven2/${G}/x/1.0/%00.jar`,
    ]) {
      const r = await raw(port, 'GET', path);
      assert.equal(r.status, 400, `${path}: ${r.status} ${r.body}`);
      const w = await raw(port, 'PUT', path, {}, Buffer.from('x'));
      assert.equal(w.status, 400, `PUT ${path}: ${w.status} ${w.body}`);
    }
    for (const path of ['foo.jar', `${G}/x/1.0/other-1.0.jar`, `${G}/x/1.0/x-2.0.jar`, 'a/b.jar']) {
      const r = await put(path, 'x');
      assert.equal(r.status, 400, `${path}: ${r.status}`);
      assert.match(await r.text(), /not a Maven layout path/);
    }
    const doctype = await put(
      `${G}/evil/1.0/evil-1.0.pom`,
      '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><project>&a;</project>',
    );
    assert.equal(doctype.status, 400);
    assert.match(await doctype.text(), /DOCTYPE/);
    const broken = await put(`${G}/evil/1.0/evil-1.0.pom`, '<project><unclosed></project>');
    assert.equal(broken.status, 400);
    assert.equal((await get(`${G}/evil/1.0/evil-1.0.pom`)).status, 404);
    const big = await put(`${G}/big/1.0/big-1.0.jar`, randomBytes(1024 * 1024 + 1));
    assert.equal(big.status, 413);
    assert.equal((await get(`${G}/big/1.0/big-1.0.jar`)).status, 404);
    const hugeMetadata = await put(`${G}/big/maven-metadata.xml`, randomBytes(17 * 1024 * 1024));
    assert.equal(hugeMetadata.status, 413);
    const longChecksum = await put(`${G}/demo/1.0/demo-1.0.jar.sha1`, 'a'.repeat(5000));
    assert.equal(longChecksum.status, 413);
    assert.equal((await get('')).status, 404);
    assert.equal((await fetch(`${base}/${G}/demo/`, { method: 'POST' })).status, 405);
  });

  test('a proxy repository refuses writes (405)', async () => {
    const r = await put(`${G}/demo/9.0/demo-9.0.jar`, emptyJar('x'), '/repository/mproxy');
    assert.equal(r.status, 405);
    assert.match(await r.text(), /read-only proxy/);
  });
});

describe('maven hosted repository (auth enabled)', () => {
  let server: TestServer;
  const auth = `Basic ${Buffer.from('alice:alice-pw-1').toString('base64')}`;

  before(async () => {
    server = await startTestServer({
      config: { maven: { proxies: [] }, auth: { enabled: true, anonymous_read: true } },
    });
    await server.app.context.identity.users.create('alice', 'alice-pw-1', undefined, ['write']);
  });
  after(async () => {
    await server.close();
  });

  test('anonymous deploy gets a 401 Basic challenge; with credentials it lands', async () => {
    const url = `${server.url}/maven2/${G}/sec/1.0/sec-1.0.jar`;
    const anon = await fetch(url, { method: 'PUT', body: 'x' });
    assert.equal(anon.status, 401);
    assert.match(anon.headers.get('www-authenticate') ?? '', /^Basic /);
    const del = await fetch(`${server.url}/maven2/${G}/sec/`, { method: 'DELETE' });
    assert.equal(del.status, 401);
    const ok = await fetch(url, {
      method: 'PUT',
      body: emptyJar('x'),
      headers: { authorization: auth },
    });
    assert.equal(ok.status, 201);
    assert.equal((await fetch(url)).status, 200);
  });
});

describe('maven hosted repository (checksum_verify = false)', () => {
  test('checksums are neither compared after nor before their file', async () => {
    await using server = await startTestServer({
      config: { maven: { proxies: [], checksum_verify: false } },
    });
    const url = (p: string) => `${server.url}/maven2/${G}/loose/1.0/${p}`;
    const put = (p: string, body: string) => fetch(url(p), { method: 'PUT', body });
    assert.equal((await put('loose-1.0.jar.sha1', 'a'.repeat(40))).status, 201);
    assert.equal((await put('loose-1.0.jar', emptyJar('loose'))).status, 201);
    const md5 = await put('loose-1.0.jar.md5', 'b'.repeat(32));
    assert.equal(md5.status, 201);
    // A mismatch let through is not called "verified".
    assert.match(await md5.text(), /unverified/);
    assert.equal(
      await (await fetch(url('loose-1.0.jar.sha1'))).text(),
      hex('sha1', emptyJar('loose')),
    );
  });
});

describe('maven hosted repository (auth enabled, no anonymous read)', () => {
  let server: TestServer;
  const auth = `Basic ${Buffer.from('bob:bob-pw-1').toString('base64')}`;

  before(async () => {
    server = await startTestServer({
      config: { maven: { proxies: [] }, auth: { enabled: true, anonymous_read: false } },
    });
    await server.app.context.identity.users.create('bob', 'bob-pw-1', undefined, ['write']);
  });
  after(async () => {
    await server.close();
  });

  test('answers kept for a reader are still refused to anonymous (401)', async () => {
    const dir = `${server.url}/maven2/${G}/kept`;
    const body = pom('kept', '1.0');
    const headers = { authorization: auth };
    const put = await fetch(`${dir}/1.0/kept-1.0.pom`, { method: 'PUT', body, headers });
    assert.equal(put.status, 201);
    for (const path of [
      '1.0/kept-1.0.pom',
      '1.0/kept-1.0.pom.sha1',
      'maven-metadata.xml',
      '1.0/none-1.0.pom',
    ]) {
      for (let i = 0; i < 3; i++) {
        const r = await fetch(`${dir}/${path}`, { headers });
        assert.equal(r.status, path.includes('none') ? 404 : 200, path);
        await r.arrayBuffer();
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      const anon = await fetch(`${dir}/${path}`);
      assert.equal(anon.status, 401, path);
      assert.match(anon.headers.get('www-authenticate') ?? '', /^Basic /);
    }
  });
});

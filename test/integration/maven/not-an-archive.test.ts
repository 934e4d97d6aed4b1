/**
 * New-user trial: a Maven deploy of an archive (.jar, .war, .ear, .aar, .zip, classifiers too)
 * that is empty or a web page (`curl -T` of an error page saved in place of the artifact) was
 * stored (201), and every build resolving it then failed on a broken zip. It is now a 400 that
 * says what the body is, and nothing is stored (no file, no blob, nothing listed), for releases
 * and snapshots, a first deploy and a redeploy. Other files (a POM, a `.txt`) are not judged here.
 * Trial 19 fmts F5: `.JAR` was not judged, and `PK\x03\x04` then garbage (or a truncated jar) was
 * stored and became <latest>/<release>: a zip must now have its end record, whatever the case of
 * its extension.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { startTestServer, type TestServer } from '../../helpers/server.ts';
import { makeZip } from '../pypi/fixtures.ts';

describe('Maven: an empty or HTML archive deploy is a 400, nothing stored', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ config: { maven: { proxies: [] } } });
  });
  after(() => server.close());

  const put = (path: string, body: string | Buffer) =>
    fetch(`${server.url}/maven2/${path}`, { method: 'PUT', body });
  const page = '\n<!DOCTYPE html>\n<html><body><h1>502 Bad Gateway</h1></body></html>\n';

  test('empty: 400 naming the file, nothing stored', async () => {
    for (const path of [
      'com/acme/lib/1.0/lib-1.0.jar',
      'com/acme/lib/1.0/lib-1.0-sources.jar',
      'com/acme/web/1.0/web-1.0.war',
      'com/acme/lib/1.0-SNAPSHOT/lib-1.0-20260101.000000-1.jar',
      'com/acme/dist/1.0/dist-1.0-bin.zip',
    ]) {
      const r = await put(path, '');
      assert.equal(r.status, 400, path);
      const ext = path.slice(path.lastIndexOf('.') + 1);
      assert.equal(
        await r.text(),
        `${path} is empty (0 bytes), not a .${ext} (a zip archive); nothing stored: check the file you deploy (an error page saved in place of the artifact?)\n`,
      );
      assert.equal((await fetch(`${server.url}/maven2/${path}`)).status, 404, path);
    }
  });

  test('an HTML page: 400 quoting its start, nothing stored', async () => {
    for (const path of ['com/acme/app/2.0/app-2.0.aar', 'com/acme/ear/2.0/ear-2.0.ear']) {
      const r = await put(path, page);
      assert.equal(r.status, 400, path);
      assert.match(
        await r.text(),
        /is a web page \(it starts with "<!DOCTYPE html> <htm"\), not a \.(aar|ear) \(a zip archive\); nothing stored/,
      );
      assert.equal((await fetch(`${server.url}/maven2/${path}`)).status, 404, path);
    }
    const bom = await put(
      'com/acme/lib/3.0/lib-3.0.jar',
      Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('<html>oops</html>')]),
    );
    assert.equal(bom.status, 400);
    const meta = await fetch(`${server.url}/maven2/com/acme/lib/maven-metadata.xml`);
    assert.equal(meta.status, 404, 'no version recorded');
  });

  /** A zip's end record with no entries: the empty zip (22 bytes). */
  const zipEnd = Buffer.from(`PK\x05\x06${'\0'.repeat(18)}`, 'latin1');

  test('a redeploy of a stored release with an error page: 400, the stored jar kept', async () => {
    const jar = makeZip([{ name: 'a.class', data: Buffer.from('a zip') }]);
    const path = 'com/acme/kept/1.0/kept-1.0.jar';
    assert.equal((await put(path, jar)).status, 201);
    const r = await put(path, page);
    assert.equal(r.status, 400);
    const got = await fetch(`${server.url}/maven2/${path}`);
    assert.deepEqual(Buffer.from(await got.arrayBuffer()), jar);
  });

  test('no zip at all (trial 17 gomh F2): 400 in the reason phrase too, nothing stored', async () => {
    const path = 'com/acme/trial/bad/1.0/bad-1.0-junk.jar';
    const r = await put(path, 'not a zip at all');
    assert.equal(r.status, 400);
    const text = `${path} starts with "not a zip at all", not a .jar (a zip archive starts with PK); nothing stored: check the file you deploy`;
    assert.equal(r.statusText, `Bad Request - ${text}`, 'mvn prints the reason phrase');
    assert.equal(await r.text(), `${text}\n`);
    assert.equal((await fetch(`${server.url}/maven2/${path}`)).status, 404);
    const binary = await put('com/acme/bin/1.0/bin-1.0.war', Buffer.from([0x1f, 0x8b, 8, 0, 1, 2]));
    assert.equal(binary.status, 400);
    assert.match(
      await binary.text(),
      /starts with bytes 1f 8b 08 00 01 02, not a \.war \(a zip archive starts with PK\)/,
    );
    const meta = await fetch(`${server.url}/maven2/com/acme/trial/bad/maven-metadata.xml`);
    assert.equal(meta.status, 404, 'no version recorded');
  });

  test('a zip after a launch script (an executable jar) is taken: its end record is there', async () => {
    const zip = makeZip([{ name: 'a.class', data: Buffer.from('a zip') }]);
    const jar = Buffer.concat([Buffer.from('#!/bin/bash\nexec java -jar "$0" "$@"\n'), zip]);
    assert.equal((await put('com/acme/exe/1.0/exe-1.0.jar', jar)).status, 201);
  });

  test("text before an empty archive's end record is no jar (trial 21 fmts F1)", async () => {
    for (const [version, start] of [
      ['1.0', 'not a zip at all'],
      ['1.1', '<html>x</html>'],
    ] as const) {
      const path = `com/acme/junk/${version}/junk-${version}.jar`;
      const r = await put(path, Buffer.concat([Buffer.from(start), zipEnd]));
      assert.equal(r.status, 400, path);
      assert.match(await r.text(), /not a \.jar \(a zip archive starts with PK\); nothing stored/);
      assert.equal((await fetch(`${server.url}/maven2/${path}`)).status, 404, path);
    }
    const meta = await fetch(`${server.url}/maven2/com/acme/junk/maven-metadata.xml`);
    assert.equal(meta.status, 404, 'no version recorded');
  });

  test('other files and real archives are not judged', async () => {
    assert.equal((await put('com/acme/doc/1.0/doc-1.0.txt', '')).status, 201);
    assert.equal((await put('com/acme/doc/1.0/doc-1.0.xml', '<x/>')).status, 201);
    assert.equal((await put('com/acme/ok/1.0/ok-1.0.jar', zipEnd)).status, 201, 'the empty zip');
    const real = makeZip([
      { name: 'META-INF/MANIFEST.MF', data: Buffer.from('Manifest-Version: 1.0\n') },
    ]);
    assert.equal((await put('com/acme/ok/1.1/ok-1.1.jar', real)).status, 201);
    // A zip comment up to its 64 KiB maximum after the end record: the record is still found.
    const commented = Buffer.concat([
      real.subarray(0, real.length - 2),
      Buffer.from([0xff, 0xff]),
      Buffer.alloc(0xffff, 0x20),
    ]);
    assert.equal((await put('com/acme/ok/1.2/ok-1.2-commented.zip', commented)).status, 201);
  });

  test('upper-case extensions are archives too (trial 19 fmts F5)', async () => {
    for (const path of ['com/acme/up/1.0/up-1.0.JAR', 'com/acme/up/1.0/up-1.0-bin.Zip']) {
      const r = await put(path, page);
      assert.equal(r.status, 400, path);
      assert.match(r.statusText, /is a web page \(it starts with "<!DOCTYPE html> <htm"\)/);
      assert.equal((await fetch(`${server.url}/maven2/${path}`)).status, 404, path);
    }
    assert.equal((await put('com/acme/up/1.1/up-1.1.JAR', zipEnd)).status, 201);
  });

  test('a zip start without a zip end record: 400, nothing stored, no version (trial 19 fmts F5)', async () => {
    const real = makeZip([{ name: 'a.class', data: randomBytes(4000), store: true }]);
    for (const [path, body] of [
      ['com/acme/pk/1.1/pk-1.1.jar', Buffer.from('PK\x03\x04garbage', 'latin1')],
      // Truncated: cut inside its end record, and before it.
      ['com/acme/pk/1.2/pk-1.2.jar', real.subarray(0, real.length - 5)],
      ['com/acme/pk/1.3/pk-1.3.war', real.subarray(0, 2000)],
    ] as const) {
      const r = await put(path, body);
      assert.equal(r.status, 400, path);
      const ext = path.slice(path.lastIndexOf('.') + 1);
      const text = `${path} starts with PK but has no zip end record: a truncated or damaged .${ext}; nothing stored: check the file you deploy`;
      assert.equal(r.statusText, `Bad Request - ${text}`, 'mvn prints the reason phrase');
      assert.equal(await r.text(), `${text}\n`);
      assert.equal((await fetch(`${server.url}/maven2/${path}`)).status, 404, path);
    }
    // The end record more than 64 KiB + 22 bytes before the end: no zip reader finds it.
    const padded = Buffer.concat([real, Buffer.alloc(0x10000)]);
    assert.equal((await put('com/acme/pk/1.4/pk-1.4.jar', padded)).status, 400);
    const meta = await fetch(`${server.url}/maven2/com/acme/pk/maven-metadata.xml`);
    assert.equal(meta.status, 404, 'no version recorded, none is <latest> or <release>');
  });

  test("a fat jar cut after a jar it stores: 400, though that jar's end record is near the end (trial 20 fmts F1)", async () => {
    const inner = makeZip([{ name: 'lib/Inner.class', data: randomBytes(3000) }]);
    const fat = makeZip([
      { name: 'BOOT-INF/lib/inner.jar', data: inner, store: true },
      { name: 'BOOT-INF/lib/after.bin', data: randomBytes(30_000), store: true },
    ]);
    const cut = fat.subarray(0, fat.indexOf(inner) + inner.length + 1000);
    const path = 'com/acme/fat/1.0/fat-1.0.jar';
    const r = await put(path, cut);
    assert.equal(r.status, 400, await r.text());
    assert.equal((await fetch(`${server.url}/maven2/${path}`)).status, 404);
    assert.equal((await put(path, fat)).status, 201, 'the whole fat jar is taken');
  });

  // The prefix before the archive was searched for a zip entry in its first 64 KiB only: behind
  // a longer launch script, a copy cut exactly at a nested jar's record was taken (docs named the
  // limit). The whole prefix the end record implies is now searched, streamed.
  test('behind a launch script longer than 64 KiB: a fat jar cut at a nested record is a 400, the whole one is taken', async () => {
    const script = Buffer.concat([
      Buffer.from('#!/bin/bash\nexec java -jar "$0" "$@"\n'),
      Buffer.from(`# ${'x'.repeat(78)}\n`.repeat(1_200)),
    ]);
    assert.ok(script.length > 64 * 1024 + 10_000);
    const inner = makeZip([{ name: 'lib/Inner.class', data: randomBytes(3000) }]);
    const fat = makeZip([
      { name: 'META-INF/MANIFEST.MF', data: Buffer.from('Manifest-Version: 1.0\r\n\r\n') },
      { name: 'BOOT-INF/lib/inner.jar', data: inner, store: true },
      { name: 'BOOT-INF/lib/after.bin', data: randomBytes(30_000), store: true },
    ]);
    const cut = Buffer.concat([script, fat.subarray(0, fat.indexOf(inner) + inner.length)]);
    const path = 'com/acme/longexe/1.0/longexe-1.0.jar';
    const r = await put(path, cut);
    const text = await r.text();
    assert.equal(r.status, 400, text);
    assert.match(
      text,
      /starts with "#!\/bin\/bash\\nexec" and holds a zip entry from byte \d+ \(an executable jar\?\) but is no whole zip/,
    );
    assert.equal((await fetch(`${server.url}/maven2/${path}`)).status, 404);
    assert.equal(
      (await put(path, Buffer.concat([script, fat]))).status,
      201,
      'the whole executable jar behind the long script is taken',
    );
  });
});

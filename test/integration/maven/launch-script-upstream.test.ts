/**
 * Trial 21 fmts F5: the Maven proxy refused an executable jar (a launch script, then the zip:
 * Spring Boot's "fully executable" jar) that no checksum verifies, as "not a zip archive",
 * though a hosted deploy takes the same file: the proxy asked for `PK` first. The end record
 * decides now on both sides; a cut copy of such a jar, or text before an empty archive's record
 * (trial 21 fmts F1), is still refused.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { startTestServer, type TestServer } from '../../helpers/server.ts';
import { makeZip } from '../pypi/fixtures.ts';
import { type FixtureUpstream, startFixtureUpstream } from './fixture-upstream.ts';

const SCRIPT = Buffer.from(`#!/bin/bash\nexec java -jar "$0" "$@"\n${'#'.repeat(9_000)}\n`);
const INNER = makeZip([{ name: 'lib/Inner.class', data: randomBytes(3_000) }]);
const FAT = makeZip([
  { name: 'META-INF/MANIFEST.MF', data: Buffer.from('Manifest-Version: 1.0\r\n\r\n') },
  { name: 'BOOT-INF/lib/inner.jar', data: INNER, store: true },
  { name: 'BOOT-INF/lib/after.bin', data: randomBytes(20_000), store: true },
]);
const EXECUTABLE = Buffer.concat([SCRIPT, FAT]);
/** The executable jar cut exactly where the jar it stores ends (its end record last). */
const CUT_AT_NESTED = EXECUTABLE.subarray(0, SCRIPT.length + FAT.indexOf(INNER) + INNER.length);
const EMPTY_RECORD = makeZip([]);

describe('maven proxy: an executable jar with no checksum is taken, as a hosted deploy', () => {
  let upstream: FixtureUpstream;
  let server: TestServer;
  before(async () => {
    upstream = await startFixtureUpstream();
    await upstream.put('com/acme/app/1.0/app-1.0.jar', EXECUTABLE, []);
    await upstream.put('com/acme/app/1.1/app-1.1.jar', CUT_AT_NESTED, []);
    await upstream.put(
      'com/acme/app/1.2/app-1.2.jar',
      Buffer.concat([Buffer.from('not a zip at all'), EMPTY_RECORD]),
      [],
    );
    server = await startTestServer({ config: { maven: { proxies: [upstream.url()] } } });
  });
  after(async () => {
    await server.close();
    await upstream.close();
  });

  test('the whole executable jar is served byte for byte', async () => {
    const r = await fetch(`${server.url}/maven2/com/acme/app/1.0/app-1.0.jar`);
    assert.equal(r.status, 200);
    assert.deepEqual(Buffer.from(await r.arrayBuffer()), EXECUTABLE);
  });

  test('a copy cut at the nested jar, and text before an empty record, are refused', async () => {
    for (const [version, why] of [
      ['1.1', /a zip archive with no end record \(truncated or damaged\)/],
      ['1.2', /a body that is not a zip archive/],
    ] as const) {
      const r = await fetch(`${server.url}/maven2/com/acme/app/${version}/app-${version}.jar`);
      assert.equal(r.status, 502, version);
      assert.match(await r.text(), why, version);
    }
  });

  test('hosted takes the executable jar and refuses the same two', async () => {
    const put = (version: string, body: Buffer) =>
      fetch(`${server.url}/repository/maven-hosted/com/acme/exe/${version}/exe-${version}.jar`, {
        method: 'PUT',
        body,
      });
    assert.equal((await put('1.0', EXECUTABLE)).status, 201);
    const cut = await put('1.1', CUT_AT_NESTED);
    assert.equal(cut.status, 400);
    const text = await cut.text();
    assert.match(text, /starts with "#!\/bin\/bash\\nexec"/);
    assert.ok(
      text.includes(
        `and holds a zip entry from byte ${SCRIPT.length} (an executable jar?) but is no whole zip (no end record of its own, or its first entry is not where the record says): a truncated or damaged .jar; nothing stored`,
      ),
      text,
    );
    assert.equal(
      (await put('1.2', Buffer.concat([Buffer.from('not a zip at all'), EMPTY_RECORD]))).status,
      400,
    );
  });
});

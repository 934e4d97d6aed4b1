/**
 * An upstream archive (.jar, .war, …) with no checksum to verify it that starts like a zip (`PK`)
 * but has no zip end record: a body cut short with no Content-Length to tell (a chunked answer
 * ended early), or a truncated copy an upstream (or a proxy before it) serves whole. The Maven
 * proxy used to judge such a body only by its first bytes and cached it. Now the fill refuses it
 * before the commit, small (held in memory) or large (spooled; its end is read from the fill's
 * newest chunks, never the whole body): a 502 naming the reason, nothing cached, and the next
 * request asks the upstream again. A whole jar, small or large, is served as before. The check is
 * the one hosted deploys pass (src/formats/maven/zip-end.ts).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { describe, test } from 'node:test';
import { makeZip } from '../pypi/fixtures.ts';
import { mavenProxyOver } from './proxy-over.ts';

/** A real jar (a manifest and a class-sized entry), ~20 KiB. */
const SMALL = makeZip([
  { name: 'META-INF/MANIFEST.MF', data: Buffer.from('Manifest-Version: 1.0\r\n\r\n') },
  { name: 'org/acme/Small.class', data: randomBytes(20_000), store: true },
]);
/** A jar of 3 MiB: a fill that spools, holding only its newest chunks. */
const LARGE = makeZip([
  { name: 'META-INF/MANIFEST.MF', data: Buffer.from('Manifest-Version: 1.0\r\n\r\n') },
  { name: 'org/acme/blob.bin', data: randomBytes(3 * 1024 * 1024), store: true },
]);

type Mode = 'truncated' | 'whole';

describe('maven proxy: an upstream archive with no zip end record is refused, never cached', () => {
  let mode: Mode = 'truncated';
  const hits = new Map<string, number>();
  const upstream = http.createServer((req, res) => {
    const url = req.url ?? '/';
    hits.set(url, (hits.get(url) ?? 0) + 1);
    const jar = url.includes('/large/') ? LARGE : url.includes('/small/') ? SMALL : undefined;
    // No checksum files: nothing but the bytes themselves can tell a cut jar.
    if (jar === undefined || !/\.(jar|war)$/.test(url)) {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not found');
      return;
    }
    const body = mode === 'whole' ? jar : jar.subarray(0, Math.floor(jar.length * 0.7));
    if (url.includes('-chunked')) {
      // No Content-Length: the answer just ends early, cleanly.
      res.writeHead(200, { 'content-type': 'application/java-archive' });
      res.write(body.subarray(0, 1000));
      res.end(body.subarray(1000));
    } else {
      // A truncated file served whole, its length announced.
      res.writeHead(200, {
        'content-type': 'application/java-archive',
        'content-length': String(body.length),
      });
      res.end(body);
    }
  });
  const { get } = mavenProxyOver(upstream);

  const cases: [string, Buffer][] = [
    ['org/acme/small/1.0/small-1.0.jar', SMALL],
    ['org/acme/small/1.0/small-1.0-chunked.jar', SMALL],
    ['org/acme/large/1.0/large-1.0.war', LARGE],
    ['org/acme/large/1.0/large-1.0-chunked.jar', LARGE],
  ];
  for (const [artifact, whole] of cases) {
    test(`${artifact}: a cut jar is a 502 naming the missing end record; the whole one is served after`, async () => {
      mode = 'truncated';
      const cut = await get(`/repository/maven-proxy/${artifact}`);
      assert.equal(cut.status, 502, cut.body.toString('latin1').slice(0, 300));
      assert.match(
        cut.body.toString(),
        /sent a zip archive with no end record \(truncated or damaged\)( for \S+)?, with no checksum/,
      );
      const group = await get(`/maven2/${artifact}`);
      assert.equal(group.status, 502, group.body.toString('latin1').slice(0, 300));
      // The upstream was asked and sent a damaged copy: the 502 says that, not "could not be
      // asked", in its body and in the status line mvn prints (trial 23 fmts F5).
      assert.match(
        group.body.toString(),
        /^no member has a good copy of \S+: an upstream sent a damaged one \(upstream maven-proxy#0 answered: sent a zip archive with no end record/,
      );
      assert.doesNotMatch(group.body.toString(), /could not be asked/);
      assert.match(group.statusMessage, /^Bad Gateway - no member has a good copy of /);
      const asked = hits.get(`/${artifact}`) ?? 0;
      assert.ok(asked >= 2, `each request asked the upstream again (${asked})`);

      mode = 'whole';
      const fixed = await get(`/maven2/${artifact}`);
      assert.equal(fixed.status, 200, fixed.body.toString('latin1').slice(0, 300));
      assert.ok(fixed.body.equals(whole), 'the whole jar, not a cached cut one');
      mode = 'truncated';
      const cached = await get(`/maven2/${artifact}`);
      assert.equal(cached.status, 200);
      assert.ok(cached.body.equals(whole), 'the whole jar is cached and served from the cache');
    });
  }
});

/**
 * An upstream (or a proxy before it) answering 200 with garbage or an HTML page (an outage trial
 * finding): a checksum file that is there but is not a checksum is an upstream failure for the
 * file (nothing stored, the reason named), never "no checksum published"; an archive with no
 * checksum that is an HTML page or not a zip is refused. Once the upstream is fixed, the right
 * bytes are served (nothing wrong was cached).
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import { describe, test } from 'node:test';
import { makeZip } from '../pypi/fixtures.ts';
import { mavenProxyOver } from './proxy-over.ts';

type Mode = 'good' | 'garbage' | 'html' | 'bad-sha1' | 'html-jar-no-sums' | 'good-no-sums';

// A real zip (a proxied archive with no checksum must be one, its end record its own:
// truncated-archive-upstream.test.ts).
const JAR = makeZip([{ name: 'a.class', data: randomBytes(3000), store: true }]);
const PAGE = '<!DOCTYPE html><html><body><h1>Please log in to the network</h1></body></html>';

describe('maven proxy: garbage and HTML from the upstream are never cached', () => {
  let mode: Mode = 'good';
  const upstream = http.createServer((req, res) => {
    const url = req.url ?? '/';
    const sum = /\.(sha1|sha256|sha512|md5)$/.exec(url)?.[1];
    const html = (): void => {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end(PAGE);
    };
    const garbage = (): void => {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      res.end(randomBytes(sum === undefined ? 5000 : 3000));
    };
    if (mode === 'html') {
      html();
      return;
    }
    if (mode === 'garbage') {
      garbage();
      return;
    }
    if (sum === undefined) {
      if (mode === 'html-jar-no-sums') {
        html();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/java-archive' });
      res.end(JAR);
      return;
    }
    if (mode === 'bad-sha1' && sum === 'sha1') {
      garbage();
      return;
    }
    if (mode === 'html-jar-no-sums' || mode === 'good-no-sums' || sum === 'md5') {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not found');
      return;
    }
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end(createHash(sum).update(JAR).digest('hex'));
  });
  const { get } = mavenProxyOver(upstream);

  const cases: [Mode, string, RegExp][] = [
    ['garbage', 'garbage', /sent an invalid \.sha1 (for \S+ )?\(not a hex sha1 digest\)/],
    ['html', 'html', /sent an invalid \.sha1 (for \S+ )?\(an HTML page\)/],
    ['bad-sha1', 'badsha1', /sent an invalid \.sha1 (for \S+ )?\(not a hex sha1 digest\)/],
    ['html-jar-no-sums', 'htmljar', /sent an HTML page( for \S+)?, with no checksum/],
  ];
  for (const [bad, name, reason] of cases) {
    test(`${bad}: refused with the reason, nothing cached; the fixed upstream's bytes are served`, async () => {
      const artifact = `org/garbage/${name}/1.0/${name}-1.0.jar`;
      mode = bad;
      const alone = await get(`/repository/maven-proxy/${artifact}`);
      assert.equal(alone.status, 502, alone.body.toString());
      assert.match(alone.body.toString(), reason);
      const group = await get(`/maven2/${artifact}`);
      // A file miss while a member failed is the failure's 502 through the group too (mvn caches
      // a 404 as "not found" in its local repository, never a transfer error).
      assert.equal(group.status, 502, group.body.toString());
      assert.match(group.body.toString(), /\(upstream maven-proxy#0 answered: sent /);
      assert.match(group.body.toString(), /^no member has a good copy of /);
      assert.match(group.body.toString(), reason);
      assert.doesNotMatch(group.body.toString(), /failed: failed/);

      mode = bad === 'html-jar-no-sums' ? 'good-no-sums' : 'good';
      const fixed = await get(`/maven2/${artifact}`);
      assert.equal(fixed.status, 200, fixed.body.toString());
      assert.ok(fixed.body.equals(JAR), 'the upstream bytes, not a cached bad answer');
      const sha1 = await get(`/maven2/${artifact}.sha1`);
      assert.equal(sha1.body.toString().trim(), createHash('sha1').update(JAR).digest('hex'));
    });
  }

  test('a POM with no checksum that is an HTML page is refused', async () => {
    mode = 'html-jar-no-sums';
    const artifact = 'org/garbage/htmlpom/1.0/htmlpom-1.0.pom';
    const alone = await get(`/repository/maven-proxy/${artifact}`);
    assert.equal(alone.status, 502, alone.body.toString());
    assert.match(alone.body.toString(), /sent an HTML page( for \S+)?, with no checksum/);
    mode = 'good-no-sums';
    const fixed = await get(`/repository/maven-proxy/${artifact}`);
    assert.equal(fixed.status, 200, fixed.body.toString());
    assert.ok(fixed.body.equals(JAR), 'the upstream bytes (a POM with no checksum is taken)');
  });

  test('an archive with no checksum whose bytes are not a zip is refused', async () => {
    mode = 'good-no-sums';
    const artifact = 'org/garbage/notzip/1.0/notzip-1.0.war';
    const saved = JAR.subarray(0, 2).toString('latin1');
    JAR.write('XX', 0, 'latin1');
    try {
      const alone = await get(`/repository/maven-proxy/${artifact}`);
      assert.equal(alone.status, 502, alone.body.toString());
      assert.match(
        alone.body.toString(),
        /sent a body that is not a zip archive( for \S+)?, with no checksum/,
      );
    } finally {
      JAR.write(saved, 0, 'latin1');
    }
    const fixed = await get(`/repository/maven-proxy/${artifact}`);
    assert.equal(fixed.status, 200, fixed.body.toString());
    assert.ok(fixed.body.equals(JAR));
  });
});

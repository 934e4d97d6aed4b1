/** Unit and property tests of upstream Link pagination (src/proxy/pagination.ts). */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { nextPage } from '../../../src/proxy/pagination.ts';

const page = new URL('http://reg.test:5000/mirror/v2/a/b/tags/list?n=50&last=x');
const base = 'http://reg.test:5000/mirror';

describe('nextPage', () => {
  test('no header, or no rel="next": none', () => {
    assert.deepEqual(nextPage(undefined, page, base), { kind: 'none' });
    assert.deepEqual(nextPage('</mirror/v2/a/b/tags/list?last=y>; rel="prev"', page, base), {
      kind: 'none',
    });
  });

  test('absolute path, relative reference, full URL, unquoted rel, several links', () => {
    const want = { kind: 'next', path: '/v2/a/b/tags/list?n=50&last=y' };
    assert.deepEqual(
      nextPage('</mirror/v2/a/b/tags/list?n=50&last=y>; rel="next"', page, base),
      want,
    );
    assert.deepEqual(nextPage('<list?n=50&last=y>; rel=next', page, base), want);
    assert.deepEqual(
      nextPage('<http://reg.test:5000/mirror/v2/a/b/tags/list?n=50&last=y>;rel="next"', page, base),
      want,
    );
    assert.deepEqual(
      nextPage(
        '</mirror/v2/a/b/tags/list?last=a>; rel="prev", </mirror/v2/a/b/tags/list?n=50&last=y>; rel="other next"',
        page,
        base,
      ),
      want,
    );
  });

  test('another origin, another scheme or port, or outside the base path: refused', () => {
    for (const target of [
      'http://evil.test/mirror/v2/a/b/tags/list?last=y',
      'https://reg.test:5000/mirror/v2/a/b/tags/list?last=y',
      'http://reg.test:5001/mirror/v2/a/b/tags/list?last=y',
      '/v2/a/b/tags/list?last=y',
      '/mirrorx/v2/a/b/tags/list',
      '//evil.test/mirror/v2/x',
    ]) {
      assert.equal(nextPage(`<${target}>; rel="next"`, page, base).kind, 'refused', target);
    }
  });

  test('property: any header either yields none, a path under the base, or refused; never throws', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (header) => {
        const next = nextPage(header, page, base);
        if (next.kind === 'next') {
          assert.ok(next.path.startsWith('/'));
          assert.equal(new URL(`${base}${next.path}`).origin, 'http://reg.test:5000');
        }
      }),
    );
    fc.assert(
      fc.property(fc.webUrl(), (url) => {
        const next = nextPage(`<${url}>; rel="next"`, page, base);
        if (new URL(url).origin !== 'http://reg.test:5000') assert.equal(next.kind, 'refused');
      }),
    );
  });
});

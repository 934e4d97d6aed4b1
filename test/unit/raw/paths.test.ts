/** Raw paths (parse, refuse), write conditions, entity tags, listing merge and rendering. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { RegistryError } from '../../../src/core/errors.ts';
import { mergeListings } from '../../../src/formats/raw/group.ts';
import { listingHtml, listingJson, nextPageUrl } from '../../../src/formats/raw/listing.ts';
import type { RawListingEntry } from '../../../src/formats/raw/model.ts';
import {
  ancestors,
  contentTypeOf,
  encodePath,
  parseRawPath,
  splitPath,
} from '../../../src/formats/raw/paths.ts';
import { parseEtags, writeCondition } from '../../../src/formats/raw/service.ts';

const badRequest = (fn: () => unknown) => {
  assert.throws(fn, (err: unknown) => err instanceof RegistryError && err.status === 400);
};

describe('parseRawPath', () => {
  test('root, folders, files, the api namespace', () => {
    assert.deepEqual(parseRawPath(''), { kind: 'root', bare: true });
    assert.deepEqual(parseRawPath('/'), { kind: 'root' });
    assert.deepEqual(parseRawPath('/a/b/'), { kind: 'dir', path: 'a/b' });
    assert.deepEqual(parseRawPath('/a/b.txt'), { kind: 'file', path: 'a/b.txt' });
    assert.deepEqual(parseRawPath('/-/reindex'), { kind: 'api', name: 'reindex' });
  });

  test('segments are percent-decoded once', () => {
    assert.deepEqual(parseRawPath('/a%20b/c%2525.txt'), { kind: 'file', path: 'a b/c%25.txt' });
    assert.deepEqual(parseRawPath('/%C3%A9t%C3%A9/x'), { kind: 'file', path: 'été/x' });
  });

  test('traversal, encoded traversal and encoded separators are refused', () => {
    for (const p of ['/../x', '/a/../x', '/a/%2e%2e/x', '/a/%2E%2E', '/./x', '/a/%2e/x']) {
      badRequest(() => parseRawPath(p));
    }
    for (const p of ['/a%2Fb', '/a%2fb', '/a%5Cb', '/a\\b']) badRequest(() => parseRawPath(p));
  });

  test('empty segments, control and bidi characters, blank names, bad escapes are refused', () => {
    for (const p of [
      '/a//b',
      '//a',
      '/a%00b',
      '/a%0Ab',
      '/a%7Fb',
      '/a%C2%85b',
      '/%20/x',
      '/a%zz',
      '/a%',
      '/%E2%80%AEtxt.exe', // U+202E: shows as exe.txt
      '/a%E2%81%A6b', // U+2066
      '/a%E2%80%8Bb', // U+200B zero width space
      '/a%E2%80%8Fb', // U+200F right-to-left mark
      '/%EF%BB%BFa', // U+FEFF
    ]) {
      badRequest(() => parseRawPath(p));
    }
    badRequest(() => parseRawPath('a/b'));
    // Zero-width joiners stay: Persian names and emoji sequences need them.
    assert.deepEqual(parseRawPath('/%D9%85%E2%80%8C%D9%86'), { kind: 'file', path: 'م\u200cن' });
    assert.deepEqual(parseRawPath('/%F0%9F%91%A8%E2%80%8D%F0%9F%91%A9'), {
      kind: 'file',
      path: '👨\u200d👩',
    });
  });

  test('length and depth bounds', () => {
    badRequest(() => parseRawPath(`/${'x'.repeat(256)}`));
    parseRawPath(`/${'x'.repeat(255)}`);
    badRequest(() => parseRawPath(`/${Array.from({ length: 65 }, () => 'a').join('/')}`));
    badRequest(() =>
      parseRawPath(`/${Array.from({ length: 60 }, () => 'abcdefghijklmnopqrst').join('/')}`),
    );
  });

  test('helpers', () => {
    assert.deepEqual(splitPath('a/b/c.txt'), { parent: 'a/b', name: 'c.txt' });
    assert.deepEqual(splitPath('c.txt'), { parent: '', name: 'c.txt' });
    assert.deepEqual(ancestors('a/b/c.txt'), ['a', 'a/b']);
    assert.deepEqual(ancestors('c.txt'), []);
    assert.equal(encodePath('a b/c#d'), 'a%20b/c%23d');
  });

  test('Content-Type by extension', () => {
    assert.equal(contentTypeOf('x/tool.tar.gz'), 'application/gzip');
    assert.equal(contentTypeOf('notes.TXT'), 'text/plain; charset=utf-8');
    assert.equal(contentTypeOf('a.json'), 'application/json');
    assert.equal(contentTypeOf('Makefile'), 'application/octet-stream');
    assert.equal(contentTypeOf('.hidden'), 'application/octet-stream');
    assert.equal(contentTypeOf('x.unknownext'), 'application/octet-stream');
  });
});

describe('write conditions and entity tags', () => {
  test('no header: create (immutable) or any', () => {
    assert.deepEqual(writeCondition({ ifMatch: undefined, ifNoneMatch: undefined }, true), {
      kind: 'create',
    });
    assert.deepEqual(writeCondition({ ifMatch: undefined, ifNoneMatch: undefined }, false), {
      kind: 'any',
    });
  });

  test('If-None-Match: * creates only; If-Match lists tags', () => {
    assert.deepEqual(writeCondition({ ifMatch: undefined, ifNoneMatch: ' * ' }, true), {
      kind: 'create-only',
    });
    // If-Match compares strongly: the weak tag is dropped (it can never match).
    assert.deepEqual(writeCondition({ ifMatch: '"ab", W/"cd"', ifNoneMatch: undefined }, true), {
      kind: 'match',
      etags: ['ab'],
    });
    assert.deepEqual(parseEtags('"ab", W/"cd"'), ['ab', 'cd']);
    assert.deepEqual(parseEtags('*'), ['*']);
  });

  test('bad conditional headers are 400', () => {
    badRequest(() => writeCondition({ ifMatch: '"a"', ifNoneMatch: '*' }, true));
    badRequest(() => writeCondition({ ifMatch: undefined, ifNoneMatch: '"a"' }, true));
    badRequest(() => parseEtags('abc'));
    badRequest(() => parseEtags('"a", b'));
  });
});

function file(name: string, modifiedAt = 0): RawListingEntry {
  return { kind: 'file', name, size: 1, sha256: 'ab', files: undefined, modifiedAt };
}
function dir(name: string): RawListingEntry {
  return { kind: 'dir', name, size: undefined, sha256: undefined, files: 2, modifiedAt: 0 };
}

describe('listings', () => {
  test('group merge: sorted, first member wins a name, cut to the limit', () => {
    const merged = mergeListings(
      [
        { entries: [file('a', 1), file('c')], more: false },
        { entries: [file('a', 2), dir('b'), file('d')], more: false },
      ],
      3,
    );
    assert.deepEqual(
      merged.entries.map((e) => e.name),
      ['a', 'b', 'c'],
    );
    assert.equal(merged.entries[0]?.modifiedAt, 1);
    assert.equal(merged.more, true);
    assert.equal(mergeListings([{ entries: [file('a')], more: true }], 5).more, true);
    assert.equal(mergeListings([{ entries: [file('a')], more: false }], 5).more, false);
  });

  test('next page link, JSON and HTML (escaped, relative links)', () => {
    const view = {
      repository: 'raw-hosted',
      prefix: '/raw',
      dir: 'a b',
      listing: { entries: [dir('sub'), file('x<y>.txt')], more: true },
      limit: 2,
    };
    assert.equal(nextPageUrl(view), '/raw/a%20b/?limit=2&after=x%3Cy%3E.txt');
    const json = JSON.parse(listingJson(view)) as {
      path: string;
      entries: { name: string; type: string; digest?: string }[];
      next: string;
    };
    assert.equal(json.path, '/a b/');
    assert.deepEqual(
      json.entries.map((e) => [e.name, e.type]),
      [
        ['sub/', 'folder'],
        ['x<y>.txt', 'file'],
      ],
    );
    assert.equal(json.entries[1]?.digest, 'sha256:ab');
    const html = listingHtml(view);
    assert.match(html, /<a href="sub\/">sub\/<\/a>/);
    assert.match(html, /<a href="x%3Cy%3E.txt">x&lt;y&gt;.txt<\/a>/);
    assert.match(html, /<a href="..\/">/);
    assert.doesNotMatch(html, /<y>/);
    assert.equal(nextPageUrl({ ...view, listing: { ...view.listing, more: false } }), undefined);
  });
});

/**
 * The upstream project page parser (src/formats/pypi/upstream-page.ts): PEP 691 JSON and PEP 503
 * HTML, attribute decoding, hash sources, metadata forms, what is dropped, and its bounds.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { Parser } from 'htmlparser2';
import { isRegistryError } from '../../../src/core/errors.ts';
import { cpuNow } from '../../helpers/properties.ts';
import {
  MAX_UPSTREAM_PAGE_ATTRIBUTE_CHARS,
  MAX_UPSTREAM_PAGE_FILES,
  MAX_UPSTREAM_PAGE_TAGS,
  parseUpstreamPage,
} from '../../../src/formats/pypi/upstream-page.ts';

const PAGE = 'https://index.example/simple/demo-pkg/';
const A = 'a'.repeat(64);
const B = 'b'.repeat(64);

describe('upstream project page parser', () => {
  test('PEP 503 HTML: hashes, entities, yanked, metadata forms, relative and absolute URLs', async () => {
    const html = `<!DOCTYPE html><html><body>
      <a href="../../packages/demo_pkg-1.0-py3-none-any.whl#sha256=${A.toUpperCase()}" data-requires-python="&gt;=3.8,&lt;4" data-dist-info-metadata="sha256=${B}">demo_pkg-1.0-py3-none-any.whl</a>
      <A HREF="https://files.example/x/Demo.Pkg-2.0.tar.gz#md5=0123&amp;sha256=${B}" data-yanked="bad &quot;build&quot;" data-core-metadata="true">x</A>
      <a href="demo_pkg-3.0-py3-none-any.whl" data-yanked="" data-core-metadata="md5=abcd">no hash</a>
      <a href="demo_pkg-4.0-py3-none-any.whl#sha256=${A}" data-core-metadata="false">bad metadata value</a>
    </body></html>`;
    const { files } = await parseUpstreamPage(Buffer.from(html), 'text/html', PAGE, 'demo-pkg');
    assert.equal(files.length, 4);
    const [one, two, three, four] = files;
    assert.equal(one!.url, 'https://index.example/packages/demo_pkg-1.0-py3-none-any.whl');
    assert.equal(one!.sha256, A);
    assert.equal(one!.version, '1.0');
    assert.equal(one!.requiresPython, '>=3.8,<4');
    assert.deepEqual(one!.coreMetadata, { sha256: B });
    assert.equal(one!.yanked, false);
    assert.equal(two!.filename, 'Demo.Pkg-2.0.tar.gz');
    assert.equal(two!.sha256, B);
    assert.equal(two!.yanked, 'bad "build"');
    assert.deepEqual(two!.coreMetadata, { sha256: undefined });
    assert.equal(three!.url, 'https://index.example/simple/demo-pkg/demo_pkg-3.0-py3-none-any.whl');
    assert.equal(three!.sha256, undefined, 'kept without a hash');
    assert.equal(three!.yanked, '');
    assert.deepEqual(three!.coreMetadata, { sha256: undefined });
    assert.equal(four!.coreMetadata, undefined);
  });

  test('drops unsafe, foreign, unparseable and duplicate files', async () => {
    const links = [
      `../x/..%2Fevil-1.0.tar.gz#sha256=${A}`,
      `../x/demo_pkg%2F..-1.0.tar.gz#sha256=${A}`,
      `../x/demo_pkg-1.0%00.tar.gz#sha256=${A}`,
      `../x/other-1.0.tar.gz#sha256=${A}`,
      `../x/demo_pkg-1.0.egg#sha256=${A}`,
      `../x/demo_pkg-not.a.version.tar.gz#sha256=${A}`,
      `ftp://files.example/demo_pkg-1.0.tar.gz#sha256=${A}`,
      `javascript:alert(1)`,
      `../`,
      `../x/demo_pkg-1.0.tar.gz#sha256=${A}`,
      `../y/demo_pkg-1.0.tar.gz#sha256=${B}`,
    ];
    const html = links.map((href) => `<a href="${href}">x</a>`).join('\n');
    const { files } = await parseUpstreamPage(Buffer.from(html), 'text/html', PAGE, 'demo-pkg');
    assert.deepEqual(
      files.map((f) => [f.filename, f.sha256]),
      [['demo_pkg-1.0.tar.gz', A]],
    );
  });

  test('PEP 691 JSON: hashes, yanked forms, core-metadata forms, size, upload-time', async () => {
    const doc = {
      meta: { 'api-version': '1.1' },
      name: 'demo-pkg',
      files: [
        {
          filename: 'demo_pkg-1.0-py3-none-any.whl',
          url: 'https://cdn.example/p/q/demo_pkg-1.0-py3-none-any.whl?token=1',
          hashes: { sha256: A.toUpperCase(), md5: '00' },
          'requires-python': '>=3.8',
          yanked: true,
          'core-metadata': { sha256: B },
          size: 1234,
          'upload-time': '2024-01-02T03:04:05.678901Z',
        },
        {
          filename: 'demo_pkg-2.0.tar.gz',
          url: '../../files/demo_pkg-2.0.tar.gz',
          hashes: {},
          yanked: 'reason',
          'dist-info-metadata': true,
          size: -1,
          'upload-time': 'yesterday',
        },
        { filename: 'demo_pkg-3.0.tar.gz', url: 42 },
        'not an object',
      ],
    };
    const { files } = await parseUpstreamPage(
      Buffer.from(JSON.stringify(doc)),
      'application/vnd.pypi.simple.v1+json',
      PAGE,
      'demo-pkg',
    );
    assert.equal(files.length, 2);
    const [one, two] = files;
    assert.equal(one!.url, 'https://cdn.example/p/q/demo_pkg-1.0-py3-none-any.whl?token=1');
    assert.equal(one!.sha256, A);
    assert.equal(one!.yanked, '');
    assert.deepEqual(one!.coreMetadata, { sha256: B });
    assert.equal(one!.size, 1234);
    assert.equal(one!.uploadTime, '2024-01-02T03:04:05.678Z');
    assert.equal(two!.url, 'https://index.example/files/demo_pkg-2.0.tar.gz');
    assert.equal(two!.sha256, undefined);
    assert.equal(two!.yanked, 'reason');
    assert.deepEqual(two!.coreMetadata, { sha256: undefined });
    assert.equal(two!.size, undefined);
    assert.equal(two!.uploadTime, undefined);
  });

  test('content type decides; sniffed when it names neither', async () => {
    const json = JSON.stringify({
      files: [{ filename: 'demo_pkg-1.0.tar.gz', url: 'demo_pkg-1.0.tar.gz' }],
    });
    assert.equal(
      (await parseUpstreamPage(Buffer.from(json), undefined, PAGE, 'demo-pkg')).files.length,
      1,
    );
    assert.equal(
      (await parseUpstreamPage(Buffer.from(json), 'application/octet-stream', PAGE, 'demo-pkg'))
        .files.length,
      1,
    );
    const html = '<a href="demo_pkg-1.0.tar.gz">x</a>';
    assert.equal(
      (await parseUpstreamPage(Buffer.from(html), undefined, PAGE, 'demo-pkg')).files.length,
      1,
    );
  });

  test('malformed or oversized pages are upstream failures', async () => {
    const failsAs502 = async (body: string, type: string) => {
      await assert.rejects(
        parseUpstreamPage(Buffer.from(body), type, PAGE, 'demo-pkg'),
        (err: unknown) => isRegistryError(err) && err.status === 502,
      );
    };
    await failsAs502('{"files": 3}', 'application/vnd.pypi.simple.v1+json');
    await failsAs502('[1,2]', 'application/vnd.pypi.simple.v1+json');
    await failsAs502('<html>', 'application/vnd.pypi.simple.v1+json');
    const many = { files: Array.from({ length: MAX_UPSTREAM_PAGE_FILES + 1 }, () => ({})) };
    await failsAs502(JSON.stringify(many), 'application/vnd.pypi.simple.v1+json');
    await failsAs502('<a href="x">x</a>'.repeat(MAX_UPSTREAM_PAGE_FILES + 1), 'text/html');
  });

  test('tag and attribute bounds: 502 past them; long attributes that are not read cost nothing', async () => {
    const rejects502 = (body: string | Buffer, type = 'text/html') =>
      assert.rejects(
        parseUpstreamPage(Buffer.from(body), type, PAGE, 'demo-pkg'),
        (err: unknown) => isRegistryError(err) && err.status === 502,
      );
    await rejects502('<b>'.repeat(MAX_UPSTREAM_PAGE_TAGS + 1));
    await rejects502('</x>'.repeat(MAX_UPSTREAM_PAGE_TAGS + 1));
    const long = 'x'.repeat(MAX_UPSTREAM_PAGE_ATTRIBUTE_CHARS + 1);
    await rejects502(`<a href="${long}">x</a>`);
    await rejects502(`<a href="demo_pkg-1.0.tar.gz" data-yanked="${'&amp;'.repeat(70_000)}">x</a>`);
    await rejects502(
      JSON.stringify({ files: [{ filename: 'demo_pkg-1.0.tar.gz', url: long }] }),
      'application/vnd.pypi.simple.v1+json',
    );
    // Attributes the parser does not read, of any length, and of other tags, are skipped unread.
    const page =
      `<div title="${long}"><a data-x="${long}" href="demo_pkg-1.0.tar.gz#sha256=${A}" ` +
      `HREF="demo_pkg-2.0.tar.gz">x</a></div>`;
    const { files } = await parseUpstreamPage(Buffer.from(page), 'text/html', PAGE, 'demo-pkg');
    assert.deepEqual(
      files.map((f) => [f.filename, f.sha256]),
      [['demo_pkg-1.0.tar.gz', A]],
      'the first of a repeated attribute wins',
    );
  });

  test('HTML: the same files as htmlparser2 with its tree builder, on generated pages (property)', async () => {
    // The parser reads anchors with htmlparser2's Tokenizer alone; its Parser (tree builder) was
    // used before and is the reference here, on pages mixing anchors with the constructs that
    // change tokenizing: comments, raw-text and RCDATA elements, character references, unquoted
    // and repeated attributes, self-closing syntax, unmatched and nested tags.
    const viaParser = (html: string) => {
      const out: string[] = [];
      const parser = new Parser(
        {
          onopentag(name, attributes) {
            if (name !== 'a' || !attributes['href']) return;
            out.push(
              JSON.stringify([
                attributes['href'],
                attributes['data-yanked'] ?? null,
                attributes['data-requires-python'] ?? null,
                attributes['data-core-metadata'] ?? attributes['data-dist-info-metadata'] ?? null,
              ]),
            );
          },
        },
        { decodeEntities: true, lowerCaseTags: true, lowerCaseAttributeNames: true },
      );
      parser.end(html);
      return out;
    };
    const value = fc.constantFrom(
      '',
      '3',
      '&gt;=3.8',
      'a&amp;b',
      '&#x41;&#66;',
      '&notin',
      'x y',
      `sha256=${B}`,
      'true',
      '"q"',
    );
    const attribute = fc.tuple(
      fc.constantFrom(
        'data-yanked',
        'DATA-Requires-Python',
        'data-core-metadata',
        'data-dist-info-metadata',
        'href',
        'title',
      ),
      value,
      fc.constantFrom('"', "'", ''),
    );
    const anchor = fc
      .tuple(fc.nat(20), fc.array(attribute, { maxLength: 4 }), fc.constantFrom('>', '/>', ' >'))
      .map(([n, attrs, end]) => {
        const rest = attrs
          .map(([name, v, q]) =>
            q === ''
              ? `${name}=${v.replace(/[\s"'>]/g, '') || 'v'}`
              : `${name}=${q}${v.replaceAll(q, '')}${q}`,
          )
          .join(' ');
        return `<${n % 2 ? 'A' : 'a'} href="demo_pkg-${n}.0.tar.gz#sha256=${A}" ${rest}${end}demo</a>`;
      });
    const other = fc.constantFrom(
      '<div>',
      '</div>',
      '</x>',
      '<p>',
      '</p>',
      '<br/>',
      '<!-- <a href="demo_pkg-99.0.tar.gz"> -->',
      '<script>',
      '</script>',
      '<style>',
      '</style>',
      '<title>',
      '</title>',
      '<textarea>',
      '</textarea>',
      '<table><tr><td>',
      '</table>',
      '<form>',
      '</form>',
      'text &amp; &lt;a&gt;',
      '<!DOCTYPE html>',
      '<![CDATA[ x ]]>',
      '<?xml version="1.0"?>',
      '< a href="demo_pkg-98.0.tar.gz">',
      '<a>',
      '\n',
    );
    await fc.assert(
      fc.asyncProperty(fc.array(fc.oneof(anchor, other), { maxLength: 30 }), async (pieces) => {
        const html = pieces.join('');
        const ours = await parseUpstreamPage(Buffer.from(html), 'text/html', PAGE, 'demo-pkg');
        // The reference's files, through the same validation (first of a filename wins).
        const reference = viaParser(html).map((row) => JSON.parse(row) as (string | null)[]);
        const seen = new Set<string>();
        const expected = reference.filter(([href]) => {
          const name = href!.split('#')[0]!;
          if (seen.has(name)) return false;
          seen.add(name);
          return true;
        });
        assert.deepEqual(
          ours.files.map((f) => [
            f.filename,
            f.yanked === false ? null : f.yanked,
            f.requiresPython ?? null,
          ]),
          expected.map(([href, yanked, requiresPython]) => [
            href!.split('#')[0],
            yanked,
            requiresPython === '' ? null : requiresPython,
          ]),
          html,
        );
      }),
      { numRuns: 300 },
    );
  });

  test('linear work whatever the shape of the page (stress)', async () => {
    // Each page has ~250,000 tags or references. The tree builder used before took ~60 s on the
    // unmatched-close-tag page and ~17 s on the nested one (quadratic); linear parsing takes
    // milliseconds (tens on a loaded machine). The bound, in CPU time (helpers/properties.ts),
    // leaves a wide margin either way.
    const n = 250_000;
    const shapes: Record<string, string> = {
      nested: '<div>'.repeat(n) + '</body></html>',
      'unmatched close tags': '<div>'.repeat(n / 2) + '</x>'.repeat(n / 2),
      'nested forms': '<div>'.repeat(n / 2) + '<form>'.repeat(n / 2),
      'nested svg': '<svg>'.repeat(n / 2) + '</foreignObject>'.repeat(n / 2),
      'attributes on one anchor': '<a ' + 'x '.repeat(n) + 'href="demo_pkg-1.0.tar.gz">',
      'references in text': '&amp;&notit;&#x10FFFF;'.repeat(n / 3),
      'unclosed comment': '<!--' + '-'.repeat(4 * n),
    };
    for (const [shape, html] of Object.entries(shapes)) {
      const started = cpuNow();
      const { files } = await parseUpstreamPage(Buffer.from(html), 'text/html', PAGE, 'demo-pkg');
      const ms = cpuNow() - started;
      assert.ok(files.length <= 1, shape);
      assert.ok(ms < 1500, `${shape}: ${ms.toFixed(0)} ms of CPU`);
    }
  });

  test('a large page does not hold the event loop: other work runs while it is parsed', async () => {
    const html = `<a href="demo_pkg-1.0.tar.gz#sha256=${A}">x</a>` + '<div>'.repeat(900_000);
    let turns = 0;
    const timer = setInterval(() => (turns += 1), 0);
    try {
      const { files } = await parseUpstreamPage(Buffer.from(html), 'text/html', PAGE, 'demo-pkg');
      assert.equal(files.length, 1);
    } finally {
      clearInterval(timer);
    }
    assert.ok(turns >= 2, `timer ran ${turns} times during a 4.5 MB parse`);
  });
});

/**
 * src/formats/cargo/upstream.ts: which URL is the index root, prefix paths, the `dl` template
 * (Cargo book, "config.json"), and reading upstream index lines.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  downloadUrl,
  indexPath,
  indexRoot,
  isIndexName,
  parseConfigDl,
  parseIndexFile,
} from '../../../src/formats/cargo/upstream.ts';

describe('cargo upstream', () => {
  test('indexRoot: crates.io site → its sparse index; sparse+ dropped; others as given', () => {
    assert.equal(indexRoot('https://crates.io'), 'https://index.crates.io/');
    assert.equal(indexRoot('https://www.crates.io/some/path'), 'https://index.crates.io/');
    assert.equal(indexRoot('https://index.crates.io'), 'https://index.crates.io/');
    assert.equal(indexRoot('sparse+https://index.crates.io/'), 'https://index.crates.io/');
    assert.equal(
      indexRoot('http://10.0.0.1:8080/cargo/index'),
      'http://10.0.0.1:8080/cargo/index/',
    );
    assert.equal(indexRoot('sparse+http://h/x/?q=1'), 'http://h/x/');
  });

  test('indexPath: the 1/2/3/xx/yy rule', () => {
    assert.equal(indexPath('a'), '1/a');
    assert.equal(indexPath('ab'), '2/ab');
    assert.equal(indexPath('abc'), '3/a/abc');
    assert.equal(indexPath('serde'), 'se/rd/serde');
    assert.equal(isIndexName('compiler_builtins'), true);
    for (const bad of ['', '../x', 'a/b', 'A', '-x', 'x'.repeat(65), 'a b']) {
      assert.equal(isIndexName(bad), false, bad);
    }
  });

  test('downloadUrl: markers, or /{crate}/{version}/download appended; relative dl', () => {
    const cfg = 'https://index.example/config.json';
    assert.equal(
      downloadUrl('https://static.example/crates', cfg, 'serde', '1.0.0', 'c').href,
      'https://static.example/crates/serde/1.0.0/download',
    );
    assert.equal(
      downloadUrl(
        'https://d/{prefix}/{lowerprefix}/{crate}-{version}.crate?h={sha256-checksum}',
        cfg,
        'Serde',
        '1.0.0+b',
        'ff',
      ).href,
      'https://d/Se/rd/se/rd/Serde-1.0.0%2Bb.crate?h=ff',
    );
    assert.equal(
      downloadUrl('/dl', cfg, 'a', '1.0.0', 'c').href,
      'https://index.example/dl/a/1.0.0/download',
    );
  });

  test('parseConfigDl: dl required', () => {
    assert.equal(
      parseConfigDl(Buffer.from('{"dl":"https://x/{crate}"}'), 'u'),
      'https://x/{crate}',
    );
    assert.throws(() => parseConfigDl(Buffer.from('{"api":"x"}'), 'u'), /no "dl"/);
    assert.throws(() => parseConfigDl(Buffer.from('<html>'), 'u'), /no "dl"/);
  });

  test('parseIndexFile: bad lines skipped, defaults filled, case-insensitive name', () => {
    const cksum = 'a'.repeat(64);
    const body = [
      JSON.stringify({ name: 'Foo', vers: '1.0.0', deps: [], cksum, features: {}, yanked: true }),
      JSON.stringify({
        name: 'foo',
        vers: '1.1.0',
        deps: [{ name: 'x', req: '^1', kind: 'weird' }],
        cksum,
      }),
      JSON.stringify({ name: 'foo', vers: '1.2.0', deps: 'no', cksum }),
      JSON.stringify({ name: 'foo', vers: '1.3.0', deps: [], cksum, features: { a: [1] } }),
      JSON.stringify({ name: 'foo', vers: '1.4.0', deps: [], cksum }),
      '{',
    ].join('\n');
    const entries = parseIndexFile(Buffer.from(body), 'foo');
    assert.deepEqual(
      entries.map((e) => [e.name, e.vers, e.yanked]),
      [
        ['Foo', '1.0.0', true],
        ['foo', '1.4.0', false],
      ],
    );
    assert.deepEqual(entries[1]?.features, {});
  });
});

/**
 * helmNumberText: the text Helm (sigs.k8s.io/yaml over go-yaml v2) reads for a plain YAML number
 * bound for a Chart.yaml string field. Expected values are what Go's
 * strconv.FormatFloat(v, 'g', -1, 32) and FormatInt print for them.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { helmNumberText, helmWrittenScalar } from '../../../src/formats/helm/yaml-number.ts';

describe('helmNumberText', () => {
  test('floats are rounded to float32 and printed in Go %g shortest form', () => {
    const cases: [string, string][] = [
      ['1.20', '1.2'],
      ['1.10', '1.1'],
      ['1.5', '1.5'],
      ['1.21', '1.21'],
      ['1.0', '1'],
      ['1.23456789', '1.2345679'],
      ['0.1', '0.1'],
      ['12345678.0', '1.2345678e+07'],
      ['123456.0', '123456'],
      ['1234567.0', '1.234567e+06'],
      ['1e3', '1000'],
      ['0.0001', '0.0001'],
      ['0.00001', '1e-05'],
      ['-2.50', '-2.5'],
      ['.5', '0.5'],
      ['3.', '3'],
      ['16777217.5', '1.6777218e+07'],
      ['1e40', '+Inf'],
      ['0.0', '0'],
      ['08', '8'],
      ['-0.0', '-0'],
      // Halfway between two 8-digit readings: Go takes the even one.
      ['3084742.13434', '3.0847422e+06'],
    ];
    for (const [written, read] of cases) assert.equal(helmNumberText(written), read, written);
  });

  test('integers keep every digit in base 10, YAML 1.1 bases and underscores included', () => {
    const cases: [string, string][] = [
      ['2', '2'],
      ['12345678', '12345678'],
      ['123456789012345678', '123456789012345678'],
      ['+12', '12'],
      ['-0', '0'],
      ['1_000', '1000'],
      ['0x1F', '31'],
      ['017', '15'],
      ['0o17', '15'],
      ['0b101', '5'],
      ['18446744073709551615', '18446744073709551615'],
      // Past uint64 it is a float to go-yaml.
      ['18446744073709551616', '1.8446744e+19'],
    ];
    for (const [written, read] of cases) assert.equal(helmNumberText(written), read, written);
  });

  test('special floats as Go prints them; text that is no number is undefined', () => {
    assert.equal(helmNumberText('.inf'), '+Inf');
    assert.equal(helmNumberText('-.Inf'), '-Inf');
    assert.equal(helmNumberText('.nan'), 'NaN');
    for (const text of ['v1.2.3', '1.2.3', 'latest', '>=1.20', '1.20-0', '', '0x', '1e', '--1'])
      assert.equal(helmNumberText(text), undefined, text);
  });
});

describe('helmWrittenScalar (trial 23 fmts F1)', () => {
  const tag = (short: string) => `tag:yaml.org,2002:${short}`;
  test('explicitly tagged scalars as go-yaml v2 resolves them for a string field', () => {
    const cases: [string, string, string | undefined][] = [
      ['bool', 'yes', 'true'],
      ['bool', 'on', 'true'],
      ['bool', 'no', 'false'],
      ['bool', 'True', 'true'],
      ['int', '017', '15'],
      ['int', '1_000', '1000'],
      ['int', '0x1F', '31'],
      ['float', '.inf', '+Inf'],
      ['float', '-.Inf', '-Inf'],
      ['float', '1.20', '1.2'],
      // An int is taken as a !!float (then printed as a float32).
      ['float', '2', '2'],
      ['float', '16777217', '1.6777216e+07'],
      ['timestamp', '2021-01-01', '2021-01-01'],
      ['timestamp', '2021-1-2 3:04:05', '2021-1-2 3:04:05'],
      ['timestamp', '2021-01-01T00:00:00Z', '2021-01-01T00:00:00Z'],
      ['null', '~', undefined],
      ['binary', 'aGk=', 'hi'],
    ];
    for (const [short, source, text] of cases) {
      const read = helmWrittenScalar({ source, tag: tag(short), plain: true });
      assert.ok(read !== undefined && 'text' in read, `!!${short} ${source}`);
      assert.equal(read.text, text, `!!${short} ${source}`);
    }
  });

  test('a tagged scalar of another type is refused with go-yaml words', () => {
    const cases: [string, string, string][] = [
      ['float', '1e400', 'cannot decode !!str `1e400` as a !!float'],
      ['bool', 'maybe', 'cannot decode !!str `maybe` as a !!bool'],
      ['bool', '1', 'cannot decode !!int `1` as a !!bool'],
      ['int', '1.5', 'cannot decode !!float `1.5` as a !!int'],
      ['int', '.inf', 'cannot decode !!float `.inf` as a !!int'],
      ['timestamp', 'soon', 'cannot decode !!str `soon` as a !!timestamp'],
      ['timestamp', '2021-13-01', 'cannot decode !!str `2021-13-01` as a !!timestamp'],
      ['null', 'x', 'cannot decode !!str `x` as a !!null'],
    ];
    for (const [short, source, refused] of cases) {
      assert.deepEqual(helmWrittenScalar({ source, tag: tag(short), plain: true }), { refused });
    }
    assert.ok(
      'refused' in (helmWrittenScalar({ source: '%%', tag: tag('binary'), plain: true }) ?? {}),
    );
  });

  test('a tag is resolved whatever the style; without one only a plain scalar is', () => {
    assert.deepEqual(helmWrittenScalar({ source: '017', tag: tag('int'), plain: false }), {
      text: '15',
      kind: 'number',
    });
    assert.equal(helmWrittenScalar({ source: 'yes', tag: undefined, plain: false }), undefined);
    assert.deepEqual(helmWrittenScalar({ source: 'yes', tag: undefined, plain: true }), {
      text: 'true',
      kind: 'boolean',
    });
    // !!str and tags go-yaml does not resolve keep the text.
    assert.equal(helmWrittenScalar({ source: 'yes', tag: tag('str'), plain: true }), undefined);
    assert.equal(helmWrittenScalar({ source: 'yes', tag: '!foo', plain: true }), undefined);
    assert.equal(helmWrittenScalar({ source: 'yes', tag: '!', plain: true }), undefined);
  });

  test('untagged text go-yaml keeps as written: past float64, a leading _, _ after a leading dot', () => {
    for (const text of ['1e400', '-1e400', '_1000', '.5_0', '2021-01-01'])
      assert.equal(helmNumberText(text), undefined, text);
  });
});

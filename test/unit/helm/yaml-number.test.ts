/**
 * helmNumberText: the text Helm (sigs.k8s.io/yaml over go-yaml v2) reads for a plain YAML number
 * bound for a Chart.yaml string field. Expected values are what Go's
 * strconv.FormatFloat(v, 'g', -1, 32) and FormatInt print for them.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { helmNumberText } from '../../../src/formats/helm/yaml-number.ts';

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

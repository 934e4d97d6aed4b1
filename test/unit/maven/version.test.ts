/**
 * Maven's version order (ComparableVersion): the ordering sequences and equalities of Maven's own
 * ComparableVersionTest, and the examples of the POM reference's "Version Order Specification".
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  baseVersion,
  compareMavenVersions,
  isSnapshot,
} from '../../../src/formats/maven/version.ts';
import { NUMBER_SEQUENCE, QUALIFIER_SEQUENCE } from './version-sequences.ts';

function assertOrdered(versions: readonly string[]): void {
  for (let i = 0; i < versions.length; i++) {
    for (let j = 0; j < versions.length; j++) {
      const a = versions[i] as string;
      const b = versions[j] as string;
      const got = Math.sign(compareMavenVersions(a, b));
      assert.equal(got, Math.sign(i - j), `${a} vs ${b}: expected ${Math.sign(i - j)}, got ${got}`);
    }
  }
}

function assertEqual(a: string, b: string): void {
  assert.equal(compareMavenVersions(a, b), 0, `${a} = ${b}`);
  assert.equal(compareMavenVersions(b, a), 0, `${b} = ${a}`);
}

test('qualifier sequence of ComparableVersionTest', () => {
  assertOrdered(QUALIFIER_SEQUENCE);
});

test('number sequence of ComparableVersionTest (Maven 3.8: `.X` at the end counts as `-X`)', () => {
  assertEqual('2.0.a', '2.0.0.a');
  assertOrdered(NUMBER_SEQUENCE);
});

test('equalities of ComparableVersionTest', () => {
  const pairs: [string, string][] = [
    ['1', '1'],
    ['1', '1.0'],
    ['1', '1.0.0'],
    ['1.0', '1.0.0'],
    ['1', '1-0'],
    ['1', '1.0-0'],
    ['1.0', '1.0-0'],
    ['1a', '1-a'],
    ['1a', '1.0-a'],
    ['1a', '1.0.0-a'],
    ['1.0a', '1-a'],
    ['1.0.0a', '1-a'],
    ['1x', '1-x'],
    ['1x', '1.0-x'],
    ['1x', '1.0.0-x'],
    ['1.0x', '1-x'],
    ['1.0.0x', '1-x'],
    ['1ga', '1'],
    ['1release', '1'],
    ['1final', '1'],
    ['1cr', '1rc'],
    ['1a1', '1-alpha-1'],
    ['1b2', '1-beta-2'],
    ['1m3', '1-milestone-3'],
    ['1X', '1x'],
    ['1A', '1a'],
    ['1B', '1b'],
    ['1M', '1m'],
    ['1Ga', '1'],
    ['1GA', '1'],
    ['1RELEASE', '1'],
    ['1Final', '1'],
    ['1FINAL', '1'],
    ['1Cr', '1Rc'],
    ['1cR', '1rC'],
    ['1m3', '1Milestone3'],
    ['1m3', '1MileStone3'],
    ['1m3', '1MILESTONE3'],
    ['1', '1-ga'],
    ['1', '1-final'],
    ['1', '1-release'],
    ['1', '1.ga'],
    ['1', '1.'],
    ['1', '1-'],
    ['1.0.0-foo.0.0', '1-foo'],
    ['1.0.0-0.0.0', '1'],
    ['1.foo', '1-foo'],
    ['1-SNAPSHOT', '1-snapshot'],
  ];
  for (const [a, b] of pairs) assertEqual(a, b);
});

test('the POM reference examples and the ordering the issue names', () => {
  const less: [string, string][] = [
    ['1.9', '1.10'],
    ['1.0-alpha-1', '1.0'],
    ['1.0-SNAPSHOT', '1.0'],
    ['1.0-rc1', '1.0-SNAPSHOT'],
    ['1', '1.1'],
    ['1-snapshot', '1'],
    ['1', '1-sp'],
    ['1-foo2', '1-foo10'],
    ['1.foo', '1-1'],
    ['1-1', '1.1'],
    ['1-ga', '1-sp'],
    ['1-ga.1', '1-sp.1'],
    ['1-sp-1', '1-ga-1'],
    ['1.0.RC2', '1.0-RC3'],
    ['1.0-RC3', '1.0.1'],
    ['0.9.9', '1.0'],
    ['1.0', '1.0.1'],
    ['3.8.7', '3.9.0'],
    ['1.2.3', '1.2.12'],
    ['99999999999999999999999', '100000000000000000000000'],
    ['1.01', '1.2'],
  ];
  for (const [a, b] of less) {
    assert.ok(compareMavenVersions(a, b) < 0, `${a} < ${b}`);
    assert.ok(compareMavenVersions(b, a) > 0, `${b} > ${a}`);
  }
  // The POM reference says 1-ga-1 = 1-1; Maven 3.8.7 itself says 1-ga-1 < 1-1 (see the oracle test).
  assert.ok(compareMavenVersions('1-ga-1', '1-1') < 0);
  assertEqual('1.001', '1.1');
  const sorted = ['1.10', '1.9', '1.0-SNAPSHOT', '1.0', '1.0-beta-1', '2.0-rc1'].sort(
    compareMavenVersions,
  );
  assert.deepEqual(sorted, ['1.0-beta-1', '1.0-SNAPSHOT', '1.0', '1.9', '1.10', '2.0-rc1']);
});

test('any string compares without throwing, and the order is antisymmetric', () => {
  const odd = ['', '-', '.', '..', '--', 'a', '1-', '-1', '.1', 'é', '1_2', '1..2', 'x-y.z9q'];
  for (const a of odd) {
    for (const b of odd) {
      assert.equal(
        Math.sign(compareMavenVersions(a, b)),
        -Math.sign(compareMavenVersions(b, a)) || 0,
        `${a} vs ${b}`,
      );
    }
  }
});

test('isSnapshot and baseVersion', () => {
  assert.equal(isSnapshot('1.0-SNAPSHOT'), true);
  assert.equal(isSnapshot('1.0-snapshot'), true);
  assert.equal(isSnapshot('1.0-20261130.101010-3'), true);
  assert.equal(isSnapshot('1.0'), false);
  assert.equal(isSnapshot('1.0-SNAPSHOTS'), false);
  assert.equal(baseVersion('1.0-20261130.101010-3'), '1.0-SNAPSHOT');
  assert.equal(baseVersion('1.0'), '1.0');
});

/** The KEY and --expected syntax of `nora re-pin`, its text report, and NORA's image names. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { noraImageName } from '../../../src/formats/oci/nora-import.ts';
import {
  describeRePin,
  parseExpected,
  parseRePinKey,
  RePinUsageError,
} from '../../../src/storage/re-pin.ts';

test('KEY is <format>/<repository>/<path>; anything else is a usage error naming the form', () => {
  assert.deepEqual(parseRePinKey('raw/raw-hosted/dist/app-1.0.bin'), {
    format: 'raw',
    repository: 'raw-hosted',
    path: 'dist/app-1.0.bin',
  });
  for (const key of ['', 'raw', 'raw/raw-hosted', 'zip/r/a', '/raw-hosted/a', 'raw//a']) {
    assert.throws(
      () => parseRePinKey(key),
      (err: unknown) => {
        assert.ok(err instanceof RePinUsageError);
        assert.match(err.message, /is not <format>\/<repository>\/<path>/);
        return true;
      },
      key,
    );
  }
});

test('--expected: 64 hex digits, sha256: prefix and upper case accepted', () => {
  const hex = 'ab'.repeat(32);
  assert.deepEqual(parseExpected(hex), { algorithm: 'sha256', hex });
  assert.deepEqual(parseExpected(`sha256:${hex.toUpperCase()}`), { algorithm: 'sha256', hex });
  for (const bad of ['', 'ab', `sha512:${hex}`, `${hex}0`, 'g'.repeat(64)]) {
    assert.throws(() => parseExpected(bad), RePinUsageError, bad);
  }
});

test('the report says what would change, then what changed', () => {
  const report = {
    key: 'raw/raw-hosted/a.bin',
    repository: 'raw-hosted',
    path: 'a.bin',
    previous: `sha256:${'0'.repeat(64)}`,
    expected: `sha256:${'1'.repeat(64)}`,
    blob: 'missing',
    outcome: 'repointed',
    stored: true,
    applied: false,
  } as const;
  assert.match(
    describeRePin(report).join('\n'),
    /would store the bytes of --file as that blob, then point the file at the expected digest; run again with --yes/,
  );
  assert.match(
    describeRePin({ ...report, applied: true }).join('\n'),
    /done: stored the bytes of --file as that blob, then pointed the file at the expected digest/,
  );
  assert.match(
    describeRePin({ ...report, outcome: 'unchanged', stored: false, blob: 'good' }).join('\n'),
    /nothing to do/,
  );
});

test("NORA's namespaced keys name the image NORA serves (the first segment with a dot dropped)", () => {
  assert.equal(noraImageName('docker.io/library/alpine'), 'library/alpine');
  assert.equal(noraImageName('ghcr.io/org/app'), 'org/app');
  assert.equal(noraImageName('library/alpine'), 'library/alpine');
  assert.equal(noraImageName('app'), 'app');
  assert.equal(noraImageName('my.app'), 'my.app');
});

/**
 * `[storage] prefix` / `NORA_STORAGE_S3_PREFIX`: NORA has no key prefix inside a bucket, and an
 * ignored one left an installation at the bucket's root beside what the operator meant to keep
 * apart (trial 30 newB: `nora config check` said nothing and exited 0). Refused, loudly.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError, parseConfigObject } from '../../../src/config/load.ts';
import { nora } from '../../helpers/cli.ts';

test('[storage] prefix and s3_prefix are refused, naming the key and what to do', () => {
  for (const key of ['prefix', 's3_prefix']) {
    assert.throws(
      () => parseConfigObject({ storage: { mode: 's3', [key]: 'team-a/' } }),
      (err: unknown) =>
        err instanceof ConfigError &&
        err.message.includes(`[storage] ${key}: refused: NORA has no key prefix`) &&
        err.message.includes('a bucket of its own'),
    );
  }
});

test('NORA_STORAGE_S3_PREFIX and NORA_STORAGE_PREFIX are refused', () => {
  for (const name of ['NORA_STORAGE_S3_PREFIX', 'NORA_STORAGE_PREFIX']) {
    assert.throws(
      () => parseConfigObject({}, { [name]: 'team-a/' }),
      (err: unknown) =>
        err instanceof ConfigError &&
        err.message.includes(`${name}: refused: NORA has no key prefix`),
    );
  }
});

test('nora config check exits non-zero on NORA_STORAGE_S3_PREFIX', async () => {
  const result = await nora(['config', 'check'], {
    NORA_STORAGE_MODE: 's3',
    NORA_STORAGE_S3_PREFIX: 'team-a/',
  });
  assert.notEqual(result.code, 0, result.stdout);
  assert.match(result.stderr, /NORA_STORAGE_S3_PREFIX: refused: NORA has no key prefix/);
});

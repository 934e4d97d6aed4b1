/**
 * The integrity-fail event's detail and log wording say what became of the damaged file: moved
 * to quarantine/, removed without a copy, not moved (gone or replaced meanwhile), or left in
 * place by a failed removal (review 2026-12-06: "removed, not kept" was said in every case but
 * the first).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { damagedDetail, damagedFate } from '../../../src/audit/requests.ts';

test('each outcome of a damaged file has its own wording', () => {
  const blob = 'sha256:ab';
  assert.equal(
    damagedDetail(blob, 'quarantine/sha256/ab.20261206T104832123Z', true),
    'sha256:ab failed its integrity check; its file moved to quarantine/sha256/ab.20261206T104832123Z',
  );
  assert.match(damagedFate(undefined, true), /removed from blobs\/ but could not be kept/);
  assert.match(
    damagedFate(undefined, false),
    /not moved: already gone, or replaced by a good copy/,
  );
  assert.doesNotMatch(damagedFate(undefined, false), /removed/);
  assert.match(
    damagedFate(undefined, undefined),
    /could not be moved aside and is still in blobs\//,
  );
});

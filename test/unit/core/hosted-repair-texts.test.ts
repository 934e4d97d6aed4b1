/**
 * core/errors.ts hostedContentGone / hostedContentDamaged: the 410 of a hosted file whose stored
 * bytes are gone or damaged names the repair of ITS format (trial 19 fmts F4: a Go module's 410
 * said "upload it again or put the file back (npm, cargo)", where the repair is `nora go
 * publish` of the same tree), and every text, with "Gone - ", fits a reason phrase whole (pip
 * prints only that).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  hostedContentDamaged,
  hostedContentGone,
  type HostedRepairFormat,
} from '../../../src/core/errors.ts';
import { explainedReason, MAX_REASON_PHRASE } from '../../../src/http/format-errors.ts';

const FORMATS: readonly HostedRepairFormat[] = [
  'npm',
  'cargo',
  'go',
  'pypi',
  'maven',
  'helm',
  'raw',
];

test('each format names its own repair', () => {
  const expected: Record<HostedRepairFormat, RegExp> = {
    npm: /put the npm pack \.tgz back/,
    cargo: /put the cargo package \.crate back/,
    go: /nora go publish the same tree and version again/,
    pypi: /upload the same file again/,
    maven: /upload the same file again/,
    helm: /upload the same chart archive again/,
    raw: /upload the same bytes again/,
  };
  for (const format of FORMATS) {
    for (const err of [
      hostedContentDamaged(undefined, format),
      hostedContentGone(undefined, format),
    ]) {
      assert.equal(err.status, 410);
      assert.match(err.message, expected[format], `${format}: ${err.message}`);
      assert.doesNotMatch(err.message, /\(npm, cargo\)/, `${format}: ${err.message}`);
    }
  }
  // A HEAD's 410 (http/send-body.ts refuseHeadOfMissing) knows no format: all choices.
  assert.match(hostedContentGone().message, /upload it again or put the file back \(npm, cargo\)/);
});

test('every text fits a reason phrase whole', () => {
  for (const format of [...FORMATS, undefined]) {
    for (const err of [
      hostedContentDamaged(undefined, format),
      hostedContentGone(undefined, format),
    ]) {
      const phrase = explainedReason(410, err.message);
      assert.ok(phrase.length <= MAX_REASON_PHRASE, phrase);
      assert.equal(phrase, `Gone - ${err.message}`, 'not cut');
    }
  }
});

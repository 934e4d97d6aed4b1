/**
 * The group's 404 for a version go-hosted lacks of a module it holds (src/formats/go/group.ts
 * hostedVersionMiss; sixteenth trial F1): what is missing and the versions it has come first,
 * newest first and bounded, then why the proxy was not asked.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { hostedVersionMiss } from '../../../src/formats/go/group.ts';
import { keptOutText, missNote } from '../../../src/repos/group-read.ts';

const kept = {
  group: 'go',
  name: 'corp.example.com/quick/hello',
  hosted: 'go-hosted',
  held: 'corp.example.com/quick/hello',
  members: ['go-proxy'],
};
const what = 'corp.example.com/quick/hello@v1.9.9';
const note = missNote([], kept);
const WHY =
  '(group go does not ask its proxy for a module hosted in go-hosted: protect_hosted_names)';

test('a few versions: all listed, newest first; the guard after', () => {
  assert.equal(note, ` (${keptOutText(kept)})`);
  assert.equal(
    hostedVersionMiss(what, note, kept, ['v1.0.0', 'v1.1.0', 'v1.2.0']),
    `not found: ${what}: go-hosted has no such version (it has v1.2.0, v1.1.0, v1.0.0) ${WHY}`,
  );
});

test('many versions: the 5 newest and how many more', () => {
  const versions = ['v1.0.0', 'v1.1.0', 'v1.2.0', 'v1.3.0', 'v1.4.0', 'v1.5.0', 'v1.6.0'];
  assert.equal(
    hostedVersionMiss(what, note, kept, versions),
    `not found: ${what}: go-hosted has no such version (it has v1.6.0, v1.5.0, v1.4.0, v1.3.0, v1.2.0 …and 2 more) ${WHY}`,
  );
});

test('no version left (only pseudo-versions, or being deleted): said; other notes kept', () => {
  const failed = missNote([{ member: 'go-x', upstream: 'go-x/0', reason: 'ECONNREFUSED' }], kept);
  assert.equal(
    hostedVersionMiss(what, failed, kept, []),
    `not found: ${what}: go-hosted has no such version (it has none now) (upstream go-x/0 unreachable: ECONNREFUSED; group go does not ask its proxy for a module hosted in go-hosted: protect_hosted_names)`,
  );
});

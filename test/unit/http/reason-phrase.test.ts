/**
 * http/format-errors.ts asciiReason / explainedReason: a reason phrase built from a message is
 * one line of printable ASCII, bounded (Maven's mvn and twine print it). Accented letters keep
 * their letter (`é` → `e`: before, every one became `?`, so `café` read `caf?`), typographic
 * quotes and dashes their ASCII spelling, anything else `?`; CR/LF never get through.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  asciiReason,
  explainedReason,
  MAX_REASON_PHRASE,
} from '../../../src/http/format-errors.ts';

test('accents dropped, quotes and dashes spelled in ASCII, other characters ?', () => {
  assert.equal(asciiReason('café Müller Ångström naïve'), 'cafe Muller Angstrom naive');
  assert.equal(
    asciiReason('it’s “odd” — really… a→b 2×3 Straße'),
    'it\'s "odd" - really... a->b 2x3 Strasse',
  );
  assert.equal(asciiReason('漢字 🙂 ok'), '?? ? ok');
  assert.equal(asciiReason('line one\r\nline\ttwo\n'), 'line one line two');
  assert.equal(asciiReason('\u0000nul'), '?nul');
  assert.equal(asciiReason('  \r\n '), '');
});

test('bounded, cut with ...', () => {
  const long = asciiReason('é'.repeat(500));
  assert.equal(long.length, MAX_REASON_PHRASE);
  assert.match(long, /^e+\.\.\.$/);
  assert.equal(asciiReason('abcdef', 5), 'ab...');
});

test('explainedReason: standard phrase - message, ASCII, bounded', () => {
  assert.equal(
    explainedReason(404, 'no “café” here\r\nX-Injected: 1'),
    'Not Found - no "cafe" here X-Injected: 1',
  );
  assert.equal(explainedReason(409, ''), 'Conflict');
  const r = explainedReason(400, `ü${'x'.repeat(400)}`);
  assert.equal(r.length, MAX_REASON_PHRASE);
  assert.match(r, /^Bad Request - ux+\.\.\.$/);
  for (let i = 0; i < 200; i++) {
    const text = String.fromCodePoint(
      ...Array.from({ length: 40 }, (_, j) => (i * 977 + j * 7919) % 0x2ffff),
    );
    assert.match(explainedReason(500, text), /^[\x20-\x7e]{1,200}$/);
  }
});

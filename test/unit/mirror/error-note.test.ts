/**
 * `errorNote` (src/mirror/client.ts), the server's words in a `fail` line. trial 26 mirrorR F1:
 * it stripped `<…>` from a JSON body's message too, so NORA's own texts lost their placeholders
 * (`named repositories are served at /repository/ /`). Tags go from an HTML page only; control
 * characters a terminal would act on are escaped, never printed.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { errorNote } from '../../../src/mirror/client.ts';

test("a JSON body's message keeps its <placeholders>", () => {
  const message =
    'no repository named "nope" on this server (named repositories are served at /repository/<name>/, as [[repositories]] in the configuration names them)';
  assert.equal(errorNote(JSON.stringify({ error: message })), `: ${message}`);
  assert.equal(
    errorNote(JSON.stringify({ errors: [{ code: 'X', message: 'pin <sha256|sha512> missing' }] })),
    ': pin <sha256|sha512> missing',
  );
  assert.equal(
    errorNote(JSON.stringify({ message: 'DELETE /x/<version>' })),
    ': DELETE /x/<version>',
  );
});

test('a plain-text body keeps its <placeholders>; an HTML page loses its tags', () => {
  assert.equal(
    errorNote('a project is not deleted whole: DELETE /pypi/six/<version>\n'),
    ': a project is not deleted whole: DELETE /pypi/six/<version>',
  );
  assert.equal(
    errorNote('<html><head><title>502 Bad Gateway</title></head><body><h1>502</h1></body></html>'),
    ': 502 Bad Gateway 502',
  );
});

test('control characters are escaped, whitespace folded to one line', () => {
  assert.equal(
    errorNote(JSON.stringify({ error: 'bad\u001b[31m red\u0007\nnext\tline\u009b' })),
    ': bad\\x1b[31m red\\x07 next line\\x9b',
  );
  assert.equal(errorNote('\u001b]0;title\u0007 text'), ': \\x1b]0;title\\x07 text');
  assert.equal(errorNote('   '), '');
});

/** core/markup.ts: telling a web page from an archive by its first bytes. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { markupStart } from '../../../src/core/markup.ts';

test('a page (after a BOM and white space) is named by its start; archives are not pages', () => {
  assert.equal(markupStart(Buffer.from('<!DOCTYPE html><html><head>')), '<!DOCTYPE html><html');
  assert.equal(markupStart(Buffer.from('\ufeff \r\n\t<html>\n\n<body>')), '<html> <body>');
  assert.equal(markupStart(Buffer.from('<h1>\xe9</h1>', 'latin1')), '<h1>?</h1>');
  assert.equal(markupStart(Buffer.from('PK\x03\x04')), undefined);
  assert.equal(markupStart(Buffer.from([0x1f, 0x8b, 0x08])), undefined);
  assert.equal(markupStart(Buffer.alloc(0)), undefined);
  assert.equal(markupStart(Buffer.from('   ')), undefined);
});

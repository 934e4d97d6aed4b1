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

test('binary bytes that happen to start with "<" are no page (a random .jar fixture did)', () => {
  // The CI's failing fixture: 0x3c then binary.
  assert.equal(markupStart(Buffer.from([0x3c, 0x24, 0x72, 0x00, 0x9f, 0x01, 0x63])), undefined);
  assert.equal(markupStart(Buffer.from([0x3c, 0x68, 0x74, 0x6d, 0x6c, 0x00, 0x3e])), undefined);
  assert.equal(markupStart(Buffer.from('<\x01html>', 'latin1')), undefined);
  assert.equal(markupStart(Buffer.from('<?xml version="1.0"?>')), '<?xml version="1.0"?');
  assert.equal(markupStart(Buffer.from('</p>')), '</p>');
});

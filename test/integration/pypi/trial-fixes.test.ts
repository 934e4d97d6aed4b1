/**
 * Fixes from the new-user trial (2026-12-02, second session), over HTTP:
 * 1. An upload with two `content` parts (the second still streaming when the form is refused)
 *    is a 400, every time, and the server stays up: the discarded part's stream was destroyed
 *    without an 'error' listener, which took the whole process down.
 * 2. A form part without a name is a 400 saying so, not an internal TypeError's text (crash hunt).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { startTestServer } from '../../helpers/server.ts';
import { BOUNDARY, MULTIPART } from './fixtures.ts';

function twoContentParts(size: number): Buffer {
  const part = (filename: string) =>
    Buffer.concat([
      Buffer.from(
        `--${BOUNDARY}\r\nContent-Disposition: form-data; name="content"; filename="${filename}"\r\n` +
          'Content-Type: application/octet-stream\r\n\r\n',
      ),
      randomBytes(size),
      Buffer.from('\r\n'),
    ]);
  return Buffer.concat([
    Buffer.from(
      `--${BOUNDARY}\r\nContent-Disposition: form-data; name=":action"\r\n\r\nfile_upload\r\n`,
    ),
    part('a-1.0-py3-none-any.whl'),
    part('b-1.0-py3-none-any.whl'),
    Buffer.from(`--${BOUNDARY}--\r\n`),
  ]);
}

describe('pypi: fixes from the new-user trial (second session)', () => {
  test('1: two content parts are a 400 each time, and the server stays up', async () => {
    await using server = await startTestServer({});
    for (const size of [100_000, 1_000_000, 10, 100_000, 3_000_000]) {
      const res = await fetch(`${server.url}/simple/`, {
        method: 'POST',
        headers: { 'content-type': MULTIPART },
        body: twoContentParts(size),
      });
      assert.equal(res.status, 400, `size ${size}`);
      assert.match(await res.text(), /more than one content part/);
    }
    const alive = await fetch(`${server.url}/health`);
    assert.equal(alive.status, 200);
    await alive.arrayBuffer();
  });

  test('2: a form part without a name is a 400 that says so', async () => {
    await using server = await startTestServer({});
    const body = Buffer.from(
      `--${BOUNDARY}\r\nContent-Disposition: form-data\r\n\r\nvalue\r\n--${BOUNDARY}--\r\n`,
    );
    const res = await fetch(`${server.url}/simple/`, {
      method: 'POST',
      headers: { 'content-type': MULTIPART },
      body,
    });
    assert.equal(res.status, 400);
    const text = await res.text();
    assert.match(text, /a form part has no name/);
    assert.doesNotMatch(text, /TypeError|argument must be/);
  });
});

/** answerClientError (src/http/client-error.ts): what a connection the parser gave up on gets. */
import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { test } from 'node:test';
import { answerClientError } from '../../../src/http/client-error.ts';

function fakeSocket(attached?: { headersSent: boolean }) {
  const written: string[] = [];
  let destroyed = 0;
  const socket = {
    destroyed: false,
    writable: true,
    remoteAddress: '127.0.0.1',
    _httpMessage: attached,
    write: (text: string) => written.push(text),
    destroy: () => (destroyed += 1),
  };
  return { socket: socket as unknown as Socket, written, destroyed: () => destroyed };
}

function eofError(): Error & { code: string } {
  return Object.assign(new Error('Parse Error'), { code: 'HPE_INVALID_EOF_STATE' });
}

test('a body cut short gets a plain-text 400 saying so, and one log line', () => {
  const logged: Record<string, unknown>[] = [];
  const { socket, written, destroyed } = fakeSocket();
  answerClientError(eofError(), socket, {
    info: (fields) => logged.push(fields),
    debug: () => undefined,
  });
  assert.equal(written.length, 1);
  assert.match(written[0] ?? '', /^HTTP\/1\.1 400 Bad Request\r\n/);
  assert.match(written[0] ?? '', /ended before the request was complete/);
  assert.deepEqual(logged, [{ code: 'HPE_INVALID_EOF_STATE', status: 400, client: '127.0.0.1' }]);
  assert.equal(destroyed(), 1);
});

test('after an answer already sent (a refusal before the body), nothing is written or logged', () => {
  const logged: unknown[] = [];
  const { socket, written, destroyed } = fakeSocket({ headersSent: true });
  answerClientError(eofError(), socket, {
    info: (fields) => logged.push(fields),
    debug: () => undefined,
  });
  assert.deepEqual(written, []);
  assert.deepEqual(logged, []);
  assert.equal(destroyed(), 1);
});

test('a reset connection gets nothing at all', () => {
  const logged: unknown[] = [];
  const { socket, written, destroyed } = fakeSocket();
  const reset = Object.assign(new Error('reset'), { code: 'ECONNRESET' });
  answerClientError(reset, socket, {
    info: (fields) => logged.push(fields),
    debug: () => undefined,
  });
  assert.deepEqual(written, []);
  assert.deepEqual(logged, []);
  assert.equal(destroyed(), 0);
});

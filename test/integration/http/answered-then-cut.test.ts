/**
 * A PUT that NORA answers before reading its body (405 on a raw proxy, trial 32) and whose
 * client then closes the connection mid-body: the parser's HPE_INVALID_EOF_STATE is about a
 * request already answered, so the info line "request refused by the HTTP parser" must not be
 * logged for it (debug only). A body cut short that nobody answered still logs the line (the
 * control: the log stream is read). Raw sockets on 127.0.0.1.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import { startTestServer, type TestServer } from '../../helpers/server.ts';

const REFUSED = 'request refused by the HTTP parser';

describe('a request answered before its body, then cut by its client', () => {
  const lines: string[] = [];
  let server: TestServer;

  before(async () => {
    server = await startTestServer({
      logLevel: 'info',
      logStream: { write: (line: string) => lines.push(line) },
      config: {
        repositories: [
          {
            name: 'dl',
            format: 'raw',
            kind: 'proxy',
            upstreams: [{ url: 'http://127.0.0.1:9/dist' }],
          },
        ],
      },
    });
  });
  after(async () => {
    await server.close();
  });

  /**
   * Sends a PUT declaring 1 MiB and 1 KiB of it; after its answer's head (or `waitMs` without
   * one) half-closes the connection. Resolves with what came back once the server closed it.
   */
  async function cutPut(path: string, waitForAnswer: boolean): Promise<string> {
    const { port } = new URL(server.url);
    const socket = net.connect(Number(port), '127.0.0.1');
    let received = '';
    const closed = new Promise<void>((resolve) =>
      socket.on('close', () => {
        resolve();
      }),
    );
    socket.on('error', () => undefined);
    const answered = new Promise<void>((resolve) =>
      socket.on('data', (chunk: Buffer) => {
        received += chunk.toString('latin1');
        if (received.includes('\r\n\r\n')) resolve();
      }),
    );
    await new Promise<void>((resolve) =>
      socket.on('connect', () => {
        resolve();
      }),
    );
    socket.write(
      `PUT ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/octet-stream\r\n` +
        `Content-Length: 1048576\r\n\r\n`,
    );
    socket.write(Buffer.alloc(1024, 0x61));
    if (waitForAnswer) await answered;
    else await sleep(300);
    socket.end();
    await closed;
    return received;
  }

  test('405 on a proxy, then the client closes mid-body: no parser line', async () => {
    const received = await cutPut('/repository/dl/tool.bin', true);
    assert.match(received, /^HTTP\/1\.1 405 /);
    assert.doesNotMatch(received, /HTTP\/1\.1 400/, 'a second answer after the 405');
    await sleep(200);
    const refused = lines.filter((line) => line.includes(REFUSED));
    assert.deepEqual(refused, [], 'the parser line was logged for a request NORA had answered');
  });

  test('control: a body cut short with no answer yet logs the parser line', async () => {
    const received = await cutPut('/raw/cut/tool.bin', false);
    assert.match(received, /^HTTP\/1\.1 400 /);
    await sleep(200);
    assert.ok(
      lines.some((line) => line.includes(REFUSED) && line.includes('HPE_INVALID_EOF_STATE')),
      lines.join(''),
    );
  });
});

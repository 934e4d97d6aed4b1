/**
 * Publish bodies shaped to cost: work, spool files and memory per `PUT /<name>` are bounded by
 * what a valid publish holds (one tarball per version, a few at most), and a body past a bound is
 * refused while it streams, in npm's `{"error": "..."}` shape.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { startTestServer, type TestServer } from '../../helpers/server.ts';

/** Streams `head`, `count` copies of `entry(i)` joined by commas, then `tail`, in ~64 KiB pieces. */
function* generated(
  head: string,
  count: number,
  entry: (i: number) => string,
  tail: string,
): Generator<Buffer> {
  yield Buffer.from(head);
  let piece = '';
  for (let i = 0; i < count; i++) {
    piece += (i === 0 ? '' : ',') + entry(i);
    if (piece.length > 65_536) {
      yield Buffer.from(piece);
      piece = '';
    }
  }
  yield Buffer.from(piece + tail);
}

async function put(
  server: TestServer,
  name: string,
  body: Iterable<Buffer>,
): Promise<{ status: number; error: string; ms: number }> {
  const start = Date.now();
  const response = await fetch(`${server.url}/npm/${name}`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: Readable.toWeb(Readable.from(body)) as ReadableStream,
    duplex: 'half',
  });
  const json = (await response.json()) as { error?: unknown };
  return {
    status: response.status,
    error: typeof json.error === 'string' ? json.error : JSON.stringify(json),
    ms: Date.now() - start,
  };
}

async function spoolFiles(server: TestServer): Promise<string[]> {
  const dir = path.join(server.app.context.blobs.driver.spoolDir(), 'ingest');
  return fs.readdir(dir).catch(() => []);
}

describe('hostile npm publish bodies are refused early, with bounded work', () => {
  let server: TestServer;

  before(async () => {
    server = await startTestServer();
  });
  after(async () => {
    await server.close();
  });

  test('200,000 empty attachments (5 MB): 400 in < 10 s, no spool left, memory flat', async () => {
    const rssBefore = process.memoryUsage().rss;
    const result = await put(
      server,
      'flood',
      generated(
        '{"name":"flood","versions":{},"_attachments":{',
        200_000,
        (i) => `"a${i}.tgz":{"data":""}`,
        '}}',
      ),
    );
    assert.equal(result.status, 400, result.error);
    assert.match(result.error, /more than 16 attachments/);
    assert.ok(result.ms < 10_000, `refused after ${result.ms} ms`);
    assert.deepEqual(await spoolFiles(server), []);
    const grownMb = (process.memoryUsage().rss - rssBefore) / 1e6;
    assert.ok(grownMb < 150, `RSS grew ${grownMb.toFixed(0)} MB`);
  });

  test('many versions alongside an attachment: 400 in < 10 s', async () => {
    const result = await put(
      server,
      'many',
      generated(
        '{"name":"many","_attachments":{"many-1.0.0.tgz":{"data":""}},"versions":{',
        200_000,
        (i) => `"1.0.${i}":{}`,
        '}}',
      ),
    );
    assert.equal(result.status, 400, result.error);
    assert.match(result.error, /at most 16 versions/);
    assert.ok(result.ms < 10_000, `refused after ${result.ms} ms`);
  });

  test('a packument update with more versions than any package has: 400', async () => {
    const result = await put(
      server,
      'update',
      generated('{"name":"update","versions":{', 150_000, (i) => `"1.0.${i}":{}`, '}}'),
    );
    assert.equal(result.status, 400, result.error);
    assert.match(result.error, /more than 100000 versions/);
  });

  test('deep nesting, a huge key, millions of values: 400 in < 10 s', async () => {
    const cases: [string, Iterable<Buffer>, RegExp][] = [
      ['deep', generated('{"name":"deep","x":', 500_000, () => '[', ''), /nested deeper than 64/],
      [
        'long key',
        generated('{"name":"k","', 10_000_000, () => 'k', '":1}'),
        /key longer than 4096 bytes/,
      ],
      [
        'values',
        generated('{"name":"v","x":[', 3_000_000, () => '0', ']}'),
        /more than 2000000 JSON values/,
      ],
      [
        'repeated data keys',
        generated(
          '{"name":"d","versions":{},"_attachments":{"d-1.0.0.tgz":{',
          100_000,
          () => '"data":""',
          '}}}',
        ),
        /more than one data key/,
      ],
    ];
    for (const [what, body, pattern] of cases) {
      const result = await put(server, 'hostile', body);
      assert.equal(result.status, 400, `${what}: ${result.error}`);
      assert.match(result.error, pattern, what);
      assert.ok(result.ms < 10_000, `${what}: refused after ${result.ms} ms`);
    }
    assert.deepEqual(await spoolFiles(server), []);
  });
});

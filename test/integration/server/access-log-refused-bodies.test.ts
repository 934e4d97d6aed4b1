/**
 * Uploads refused while their body streams still get their access line (trial 13 F11). A PyPI
 * upload past `[pypi] max_upload_mb` sent chunked (413 mid-stream), or one whose spool write
 * failed (507), left no `"msg":"request"` line: the multipart pipeline destroyed the request
 * stream, which detaches it from its socket, and Fastify's `request.ip` then threw inside the
 * access-log hook. Each refusal here is sent chunked, so it happens mid-stream, through a trusted
 * proxy's `X-Forwarded-For`, and must be logged with its method, URL, status and client.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';
import { LOOPBACK_PROXY, startTestServer, type TestServer } from '../../helpers/server.ts';
import { makeSdist, MULTIPART, multipartBody, twineFields } from '../pypi/fixtures.ts';

type Line = Record<string, unknown>;

/** POSTs/PUTs `body` chunked (no Content-Length), 64 KiB at a time; resolves the status. */
function sendChunked(
  url: string,
  method: string,
  headers: Record<string, string>,
  body: Buffer,
): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers }, (res) => {
      res.resume();
      res.on('end', () => {
        resolve(res.statusCode ?? 0);
      });
    });
    // The server may close after its answer while chunks are still going out.
    req.on('error', reject);
    for (let i = 0; i < body.length; i += 65536) req.write(body.subarray(i, i + 65536));
    req.end();
  });
}

/** A multipart body whose one file part (`field`, `filename`) holds `data`. */
function formWithFile(field: string, filename: string, data: Buffer, boundary: string): Buffer {
  return Buffer.concat([
    Buffer.from(
      `--${boundary}\r\nContent-Disposition: form-data; name="${field}"; filename="${filename}"\r\n` +
        'Content-Type: application/octet-stream\r\n\r\n',
    ),
    data,
    Buffer.from(`\r\n--${boundary}--\r\n`),
  ]);
}

describe('access lines of bodies refused mid-stream', () => {
  let server: TestServer;
  const raw: string[] = [];
  let n = 0;

  before(async () => {
    server = await startTestServer({
      config: {
        pypi: { max_upload_mb: 1 },
        helm: { max_upload_mb: 1 },
        auth: { trusted_proxies: [...LOOPBACK_PROXY] },
      },
      env: { NORA_PYPI_PROXY: 'none' },
      logLevel: 'info',
      logStream: {
        write(line: string) {
          raw.push(line);
        },
      },
    });
  });
  after(() => server.close());

  /** Sends the request and returns its status and access line (waits for the line). */
  async function refused(
    path: string,
    method: string,
    headers: Record<string, string>,
    body: Buffer,
  ): Promise<{ status: number; line: Line }> {
    const id = `refused-body-${++n}`;
    const status = await sendChunked(
      `${server.url}${path}`,
      method,
      {
        ...headers,
        'x-request-id': id,
        // From a trusted proxy (trusted_proxies: loopback): this is the client.
        'x-forwarded-for': '198.51.100.9',
        'user-agent': 'refusal-test/1.0',
      },
      body,
    );
    // The line is written once the answer went out; 10 s bounds a failure only.
    const deadline = Date.now() + 10_000;
    const find = () =>
      raw
        .map((text) => JSON.parse(text) as Line)
        .find((l) => l['msg'] === 'request' && l['reqId'] === id);
    while (find() === undefined && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    const line = find();
    assert.ok(line, `no access line for ${method} ${path} (${status}) in:\n${raw.join('')}`);
    return { status, line };
  }

  test('PyPI: an upload past max_upload_mb, chunked → 413, logged with method, url, client', async () => {
    const sdist = makeSdist('mid', '1');
    const big = {
      filename: sdist.filename,
      data: Buffer.concat([sdist.data, Buffer.alloc(3_000_000, 1)]),
    };
    const { status, line } = await refused(
      '/simple/',
      'POST',
      { 'content-type': MULTIPART },
      multipartBody(twineFields('mid', '1', big), big),
    );
    assert.equal(status, 413);
    assert.equal(line['method'], 'POST');
    assert.equal(line['url'], '/simple/');
    assert.equal(line['status'], 413);
    assert.equal(line['client'], '198.51.100.9');
    assert.equal(line['user'], 'anonymous');
    assert.equal(line['userAgent'], 'refusal-test/1.0');
  });

  test('Helm: a chart upload past max_upload_mb, chunked → 413, logged', async () => {
    const boundary = 'helm-boundary-1';
    const { status, line } = await refused(
      '/helm/api/charts',
      'POST',
      { 'content-type': `multipart/form-data; boundary=${boundary}` },
      formWithFile('chart', 'big-1.0.0.tgz', Buffer.alloc(3_000_000, 1), boundary),
    );
    assert.equal(status, 413);
    assert.equal(line['status'], 413);
    assert.equal(line['client'], '198.51.100.9');
  });
});

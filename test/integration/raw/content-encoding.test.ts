/**
 * Raw proxies keep an upstream body as a plain download saves it (hostile-upstream trial F3): a
 * release `.tar.gz` that the origin labels `Content-Encoding: gzip` (Apache's `AddEncoding x-gzip
 * .gz`, some mirrors) was decoded, so NORA cached and served the bare tar as `application/gzip`
 * (published checksums never matched, `tar xzf` failed), and a 1 MB gzip bomb became a 1 GiB
 * cached file. Now the stored file is the bytes `curl -O` / `wget` get from the origin, NORA asks
 * for no coding (no Accept-Encoding), and answers the file without a Content-Encoding.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { brotliCompressSync, gzipSync } from 'node:zlib';
import { startTestServer, type TestServer } from '../../helpers/server.ts';

const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

describe('raw proxy: Content-Encoding from the upstream', () => {
  let origin: http.Server;
  let server: TestServer;
  let base = '';
  const asked: { url: string; acceptEncoding: string | undefined }[] = [];
  // What the origin sends for each path: the body on the wire and its Content-Encoding.
  const wire = new Map<string, { body: Buffer; encoding: string; type: string }>();

  before(async () => {
    // A release archive: gzip bytes, served as they are on disk, labelled as encoded.
    wire.set('/files/rel-1.0.tar.gz', {
      body: gzipSync(Buffer.from('release tarball contents\n'.repeat(500))),
      encoding: 'gzip',
      type: 'application/gzip',
    });
    // A gzip bomb: 64 MiB of zeros in ~64 KB.
    wire.set('/files/bomb.bin', {
      body: gzipSync(Buffer.alloc(64 * 1024 * 1024), { level: 9 }),
      encoding: 'gzip',
      type: 'application/octet-stream',
    });
    wire.set('/files/notes.txt', {
      body: brotliCompressSync(Buffer.from('release notes\n'.repeat(100))),
      encoding: 'br',
      type: 'text/plain',
    });
    origin = http.createServer((req, res) => {
      const url = req.url ?? '/';
      asked.push({ url, acceptEncoding: req.headers['accept-encoding'] });
      const file = wire.get(url);
      if (file === undefined) {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, {
        'content-type': file.type,
        'content-encoding': file.encoding,
        'content-length': String(file.body.length),
      });
      res.end(req.method === 'HEAD' ? undefined : file.body);
    });
    await new Promise<void>((resolve) => origin.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(origin.address() as AddressInfo).port}`;
    server = await startTestServer({
      config: {
        circuit_breaker: { enabled: false },
        repositories: [
          { name: 'dl', format: 'raw', kind: 'proxy', upstreams: [{ url: `${base}/files` }] },
        ],
      },
    });
  });
  after(async () => {
    await server.close();
    origin.closeAllConnections();
    await new Promise<void>((resolve) =>
      origin.close(() => {
        resolve();
      }),
    );
  });

  /** A plain download (as curl -O and wget do it: no Accept-Encoding, nothing decoded). */
  async function download(
    url: string,
  ): Promise<{ status: number; body: Buffer; headers: http.IncomingHttpHeaders }> {
    return await new Promise((resolve, reject) => {
      http
        .get(url, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () => {
            resolve({
              status: res.statusCode ?? 0,
              body: Buffer.concat(chunks),
              headers: res.headers,
            });
          });
          res.on('error', reject);
        })
        .on('error', reject);
    });
  }

  test('the stored and served file is the bytes a plain download of the origin gets', async () => {
    for (const name of ['rel-1.0.tar.gz', 'bomb.bin', 'notes.txt']) {
      const direct = await download(`${base}/files/${name}`);
      assert.equal(direct.status, 200);
      for (const round of ['fill', 'stored']) {
        const res = await download(`${server.url}/repository/dl/${name}`);
        assert.equal(res.status, 200, `${name} ${round}`);
        assert.equal(sha256(res.body), sha256(direct.body), `${name} ${round}: the origin's bytes`);
        assert.equal(res.headers['content-encoding'], undefined, `${name} ${round}`);
        if (round === 'stored') {
          assert.equal(res.headers['content-length'], String(direct.body.length), name);
        }
      }
    }
    // The archive is still a gzip file (what `tar xzf` and the publisher's checksum expect).
    const archive = await download(`${server.url}/repository/dl/rel-1.0.tar.gz`);
    assert.deepEqual([...archive.body.subarray(0, 2)], [0x1f, 0x8b]);
    // The bomb stayed its compressed size (~64 KB), not 64 MiB.
    const bomb = await download(`${server.url}/repository/dl/bomb.bin`);
    assert.ok(bomb.body.length < 1024 * 1024, `${bomb.body.length} bytes`);
  });

  test('NORA asks the origin for no content coding', async () => {
    await download(`${server.url}/repository/dl/rel-1.0.tar.gz`);
    const files = asked.filter((request) => request.url.startsWith('/files/'));
    assert.ok(files.length > 0);
    for (const request of files) assert.equal(request.acceptEncoding, undefined, request.url);
  });
});

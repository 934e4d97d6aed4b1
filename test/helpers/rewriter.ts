/**
 * A fixture upstream in front of another server (a second NORA): forwards every GET to `base`
 * and lets `rewrite` edit JSON answers (a packument's `time`, a PEP 691 page's `upload-time`):
 * what the min release age tests need, an upstream whose publish dates they choose.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Rewriter extends AsyncDisposable {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
}

export async function startRewriter(
  base: string,
  rewrite: (doc: Record<string, unknown>, url: string) => void,
): Promise<Rewriter> {
  const server = http.createServer((req, res) => {
    void (async () => {
      const url = req.url ?? '/';
      const answer = await fetch(`${base}${url}`, {
        headers: { accept: req.headers.accept ?? '*/*' },
      });
      const body = Buffer.from(await answer.arrayBuffer());
      const type = answer.headers.get('content-type') ?? 'application/octet-stream';
      res.writeHead(answer.status, { 'content-type': type });
      if (answer.status !== 200 || !type.includes('json')) {
        res.end(body);
        return;
      }
      const doc = JSON.parse(body.toString('utf8')) as Record<string, unknown>;
      rewrite(doc, url);
      res.end(JSON.stringify(doc));
    })().catch(() => {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    [Symbol.asyncDispose]: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => {
          resolve();
        });
      }),
  };
}

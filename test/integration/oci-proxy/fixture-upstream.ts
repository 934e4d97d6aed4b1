/**
 * A scripted Docker Registry v2 upstream for proxy tests (no external tools): routes are set per
 * test, every request is recorded in `hits` as "METHOD path".
 */
import { createHash } from 'node:crypto';
import http from 'node:http';

export const MANIFEST_TYPE = 'application/vnd.oci.image.manifest.v1+json';

export function sha(data: string | Buffer): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

export interface Fixture {
  readonly url: string;
  readonly hits: string[];
  /** If-None-Match values received, in order. */
  readonly conditional: string[];
  /** path → response */
  readonly routes: Map<
    string,
    {
      status: number;
      headers?: Record<string, string>;
      body?: string | Buffer;
      /** When set, a request with `If-None-Match: <etag>` gets 304. */
      etag?: string;
      /** Sends the first half of a body, then the rest this much later (a slow connection). */
      pauseMs?: number;
    }
  >;
  close(): Promise<void>;
}

export async function fixtureUpstream(): Promise<Fixture> {
  const hits: string[] = [];
  const conditional: string[] = [];
  const routes: Fixture['routes'] = new Map();
  const server = http.createServer((req, res) => {
    hits.push(`${req.method ?? ''} ${req.url ?? ''}`);
    const ifNoneMatch = req.headers['if-none-match'];
    if (ifNoneMatch !== undefined) conditional.push(ifNoneMatch);
    const route = routes.get(req.url ?? '');
    if (!route) {
      res
        .writeHead(404, { 'content-type': 'application/json' })
        .end('{"errors":[{"code":"NAME_UNKNOWN"}]}');
      return;
    }
    if (route.etag !== undefined && req.headers['if-none-match'] === route.etag) {
      res.writeHead(304, { etag: route.etag }).end();
      return;
    }
    const body = route.body ?? '';
    res.writeHead(route.status, {
      'content-length': String(Buffer.byteLength(body)),
      ...route.headers,
    });
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    if (route.pauseMs === undefined) {
      res.end(body);
      return;
    }
    const bytes = Buffer.from(body);
    res.write(bytes.subarray(0, bytes.length >> 1));
    setTimeout(() => res.end(bytes.subarray(bytes.length >> 1)), route.pauseMs);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  return {
    url,
    hits,
    conditional,
    routes,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => {
          resolve();
        });
      }),
  };
}

/**
 * Publishes an image with these layers at name:tag (and by digest) on the fixture; `pauseMs`
 * makes every blob body arrive in two halves that far apart.
 */
export function publishImage(
  fixture: Fixture,
  name: string,
  tag: string,
  layers: readonly (string | Buffer)[],
  pauseMs?: number,
) {
  const slow = pauseMs === undefined ? {} : { pauseMs };
  const config = '{"architecture":"amd64","os":"linux"}';
  const manifest = JSON.stringify({
    schemaVersion: 2,
    mediaType: MANIFEST_TYPE,
    config: {
      mediaType: 'application/vnd.oci.image.config.v1+json',
      digest: sha(config),
      size: config.length,
    },
    layers: layers.map((layer) => ({
      mediaType: 'application/vnd.oci.image.layer.v1.tar',
      digest: sha(layer),
      size: Buffer.byteLength(layer),
    })),
  });
  const digest = sha(manifest);
  const headers = { 'content-type': MANIFEST_TYPE, 'docker-content-digest': digest };
  fixture.routes.set(`/v2/${name}/manifests/${tag}`, { status: 200, headers, body: manifest });
  fixture.routes.set(`/v2/${name}/manifests/${digest}`, { status: 200, headers, body: manifest });
  for (const layer of layers)
    fixture.routes.set(`/v2/${name}/blobs/${sha(layer)}`, { status: 200, body: layer, ...slow });
  fixture.routes.set(`/v2/${name}/blobs/${sha(config)}`, { status: 200, body: config, ...slow });
  return { digest, manifest, config: sha(config), layers: layers.map((layer) => sha(layer)) };
}

/**
 * Small Go fixtures for the integration tests of go-hosted and go groups: a scripted GOPROXY
 * upstream on loopback and module zips built from a few files, with no Go toolchain needed.
 */
import fs from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { writeModuleZip } from '../../src/formats/go/zip-create.ts';
import { startTestServer, type TestServer } from './server.ts';
import { tempDir } from './tmp.ts';

/** The `Time` every upstream `.info` carries. */
export const UPSTREAM_TIME = '2020-01-02T03:04:05Z';

export interface GoUpstream {
  readonly url: string;
  /** Every request path it was asked, in order. */
  readonly requests: string[];
  close(): Promise<void>;
}

/**
 * A GOPROXY upstream on 127.0.0.1 serving `list`, `.info`, `.mod` (`module <path>`) and `.zip`
 * (goModuleZip: just that go.mod) of the given versions per module path; any other path is 404.
 */
export async function startGoUpstream(
  modules: Readonly<Record<string, string | readonly string[]>>,
  /** `.info` `Time` by `module@version` (min release age tests); else UPSTREAM_TIME. */
  times: Readonly<Record<string, string>> = {},
): Promise<GoUpstream> {
  const requests: string[] = [];
  const server = http.createServer((req, res) => {
    void answer(req, res).catch((err: unknown) => {
      res.writeHead(500).end(String(err));
    });
  });
  const answer = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    const url = req.url ?? '/';
    requests.push(url);
    for (const [module, held] of Object.entries(modules)) {
      const versions = typeof held === 'string' ? [held] : held;
      const base = `/${module}/@v/`;
      if (url === `${base}list`) return void res.writeHead(200).end(`${versions.join('\n')}\n`);
      for (const version of versions) {
        if (url === `${base}${version}.info`) {
          return void res.writeHead(200).end(
            JSON.stringify({
              Version: version,
              Time: times[`${module}@${version}`] ?? UPSTREAM_TIME,
            }),
          );
        }
        if (url === `${base}${version}.mod`) {
          return void res.writeHead(200).end(`module ${module}\n`);
        }
        if (url === `${base}${version}.zip`) {
          return void res.writeHead(200).end(await goModuleZip(module, version));
        }
      }
    }
    res.writeHead(404).end('not found');
  };
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/**
 * The module zip of `module@version` (bytes): its go.mod (`module <module>`, unless `files`
 * gives a `go.mod` of its own) and `files` (zip path → content), written by the server's own zip
 * writer.
 */
export async function goModuleZip(
  module: string,
  version: string,
  files: Readonly<Record<string, string>> = {},
): Promise<Buffer> {
  await using dir = await tempDir('go-zip-');
  const entries = [];
  for (const [name, content] of Object.entries({ 'go.mod': `module ${module}\n`, ...files })) {
    const localPath = path.join(dir.path, `f${entries.length}`);
    await fs.writeFile(localPath, content);
    entries.push({ path: name, localPath, size: Buffer.byteLength(content) });
  }
  const zip = path.join(dir.path, 'm.zip');
  await writeModuleZip(zip, module, version, entries);
  return await fs.readFile(zip);
}

/**
 * A scripted upstream (startGoUpstream) and an in-process server whose Go proxy points at it: no
 * checksum database, no negative cache, metadata fresh for `metadataTtl` seconds. `go` is the
 * group's URL (`<server>/go`); `close` stops both.
 */
export async function startGoProxyServer(
  modules: Readonly<Record<string, string | readonly string[]>>,
  metadataTtl = 60,
  /** `[go] private` patterns (GOPRIVATE syntax): paths never asked upstream. */
  privatePaths: readonly string[] = [],
): Promise<{
  upstream: GoUpstream;
  server: TestServer;
  go: string;
  close: () => Promise<void>;
}> {
  const upstream = await startGoUpstream(modules);
  const server = await startTestServer({
    config: {
      go: {
        sumdb: [],
        negative_cache_ttl: 0,
        metadata_ttl: metadataTtl,
        ...(privatePaths.length > 0 ? { private: privatePaths } : {}),
      },
    },
    env: { NORA_GO_PROXY: upstream.url },
  });
  return {
    upstream,
    server,
    go: `${server.url}/go`,
    close: async () => {
      await server.close();
      await upstream.close();
    },
  };
}

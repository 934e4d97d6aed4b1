/**
 * The trial's leak, with the real `go` command: `go get <hosted module>/internal/secretpkg`
 * through the group `/go` (GOPRIVATE for the checksum database, GONOPROXY=none so `go` asks
 * NORA) makes `go` ask for the package path and each of its prefixes. None of those may reach
 * the group's upstream GOPROXY (a recording fixture): the hosted module's tree stays here.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { writeModuleZip } from '../../../src/formats/go/zip-create.ts';
import { goEnv, goRun } from '../../helpers/go.ts';
import { startTestServer, type TestServer } from '../../helpers/server.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { findTool } from '../../helpers/tools.ts';

const MODULE = 'corp.example.com/t7/hello';
const skip = findTool('go') === undefined ? 'go is not installed (Debian golang-go)' : false;

describe(
  'go get of a package in a hosted module: nothing of its tree asked upstream',
  { skip },
  () => {
    const requests: string[] = [];
    const upstream = http.createServer((req, res) => {
      requests.push(req.url ?? '/');
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' });
      res.end('not found\n');
    });
    let server: TestServer;

    before(async () => {
      await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
      const url = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
      server = await startTestServer({
        config: { go: { proxy: url, sumdb: [], negative_cache_ttl: 0 } },
      });
    });

    after(async () => {
      await server.close();
      upstream.closeAllConnections();
      await new Promise((resolve) => upstream.close(resolve));
    });

    test('GOPRIVATE=corp.example.com GONOPROXY=none go get …/internal/secretpkg', async () => {
      await using dir = await tempDir('go-hosted-tree-');
      const src = path.join(dir.path, 'src');
      await fs.mkdir(path.join(src, 'internal', 'secretpkg'), { recursive: true });
      const files: [string, string][] = [
        ['go.mod', `module ${MODULE}\n\ngo 1.19\n`],
        ['hello.go', 'package hello\n\nconst Hello = "hello"\n'],
        ['internal/secretpkg/secret.go', 'package secretpkg\n\nconst Secret = 7\n'],
      ];
      for (const [name, text] of files) await fs.writeFile(path.join(src, name), text);
      const zip = path.join(dir.path, 'hello.zip');
      await writeModuleZip(
        zip,
        MODULE,
        'v1.0.0',
        files.map(([name, text]) => ({
          path: name,
          localPath: path.join(src, name),
          size: Buffer.byteLength(text),
        })),
      );
      const put = await fetch(`${server.url}/go/${MODULE}/@v/v1.0.0.zip`, {
        method: 'PUT',
        body: await fs.readFile(zip),
      });
      assert.equal(put.status, 201, await put.text());

      const work = path.join(dir.path, 'work');
      await fs.mkdir(work);
      await fs.writeFile(path.join(work, 'go.mod'), 'module example.com/consumer\n\ngo 1.19\n');
      const env = goEnv(dir.path, {
        GOPROXY: `${server.url}/go`,
        GOPRIVATE: 'corp.example.com',
        GONOPROXY: 'none',
        GOFLAGS: '-mod=mod',
      });
      requests.length = 0;
      const got = await goRun(['get', `${MODULE}/internal/secretpkg`], work, env, false);
      assert.equal(got.code, 0, got.stderr);
      assert.match(
        await fs.readFile(path.join(work, 'go.mod'), 'utf8'),
        /corp\.example\.com\/t7\/hello v1\.0\.0/,
      );
      assert.deepEqual(
        requests.filter((r) => r.includes('corp.example.com')),
        [],
      );
    });
  },
);

/**
 * An upstream `.info` that `go` would refuse, with Debian's `go` (trial 14 F9; proxy.ts checks a
 * canonical version's `.info` before it is kept): a fixture GOPROXY upstream on loopback serves
 * `example.com/infocheck v1.0.0` whose `.info` names another version, then one whose `Time` is no
 * RFC 3339 timestamp. `go mod download` through NORA's group `/go` fails each time with NORA's
 * 404 naming the upstream and the reason (the proxy addressed alone: 502), and nothing is kept:
 * once the upstream serves the right `.info`, the very same command (same module cache) succeeds
 * and the `.info` go stored is the upstream's — not a bad copy from NORA's cache (`.info` of a
 * canonical version is kept forever once kept). Skipped, saying so, without `go`.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { describe, test } from 'node:test';
import { writeModuleZip } from '../../../src/formats/go/zip-create.ts';
import { goEnv, goRun } from '../../helpers/go.ts';
import { startTestServer } from '../../helpers/server.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { findTool, output } from '../../helpers/tools.ts';

const MODULE = 'example.com/infocheck';
const VERSION = 'v1.0.0';
const GOOD_INFO = `{"Version":"${VERSION}","Time":"2024-01-02T03:04:05Z"}`;
const missing =
  findTool('go') === undefined ? 'client not installed: go (Debian golang-go)' : false;

describe(
  'go mod download through /go when the upstream serves a bad .info',
  { skip: missing },
  () => {
    test('go fails naming the reason, nothing is kept; the fixed upstream then works', async () => {
      await using work = await tempDir('nora-e2e-go-badinfo-');
      // The module's files, as a GOPROXY serves them.
      const src = path.join(work.path, 'src');
      await fs.mkdir(src);
      const goMod = `module ${MODULE}\n\ngo 1.19\n`;
      await fs.writeFile(path.join(src, 'go.mod'), goMod);
      await fs.writeFile(path.join(src, 'lib.go'), 'package infocheck\n\nconst V = 1\n');
      const zipPath = path.join(work.path, 'm.zip');
      await writeModuleZip(zipPath, MODULE, VERSION, [
        { path: 'go.mod', localPath: path.join(src, 'go.mod'), size: Buffer.byteLength(goMod) },
        {
          path: 'lib.go',
          localPath: path.join(src, 'lib.go'),
          size: (await fs.stat(path.join(src, 'lib.go'))).size,
        },
      ]);
      const zip = await fs.readFile(zipPath);
      let info = `{"Version":"v9.9.9","Time":"2024-01-02T03:04:05Z"}`;
      const infoAsked: string[] = [];
      const base = `/${MODULE}/@v/`;
      const upstream = http.createServer((req, res) => {
        const url = req.url ?? '/';
        if (url === `${base}list`) return void res.writeHead(200).end(`${VERSION}\n`);
        if (url === `${base}${VERSION}.info`) {
          infoAsked.push(info);
          return void res.writeHead(200, { 'content-type': 'application/json' }).end(info);
        }
        if (url === `${base}${VERSION}.mod`) return void res.writeHead(200).end(goMod);
        if (url === `${base}${VERSION}.zip`) {
          return void res.writeHead(200, { 'content-type': 'application/zip' }).end(zip);
        }
        res.writeHead(404).end('not found');
      });
      await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
      try {
        const upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
        await using server = await startTestServer({
          config: { go: { sumdb: [], negative_cache_ttl: 0 } },
          env: { NORA_GO_PROXY: upstreamUrl },
        });
        const home = path.join(work.path, 'home');
        const download = (goproxy: string) =>
          goRun(
            ['mod', 'download', '-json', `${MODULE}@${VERSION}`],
            work.path,
            goEnv(home, { GOPROXY: goproxy, GOSUMDB: 'off' }),
            false,
          );
        const group = `${server.url}/go`;
        const alone = `${server.url}/repository/go-proxy`;

        // (`go mod download -json` prints the error in JSON: quotes come escaped.)
        for (const [bad, reason] of [
          [info, /its Version is \\?"v9\.9\.9\\?", not/],
          [`{"Version":"${VERSION}","Time":"not-a-time"}`, /its Time \\?"not-a-time\\?" is not/],
        ] as const) {
          info = bad;
          const failed = await download(group);
          assert.notEqual(failed.code, 0, output(failed));
          assert.match(output(failed), /404 Not Found/, output(failed));
          assert.match(
            output(failed),
            /upstream go-proxy#0 failed: sent an invalid example\.com\/infocheck\/@v\/v1\.0\.0\.info: /,
          );
          assert.match(output(failed), reason, output(failed));
          const failedAlone = await download(alone);
          assert.notEqual(failedAlone.code, 0, output(failedAlone));
          assert.match(output(failedAlone), /502 Bad Gateway/, output(failedAlone));
          assert.match(output(failedAlone), reason, output(failedAlone));
          assert.doesNotMatch(output(failedAlone), new RegExp(upstreamUrl), 'no upstream address');
        }

        // The upstream is fixed: the same command, same module cache, now works, and the .info is
        // the upstream's (asked again: nothing bad was kept).
        info = GOOD_INFO;
        const asked = infoAsked.length;
        const good = await download(group);
        assert.equal(good.code, 0, output(good));
        const result = JSON.parse(good.stdout) as { Info: string; Zip: string; Error?: string };
        assert.equal(result.Error, undefined, good.stdout);
        assert.deepEqual(JSON.parse(await fs.readFile(result.Info, 'utf8')), JSON.parse(GOOD_INFO));
        assert.deepEqual(await fs.readFile(result.Zip), zip);
        assert.ok(infoAsked.length > asked, 'the fixed .info was fetched from the upstream');
        // Kept now: the proxy answers it without the upstream.
        info = '{"Version":"v9.9.9"}';
        const kept = await fetch(`${alone}/${MODULE}/@v/${VERSION}.info`);
        assert.equal(kept.status, 200);
        assert.deepEqual(await kept.json(), JSON.parse(GOOD_INFO));
      } finally {
        upstream.closeAllConnections();
        await new Promise((resolve) => upstream.close(resolve));
      }
    });
  },
);

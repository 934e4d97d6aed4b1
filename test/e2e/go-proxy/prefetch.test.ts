/**
 * Go proxy prefetch ([go] prefetch) with the real `go` (skipped, saying so, when it is not
 * installed), against a GOPROXY upstream on loopback that logs every request: `go mod download
 * all` of a consumer requiring `pf.test/a`, whose go.mod (go 1.16: an unpruned module graph, so
 * `go` reads the go.mod of every version it requires) requires `pf.test/b` (which requires
 * `pf.test/c`), a private module and a version curation blocks; the consumer replaces those two
 * by local directories, so `go` never asks for them.
 *
 * - prefetch on (the default): the download succeeds, the upstream is asked each file once (a
 *   request arriving while its prefetch runs joined it), the prefetches were started (counted),
 *   and the private module and the blocked version were never asked upstream;
 * - `prefetch = false`: the same download, nothing prefetched, each file once too.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { goEnv, goRun, missingGo } from '../../helpers/go.ts';
import { goModuleZip, UPSTREAM_TIME } from '../../helpers/go-fixtures.ts';
import { startTestServer, type TestServer } from '../../helpers/server.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { output } from '../../helpers/tools.ts';

const MODS: Readonly<Record<string, string>> = {
  'pf.test/a': `module pf.test/a\n\ngo 1.16\n\nrequire (\n\tpf.test/b v1.0.0\n\tcorp.example/secret v1.0.0\n\tblocked.test/evil v1.0.0\n)\n`,
  'pf.test/b': `module pf.test/b\n\ngo 1.16\n\nrequire pf.test/c v1.0.0\n`,
  'pf.test/c': `module pf.test/c\n\ngo 1.16\n`,
  // Served if asked: the test checks they never are.
  'corp.example/secret': `module corp.example/secret\n\ngo 1.16\n`,
  'blocked.test/evil': `module blocked.test/evil\n\ngo 1.16\n`,
};

/** A GOPROXY of MODS at v1.0.0 (each module one package), logging every request path. */
async function startUpstream(): Promise<{
  url: string;
  requests: string[];
  close(): Promise<void>;
}> {
  const requests: string[] = [];
  const zips = new Map<string, Buffer>();
  for (const [module, mod] of Object.entries(MODS)) {
    const name = module.slice(module.lastIndexOf('/') + 1);
    zips.set(
      module,
      await goModuleZip(module, 'v1.0.0', { 'go.mod': mod, [`${name}.go`]: `package ${name}\n` }),
    );
  }
  const server = http.createServer((req, res) => {
    const url = req.url ?? '/';
    requests.push(url);
    for (const [module, mod] of Object.entries(MODS)) {
      const base = `/${module}/@v/`;
      if (url === `${base}list`) return void res.writeHead(200).end('v1.0.0\n');
      if (url === `${base}v1.0.0.info`) {
        return void res
          .writeHead(200)
          .end(JSON.stringify({ Version: 'v1.0.0', Time: UPSTREAM_TIME }));
      }
      if (url === `${base}v1.0.0.mod`) return void res.writeHead(200).end(mod);
      if (url === `${base}v1.0.0.zip`) return void res.writeHead(200).end(zips.get(module));
    }
    res.writeHead(404).end('not found');
  });
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

/** `nora_proxy_prefetch_total{format="go",outcome}` from /metrics (0 when absent). */
async function prefetchCount(server: TestServer, outcome: string): Promise<number> {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  const line = text
    .split('\n')
    .find((l) => l.startsWith(`nora_proxy_prefetch_total{format="go",outcome="${outcome}"}`));
  return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(' ') + 1));
}

describe('go proxy prefetch: go mod download through NORA', { skip: missingGo() }, () => {
  let work: Awaited<ReturnType<typeof tempDir>>;
  let consumer: string;

  before(async () => {
    work = await tempDir('nora-e2e-go-prefetch-');
    consumer = path.join(work.path, 'consumer');
    for (const local of ['secret', 'evil']) {
      const module = local === 'secret' ? 'corp.example/secret' : 'blocked.test/evil';
      await fs.mkdir(path.join(consumer, local), { recursive: true });
      await fs.writeFile(path.join(consumer, local, 'go.mod'), `module ${module}\n\ngo 1.16\n`);
    }
    await fs.writeFile(
      path.join(consumer, 'go.mod'),
      'module example.com/consumer\n\ngo 1.16\n\nrequire pf.test/a v1.0.0\n\n' +
        'replace corp.example/secret => ./secret\n\nreplace blocked.test/evil => ./evil\n',
    );
    await fs.writeFile(
      path.join(work.path, 'blocklist.json'),
      JSON.stringify({
        version: 1,
        rules: [{ registry: 'go', name: 'blocked.test/evil', version: '*', reason: 'test' }],
      }),
    );
  });
  after(async () => {
    await work[Symbol.asyncDispose]();
  });

  for (const prefetch of [true, false]) {
    test(`prefetch = ${String(prefetch)}`, { timeout: 240_000 }, async () => {
      const upstream = await startUpstream();
      try {
        await using server = await startTestServer({
          config: {
            go: { sumdb: [], private: ['corp.example'], prefetch },
            curation: { mode: 'enforce', blocklist_path: path.join(work.path, 'blocklist.json') },
          },
          env: { NORA_GO_PROXY: upstream.url },
        });
        const home = path.join(work.path, `home-${String(prefetch)}`);
        await fs.rm(path.join(consumer, 'go.sum'), { force: true });
        const result = await goRun(
          ['mod', 'download', 'all'],
          consumer,
          goEnv(home, { GOPROXY: `${server.url}/go`, GOSUMDB: 'off' }),
          false,
        );
        assert.equal(result.code, 0, output(result));
        for (const module of ['pf.test/a', 'pf.test/b', 'pf.test/c']) {
          for (const ext of ['mod', 'zip']) {
            const url = `/${module}/@v/v1.0.0.${ext}`;
            assert.equal(
              upstream.requests.filter((r) => r === url).length,
              1,
              `${url} asked upstream once:\n${upstream.requests.join('\n')}`,
            );
          }
        }
        // Every file at most once: a request that arrived during its prefetch joined it.
        assert.equal(
          new Set(upstream.requests).size,
          upstream.requests.length,
          upstream.requests.join('\n'),
        );
        assert.ok(
          !upstream.requests.some((r) => r.includes('corp.example') || r.includes('blocked.test')),
          upstream.requests.join('\n'),
        );
        const started = await prefetchCount(server, 'started');
        if (prefetch) {
          // At least the three .zips (asked after their .info) and b's and c's .mod were queued.
          assert.ok(started >= 3, `prefetches started: ${started}`);
        } else {
          assert.equal(started, 0);
        }
      } finally {
        await upstream.close();
      }
    });
  }
});

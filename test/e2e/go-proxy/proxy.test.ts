/**
 * Issue 16 "Proof (real clients)", proxy: Debian's `go` builds a consumer of real modules (the
 * sources of Debian's golang-*-dev packages, zipped by golang.org/x/mod/zip into a static GOPROXY
 * tree that nginx serves) through NORA's `/go` group, with its checksums verified through NORA
 * against a test checksum database (golang.org/x/mod/sumdb's server with its own key) behind
 * NORA's `/go/sumdb/<name>/`. Then the upstream and the checksum database are stopped (by PID)
 * and the consumer is built again with an empty module cache and no go.sum, from NORA's cache
 * alone. A private module path ([go] private) never reaches the upstream nor the database.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, test } from 'node:test';
import {
  buildGotree,
  buildTree,
  DEBIAN_MODULES,
  goEnv,
  goRun,
  hasXMod,
  missingGo,
  startNginx,
  startSumdb,
} from '../../helpers/go.ts';
import { startTestServer } from '../../helpers/server.ts';
import { tempDir } from '../../helpers/tmp.ts';

const SUMDB = 'sum.nora.test';

const MAIN_GO = `package main

import (
	"fmt"

	"github.com/kr/pretty"
	"github.com/pkg/errors"
	"github.com/stretchr/testify/assert"
	"gopkg.in/yaml.v3"
)

func main() {
	var v map[string]int
	if err := yaml.Unmarshal([]byte("a: 1\\nb: 2\\n"), &v); err != nil {
		panic(errors.Wrap(err, "yaml"))
	}
	fmt.Println(pretty.Sprint(v), assert.ObjectsAreEqual(v["a"], 1))
}
`;

async function writeConsumer(dir: string, goMod?: string): Promise<void> {
  await fs.mkdir(dir, { recursive: true });
  await fs.writeFile(path.join(dir, 'main.go'), MAIN_GO);
  await fs.writeFile(path.join(dir, 'go.mod'), goMod ?? 'module example.com/consumer\n\ngo 1.19\n');
}

const skip = missingGo() || ((await hasXMod()) ? false : 'Debian golang-golang-x-mod-dev missing');

describe('go proxy: real modules through NORA, checksums through NORA, then from cache', () => {
  test(
    'go mod tidy + build through /go with GOSUMDB via NORA; upstream stopped; build again',
    { skip, timeout: 600_000 },
    async () => {
      await using work = await tempDir('nora-e2e-go-proxy-');
      await fs.chmod(work.path, 0o755);
      const gotree = await buildGotree(path.join(work.path, 'bin'));
      const tree = path.join(work.path, 'www');
      await buildTree(gotree, tree, DEBIAN_MODULES);
      await fs.chmod(tree, 0o755);
      const nginx = await startNginx(path.join(work.path, 'nginx'), tree);
      const sumdb = await startSumdb(gotree, SUMDB, tree);
      try {
        await using server = await startTestServer({
          config: {
            go: {
              metadata_ttl: 0,
              metadata_timeout: 2,
              sumdb: [`${SUMDB}=${sumdb.url}`],
              private: ['corp.example', '*.secret.test'],
            },
          },
          env: { NORA_GO_PROXY: nginx.url },
        });
        const goproxy = `${server.url}/go`;
        const env = (dir: string) =>
          goEnv(dir, {
            GOPROXY: goproxy,
            GOSUMDB: `${sumdb.vkey} ${goproxy}/sumdb/${SUMDB}`,
            // The build cache is shared (module downloads are what is tested, not compiling).
            GOCACHE: path.join(work.path, 'gocache'),
          });

        // Round 1: resolve the imports (lists, 404s for non-module prefixes), download, verify.
        const one = path.join(work.path, 'round-1');
        await writeConsumer(path.join(one, 'src'));
        await goRun(['mod', 'tidy'], path.join(one, 'src'), env(one));
        await goRun(['build', '-o', 'consumer', '.'], path.join(one, 'src'), env(one));
        const goMod = await fs.readFile(path.join(one, 'src', 'go.mod'), 'utf8');
        const goSum = await fs.readFile(path.join(one, 'src', 'go.sum'), 'utf8');
        assert.match(goMod, /github\.com\/stretchr\/testify v1\.8\.1/);
        assert.match(goMod, /gopkg\.in\/yaml\.v3 v3\.0\.1/);
        assert.match(goSum, /gopkg\.in\/yaml\.v3 v3\.0\.1 h1:/);
        // go verified the go.sum lines against the database through NORA.
        assert.ok(
          sumdb.requests.some((p) => p.startsWith('/lookup/gopkg.in/yaml.v3@v3.0.1')),
          sumdb.requests.join('\n'),
        );
        assert.ok(sumdb.requests.some((p) => p.startsWith('/tile/')));
        const run1 = await goRunBinary(path.join(one, 'src', 'consumer'));
        assert.match(run1, /map\[string\]int\{"a":1, "b":2\} true/);

        // Private module paths: 404 from NORA, never asked upstream nor of the database.
        for (const url of [
          `${goproxy}/corp.example/secret/@v/list`,
          `${goproxy}/corp.example/secret/@v/v1.0.0.info`,
          `${goproxy}/corp.example/secret/@latest`,
          `${goproxy}/x.secret.test/lib/@v/v1.0.0.zip`,
          `${goproxy}/sumdb/${SUMDB}/lookup/corp.example/secret@v1.0.0`,
        ]) {
          const res = await fetch(url);
          assert.equal(res.status, 404, url);
          await res.arrayBuffer();
        }
        const privateGet = await goRun(
          ['mod', 'download', 'corp.example/secret@v1.0.0'],
          path.join(one, 'src'),
          env(one),
          false,
        );
        assert.notEqual(privateGet.code, 0);
        const log = await fs.readFile(nginx.accessLog, 'utf8');
        assert.ok(log.split('\n').length > 20, 'the upstream served round 1');
        assert.doesNotMatch(log, /corp\.example|secret\.test/);
        assert.ok(!sumdb.requests.some((p) => p.includes('corp.example')));

        // Round 2: upstream and database stopped; empty module cache, no go.sum.
        await nginx.stop();
        await sumdb.stop();
        const two = path.join(work.path, 'round-2');
        await writeConsumer(path.join(two, 'src'), goMod);
        await goRun(['build', '-o', 'consumer', '.'], path.join(two, 'src'), env(two));
        const goSum2 = await fs.readFile(path.join(two, 'src', 'go.sum'), 'utf8');
        for (const line of goSum2.split('\n').filter((l) => l !== '')) {
          assert.ok(goSum.includes(line), `same go.sum line: ${line}`);
        }
        assert.match(await goRunBinary(path.join(two, 'src', 'consumer')), / true\n/);
        // A list revalidated against a dead upstream is served stale, quickly.
        const started = performance.now();
        const list = await fetch(`${goproxy}/github.com/stretchr/testify/@v/list`);
        assert.equal(list.status, 200);
        assert.equal(list.headers.get('x-nora-stale'), 'true');
        assert.equal(await list.text(), 'v1.8.0\nv1.8.1\n');
        assert.ok(performance.now() - started < 3000);
        const versions = await goRun(
          ['list', '-m', '-versions', 'github.com/stretchr/testify'],
          path.join(two, 'src'),
          env(two),
        );
        assert.match(versions.stdout, /github\.com\/stretchr\/testify v1\.8\.0 v1\.8\.1/);
      } finally {
        await nginx.stop();
        await sumdb.stop();
      }
    },
  );
});

async function goRunBinary(binary: string): Promise<string> {
  const { run } = await import('../../helpers/tools.ts');
  return (await run(binary, [], { timeoutMs: 30_000 })).stdout;
}

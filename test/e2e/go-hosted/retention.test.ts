/**
 * Retention of a hosted Go module repository with Debian's `go` (skipped, saying so, without
 * it): `nora go publish` of corp.example.com/keep v1.0.0, v1.1.0, v1.2.0 and v1.3.0, one after
 * the other; a rule `keep_last = 2` applied through the Go retention adapter deletes v1.0.0 and
 * v1.1.0. Then `go list -m -versions` shows only v1.2.0 and v1.3.0, `go mod download` of a
 * deleted version fails (fresh module cache) and of a kept one works.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, test } from 'node:test';
import { goEnv, goRun } from '../../helpers/go.ts';
import { keepLast } from '../../helpers/retention.ts';
import { startTestServer } from '../../helpers/server.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { findTool, PROJECT_ROOT, run } from '../../helpers/tools.ts';

const NODE = process.execPath;
const NORA = path.join(PROJECT_ROOT, 'bin', 'nora.js');
const missing =
  findTool('go') === undefined ? 'client not installed: go (Debian golang-go)' : false;
const MODULE = 'corp.example.com/keep';

describe(
  'retention keep_last 2 on go-hosted: nora go publish, go sees the kept versions',
  { skip: missing },
  () => {
    test(
      'four versions published, two deleted; go list and go mod download follow',
      { timeout: 600_000 },
      async () => {
        await using work = await tempDir('nora-go-retention-');
        await using nora = await startTestServer({ config: { go: { proxy: '', sumdb: [] } } });
        for (const version of ['v1.0.0', 'v1.1.0', 'v1.2.0', 'v1.3.0']) {
          const dir = path.join(work.path, `keep-${version}`);
          await fs.mkdir(dir, { recursive: true });
          await fs.writeFile(path.join(dir, 'go.mod'), `module ${MODULE}\n\ngo 1.19\n`);
          await fs.writeFile(
            path.join(dir, 'lib.go'),
            `package keep\n\n// Version is the version of this copy.\nfunc Version() string { return "${version}" }\n`,
          );
          const published = await run(
            NODE,
            [NORA, 'go', 'publish', '--registry', `${nora.url}/go`, '--version', version, dir],
            { check: false, timeoutMs: 60_000, env: { ...process.env } },
          );
          assert.equal(published.code, 0, published.stderr);
        }

        const result = await keepLast(nora, 'go', 'go-hosted', 2);
        assert.deepEqual(result.deleted, [`${MODULE}@v1.0.0`, `${MODULE}@v1.1.0`]);
        assert.deepEqual(result.kept, [`${MODULE}@v1.2.0`, `${MODULE}@v1.3.0`]);
        assert.ok(result.bytes > 0);

        const cwd = path.join(work.path, 'cwd');
        await fs.mkdir(cwd);
        const env = (home: string) =>
          goEnv(path.join(work.path, home), { GOPROXY: `${nora.url}/go`, GOSUMDB: 'off' });
        const versions = await goRun(['list', '-m', '-versions', MODULE], cwd, env('go-home-1'));
        assert.equal(versions.stdout.trim(), `${MODULE} v1.2.0 v1.3.0`);
        const gone = await goRun(
          ['mod', 'download', `${MODULE}@v1.1.0`],
          cwd,
          env('go-home-2'),
          false,
        );
        assert.notEqual(gone.code, 0, gone.stdout);
        assert.match(
          gone.stderr,
          /corp\.example\.com\/keep@v1\.1\.0: .*404 Not Found/,
          gone.stderr,
        );
        await goRun(['mod', 'download', `${MODULE}@v1.2.0`], cwd, env('go-home-3'));

        // A second pass finds nothing more to delete.
        const second = await keepLast(nora, 'go', 'go-hosted', 2);
        assert.deepEqual(second.deleted, []);
      },
    );
  },
);

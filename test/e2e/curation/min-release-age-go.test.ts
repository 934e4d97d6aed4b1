/**
 * Minimum release age on the Go module proxy with Debian's `go`: a scripted GOPROXY upstream
 * whose `.info` says v1.0.0 and v1.1.0 are years old and v1.2.0 an hour old. With
 * min_release_age = "1d" in enforce: `@v/list` leaves v1.2.0 out, `go mod download @latest`
 * gets v1.1.0, and `go mod download …@v1.2.0` fails with the 403
 * naming the age and when it becomes available.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { goEnv, goRun } from '../../helpers/go.ts';
import { startGoUpstream } from '../../helpers/go-fixtures.ts';
import { startTestServer } from '../../helpers/server.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { missingTools, output } from '../../helpers/tools.ts';

const MODULE = 'example.com/aged/lib';

test(
  'go through a min release age: the young version is left out of the list and refused with its date',
  { skip: missingTools('go'), timeout: 240_000 },
  async () => {
    await using work = await tempDir('nora-cur-age-go-');
    const young = new Date(Date.now() - 3_600_000).toISOString().slice(0, 19) + 'Z';
    const upstream = await startGoUpstream(
      { [MODULE]: ['v1.0.0', 'v1.1.0', 'v1.2.0'] },
      { [`${MODULE}@v1.2.0`]: young },
    );
    try {
      await using server = await startTestServer({
        config: {
          go: { sumdb: [], negative_cache_ttl: 0, metadata_ttl: 0 },
          curation: { mode: 'enforce', min_release_age: '1d' },
        },
        env: { NORA_GO_PROXY: upstream.url },
      });
      const goproxy = `${server.url}/go`;
      const download = (what: string, home: string) =>
        goRun(
          ['mod', 'download', '-json', what],
          work.path,
          goEnv(path.join(work.path, home), { GOPROXY: goproxy, GOSUMDB: 'off', GONOSUMDB: '*' }),
          false,
        );
      const list = await fetch(`${goproxy}/${MODULE}/@v/list`);
      assert.deepEqual((await list.text()).trim().split('\n').sort(), ['v1.0.0', 'v1.1.0']);

      const latest = await download(`${MODULE}@latest`, 'h-latest');
      assert.equal(latest.code, 0, output(latest));
      assert.equal((JSON.parse(latest.stdout) as { Version: string }).Version, 'v1.1.0');

      const refused = await download(`${MODULE}@v1.2.0`, 'h-young');
      assert.notEqual(refused.code, 0, output(refused));
      assert.match(output(refused), /403 Forbidden/);
      const available = new Date(Date.parse(young) + 86_400_000).toISOString().slice(0, 19);
      assert.match(
        output(refused),
        new RegExp(`min_release_age 1d\\): published .*available from ${available}Z`),
      );
    } finally {
      await upstream.close();
    }
  },
);

test(
  'go get of a package path through a min release age: the 404 of the path lets go fall back to its module',
  { skip: missingTools('go'), timeout: 240_000 },
  async () => {
    await using work = await tempDir('nora-cur-age-go-fallback-');
    // example.test/newc3 has v1.0.0 (years old); example.test/newc3/pkg is no module (404).
    const upstream = await startGoUpstream({ 'example.test/newc3': ['v1.0.0'] });
    try {
      await using server = await startTestServer({
        config: {
          go: { sumdb: [], negative_cache_ttl: 0, metadata_ttl: 0 },
          curation: { mode: 'enforce', min_release_age: '1h' },
        },
        env: { NORA_GO_PROXY: upstream.url },
      });
      await fs.writeFile(path.join(work.path, 'go.mod'), 'module example.test/app\n\ngo 1.21\n');
      const env = goEnv(path.join(work.path, 'home'), {
        GOPROXY: `${server.url}/go`,
        GOSUMDB: 'off',
        GONOSUMDB: '*',
      });
      const got = await goRun(['get', 'example.test/newc3/pkg@v1.0.0'], work.path, env, false);
      // The module zip has no pkg/ directory: go finds the module (the fallback worked) and
      // then says the package is not in it, never a 403 of the package path's probe.
      assert.doesNotMatch(output(got), /403|curation/);
      assert.match(output(got), /example\.test\/newc3@v1\.0\.0/);
      assert.ok(upstream.requests.includes('/example.test/newc3/@v/v1.0.0.zip'));
    } finally {
      await upstream.close();
    }
  },
);

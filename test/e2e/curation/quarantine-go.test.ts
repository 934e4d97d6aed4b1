/**
 * Digest quarantine with Debian's `go`: when a Go version's first-seen clock starts. The clock
 * starts at the first fill of a file go.sum hashes (`.mod`, `.zip`), never at a `.info`: neither
 * the `.info`s the min release age's listing filter reads nor a client's own `.info` request
 * start it, so a listing made days before the download leaves the whole hold to the download.
 * Once started, the version's `.info` is held too.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { goEnv, goRun } from '../../helpers/go.ts';
import { startGoUpstream } from '../../helpers/go-fixtures.ts';
import { startTestServer } from '../../helpers/server.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { missingTools, output } from '../../helpers/tools.ts';

const MODULE = 'example.com/held/lib';

test(
  'go through quarantine: a .info (listing or request) starts no hold; the .mod fill does, then .info is held too',
  { skip: missingTools('go'), timeout: 240_000 },
  async () => {
    await using work = await tempDir('nora-quar-go-');
    const upstream = await startGoUpstream({ [MODULE]: ['v1.0.0', 'v1.1.0', 'v1.2.0'] });
    try {
      await using server = await startTestServer({
        config: {
          // No prefetch: a client's `.info` would otherwise queue the `.zip` (which starts it).
          go: { sumdb: [], negative_cache_ttl: 0, metadata_ttl: 0, prefetch: false },
          curation: {
            mode: 'enforce',
            // An age makes the listing read `.info`s (all versions here are years old).
            min_release_age: '1h',
            quarantine: 'enforce',
            quarantine_ttl: '3d',
          },
        },
        env: { NORA_GO_PROXY: upstream.url },
      });
      const goproxy = `${server.url}/go`;
      const env = goEnv(path.join(work.path, 'home'), {
        GOPROXY: goproxy,
        GOSUMDB: 'off',
        GONOSUMDB: '*',
      });
      // The listing (as `go list -m -versions` reads it; go itself would then read the newest
      // version's `.mod` for its retractions, a download): the filter reads v1.2.0's `.info`.
      const listed = await fetch(`${goproxy}/${MODULE}/@v/list`);
      assert.deepEqual((await listed.text()).trim().split('\n'), ['v1.0.0', 'v1.1.0', 'v1.2.0']);
      assert.ok(upstream.requests.includes(`/${MODULE}/@v/v1.2.0.info`), upstream.requests.join());

      // Read by the listing, or asked directly for the first time: no hold either way.
      for (const version of ['v1.2.0', 'v1.1.0']) {
        const info = await fetch(`${goproxy}/${MODULE}/@v/${version}.info`);
        assert.equal(info.status, 200, `${version}: ${await info.text()}`);
      }

      // The download fills the `.mod`: the clock starts there and the version is held.
      const before = Date.now();
      const refused = await goRun(
        ['mod', 'download', '-json', `${MODULE}@v1.2.0`],
        work.path,
        env,
        false,
      );
      assert.notEqual(refused.code, 0, output(refused));
      assert.match(output(refused), /403 Forbidden/);
      const said = /in quarantine \(first seen (\S+)\) until (\S+);/.exec(output(refused));
      assert.ok(said !== null, output(refused));
      const firstSeen = Date.parse(said[1] ?? '');
      assert.ok(
        firstSeen >= before - 1000,
        `first seen ${said[1]} is the download, not the listing`,
      );
      assert.equal(Date.parse(said[2] ?? '') - firstSeen, 3 * 86_400_000);

      // Held alike from then on: its `.info` is refused too, naming the same release time.
      const held = await fetch(`${goproxy}/${MODULE}/@v/v1.2.0.info`);
      assert.equal(held.status, 403);
      assert.match(await held.text(), new RegExp(`until ${said[2]?.replace(/[.]/g, '\\.')}`));
      // v1.1.0's `.info` was served and its `.mod` never asked: still not held.
      const other = await fetch(`${goproxy}/${MODULE}/@v/v1.1.0.info`);
      assert.equal(other.status, 200, await other.text());
    } finally {
      await upstream.close();
    }
  },
);

/**
 * Garbage from the upstream, with the real `go` command (src/formats/go/proxy.ts checks each
 * `.zip` and `.mod` before anything is kept; a `.zip` whose head is right is answered as sent
 * and checked after, then checked before answering): nginx serves a static GOPROXY tree of a real module
 * (Debian's golang-github-pkg-errors-dev source, zipped by golang.org/x/mod/zip), whose `.zip`
 * has been replaced by garbage. `go mod download` through NORA must report the failure, nothing
 * kept (the proxy addressed alone at /repository/go-proxy answers 502; the /go group, whose
 * failing member is "not here", 404 naming the upstream and the reason: docs/go.md); once the upstream serves the real zip again, the very same
 * command (same module cache) succeeds and the zip go stored is the upstream's, byte for byte.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, test } from 'node:test';
import {
  buildGotree,
  buildTree,
  goEnv,
  goRun,
  hasXMod,
  missingGo,
  startNginx,
} from '../../helpers/go.ts';
import { startTestServer } from '../../helpers/server.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { output } from '../../helpers/tools.ts';

const MODULE = { path: 'github.com/pkg/errors', version: 'v0.9.1' };
const skip =
  missingGo() ||
  ((await hasXMod()) ? false : 'Debian golang-golang-x-mod-dev missing') ||
  ((await fs.stat(`/usr/share/gocode/src/${MODULE.path}`).then(
    () => true,
    () => false,
  ))
    ? false
    : `Debian module source missing: ${MODULE.path} (golang-github-pkg-errors-dev)`);

describe('go mod download through /go when the upstream serves a garbage .zip', () => {
  test(
    'go reports the failure, nothing is kept; the fixed upstream then serves go the real zip',
    { skip, timeout: 120_000 },
    async () => {
      await using work = await tempDir('nora-e2e-go-garbage-');
      await fs.chmod(work.path, 0o755);
      const gotree = await buildGotree(path.join(work.path, 'bin'));
      const tree = path.join(work.path, 'www');
      await buildTree(gotree, tree, [MODULE]);
      await fs.chmod(tree, 0o755);
      const zip = path.join(tree, MODULE.path, '@v', `${MODULE.version}.zip`);
      const real = await fs.readFile(zip);
      // Two kinds of garbage, each the real zip's size: random bytes (a broken mirror), and the
      // real zip's first 2,000 bytes then random ones (a transfer spliced with junk: the head,
      // its first entry's name included, is right).
      // The head is checked before answering; the whole zip after (it is answered as sent,
      // never kept, and checked before answering from then on): `checkedAfter`.
      const garbage = [
        {
          what: 'random bytes',
          bytes: randomBytes(real.length),
          reason: /not a zip archive/,
          checkedAfter: false,
        },
        {
          what: 'a real head, then random bytes',
          bytes: Buffer.concat([real.subarray(0, 2000), randomBytes(real.length - 2000)]),
          reason: /\S/,
          checkedAfter: true,
        },
      ];
      const nginx = await startNginx(path.join(work.path, 'nginx'), tree);
      try {
        await using server = await startTestServer({ env: { NORA_GO_PROXY: nginx.url } });
        const home = path.join(work.path, 'home');
        const download = (goproxy: string) =>
          goRun(
            ['mod', 'download', '-json', `${MODULE.path}@${MODULE.version}`],
            work.path,
            goEnv(home, { GOPROXY: goproxy, GOSUMDB: 'off' }),
            false,
          );
        const group = `${server.url}/go`;
        const alone = `${server.url}/repository/go-proxy`;

        for (const { what, bytes, reason, checkedAfter } of garbage) {
          await fs.writeFile(zip, bytes, { mode: 0o644 });
          if (checkedAfter) {
            // The first download gets the upstream's bytes, as directly, and go refuses them.
            const first = await download(group);
            assert.notEqual(first.code, 0, `${what}\n${output(first)}`);
            assert.match(output(first), /zip|checksum/i, `${what}\n${output(first)}`);
            // Until the check after that answer is done, the file may still be answered.
            for (let i = 0; i < 100; i++) {
              const res = await fetch(`${alone}/${MODULE.path}/@v/${MODULE.version}.zip`);
              await res.body?.cancel();
              if (res.status === 502) break;
              await new Promise((resolve) => setTimeout(resolve, 50));
            }
          }
          // Through the group the failing member is "not here": 404 naming it and why.
          const bad = await download(group);
          assert.notEqual(bad.code, 0, `${what}\n${output(bad)}`);
          assert.match(output(bad), /404 Not Found/, `${what}\n${output(bad)}`);
          const said =
            /upstream go-proxy#0 failed: sent an invalid github\.com\/pkg\/errors\/@v\/v0\.9\.1\.zip: (.*)/.exec(
              output(bad),
            );
          assert.ok(said, `${what}\n${output(bad)}`);
          assert.match(said[1] ?? '', reason, what);
          // The proxy addressed alone: 502.
          const badAlone = await download(alone);
          assert.notEqual(badAlone.code, 0, `${what}\n${output(badAlone)}`);
          assert.match(output(badAlone), /502 Bad Gateway/, `${what}\n${output(badAlone)}`);
          for (const res of [bad, badAlone])
            assert.doesNotMatch(output(res), /\b500\b|Internal Server Error/, output(res));
          const direct = await fetch(`${alone}/${MODULE.path}/@v/${MODULE.version}.zip`);
          assert.equal(direct.status, 502, `${what}: still refused, nothing was kept`);
          await direct.body?.cancel();
        }

        await fs.writeFile(zip, real, { mode: 0o644 });
        const good = await download(group);
        assert.equal(good.code, 0, output(good));
        const info = JSON.parse(good.stdout) as { Zip: string; Error?: string };
        assert.equal(info.Error, undefined, good.stdout);
        assert.deepEqual(await fs.readFile(info.Zip), real, 'the upstream zip, byte for byte');
      } finally {
        await nginx.stop();
      }
    },
  );
});

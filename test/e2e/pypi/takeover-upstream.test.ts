/**
 * `[pypi] shadow_check_upstream` with the real twine: a first upload of a project nobody
 * installed through NORA yet, which the proxy's upstream (a second NORA) has, is refused 409 with
 * the reason twine prints (the reason phrase); with the upstream unreachable it is accepted
 * (the answer's `warning:` line, which twine prints with `--verbose` only; the log has it too). The default (cache
 * only) is test/e2e/pypi/group-takeover.test.ts.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { describe, test } from 'node:test';
import { startTestServer } from '../../helpers/server.ts';
import {
  assertTwineRefused,
  buildProjects,
  indexUrl,
  missingPython,
  output,
  twineWork,
} from '../../helpers/python.ts';

describe('real twine: shadow_check_upstream', () => {
  test(
    '409 for a project only the upstream has; an unreachable upstream does not block the upload',
    { skip: missingPython('build', 'twine'), timeout: 300_000 },
    async () => {
      await using work = await twineWork('nora-e2e-pypi-takeover-upstream-');
      const [upstreamFiles, ownFiles] = await Promise.all([
        buildProjects(work.home, path.join(work.path, 'up'), [
          { name: 'up-unread', version: '1.0' },
        ]),
        buildProjects(work.home, path.join(work.path, 'own'), [
          { name: 'up-unread', version: '9.0' },
        ]),
      ]);
      await using upstream = await startTestServer();
      const seeded = await work.upload(upstream.url, upstreamFiles);
      assert.equal(seeded.code, 0, output(seeded));

      await using server = await startTestServer({
        config: { pypi: { proxy: indexUrl(upstream.url), shadow_check_upstream: true } },
      });
      assertTwineRefused(
        await work.upload(server.url, ownFiles),
        409,
        /refusing to upload project up-unread: it would hide pypi-proxy's releases of it in group pypi \(\[pypi\] shadow_names allows it\)\./,
      );

      const closed = http.createServer();
      await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
      const port = (closed.address() as AddressInfo).port;
      await new Promise((resolve) => closed.close(resolve));
      await using offline = await startTestServer({
        config: {
          pypi: { proxy: `http://127.0.0.1:${port}/simple/`, shadow_check_upstream: true },
        },
      });
      // twine prints a success's body only with --verbose: the `warning:` line is there.
      const accepted = await work.upload(offline.url, ownFiles, ['--verbose']);
      assert.equal(accepted.code, 0, output(accepted));
      assert.match(
        output(accepted).replace(/\s+/g, ' '),
        /warning: could not ask pypi-proxy whether its upstream has project up-unread \(unreachable or too slow, nothing cached\)/,
        output(accepted),
      );
    },
  );
});

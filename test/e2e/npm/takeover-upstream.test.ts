/**
 * `[npm] shadow_check_upstream` with the real npm: a first `npm publish` of a name nobody
 * installed through NORA yet, which the proxy's upstream (a second NORA) has, is refused E409
 * with the reason npm prints; with the upstream unreachable it is accepted (npm prints nothing of
 * the answer's `warnings`: the log has them). The default (cache only) is
 * test/e2e/npm/group-takeover.test.ts.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { describe, test } from 'node:test';
import { startTestServer } from '../../helpers/server.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { findTool, output } from '../../helpers/tools.ts';
import { NpmHttp } from '../../integration/npm/client.ts';
import { npmFor, packageDir } from './clients.ts';

describe('real npm: shadow_check_upstream', () => {
  test(
    'E409 for a name only the upstream has; an unreachable upstream does not block the publish',
    { skip: findTool('npm') === undefined ? 'npm not installed' : false, timeout: 300_000 },
    async () => {
      await using upstream = await startTestServer();
      const up = new NpmHttp(`${upstream.url}/npm`);
      assert.equal((await up.publish({ name: 'up-unread', version: '1.0.0' })).status, 201);
      await using tmp = await tempDir('nora-e2e-npm-takeover-upstream-');

      await using server = await startTestServer({
        config: { npm: { proxy: `${upstream.url}/npm/`, shadow_check_upstream: true } },
      });
      const npm = await npmFor(server.url, path.join(tmp.path, 'a'));
      const refused = await npm(['publish'], await packageDir(tmp.path, 'up-unread', '9.0.0'));
      const text = output(refused);
      assert.notEqual(refused.code, 0, text);
      assert.match(text, /E409/, text);
      assert.match(
        text,
        /refusing to publish package up-unread: it would hide npm-proxy's versions of it in group npm \(\[npm\] shadow_names allows it\)/,
        text,
      );
      const still = await npm(['view', 'up-unread', 'versions', '--json']);
      assert.deepEqual(JSON.parse(still.stdout), ['1.0.0'], output(still));
      const own = await npm(['publish'], await packageDir(tmp.path, 'corp-own', '1.0.0'));
      assert.equal(own.code, 0, output(own));

      const closed = http.createServer();
      await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
      const port = (closed.address() as AddressInfo).port;
      await new Promise((resolve) => closed.close(resolve));
      await using offline = await startTestServer({
        config: { npm: { proxy: `http://127.0.0.1:${port}/`, shadow_check_upstream: true } },
      });
      const npm2 = await npmFor(offline.url, path.join(tmp.path, 'b'));
      const accepted = await npm2(['publish'], await packageDir(tmp.path, 'up-unread', '9.0.0'));
      assert.equal(accepted.code, 0, output(accepted));
      // npm prints nothing of a success's body (the warning is in its `warnings` and the log).
      assert.doesNotMatch(output(accepted), /could not ask/, output(accepted));
    },
  );
});

/**
 * Trial 25 fmts F2 with the real npm: `npm publish` through the default group of a name the
 * group serves from its proxy member (the upstream: a second NORA, its packument cached by an
 * `npm view`) is refused with E409 naming the proxy member and `[npm] shadow_names`, and the
 * upstream's versions stay installable. A name nobody read through NORA is not probed upstream
 * (the probe is cache-only) and publishes. With `shadow_names` listing it, the publish takes the
 * name over; `npm unpublish --force` of every version gives it back to the upstream.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, test } from 'node:test';
import { startTestServer } from '../../helpers/server.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { findTool, output } from '../../helpers/tools.ts';
import { NpmHttp } from '../../integration/npm/client.ts';
import { npmFor, packageDir } from './clients.ts';

const REFUSAL =
  /refusing to publish package up-take: it would hide npm-proxy's versions of it in group npm \(\[npm\] shadow_names allows it\)/;

describe('real npm: a publish through the group onto a proxied name', () => {
  test(
    'E409 naming the proxy member and shadow_names; shadow_names lets it through; unpublish gives the name back',
    { skip: findTool('npm') === undefined ? 'npm not installed' : false, timeout: 300_000 },
    async () => {
      await using upstream = await startTestServer();
      const up = new NpmHttp(`${upstream.url}/npm`);
      assert.equal((await up.publish({ name: 'up-take', version: '1.0.0' })).status, 201);
      assert.equal((await up.publish({ name: 'up-unread', version: '1.0.0' })).status, 201);
      await using tmp = await tempDir('nora-e2e-npm-takeover-');

      await using server = await startTestServer({
        config: { npm: { proxy: `${upstream.url}/npm/` } },
      });
      const npm = await npmFor(server.url, path.join(tmp.path, 'a'));
      const view = await npm(['view', 'up-take', 'version']);
      assert.equal(view.stdout.trim(), '1.0.0', output(view));

      const refused = await npm(['publish'], await packageDir(tmp.path, 'up-take', '9.0.0'));
      const text = output(refused);
      assert.notEqual(refused.code, 0, text);
      assert.match(text, /E409/, text);
      assert.match(text, REFUSAL, text);
      const still = await npm(['view', 'up-take', 'versions', '--json']);
      assert.deepEqual(JSON.parse(still.stdout), ['1.0.0'], output(still));

      // Never read through this NORA: nothing cached, and a write never asks the upstream.
      const unread = await npm(['publish'], await packageDir(tmp.path, 'up-unread', '9.0.0'));
      assert.equal(unread.code, 0, output(unread));

      await using allowed = await startTestServer({
        config: { npm: { proxy: `${upstream.url}/npm/`, shadow_names: ['up-*'] } },
      });
      const npm2 = await npmFor(allowed.url, path.join(tmp.path, 'b'));
      assert.equal((await npm2(['view', 'up-take', 'version'])).stdout.trim(), '1.0.0');
      const taken = await npm2(['publish'], await packageDir(tmp.path, 'up-take', '9.0.0'));
      assert.equal(taken.code, 0, output(taken));
      const hostedOnly = await npm2(['view', 'up-take', 'versions', '--json']);
      assert.deepEqual(JSON.parse(hostedOnly.stdout), ['9.0.0'], output(hostedOnly));

      const unpublished = await npm2(['unpublish', 'up-take', '--force']);
      assert.equal(unpublished.code, 0, output(unpublished));
      const back = await npm2(['view', 'up-take', 'versions', '--json']);
      assert.deepEqual(JSON.parse(back.stdout), ['1.0.0'], output(back));
    },
  );
});

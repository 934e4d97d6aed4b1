/**
 * Trial 23 fmts F3 with the real npm: through the default group, `npm dist-tag add`,
 * `npm deprecate` and `npm unpublish` of a package the group serves from its proxy member (the
 * upstream: a second NORA) fail with E405 and NORA's reason naming the proxy member, not E404
 * "could not be found or you do not have permission" after `npm view` showed the package. The
 * hosted package's dist-tag add still works through the same group.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, test } from 'node:test';
import { startTestServer } from '../../helpers/server.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { findTool, output, run } from '../../helpers/tools.ts';
import { NpmHttp } from '../../integration/npm/client.ts';
import { homeEnv, writeUserNpmrc } from './clients.ts';

const REASON =
  /package up-e2e is not hosted in npm-hosted, the write member of group npm: the group serves it from its proxy member npm-proxy/;

describe('real npm: writes through the group to a proxied package', () => {
  test(
    'dist-tag add, deprecate, unpublish → E405 naming the proxy member; hosted dist-tag add works',
    { skip: findTool('npm') === undefined ? 'npm not installed' : false, timeout: 240_000 },
    async () => {
      await using upstream = await startTestServer();
      assert.equal(
        (await new NpmHttp(`${upstream.url}/npm`).publish({ name: 'up-e2e', version: '1.0.0' }))
          .status,
        201,
      );
      await using server = await startTestServer({
        config: { npm: { proxy: `${upstream.url}/npm/` } },
      });
      const http = new NpmHttp(`${server.url}/npm`);
      assert.equal((await http.publish({ name: 'own-e2e', version: '1.0.0' })).status, 201);
      // Auth is off: any login hands back an (anonymous) token, which npm wants for writes.
      assert.equal((await http.login('e2e', 'e2e-password')).status, 201);
      await using tmp = await tempDir('nora-e2e-proxied-writes-');
      const home = path.join(tmp.path, 'home');
      const registry = `${server.url}/npm/`;
      await fs.mkdir(home, { recursive: true });
      await writeUserNpmrc(home, registry, [
        `${registry.replace(/^https?:/, '')}:_authToken=${http.token ?? ''}`,
      ]);
      const env = homeEnv(home);
      const npm = (args: readonly string[]) =>
        run('npm', [...args, '--registry', registry], {
          cwd: home,
          env,
          check: false,
          timeoutMs: 120_000,
          input: '',
        });

      const view = await npm(['view', 'up-e2e', 'version']);
      assert.equal(view.code, 0, output(view));
      assert.equal(view.stdout.trim(), '1.0.0');
      for (const args of [
        ['dist-tag', 'add', 'up-e2e@1.0.0', 'stable'],
        ['deprecate', 'up-e2e@1.0.0', 'old'],
        ['unpublish', 'up-e2e@1.0.0'],
      ]) {
        const result = await npm(args);
        const text = output(result);
        assert.notEqual(result.code, 0, `npm ${args[0]} must fail: ${text}`);
        assert.match(text, /E405/, `npm ${args[0]}: ${text}`);
        assert.match(text, REASON, `npm ${args[0]}: ${text}`);
        assert.doesNotMatch(text, /could not be found/, `npm ${args[0]}: ${text}`);
      }
      const own = await npm(['dist-tag', 'add', 'own-e2e@1.0.0', 'stable']);
      assert.equal(own.code, 0, output(own));
      const tags = await http.request('GET', '/-/package/own-e2e/dist-tags');
      assert.deepEqual(tags.json(), { latest: '1.0.0', stable: '1.0.0' });
    },
  );
});

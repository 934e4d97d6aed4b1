/**
 * Trial 25 fmts F2 with the real npm: `npm publish` through the default group of a name the
 * group serves from its proxy member (the upstream: a second NORA, its packument cached by an
 * `npm view`) is refused with E409 naming the proxy member and `[npm] shadow_names`, and the
 * upstream's versions stay installable. A name nobody read through NORA is not probed upstream
 * (the probe is cache-only) and publishes. With `shadow_names` listing it, the publish takes the
 * name over; `npm unpublish --force` of every version gives it back to the upstream.
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

const REFUSAL =
  /refusing to publish package up-take: it would hide npm-proxy's versions of it in group npm \(\[npm\] shadow_names allows it\)/;

/** A private HOME whose npm talks to `server`'s `/npm/` with an (anonymous) token. */
async function npmFor(serverUrl: string, dir: string) {
  const http = new NpmHttp(`${serverUrl}/npm`);
  // Auth is off: any login hands back an (anonymous) token, which npm wants for writes.
  assert.equal((await http.login('e2e', 'e2e-password')).status, 201);
  const home = path.join(dir, 'home');
  const registry = `${serverUrl}/npm/`;
  await fs.mkdir(home, { recursive: true });
  await writeUserNpmrc(home, registry, [
    `${registry.replace(/^https?:/, '')}:_authToken=${http.token ?? ''}`,
  ]);
  const env = homeEnv(home);
  return (args: readonly string[], cwd = home) =>
    run('npm', [...args, '--registry', registry], {
      cwd,
      env,
      check: false,
      timeoutMs: 120_000,
      input: '',
    });
}

async function packageDir(root: string, name: string, version: string): Promise<string> {
  const dir = path.join(root, `${name}-${version}`);
  await fs.mkdir(dir, { recursive: true });
  await fs.writeFile(path.join(dir, 'package.json'), JSON.stringify({ name, version }));
  await fs.writeFile(path.join(dir, 'index.js'), `module.exports = '${name}@${version}';\n`);
  return dir;
}

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

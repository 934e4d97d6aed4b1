/**
 * Real npm against a rate-limited NORA (about 10 s): a general-tier burst of 1 refuses npm's second
 * request with 429; npm retries (make-fetch-happen retries 408/420/429 with its own backoff — it does not
 * read Retry-After, so `fetch-retry-mintimeout` sets the wait) and the install still succeeds.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, test } from 'node:test';
import { startTestServer } from '../../helpers/server.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { missingTools, run } from '../../helpers/tools.ts';
import { NpmHttp } from '../../integration/npm/client.ts';
import { isolatedNpmEnv } from '../../helpers/npm-ci.ts';

describe('npm through a rate-limited server (real npm)', { skip: missingTools('npm') }, () => {
  test('npm install retries 429 and succeeds', async () => {
    await using server = await startTestServer({
      config: {
        // One token every 5 s: npm's second request (the tarball) is refused however slowly the
        // machine runs, and npm's retries (1.5 s, then 3 s each) outlast the refill.
        rate_limit: { enabled: true, general_rps: 0.2, general_burst: 1, upload_burst: 10 },
      },
    });
    await using tmp = await tempDir('nora-e2e-ratelimit-');
    const publish = await new NpmHttp(`${server.url}/npm`).publish({
      name: 'limited-pkg',
      version: '1.0.0',
    });
    assert.equal(publish.status, 201, publish.text);

    const home = path.join(tmp.path, 'home');
    const project = path.join(tmp.path, 'project');
    await fs.mkdir(home, { recursive: true });
    await fs.mkdir(project, { recursive: true });
    await fs.writeFile(path.join(home, '.npmrc'), `registry=${server.url}/npm/\n`);
    await fs.writeFile(
      path.join(project, 'package.json'),
      JSON.stringify({ name: 'consumer', version: '1.0.0', license: 'MIT' }),
    );
    const env = isolatedNpmEnv(home, {
      NPM_CONFIG_FETCH_RETRY_MINTIMEOUT: '1500',
      NPM_CONFIG_FETCH_RETRY_MAXTIMEOUT: '3000',
      NPM_CONFIG_FETCH_RETRIES: '5',
    });
    const install = await run('npm', ['install', 'limited-pkg', '--loglevel=http'], {
      cwd: project,
      env,
      check: false,
      timeoutMs: 60_000,
      input: '',
    });
    assert.equal(install.code, 0, `${install.stdout}\n${install.stderr}`);
    const manifest = await fs.readFile(
      path.join(project, 'node_modules', 'limited-pkg', 'package.json'),
      'utf8',
    );
    assert.match(manifest, /"limited-pkg"/);
    // npm did meet the limit and retried (not a vacuous pass).
    assert.match(install.stderr, /attempt \d+ failed with 429/);
    const refused =
      await server.app.context.metrics.registry.getSingleMetricAsString('nora_rate_limited_total');
    assert.match(refused, /nora_rate_limited_total\{tier="general"\} [1-9]/);
  });
});

/**
 * npm-protocol 401s carry `WWW-Authenticate: Basic realm="nora"` so curl, yarn berry, pnpm and
 * other HTTP clients learn that credentials are wanted — except to the npm CLI (User-Agent
 * `npm/…`), which turns any challenged 401 into "Unable to authenticate" / "Incorrect or missing
 * password" in place of our message (npm-registry-fetch check-response.js), so it gets none
 * (new-user trial). Unit: npmChallenge; integration: anonymous and bad-credential 401s.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { npmChallenge } from '../../../src/formats/npm/challenge.ts';
import { startTestServer, type TestServer } from '../../helpers/server.ts';

const NPM_UA = 'npm/11.6.0 node/v24.11.0 linux x64 workspaces/false';
const YARN_UA = 'yarn/4.5.0 npm/? node/v24.11.0 linux x64';
const PNPM_UA = 'pnpm/10.0.0 npm/? node/v24.11.0 linux x64';
const CURL_UA = 'curl/8.14.1';

test('npmChallenge: Basic realm="nora" for every client but the npm CLI', () => {
  assert.equal(npmChallenge(NPM_UA), undefined);
  assert.equal(npmChallenge('npm/10.9.2'), undefined);
  for (const agent of [CURL_UA, YARN_UA, PNPM_UA, 'Renovate/39', undefined, '']) {
    assert.equal(npmChallenge(agent), 'Basic realm="nora"', String(agent));
  }
});

describe('npm 401 answers and WWW-Authenticate', () => {
  let server: TestServer;

  before(async () => {
    server = await startTestServer({ config: { auth: { enabled: true, anonymous_read: false } } });
  });
  after(async () => {
    await server.close();
  });

  const get = (path: string, agent: string, authorization?: string) =>
    fetch(`${server.url}/npm${path}`, {
      headers: {
        'user-agent': agent,
        ...(authorization === undefined ? {} : { authorization }),
      },
    });

  test('an anonymous read: challenged for curl, yarn and pnpm, not for the npm CLI', async () => {
    for (const agent of [CURL_UA, YARN_UA, PNPM_UA]) {
      const res = await get('/left-pad', agent);
      assert.equal(res.status, 401, agent);
      assert.equal(res.headers.get('www-authenticate'), 'Basic realm="nora"', agent);
      assert.ok(((await res.json()) as { error: string }).error, agent);
    }
    const npm = await get('/left-pad', NPM_UA);
    assert.equal(npm.status, 401);
    assert.equal(npm.headers.get('www-authenticate'), null);
    assert.ok(((await npm.json()) as { error: string }).error);
  });

  test('wrong credentials: the same', async () => {
    const bad = `Basic ${Buffer.from('nobody:wrong').toString('base64')}`;
    const curl = await get('/left-pad', CURL_UA, bad);
    assert.equal(curl.status, 401);
    assert.equal(curl.headers.get('www-authenticate'), 'Basic realm="nora"');
    await curl.arrayBuffer();
    const npm = await get('/left-pad', NPM_UA, bad);
    assert.equal(npm.status, 401);
    assert.equal(npm.headers.get('www-authenticate'), null);
    await npm.arrayBuffer();
  });
});

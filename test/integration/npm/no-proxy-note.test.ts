/**
 * npm has no built-in upstream: on the default configuration (no NORA_NPM_PROXY) the `npm`
 * group has no proxy member, and `npm install lodash` got a bare 404 "package lodash not
 * found", which reads as if lodash did not exist. A group with no proxy member now says so (the
 * default group with the variable to set); a hosted repository, where a missing name is simply
 * not published, keeps the plain 404.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startTestServer } from '../../helpers/server.ts';

const NOTE = ' (group npm has no proxy member: set NORA_NPM_PROXY to fetch public packages)';

test('npm 404 on the default group without a proxy names NORA_NPM_PROXY; hosted stays plain', async () => {
  await using server = await startTestServer();
  const error = async (path: string) => {
    const res = await fetch(`${server.url}${path}`);
    assert.equal(res.status, 404, path);
    return ((await res.json()) as { error: string }).error;
  };
  assert.equal(await error('/npm/lodash'), `package lodash not found${NOTE}`);
  assert.equal(await error('/npm/@types/node'), `package @types/node not found${NOTE}`);
  assert.equal(
    await error('/npm/lodash/-/lodash-4.17.21.tgz'),
    `tarball lodash-4.17.21.tgz of lodash not found${NOTE}`,
  );
  // The hosted member by name: nothing to fetch from, nothing to advise.
  assert.equal(await error('/repository/npm-hosted/lodash'), 'package lodash not found');
});

/**
 * Trial 25 fmts F2 for PyPI over HTTP: an upload addressed to pypi-hosted directly of a project
 * the default group serves from its proxy member (its page cached) is refused (409) as one
 * through the group is (test/e2e/pypi/group-takeover.test.ts), and a project whose hosted files
 * were all deleted is no longer hosted: the group serves the upstream's page again (it stayed a
 * 404 "… is hosted in pypi-hosted …: protect_hosted_names").
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startTestServer } from '../../helpers/server.ts';
import { uploadWheel as upload } from './fixtures.ts';

async function files(url: string): Promise<string[] | string> {
  const res = await fetch(url, { headers: { accept: 'application/vnd.pypi.simple.v1+json' } });
  if (res.status !== 200) return `${res.status} ${await res.text()}`;
  return ((await res.json()) as { files: { filename: string }[] }).files.map((f) => f.filename);
}

test('pypi: a direct upload onto a proxied project is 409; deleting every hosted release gives the name back', async () => {
  await using upstream = await startTestServer({ env: { NORA_PYPI_PROXY: 'none' } });
  for (const name of ['up-a', 'up-b']) {
    assert.equal((await upload(`${upstream.url}/simple/`, name, '1.0')).status, 200);
  }
  await using server = await startTestServer({
    config: { pypi: { proxy: `${upstream.url}/simple/`, metadata_ttl: 0 } },
  });
  assert.deepEqual(await files(`${server.url}/simple/up-a/`), ['up_a-1.0-py3-none-any.whl']);

  const direct = await upload(`${server.url}/repository/pypi-hosted/`, 'up-a', '9.0');
  const text = await direct.text();
  assert.equal(direct.status, 409, text);
  const reason =
    "refusing to upload project up-a: it would hide pypi-proxy's releases of it in group pypi ([pypi] shadow_names allows it).";
  assert.equal(text.startsWith(`${reason} It is new in pypi-hosted: `), true, text);
  assert.match(text, /NORA_PYPI_SHADOW_NAMES/);
  // twine prints the reason phrase only: the whole first sentence, not one cut at 200
  // characters after the next sentence's first words (twenty-eighth session, devL 3).
  assert.equal(direct.statusText, reason);
  assert.doesNotMatch(text, /127\.0\.0\.1/, 'no upstream host in the answer');
  assert.deepEqual(await files(`${server.url}/simple/up-a/`), ['up_a-1.0-py3-none-any.whl']);

  // up-b was never read through this NORA: not probed upstream, so it uploads (and hides it).
  assert.equal((await upload(`${server.url}/simple/`, 'up-b', '9.0')).status, 200);
  assert.deepEqual(await files(`${server.url}/simple/up-b/`), ['up_b-9.0-py3-none-any.whl']);
  const deleted = await fetch(`${server.url}/pypi/up-b/9.0`, { method: 'DELETE' });
  assert.equal(deleted.status, 200, await deleted.text());
  assert.deepEqual(
    await files(`${server.url}/simple/up-b/`),
    ['up_b-1.0-py3-none-any.whl'],
    'no hosted file left: the group asks its proxy again',
  );
});

/**
 * `[pypi] shadow_check_upstream` over HTTP: the takeover check of a first upload asks a proxy's
 * upstream about a project nobody installed through NORA yet — only where configured (the
 * default stays cache-only: test/integration/pypi/group-takeover.test.ts). An upstream that has
 * the project: 409; one that lacks it: stored; one unreachable: stored, with a `warning:` line
 * in the answer's text after `OK: … stored`.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { startTestServer } from '../../helpers/server.ts';
import { uploadWheel as upload } from './fixtures.ts';

test('pypi: with shadow_check_upstream, a project the upstream has (never read here) is 409', async () => {
  await using upstream = await startTestServer({ env: { NORA_PYPI_PROXY: 'none' } });
  assert.equal((await upload(`${upstream.url}/simple/`, 'up-a', '1.0')).status, 200);
  await using server = await startTestServer({
    config: { pypi: { proxy: `${upstream.url}/simple/`, shadow_check_upstream: true } },
  });
  const refused = await upload(`${server.url}/simple/`, 'up-a', '9.0');
  const text = await refused.text();
  assert.equal(refused.status, 409, text);
  assert.equal(
    refused.statusText,
    "refusing to upload project up-a: it would hide pypi-proxy's releases of it in group pypi ([pypi] shadow_names allows it).",
  );
  assert.doesNotMatch(text, /127\.0\.0\.1/, 'no upstream host in the answer');

  const fresh = await upload(`${server.url}/simple/`, 'corp-only', '1.0');
  assert.equal(fresh.status, 200);
  assert.equal(await fresh.text(), 'OK: corp_only-1.0-py3-none-any.whl stored\n');
});

test('pypi: with shadow_check_upstream, an unreachable upstream does not block the upload: it warns', async () => {
  const closed = http.createServer();
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(closed.address() as AddressInfo).port}/simple/`;
  await new Promise((resolve) => closed.close(resolve));
  await using server = await startTestServer({
    config: { pypi: { proxy: url, shadow_check_upstream: true } },
  });
  const res = await upload(`${server.url}/repository/pypi-hosted/`, 'up-x', '1.0');
  assert.equal(res.status, 200);
  assert.equal(
    await res.text(),
    "OK: up_x-1.0-py3-none-any.whl stored\nwarning: could not ask pypi-proxy whether its upstream has project up-x (unreachable or too slow, nothing cached): if it does, groups guarding hosted names now serve only pypi-hosted's releases of it (protect_hosted_names)\n",
  );
});

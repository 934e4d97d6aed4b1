/**
 * The audit log over the formats whose uploads do not name the artifact in their path (a PyPI
 * upload posts to the repository's root, a crate to `api/v1/crates/new`) and Maven's plain PUT:
 * each push names what was stored, each read is a pull.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startTestServer } from '../../helpers/server.ts';
import { auditFile, untilEvents } from '../../e2e/audit/helpers.ts';
import { crateBody } from '../cargo/fixtures.ts';
import { makeWheel, makeZip, MULTIPART, multipartBody, twineFields } from '../pypi/fixtures.ts';

test('PyPI upload, crate publish, Maven deploy: push names the artifact; reads are pulls', async () => {
  await using server = await startTestServer();
  const wheel = makeWheel('audit-demo', '1.0');
  const uploaded = await fetch(`${server.url}/simple/`, {
    method: 'POST',
    headers: { 'content-type': MULTIPART },
    body: multipartBody(twineFields('audit-demo', '1.0', wheel), wheel),
  });
  assert.equal(uploaded.status, 200, await uploaded.text());
  const page = await fetch(`${server.url}/simple/audit-demo/`);
  assert.equal(page.status, 200);
  await page.arrayBuffer();

  const published = await fetch(`${server.url}/cargo/api/v1/crates/new`, {
    method: 'PUT',
    body: await crateBody('audit_crate', '0.1.0'),
  });
  assert.equal(published.status, 200, await published.text());

  const jar = `${server.url}/maven2/com/example/lib/1.0/lib-1.0.jar`;
  const deployed = await fetch(jar, {
    method: 'PUT',
    body: makeZip([{ name: 'META-INF/MANIFEST.MF', data: Buffer.from('Manifest-Version: 1.0\n') }]),
  });
  assert.equal(deployed.status, 201, await deployed.text());
  const got = await fetch(jar);
  assert.equal(got.status, 200);
  await got.arrayBuffer();

  const events = await untilEvents(auditFile(server), (all) => all.length >= 5);
  assert.deepEqual(
    events.map((e) => `${e.action} ${e.registry} ${e.artifact}`),
    [
      `push pypi audit-demo/${wheel.filename}`,
      'pull pypi audit-demo/',
      'push cargo audit_crate@0.1.0',
      'push maven com/example/lib/1.0/lib-1.0.jar',
      'pull maven com/example/lib/1.0/lib-1.0.jar',
    ],
  );
});

/**
 * A raw file or Helm chart whose stored bytes were damaged on disk (found on read: 410 at once,
 * hosted content having nothing to refill it, trial 17 auth F3; the damaged file removed) is
 * repaired by uploading the same bytes again, as the 410 and the
 * README promise: the upload is read, its bytes have the stored digest, so they are stored
 * again, and the answer is still the 409 of an immutable path/version, saying so (as Go's
 * hosted repositories answer, test/e2e/go-hosted/repair.test.ts). Other bytes stay 409 and
 * repair nothing.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, test } from 'node:test';
import { buildChart, provenance } from '../../helpers/helm.ts';
import { startTestServer, type TestServer } from '../../helpers/server.ts';

const sha256 = (bytes: Buffer | string) => createHash('sha256').update(bytes).digest('hex');

function blobPath(server: TestServer, hex: string): string {
  return path.join(server.dataDir, 'storage', 'blobs', 'sha256', hex.slice(0, 2), hex);
}

/** Overwrites a stored blob with bytes of the same size that do not match its digest. */
async function damage(server: TestServer, hex: string): Promise<void> {
  const file = blobPath(server, hex);
  const size = (await fs.stat(file)).size;
  await fs.writeFile(file, Buffer.alloc(size, 0x5a));
}

const STORED_AGAIN = /stored again from this identical upload/;

describe('an upload of the same bytes repairs a file damaged on disk', () => {
  test('raw: 410, other bytes 409, same bytes 409 "stored again", then served', async () => {
    await using server = await startTestServer({});
    const url = `${server.url}/raw/fix/tool.bin`;
    const body = 'the original bytes\n';
    assert.equal((await fetch(url, { method: 'PUT', body })).status, 201);
    await damage(server, sha256(body));

    const broken = await fetch(url);
    assert.equal(broken.status, 410);
    const brokenText = await broken.text();
    assert.match(brokenText, /stored file failed its integrity check and was removed/);
    assert.match(brokenText, /upload the same bytes again/);
    assert.equal((await fetch(url)).status, 410);

    // Other bytes: the usual 409, nothing repaired, nothing of them kept.
    const other = await fetch(url, { method: 'PUT', body: 'other bytes\n' });
    assert.equal(other.status, 409);
    assert.doesNotMatch(await other.text(), STORED_AGAIN);
    await assert.rejects(fs.stat(blobPath(server, sha256('other bytes\n'))));
    assert.equal((await fetch(url)).status, 410);

    // `If-None-Match: *` with the same bytes repairs too (412, saying so).
    const createOnly = await fetch(url, {
      method: 'PUT',
      body,
      headers: { 'if-none-match': '*' },
    });
    assert.equal(createOnly.status, 412);
    assert.match(await createOnly.text(), STORED_AGAIN);
    const served = await fetch(url);
    assert.equal(served.status, 200);
    assert.equal(await served.text(), body);

    // Whole again: refused before the body is read, as usual, without the note.
    const again = await fetch(url, { method: 'PUT', body });
    assert.equal(again.status, 409);
    assert.doesNotMatch(await again.text(), STORED_AGAIN);

    // A plain PUT of the same bytes repairs (409). Another file: the one above is now kept in
    // memory (small files, verified when read), so damage on disk no longer reaches its readers.
    const url2 = `${server.url}/raw/fix/tool2.bin`;
    const body2 = 'second file\n';
    assert.equal((await fetch(url2, { method: 'PUT', body: body2 })).status, 201);
    await damage(server, sha256(body2));
    assert.equal((await fetch(url2)).status, 410);
    const repaired = await fetch(url2, { method: 'PUT', body: body2 });
    assert.equal(repaired.status, 409);
    assert.match(await repaired.text(), /already exists.*stored again/);
    assert.equal(await (await fetch(url2)).text(), body2);
  });

  test('Helm: 410, another chart 409, the same chart 409 "stored again" (POST and PUT)', async () => {
    await using server = await startTestServer({});
    const chart = await buildChart({ name: 'fixme', version: '1.0.0' });
    const prov = provenance('fixme', '1.0.0', chart);
    const form = () => {
      const f = new FormData();
      f.append('chart', new Blob([chart]), 'fixme-1.0.0.tgz');
      f.append('prov', new Blob([prov]), 'fixme-1.0.0.tgz.prov');
      return f;
    };
    const post = (body: FormData | Buffer) =>
      fetch(`${server.url}/helm/api/charts`, { method: 'POST', body });
    assert.equal((await post(form())).status, 201);
    const chartUrl = `${server.url}/helm/charts/fixme-1.0.0.tgz`;
    await damage(server, sha256(chart));
    await damage(server, sha256(Buffer.from(prov)));
    const damagedChart = await fetch(chartUrl);
    assert.equal(damagedChart.status, 410);
    assert.match(
      ((await damagedChart.json()) as { error: string }).error,
      /stored file failed its integrity check and was removed/,
    );
    assert.equal((await fetch(`${chartUrl}.prov`)).status, 410);

    // Another archive of the same version: 409, nothing repaired.
    const other = await buildChart({ name: 'fixme', version: '1.0.0', description: 'other' });
    const refused = await post(other);
    assert.equal(refused.status, 409);
    assert.doesNotMatch(((await refused.json()) as { error: string }).error, STORED_AGAIN);
    await assert.rejects(fs.stat(blobPath(server, sha256(other))));
    assert.equal((await fetch(chartUrl)).status, 410);

    // The same chart and provenance file (multipart POST): both stored again, 409 says so.
    const repaired = await post(form());
    assert.equal(repaired.status, 409);
    assert.match(
      ((await repaired.json()) as { error: string }).error,
      /already exists.*its \.tgz and \.tgz\.prov missing from storage were stored again/,
    );
    const got = await fetch(chartUrl);
    assert.equal(got.status, 200);
    assert.equal(sha256(Buffer.from(await got.arrayBuffer())), sha256(chart));
    assert.equal(await (await fetch(`${chartUrl}.prov`)).text(), prov);

    // Plain PUT of the same archive after another damage: repaired too.
    await damage(server, sha256(chart));
    assert.equal((await fetch(chartUrl)).status, 410);
    const put = await fetch(`${server.url}/helm/fixme-1.0.0.tgz`, { method: 'PUT', body: chart });
    assert.equal(put.status, 409);
    assert.match(((await put.json()) as { error: string }).error, /its \.tgz missing .*was stored/);
    assert.equal((await fetch(chartUrl)).status, 200);
    // Whole: the same upload is the plain 409.
    const again = await post(chart);
    assert.equal(again.status, 409);
    assert.doesNotMatch(((await again.json()) as { error: string }).error, STORED_AGAIN);
  });
});

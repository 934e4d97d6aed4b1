/**
 * RFC 9110 §14.5: a PUT with Content-Range is answered 400 (partial PUT is not defined; the
 * fragment would have been stored as the whole file), in each format's own error shape, before
 * the body is read and before authentication; nothing is stored. The OCI upload API under
 * `/v2/` gives Content-Range its own meaning and is left alone.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { buildChart } from '../../helpers/helm.ts';
import { startTestServer } from '../../helpers/server.ts';
import { crateBody } from '../cargo/fixtures.ts';
import { send } from '../../helpers/send.ts';

const RANGE = { 'content-range': 'bytes 100-107/200' };

describe('PUT with Content-Range: 400 everywhere but the OCI upload API', () => {
  test('raw, Helm, Maven, npm and Cargo refuse it; nothing stored; OCI untouched', async () => {
    await using server = await startTestServer({});
    const port = server.port;

    // Raw (curl -T - with the header): plain text, nothing stored.
    const raw = await send(
      port,
      'PUT',
      '/raw/cr/part.bin',
      { ...RANGE, 'content-type': 'application/octet-stream' },
      'partial\n',
    );
    assert.equal(raw.status, 400, raw.body);
    assert.match(raw.headers['content-type'] ?? '', /^text\/plain/);
    assert.match(raw.body, /Content-Range.*not supported/);
    assert.equal((await send(port, 'GET', '/raw/cr/part.bin')).status, 404);
    // Without the header the same PUT is stored.
    const whole = await send(port, 'PUT', '/raw/cr/part.bin', {}, 'partial\n');
    assert.equal(whole.status, 201, whole.body);

    // Helm PUT: ChartMuseum's {"error"} shape, nothing stored.
    const chart = await buildChart({ name: 'cr', version: '1.0.0' });
    const helm = await fetch(`${server.url}/helm/charts/cr-1.0.0.tgz`, {
      method: 'PUT',
      headers: { ...RANGE },
      body: chart,
    });
    assert.equal(helm.status, 400);
    const helmBody = (await helm.json()) as { error: string };
    assert.match(helmBody.error, /Content-Range/);
    assert.equal((await fetch(`${server.url}/helm/charts/cr-1.0.0.tgz`)).status, 404);

    // Maven deploy: refused, nothing stored.
    const pom = '/maven2/com/example/cr/1.0/cr-1.0.pom';
    const maven = await send(port, 'PUT', pom, RANGE, '<project/>');
    assert.equal(maven.status, 400, maven.body);
    assert.match(maven.body, /Content-Range/);
    // Asked of maven-hosted: through /maven2/ a miss is the unreachable default upstream's 502.
    assert.equal(
      (await send(port, 'GET', pom.replace('/maven2/', '/repository/maven-hosted/'))).status,
      404,
    );

    // npm publish (PUT of the packument): refused in npm's {"error"} shape.
    const npm = await send(
      port,
      'PUT',
      '/npm/cr',
      { ...RANGE, 'content-type': 'application/json' },
      '{}',
    );
    assert.equal(npm.status, 400, npm.body);
    assert.match(npm.body, /Content-Range/);

    // Cargo publish (PUT /api/v1/crates/new): refused in Cargo's {"errors":[{"detail"}]} shape,
    // which cargo prints; nothing in the index. Without the header the same body publishes.
    const crate = await crateBody('crpart', '0.1.0');
    const cargo = await fetch(`${server.url}/cargo/api/v1/crates/new`, {
      method: 'PUT',
      headers: { ...RANGE, 'content-type': 'application/octet-stream' },
      body: crate,
    });
    assert.equal(cargo.status, 400);
    assert.match(cargo.headers.get('content-type') ?? '', /^application\/json/);
    const cargoBody = (await cargo.json()) as { errors: { detail: string }[] };
    assert.equal(cargoBody.errors.length, 1, JSON.stringify(cargoBody));
    assert.match(cargoBody.errors[0]?.detail ?? '', /Content-Range.*not supported/);
    const index = `${server.url}/cargo/index/cr/pa/crpart`;
    assert.equal((await fetch(index)).status, 404);
    const cargoWhole = await fetch(`${server.url}/cargo/api/v1/crates/new`, {
      method: 'PUT',
      headers: { 'content-type': 'application/octet-stream' },
      body: crate,
    });
    assert.equal(cargoWhole.status, 200, await cargoWhole.text());
    assert.equal((await fetch(index)).status, 200);

    // OCI: a PUT closing an upload may carry Content-Range; not refused by this rule, the
    // registry's own upload code answers it (here in its error envelope).
    const oci = await send(
      port,
      'PUT',
      `/v2/cr/blobs/uploads/00000000-0000-0000-0000-000000000000?digest=sha256:${'0'.repeat(64)}`,
      { ...RANGE, 'content-type': 'application/octet-stream' },
      'partial\n',
    );
    assert.match(oci.body, /"errors":\[\{"code":"BLOB_UPLOAD_/);
    assert.doesNotMatch(oci.body, /partial upload/);
  });

  test('refused before authentication: an anonymous partial PUT gets the 400, not a 401', async () => {
    await using server = await startTestServer({ config: { auth: { enabled: true } } });
    const raw = await send(server.port, 'PUT', '/raw/cr/x.bin', RANGE, 'partial\n');
    assert.equal(raw.status, 400, raw.body);
  });
});

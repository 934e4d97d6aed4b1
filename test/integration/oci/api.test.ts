/**
 * The OCI distribution API over HTTP: every endpoint, the headers the spec requires, and the
 * error envelope for bad input. Real clients are in test/e2e/oci.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { TestServer } from '../../helpers/server.ts';
import {
  Client,
  expectError,
  startOciServer,
  OCI_CONFIG,
  OCI_INDEX,
  OCI_MANIFEST,
  sha256,
  sha512,
} from './helpers.ts';

let server: TestServer;
let client: Client;

before(async () => {
  server = await startOciServer({ config: { docker: { upstreams: [] } } });
  client = new Client(server.url);
});
after(async () => {
  await server.close();
});

describe('base and listings', () => {
  test('GET /v2/ answers 200 with the API version header', async () => {
    for (const path of ['/v2/', '/v2']) {
      const response = await client.fetch(path);
      assert.equal(response.status, 200);
      assert.equal(response.headers.get('docker-distribution-api-version'), 'registry/2.0');
      assert.deepEqual(await response.json(), {});
    }
    const head = await client.fetch('/v2/', { method: 'HEAD' });
    assert.equal(head.status, 200);
  });

  test('tags/list paginates with n/last and a Link header', async () => {
    for (const tag of ['c', 'a', 'b', 'd']) await client.pushImage('list/img', tag);
    const all = await client.fetch('/v2/list/img/tags/list');
    assert.deepEqual(await all.json(), { name: 'list/img', tags: ['a', 'b', 'c', 'd'] });
    assert.equal(all.headers.get('link'), null);
    const first = await client.fetch('/v2/list/img/tags/list?n=2');
    assert.deepEqual(await first.json(), { name: 'list/img', tags: ['a', 'b'] });
    assert.equal(first.headers.get('link'), '</v2/list/img/tags/list?n=2&last=b>; rel="next"');
    const second = await client.fetch('/v2/list/img/tags/list?n=2&last=b');
    assert.deepEqual(await second.json(), { name: 'list/img', tags: ['c', 'd'] });
    assert.equal(second.headers.get('link'), null);
    const none = await client.fetch('/v2/list/img/tags/list?n=0');
    assert.deepEqual(await none.json(), { name: 'list/img', tags: [] });
    await expectError(
      await client.fetch('/v2/list/img/tags/list?n=x'),
      400,
      'PAGINATION_NUMBER_INVALID',
    );
    await expectError(await client.fetch('/v2/never/pushed/tags/list'), 404, 'NAME_UNKNOWN');
  });

  test('_catalog lists names, paginated', async () => {
    await client.pushImage('cat/one', 'v1');
    await client.pushImage('cat/two', 'v1');
    const all = (await (await client.fetch('/v2/_catalog')).json()) as { repositories: string[] };
    assert.ok(all.repositories.includes('cat/one') && all.repositories.includes('cat/two'));
    assert.deepEqual([...all.repositories].sort(), all.repositories);
    const page = await client.fetch('/v2/_catalog?n=1&last=cat/one');
    assert.deepEqual(await page.json(), { repositories: ['cat/two'] });
    assert.match(
      page.headers.get('link') ?? '',
      /^<\/v2\/_catalog\?n=1&last=cat%2Ftwo>; rel="next"$/,
    );
  });
});

describe('blobs', () => {
  test('monolithic POST ?digest=, then GET/HEAD with digest, ETag, length, ranges', async () => {
    const data = Buffer.from('0123456789');
    const digest = await client.pushBlob('blobs/mono', data);
    const get = await client.fetch(`/v2/blobs/mono/blobs/${digest}`);
    assert.equal(get.status, 200);
    assert.equal(get.headers.get('docker-content-digest'), digest);
    assert.equal(get.headers.get('etag'), `"${digest}"`);
    assert.equal(get.headers.get('content-length'), '10');
    assert.equal(get.headers.get('accept-ranges'), 'bytes');
    assert.equal(await get.text(), '0123456789');
    const head = await client.fetch(`/v2/blobs/mono/blobs/${digest}`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get('content-length'), '10');
    assert.equal(head.headers.get('docker-content-digest'), digest);
    const ranged = await client.fetch(`/v2/blobs/mono/blobs/${digest}`, {
      headers: { range: 'bytes=2-5' },
    });
    assert.equal(ranged.status, 206);
    assert.equal(ranged.headers.get('content-range'), 'bytes 2-5/10');
    assert.equal(await ranged.text(), '2345');
    const suffix = await client.fetch(`/v2/blobs/mono/blobs/${digest}`, {
      headers: { range: 'bytes=-3' },
    });
    assert.equal(await suffix.text(), '789');
    const past = await client.fetch(`/v2/blobs/mono/blobs/${digest}`, {
      headers: { range: 'bytes=10-' },
    });
    assert.equal(past.status, 416);
    assert.equal(past.headers.get('content-range'), 'bytes */10');
    await past.text();
  });

  test('a blob is visible only through its own repository name', async () => {
    const digest = await client.pushBlob('links/a', 'private bytes');
    await expectError(await client.fetch(`/v2/links/b/blobs/${digest}`), 404, 'BLOB_UNKNOWN');
    const head = await client.fetch(`/v2/links/b/blobs/${digest}`, { method: 'HEAD' });
    assert.equal(head.status, 404);
  });

  test('chunked upload: POST, PATCH with Content-Range, GET status, PUT with a last chunk', async () => {
    const start = await client.fetch('/v2/blobs/chunked/blobs/uploads/', { method: 'POST' });
    assert.equal(start.status, 202);
    const location = start.headers.get('location') ?? '';
    const uuid = start.headers.get('docker-upload-uuid') ?? '';
    assert.equal(location, `/v2/blobs/chunked/blobs/uploads/${uuid}`);
    assert.equal(start.headers.get('range'), '0-0');
    const first = await client.fetch(location, {
      method: 'PATCH',
      body: 'hello ',
      headers: { 'content-range': '0-5', 'content-type': 'application/octet-stream' },
    });
    assert.equal(first.status, 202);
    assert.equal(first.headers.get('range'), '0-5');
    assert.equal(first.headers.get('docker-upload-uuid'), uuid);
    const status = await client.fetch(location);
    assert.equal(status.status, 204);
    assert.equal(status.headers.get('range'), '0-5');
    assert.equal(status.headers.get('location'), location);
    // Out of order: starts past the current offset.
    const wrong = await client.fetch(location, {
      method: 'PATCH',
      body: 'xx',
      headers: { 'content-range': '7-8' },
    });
    assert.equal(wrong.status, 416);
    assert.equal(wrong.headers.get('range'), '0-5');
    // Every 416 carries what a 202 carries, so the client resumes from the refusal itself.
    assert.equal(wrong.headers.get('location'), location);
    assert.equal(wrong.headers.get('docker-upload-uuid'), uuid);
    await wrong.text();
    // A malformed Content-Range (trial 13 F6: it came without Range or Location): 416 with the
    // session's offset, nothing written.
    for (const header of ['6-', 'bytes 6-7/7', 'garbage', '7-6']) {
      const malformed = await client.fetch(location, {
        method: 'PATCH',
        body: 'xx',
        headers: { 'content-range': header },
      });
      assert.equal(malformed.status, 416, header);
      assert.equal(malformed.headers.get('range'), '0-5', header);
      assert.equal(malformed.headers.get('location'), location, header);
      assert.equal(malformed.headers.get('docker-upload-uuid'), uuid, header);
      assert.match(
        await malformed.text(),
        /"code":"BLOB_UPLOAD_INVALID".*invalid Content-Range.*nothing was written \(current offset 6\)/,
        header,
      );
    }
    // Starts at the offset but its range names 2 bytes and the body has 20: 416 saying that,
    // not "does not start at the current offset"; nothing written.
    const mismatched = await client.fetch(location, {
      method: 'PATCH',
      body: 'x'.repeat(20),
      headers: { 'content-range': '6-7' },
    });
    assert.equal(mismatched.status, 416);
    assert.equal(mismatched.headers.get('range'), '0-5');
    assert.equal(mismatched.headers.get('location'), location);
    assert.match(
      await mismatched.text(),
      /"code":"BLOB_UPLOAD_INVALID".*Content-Range 6-7 names 2 bytes but the chunk's Content-Length is 20; nothing was written/,
    );
    // RFC 9110's form, what generic HTTP tooling sends (`bytes a-b/length`), is taken too.
    const second = await client.fetch(location, {
      method: 'PATCH',
      body: 'chunked ',
      headers: { 'content-range': 'bytes 6-13/19' },
    });
    assert.equal(second.status, 202);
    assert.equal(second.headers.get('range'), '0-13');
    const digest = sha256('hello chunked world');
    const done = await client.fetch(`${location}?digest=${digest}`, {
      method: 'PUT',
      body: 'world',
      headers: { 'content-range': '14-18' },
    });
    assert.equal(done.status, 201, await done.text());
    assert.equal(done.headers.get('location'), `/v2/blobs/chunked/blobs/${digest}`);
    assert.equal(done.headers.get('docker-content-digest'), digest);
    assert.equal(
      await (await client.fetch(`/v2/blobs/chunked/blobs/${digest}`)).text(),
      'hello chunked world',
    );
    // The session is gone once committed.
    await expectError(await client.fetch(location), 404, 'BLOB_UPLOAD_UNKNOWN');
  });

  test('streamed PATCH without Content-Range (chunked transfer encoding), PUT without body', async () => {
    const start = await client.fetch('/v2/blobs/streamed/blobs/uploads/', { method: 'POST' });
    const location = start.headers.get('location') ?? '';
    const parts = [Buffer.alloc(300_000, 1), Buffer.alloc(200_000, 2)];
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        for (const part of parts) controller.enqueue(part);
        controller.close();
      },
    });
    const patch = await client.fetch(location, {
      method: 'PATCH',
      body,
      duplex: 'half',
    });
    assert.equal(patch.status, 202);
    assert.equal(patch.headers.get('range'), '0-499999');
    const whole = Buffer.concat(parts);
    const done = await client.fetch(`${location}?digest=${sha256(whole)}`, { method: 'PUT' });
    assert.equal(done.status, 201, await done.text());
    const get = await client.fetch(`/v2/blobs/streamed/blobs/${sha256(whole)}`);
    assert.deepEqual(Buffer.from(await get.arrayBuffer()), whole);
  });

  test('sha512 digests: monolithic and chunked', async () => {
    const data = Buffer.from('sha512 content');
    const digest = sha512(data);
    const mono = await client.fetch(`/v2/blobs/sha512/blobs/uploads/?digest=${digest}`, {
      method: 'POST',
      body: data,
    });
    assert.equal(mono.status, 201, await mono.text());
    assert.equal(mono.headers.get('docker-content-digest'), digest);
    const get = await client.fetch(`/v2/blobs/sha512/blobs/${digest}`);
    assert.equal(get.headers.get('docker-content-digest'), digest);
    assert.equal(await get.text(), 'sha512 content');
    const start = await client.fetch('/v2/blobs/sha512/blobs/uploads/', { method: 'POST' });
    const location = start.headers.get('location') ?? '';
    await client.fetch(location, { method: 'PATCH', body: 'chunked sha512' });
    const done = await client.fetch(`${location}?digest=${sha512('chunked sha512')}`, {
      method: 'PUT',
    });
    assert.equal(done.status, 201, await done.text());
  });

  test('digest mismatch → 400 DIGEST_INVALID and nothing stored', async () => {
    const wrong = sha256('something else');
    await expectError(
      await client.fetch(`/v2/blobs/bad/blobs/uploads/?digest=${wrong}`, {
        method: 'POST',
        body: 'actual',
      }),
      400,
      'DIGEST_INVALID',
    );
    await expectError(await client.fetch(`/v2/blobs/bad/blobs/${wrong}`), 404, 'BLOB_UNKNOWN');
    await expectError(
      await client.fetch(`/v2/blobs/bad/blobs/${sha256('actual')}`),
      404,
      'BLOB_UNKNOWN',
    );
    const start = await client.fetch('/v2/blobs/bad/blobs/uploads/', { method: 'POST' });
    const location = start.headers.get('location') ?? '';
    await client.fetch(location, { method: 'PATCH', body: 'actual' });
    await expectError(
      await client.fetch(`${location}?digest=${wrong}`, { method: 'PUT' }),
      400,
      'DIGEST_INVALID',
    );
    await expectError(
      await client.fetch(`/v2/blobs/bad/blobs/${sha256('actual')}`),
      404,
      'BLOB_UNKNOWN',
    );
  });

  test('bad digests and unknown sessions', async () => {
    await expectError(await client.fetch('/v2/blobs/x/blobs/sha256:abc'), 400, 'DIGEST_INVALID');
    await expectError(await client.fetch('/v2/blobs/x/blobs/md5:abc'), 400, 'DIGEST_INVALID');
    await expectError(
      await client.fetch('/v2/blobs/x/blobs/uploads/?digest=sha256:zz', {
        method: 'POST',
        body: 'a',
      }),
      400,
      'DIGEST_INVALID',
    );
    const unknown = '/v2/blobs/x/blobs/uploads/00000000-0000-4000-8000-000000000000';
    await expectError(await client.fetch(unknown), 404, 'BLOB_UPLOAD_UNKNOWN');
    await expectError(
      await client.fetch(unknown, { method: 'PATCH', body: 'a' }),
      404,
      'BLOB_UPLOAD_UNKNOWN',
    );
    await expectError(
      await client.fetch('/v2/blobs/x/blobs/uploads/not-a-uuid'),
      404,
      'BLOB_UPLOAD_UNKNOWN',
    );
    const start = await client.fetch('/v2/blobs/x/blobs/uploads/', { method: 'POST' });
    const location = start.headers.get('location') ?? '';
    await expectError(await client.fetch(location, { method: 'PUT' }), 400, 'DIGEST_INVALID');
    // A session belongs to its name.
    await expectError(
      await client.fetch(location.replace('/blobs/x/', '/blobs/y/')),
      404,
      'BLOB_UPLOAD_UNKNOWN',
    );
    await expectError(
      await client.fetch(location, {
        method: 'PATCH',
        body: 'ab',
        headers: { 'content-range': 'garbage' },
      }),
      416,
      'BLOB_UPLOAD_INVALID',
    );
    // A session that is not there is its 404 first, whatever the header.
    await expectError(
      await client.fetch(location.replace('/blobs/x/', '/blobs/y/'), {
        method: 'PATCH',
        body: 'ab',
        headers: { 'content-range': 'garbage' },
      }),
      404,
      'BLOB_UPLOAD_UNKNOWN',
    );
  });

  test('DELETE cancels an upload session', async () => {
    const start = await client.fetch('/v2/blobs/cancel/blobs/uploads/', { method: 'POST' });
    const location = start.headers.get('location') ?? '';
    await client.fetch(location, { method: 'PATCH', body: 'partial' });
    const cancel = await client.fetch(location, { method: 'DELETE' });
    assert.equal(cancel.status, 204);
    await expectError(await client.fetch(location), 404, 'BLOB_UPLOAD_UNKNOWN');
    await expectError(
      await client.fetch(location, { method: 'DELETE' }),
      404,
      'BLOB_UPLOAD_UNKNOWN',
    );
  });

  test('DELETE blob removes the link only', async () => {
    const digest = await client.pushBlob('blobs/del', 'delete me');
    await client.pushBlob('blobs/keep', 'delete me');
    const deleted = await client.fetch(`/v2/blobs/del/blobs/${digest}`, { method: 'DELETE' });
    assert.equal(deleted.status, 202);
    await expectError(await client.fetch(`/v2/blobs/del/blobs/${digest}`), 404, 'BLOB_UNKNOWN');
    assert.equal(await (await client.fetch(`/v2/blobs/keep/blobs/${digest}`)).text(), 'delete me');
    await expectError(
      await client.fetch(`/v2/blobs/del/blobs/${digest}`, { method: 'DELETE' }),
      404,
      'BLOB_UNKNOWN',
    );
  });

  test('cross-repository mount with from, without from, and not mountable', async () => {
    const digest = await client.pushBlob('mount/src', 'mountable');
    const mounted = await client.fetch(
      `/v2/mount/dst/blobs/uploads/?mount=${digest}&from=mount/src`,
      { method: 'POST' },
    );
    assert.equal(mounted.status, 201);
    assert.equal(mounted.headers.get('location'), `/v2/mount/dst/blobs/${digest}`);
    assert.equal(mounted.headers.get('docker-content-digest'), digest);
    assert.equal(await (await client.fetch(`/v2/mount/dst/blobs/${digest}`)).text(), 'mountable');
    const auto = await client.fetch(`/v2/mount/auto/blobs/uploads/?mount=${digest}`, {
      method: 'POST',
    });
    assert.equal(auto.status, 201);
    const missing = sha256('nowhere');
    const fallback = await client.fetch(
      `/v2/mount/dst2/blobs/uploads/?mount=${missing}&from=mount/src`,
      { method: 'POST' },
    );
    assert.equal(fallback.status, 202);
    assert.match(
      fallback.headers.get('location') ?? '',
      /^\/v2\/mount\/dst2\/blobs\/uploads\/[0-9a-f-]{36}$/,
    );
  });

  test('an interrupted upload commits nothing', async () => {
    const data = Buffer.alloc(1_000_000, 7);
    const digest = sha256(data);
    const { request } = await import('node:http');
    await new Promise<void>((resolve) => {
      const req = request(`${server.url}/v2/blobs/cut/blobs/uploads/?digest=${digest}`, {
        method: 'POST',
        headers: { 'content-length': String(data.length) },
      });
      req.on('error', () => {
        resolve();
      });
      req.write(data.subarray(0, 100_000), () => {
        setTimeout(() => {
          req.destroy();
          resolve();
        }, 50);
      });
    });
    await new Promise((r) => setTimeout(r, 100));
    await expectError(await client.fetch(`/v2/blobs/cut/blobs/${digest}`), 404, 'BLOB_UNKNOWN');
  });
});

describe('manifests', () => {
  test('PUT by tag, GET/HEAD by tag and digest with every header', async () => {
    const image = await client.pushImage('man/basic', 'v1');
    for (const ref of ['v1', image.digest]) {
      const get = await client.fetch(`/v2/man/basic/manifests/${ref}`);
      assert.equal(get.status, 200);
      assert.equal(get.headers.get('content-type'), OCI_MANIFEST);
      assert.equal(get.headers.get('docker-content-digest'), image.digest);
      assert.equal(get.headers.get('etag'), `"${image.digest}"`);
      assert.equal(get.headers.get('content-length'), String(Buffer.byteLength(image.body)));
      assert.equal(await get.text(), image.body);
      // A tag moves: revalidated by a shared cache on each use; a digest names fixed bytes.
      const cacheControl = ref === 'v1' ? 'no-cache' : null;
      assert.equal(get.headers.get('cache-control'), cacheControl);
      const head = await client.fetch(`/v2/man/basic/manifests/${ref}`, { method: 'HEAD' });
      assert.equal(head.status, 200);
      assert.equal(head.headers.get('cache-control'), cacheControl);
      assert.equal(head.headers.get('content-length'), String(Buffer.byteLength(image.body)));
      assert.equal(head.headers.get('docker-content-digest'), image.digest);
    }
    const cached = await client.fetch('/v2/man/basic/manifests/v1', {
      headers: { 'if-none-match': `"${image.digest}"` },
    });
    assert.equal(cached.status, 304);
    assert.equal(cached.headers.get('cache-control'), 'no-cache');
    await expectError(await client.fetch('/v2/man/basic/manifests/v2'), 404, 'MANIFEST_UNKNOWN');
    const headMissing = await client.fetch('/v2/man/basic/manifests/v2', { method: 'HEAD' });
    assert.equal(headMissing.status, 404);
  });

  test('PUT by digest (sha256 and sha512) with ?tag=', async () => {
    const image = await client.pushImage('man/digest', 'seed');
    const response = await client.fetch(`/v2/man/digest/manifests/${image.digest}?tag=t1&tag=t2`, {
      method: 'PUT',
      body: image.body,
      headers: { 'content-type': OCI_MANIFEST },
    });
    assert.equal(response.status, 201);
    assert.equal(response.headers.get('location'), `/v2/man/digest/manifests/${image.digest}`);
    const tags = (await (await client.fetch('/v2/man/digest/tags/list')).json()) as {
      tags: string[];
    };
    assert.deepEqual(tags.tags, ['seed', 't1', 't2']);
    const d512 = sha512(image.body);
    const put512 = await client.fetch(`/v2/man/digest/manifests/${d512}`, {
      method: 'PUT',
      body: image.body,
      headers: { 'content-type': OCI_MANIFEST },
    });
    assert.equal(put512.status, 201);
    assert.equal(put512.headers.get('docker-content-digest'), d512);
    const get512 = await client.fetch(`/v2/man/digest/manifests/${d512}`);
    assert.equal(get512.headers.get('docker-content-digest'), d512);
    assert.equal(await get512.text(), image.body);
    await expectError(
      await client.fetch(`/v2/man/digest/manifests/${sha256('other')}`, {
        method: 'PUT',
        body: image.body,
        headers: { 'content-type': OCI_MANIFEST },
      }),
      400,
      'DIGEST_INVALID',
    );
  });

  test('Docker schema2 manifest and manifest list, OCI index', async () => {
    const cfg = await client.pushBlob('man/docker', '{"os":"linux"}');
    const layer = await client.pushBlob('man/docker', 'docker layer');
    const schema2 = JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
      config: {
        mediaType: 'application/vnd.docker.container.image.v1+json',
        digest: cfg,
        size: 14,
      },
      layers: [
        { mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip', digest: layer, size: 12 },
      ],
    });
    const d1 = await client.putManifest(
      'man/docker',
      'amd64',
      schema2,
      'application/vnd.docker.distribution.manifest.v2+json',
    );
    const list = JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.docker.distribution.manifest.list.v2+json',
      manifests: [
        {
          mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
          digest: d1,
          size: Buffer.byteLength(schema2),
          platform: { architecture: 'amd64', os: 'linux' },
        },
      ],
    });
    await client.putManifest(
      'man/docker',
      'latest',
      list,
      'application/vnd.docker.distribution.manifest.list.v2+json',
    );
    const get = await client.fetch('/v2/man/docker/manifests/latest');
    assert.equal(
      get.headers.get('content-type'),
      'application/vnd.docker.distribution.manifest.list.v2+json',
    );
    assert.equal(await get.text(), list);
    const index = JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_INDEX,
      manifests: [{ mediaType: OCI_MANIFEST, digest: sha256('missing child'), size: 3 }],
    });
    await expectError(
      await client.fetch('/v2/man/docker/manifests/idx', {
        method: 'PUT',
        body: index,
        headers: { 'content-type': OCI_INDEX },
      }),
      400,
      'MANIFEST_BLOB_UNKNOWN',
    );
  });

  test('a manifest an index lists cannot be deleted while the index is there (409 MANIFEST_REFERENCED)', async () => {
    const amd = await client.pushImage('man/multi', 'amd', { layer: 'amd layer' });
    const arm = await client.pushImage('man/multi', 'arm', { layer: 'arm layer' });
    const entry = (digest: string, body: string, architecture: string) => ({
      mediaType: OCI_MANIFEST,
      digest,
      size: Buffer.byteLength(body),
      platform: { architecture, os: 'linux' },
    });
    const index = JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_INDEX,
      manifests: [entry(amd.digest, amd.body, 'amd64'), entry(arm.digest, arm.body, 'arm64')],
    });
    const indexDigest = await client.putManifest('man/multi', 'latest', index, OCI_INDEX);
    // A nested index listing that index: deleting the inner one is refused the same way.
    const outer = JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_INDEX,
      manifests: [{ mediaType: OCI_INDEX, digest: indexDigest, size: Buffer.byteLength(index) }],
    });
    const outerDigest = await client.putManifest('man/multi', 'outer', outer, OCI_INDEX);

    const refused = await client.fetch(`/v2/man/multi/manifests/${arm.digest}`, {
      method: 'DELETE',
    });
    const body = await expectError(refused, 409, 'MANIFEST_REFERENCED');
    assert.match(body.errors[0]?.message ?? '', new RegExp(`${indexDigest} \\(tags: latest\\)`));
    assert.deepEqual(body.errors[0]?.detail, {
      digest: arm.digest,
      referencedBy: [{ digest: indexDigest, tags: ['latest'] }],
    });
    // Nothing changed: the child and the index are still served, and so is its tag.
    assert.equal((await client.fetch(`/v2/man/multi/manifests/${arm.digest}`)).status, 200);
    assert.equal((await client.fetch('/v2/man/multi/manifests/arm')).status, 200);
    assert.equal((await client.fetch('/v2/man/multi/manifests/latest')).status, 200);
    await expectError(
      await client.fetch(`/v2/man/multi/manifests/${indexDigest}`, { method: 'DELETE' }),
      409,
      'MANIFEST_REFERENCED',
    );
    // Deleting a tag of a listed manifest removes only the tag.
    const untag = await client.fetch('/v2/man/multi/manifests/arm', { method: 'DELETE' });
    assert.equal(untag.status, 202);
    // Parents first, then the children.
    for (const digest of [outerDigest, indexDigest, arm.digest, amd.digest]) {
      const deleted = await client.fetch(`/v2/man/multi/manifests/${digest}`, {
        method: 'DELETE',
      });
      assert.equal(deleted.status, 202, `${digest}: ${await deleted.text()}`);
    }
    assert.equal((await client.fetch(`/v2/man/multi/manifests/${arm.digest}`)).status, 404);
  });

  test('invalid manifests: unknown blobs, bad JSON, bad schema, wrong media type, too big', async () => {
    const put = (body: string | Buffer, type = OCI_MANIFEST, ref = 'bad') =>
      client.fetch(`/v2/man/invalid/manifests/${ref}`, {
        method: 'PUT',
        body,
        headers: { 'content-type': type },
      });
    const ghost = JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: OCI_CONFIG, digest: sha256('ghost config'), size: 12 },
      layers: [],
    });
    const unknown = await expectError(await put(ghost), 400, 'MANIFEST_BLOB_UNKNOWN');
    assert.deepEqual(unknown.errors[0]?.detail, { digest: sha256('ghost config') });
    await expectError(await put('{not json'), 400, 'MANIFEST_INVALID');
    await expectError(await put('[]'), 400, 'MANIFEST_INVALID');
    await expectError(await put(JSON.stringify({ schemaVersion: 1 })), 400, 'MANIFEST_INVALID');
    await expectError(
      await put(
        JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: { digest: 'x' } }),
      ),
      400,
      'MANIFEST_INVALID',
    );
    await expectError(
      await put(JSON.stringify({ schemaVersion: 2, mediaType: 'text/plain' })),
      400,
      'MANIFEST_INVALID',
    );
    await expectError(
      await put(
        JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [] }),
        OCI_MANIFEST,
      ),
      400,
      'MANIFEST_INVALID',
    );
    const huge = Buffer.alloc(4 * 1024 * 1024 + 10, 0x20);
    const tooBig = await put(huge);
    assert.equal(tooBig.status, 413);
    await tooBig.text();
    await expectError(await put('{}', OCI_MANIFEST, 'bad!tag'), 400, 'MANIFEST_INVALID');
    await expectError(await put('{}', OCI_MANIFEST, '-leadingdash'), 400, 'MANIFEST_INVALID');
    await expectError(await client.fetch('/v2/man/invalid/tags/list'), 404, 'NAME_UNKNOWN');
  });

  test('DELETE by tag keeps the manifest; DELETE by digest removes it and its tags; blobs stay', async () => {
    const image = await client.pushImage('man/delete', 'v1');
    const second = await client.fetch(`/v2/man/delete/manifests/${image.digest}?tag=v2`, {
      method: 'PUT',
      body: image.body,
      headers: { 'content-type': OCI_MANIFEST },
    });
    assert.equal(second.status, 201);
    assert.equal(
      (await client.fetch('/v2/man/delete/manifests/v1', { method: 'DELETE' })).status,
      202,
    );
    await expectError(await client.fetch('/v2/man/delete/manifests/v1'), 404, 'MANIFEST_UNKNOWN');
    assert.equal((await client.fetch('/v2/man/delete/manifests/v2')).status, 200);
    assert.equal(
      (await client.fetch(`/v2/man/delete/manifests/${image.digest}`, { method: 'DELETE' })).status,
      202,
    );
    await expectError(
      await client.fetch(`/v2/man/delete/manifests/${image.digest}`),
      404,
      'MANIFEST_UNKNOWN',
    );
    await expectError(await client.fetch('/v2/man/delete/manifests/v2'), 404, 'MANIFEST_UNKNOWN');
    await expectError(
      await client.fetch(`/v2/man/delete/manifests/${image.digest}`, { method: 'DELETE' }),
      404,
      'MANIFEST_UNKNOWN',
    );
    assert.equal((await client.fetch(`/v2/man/delete/blobs/${image.layer}`)).status, 200);
  });

  test('unsupported methods → 405 UNSUPPORTED', async () => {
    await expectError(
      await client.fetch('/v2/man/basic/manifests/v1', { method: 'POST' }),
      405,
      'UNSUPPORTED',
    );
    await expectError(await client.fetch('/v2/_catalog', { method: 'DELETE' }), 405, 'UNSUPPORTED');
  });
});

describe('referrers', () => {
  test('lists manifests by subject, filters by artifactType, answers OCI-Subject', async () => {
    const subject = await client.pushImage('ref/app', 'v1');
    const empty = await client.pushBlob('ref/app', '{}');
    const artifact = (artifactType: string, note: string) =>
      JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI_MANIFEST,
        artifactType,
        config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: empty, size: 2 },
        layers: [],
        subject: {
          mediaType: OCI_MANIFEST,
          digest: subject.digest,
          size: Buffer.byteLength(subject.body),
        },
        annotations: { note },
      });
    const sig = artifact('application/vnd.example.sig', 'signature');
    const sbom = artifact('application/vnd.example.sbom', 'sbom');
    for (const body of [sig, sbom]) {
      const response = await client.fetch(`/v2/ref/app/manifests/${sha256(body)}`, {
        method: 'PUT',
        body,
        headers: { 'content-type': OCI_MANIFEST },
      });
      assert.equal(response.status, 201, await response.text());
      assert.equal(response.headers.get('oci-subject'), subject.digest);
    }
    const all = await client.fetch(`/v2/ref/app/referrers/${subject.digest}`);
    assert.equal(all.status, 200);
    assert.equal(all.headers.get('content-type'), OCI_INDEX);
    const index = (await all.json()) as {
      schemaVersion: number;
      mediaType: string;
      manifests: {
        digest: string;
        artifactType: string;
        annotations: Record<string, string>;
        size: number;
      }[];
    };
    assert.equal(index.schemaVersion, 2);
    assert.equal(index.mediaType, OCI_INDEX);
    assert.deepEqual(
      index.manifests.map((m) => m.digest).sort(),
      [sha256(sig), sha256(sbom)].sort(),
    );
    const sigEntry = index.manifests.find((m) => m.digest === sha256(sig));
    assert.ok(sigEntry);
    assert.equal(sigEntry.artifactType, 'application/vnd.example.sig');
    assert.deepEqual(sigEntry.annotations, { note: 'signature' });
    assert.equal(sigEntry.size, Buffer.byteLength(sig));
    const filtered = await client.fetch(
      `/v2/ref/app/referrers/${subject.digest}?artifactType=application/vnd.example.sbom`,
    );
    assert.equal(filtered.headers.get('oci-filters-applied'), 'artifactType');
    const only = (await filtered.json()) as { manifests: { digest: string }[] };
    assert.deepEqual(
      only.manifests.map((m) => m.digest),
      [sha256(sbom)],
    );
    const none = await client.fetch(`/v2/ref/app/referrers/${sha256('no such subject')}`);
    assert.equal(none.status, 200);
    assert.deepEqual(((await none.json()) as { manifests: unknown[] }).manifests, []);
    await expectError(await client.fetch('/v2/ref/app/referrers/latest'), 400, 'DIGEST_INVALID');
  });
});

describe('names and paths', () => {
  test('names of any depth, and the NORA seed names', async () => {
    for (const name of [
      'myapp',
      'org/image',
      'a/b/c/image',
      'a/b/c/d/e/f/g/deep',
      'x/blobs/y',
      'x/manifests/z',
    ]) {
      const image = await client.pushImage(name, 'latest');
      const get = await client.fetch(`/v2/${name}/manifests/latest`);
      assert.equal(get.status, 200, name);
      assert.equal(get.headers.get('docker-content-digest'), image.digest);
      await get.text();
    }
  });

  test('invalid names, encoded slashes, traversal and NUL → 400 NAME_INVALID', async () => {
    for (const path of [
      '/v2/Upper/tags/list',
      '/v2/a//b/tags/list',
      '/v2/a/%2Fb/tags/list',
      '/v2/a%2Fb/tags/list',
      '/v2/a/%00/tags/list',
      '/v2/-a/tags/list',
      '/v2/a__-b/tags/list',
      `/v2/${'a'.repeat(256)}/tags/list`,
    ]) {
      await expectError(await client.fetch(path), 400, 'NAME_INVALID');
    }
    // fetch() would normalise these away: send them raw.
    const { request } = await import('node:http');
    for (const path of [
      '/v2/a/../b/tags/list',
      '/v2/a/%2e%2e/b/tags/list',
      '/v2/a/./b/manifests/x',
    ]) {
      const { status, body } = await new Promise<{ status: number; body: string }>(
        (resolve, reject) => {
          const req = request(
            { host: '127.0.0.1', port: server.port, path, method: 'GET' },
            (res) => {
              let text = '';
              res.on('data', (chunk: Buffer) => (text += chunk.toString()));
              res.on('end', () => {
                resolve({ status: res.statusCode ?? 0, body: text });
              });
            },
          );
          req.on('error', reject);
          req.end();
        },
      );
      assert.equal(status, 400, path);
      assert.equal(
        (JSON.parse(body) as { errors: { code: string }[] }).errors[0]?.code,
        'NAME_INVALID',
        body,
      );
    }
  });

  test('unknown routes under /v2 answer 404 in the OCI envelope', async () => {
    await expectError(await client.fetch('/v2/a/b/nothing'), 404, 'NOT_FOUND');
  });
});

/**
 * A DELETE through a docker group of something only a non-write member has (tenth session,
 * trial ocijvm F3): `skopeo delete` of an image pulled through `/v2/` (cached by the proxy
 * member) got `404 MANIFEST_UNKNOWN`, though the next `skopeo inspect` of it was 200. Now 405
 * UNSUPPORTED saying it is a cached copy of an upstream image that cannot be deleted through the
 * group; a name nobody has keeps its 404, and what the write member holds is deleted as before.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Client, expectError, startOciServer } from '../oci/helpers.ts';
import { fixtureUpstream, MANIFEST_TYPE, publishImage } from './fixture-upstream.ts';

describe('docker group: DELETE of proxied content', () => {
  test('405 UNSUPPORTED naming the proxy member for a manifest (tag, digest) or blob only it has', async () => {
    const hub = await fixtureUpstream();
    try {
      await using nora = await startOciServer({
        config: { docker: { upstreams: [{ url: hub.url }], metadata_ttl: 0 } },
      });
      const image = publishImage(hub, 'lib/multi', 'v1', ['upstream layer']);
      const pulled = await fetch(`${nora.url}/v2/lib/multi/manifests/v1`, {
        headers: { accept: MANIFEST_TYPE },
      });
      assert.equal(pulled.status, 200);
      await pulled.text();
      for (const path of [
        '/v2/lib/multi/manifests/v1',
        `/v2/lib/multi/manifests/${image.digest}`,
        `/v2/lib/multi/blobs/${image.layers[0] ?? ''}`,
      ]) {
        const refused = await fetch(`${nora.url}${path}`, { method: 'DELETE' });
        assert.equal(refused.headers.get('allow'), 'GET, HEAD', path);
        const body = await expectError(refused, 405, 'UNSUPPORTED');
        const message = body.errors[0]?.message ?? '';
        assert.match(message, /cached copy of an upstream image/, path);
        assert.match(message, /proxy member "docker-proxy" of group "docker"/, path);
        assert.match(message, /cannot be deleted through the group/, path);
      }
      // Still served: nothing was deleted, and nothing claimed it was missing.
      const again = await fetch(`${nora.url}/v2/lib/multi/manifests/v1`, { method: 'HEAD' });
      assert.equal(again.status, 200);
      // Nobody has it: the 404 stays.
      await expectError(
        await fetch(`${nora.url}/v2/lib/multi/manifests/nosuchtag`, { method: 'DELETE' }),
        404,
        'MANIFEST_UNKNOWN',
      );
      // What the write member holds is deleted through the group as before.
      const client = new Client(nora.url);
      await client.pushImage('team/own', 'v1');
      const deleted = await fetch(`${nora.url}/v2/team/own/manifests/v1`, { method: 'DELETE' });
      assert.equal(deleted.status, 202, await deleted.text());
    } finally {
      await hub.close();
    }
  });
});

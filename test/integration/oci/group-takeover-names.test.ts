/**
 * Trial 33 newB: a push through a NAMED docker group onto an image name the group serves from its
 * proxy member. The refusal and the takeover log line name the image as the group sees it
 * (`up/newb/art`, what `shadow_names` lists), not with the group's URL prefix
 * (`all-images/up/newb/art`, which no `shadow_names` entry matches).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { TestServer } from '../../helpers/server.ts';
import {
  Client,
  expectError,
  OCI_CONFIG,
  OCI_LAYER,
  OCI_MANIFEST,
  startOciServer,
} from './helpers.ts';

const groupConfig = (upstream: string, shadowNames: string[]) => ({
  docker: {
    upstreams: [{ url: upstream, prefix: 'up' }],
    metadata_ttl: 0,
    shadow_names: shadowNames,
  },
  repositories: [
    { name: 'team-images', format: 'docker', kind: 'hosted' },
    {
      name: 'all-images',
      format: 'docker',
      kind: 'group',
      members: ['team-images', 'docker-proxy'],
    },
  ],
});

/** Pushes blobs and a manifest of `name` through `client` and returns the manifest PUT's answer. */
async function pushThrough(client: Client, name: string, tag: string): Promise<Response> {
  const layerData = `layer of ${tag}`;
  const configData = JSON.stringify({ architecture: 'amd64', os: 'linux', tag });
  const layer = await client.pushBlob(name, layerData);
  const config = await client.pushBlob(name, configData);
  const body = JSON.stringify({
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config: { mediaType: OCI_CONFIG, digest: config, size: Buffer.byteLength(configData) },
    layers: [{ mediaType: OCI_LAYER, digest: layer, size: Buffer.byteLength(layerData) }],
  });
  return client.fetch(`/v2/${name}/manifests/${tag}`, {
    method: 'PUT',
    body,
    headers: { 'content-type': OCI_MANIFEST },
  });
}

describe('docker push through a named group onto a proxied name', () => {
  let upstream: TestServer;

  before(async () => {
    upstream = await startOciServer({ config: { docker: { upstreams: [] } } });
    await new Client(upstream.url).pushImage('newb/art', 'v1');
  });
  after(async () => {
    await upstream.close();
  });

  test('the refusal names the image as the group sees it (no group prefix)', async () => {
    await using nora = await startOciServer({ config: groupConfig(upstream.url, []) });
    const client = new Client(nora.url);
    const pulled = await client.fetch('/v2/all-images/up/newb/art/manifests/v1', {
      headers: { accept: OCI_MANIFEST },
    });
    assert.equal(pulled.status, 200, await pulled.text());
    const refused = await expectError(
      await pushThrough(client, 'all-images/up/newb/art', 'v9'),
      409,
      'DENIED',
    );
    const message = refused.errors[0]?.message ?? '';
    assert.match(
      message,
      /^refusing to push image up\/newb\/art: it would hide docker-proxy's tags of it in group all-images /,
      message,
    );
    assert.doesNotMatch(message, /all-images\/up/, message);
    assert.match(message, /shadow_names = \["up\/newb\/art"\]/, message);
  });

  test('the takeover log line names it so too', async () => {
    const lines: string[] = [];
    await using nora = await startOciServer({
      config: groupConfig(upstream.url, ['up/newb/art']),
      logLevel: 'warn',
      logStream: { write: (line) => lines.push(line) },
    });
    const client = new Client(nora.url);
    const pulled = await client.fetch('/v2/all-images/up/newb/art/manifests/v1', {
      headers: { accept: OCI_MANIFEST },
    });
    assert.equal(pulled.status, 200, await pulled.text());
    const pushed = await pushThrough(client, 'all-images/up/newb/art', 'v9');
    assert.equal(pushed.status, 201, await pushed.text());
    const line = lines.find((l) => l.includes('docker push: '));
    assert.ok(line, lines.join(''));
    const msg = (JSON.parse(line) as { msg: string }).msg;
    assert.match(
      msg,
      /^docker push: image up\/newb\/art is new in team-images and group all-images serves it from its proxy member docker-proxy/,
      msg,
    );
  });
});

/**
 * The Maven retention adapter without a client: what it lists (a SNAPSHOT version is one version,
 * its builds' bytes summed, stored at its newest build) and that its delete names the
 * coordinate. A DELETE path `com/example/lib/1.0/` is first read as the ARTIFACT
 * `com.example.lib:1.0` when one is stored; retention deleting version 1.0 of `com.example:lib`
 * must not take that other artifact with it (MavenHosted.removeVersion).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { startTestServer } from '../../helpers/server.ts';
import { adapterOf } from '../../helpers/retention.ts';
import { zipLike } from '../../helpers/zip-fixtures.ts';

describe('Maven retention adapter', () => {
  test('lists versions (a SNAPSHOT with its builds as one) and deletes by coordinate', async () => {
    await using server = await startTestServer();
    const put = async (path: string, body: Buffer | string) => {
      const res = await fetch(`${server.url}/repository/maven-hosted/${path}`, {
        method: 'PUT',
        body,
      });
      assert.ok(res.ok, `${path}: ${res.status} ${await res.text()}`);
    };
    const jar = zipLike(200);
    await put('com/example/lib/1.0/lib-1.0.jar', jar);
    // Another artifact whose groupId ends in the first one's artifactId: com.example.lib:1.0.
    await put('com/example/lib/1.0/2/1.0-2.jar', jar);
    await put('com/example/lib/2.0-SNAPSHOT/lib-2.0-20261207.100000-1.jar', jar);
    await put('com/example/lib/2.0-SNAPSHOT/lib-2.0-20261207.110000-2.jar', jar);

    const adapter = adapterOf(server, 'maven');
    const repo = server.app.context.repositories.get('maven-hosted');
    assert.ok(repo);
    const listed = await adapter.versions(repo);
    const shown = listed
      .map((v) => `${v.name}@${v.version}:${v.bytes}`)
      .sort()
      .join(' ');
    assert.equal(
      shown,
      `com.example.lib:1.0@2:${jar.length} com.example:lib@1.0:${jar.length} com.example:lib@2.0-SNAPSHOT:${2 * jar.length}`,
    );
    const snapshot = listed.find((v) => v.version === '2.0-SNAPSHOT');
    const release = listed.find((v) => v.name === 'com.example:lib' && v.version === '1.0');
    assert.ok(snapshot && release);
    assert.ok(snapshot.storedAt >= release.storedAt, 'a SNAPSHOT is stored at its newest build');

    assert.deepEqual(await adapter.delete(repo, release), { deleted: true, bytes: jar.length });
    const get = async (path: string) => {
      const res = await fetch(`${server.url}/repository/maven-hosted/${path}`);
      await res.arrayBuffer();
      return res.status;
    };
    assert.equal(await get('com/example/lib/1.0/lib-1.0.jar'), 404);
    assert.equal(await get('com/example/lib/1.0/2/1.0-2.jar'), 200, 'the other artifact stays');
    assert.equal(await get('com/example/lib/2.0-SNAPSHOT/lib-2.0-20261207.110000-2.jar'), 200);
    // Gone in between: not an error, nothing counted.
    assert.deepEqual(await adapter.delete(repo, release), { deleted: false, bytes: 0 });
    // The snapshot goes whole: every build.
    assert.deepEqual(await adapter.delete(repo, snapshot), {
      deleted: true,
      bytes: 2 * jar.length,
    });
    assert.equal(await get('com/example/lib/2.0-SNAPSHOT/lib-2.0-20261207.100000-1.jar'), 404);
    const metadata = await fetch(
      `${server.url}/repository/maven-hosted/com/example/lib/maven-metadata.xml`,
    );
    await metadata.arrayBuffer();
    assert.equal(metadata.status, 404, 'no version of com.example:lib left');
  });
});

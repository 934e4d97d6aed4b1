/**
 * Fixes from the new-user trial (2026-12-02, sixth session), over HTTP:
 * 3. chart archives and provenance files carry Cache-Control: `public, no-cache` while `?force`
 *    may replace a version (`[helm] allow_overwrite`, the default), immutable when it may not;
 *    `private` for a request with credentials.
 * 4. a chart archive holding a symlink, hard link, device or FIFO entry is refused (400, nothing
 *    stored); folders and long names (pax / GNU headers) are still taken.
 * 6. a refused chart name gets the actual rule (a first letter or digit), not a character list
 *    that includes the `_` it starts with.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import tar from 'tar-stream';
import { buildChart, provenance } from '../../helpers/helm.ts';
import { startTestServer } from '../../helpers/server.ts';

const basic = (user: string, password: string) =>
  `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

/** A tar entry of the tests (tar-stream's header fields). */
interface TarEntry {
  readonly name: string;
  readonly type?: 'file' | 'directory' | 'symlink' | 'link' | 'character-device' | 'fifo';
  readonly linkname?: string;
  readonly mode?: number;
  readonly devmajor?: number;
  readonly devminor?: number;
  readonly text?: string;
}

/** A gzipped chart archive of `entries` (after a valid Chart.yaml), written by tar-stream. */
async function archive(name: string, entries: readonly TarEntry[]): Promise<Buffer> {
  const pack = tar.pack();
  const chartYaml = `apiVersion: v2\nname: ${name}\nversion: 1.0.0\n`;
  pack.entry({ name: `${name}/Chart.yaml`, mode: 0o644 }, chartYaml);
  for (const { text, ...header } of entries) pack.entry(header, text ?? '');
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of pack) chunks.push(chunk as Buffer);
  return gzipSync(Buffer.concat(chunks));
}

describe('helm: fixes from the new-user trial (sixth session)', () => {
  test('3: Cache-Control of chart archives follows allow_overwrite; private with credentials', async () => {
    for (const allowOverwrite of [true, false]) {
      await using server = await startTestServer({
        config: { helm: { allow_overwrite: allowOverwrite } },
      });
      const chart = await buildChart({ name: 'cc', version: '1.0.0' });
      const form = new FormData();
      form.append('chart', new Blob([chart]), 'cc-1.0.0.tgz');
      form.append('prov', new Blob([provenance('cc', '1.0.0', chart)]), 'cc-1.0.0.tgz.prov');
      const up = await fetch(`${server.url}/helm/api/charts`, { method: 'POST', body: form });
      assert.equal(up.status, 201);
      const expected = allowOverwrite ? 'public, no-cache' : 'public, max-age=31536000, immutable';
      for (const path of ['charts/cc-1.0.0.tgz', 'cc-1.0.0.tgz', 'charts/cc-1.0.0.tgz.prov']) {
        const got = await fetch(`${server.url}/helm/${path}`);
        assert.equal(got.status, 200, path);
        assert.equal(got.headers.get('cache-control'), expected, path);
        await got.arrayBuffer();
        const head = await fetch(`${server.url}/helm/${path}`, { method: 'HEAD' });
        assert.equal(head.headers.get('cache-control'), expected, path);
      }
      const etag = (
        await fetch(`${server.url}/helm/charts/cc-1.0.0.tgz`, { method: 'HEAD' })
      ).headers.get('etag');
      const revalidated = await fetch(`${server.url}/helm/charts/cc-1.0.0.tgz`, {
        headers: { 'if-none-match': etag ?? '' },
      });
      assert.equal(revalidated.status, 304);
      assert.equal(revalidated.headers.get('cache-control'), expected);
      // The same version again: the 409 says what this server allows, never "immutable" beside
      // "add ?force" (the eighth session's trial).
      const again = new FormData();
      again.append('chart', new Blob([chart]), 'cc-1.0.0.tgz');
      const conflict = await fetch(`${server.url}/helm/api/charts`, {
        method: 'POST',
        body: again,
      });
      assert.equal(conflict.status, 409);
      const { error } = (await conflict.json()) as { error: string };
      assert.equal(
        error,
        allowOverwrite
          ? 'cc-1.0.0.tgz already exists: to replace it, upload it again with ?force=true (POST <repository>/api/charts?force=true, or PUT <repository>/cc-1.0.0.tgz?force=true), which needs the delete permission on cc (the write role includes it; with [[auth.rules]], a rule granting "delete")'
          : 'cc-1.0.0.tgz already exists: versions are immutable on this server ([helm] allow_overwrite = false)',
      );
      // An error answer carries no chart caching.
      const missing = await fetch(`${server.url}/helm/charts/cc-9.9.9.tgz`);
      assert.equal(missing.status, 404);
      assert.equal(missing.headers.get('cache-control'), null);
    }
  });

  test('3: a chart read with credentials is private, also through a proxy', async () => {
    await using upstream = await startTestServer({});
    const chart = await buildChart({ name: 'pc', version: '1.0.0' });
    assert.equal(
      (await fetch(`${upstream.url}/helm/api/charts`, { method: 'POST', body: chart })).status,
      201,
    );
    await using server = await startTestServer({
      config: {
        auth: { enabled: true, anonymous_read: true },
        helm: { proxies: [{ url: `${upstream.url}/helm` }] },
      },
    });
    assert.ok(
      await server.app.context.identity.users.create('ann', 'ann-pw-12', undefined, ['read']),
    );
    const anonymous = await fetch(`${server.url}/helm/charts/pc-1.0.0.tgz`);
    assert.equal(anonymous.status, 200);
    assert.equal(anonymous.headers.get('cache-control'), 'public, no-cache');
    await anonymous.arrayBuffer();
    const withCredentials = await fetch(`${server.url}/helm/charts/pc-1.0.0.tgz`, {
      headers: { authorization: basic('ann', 'ann-pw-12') },
    });
    assert.equal(withCredentials.status, 200);
    assert.equal(withCredentials.headers.get('cache-control'), 'private, no-cache');
  });

  test('4: symlink, hard link, device and FIFO entries are refused (400), nothing stored', async () => {
    await using server = await startTestServer({});
    const cases: [string, TarEntry, RegExp][] = [
      [
        'sym',
        { name: 'sym/templates/x.yaml', type: 'symlink', linkname: '/etc/passwd' },
        /"sym\/templates\/x\.yaml" is a symbolic link: .*regular files and folders only/,
      ],
      [
        'hard',
        { name: 'hard/templates/x.yaml', type: 'link', linkname: 'hard/Chart.yaml' },
        /is a hard link/,
      ],
      [
        'chr',
        { name: 'chr/dev', type: 'character-device', devmajor: 1, devminor: 3 },
        /character device/,
      ],
      ['fifo', { name: 'fifo/pipe', type: 'fifo' }, /is a FIFO/],
    ];
    for (const [name, header, message] of cases) {
      const body = await archive(name, [header]);
      for (const send of [
        () => fetch(`${server.url}/helm/api/charts`, { method: 'POST', body }),
        () => fetch(`${server.url}/helm/${name}-1.0.0.tgz`, { method: 'PUT', body }),
      ]) {
        const r = await send();
        assert.equal(r.status, 400, name);
        assert.match(((await r.json()) as { error: string }).error, message);
      }
      assert.equal((await fetch(`${server.url}/helm/charts/${name}-1.0.0.tgz`)).status, 404);
      const index = await (await fetch(`${server.url}/helm/index.yaml`)).text();
      assert.doesNotMatch(index, new RegExp(`charts/${name}-`));
    }
    // Folders, and names long enough to need a pax header (a 155-byte file name), are chart
    // content as before.
    const long = `ok/templates/${'n'.repeat(150)}.yaml`;
    const ok = await archive('ok', [
      { name: 'ok/templates', type: 'directory', mode: 0o755 },
      { name: long, text: 'kind: ConfigMap\n' },
    ]);
    const stored = await fetch(`${server.url}/helm/api/charts`, { method: 'POST', body: ok });
    assert.equal(stored.status, 201, await stored.text());
  });

  test('6: a chart name starting with "_" is refused with the actual rule', async () => {
    await using server = await startTestServer({});
    const body = await buildChart({ name: '_x', version: '1.0.0' });
    const up = await fetch(`${server.url}/helm/api/charts`, { method: 'POST', body });
    assert.equal(up.status, 400);
    const { error } = (await up.json()) as { error: string };
    assert.match(
      error,
      /name "_x" is not a chart name: a chart name starts with a letter or digit/,
    );
    const del = await fetch(`${server.url}/helm/api/charts/_x/1.0.0`, { method: 'DELETE' });
    assert.equal(del.status, 400);
    assert.match(((await del.json()) as { error: string }).error, /starts with a letter or digit/);
  });
});

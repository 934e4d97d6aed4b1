/**
 * Provenance uploads check the caller's permission before the body (new-user trial, night of
 * 2026-12-01): a caller who may not write gets its 401 (with a Basic challenge) or 403 in
 * ChartMuseum's `{"error": "…"}` format, never a 400 about a body it had no right to send, on
 * every route a `.prov` file arrives by: PUT `<p>/[charts/]<name>-<version>.tgz.prov`, POST
 * `<p>/api/prov` (raw or multipart `prov`), and the multipart `prov` part of POST
 * `<p>/api/charts`. Auth on with users from an htpasswd file; `[[auth.rules]]` make `reader`
 * read-only and let `ops` write only charts named `infra-*`.
 *
 * A PUT names its chart in the URL, so a caller who may write the repository but not that chart
 * (`ops` on `demo`) is refused before the body too; a POST carries the name only in its body,
 * which is then read first and the name checked before anything is recorded.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import bcrypt from 'bcryptjs';
import { buildChart, provenance } from '../../helpers/helm.ts';
import { startTestServer, type TestServer } from '../../helpers/server.ts';
import { tempDir } from '../../helpers/tmp.ts';

const basic = (user: string, password: string) =>
  `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

/** Not a provenance file, not a chart, not multipart: whatever parses it answers 400. */
const GARBAGE = '\u0000\u00ffnot a provenance file {{{ --boundary';

interface Upload {
  readonly label: string;
  readonly method: 'PUT' | 'POST';
  readonly path: string;
  readonly body: () => string | FormData | Promise<FormData>;
  readonly headers?: Record<string, string>;
}

/** Each route a garbage `.prov` can be sent by, for the chart `name` 1.0.0. */
function provUploads(name: string): Upload[] {
  const form = (fields: [string, string | Buffer, string][]) => {
    const data = new FormData();
    for (const [field, content, filename] of fields)
      data.append(field, new Blob([content]), filename);
    return data;
  };
  const prov = `${name}-1.0.0.tgz.prov`;
  return [
    {
      label: 'PUT <p>/<file>.prov',
      method: 'PUT',
      path: `/helm/${prov}`,
      body: () => GARBAGE,
    },
    {
      label: 'PUT <p>/charts/<file>.prov',
      method: 'PUT',
      path: `/helm/charts/${prov}`,
      body: () => GARBAGE,
    },
    {
      label: 'POST <p>/api/prov (raw)',
      method: 'POST',
      path: '/helm/api/prov',
      body: () => GARBAGE,
    },
    {
      label: 'POST <p>/api/prov (multipart prov)',
      method: 'POST',
      path: '/helm/api/prov',
      body: () => form([['prov', GARBAGE, prov]]),
    },
    {
      label: 'POST <p>/api/prov (garbage multipart body)',
      method: 'POST',
      path: '/helm/api/prov',
      body: () => GARBAGE,
      headers: { 'content-type': 'multipart/form-data; boundary=nope' },
    },
    {
      label: 'POST <p>/api/charts (multipart chart + garbage prov)',
      method: 'POST',
      path: '/helm/api/charts',
      body: async () =>
        form([
          ['chart', await buildChart({ name, version: '1.0.0' }), `${name}-1.0.0.tgz`],
          ['prov', GARBAGE, prov],
        ]),
    },
    {
      label: 'POST <p>/api/charts (multipart garbage prov alone)',
      method: 'POST',
      path: '/helm/api/charts',
      body: () => form([['prov', GARBAGE, prov]]),
    },
  ];
}

describe('helm: provenance uploads check permission before the body', () => {
  let server: TestServer;
  let dir: Awaited<ReturnType<typeof tempDir>>;
  const send = async (upload: Upload, authorization: string | undefined) =>
    fetch(`${server.url}${upload.path}`, {
      method: upload.method,
      body: await upload.body(),
      headers: {
        ...upload.headers,
        ...(authorization === undefined ? {} : { authorization }),
      },
    });
  /** A ChartMuseum error answer with `status`; returns its message. */
  const refused = async (r: Response, status: number, label: string): Promise<string> => {
    const text = await r.text();
    assert.equal(r.status, status, `${label}: ${text}`);
    assert.match(r.headers.get('content-type') ?? '', /^application\/json/, label);
    const body = JSON.parse(text) as { error?: unknown };
    assert.equal(typeof body.error, 'string', `${label}: ${text}`);
    return body.error as string;
  };
  const stored = async (file: string) =>
    (await fetch(`${server.url}/helm/charts/${file}`, { headers: { authorization: writer } }))
      .status;
  const writer = basic('writer', 'writer-pw');
  const reader = basic('reader', 'reader-pw');
  const ops = basic('ops', 'ops-pw');

  before(async () => {
    dir = await tempDir('nora-helm-prov-auth-');
    const htpasswd = path.join(dir.path, 'users.htpasswd');
    await fs.writeFile(
      htpasswd,
      ['writer', 'reader', 'ops'].map((u) => `${u}:${bcrypt.hashSync(`${u}-pw`, 4)}\n`).join(''),
    );
    server = await startTestServer({
      config: {
        auth: {
          enabled: true,
          anonymous_read: true,
          htpasswd_file: htpasswd,
          rules: [
            { users: ['writer'], repositories: ['helm'], actions: ['read', 'write', 'delete'] },
            { users: ['reader', 'ops'], repositories: ['helm'], actions: ['read'] },
            {
              users: ['ops'],
              repositories: ['helm'],
              paths: ['infra-*'],
              actions: ['read', 'write'],
            },
          ],
        },
      },
    });
    // The charts exist, so a provenance upload that got through would have somewhere to land.
    for (const name of ['demo', 'infra-db']) {
      const r = await fetch(`${server.url}/helm/api/charts`, {
        method: 'POST',
        body: await buildChart({ name, version: '1.0.0' }),
        headers: { authorization: writer },
      });
      assert.equal(r.status, 201, await r.text());
    }
  });
  after(async () => {
    await server.close();
    await dir[Symbol.asyncDispose]();
  });

  test('anonymous: 401 with a Basic challenge on every .prov route, garbage body unread', async () => {
    for (const upload of provUploads('demo')) {
      const r = await send(upload, undefined);
      assert.match(r.headers.get('www-authenticate') ?? '', /^Basic/, upload.label);
      assert.match(await refused(r, 401, upload.label), /authentication required/, upload.label);
    }
    assert.equal(await stored('demo-1.0.0.tgz.prov'), 404);
  });

  test('read-only user: 403 on every .prov route, garbage body unread', async () => {
    for (const upload of provUploads('demo')) {
      const r = await send(upload, reader);
      assert.match(await refused(r, 403, upload.label), /reader may not write/, upload.label);
    }
    assert.equal(await stored('demo-1.0.0.tgz.prov'), 404);
  });

  test('user who may write only other charts: a PUT naming a chart it may not write is a 403 before the body', async () => {
    const puts = provUploads('demo').filter((u) => u.method === 'PUT');
    assert.equal(puts.length, 2);
    // The chart archive PUT is refused the same way (same ordering for .tgz and .tgz.prov).
    puts.push({
      label: 'PUT <p>/charts/<file>.tgz',
      method: 'PUT',
      path: '/helm/charts/demo-1.0.0.tgz',
      body: () => GARBAGE,
    });
    for (const upload of puts) {
      const r = await send(upload, ops);
      assert.match(await refused(r, 403, upload.label), /ops may not write demo/, upload.label);
    }
    assert.equal(await stored('demo-1.0.0.tgz.prov'), 404);
  });

  test('a caller who may write gets its body checked: 400 for garbage, a real provenance file is stored', async () => {
    for (const upload of provUploads('infra-db')) {
      const r = await send(upload, ops);
      assert.equal(r.status, 400, `${upload.label}: ${await r.clone().text()}`);
      assert.equal(typeof ((await r.json()) as { error?: unknown }).error, 'string');
    }
    assert.equal(await stored('infra-db-1.0.0.tgz.prov'), 404, 'nothing half-written');
    const archive = await (
      await fetch(`${server.url}/helm/charts/infra-db-1.0.0.tgz`, {
        headers: { authorization: ops },
      })
    ).arrayBuffer();
    const r = await fetch(`${server.url}/helm/charts/infra-db-1.0.0.tgz.prov`, {
      method: 'PUT',
      body: provenance('infra-db', '1.0.0', Buffer.from(archive)),
      headers: { authorization: ops },
    });
    assert.equal(r.status, 201, await r.text());
    assert.equal(await stored('infra-db-1.0.0.tgz.prov'), 200);
  });
});

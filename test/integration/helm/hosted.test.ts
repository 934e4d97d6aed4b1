/**
 * Hosted Helm repositories over HTTP (auth on, anonymous read off): ChartMuseum-API uploads
 * (raw, multipart chart + prov, prov alone), plain PUT, index.yaml (ETag, 304, gzip, rendered
 * once per change), downloads, JSON listings, immutability and ?force, deletes, and bad input
 * (traversal, no Chart.yaml, non-SemVer, URL/chart disagreement, YAML bomb, oversize) answered
 * with a clear 4xx and nothing half-written.
 */
import assert from 'node:assert/strict';
import { gunzipSync } from 'node:zlib';
import { after, before, describe, test } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { buildChart, helmPull, provenance, sha256 } from '../../helpers/helm.ts';
import { startTestServer, type TestServer } from '../../helpers/server.ts';

const basic = (user: string, password: string) =>
  `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

describe('helm hosted repository (auth on)', () => {
  let server: TestServer;
  let writer = '';
  let readToken = '';
  const url = (p: string) => `${server.url}${p}`;
  const as = (authorization: string | undefined, init: RequestInit = {}): RequestInit => ({
    ...init,
    headers: {
      ...(init.headers as Record<string, string> | undefined),
      ...(authorization === undefined ? {} : { authorization }),
    },
  });
  const index = async (p = '/helm') => {
    const r = await fetch(url(`${p}/index.yaml`), as(writer));
    assert.equal(r.status, 200);
    return parseYaml(await r.text()) as {
      entries: Record<string, { version: string; digest: string; urls: string[] }[]>;
    };
  };
  const blobCount = async () => {
    const { readdir } = await import('node:fs/promises');
    const walk = async (dir: string): Promise<number> => {
      let n = 0;
      for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
        n += e.isDirectory() ? await walk(`${dir}/${e.name}`) : 1;
      }
      return n;
    };
    return walk(`${server.dataDir}/storage`);
  };

  before(async () => {
    server = await startTestServer({
      config: {
        auth: { enabled: true, anonymous_read: false },
        helm: { max_upload_mb: 1 },
        repositories: [{ name: 'charts2', format: 'helm', kind: 'hosted' }],
      },
    });
    const { users, tokens } = server.app.context.identity;
    assert.ok(await users.create('alice', 'alice-pw-1', undefined, ['read', 'write']));
    writer = basic('alice', 'alice-pw-1');
    readToken = `Bearer ${(await tokens.create('alice', { role: 'read' })).secret}`;
  });
  after(async () => {
    await server.close();
  });

  test('uploads: raw POST, multipart chart + prov, PUT; index and downloads', async () => {
    const v1 = await buildChart({ name: 'demo', version: '1.0.0' });
    let r = await fetch(url('/helm/api/charts'), as(writer, { method: 'POST', body: v1 }));
    assert.equal(r.status, 201);
    assert.deepEqual(await r.json(), { saved: true });

    const v11 = await buildChart({ name: 'demo', version: '1.1.0' });
    const form = new FormData();
    form.append('chart', new Blob([v11]), 'demo-1.1.0.tgz');
    form.append('prov', new Blob([provenance('demo', '1.1.0', v11)]), 'demo-1.1.0.tgz.prov');
    r = await fetch(url('/helm/api/charts'), as(writer, { method: 'POST', body: form }));
    assert.equal(r.status, 201, await r.clone().text());

    // A provenance file must sign the archive it is stored with (helm verify checks it).
    const v12 = await buildChart({ name: 'demo', version: '1.2.0' });
    const lying = new FormData();
    lying.append('chart', new Blob([v12]), 'demo-1.2.0.tgz');
    lying.append('prov', new Blob([provenance('demo', '1.2.0', v11)]), 'demo-1.2.0.tgz.prov');
    r = await fetch(url('/helm/api/charts'), as(writer, { method: 'POST', body: lying }));
    assert.equal(r.status, 400);
    assert.match(
      ((await r.json()) as { error: string }).error,
      /signs sha256:\w+ for demo-1\.2\.0\.tgz, but the chart is/,
    );
    r = await fetch(url('/helm/demo-1.2.0.tgz'), as(writer));
    assert.equal(r.status, 404, 'nothing recorded');
    await r.arrayBuffer();
    r = await fetch(
      url('/helm/api/prov'),
      as(writer, { method: 'POST', body: provenance('demo', '1.0.0', v11) }),
    );
    assert.equal(r.status, 400, 'the stored 1.0.0 archive is not the one it signs');
    await r.arrayBuffer();

    const rc = await buildChart({ name: 'demo', version: '2.0.0-rc.1' });
    r = await fetch(url('/helm/demo-2.0.0-rc.1.tgz'), as(writer, { method: 'PUT', body: rc }));
    assert.equal(r.status, 201);

    const doc = await index();
    assert.deepEqual(
      doc.entries['demo']?.map((e) => e.version),
      ['2.0.0-rc.1', '1.1.0', '1.0.0'],
    );
    assert.equal(doc.entries['demo'].at(1)?.digest, sha256(v11));
    assert.deepEqual(doc.entries['demo'].at(1)?.urls, ['charts/demo-1.1.0.tgz']);

    const pulled = await helmPull(url('/helm/'), 'demo', { authorization: writer });
    assert.equal(pulled.version, '1.1.0');
    assert.deepEqual(pulled.bytes, v11);
    const devel = await helmPull(url('/helm'), 'demo', { authorization: writer, devel: true });
    assert.equal(devel.version, '2.0.0-rc.1');

    r = await fetch(url('/helm/charts/demo-1.1.0.tgz.prov'), as(writer));
    assert.equal(r.status, 200);
    assert.match(await r.text(), /BEGIN PGP SIGNED MESSAGE/);
    r = await fetch(url('/helm/demo-1.0.0.tgz'), as(writer, { headers: { range: 'bytes=0-9' } }));
    assert.equal(r.status, 206);
    assert.deepEqual(Buffer.from(await r.arrayBuffer()), v1.subarray(0, 10));
    // The same chart through the hosted repository's own URL.
    r = await fetch(url('/repository/helm-hosted/index.yaml'), as(writer));
    assert.equal(r.status, 200);
  });

  test('index.yaml: ETag + 304, gzip, rendered once per change', async () => {
    const first = await fetch(url('/helm/index.yaml'), as(writer));
    const etag = first.headers.get('etag') ?? '';
    assert.match(etag, /^"[0-9a-f]{64}"$/);
    assert.equal(first.headers.get('content-type'), 'application/x-yaml');
    const again = await fetch(
      url('/helm/index.yaml'),
      as(writer, { headers: { 'if-none-match': etag } }),
    );
    assert.equal(again.status, 304);
    const gz = await new Promise<{ encoding: string | undefined; body: Buffer }>(
      (resolve, reject) => {
        import('node:http').then(({ get }) => {
          get(
            url('/helm/index.yaml'),
            { headers: { authorization: writer, 'accept-encoding': 'gzip' } },
            (res) => {
              const chunks: Buffer[] = [];
              res.on('data', (c: Buffer) => chunks.push(c));
              res.on('end', () => {
                resolve({ encoding: res.headers['content-encoding'], body: Buffer.concat(chunks) });
              });
            },
          ).on('error', reject);
        }, reject);
      },
    );
    assert.equal(gz.encoding, 'gzip');
    assert.equal(gunzipSync(gz.body).toString(), await first.text());
    // A change makes a new document and a new ETag.
    const other = await buildChart({ name: 'zeta', version: '0.1.0' });
    await fetch(url('/helm/api/charts'), as(writer, { method: 'POST', body: other }));
    const changed = await fetch(
      url('/helm/index.yaml'),
      as(writer, { headers: { 'if-none-match': etag } }),
    );
    assert.equal(changed.status, 200);
    assert.notEqual(changed.headers.get('etag'), etag);
  });

  test('ChartMuseum listings', async () => {
    let r = await fetch(url('/helm/api/charts'), as(writer));
    const all = (await r.json()) as Record<string, { version: string }[]>;
    assert.deepEqual(Object.keys(all).sort(), ['demo', 'zeta']);
    r = await fetch(url('/helm/api/charts/demo'), as(writer));
    assert.equal(((await r.json()) as unknown[]).length, 3);
    r = await fetch(url('/helm/api/charts/demo/1.0.0'), as(writer));
    assert.equal(((await r.json()) as { version: string }).version, '1.0.0');
    r = await fetch(url('/helm/api/charts/demo/latest'), as(writer));
    assert.equal(((await r.json()) as { version: string }).version, '2.0.0-rc.1');
    r = await fetch(url('/helm/api/charts/nope'), as(writer));
    assert.equal(r.status, 404);
    assert.ok(typeof ((await r.json()) as { error: string }).error === 'string');
    r = await fetch(url('/helm/api/charts/demo/9.9.9'), as(writer, { method: 'HEAD' }));
    assert.equal(r.status, 404);
  });

  test('immutable unless ?force; delete', async () => {
    const v1b = await buildChart({ name: 'demo', version: '1.0.0', description: 'changed' });
    let r = await fetch(url('/helm/api/charts'), as(writer, { method: 'POST', body: v1b }));
    assert.equal(r.status, 409);
    // The 409 says how to replace it, as the code accepts it, and what that needs (trial).
    assert.equal(
      ((await r.json()) as { error: string }).error,
      'demo-1.0.0.tgz already exists: to replace it, upload it again with ?force=true ' +
        '(POST <repository>/api/charts?force=true, or PUT <repository>/demo-1.0.0.tgz?force=true), ' +
        'which needs the delete permission on demo (the write role includes it; with ' +
        '[[auth.rules]], a rule granting "delete")',
    );
    r = await fetch(url('/helm/demo-1.0.0.tgz'), as(writer, { method: 'PUT', body: v1b }));
    assert.equal(r.status, 409);
    assert.match(
      ((await r.json()) as { error: string }).error,
      /PUT <repository>\/demo-1\.0\.0\.tgz\?force=true/,
    );
    // The write role includes delete, which replacing a version also needs; what the message
    // says works as written.
    r = await fetch(url('/helm/api/charts?force=true'), as(writer, { method: 'POST', body: v1b }));
    assert.equal(r.status, 200);
    const doc = await index();
    assert.equal(doc.entries['demo']?.find((e) => e.version === '1.0.0')?.digest, sha256(v1b));
    r = await fetch(url('/helm/api/charts/zeta/0.1.0'), as(readToken, { method: 'DELETE' }));
    assert.equal(r.status, 403);
    r = await fetch(url('/helm/api/charts/zeta/0.1.0'), as(writer, { method: 'DELETE' }));
    assert.equal(r.status, 200);
    assert.deepEqual(await r.json(), { deleted: true });
    assert.equal((await index()).entries['zeta'], undefined);
    r = await fetch(url('/helm/api/charts/zeta/0.1.0'), as(writer, { method: 'DELETE' }));
    assert.equal(r.status, 404);
  });

  test('auth: anonymous 401 with a Basic challenge, read token cannot upload', async () => {
    let r = await fetch(url('/helm/index.yaml'));
    assert.equal(r.status, 401);
    assert.match(r.headers.get('www-authenticate') ?? '', /^Basic/);
    r = await fetch(url('/helm/charts/demo-1.0.0.tgz'));
    assert.equal(r.status, 401);
    r = await fetch(url('/helm/index.yaml'), as(readToken));
    assert.equal(r.status, 200);
    const chart = await buildChart({ name: 'sneaky', version: '1.0.0' });
    r = await fetch(url('/helm/api/charts'), as(readToken, { method: 'POST', body: chart }));
    assert.equal(r.status, 403);
    r = await fetch(url('/helm/api/charts'), { method: 'POST', body: chart });
    assert.equal(r.status, 401);
    assert.equal((await index()).entries['sneaky'], undefined);
  });

  test('bad input: clear 4xx, nothing half-written', async () => {
    const before = await blobCount();
    const good = await buildChart({ name: 'good', version: '1.0.0' });
    // Found by review: zeros after Chart.yaml unpacking past Helm's 100 MiB limit were accepted.
    const gzipBomb = await buildChart({
      name: 'bomb',
      version: '1.0.0',
      extraFiles: [{ name: 'bomb/files/zeros.bin', zeros: 101 * 1024 * 1024 }],
    });
    const bombForm = new FormData();
    bombForm.append('chart', new Blob([gzipBomb]), 'bomb-1.0.0.tgz');
    const cases: [string, string, RequestInit, number, RegExp][] = [
      [
        'no Chart.yaml',
        '/helm/api/charts',
        {
          method: 'POST',
          body: await buildChart({ name: 'x', version: '1.0.0', dir: 'x/deeper' }),
        },
        400,
        /Chart\.yaml/,
      ],
      [
        'not an archive',
        '/helm/api/charts',
        { method: 'POST', body: 'hello' },
        400,
        /not a chart archive/,
      ],
      [
        'non-SemVer',
        '/helm/api/charts',
        { method: 'POST', body: await buildChart({ name: 'x', version: 'v1.0' }) },
        400,
        /SemVer/,
      ],
      [
        'an entry outside the top folder',
        '/helm/api/charts',
        {
          method: 'POST',
          body: await buildChart({
            name: 'mism',
            version: '1.0.0',
            extraFiles: [{ name: 'otherdir/x.txt', text: 'x' }],
          }),
        },
        400,
        /outside its top folder/,
      ],
      [
        'Chart.yaml twice (Helm would read the second)',
        '/helm/api/charts',
        {
          method: 'POST',
          body: await buildChart({
            name: 'twice',
            version: '1.0.0',
            extraFiles: [
              { name: 'twice/Chart.yaml', text: 'apiVersion: v2\nname: twice\nversion: 6.6.6\n' },
            ],
          }),
        },
        400,
        /twice/,
      ],
      ['name disagrees', '/helm/other-1.0.0.tgz', { method: 'PUT', body: good }, 400, /URL names/],
      [
        'version disagrees',
        '/helm/good-2.0.0.tgz',
        { method: 'PUT', body: good },
        400,
        /URL names/,
      ],
      [
        'traversal in name',
        '/helm/..%2F..%2Fgood-1.0.0.tgz',
        { method: 'PUT', body: good },
        400,
        /./,
      ],
      [
        'bad chart file name',
        '/helm/good.tgz',
        { method: 'PUT', body: good },
        400,
        /chart file name/,
      ],
      [
        'bad name in Chart.yaml',
        '/helm/api/charts',
        {
          method: 'POST',
          body: await buildChart({
            name: 'x',
            version: '1.0.0',
            chartYaml: 'apiVersion: v2\nname: ../../etc\nversion: 1.0.0\n',
          }),
        },
        400,
        /name/,
      ],
      [
        'YAML bomb',
        '/helm/api/charts',
        {
          method: 'POST',
          body: await buildChart({ name: 'x', version: '1.0.0', chartYaml: bomb() }),
        },
        400,
        /YAML|alias/i,
      ],
      [
        'oversize',
        '/helm/api/charts',
        { method: 'POST', body: Buffer.alloc(2 * 1024 * 1024, 1) },
        413,
        /limit/,
      ],
      [
        'gzip bomb after Chart.yaml (raw POST)',
        '/helm/api/charts',
        { method: 'POST', body: gzipBomb },
        413,
        /unpacks to more than/,
      ],
      [
        'gzip bomb after Chart.yaml (multipart POST)',
        '/helm/api/charts',
        { method: 'POST', body: bombForm },
        413,
        /unpacks to more than/,
      ],
      [
        'gzip bomb after Chart.yaml (PUT)',
        '/helm/bomb-1.0.0.tgz',
        { method: 'PUT', body: gzipBomb },
        413,
        /unpacks to more than/,
      ],
      [
        'empty body',
        '/helm/api/charts',
        { method: 'POST', body: '' },
        400,
        /the body is empty: a chart archive \(\.tgz\) was expected/,
      ],
      [
        'prov for an absent chart',
        '/helm/api/prov',
        { method: 'POST', body: provenance('ghost', '1.0.0', good) },
        404,
        /upload the chart/,
      ],
      [
        'prov that is not one',
        '/helm/api/prov',
        { method: 'POST', body: 'nope' },
        400,
        /provenance/,
      ],
      [
        'to a proxy-less write',
        '/helm/index.yaml',
        { method: 'PUT', body: good },
        405,
        /not supported/,
      ],
    ];
    for (const [what, path, init, status, message] of cases) {
      const r = await fetch(url(path), as(writer, init));
      const text = await r.text();
      assert.equal(r.status, status, `${what}: ${text}`);
      const body = JSON.parse(text) as { error: string };
      assert.match(body.error, message, what);
    }
    // Oversize streamed without a Content-Length (chunked): 413 mid-stream.
    const chunked = new ReadableStream({
      start(controller) {
        for (let i = 0; i < 40; i++) controller.enqueue(new Uint8Array(64 * 1024));
        controller.close();
      },
    });
    const init: RequestInit & { duplex: 'half' } = {
      ...as(writer, { method: 'POST', body: chunked }),
      duplex: 'half',
    };
    const r = await fetch(url('/helm/api/charts'), init);
    assert.equal(r.status, 413);
    const doc = await index();
    assert.deepEqual(Object.keys(doc.entries).sort(), ['demo']);
    assert.equal(await blobCount(), before, 'no blob left behind by a refused upload');
  });

  test('HEAD of a chart whose stored bytes are gone answers 410 like its GET', async () => {
    const { createHash } = await import('node:crypto');
    const { rm } = await import('node:fs/promises');
    const chart = await buildChart({ name: 'gone', version: '1.0.0' });
    let r = await fetch(url('/helm/api/charts'), as(writer, { method: 'POST', body: chart }));
    assert.equal(r.status, 201);
    await r.arrayBuffer();
    r = await fetch(url('/helm/gone-1.0.0.tgz'), as(writer, { method: 'HEAD' }));
    assert.equal(r.status, 200);
    const hex = createHash('sha256').update(chart).digest('hex');
    await rm(`${server.dataDir}/storage/blobs/sha256/${hex.slice(0, 2)}/${hex}`);
    for (const method of ['HEAD', 'GET']) {
      r = await fetch(url('/helm/gone-1.0.0.tgz'), as(writer, { method }));
      assert.equal(r.status, 410, method);
      await r.arrayBuffer();
    }
  });

  test('named hosted repository at /repository/<name>/', async () => {
    const chart = await buildChart({ name: 'solo', version: '3.0.0' });
    let r = await fetch(
      url('/repository/charts2/api/charts'),
      as(writer, { method: 'POST', body: chart }),
    );
    assert.equal(r.status, 201);
    const pulled = await helmPull(url('/repository/charts2'), 'solo', { authorization: writer });
    assert.deepEqual(pulled.bytes, chart);
    r = await fetch(url('/helm/api/charts/solo'), as(writer));
    assert.equal(r.status, 404, 'charts2 is not a member of the default group');
  });
});

function bomb(): string {
  const lines = [
    'apiVersion: v2',
    'name: x',
    'version: 1.0.0',
    'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]',
  ];
  for (let i = 1; i < 9; i++) {
    const prev = String.fromCharCode(96 + i);
    const name = String.fromCharCode(97 + i);
    lines.push(`${name}: &${name} [${Array(9).fill(`*${prev}`).join(',')}]`);
  }
  return lines.join('\n') + '\n';
}

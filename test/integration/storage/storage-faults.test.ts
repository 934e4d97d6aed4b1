/**
 * Storage faults under every hosted format's publish (DESIGN §4), without a mount: a
 * fault-injecting wrapper over the running server's storage driver makes every write fail the
 * way the file system does (ENOSPC: disk full, EROFS/EACCES: read-only), and SQLite's own limits
 * (`max_page_count`, `query_only`) make the metadata database full or read-only. For each:
 * the client gets a clear 507/503 in the protocol's format (never a bare 500, never a hang), the
 * process keeps serving (`/health`), nothing half-written is visible, and the same request
 * succeeds once the fault clears.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { sql } from 'kysely';
import type { BlobStore } from '../../../src/storage/blob-store.ts';
import { buildChart } from '../../helpers/helm.ts';
import { startTestServer, type TestServer } from '../../helpers/server.ts';
import { crateBody } from '../cargo/fixtures.ts';
import { publishBody as npmPublishBody } from '../npm/fixtures.ts';
import { MULTIPART, makeWheel, makeZip, multipartBody, twineFields } from '../pypi/fixtures.ts';
import { emptyJar } from '../../helpers/zip-fixtures.ts';

const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

/**
 * Makes every write of `blobs` fail with `code` until the returned function is called: the
 * driver's writes, and the spool paths handed out (a spool directory the full disk refuses).
 */
function failWrites(blobs: BlobStore, code: string): () => void {
  const fail = () =>
    Promise.reject(
      Object.assign(new Error(`${code}: injected fault, write '/srv/nora/blobs/x'`), {
        code,
        errno: -28,
        syscall: 'write',
      }),
    );
  const patched: [Record<string, unknown>, string, unknown][] = [];
  const patch = (target: object, name: string) => {
    const record = target as Record<string, unknown>;
    patched.push([record, name, Object.hasOwn(record, name) ? record[name] : undefined]);
    record[name] = fail;
  };
  for (const name of ['write', 'writeFile', 'copy']) patch(blobs.driver, name);
  patch(blobs, 'spoolPath');
  return () => {
    for (const [target, name, own] of patched) {
      // Own properties were prototype methods: removing the patch uncovers them again.
      if (own === undefined) Reflect.deleteProperty(target, name);
      else target[name] = own;
    }
  };
}

interface Case {
  readonly name: string;
  /** Publishes artifact number `i` (a fresh name/version per fault). */
  publish(i: number): Promise<Response>;
  /** The status a reader gets for artifact `i`. */
  read(i: number): Promise<number>;
}

describe('storage faults: 507/503 in the protocol format, nothing half-written, recovery', () => {
  let server: TestServer;
  let url: (p: string) => string;
  const status = async (p: string, init?: RequestInit) => {
    const res = await fetch(url(p), init);
    await res.arrayBuffer();
    return res.status;
  };

  before(async () => {
    server = await startTestServer({});
    url = (p) => `${server.url}${p}`;
  });
  after(async () => {
    await server.close();
  });

  const layer = Buffer.from('layer bytes of the fault test\n');
  const config = Buffer.from('{"architecture":"amd64","os":"linux"}');
  const manifestOf = (i: number) =>
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: {
        mediaType: 'application/vnd.oci.image.config.v1+json',
        digest: `sha256:${sha256(config)}`,
        size: config.length,
      },
      layers: [
        {
          mediaType: 'application/vnd.oci.image.layer.v1.tar',
          digest: `sha256:${sha256(layer)}`,
          size: layer.length,
        },
      ],
      annotations: { n: String(i) },
    });
  const blobOf = (i: number) => Buffer.from(`oci blob ${i} of the storage fault test\n`);

  const cases: Case[] = [
    {
      name: 'raw PUT (buffered)',
      publish: (i) => fetch(url(`/raw/faults/${i}/a.bin`), { method: 'PUT', body: `raw ${i}` }),
      read: (i) => status(`/raw/faults/${i}/a.bin`),
    },
    {
      name: 'raw PUT (streamed through the spool)',
      publish: (i) =>
        fetch(url(`/raw/faults/${i}/big.bin`), {
          method: 'PUT',
          body: new Blob([Buffer.alloc(2 * 1024 * 1024, i)]).stream(),
          duplex: 'half',
        }),
      read: (i) => status(`/raw/faults/${i}/big.bin`),
    },
    {
      name: 'OCI monolithic blob upload',
      publish: (i) =>
        fetch(url(`/v2/faults/mono/blobs/uploads/?digest=sha256:${sha256(blobOf(i))}`), {
          method: 'POST',
          headers: { 'content-type': 'application/octet-stream' },
          body: blobOf(i),
        }),
      read: (i) => status(`/v2/faults/mono/blobs/sha256:${sha256(blobOf(i))}`),
    },
    {
      name: 'OCI chunked blob upload',
      publish: async (i) => {
        const started = await fetch(url('/v2/faults/chunked/blobs/uploads/'), { method: 'POST' });
        const startedText = await started.text();
        if (started.status !== 202) return new Response(startedText, { status: started.status });
        const location = started.headers.get('location') ?? '';
        const patched = await fetch(new URL(location, server.url), {
          method: 'PATCH',
          headers: { 'content-type': 'application/octet-stream' },
          body: blobOf(i + 100),
        });
        const patchedText = await patched.text();
        if (patched.status !== 202) return new Response(patchedText, { status: patched.status });
        const next = new URL(patched.headers.get('location') ?? location, server.url);
        next.searchParams.set('digest', `sha256:${sha256(blobOf(i + 100))}`);
        return fetch(next, { method: 'PUT' });
      },
      read: (i) => status(`/v2/faults/chunked/blobs/sha256:${sha256(blobOf(i + 100))}`),
    },
    {
      name: 'OCI manifest PUT',
      publish: (i) =>
        fetch(url(`/v2/faults/app/manifests/t${i}`), {
          method: 'PUT',
          headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' },
          body: manifestOf(i),
        }),
      read: (i) => status(`/v2/faults/app/manifests/t${i}`),
    },
    {
      name: 'npm publish',
      publish: (i) =>
        fetch(url(`/npm/fault-pkg-${i}`), {
          method: 'PUT',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(npmPublishBody({ name: `fault-pkg-${i}`, version: '1.0.0' })),
        }),
      read: (i) => status(`/npm/fault-pkg-${i}/-/fault-pkg-${i}-1.0.0.tgz`),
    },
    {
      name: 'PyPI upload',
      publish: (i) => {
        const wheel = makeWheel(`fault-py-${i}`, '1.0');
        return fetch(url('/simple/'), {
          method: 'POST',
          headers: { 'content-type': MULTIPART },
          body: multipartBody(twineFields(`fault-py-${i}`, '1.0', wheel), wheel),
        });
      },
      read: (i) => status(`/simple/fault-py-${i}/`),
    },
    {
      name: 'Maven deploy',
      publish: (i) =>
        fetch(url(`/maven2/com/example/fault${i}/1.0/fault${i}-1.0.jar`), {
          method: 'PUT',
          body: emptyJar(`jar ${i}`),
        }),
      // maven-hosted itself: through /maven2/ a miss is the unreachable default upstream's 502.
      read: (i) => status(`/repository/maven-hosted/com/example/fault${i}/1.0/fault${i}-1.0.jar`),
    },
    {
      name: 'Cargo publish',
      publish: async (i) =>
        fetch(url('/cargo/api/v1/crates/new'), {
          method: 'PUT',
          body: await crateBody(`fault_crate_${i}`, '1.0.0'),
        }),
      read: (i) =>
        status(`/cargo/api/v1/crates/fault_crate_${i}/1.0.0/download`, { redirect: 'follow' }),
    },
    {
      name: 'Helm upload',
      publish: async (i) =>
        fetch(url('/helm/api/charts'), {
          method: 'POST',
          body: await buildChart({ name: `fault-chart-${i}`, version: '1.0.0' }),
        }),
      read: (i) => status(`/helm/charts/fault-chart-${i}-1.0.0.tgz`),
    },
    {
      name: 'Go publish',
      publish: (i) => {
        const mod = `example.com/fault${i}`;
        const prefix = `${mod}@v1.0.0`;
        return fetch(url(`/go/${mod}/@v/v1.0.0.zip`), {
          method: 'PUT',
          headers: { 'content-type': 'application/zip' },
          body: makeZip([
            { name: `${prefix}/go.mod`, data: Buffer.from(`module ${mod}\n\ngo 1.19\n`) },
            { name: `${prefix}/f.go`, data: Buffer.from('package fault\n') },
          ]),
        });
      },
      read: (i) => status(`/go/example.com/fault${i}/@v/v1.0.0.zip`),
    },
  ];

  const faults = [
    { code: 'ENOSPC', status: 507, text: /insufficient storage/i },
    { code: 'EROFS', status: 503, text: /storage is unavailable/i },
    { code: 'EACCES', status: 503, text: /storage is unavailable/i },
  ];

  for (const [n, fault] of faults.entries()) {
    test(`${fault.code}: every format answers ${fault.status}, then recovers`, async () => {
      // The manifest's blobs are in place before the fault (only the manifest write fails).
      for (const blob of [layer, config]) {
        const r = await fetch(url(`/v2/faults/app/blobs/uploads/?digest=sha256:${sha256(blob)}`), {
          method: 'POST',
          body: blob,
        });
        await r.arrayBuffer();
        assert.equal(r.status, 201);
      }
      const restore = failWrites(server.app.context.blobs, fault.code);
      const failures: string[] = [];
      try {
        for (const c of cases) {
          const res = await c.publish(n);
          const text = await res.text();
          if (res.status !== fault.status || !fault.text.test(text))
            failures.push(`${c.name}: ${res.status} ${text.slice(0, 200)}`);
          assert.doesNotMatch(text, /\/srv\/nora/, `${c.name}: the path leaks`);
          const visible = await c.read(n);
          if (visible !== 404) failures.push(`${c.name}: a reader gets ${visible} after the fault`);
          assert.equal(await status('/health'), 200);
        }
      } finally {
        restore();
      }
      for (const c of cases) {
        const res = await c.publish(n);
        const text = await res.text();
        if (res.status >= 300) failures.push(`${c.name} after recovery: ${res.status} ${text}`);
        const visible = await c.read(n);
        if (visible !== 200) failures.push(`${c.name} after recovery: a reader gets ${visible}`);
      }
      assert.deepEqual(failures, []);
    });
  }

  test('metadata database full or read-only during a publish: 507/503, then recovers', async () => {
    const db = server.app.context.db;
    const pages = await sql<{ page_count: number }>`PRAGMA page_count`.execute(db);
    const full = pages.rows[0]?.page_count ?? 1;
    const modes = [
      {
        name: 'SQLITE_FULL',
        status: 507,
        text: /database is full/,
        on: sql.raw(`PRAGMA max_page_count = ${full}`),
        off: sql.raw('PRAGMA max_page_count = 1073741823'),
      },
      {
        name: 'SQLITE_READONLY',
        status: 503,
        text: /database is not writable/,
        on: sql.raw('PRAGMA query_only = 1'),
        off: sql.raw('PRAGMA query_only = 0'),
      },
    ];
    for (const [m, mode] of modes.entries()) {
      // Big enough to need new pages whatever the free list holds.
      const body = JSON.stringify(
        npmPublishBody({
          name: `fault-db-${m}`,
          version: '1.0.0',
          description: 'x'.repeat(200_000),
        }),
      );
      const publish = () =>
        fetch(url(`/npm/fault-db-${m}`), {
          method: 'PUT',
          headers: { 'content-type': 'application/json' },
          body,
        });
      await mode.on.execute(db);
      let res: Response;
      try {
        res = await publish();
        const text = await res.text();
        assert.equal(res.status, mode.status, `${mode.name}: ${text}`);
        assert.match(text, mode.text);
        assert.equal(await status(`/npm/fault-db-${m}`), 404, 'nothing half-published');
        assert.equal(await status('/health'), 200);
      } finally {
        await mode.off.execute(db);
      }
      res = await publish();
      assert.equal(res.status, 201, await res.text());
      assert.equal(await status(`/npm/fault-db-${m}`), 200);
    }
  });
});

describe('storage faults under a proxy fill (raw, maven): 507/503, nothing kept, recovery', () => {
  let upstream: TestServer;
  let server: TestServer;
  before(async () => {
    upstream = await startTestServer({});
    server = await startTestServer({
      config: {
        circuit_breaker: { enabled: false },
        maven: { proxies: [{ url: `${upstream.url}/maven2` }] },
        repositories: [
          { name: 'dl', format: 'raw', kind: 'proxy', upstreams: [{ url: `${upstream.url}/raw` }] },
        ],
      },
    });
  });
  after(async () => {
    await server.close();
    await upstream.close();
  });

  for (const [n, fault] of [
    { code: 'ENOSPC', status: 507 },
    { code: 'EROFS', status: 503 },
  ].entries()) {
    test(`${fault.code} during a fill`, async () => {
      const files = [
        { put: `/raw/up/${n}/f.bin`, get: `/repository/dl/up/${n}/f.bin`, body: `raw ${n}\n` },
        {
          put: `/maven2/org/fault/p${n}/1.0/p${n}-1.0.jar`,
          get: `/repository/maven-proxy/org/fault/p${n}/1.0/p${n}-1.0.jar`,
          body: emptyJar(`jar ${n}\n`),
        },
      ];
      for (const f of files) {
        const r = await fetch(`${upstream.url}${f.put}`, { method: 'PUT', body: f.body });
        assert.ok(r.status < 300, `${f.put}: ${r.status} ${await r.text()}`);
      }
      const restore = failWrites(server.app.context.blobs, fault.code);
      const seen: string[] = [];
      try {
        for (const f of files) {
          const r = await fetch(`${server.url}${f.get}`);
          const text = await r.text();
          // Either answered from the upstream's bytes as they stream through (correct bytes) or
          // refused with the storage status; never a 500, never wrong bytes.
          if (r.status === 200) assert.equal(text, f.body, f.get);
          else if (r.status !== fault.status) seen.push(`${f.get}: ${r.status} ${text}`);
        }
        const health = await fetch(`${server.url}/health`);
        await health.arrayBuffer();
        assert.equal(health.status, 200);
      } finally {
        restore();
      }
      for (const f of files) {
        const r = await fetch(`${server.url}${f.get}`);
        assert.equal(r.status, 200, f.get);
        assert.equal(await r.text(), f.body, f.get);
      }
      assert.deepEqual(seen, []);
    });
  }
});

describe("a blob deleted or truncated behind NORA's back", () => {
  test('GET never serves short bytes as complete, HEAD answers, the same bytes repair it', async () => {
    await using server = await startTestServer({});
    const body = Buffer.alloc(300 * 1024, 9);
    const hex = sha256(body);
    const put = await fetch(`${server.url}/raw/dmg/a.bin`, { method: 'PUT', body });
    assert.equal(put.status, 201, await put.text());
    const file = path.join(server.dataDir, 'storage', 'blobs', 'sha256', hex.slice(0, 2), hex);
    assert.ok(fs.existsSync(file), file);

    /** GET over a plain socket: status, declared length, bytes received, cut or not. */
    const get = (p: string) =>
      new Promise<{ status: number; declared: number; got: number; cut: boolean }>((resolve) => {
        const req = http.get(`${server.url}${p}`, (res) => {
          let got = 0;
          res.on('data', (c: Buffer) => (got += c.length));
          const done = (cut: boolean) => {
            resolve({
              status: res.statusCode ?? 0,
              declared: Number(res.headers['content-length'] ?? -1),
              got,
              cut,
            });
          };
          res.on('end', () => {
            done(false);
          });
          res.on('error', () => {
            done(true);
          });
          res.on('aborted', () => {
            done(true);
          });
        });
        req.on('error', () => {
          resolve({ status: 0, declared: -1, got: 0, cut: true });
        });
      });

    fs.truncateSync(file, 1000);
    const short = await get('/raw/dmg/a.bin');
    // A 200 whose bytes are fewer than declared must be cut, never ended as if complete.
    if (short.status === 200)
      assert.ok(short.cut || short.got === short.declared, JSON.stringify(short));
    const head = await fetch(`${server.url}/raw/dmg/a.bin`, { method: 'HEAD' });
    assert.notEqual(head.status, 500);

    // The short read found the damage and removed the file already (a file of up to 1 MiB is
    // checked before any byte is sent): gone either way.
    fs.rmSync(file, { force: true });
    const missing = await fetch(`${server.url}/raw/dmg/a.bin`);
    const text = await missing.text();
    assert.equal(missing.status, 410, text);
    assert.match(text, /stored file missing from storage/);
    // HEAD agrees with GET (it answered 200 from the metadata alone).
    const head2 = await fetch(`${server.url}/raw/dmg/a.bin`, { method: 'HEAD' });
    assert.equal(head2.status, 410);

    // The same bytes uploaded again (another path: raw files are immutable) restore the blob.
    const again = await fetch(`${server.url}/raw/dmg/b.bin`, { method: 'PUT', body });
    assert.equal(again.status, 201, await again.text());
    const repaired = await fetch(`${server.url}/raw/dmg/a.bin`);
    const bytes = Buffer.from(await repaired.arrayBuffer());
    assert.equal(repaired.status, 200);
    assert.equal(sha256(bytes), hex);
    const head3 = await fetch(`${server.url}/raw/dmg/a.bin`, { method: 'HEAD' });
    assert.equal(head3.status, 200);
    const health = await fetch(`${server.url}/health`);
    await health.arrayBuffer();
    assert.equal(health.status, 200);
  });
});

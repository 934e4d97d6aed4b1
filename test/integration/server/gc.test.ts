/**
 * `nora gc` and the `[gc]` pass against a running server: artifacts published over HTTP in
 * every format (raw, OCI, npm, Maven, PyPI, Helm, Cargo, Go), some overwritten or deleted, orphan
 * blobs; a dry run removes nothing and names the orphan, the default grace keeps a young orphan,
 * `--apply --grace 0` removes every unreferenced blob (an unpublished npm tarball among them: its
 * tombstone refers to none) while every referenced artifact still
 * downloads byte-identical; a blob stored between mark and sweep is kept; a format that does not
 * declare its references, or a reference that is no digest, stops the pass before any removal.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { sql } from 'kysely';
import { type Digest, parseDigest } from '../../../src/core/digest.ts';
import type { FormatModule } from '../../../src/formats/format.ts';
import { FORMATS } from '../../../src/formats/index.ts';
import { runGcOffline } from '../../../src/gc/cli.ts';
import { collectGarbage, GcRefusedError, type GcReport } from '../../../src/gc/collector.ts';
import { SqlBlobIndex } from '../../../src/db/blob-index.ts';
import { BlobStore } from '../../../src/storage/blob-store.ts';
import { blobKey } from '../../../src/storage/keys.ts';
import { buildChart } from '../../helpers/helm.ts';
import { startTestServer, type TestServer } from '../../helpers/server.ts';
import { crateBody } from '../cargo/fixtures.ts';
import { NpmHttp } from '../npm/client.ts';
import { tarballOf } from '../npm/fixtures.ts';
import { Client as OciClient } from '../oci/helpers.ts';
import { makeSdist, makeZip, MULTIPART, multipartBody, twineFields } from '../pypi/fixtures.ts';
import { emptyJar } from '../../helpers/zip-fixtures.ts';

const DAY_MS = 86_400_000;

/** The module as a format that declares no blob references would be. */
function withoutReferences(format: FormatModule): FormatModule {
  const copy: { -readonly [K in keyof FormatModule]: FormatModule[K] } = { ...format };
  delete copy.blobReferences;
  return copy;
}

function sha256(data: Buffer | string): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

describe('garbage collection of unreferenced blobs', () => {
  let server: TestServer;
  /** URL path → the bytes it must keep answering. */
  const downloads = new Map<string, Buffer>();
  /** Digests of blobs nothing references any more (overwritten, deleted). */
  const garbage: string[] = [];

  const url = (p: string) => `${server.url}${p}`;
  const put = async (p: string, body: Buffer | string, headers: Record<string, string> = {}) => {
    const res = await fetch(url(p), { method: 'PUT', body, headers });
    assert.ok(res.status === 201 || res.status === 200, `PUT ${p}: ${await res.text()}`);
  };
  const storagePath = (digest: string) =>
    path.join(server.config.storage.path, blobKey(parseDigest(digest)));
  const exists = (digest: string) =>
    fs.stat(storagePath(digest)).then(
      () => true,
      () => false,
    );
  /** Stores bytes no metadata refers to; `ageDays` back-dates the file and its row. */
  const orphan = async (text: string, ageDays = 0): Promise<Digest> => {
    const stored = await server.app.context.blobs.ingest(Readable.from([Buffer.from(text)]));
    if (ageDays > 0) await age(stored.digest, ageDays);
    return stored.digest;
  };
  const age = async (digest: Digest, days: number) => {
    const at = Date.now() - days * DAY_MS;
    await fs.utimes(storagePath(`${digest.algorithm}:${digest.hex}`), at / 1000, at / 1000);
    await sql`UPDATE blobs SET created_at = ${at} WHERE digest = ${`${digest.algorithm}:${digest.hex}`}`.execute(
      server.app.context.db,
    );
  };
  const dryRun = (graceSeconds?: number) =>
    runGcOffline(server.config, {
      apply: false,
      ...(graceSeconds === undefined ? {} : { graceSeconds }),
    });
  const apply = (graceSeconds?: number) =>
    runGcOffline(server.config, {
      apply: true,
      ...(graceSeconds === undefined ? {} : { graceSeconds }),
    });
  const assertDownloads = async () => {
    for (const [p, bytes] of downloads) {
      const res = await fetch(url(p));
      assert.equal(res.status, 200, `GET ${p}`);
      const got = Buffer.from(await res.arrayBuffer());
      assert.ok(got.equals(bytes), `GET ${p}: the bytes published`);
    }
  };

  before(async () => {
    server = await startTestServer({
      config: { cargo: { proxy: '' } },
      env: { NORA_GO_PROXY: 'none' },
    });

    // raw: one kept, one overwritten (its first bytes are garbage), one deleted.
    await put('/raw/site/keep.txt', 'kept bytes');
    downloads.set('/raw/site/keep.txt', Buffer.from('kept bytes'));
    await put('/raw/site/over.txt', 'first version');
    const etag = (await fetch(url('/raw/site/over.txt'), { method: 'HEAD' })).headers.get('etag');
    assert.ok(etag !== null);
    await put('/raw/site/over.txt', 'second version', { 'if-match': etag });
    downloads.set('/raw/site/over.txt', Buffer.from('second version'));
    garbage.push(sha256('first version'));
    await put('/raw/site/gone.txt', 'deleted bytes');
    const del = await fetch(url('/raw/site/gone.txt'), { method: 'DELETE' });
    assert.ok(del.status === 204 || del.status === 200, `DELETE raw: ${del.status}`);
    garbage.push(sha256('deleted bytes'));

    // OCI: an image (manifest, config, layer), and a blob pushed then deleted.
    const oci = new OciClient(server.url);
    const image = await oci.pushImage('team/app', 'v1', { layer: 'the layer bytes' });
    downloads.set(`/v2/team/app/manifests/${image.digest}`, Buffer.from(image.body));
    downloads.set(`/v2/team/app/blobs/${image.layer}`, Buffer.from('the layer bytes'));
    const dropped = await oci.pushBlob('team/app', 'a blob deleted later');
    const blobDelete = await oci.fetch(`/v2/team/app/blobs/${dropped}`, { method: 'DELETE' });
    assert.equal(blobDelete.status, 202, await blobDelete.text());
    garbage.push(dropped);

    // npm: one version.
    const npm = new NpmHttp(`${server.url}/npm`);
    const spec = { name: 'gc-demo', version: '1.0.0' };
    const published = await npm.publish(spec);
    assert.equal(published.status, 201, published.text);
    downloads.set('/npm/gc-demo/-/gc-demo-1.0.0.tgz', tarballOf(spec));
    // An unpublished package: its tombstone keeps the name@version, not the tarball (trial 18
    // authx F6: the tombstone's digest kept the bytes forever).
    const gone = { name: 'gc-unpublished', version: '1.0.0' };
    const goneReply = await npm.publish(gone);
    assert.equal(goneReply.status, 201, goneReply.text);
    const { _rev: rev } = (await npm.packument(gone.name)).json<{ _rev: string }>();
    const unpublished = await npm.request('DELETE', `/${gone.name}/-rev/${rev}`);
    assert.equal(unpublished.status, 200, unpublished.text);
    garbage.push(`sha512:${createHash('sha512').update(tarballOf(gone)).digest('hex')}`);

    // Maven: a jar and its pom.
    const jar = Buffer.from(emptyJar('fake jar bytes'));
    const pom = Buffer.from(
      '<project><modelVersion>4.0.0</modelVersion><groupId>com.example</groupId>' +
        '<artifactId>lib</artifactId><version>1.0</version></project>',
    );
    await put('/maven2/com/example/lib/1.0/lib-1.0.jar', jar);
    await put('/maven2/com/example/lib/1.0/lib-1.0.pom', pom);
    downloads.set('/maven2/com/example/lib/1.0/lib-1.0.jar', jar);
    downloads.set('/maven2/com/example/lib/1.0/lib-1.0.pom', pom);

    // PyPI: an sdist.
    const sdist = makeSdist('gc-demo', '1.0');
    const upload = await fetch(url('/simple/'), {
      method: 'POST',
      headers: { 'content-type': MULTIPART },
      body: multipartBody(twineFields('gc-demo', '1.0', sdist), sdist),
    });
    assert.equal(upload.status, 200, await upload.text());
    downloads.set(`/simple/gc-demo/${sdist.filename}`, sdist.data);

    // Helm: a chart.
    const chart = await buildChart({ name: 'gcdemo', version: '1.0.0' });
    const posted = await fetch(url('/helm/api/charts'), { method: 'POST', body: chart });
    assert.equal(posted.status, 201, await posted.text());
    downloads.set('/helm/charts/gcdemo-1.0.0.tgz', chart);

    // Cargo: a crate.
    const body = await crateBody('gc_demo', '0.1.0');
    const crate = await fetch(url('/cargo/api/v1/crates/new'), { method: 'PUT', body });
    assert.equal(crate.status, 200, await crate.text());
    const download = await fetch(url('/cargo/api/v1/crates/gc_demo/0.1.0/download'));
    assert.equal(download.status, 200);
    downloads.set(
      '/cargo/api/v1/crates/gc_demo/0.1.0/download',
      Buffer.from(await download.arrayBuffer()),
    );

    // Go: a module version (its .zip and .mod).
    const mod = 'example.com/gcdemo';
    const zip = makeZip([
      { name: `${mod}@v1.0.0/go.mod`, data: Buffer.from(`module ${mod}\n\ngo 1.19\n`) },
      { name: `${mod}@v1.0.0/gc.go`, data: Buffer.from('package gcdemo\n') },
    ]);
    const goPut = await fetch(url(`/go/${mod}/@v/v1.0.0.zip`), {
      method: 'PUT',
      body: zip,
      headers: { 'content-type': 'application/zip' },
    });
    assert.equal(goPut.status, 201, await goPut.text());
    downloads.set(`/go/${mod}/@v/v1.0.0.zip`, zip);
    downloads.set(`/go/${mod}/@v/v1.0.0.mod`, Buffer.from(`module ${mod}\n\ngo 1.19\n`));

    await assertDownloads();
  });

  after(async () => {
    await server.close();
  });

  test('dry run: nothing deleted, the old orphan reported, young garbage kept', async () => {
    const old = await orphan('an orphan from last month', 30);
    const young = await orphan('an orphan from a minute ago');
    const oldName = `${old.algorithm}:${old.hex}`;
    const report = await dryRun();
    assert.equal(report.apply, false);
    assert.equal(report.graceSeconds, 604_800, 'the default grace, 7 days');
    assert.equal(report.blobs, 1, JSON.stringify(report));
    assert.deepEqual(
      report.examples.map((e) => e.digest),
      [oldName],
    );
    assert.equal(report.bytes, 'an orphan from last month'.length);
    assert.ok(report.young >= 1 + garbage.length, `young: ${report.young}`);
    assert.ok(await exists(oldName), 'a dry run deletes nothing');
    for (const digest of garbage) assert.ok(await exists(digest), digest);
    await assertDownloads();

    // The default grace: the old orphan goes, the young one and the fresh garbage stay.
    const applied = await apply();
    assert.equal(applied.blobs, 1);
    assert.equal(await exists(oldName), false, 'the old orphan is gone');
    assert.ok(await exists(`${young.algorithm}:${young.hex}`), 'a young orphan is kept');
    for (const digest of garbage) assert.ok(await exists(digest), digest);
    const row = await server.app.context.db
      .selectFrom('blobs')
      .select('digest')
      .where('digest', '=', oldName)
      .executeTakeFirst();
    assert.equal(row, undefined, 'its index row is gone too');
    await assertDownloads();
  });

  test('--apply --grace 0: every unreferenced blob goes, every artifact still downloads', async () => {
    const spoolDir = path.join(server.app.context.blobs.driver.spoolDir(), 'ingest');
    await fs.mkdir(spoolDir, { recursive: true });
    const staleSpool = path.join(spoolDir, 'left-by-a-crash');
    await fs.writeFile(staleSpool, 'half an upload');
    const past = (Date.now() - 10 * DAY_MS) / 1000;
    await fs.utimes(staleSpool, past, past);
    const stray = await orphan('one more orphan');

    const dry = await dryRun(0);
    assert.ok(dry.blobs >= garbage.length + 1, JSON.stringify(dry));
    assert.equal(dry.spoolFiles, 1);
    assert.ok(await exists(`${stray.algorithm}:${stray.hex}`));

    const report: GcReport = await apply(0);
    assert.equal(report.apply, true);
    assert.equal(report.blobs, dry.blobs);
    assert.equal(report.spoolFiles, 1);
    for (const digest of [...garbage, `${stray.algorithm}:${stray.hex}`]) {
      assert.equal(await exists(digest), false, `${digest} removed`);
    }
    await assert.rejects(fs.stat(staleSpool), 'the stale spool file is removed');
    await assertDownloads();

    // Nothing is left to remove, and a second pass removes nothing.
    const again = await apply(0);
    assert.equal(again.blobs, 0);
    assert.equal(again.young, 0);
    await assertDownloads();
  });

  for (const where of ['in the server', 'in another process (nora gc)'] as const) {
    test(`a blob stored between the mark and the sweep is kept (fresh, or stored again): ${where}`, async () => {
      // Bytes stored long ago and unreferenced, uploaded again while the pass runs: the upload
      // refreshes the blob's time, so the sweep (which did not see its new reference) keeps it.
      const reused = await orphan(`bytes uploaded again ${where}`, 30);
      const { db, blobs } = server.app.context;
      // Another process: its own BlobStore, which knows nothing of the server's ingests.
      const collector =
        where === 'in the server' ? blobs : new BlobStore(blobs.driver, new SqlBlobIndex(db));
      let fresh: Digest | undefined;
      const report = await collectGarbage({
        db,
        blobs: collector,
        formats: FORMATS,
        graceSeconds: 0,
        apply: true,
        afterMark: async () => {
          fresh = await orphan(`a push landing mid-pass ${where}`);
          await orphan(`bytes uploaded again ${where}`);
        },
      });
      assert.ok(fresh);
      assert.ok(await exists(`${fresh.algorithm}:${fresh.hex}`), 'the new blob is kept');
      assert.ok(await exists(`${reused.algorithm}:${reused.hex}`), 'the re-stored blob is kept');
      assert.equal(report.blobs, 0, JSON.stringify(report));
      assert.equal(report.young, 2);
      await apply(0); // clean for the next case
    });
  }

  test('a proxy cache entry is a reference (queued engine rows written first)', async () => {
    const cached = await orphan('bytes a proxy cached last month', 30);
    const name = `${cached.algorithm}:${cached.hex}`;
    const { proxy, db, blobs } = server.app.context;
    await proxy.remember('some-proxy', 'file:cached.txt', {
      digest: name,
      size: 31,
      mediaType: 'text/plain',
      etag: undefined,
      upstream: undefined,
    });
    const report = await collectGarbage({
      db,
      blobs,
      formats: FORMATS,
      graceSeconds: 0,
      apply: true,
      beforeMark: () => proxy.state.flush(),
    });
    assert.equal(report.blobs, 0, JSON.stringify(report));
    assert.ok(await exists(name), 'the cached blob is kept');
    await proxy.state.delete('some-proxy', 'file:cached.txt');
    await apply(0);
    assert.equal(await exists(name), false, 'once its entry is gone, so is the blob');
  });

  test('a reference past the first page of a column is marked (the mark reads in pages)', async () => {
    const kept = await orphan('named by the last of many rows', 30);
    const name = `${kept.algorithm}:${kept.hex}`;
    const { db } = server.app.context;
    const rows = 4_500; // past two pages of the mark
    await db.transaction().execute(async (trx) => {
      for (let i = 0; i < rows; i++) {
        const digest = i === rows - 1 ? name : sha256(`not stored ${i}`);
        await sql`INSERT INTO raw_files (repo, path, parent, name, digest, size, created_at, updated_at)
          VALUES ('paged', ${`f/${i}`}, 'f', ${String(i)}, ${digest}, 1, 0, 0)`.execute(trx);
      }
    });
    const report = await apply(0);
    assert.ok(report.referenced >= rows, `referenced: ${report.referenced}`);
    assert.ok(await exists(name), 'the blob the last row names is kept');
    await sql`DELETE FROM raw_files WHERE repo = 'paged'`.execute(db);
    await apply(0);
    assert.equal(await exists(name), false);
  });

  test("an open OCI upload's spool file is left to the upload, however old", async () => {
    const oci = new OciClient(server.url);
    const started = await oci.fetch('/v2/team/app/blobs/uploads/', { method: 'POST' });
    assert.equal(started.status, 202);
    const location = started.headers.get('location') ?? '';
    const chunk = 'the first half, ';
    const patched = await oci.fetch(location, {
      method: 'PATCH',
      body: chunk,
      headers: {
        'content-type': 'application/octet-stream',
        'content-range': `0-${chunk.length - 1}`,
      },
    });
    assert.equal(patched.status, 202, await patched.text());
    const session = await sql<{ spool_path: string }>`SELECT spool_path FROM oci_uploads`.execute(
      server.app.context.db,
    );
    const spool = session.rows[0]?.spool_path ?? '';
    const past = (Date.now() - 10 * DAY_MS) / 1000;
    await fs.utimes(spool, past, past);
    const report = await apply(0);
    assert.equal(report.spoolFiles, 0);
    await fs.stat(spool); // still there
    const rest = 'the second half';
    const next = patched.headers.get('location') ?? location;
    const done = await oci.fetch(
      `${next}${next.includes('?') ? '&' : '?'}digest=${sha256(chunk + rest)}`,
      {
        method: 'PUT',
        body: rest,
        headers: { 'content-type': 'application/octet-stream' },
      },
    );
    assert.equal(done.status, 201, await done.text());
  });

  test('a format that does not declare its references, or a bad reference: nothing swept', async () => {
    const victim = await orphan('must survive a refused pass', 30);
    const undeclared = FORMATS.map((f) => (f.format === 'helm' ? withoutReferences(f) : f));
    await assert.rejects(
      collectGarbage({
        db: server.app.context.db,
        blobs: server.app.context.blobs,
        formats: undeclared,
        graceSeconds: 0,
        apply: true,
      }),
      (err: unknown) => err instanceof GcRefusedError && /helm format/.test(err.message),
    );
    const broken = FORMATS.map((f) =>
      f.format === 'raw' ? { ...f, blobReferences: [{ table: 'raw_files', column: 'path' }] } : f,
    );
    await assert.rejects(
      collectGarbage({
        db: server.app.context.db,
        blobs: server.app.context.blobs,
        formats: broken,
        graceSeconds: 0,
        apply: true,
      }),
      (err: unknown) => err instanceof GcRefusedError && /raw_files\.path/.test(err.message),
    );
    const missing = FORMATS.map((f) =>
      f.format === 'npm' ? { ...f, blobReferences: [{ table: 'no_such_table', column: 'x' }] } : f,
    );
    await assert.rejects(
      collectGarbage({
        db: server.app.context.db,
        blobs: server.app.context.blobs,
        formats: missing,
        graceSeconds: 0,
        apply: true,
      }),
      GcRefusedError,
    );
    assert.ok(await exists(`${victim.algorithm}:${victim.hex}`), 'nothing was removed');
  });
});

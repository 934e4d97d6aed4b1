/**
 * `nora gc` in another process racing an upload of bytes stored long ago and unreferenced since
 * (the default grace, 7 days): the upload finds the blob in place (dedup: nothing written), the
 * pass, which did not see the new reference, removes the blob's row and file, then the upload
 * records its reference: an artifact whose bytes are gone. The pass is run at the exact moment
 * (a hook on the storage driver's `stat` of that blob, the upload's dedup check), for a raw PUT
 * (its blob row recorded with its file row, `deferIndex`) and a Maven PUT (recorded by ingest).
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { sql } from 'kysely';
import { parseDigest } from '../../../src/core/digest.ts';
import { SqlBlobIndex } from '../../../src/db/blob-index.ts';
import { FORMATS } from '../../../src/formats/index.ts';
import { collectGarbage, GcRefusedError } from '../../../src/gc/collector.ts';
import { BlobStore } from '../../../src/storage/blob-store.ts';
import { blobKey } from '../../../src/storage/keys.ts';
import { startTestServer, type TestServer } from '../../helpers/server.ts';
import { onNextStat } from './stat-hook.ts';
import { emptyJar } from '../../helpers/zip-fixtures.ts';

const DAY_MS = 86_400_000;

describe('gc in another process racing a dedup upload of old unreferenced bytes', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({
      config: { cargo: { proxy: '' } },
      env: { NORA_GO_PROXY: 'none' },
    });
  });
  after(async () => {
    await server.close();
  });

  /** Stores `text` as a blob nothing refers to, last stored 30 days ago. */
  const oldOrphan = async (text: string): Promise<string> => {
    const { blobs, db } = server.app.context;
    const stored = await blobs.ingest(Readable.from([Buffer.from(text)]));
    const name = `${stored.digest.algorithm}:${stored.digest.hex}`;
    const at = Date.now() - 30 * DAY_MS;
    const file = path.join(server.config.storage.path, blobKey(stored.digest));
    await fs.utimes(file, at / 1000, at / 1000);
    await sql`UPDATE blobs SET created_at = ${at} WHERE digest = ${name}`.execute(db);
    return name;
  };

  /**
   * Runs one applied pass with the default grace, as `nora gc` in another process would (its own
   * BlobStore: none of the server's in-memory ingest notes), when the server's driver is next
   * asked for `digest`'s file.
   */
  const passOnNextStat = (digest: string): (() => Promise<void>) =>
    onNextStat(server.app.context.blobs.driver, blobKey(parseDigest(digest)), () =>
      collectGarbage({
        db: server.app.context.db,
        blobs: new BlobStore(
          server.app.context.blobs.driver,
          new SqlBlobIndex(server.app.context.db),
        ),
        formats: FORMATS,
        graceSeconds: 604_800,
        apply: true,
      }),
    );

  for (const [label, urlPath] of [
    ['raw PUT', '/raw/race/old-bytes.bin'],
    ['Maven PUT', '/maven2/com/example/race/1.0/race-1.0.jar'],
  ] as const) {
    test(`${label}: the artifact downloads after the pass`, async () => {
      // Starts like a zip: a Maven .jar deploy refuses other bytes.
      const text = emptyJar(`bytes first stored a month ago, uploaded again: ${label}`);
      const digest = await oldOrphan(text);
      assert.equal(digest, `sha256:${createHash('sha256').update(text).digest('hex')}`);
      const pass = passOnNextStat(digest);
      const res = await fetch(`${server.url}${urlPath}`, { method: 'PUT', body: text });
      assert.ok(res.status === 201 || res.status === 200, `PUT: ${res.status}`);
      await pass();
      const got = await fetch(`${server.url}${urlPath}`);
      assert.equal(got.status, 200, `GET ${urlPath} after the pass`);
      assert.equal(await got.text(), text);
      // And a later pass keeps it (it is referenced now).
      const again = await collectGarbage({
        db: server.app.context.db,
        blobs: server.app.context.blobs,
        formats: FORMATS,
        graceSeconds: 0,
        apply: true,
      });
      assert.ok(again.referenced > 0);
      assert.equal((await fetch(`${server.url}${urlPath}`)).status, 200);
    });
  }

  test('the store finds the file and records its row after the pass removed the old row: the blob is put back', async () => {
    const text = 'bytes the server stores again while the pass removes them';
    const digest = await oldOrphan(text);
    const { blobs, db } = server.app.context;
    const file = path.join(server.config.storage.path, blobKey(parseDigest(digest)));
    let stored: boolean | undefined;
    class RacingIndex extends SqlBlobIndex {
      override async removeIfOlder(name: string, cutoff: number) {
        const outcome = await super.removeIfOlder(name, cutoff);
        // The server, in between: finds the file (dedup), records the row, looks again.
        if (name === digest) stored = (await blobs.ingest(Readable.from([text]))).created;
        return outcome;
      }
    }
    const report = await collectGarbage({
      db,
      blobs: new BlobStore(blobs.driver, new RacingIndex(db)),
      formats: FORMATS,
      graceSeconds: 604_800,
      apply: true,
    });
    assert.equal(stored, false, 'the server found the file in place');
    assert.equal(report.blobs, 0, JSON.stringify(report));
    assert.equal(await fs.readFile(file, 'utf8'), text, 'the blob is still there');
    const spool = await fs.readdir(blobs.driver.spoolDir(), { recursive: true });
    assert.deepEqual(
      spool.filter((name) => name.includes('gc')),
      [],
      'nothing held aside is left',
    );
  });

  // A reference moved into an old row after the mark read it (raw CAS overwrite: an UPDATE of a
  // row the paged rowid scan has passed) naming bytes stored long ago and unreferenced since.
  for (const [where, grace] of [
    ['server', 604_800],
    ['server', 0],
    ['other', 604_800],
    ['other', 0],
  ] as const) {
    test(`an UPDATE of an old row after the mark, to old bytes: kept (${where}, grace ${grace})`, async () => {
      const { blobs, db } = server.app.context;
      const p = `/raw/moved/${where}-${grace}.txt`;
      const first = await fetch(`${server.url}${p}`, { method: 'PUT', body: 'the first bytes' });
      assert.equal(first.status, 201);
      const text = `old bytes moved into an old row (${where}, ${grace})`;
      await oldOrphan(text);
      const report = await collectGarbage({
        db,
        blobs: where === 'server' ? blobs : new BlobStore(blobs.driver, new SqlBlobIndex(db)),
        formats: FORMATS,
        graceSeconds: grace,
        apply: true,
        afterMark: async () => {
          const sha = createHash('sha256').update('the first bytes').digest('hex');
          const res = await fetch(`${server.url}${p}`, {
            method: 'PUT',
            body: text,
            headers: { 'if-match': `"${sha}"` },
          });
          assert.ok(res.status < 300, `CAS: ${res.status}`);
        },
      });
      assert.ok(report.referenced > 0);
      const got = await fetch(`${server.url}${p}`);
      assert.equal(got.status, 200, `GET ${p}`);
      assert.equal(await got.text(), text);
    });
  }

  test('a reference in another shape: bare hex or an uppercase digest refuses the pass; sha512 is kept', async () => {
    const { db, blobs } = server.app.context;
    const text = 'bytes named in another shape';
    const name = await oldOrphan(text);
    const hexOnly = name.slice('sha256:'.length);
    const pass = () =>
      collectGarbage({ db, blobs, formats: FORMATS, graceSeconds: 0, apply: true });
    for (const shape of [hexOnly, name.toUpperCase(), `sha256:${hexOnly} `]) {
      await sql`INSERT INTO raw_files (repo, path, parent, name, digest, size, created_at, updated_at)
        VALUES ('shapes', 'f', '', 'f', ${shape}, 1, 0, 0)`.execute(db);
      await assert.rejects(pass(), GcRefusedError, `refused for ${JSON.stringify(shape)}`);
      await sql`DELETE FROM raw_files WHERE repo = 'shapes'`.execute(db);
      assert.ok(await blobs.stat(parseDigest(name)), 'nothing removed');
    }
    // A sha512 address (npm proxied tarballs): the blob stored under it is the one kept.
    const stored = await blobs.ingest(Readable.from([Buffer.from(text)]), {
      expected: {
        algorithm: 'sha512',
        hex: createHash('sha512').update(text).digest('hex'),
      },
    });
    const sha512 = `sha512:${stored.digest.hex}`;
    await sql`INSERT INTO raw_files (repo, path, parent, name, digest, size, created_at, updated_at)
      VALUES ('shapes', 'f', '', 'f', ${sha512}, 1, 0, 0)`.execute(db);
    await pass();
    assert.ok(await blobs.stat(stored.digest), 'the sha512 blob is kept');
    assert.equal(
      await blobs.stat(parseDigest(name)),
      undefined,
      'the unreferenced sha256 one goes',
    );
    await sql`DELETE FROM raw_files WHERE repo = 'shapes'`.execute(db);
  });
});

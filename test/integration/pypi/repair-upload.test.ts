/**
 * The same file uploaded again repairs it (docs/storage.md, "Integrity of stored bytes"): a
 * wheel whose stored bytes are gone (removed after failing the integrity check on read) answers
 * 503; twine uploading the identical file again is accepted (200, as PyPI does) and must store
 * the bytes again, the wheel's and its PEP 658 core metadata's, so pip reads them once more.
 * It used to answer 200 and store nothing: the file stayed 503 for good. A HEAD of the missing
 * file answers 503 like its GET (it said 200).
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, test } from 'node:test';
import { startTestServer } from '../../helpers/server.ts';
import { MULTIPART, makeWheel, multipartBody, twineFields } from './fixtures.ts';

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('pypi: re-uploading the same file repairs its missing stored bytes', () => {
  test('wheel and core metadata removed from storage: 410, same upload 200, then served', async () => {
    await using server = await startTestServer({});
    const wheel = makeWheel('repair-me', '1.0');
    const upload = () =>
      fetch(`${server.url}/simple/`, {
        method: 'POST',
        headers: { 'content-type': MULTIPART },
        body: multipartBody(twineFields('repair-me', '1.0', wheel), wheel),
      });
    const first = await upload();
    assert.equal(first.status, 200, await first.text());
    const fileUrl = `${server.url}/simple/repair-me/${wheel.filename}`;
    const metadataUrl = `${fileUrl}.metadata`;
    const metadata = Buffer.from(await (await fetch(metadataUrl)).arrayBuffer());
    assert.ok(metadata.length > 0);

    const blobFile = (body: Buffer) => {
      const hex = sha256(body);
      return path.join(server.dataDir, 'storage', 'blobs', 'sha256', hex.slice(0, 2), hex);
    };
    await fs.rm(blobFile(wheel.data));
    await fs.rm(blobFile(metadata));
    // The answer memo keeps a small answer up to 1 s: wait it out before reading storage again.
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const broken = await fetch(fileUrl);
    await broken.arrayBuffer();
    assert.equal(broken.status, 410);
    // pip prints only the status line of a failed download (`410 Client Error: <reason> for
    // url`): the reason phrase carries the message (trial 17 F11).
    assert.match(broken.statusText, /^Gone - stored file missing from storage/);
    // HEAD agrees with GET (it answered 200 from the metadata alone), for the file and its
    // core metadata.
    for (const u of [fileUrl, metadataUrl]) {
      const head = await fetch(u, { method: 'HEAD' });
      assert.equal(head.status, 410, u);
    }

    const again = await upload();
    assert.equal(again.status, 200, await again.text());
    const file = await fetch(fileUrl);
    assert.equal(file.status, 200);
    assert.equal(sha256(Buffer.from(await file.arrayBuffer())), sha256(wheel.data));
    const meta = await fetch(metadataUrl);
    assert.equal(meta.status, 200);
    assert.equal(sha256(Buffer.from(await meta.arrayBuffer())), sha256(metadata));
    for (const u of [fileUrl, metadataUrl]) {
      const head = await fetch(u, { method: 'HEAD' });
      assert.equal(head.status, 200, u);
    }
  });
});

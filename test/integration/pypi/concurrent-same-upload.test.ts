/**
 * Identical uploads of one file at the same time (parallel CI jobs publishing the same sdist, a
 * twine retry while the first attempt is still being stored): each gets what a sequential
 * retry of the same bytes gets, 200 (README: "the same bytes again are accepted"). The loser of
 * the insert race used to answer 400 "File already exists" although its bytes were the
 * winner's. Other bytes under the same name still lose with 400 (hosted.test.ts).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { startTestServer } from '../../helpers/server.ts';
import { MULTIPART, makeSdist, makeWheel, multipartBody, twineFields } from './fixtures.ts';

describe('pypi: concurrent identical uploads', () => {
  test('eight at once, sdist and wheel: every one 200, one file each in the index', async () => {
    await using server = await startTestServer({});
    const sdist = makeSdist('same-bytes', '1.0');
    const wheel = makeWheel('same-bytes', '1.0');
    const upload = (file: { filename: string; data: Buffer }) =>
      fetch(`${server.url}/simple/`, {
        method: 'POST',
        headers: { 'content-type': MULTIPART },
        body: multipartBody(twineFields('same-bytes', '1.0', file), file),
      });
    const answers = await Promise.all(
      [sdist, wheel].flatMap((file) =>
        Array.from({ length: 8 }, async () => {
          const res = await upload(file);
          return { status: res.status, text: await res.text() };
        }),
      ),
    );
    for (const a of answers) assert.equal(a.status, 200, a.text);

    const index = await (await fetch(`${server.url}/simple/same-bytes/`)).text();
    for (const file of [sdist, wheel]) {
      assert.equal(index.split(`>${file.filename}</a>`).length - 1, 1, index);
      const got = await fetch(`${server.url}/simple/same-bytes/${file.filename}`);
      assert.equal(got.status, 200);
      assert.deepEqual(Buffer.from(await got.arrayBuffer()), file.data);
    }
  });
});

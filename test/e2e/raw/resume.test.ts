/**
 * Resumed downloads with real clients (If-Range, RFC 9110 §13.1.5):
 * - `curl -C - -H 'If-Range: <validator>'` (curl sends no If-Range of its own: a script keeps the
 *   ETag or Last-Modified of the first attempt) completes a partial raw file and a partial Maven
 *   jar with the right bytes: the result's sha256 is the server's (the raw listing's `sha256`,
 *   Maven's `.sha256`);
 * - after the raw file is replaced (`If-Match` overwrite), a resume naming the old ETag or the old
 *   Last-Modified gets the whole new file (200) instead of a range of it: curl refuses to append
 *   it ("HTTP server doesn't seem to support byte ranges", exit 33) and leaves the partial file as
 *   it was, never old and new bytes spliced; downloading again gives the server's sha256. Without
 *   If-Range (plain `curl -C -`, `wget -c`) the server cannot tell, and the range of the new file
 *   is what the client asked for;
 * - `wget -c` resumes an unchanged file; what it sends is checked (`Range` and no If-Range: wget
 *   1.21 keeps no validator, so a file replaced between its attempts cannot be detected by the
 *   server — documented, not something NORA can change).
 * A missing client skips its test and says so.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { curl, curlHeaders, sha256, sha256File } from '../../helpers/curl.ts';
import { startTestServer, type TestServer } from '../../helpers/server.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { missingTools, run } from '../../helpers/tools.ts';
import { zipLike } from '../../helpers/zip-fixtures.ts';

const SIZE = 300_000;
const CUT = 100_000;
/** curl's exit code when it asked to resume and the server sent the whole file. */
const CURLE_RANGE_ERROR = 33;

describe('resumed downloads (If-Range) with curl and wget', () => {
  let server: TestServer;
  let work: Awaited<ReturnType<typeof tempDir>>;

  before(async () => {
    work = await tempDir('nora-e2e-resume-');
    server = await startTestServer({ config: { maven: { proxies: [] } } });
  });
  after(async () => {
    await server.close();
    await work[Symbol.asyncDispose]();
  });

  const file = (name: string) => path.join(work.path, name);

  /** Stores `bytes` at `url` with `curl -T` (extra `args`, e.g. If-Match); expects `status`. */
  async function upload(url: string, bytes: Buffer, status: number, args: string[] = []) {
    const local = file(`upload-${sha256(bytes).slice(0, 8)}`);
    await fs.writeFile(local, bytes);
    const put = await curl([...args, '-T', local, url]);
    assert.equal(put.status, status, `PUT ${url}: ${put.body}${put.stderr}`);
  }

  /** The sha256 the raw listing of `folder` gives for `name`. */
  async function rawSha256(folder: string, name: string): Promise<string> {
    const listing = await curl(['-H', 'Accept: application/json', `${server.url}${folder}`]);
    assert.equal(listing.status, 200, listing.body);
    const entries = (JSON.parse(listing.body) as { entries: { name: string; sha256: string }[] })
      .entries;
    const entry = entries.find((e) => e.name === name);
    assert.ok(entry !== undefined, `${name} in ${listing.body}`);
    return entry.sha256;
  }

  /** Waits until a Last-Modified date is a second old (a date validator is strong only then). */
  async function settle(lastModified: string): Promise<void> {
    const wait = Date.parse(lastModified) + 1100 - Date.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
  }

  /** Writes the first CUT bytes of `bytes` to `local` (a download cut short). */
  const cutShort = (local: string, bytes: Buffer) => fs.writeFile(local, bytes.subarray(0, CUT));

  test(
    'curl -C - with If-Range (the ETag, the Last-Modified) completes a raw file: the server’s sha256',
    { skip: missingTools('curl') },
    async () => {
      const v1 = randomBytes(SIZE);
      const url = `${server.url}/raw/resume/tool.bin`;
      await upload(url, v1, 201);
      const { headers } = await curlHeaders(url);
      const etag = headers['etag'];
      const lastModified = headers['last-modified'];
      assert.ok(etag !== undefined && lastModified !== undefined, JSON.stringify(headers));
      await settle(lastModified);
      const expected = await rawSha256('/raw/resume/', 'tool.bin');
      assert.equal(expected, sha256(v1));
      for (const validator of [etag, lastModified]) {
        const local = file('tool.bin');
        await cutShort(local, v1);
        const resumed = await curl(['-C', '-', '-H', `If-Range: ${validator}`, '-o', local, url]);
        assert.equal(resumed.code, 0, `If-Range ${validator}: ${resumed.stderr}`);
        assert.equal(resumed.status, 206, `If-Range ${validator}: only the rest was sent`);
        assert.equal(await sha256File(local), expected, `If-Range ${validator}`);
      }
    },
  );

  test(
    'after an If-Match overwrite, a resume with the old validator never splices old and new bytes',
    { skip: missingTools('curl') },
    async () => {
      const v1 = randomBytes(SIZE);
      const v2 = randomBytes(SIZE);
      const url = `${server.url}/raw/resume/swap.bin`;
      await upload(url, v1, 201);
      const { headers } = await curlHeaders(url);
      const oldTag = headers['etag'] ?? '';
      const oldDate = headers['last-modified'] ?? '';
      await settle(oldDate);
      await upload(url, v2, 200, ['-H', `If-Match: ${oldTag}`]);
      const expected = await rawSha256('/raw/resume/', 'swap.bin');
      assert.equal(expected, sha256(v2));
      const local = file('swap.bin');
      for (const validator of [oldTag, oldDate]) {
        await cutShort(local, v1);
        const resumed = await curl(['-C', '-', '-H', `If-Range: ${validator}`, '-o', local, url]);
        assert.equal(resumed.status, 200, `If-Range ${validator}: the whole new file was sent`);
        const got = await fs.readFile(local);
        if (resumed.code === 0) {
          // A curl that rewrites the file from the start on a 200 has the new file whole.
          assert.equal(sha256(got), expected, `If-Range ${validator}`);
        } else {
          assert.equal(resumed.code, CURLE_RANGE_ERROR, resumed.stderr);
          assert.ok(got.equals(v1.subarray(0, CUT)), `If-Range ${validator}: left as it was`);
        }
        // The user's next step: download again.
        const again = await curl(['-o', local, url]);
        assert.equal(again.status, 200);
        assert.equal(await sha256File(local), expected);
      }
      // Without If-Range the range of the new file is what was asked for: the splice a
      // validator prevents (the result is neither version).
      await cutShort(local, v1);
      const blind = await curl(['-C', '-', '-o', local, url]);
      assert.equal(blind.status, 206);
      const spliced = await sha256File(local);
      assert.notEqual(spliced, expected);
      assert.notEqual(spliced, sha256(v1));
    },
  );

  test(
    'wget -c: what it sends, and an unchanged file completed with the server’s sha256',
    { skip: missingTools('curl', 'wget') },
    async () => {
      const v1 = randomBytes(SIZE);
      const url = `${server.url}/raw/resume/wget.bin`;
      await upload(url, v1, 201);
      const dir = file('wget');
      await fs.mkdir(dir);
      await cutShort(path.join(dir, 'wget.bin'), v1);
      const wget = await run('wget', ['-d', '-c', '-P', dir, url], {
        check: false,
        timeoutMs: 60_000,
      });
      assert.equal(wget.code, 0, wget.stderr);
      const request = /---request begin---([\s\S]*?)---request end---/.exec(wget.stderr)?.[1];
      assert.ok(request !== undefined, wget.stderr);
      assert.match(request, new RegExp(`^Range: bytes=${CUT}-\\r?$`, 'im'));
      // wget keeps no validator between attempts (if a later wget sends one, the stale case of
      // the curl test applies to it too).
      assert.doesNotMatch(request, /^If-Range:/im, 'wget 1.21 sends no If-Range');
      assert.match(wget.stderr, /206 Partial Content/);
      assert.equal(
        await sha256File(path.join(dir, 'wget.bin')),
        await rawSha256('/raw/resume/', 'wget.bin'),
      );
    },
  );

  test(
    'curl -C - completes a Maven jar (If-Range: its validator); a stale one gets the whole jar',
    { skip: missingTools('curl') },
    async () => {
      // A real zip (a hosted jar without its own end record is refused).
      const jar = zipLike(SIZE);
      const url = `${server.url}/maven2/com/acme/resume/lib/1.0/lib-1.0.jar`;
      await upload(url, jar, 201);
      const { headers } = await curlHeaders(url);
      const validator = headers['etag'] ?? headers['last-modified'];
      assert.ok(validator !== undefined, JSON.stringify(headers));
      if (headers['etag'] === undefined) await settle(validator);
      const checksum = await curl([`${url}.sha256`]);
      assert.equal(checksum.status, 200, checksum.body);
      const expected = checksum.body.trim().split(/\s+/)[0] ?? '';
      assert.equal(expected, sha256(jar));
      const local = file('lib-1.0.jar');
      await cutShort(local, jar);
      const resumed = await curl(['-C', '-', '-H', `If-Range: ${validator}`, '-o', local, url]);
      assert.equal(resumed.code, 0, resumed.stderr);
      assert.equal(resumed.status, 206);
      assert.equal(await sha256File(local), expected);
      await cutShort(local, jar);
      const stale = await curl(['-C', '-', '-H', 'If-Range: "not-this-jar"', '-o', local, url]);
      assert.equal(stale.status, 200, 'another ETag: the whole jar');
      const got = await fs.readFile(local);
      assert.ok(
        got.equals(jar.subarray(0, CUT)) || sha256(got) === expected,
        `exit ${stale.code}: neither left as it was nor the whole jar`,
      );
    },
  );
});

/**
 * Raw names in two Unicode normalization forms (trial F10): macOS's curl sends a name typed or
 * pasted from Finder in NFD (`cafe\u0301.txt`, percent-encoded `cafe%cc%81.txt`), Linux and
 * Windows in NFC (`caf\u00e9.txt`, `caf%c3%a9.txt`). Both spellings name one file, stored and
 * listed as NFC, whichever was used to upload, fetch, overwrite, list or delete.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import bcrypt from 'bcryptjs';
import { startTestServer, type TestServer } from '../../helpers/server.ts';
import { send } from '../../helpers/send.ts';
import { removeDir } from '../../helpers/tmp.ts';

// As curl writes them on the request line (lower-case percent-encoding of the UTF-8 bytes).
const NFD = 'cafe%cc%81';
const NFC = 'caf%c3%a9';

describe('raw names: NFC and NFD are one name', () => {
  let server: TestServer;
  let port = 0;
  const put = (p: string, body: string, headers: Record<string, string> = {}) =>
    send(port, 'PUT', `/raw/${p}`, { 'content-type': 'text/plain', ...headers }, body);
  const get = (p: string) => send(port, 'GET', `/raw/${p}`);

  before(async () => {
    server = await startTestServer({});
    port = server.port;
  });
  after(async () => {
    await server.close();
  });

  test('uploaded as NFD, fetched as NFC (and the other way round)', async () => {
    assert.equal((await put(`u/${NFD}.txt`, 'from a mac\n')).status, 201);
    const got = await get(`u/${NFC}.txt`);
    assert.equal(got.status, 200, got.body);
    assert.equal(got.body, 'from a mac\n');
    assert.equal((await get(`u/${NFD}.txt`)).body, 'from a mac\n');

    assert.equal((await put(`v/${NFC}.txt`, 'from linux\n')).status, 201);
    const back = await get(`v/${NFD}.txt`);
    assert.equal(back.status, 200, back.body);
    assert.equal(back.body, 'from linux\n');
  });

  test('the second spelling is the same file: immutable, conditional, one listing entry', async () => {
    assert.equal((await put(`w/${NFD}.txt`, 'one')).status, 201);
    const again = await put(`w/${NFC}.txt`, 'two');
    assert.equal(again.status, 409, again.body);
    assert.equal((await put(`w/${NFC}.txt`, 'two', { 'if-none-match': '*' })).status, 412);

    const listing = await send(port, 'GET', '/raw/w/?format=json');
    assert.equal(listing.status, 200, listing.body);
    const names = (JSON.parse(listing.body) as { entries: { name: string }[] }).entries.map(
      (e) => e.name,
    );
    assert.deepEqual(names, ['caf\u00e9.txt']);
    // A folder named in NFD lists the same folder.
    assert.equal((await put(`${NFD}-dir/a.txt`, 'a')).status, 201);
    const folder = await send(port, 'GET', `/raw/${NFC}-dir/?format=json`);
    assert.equal(folder.status, 200, folder.body);
    const root = JSON.parse((await send(port, 'GET', '/raw/?format=json')).body) as {
      entries: { name: string }[];
    };
    assert.ok(root.entries.some((e) => e.name === 'caf\u00e9-dir/'));
    assert.ok(!root.entries.some((e) => e.name === 'cafe\u0301-dir/'));
    // A page cursor named in NFD starts after the NFC entry.
    const paged = await send(port, 'GET', `/raw/w/?format=json&after=${NFD}.txt`);
    assert.equal(paged.status, 200, paged.body);
    assert.deepEqual((JSON.parse(paged.body) as { entries: unknown[] }).entries, []);
  });

  test('deleted through the other spelling', async () => {
    assert.equal((await put(`d/${NFC}.txt`, 'gone')).status, 201);
    const del = await send(port, 'DELETE', `/raw/d/${NFD}.txt`);
    assert.ok(del.status === 204 || del.status === 200, `${del.status} ${del.body}`);
    assert.equal((await get(`d/${NFC}.txt`)).status, 404);
  });
});

describe('raw names: an [[auth.rules]] path in NFD covers the NFC name', () => {
  let server: TestServer;
  let dir = '';
  const basic = (user: string) => `Basic ${Buffer.from(`${user}:${user}-pw`).toString('base64')}`;

  before(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'nora-raw-nfd-rule-'));
    const htpasswd = path.join(dir, 'users.htpasswd');
    await fs.writeFile(
      htpasswd,
      `alice:${bcrypt.hashSync('alice-pw', 4)}\nbob:${bcrypt.hashSync('bob-pw', 4)}\n`,
    );
    server = await startTestServer({
      config: {
        auth: {
          enabled: true,
          anonymous_read: true,
          htpasswd_file: htpasswd,
          // As a macOS editor may save it: decomposed.
          rules: [
            {
              repositories: ['raw-hosted'],
              paths: ['cafe\u0301/**'],
              users: ['alice'],
              actions: ['read', 'write'],
            },
          ],
        },
      },
    });
  });
  after(async () => {
    await server.close();
    await removeDir(dir);
  });

  test('the rule grants its user, and only its user, the folder in either spelling', async () => {
    for (const folder of [NFC, NFD]) {
      const put = await send(
        server.port,
        'PUT',
        `/raw/${folder}/${folder === NFC ? 'a' : 'b'}.txt`,
        { authorization: basic('alice'), 'content-type': 'text/plain' },
        'x',
      );
      assert.equal(put.status, 201, `${folder}: ${put.body}`);
    }
    const other = await send(
      server.port,
      'PUT',
      `/raw/${NFC}/c.txt`,
      { authorization: basic('bob'), 'content-type': 'text/plain' },
      'x',
    );
    assert.equal(other.status, 403, other.body);
  });
});

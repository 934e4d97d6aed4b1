/**
 * Raw folder listings with entries the caller may not read (F9 of the ninth session's review):
 * hidden entries are filtered before the page is cut, so they neither end a listing early nor
 * change an answer for any `after=` (no bisecting of hidden names), in JSON, HTML and through a
 * group whose members' pages are merged.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import bcrypt from 'bcryptjs';
import fs from 'node:fs/promises';
import path from 'node:path';
import os from 'node:os';
import { startTestServer, type TestServer } from '../../helpers/server.ts';
import { removeDir } from '../../helpers/tmp.ts';
import { send } from '../../helpers/send.ts';

interface Page {
  entries: { name: string }[];
  next: string | null;
}

describe('raw listings hide entries before paging', () => {
  let server: TestServer;
  let port = 0;
  let dir = '';
  const alice = `Basic ${Buffer.from('alice:alice-pw').toString('base64')}`;
  const json = async (url: string, headers: Record<string, string> = {}): Promise<Page> => {
    const res = await send(port, 'GET', url, { accept: 'application/json', ...headers });
    assert.equal(res.status, 200, `${url}: ${res.body}`);
    return JSON.parse(res.body) as Page;
  };
  /** Every visible name of a folder, following `next` from `first`. */
  const walk = async (first: string): Promise<string[]> => {
    const names: string[] = [];
    let url: string | null = first;
    for (let i = 0; url !== null && i < 50; i++) {
      const page: Page = await json(url);
      names.push(...page.entries.map((e) => e.name));
      url = page.next;
    }
    return names;
  };

  before(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'nora-raw-hidden-'));
    const htpasswd = path.join(dir, 'users.htpasswd');
    await fs.writeFile(htpasswd, `alice:${bcrypt.hashSync('alice-pw', 4)}\n`);
    server = await startTestServer({
      config: {
        auth: {
          enabled: true,
          anonymous_read: true,
          htpasswd_file: htpasswd,
          rules: [
            {
              repositories: ['raw-hosted', 'files-b'],
              paths: ['secret/**', 'pub/internal-*'],
              users: ['alice'],
              actions: ['read', 'write', 'delete'],
            },
          ],
        },
        repositories: [
          { name: 'files-b', format: 'raw', kind: 'hosted' },
          {
            name: 'files-all',
            format: 'raw',
            kind: 'group',
            members: ['raw-hosted', 'files-b'],
            write_member: 'raw-hosted',
          },
        ],
      },
    });
    port = server.port;
    const put = async (url: string) => {
      const res = await send(port, 'PUT', url, { authorization: alice }, 'x');
      assert.equal(res.status, 201, `${url}: ${res.body}`);
    };
    for (const p of ['pub/a.txt', 'rel/b.txt', 'secret/s.txt', 'x/c.txt']) await put(`/raw/${p}`);
    for (const p of ['pub/internal-1', 'pub/internal-2', 'pub/public-1', 'pub/zz']) {
      await put(`/raw/${p}`);
    }
    for (const p of ['secret2/q.txt', 'secret/t.txt', 'y/d.txt']) {
      await put(`/repository/files-b/${p}`);
    }
  });
  after(async () => {
    await server.close();
    await removeDir(dir);
  });

  test('JSON: a hidden folder does not end the listing; next from the last visible entry', async () => {
    assert.deepEqual(
      (await json('/raw/')).entries.map((e) => e.name),
      ['pub/', 'rel/', 'x/'],
    );
    const page = await json('/raw/?limit=1&after=rel');
    assert.deepEqual(
      page.entries.map((e) => e.name),
      ['x/'],
    );
    assert.equal(page.next, null);
    const second = await json('/raw/?limit=1&after=pub');
    assert.deepEqual(
      second.entries.map((e) => e.name),
      ['rel/'],
    );
    assert.equal(second.next, '/raw/?limit=1&after=rel');
    assert.deepEqual(await walk('/raw/?limit=1'), ['pub/', 'rel/', 'x/']);
    // alice sees her folder, in its place
    const mine = await json('/raw/?limit=2&after=rel', { authorization: alice });
    assert.deepEqual(
      mine.entries.map((e) => e.name),
      ['secret/', 'x/'],
    );
  });

  test('no oracle: every after= between two visible names gives the same answer', async () => {
    const answers = new Set<string>();
    for (const after of [
      'rel',
      's',
      'se',
      'sec',
      'secr',
      'secre',
      'secres',
      'secret',
      'secret0',
      't',
    ]) {
      answers.add(JSON.stringify(await json(`/raw/?limit=1&after=${after}`)));
    }
    assert.equal(answers.size, 1, [...answers].join('\n'));
    const only = JSON.parse([...answers][0] ?? '{}') as Page;
    assert.deepEqual(
      only.entries.map((e) => e.name),
      ['x/'],
    );
    // files hidden among visible ones: same answer before and after them
    const files = new Set<string>();
    for (const after of ['a.txt', 'i', 'internal-', 'internal-1', 'internal-2', 'j']) {
      files.add(JSON.stringify(await json(`/raw/pub/?limit=1&after=${after}`)));
    }
    assert.equal(files.size, 1, [...files].join('\n'));
    assert.deepEqual(await walk('/raw/pub/?limit=1'), ['a.txt', 'public-1', 'zz']);
  });

  test('HTML: the next link skips hidden entries and the folder is walked to its end', async () => {
    const res = await send(port, 'GET', '/raw/?limit=1&after=rel');
    assert.equal(res.status, 200);
    assert.match(res.body, /href="x\/"/);
    assert.doesNotMatch(res.body, /secret/);
    assert.doesNotMatch(res.body, /rel="next"/);
    const first = await send(port, 'GET', '/raw/pub/?limit=1');
    assert.match(first.body, /href="a\.txt"/);
    assert.match(first.body, /rel="next" href="\/raw\/pub\/\?limit=1&amp;after=a\.txt"/);
    assert.equal(first.headers.link, '</raw/pub/?limit=1&after=a.txt>; rel="next"');
    // a cursor is the server's own (service.ts): anything else is refused
    assert.equal((await send(port, 'GET', '/raw/pub/?cursor=AAAAAAAA')).status, 400);
    assert.equal((await send(port, 'GET', '/raw/pub/?cursor=a%2Fb')).status, 400);
    assert.equal((await send(port, 'GET', '/raw/pub/?after=a.txt&cursor=AAAA')).status, 400);
  });

  test('group: merged member pages are filtered before the page is cut', async () => {
    // secret/ is in both members (hidden), secret2/ only in files-b (no rule covers it)
    const all = ['pub/', 'rel/', 'secret2/', 'x/', 'y/'];
    assert.deepEqual(await walk('/repository/files-all/?limit=1'), all);
    assert.deepEqual(await walk('/repository/files-all/?limit=2'), all);
    const page = await json('/repository/files-all/?limit=1&after=rel');
    assert.deepEqual(
      page.entries.map((e) => e.name),
      ['secret2/'],
    );
    assert.equal(page.next, '/repository/files-all/?limit=1&after=secret2');
    assert.deepEqual(
      (await json('/repository/files-all/?limit=1&after=secret')).entries.map((e) => e.name),
      ['secret2/'],
    );
    const res = await send(port, 'GET', '/repository/files-all/?limit=1&after=rel');
    assert.doesNotMatch(res.body, /secret\//);
  });
});

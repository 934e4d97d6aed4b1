/**
 * The group-write rule (repos/group-write.ts) for a file another HOSTED member of the group
 * stores: a DELETE through the group answered 404 "… not found in <write member>" while a GET
 * through the group served the file. Now 405 naming the member and the URL to delete it at. A
 * PUT through the group of a path new to the write member while another hosted member stores a
 * file there is 409 (the group would answer the path from one and hide the other); a PUT to the
 * write member directly is the way to do it on purpose.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestServer, type TestServer } from '../../helpers/server.ts';

describe('raw group: writes to a file another hosted member stores', () => {
  let server: TestServer;
  let group: string;
  let team: string;
  let main: string;

  before(async () => {
    server = await startTestServer({
      config: {
        repositories: [
          { name: 'team', format: 'raw', kind: 'hosted' },
          { name: 'main', format: 'raw', kind: 'hosted' },
          {
            name: 'g',
            format: 'raw',
            kind: 'group',
            members: ['team', 'main'],
            write_member: 'main',
          },
        ],
      },
    });
    group = `${server.url}/repository/g`;
    team = `${server.url}/repository/team`;
    main = `${server.url}/repository/main`;
    const put = await fetch(`${team}/docs/a.txt`, { method: 'PUT', body: 'team' });
    assert.equal(put.status, 201, await put.text());
    assert.equal(await (await fetch(`${group}/docs/a.txt`)).text(), 'team');
  });
  after(async () => {
    await server.close();
  });

  test('DELETE: 405 naming the hosted member and where to delete it, the file still served', async () => {
    const res = await fetch(`${group}/docs/a.txt`, { method: 'DELETE' });
    const text = await res.text();
    assert.equal(res.status, 405, text);
    assert.equal(res.headers.get('allow'), 'GET, HEAD, PUT');
    assert.match(
      text,
      /docs\/a\.txt is not stored in main, the write member of group g: it is stored in the group's member team, not in its write member; delete it at \/repository\/team\/docs\/a\.txt/,
    );
    assert.equal(await (await fetch(`${group}/docs/a.txt`)).text(), 'team');
  });

  test('PUT of a path new to the write member: 409 naming the member; directly it goes', async () => {
    const res = await fetch(`${group}/docs/a.txt`, { method: 'PUT', body: 'main' });
    const text = await res.text();
    assert.equal(res.status, 409, text);
    assert.match(
      text,
      /docs\/a\.txt is stored in team, another member of group g: storing it through the group would create a second docs\/a\.txt in its write member main, .*; PUT it at \/repository\/team\/docs\/a\.txt to replace that file, at \/repository\/main\/docs\/a\.txt to store a second one on purpose, or use another path/,
    );
    assert.equal((await fetch(`${main}/docs/a.txt`)).status, 404, 'nothing stored in main');
    assert.equal(await (await fetch(`${group}/docs/a.txt`)).text(), 'team');
    const direct = await fetch(`${main}/docs/a.txt`, { method: 'PUT', body: 'main' });
    assert.equal(direct.status, 201, await direct.text());
    // Now the write member holds it: a DELETE through the group deletes main's copy.
    const del = await fetch(`${group}/docs/a.txt`, { method: 'DELETE' });
    assert.ok(del.status === 200 || del.status === 204, await del.text());
  });

  test('a path in no member: PUT and DELETE as before', async () => {
    const put = await fetch(`${group}/own/b.txt`, { method: 'PUT', body: 'b' });
    assert.equal(put.status, 201, await put.text());
    const missing = await fetch(`${group}/nobody/c.txt`, { method: 'DELETE' });
    assert.equal(missing.status, 404, await missing.text());
  });
});

/**
 * trial 26 mirrorR F6: a PUT through the group of `docs` while another hosted member has the
 * folder `docs/` was stored (201) in the write member; the group then listed `docs` as a file,
 * hid the folder, and refused every later PUT under it. The converse (`notes/x.txt` while another
 * member has the file `notes`) had the same hole. Both are 409 naming that member now.
 */
describe('raw group: a PUT that would make a path both a file and a folder', () => {
  let server: TestServer;
  let group: string;
  let main: string;

  before(async () => {
    server = await startTestServer({
      config: {
        repositories: [
          { name: 'main', format: 'raw', kind: 'hosted' },
          { name: 'team', format: 'raw', kind: 'hosted' },
          {
            name: 'g',
            format: 'raw',
            kind: 'group',
            members: ['main', 'team'],
            write_member: 'main',
          },
        ],
      },
    });
    group = `${server.url}/repository/g`;
    main = `${server.url}/repository/main`;
    const team = `${server.url}/repository/team`;
    for (const [path, body] of [
      ['docs/a.txt', 'team file'],
      ['notes', 'a file'],
    ] as const) {
      const put = await fetch(`${team}/${path}`, { method: 'PUT', body });
      assert.equal(put.status, 201, await put.text());
    }
  });
  after(async () => {
    await server.close();
  });

  async function rootNames(): Promise<string[]> {
    const res = await fetch(`${group}/?format=json`);
    const body = (await res.json()) as { entries: { name: string; type: string }[] };
    return body.entries.map((e) => `${e.name} ${e.type}`).sort();
  }

  test('PUT of a file where another member has a folder: 409 naming it, nothing stored', async () => {
    const res = await fetch(`${group}/docs`, { method: 'PUT', body: 'x' });
    const text = await res.text();
    assert.equal(res.status, 409, text);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
    assert.match(
      text,
      /^docs is a folder in team, another member of group g: storing a file docs through the group would put it in its write member main, .*hiding team's folder docs\/ .*; to store it in main on purpose, PUT it at \/repository\/main\/docs; or use another path/,
    );
    assert.equal((await fetch(`${main}/docs`)).status, 404, 'nothing stored in main');
    assert.ok(
      (await rootNames()).some((n) => /^docs\/? folder$/.test(n)),
      'the folder still listed',
    );
    const under = await fetch(`${group}/docs/b.txt`, { method: 'PUT', body: 'b' });
    assert.equal(under.status, 201, await under.text());
  });

  test('PUT under a path another member has as a file: 409 naming it, nothing stored', async () => {
    const res = await fetch(`${group}/notes/x.txt`, { method: 'PUT', body: 'x' });
    const text = await res.text();
    assert.equal(res.status, 409, text);
    assert.match(
      text,
      /^notes is a file in team, another member of group g, so it cannot be a folder of notes\/x\.txt through the group: .*; to store it in main on purpose, PUT it at \/repository\/main\/notes\/x\.txt; or use another path/,
    );
    assert.equal((await fetch(`${main}/notes/x.txt`)).status, 404, 'nothing stored in main');
    assert.equal(await (await fetch(`${group}/notes`)).text(), 'a file');
  });
});

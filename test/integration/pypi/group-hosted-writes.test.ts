/**
 * The group-write rule (repos/group-write.ts) for a project another HOSTED member of the group
 * holds: a yank, unyank or delete through the group answered 404 "no release …" (the write
 * member has none) while the group's simple page listed the file. Now 405 naming the member that
 * holds it (PyPI's plain text, empty `Allow`). An upload through the group of a project new to
 * the write member while another hosted member holds it is 409 (two projects of one name behind
 * the group); the first file uploaded to the write member directly is the way to do it on
 * purpose, after which uploads through the group add files as before.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestServer, type TestServer } from '../../helpers/server.ts';
import { makeWheel, multipartBody, MULTIPART, twineFields } from './fixtures.ts';

async function upload(base: string, name: string, version: string): Promise<Response> {
  const wheel = makeWheel(name, version);
  return fetch(`${base}/simple/`, {
    method: 'POST',
    headers: { 'content-type': MULTIPART },
    body: multipartBody(twineFields(name, version, wheel), wheel),
  });
}

describe('pypi group: writes to a project another hosted member holds', () => {
  let server: TestServer;
  let group: string;
  let team: string;
  let main: string;

  before(async () => {
    server = await startTestServer({
      config: {
        repositories: [
          { name: 'team', format: 'pypi', kind: 'hosted' },
          { name: 'main', format: 'pypi', kind: 'hosted' },
          {
            name: 'g',
            format: 'pypi',
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
    assert.equal((await upload(team, 'team-pkg', '1.0.0')).status, 200);
    assert.equal((await upload(group, 'own-pkg', '1.0.0')).status, 200);
    assert.equal((await fetch(`${group}/simple/team-pkg/`)).status, 200, 'the group lists it');
  });
  after(async () => {
    await server.close();
  });

  test('yank, unyank, release, file and project DELETE: 405 naming the hosted member', async () => {
    const file = makeWheel('team-pkg', '1.0.0').filename;
    for (const [method, path, what] of [
      ['POST', '/pypi/team-pkg/1.0.0/yank', 'release 1.0.0 of project team-pkg'],
      ['POST', '/pypi/team-pkg/1.0/unyank', 'release 1.0 of project team-pkg'],
      ['DELETE', '/pypi/team-pkg/1.0.0', 'release 1.0.0 of project team-pkg'],
      ['DELETE', `/pypi/team-pkg/1.0.0/${file}`, 'release 1.0.0 of project team-pkg'],
    ] as const) {
      const res = await fetch(`${group}${path}`, { method });
      const text = await res.text();
      assert.equal(res.status, 405, `${method} ${path}: ${text}`);
      assert.equal(res.headers.get('allow'), '', `${method} ${path}`);
      assert.ok(
        text.startsWith(
          `${what} is not hosted in main, the write member of group g: it is hosted in the group's member team, not in its write member; it can be `,
        ),
        `${method} ${path}: ${text}`,
      );
      assert.match(text, /there, at \/repository\/team\//);
    }
    // The whole project: not "it can be deleted there" (team refuses a whole-project DELETE
    // too: trial 26 mirrorR F7) but what team says, releases one by one at its URLs.
    const whole = await fetch(`${group}/pypi/team-pkg`, { method: 'DELETE' });
    const wholeText = await whole.text();
    assert.equal(whole.status, 405, wholeText);
    assert.equal(whole.headers.get('allow'), '');
    assert.equal(
      wholeText.trim(),
      "project team-pkg is not hosted in main, the write member of group g: it is hosted in the group's member team, not in its write member; a project is not deleted whole there either: delete its releases one by one, DELETE /repository/team/pypi/team-pkg/<version> (its releases: 1.0.0)",
    );
    const there = await fetch(`${team}/pypi/team-pkg`, { method: 'DELETE' });
    assert.equal(there.status, 405, 'team refuses it too, as the group says');
    assert.match(await there.text(), /DELETE \/repository\/team\/pypi\/team-pkg\/<version>/);
    const page = await fetch(`${team}/simple/team-pkg/`, {
      headers: { accept: 'application/vnd.pypi.simple.v1+json' },
    });
    const doc = (await page.json()) as { files: { filename: string; yanked: unknown }[] };
    assert.deepEqual(
      doc.files.map((f) => [f.filename, f.yanked]),
      [[file, false]],
    );
  });

  test('a first upload through the group is 409 naming the member; directly to the write member it goes', async () => {
    const refused = await upload(group, 'team-pkg', '2.0.0');
    const text = await refused.text();
    assert.equal(refused.status, 409, text);
    assert.match(
      text,
      /project team-pkg is hosted in team, another member of group g: uploading it through the group would create a second project team-pkg in its write member main, .*; upload it to team directly \(twine upload --repository-url <NORA>\/repository\/team\/\), or under another name; to keep releases in both members on purpose, upload its first file to main directly/,
    );
    assert.equal((await fetch(`${main}/simple/team-pkg/`)).status, 404, 'nothing stored in main');
    assert.equal((await upload(main, 'team-pkg', '2.0.0')).status, 200);
    const next = await upload(group, 'team-pkg', '2.1.0');
    assert.equal(next.status, 200, await next.text());
  });

  test("the write member's own project and a project in no member: as before", async () => {
    const yank = await fetch(`${group}/pypi/own-pkg/1.0.0/yank`, { method: 'POST' });
    assert.equal(yank.status, 200, await yank.text());
    const missing = await fetch(`${group}/pypi/nobody-pkg/1.0.0/yank`, { method: 'POST' });
    assert.equal(missing.status, 404, await missing.text());
    assert.equal((await upload(group, 'fresh-pkg', '1.0.0')).status, 200);
  });
});

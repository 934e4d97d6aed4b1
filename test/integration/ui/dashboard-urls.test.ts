/**
 * The dashboard's repository URLs (trial 33): each repository gets the URL it is served at. The
 * default members (`maven-hosted`, `maven-proxy`) used to get the group's `/maven2`; they are at
 * `/repository/<name>`. raw-hosted, raw's default repository, is at `/raw` and now also at
 * `/repository/raw-hosted` (it was refused there, while a raw group's messages name its files
 * at that URL). Requests with curl, the client the README shows for raw and Maven uploads.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startTestServer } from '../../helpers/server.ts';
import { missingTools, output, run } from '../../helpers/tools.ts';

interface Dashboard {
  registries: { format: string; repositories: { name: string; url: string }[] }[];
}

/** curl's status and body for `args`. */
async function curl(...args: string[]): Promise<{ status: number; body: string }> {
  const done = await run('curl', ['-sS', '-w', '\n%{http_code}', ...args], { check: false });
  assert.equal(done.code, 0, output(done));
  const at = done.stdout.lastIndexOf('\n');
  return { status: Number(done.stdout.slice(at + 1)), body: done.stdout.slice(0, at) };
}

test(
  'every repository URL of the dashboard is served',
  { skip: missingTools('curl') },
  async () => {
    await using server = await startTestServer({
      config: {
        repositories: [
          { name: 'dl', format: 'raw', kind: 'proxy', upstreams: [{ url: 'http://127.0.0.1:9/' }] },
          { name: 'files', format: 'raw', kind: 'group', members: ['raw-hosted', 'dl'] },
        ],
      },
    });
    const dashboard = (await (await fetch(`${server.url}/api/ui/dashboard`)).json()) as Dashboard;
    const urls = new Map(
      dashboard.registries.flatMap((r) => r.repositories.map((repo) => [repo.name, repo.url])),
    );
    assert.equal(urls.get('maven'), `${server.url}/maven2`);
    assert.equal(urls.get('maven-hosted'), `${server.url}/repository/maven-hosted`);
    assert.equal(urls.get('maven-proxy'), `${server.url}/repository/maven-proxy`);
    assert.equal(urls.get('npm-hosted'), `${server.url}/repository/npm-hosted`);
    assert.equal(urls.get('raw-hosted'), `${server.url}/raw`);
    assert.equal(urls.get('files'), `${server.url}/repository/files`);

    // Every URL given (Docker's have no /repository/ form) answers as that repository, not as
    // "not under /repository/" or "no repository named".
    for (const [name, url] of urls) {
      if (!url.includes('/repository/')) continue;
      const res = await curl(`${url}/`);
      assert.doesNotMatch(res.body, /not under \/repository|no repository named/, `${name} ${url}`);
    }

    // maven-hosted at its own URL: a PUT there, then read through the group's /maven2.
    const pom = '<project><modelVersion>4.0.0</modelVersion></project>\n';
    const mavenPath = 'com/example/dash/1.0/dash-1.0.pom';
    const put = await curl(
      '-X',
      'PUT',
      `${urls.get('maven-hosted')}/${mavenPath}`,
      '--data-binary',
      pom,
    );
    assert.ok([200, 201].includes(put.status), `${put.status} ${put.body}`);
    assert.equal((await curl(`${server.url}/maven2/${mavenPath}`)).body, pom);

    // raw-hosted at /repository/raw-hosted: PUT, GET, listing, DELETE, as at /raw.
    const stored = await curl(
      '-X',
      'PUT',
      '--data-binary',
      'one\n',
      `${server.url}/repository/raw-hosted/d/one.txt`,
    );
    assert.equal(stored.status, 201, stored.body);
    assert.equal((await curl(`${server.url}/raw/d/one.txt`)).body, 'one\n');
    assert.equal((await curl(`${server.url}/repository/raw-hosted/d/one.txt`)).body, 'one\n');
    const listing = await curl(
      '-H',
      'Accept: application/json',
      `${server.url}/repository/raw-hosted/d/`,
    );
    assert.equal(listing.status, 200, listing.body);
    assert.match(listing.body, /"name":"one\.txt"/);
    assert.match(listing.body, /"path":"\/d\/"/);
    // The group's message about raw-hosted's file names that URL: following it works.
    const moved = await curl(
      '-X',
      'PUT',
      '--data-binary',
      'x\n',
      `${server.url}/repository/raw-hosted/d/x.txt`,
    );
    assert.equal(moved.status, 201, moved.body);
    assert.equal(
      (await curl('-X', 'DELETE', `${server.url}/repository/raw-hosted/d/x.txt`)).status,
      204,
    );
    assert.equal((await curl(`${server.url}/raw/d/x.txt`)).status, 404);
  },
);

/**
 * A 405's `Allow` (RFC 9110 §15.5.6) names what the very URL serves, not what its repository
 * serves somewhere (trial 27 devA): every method it lists works there as far as the method goes
 * (a 404, 409 or 412 is the state of the path), and every 405 of one URL says the same.
 *
 * - A group's path only its proxy member has cached: POST/PATCH/OPTIONS listed DELETE, whose own
 *   405 did not (raw, Maven, Helm). Now all of them name the same methods.
 * - Paths where a write method answers 400 whatever the state: a raw folder (PUT, DELETE), a
 *   Maven directory or root (PUT) and generated metadata or checksum (DELETE), a groupId's
 *   directory (DELETE), a Helm file name that is no chart's (PUT). They are no longer listed.
 *
 * - npm, PyPI and Cargo URLs that only write (npm's `/<name>/-rev/<rev>` and dist-tag URLs,
 *   PyPI's yank, unyank, release and file deletions, Cargo's yank, unyank, deletion and a
 *   crate's owners): through a group, for what only its proxy member
 *   serves, the write answered 405 with an empty `Allow` while any other method there listed
 *   the write. Now every 405 there has an empty `Allow`.
 *
 * Requests as curl sends them (any body, no client). Upstreams: a second NORA (raw, Helm, npm,
 * PyPI) and a static Maven tree.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { buildChart } from '../../helpers/helm.ts';
import { startTestServer, type TestServer } from '../../helpers/server.ts';
import { startFixtureUpstream, type FixtureUpstream } from '../maven/fixture-upstream.ts';
import { CargoFixtureUpstream, fakeCrate } from '../cargo-proxy/fixture.ts';
import { NpmHttp } from '../npm/client.ts';
import { makeWheel, multipartBody, MULTIPART, twineFields } from '../pypi/fixtures.ts';

interface Answer {
  readonly status: number;
  readonly allow: string | null;
  readonly text: string;
}

async function send(url: string, method: string, body?: string): Promise<Answer> {
  // PUT, POST and PATCH carry a body (`x` unless told); DELETE only when told (Cargo's owners).
  const withBody = method === 'POST' || method === 'PUT' || method === 'PATCH';
  const sent = withBody ? (body ?? 'x') : method === 'DELETE' ? body : undefined;
  const res = await fetch(url, sent === undefined ? { method } : { method, body: sent });
  return { status: res.status, allow: res.headers.get('allow'), text: await res.text() };
}

/** Every one of `methods` at `url` answers 405 with `allow` (`body`: what PUT/POST/PATCH send). */
async function all405(
  url: string,
  methods: readonly string[],
  allow: string,
  body?: string,
): Promise<void> {
  for (const method of methods) {
    const answer = await send(url, method, body);
    assert.equal(answer.status, 405, `${method} ${url}: ${answer.text}`);
    assert.equal(answer.allow, allow, `${method} ${url}`);
  }
}

/** `method` at `url` answers `status` (not a 405, so no `Allow` to compare). */
async function answers(url: string, method: string, status: number, text?: RegExp): Promise<void> {
  const answer = await send(url, method);
  assert.equal(answer.status, status, `${method} ${url}: ${answer.text}`);
  if (text !== undefined) assert.match(answer.text, text, `${method} ${url}`);
}

/** Polls until `probe` is true (a proxy's cache row is written just after its answer). */
async function until(probe: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const OTHERS = ['POST', 'PATCH', 'OPTIONS'] as const;

describe('405 Allow names what the very path serves', { concurrency: false }, () => {
  let upstream: TestServer;
  let maven: FixtureUpstream;
  let server: TestServer;

  before(async () => {
    upstream = await startTestServer();
    const put = await fetch(`${upstream.url}/raw/a/b/one.txt`, { method: 'PUT', body: 'one' });
    assert.equal(put.status, 201, await put.text());
    const chart = await buildChart({ name: 'nginx', version: '1.0.0' });
    const post = await fetch(`${upstream.url}/helm/api/charts`, { method: 'POST', body: chart });
    assert.equal(post.status, 201, await post.text());
    maven = await startFixtureUpstream();
    await maven.put('org/acme/cached/1.0/cached-1.0.jar', 'jar bytes');
    await maven.put('org/acme/cached/1.0/cached-1.0.pom', '<project/>');
    server = await startTestServer({
      config: {
        maven: { proxies: [{ url: maven.url() }] },
        helm: { proxies: [{ url: `${upstream.url}/helm` }], index_ttl: 0 },
        repositories: [
          { name: 'files', format: 'raw', kind: 'hosted' },
          {
            name: 'raw-up',
            format: 'raw',
            kind: 'proxy',
            upstreams: [{ url: `${upstream.url}/raw` }],
          },
          { name: 'raw-all', format: 'raw', kind: 'group', members: ['files', 'raw-up'] },
          { name: 'team', format: 'raw', kind: 'hosted' },
          {
            name: 'raw-both',
            format: 'raw',
            kind: 'group',
            members: ['files', 'team'],
            write_member: 'files',
          },
        ],
      },
    });
    // Reads through the groups fill the proxies' caches.
    assert.equal((await send(`${server.url}/repository/raw-all/a/b/one.txt`, 'GET')).status, 200);
    const jar = `${server.url}/maven2/org/acme/cached/1.0/cached-1.0.jar`;
    assert.equal((await send(jar, 'GET')).status, 200);
    assert.equal((await send(`${server.url}/helm/index.yaml`, 'GET')).status, 200);
    const own = await fetch(`${server.url}/repository/files/d/f.txt`, { method: 'PUT', body: 'f' });
    assert.equal(own.status, 201, await own.text());
    await until(
      async () =>
        (await send(`${server.url}/maven2/org/acme/cached/1.0/`, 'DELETE')).status === 405,
      'the Maven proxy to record its cached file',
    );
    await until(
      async () =>
        (await send(`${server.url}/repository/raw-all/a/b/one.txt`, 'DELETE')).status === 405,
      'the raw proxy to record its cached file',
    );
  });
  after(async () => {
    await server.close();
    await upstream.close();
    await maven.close();
  });

  test('raw: a group file only the proxy member caches; folders take no PUT or DELETE', async () => {
    const cached = `${server.url}/repository/raw-all/a/b/one.txt`;
    await all405(cached, [...OTHERS, 'DELETE'], 'GET, HEAD, PUT');
    // Files the write member stores, or nobody does: DELETE is served (204, 404).
    await all405(`${server.url}/repository/raw-all/d/f.txt`, OTHERS, 'GET, HEAD, PUT, DELETE');
    await all405(`${server.url}/repository/raw-all/no/such.txt`, OTHERS, 'GET, HEAD, PUT, DELETE');
    await all405(`${server.url}/repository/files/d/f.txt`, OTHERS, 'GET, HEAD, PUT, DELETE');
    for (const folder of [
      '/repository/files/d/',
      '/repository/files/',
      '/repository/files',
      '/repository/raw-all/a/',
      '/raw/',
      '/raw',
    ]) {
      const url = `${server.url}${folder}`;
      await all405(url, OTHERS, 'GET, HEAD');
      await answers(url, 'PUT', 400, /a PUT needs a file path/);
      await answers(url, 'DELETE', 400, /a DELETE needs a file path/);
    }
    // A folder's path without its slash: PUT and DELETE answer 409 ("is a folder") whatever
    // the body, so no 405 lists them (twenty-third session), in the hosted repository and
    // through the group whose write member it is.
    for (const folder of ['/repository/files/d', '/repository/raw-all/d']) {
      const url = `${server.url}${folder}`;
      await all405(url, OTHERS, 'GET, HEAD');
      await answers(url, 'PUT', 409, /is a folder/);
      await answers(url, 'DELETE', 409, /is a folder/);
    }
    // A folder of the group's other hosted member: a PUT would hide it (409); a DELETE finds
    // nothing in the write member (404), a state, so DELETE stays listed.
    const teamFile = await fetch(`${server.url}/repository/team/t/g.txt`, {
      method: 'PUT',
      body: 'g',
    });
    assert.equal(teamFile.status, 201, await teamFile.text());
    const teamFolder = `${server.url}/repository/raw-both/t`;
    await all405(teamFolder, OTHERS, 'GET, HEAD, DELETE');
    await answers(teamFolder, 'PUT', 409, /is a folder in team/);
    await answers(teamFolder, 'DELETE', 404);
    // A proxy serves reads only, as before.
    await all405(`${server.url}/repository/raw-up/a/b/one.txt`, [...OTHERS, 'PUT'], 'GET, HEAD');
  });

  test('Maven: a cached file, directories, metadata, checksums, the root, a groupId', async () => {
    const base = `${server.url}/maven2`;
    // The file still takes a deploy (refused 409 here: a takeover), never a DELETE.
    const jar = `${base}/org/acme/cached/1.0/cached-1.0.jar`;
    await all405(jar, [...OTHERS, 'DELETE', 'MKCOL'], 'GET, HEAD, PUT');
    await answers(jar, 'PUT', 409, /refusing to deploy org\.acme:cached/);
    for (const dir of ['org/acme/cached/1.0/', 'org/acme/cached/']) {
      await all405(`${base}/${dir}`, [...OTHERS, 'DELETE'], 'GET, HEAD');
      await answers(`${base}/${dir}`, 'PUT', 400, /a deploy needs a file path/);
    }
    for (const generated of [
      'org/acme/cached/maven-metadata.xml',
      'org/acme/cached/1.0/cached-1.0.jar.sha1',
    ]) {
      await all405(`${base}/${generated}`, OTHERS, 'GET, HEAD, PUT');
      await answers(`${base}/${generated}`, 'DELETE', 400, /generated/);
    }
    await all405(`${base}/`, OTHERS, 'GET, HEAD');
    await answers(`${base}/`, 'PUT', 400, /a deploy needs a file path/);
    await answers(`${base}/`, 'DELETE', 400, /nothing to delete here/);

    // A hosted artifact: its directories take DELETE, the groupId's does not (400).
    const hosted = `${server.url}/repository/maven-hosted`;
    const pom = await fetch(`${hosted}/com/corp/lib/1.0/lib-1.0.pom`, {
      method: 'PUT',
      body: '<project><modelVersion>4.0.0</modelVersion><groupId>com.corp</groupId><artifactId>lib</artifactId><version>1.0</version></project>',
    });
    assert.equal(pom.status, 201, await pom.text());
    await all405(`${hosted}/com/corp/lib/1.0/lib-1.0.pom`, OTHERS, 'GET, HEAD, PUT, DELETE');
    await all405(`${hosted}/com/corp/lib/`, OTHERS, 'GET, HEAD, DELETE');
    await all405(`${hosted}/com/corp/`, OTHERS, 'GET, HEAD');
    await answers(`${hosted}/com/corp/`, 'DELETE', 400, /is a groupId/);
    // A proxy serves reads only, as before.
    await all405(`${server.url}/repository/maven-proxy/org/acme/cached/`, OTHERS, 'GET, HEAD');
  });

  test('Helm: a chart version only the proxy member lists; a file name no chart has', async () => {
    const version = `${server.url}/helm/api/charts/nginx/1.0.0`;
    await all405(version, [...OTHERS, 'PUT', 'DELETE'], 'GET, HEAD');
    // A version nobody lists: DELETE is served (404).
    await all405(`${server.url}/helm/api/charts/nginx/9.9.9`, OTHERS, 'GET, HEAD, DELETE');
    await all405(`${server.url}/helm/notes.txt`, OTHERS, 'GET, HEAD');
    await answers(`${server.url}/helm/notes.txt`, 'PUT', 400, /is not a chart file name/);
    await all405(`${server.url}/helm/nginx-2.0.0.tgz`, OTHERS, 'GET, HEAD, PUT');
  });
});

describe('405 Allow at npm and PyPI write-only URLs of a group', { concurrency: false }, () => {
  let upstream: TestServer;
  let server: TestServer;
  let wheel: string;

  /** Uploads `name` `version` as twine does; returns the wheel's file name. */
  async function upload(base: string, name: string, version: string): Promise<string> {
    const file = makeWheel(name, version);
    const res = await fetch(`${base}/simple/`, {
      method: 'POST',
      headers: { 'content-type': MULTIPART },
      body: multipartBody(twineFields(name, version, file), file),
    });
    assert.equal(res.status, 200, await res.text());
    return file.filename;
  }

  before(async () => {
    upstream = await startTestServer({ env: { NORA_PYPI_PROXY: 'none' } });
    const up = new NpmHttp(`${upstream.url}/npm`);
    assert.equal((await up.publish({ name: 'up-lib', version: '1.0.0' })).status, 201);
    wheel = await upload(upstream.url, 'up-pkg', '1.0.0');
    server = await startTestServer({
      config: {
        npm: { proxy: `${upstream.url}/npm/` },
        pypi: { proxy: `${upstream.url}/simple/` },
      },
    });
    const own = new NpmHttp(`${server.url}/npm`);
    assert.equal((await own.publish({ name: 'own-lib', version: '1.0.0' })).status, 201);
    await upload(server.url, 'own-pkg', '1.0.0');
    // Reads through the groups fill the proxies' caches.
    assert.equal((await send(`${server.url}/npm/up-lib`, 'GET')).status, 200);
    assert.equal((await send(`${server.url}/simple/up-pkg/`, 'GET')).status, 200);
    await until(
      async () =>
        (await send(`${server.url}/npm/-/package/up-lib/dist-tags/beta`, 'DELETE')).status === 405,
      'the npm proxy to record its cached packument',
    );
  });
  after(async () => {
    await server.close();
    await upstream.close();
  });

  test('npm: a revision and a dist-tag of a package only the proxy member serves', async () => {
    const rev = `${server.url}/npm/up-lib/-rev/1-0000000000000000`;
    await all405(rev, ['GET', 'HEAD', 'OPTIONS', 'POST', 'PATCH', 'PUT', 'DELETE'], '', '{}');
    const tag = `${server.url}/npm/-/package/up-lib/dist-tags/beta`;
    await all405(tag, ['GET', 'OPTIONS', 'PATCH', 'DELETE'], '');
    await all405(tag, ['PUT', 'POST'], '', '"1.0.0"');
    // The hosted package's: its writes are served.
    const ownRev = `${server.url}/npm/own-lib/-rev/1-0000000000000000`;
    await all405(ownRev, ['GET', 'OPTIONS', 'POST'], 'PUT, DELETE');
    const ownTag = `${server.url}/npm/-/package/own-lib/dist-tags/beta`;
    await all405(ownTag, ['GET', 'OPTIONS', 'PATCH'], 'PUT, POST, DELETE');
  });

  test('npm: /<name> of a package only the proxy member serves takes no PUT (twenty-third session)', async () => {
    // `npm deprecate` PUTs the packument: 405 `GET, HEAD`, and so say the other methods.
    const deprecate = JSON.stringify({
      name: 'up-lib',
      versions: { '1.0.0': { name: 'up-lib', version: '1.0.0', deprecated: 'old' } },
    });
    await all405(`${server.url}/npm/up-lib`, ['PUT', ...OTHERS, 'DELETE'], 'GET, HEAD', deprecate);
    // The hosted package's `/<name>` is published and updated (PUT).
    await all405(`${server.url}/npm/own-lib`, [...OTHERS, 'DELETE'], 'GET, PUT, HEAD');
  });

  test('PyPI: yank, unyank, release and file URLs of a release only the proxy serves', async () => {
    // Each URL's own write (POST at a yank, DELETE at a release or file) is among them.
    for (const url of [
      `${server.url}/pypi/up-pkg/1.0.0/yank`,
      `${server.url}/pypi/up-pkg/1.0/unyank`,
      `${server.url}/pypi/up-pkg/1.0.0`,
      `${server.url}/pypi/up-pkg/1.0.0/${wheel}`,
    ]) {
      await all405(url, ['GET', 'OPTIONS', 'POST', 'PATCH', 'PUT', 'DELETE'], '', '{}');
    }
    // The hosted release's: its writes are served.
    await all405(`${server.url}/pypi/own-pkg/1.0.0/yank`, ['GET', 'OPTIONS', 'PUT'], 'POST');
    await all405(`${server.url}/pypi/own-pkg/1.0.0`, ['GET', 'OPTIONS', 'POST'], 'DELETE');
  });
});

describe('405 Allow at Cargo write URLs of a group', { concurrency: false }, () => {
  const upstream = new CargoFixtureUpstream();
  let server: TestServer;

  before(async () => {
    await upstream.start();
    upstream.add('up-other', { vers: '1.0.0', body: fakeCrate('up-other', '1.0.0') });
    server = await startTestServer({ config: { cargo: { proxy: upstream.url } } });
    // What cargo reads first: the group serves the crate's index file from its proxy member.
    assert.equal((await send(`${server.url}/cargo/index/up/-o/up-other`, 'GET')).status, 200);
  });
  after(async () => {
    await server.close();
    await upstream.stop();
  });

  test('yank, unyank, deletion and owners of a crate only the proxy member serves', async () => {
    const api = `${server.url}/cargo/api/v1/crates`;
    const users = '{"users":["bob"]}';
    for (const url of [
      `${api}/up-other/1.0.0/yank`,
      `${api}/up-other/1.0.0/unyank`,
      `${api}/up-other/1.0.0`,
      `${api}/up-other/owners`,
      // The other spelling names the same crate.
      `${api}/up_other/owners`,
    ]) {
      await all405(url, ['GET', 'OPTIONS', 'POST', 'PATCH', 'PUT', 'DELETE'], '', users);
    }
    // A crate nobody has: the writes are served (their answer is a 404).
    await all405(`${api}/nobody/1.0.0/yank`, ['GET', 'OPTIONS'], 'DELETE');
    await all405(`${api}/nobody/owners`, ['POST', 'OPTIONS'], 'GET, PUT, DELETE, HEAD');
  });
});

describe('405 Allow: Go and OCI leftovers (twenty-third session)', { concurrency: false }, () => {
  let server: TestServer;

  before(async () => {
    // The default Go and Docker groups: no request below reaches an upstream.
    server = await startTestServer();
  });
  after(() => server.close());

  test('Go: a URL that is no module proxy URL answers every method 400, never a 405 naming GET', async () => {
    for (const path of [
      '/go/example.com/mod/@v/',
      '/go/example.com/mod',
      '/go/example.com/mod/@v/x.txt',
    ]) {
      for (const method of ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS']) {
        await answers(`${server.url}${path}`, method, 400, /not a module proxy URL/);
      }
    }
    // The root and real protocol URLs keep their 405s.
    await all405(`${server.url}/go/`, ['POST', 'OPTIONS'], 'GET, HEAD');
    await all405(
      `${server.url}/go/example.com/mod/@v/list`,
      ['POST', 'OPTIONS'],
      'GET, DELETE, HEAD',
    );
  });

  test('OCI: OPTIONS answers 405 with the Allow of the URL, as POST there does', async () => {
    const digest = `sha256:${'a'.repeat(64)}`;
    for (const [path, allow] of [
      ['/v2/', 'GET, HEAD'],
      ['/v2/lib/app/tags/list', 'GET, HEAD'],
      ['/v2/lib/app/manifests/v1', 'GET, PUT, DELETE, HEAD'],
      [`/v2/lib/app/blobs/${digest}`, 'GET, DELETE, HEAD'],
      ['/v2/lib/app/blobs/uploads/', 'POST'],
    ] as const) {
      const options = await send(`${server.url}${path}`, 'OPTIONS');
      assert.equal(options.status, 405, `OPTIONS ${path}: ${options.text}`);
      assert.equal(options.allow, allow, `OPTIONS ${path}`);
      assert.match(options.text, /UNSUPPORTED/);
      const other = await send(
        `${server.url}${path}`,
        path.endsWith('/uploads/') ? 'PATCH' : 'POST',
      );
      assert.equal(other.allow, allow, path);
    }
  });
});

/**
 * `/repository/<name>/…` for a name no repository has (trial 13 F10). With anonymous reads off,
 * an anonymous probe got 404 "no repository named …" for an unknown name and 401 for an
 * existing one, so team and customer names could be enumerated; and the 404 was JSON on a PyPI
 * path. Now whoever may not read a repository of that name (asked of the rules with a stand-in)
 * gets the answer a closed repository of the path's protocol gives — status, content type,
 * challenge and wording alike — and whoever may read gets the 404 in that protocol's format.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { basic, rule } from '../../helpers/auth.ts';
import { startTestServer, type TestServer } from '../../helpers/server.ts';

const FORMATS = ['docker', 'npm', 'pypi', 'maven', 'cargo', 'go', 'raw', 'helm'] as const;

/** Requests per format, as its clients send them below a repository's URL. */
const PROBES: Record<(typeof FORMATS)[number], readonly (readonly [string, string])[]> = {
  docker: [
    ['GET', '/v2/'],
    ['GET', '/v2/app/manifests/1.0'],
    ['HEAD', '/v2/team/app/blobs/sha256:' + '0'.repeat(64)],
    ['GET', '/v2/app/tags/list'],
    ['GET', '/v2/_catalog'],
  ],
  npm: [
    ['GET', '/lodash'],
    ['GET', '/@corp%2fui'],
    ['GET', '/@corp/ui/-/ui-1.0.0.tgz'],
    ['GET', '/-/v1/search?text=x'],
  ],
  pypi: [
    ['GET', '/simple/'],
    ['GET', '/simple/trial-pkg/'],
    ['GET', '/simple/Trial_Pkg/'],
    ['GET', '/simple/trial-pkg/trial_pkg-1.0.tar.gz'],
    ['GET', '/pypi/trial-pkg/json'],
  ],
  maven: [
    ['GET', '/com/example/lib/1.0/lib-1.0.pom'],
    ['GET', '/com/example/lib/maven-metadata.xml'],
  ],
  cargo: [['GET', '/config.json']],
  go: [
    ['GET', '/example.com/!corp/mod/@v/list'],
    ['GET', '/example.com/mod/@latest'],
  ],
  raw: [
    ['GET', '/a/b/c.txt'],
    ['GET', '/'],
  ],
  helm: [['GET', '/index.yaml']],
};

interface Seen {
  readonly status: number;
  readonly type: string | null;
  readonly challenge: string | null;
  readonly body: string;
}

async function probe(
  server: TestServer,
  name: string,
  method: string,
  path: string,
  headers: Record<string, string> = {},
): Promise<Seen> {
  const res = await fetch(`${server.url}/repository/${name}${path}`, {
    method,
    headers,
    redirect: 'manual',
  });
  const hide = (text: string | null) => text?.replaceAll(name, '<name>') ?? null;
  return {
    status: res.status,
    type: res.headers.get('content-type'),
    challenge: hide(res.headers.get('www-authenticate')),
    body: hide(await res.text()) ?? '',
  };
}

describe('unknown /repository/<name>/ with anonymous reads off', () => {
  let server: TestServer;

  before(async () => {
    server = await startTestServer({
      config: {
        auth: {
          enabled: true,
          anonymous_read: false,
          // carol owns the team-* repositories; alice, a plain user, may not read there.
          rules: [rule({ repositories: ['team-*'], users: ['carol'], actions: ['read'] })],
        },
        repositories: FORMATS.map((format) => ({ name: `team-${format}`, format, kind: 'hosted' })),
      },
      env: { NORA_PYPI_PROXY: 'none' },
    });
    const users = server.app.context.identity.users;
    await users.create('alice', 'alice-pass-1', undefined);
    await users.create('carol', 'carol-pass-1', undefined);
  });
  after(() => server.close());

  test('an anonymous probe cannot tell an unknown name from a closed repository', async () => {
    for (const format of FORMATS) {
      for (const [method, path] of PROBES[format]) {
        const known = await probe(server, `team-${format}`, method, path);
        const unknown = await probe(server, 'nope-customer', method, path);
        assert.equal(known.status, 401, `${format} ${path}: ${known.body}`);
        assert.deepEqual(unknown, known, `${format} ${method} ${path}`);
      }
    }
  });

  test('PyPI paths answer in plain text (pip prints the body), not JSON', async () => {
    const seen = await probe(server, 'nope', 'GET', '/simple/');
    assert.equal(seen.status, 401);
    assert.match(seen.type ?? '', /^text\/plain/);
    assert.equal(seen.challenge, 'Basic realm="nora"');
    assert.equal(seen.body, 'authentication required to read <name>\n');
  });

  test('a user the rules keep out of team-* gets 403 for an unknown team-* name too', async () => {
    const alice = { authorization: basic('alice', 'alice-pass-1') };
    const known = await probe(server, 'team-pypi', 'GET', '/simple/', alice);
    const unknown = await probe(server, 'team-nope', 'GET', '/simple/', alice);
    assert.equal(known.status, 403, known.body);
    assert.deepEqual(unknown, known);
    // Outside the rule, a signed-in user who may read learns there is no such repository.
    const other = await probe(server, 'typo-repo', 'GET', '/simple/', alice);
    assert.equal(other.status, 404);
    assert.match(other.type ?? '', /^text\/plain/);
    assert.match(other.body, /no repository named "<name>" on this server/);
  });
});

describe('unknown /repository/<name>/ with anonymous reads on (auth off)', () => {
  test('a 404 naming the mistake, in the protocol of the path', async () => {
    await using server = await startTestServer({ env: { NORA_PYPI_PROXY: 'none' } });
    const pypi = await probe(server, 'nope', 'GET', '/simple/trial-pkg/');
    assert.equal(pypi.status, 404);
    assert.match(pypi.type ?? '', /^text\/plain/);
    assert.match(pypi.body, /^no repository named "<name>" on this server/);
    const npm = await probe(server, 'nope', 'GET', '/lodash');
    assert.equal(npm.status, 404);
    assert.match((JSON.parse(npm.body) as { error: string }).error, /no repository named/);
    const oci = await probe(server, 'nope', 'GET', '/v2/app/manifests/1');
    assert.equal(oci.status, 404);
    assert.equal(oci.type, 'application/json');
    assert.equal(
      (JSON.parse(oci.body) as { errors: { code: string }[] }).errors[0]?.code,
      'NAME_UNKNOWN',
    );
  });
});

/**
 * A rule reserving cargo crates while anonymous clients may read the repository: cargo sends no
 * token for index files and downloads (config.json has no auth-required), so the rule's own user
 * sees a 401 from `cargo publish`'s index lookup. The 401 says why and what to change, instead
 * of a bare "authentication required" that sends them checking their token.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestServer, type TestServer } from '../../helpers/server.ts';

describe('cargo: a reserved crate read without a token', () => {
  let server: TestServer;

  before(async () => {
    server = await startTestServer({
      config: {
        auth: {
          enabled: true,
          anonymous_read: true,
          rules: [
            {
              repositories: ['cargo-hosted'],
              paths: ['rg-secret*'],
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
  });

  test('the index file and the download say why cargo sent no token', async () => {
    const config = (await (await fetch(`${server.url}/cargo/index/config.json`)).json()) as Record<
      string,
      unknown
    >;
    assert.equal(config['auth-required'], undefined);
    for (const path of [
      '/cargo/index/rg/-s/rg-secret1',
      '/cargo/api/v1/crates/rg-secret1/1.0.0/download',
    ]) {
      const answer = await fetch(`${server.url}${path}`);
      const body = await answer.text();
      assert.equal(answer.status, 401, body);
      assert.match(body, /does not say auth-required and cargo sends no token/, path);
      assert.match(body, /anonymous_read = false/, path);
      // The repository the client addressed (the group), not the member whose rule reserves it.
      assert.match(
        body,
        /authentication required to read rg-secret1 in cargo: a rule reserves it, but anonymous clients may read the other crates of cargo, so its config\.json/,
        path,
      );
    }
    // Addressed at the member: the member.
    const direct = await fetch(`${server.url}/repository/cargo-hosted/index/rg/-s/rg-secret1`);
    assert.equal(direct.status, 401);
    assert.match(
      await direct.text(),
      /read rg-secret1 in cargo-hosted: a rule reserves it, but anonymous clients may read the other crates of cargo-hosted,/,
    );
    // A crate no rule reserves is still read anonymously (a 404: it does not exist).
    assert.equal((await fetch(`${server.url}/cargo/index/rg/-p/rg-public`)).status, 404);
  });
});

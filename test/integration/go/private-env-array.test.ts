/**
 * `NORA_GO_PRIVATE` in the file's array syntax (`'["corp.example.com"]'`, as README says list
 * variables take): the pattern is `corp.example.com`, so a private module path is answered here
 * and never asked of the upstream (trial 20 authx F4: it was the one pattern
 * `["corp.example.com"]`, matching nothing, and the private path went upstream).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startGoUpstream, type GoUpstream } from '../../helpers/go-fixtures.ts';
import { startTestServer, type TestServer } from '../../helpers/server.ts';

describe('NORA_GO_PRIVATE as a TOML array keeps private paths from the upstream', () => {
  let upstream: GoUpstream;
  let server: TestServer;

  before(async () => {
    upstream = await startGoUpstream({ 'public.example.org/lib': 'v1.0.0' });
    server = await startTestServer({
      config: { go: { sumdb: [], negative_cache_ttl: 0, metadata_ttl: 0 } },
      env: { NORA_GO_PROXY: upstream.url, NORA_GO_PRIVATE: '["corp.example.com"]' },
    });
  });
  after(async () => {
    await server.close();
    await upstream.close();
  });

  test('a private module path is answered 404 here, the upstream never asked', async () => {
    const res = await fetch(`${server.url}/go/corp.example.com/secret/@v/list`);
    assert.equal(res.status, 404, await res.text());
    assert.deepEqual(
      upstream.requests.filter((url) => url.includes('corp.example.com')),
      [],
      'the private path was sent upstream',
    );
    // A public path still goes upstream (the proxy is live).
    const pub = await fetch(`${server.url}/go/public.example.org/lib/@v/list`);
    assert.equal(pub.status, 200, await pub.text());
    assert.ok(upstream.requests.some((url) => url.includes('public.example.org/lib')));
  });
});

/**
 * Sixteenth trial F9: with `anonymous_read = false`, `go` pointed at NORA over plain http only ever
 * gets 401: it sends GOPROXY's or .netrc's credentials over https only (GOINSECURE or not). The
 * 401 to the `go` command (`Go-http-client` User-Agent) over http without credentials says so;
 * other clients' 401s are unchanged.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestServer, type TestServer } from '../../helpers/server.ts';

describe('go: a 401 to the go command over http says it sends credentials over https only', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({
      config: { go: { proxy: '', sumdb: [] }, auth: { enabled: true, anonymous_read: false } },
    });
  });
  after(async () => {
    await server.close();
  });

  async function list(userAgent: string) {
    const res = await fetch(`${server.url}/go/corp.example.com/hello/@v/list`, {
      headers: { 'user-agent': userAgent },
    });
    return { status: res.status, body: (await res.text()).trim() };
  }

  test('Go-http-client over http: the note; curl: none', async () => {
    const go = await list('Go-http-client/1.1');
    assert.equal(go.status, 401);
    assert.equal(
      go.body,
      'authentication required to read corp.example.com/hello in go (go sends credentials only over https, GOINSECURE or not: put NORA behind TLS and use GOPROXY=https://user:token@host/go or a ~/.netrc line)',
    );
    const curl = await list('curl/8.5.0');
    assert.equal(curl.status, 401);
    assert.equal(curl.body, 'authentication required to read corp.example.com/hello in go');
  });
});

/**
 * trial 18 fmts F12: a Maven proxy asks an upstream for a file and its `.sha1` at once, and both
 * failures were counted, so one client GET against a dead upstream cost two consecutive failures
 * and the circuit opened on the 3rd request instead of after 5 failures. Now the `.sha1` (a
 * companion request) leaves the count to the file's own request: one GET, one failure.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { freePort } from '../../helpers/process.ts';
import { startTestServer, type TestServer } from '../../helpers/server.ts';

interface Health {
  readonly upstreams: Record<string, { state: string; consecutive_failures: number }>;
}

describe('Maven proxy: one client GET costs a dead upstream one failure', () => {
  let nora: TestServer;
  before(async () => {
    // Nothing listens there: every connection is refused.
    const closed = `http://127.0.0.1:${await freePort()}`;
    nora = await startTestServer({
      config: { maven: { proxies: [{ url: closed }], prefetch: false } },
    });
  });
  after(async () => {
    await nora.close();
  });

  const failures = async (): Promise<number | undefined> => {
    const health = (await (await fetch(`${nora.url}/health`)).json()) as Health;
    return health.upstreams['maven-proxy#0']?.consecutive_failures;
  };

  test('each GET that misses adds one consecutive failure; the 5th opens the circuit', async () => {
    for (let n = 1; n <= 5; n++) {
      const reply = await fetch(
        `${nora.url}/maven2/commons-cli/commons-cli/1.${n}/commons-cli-1.${n}.pom`,
      );
      await reply.arrayBuffer();
      assert.equal(reply.status, 502);
      assert.equal(await failures(), n, `after GET ${n}`);
    }
    const health = (await (await fetch(`${nora.url}/health`)).json()) as Health;
    assert.equal(health.upstreams['maven-proxy#0']?.state, 'open');
  });
});

/**
 * The dashboard's hosted counts are reused for a few seconds (HostedCountsCache): a stats
 * monitor or an open dashboard no longer lists every hosted repository on each request. Counted
 * by the retention adapter's `versions` calls; a publish shows at once (the activity feed's
 * newest write is part of the key).
 */
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';
import { HOSTED_COUNTS_TTL_MS } from '../../../src/ui/dashboard.ts';
import { startTestServer } from '../../helpers/server.ts';

test('hosted counts: one listing per repository within the TTL, fresh after it', async () => {
  await using server = await startTestServer();
  const adapter = server.app.context.retention.adapter('raw');
  assert.ok(adapter);
  let listings = 0;
  const versions = adapter.versions.bind(adapter);
  adapter.versions = (repo) => {
    listings++;
    return versions(repo);
  };
  const stats = async () => {
    const res = await fetch(`${server.url}/api/ui/stats`);
    assert.equal(res.status, 200);
    return ((await res.json()) as { hosted: { versions: number } }).hosted.versions;
  };
  assert.equal(
    (await fetch(`${server.url}/raw/one.txt`, { method: 'PUT', body: '1' })).status,
    201,
  );
  const first = await stats();
  const afterFirst = listings;
  assert.ok(afterFirst >= 1, 'the raw repository was listed');
  for (let i = 0; i < 5; i++) assert.equal(await stats(), first, 'reused within the TTL');
  assert.equal((await fetch(`${server.url}/ui/`)).status, 200);
  assert.equal(listings, afterFirst, 'no listing within the TTL');
  // A publish (an audit `push` in the activity feed) makes them stale at once.
  const put = await fetch(`${server.url}/raw/two.txt`, { method: 'PUT', body: '2' });
  assert.equal(put.status, 201);
  assert.equal(await stats(), first + 1, 'the publish shows at once');
  assert.equal(listings, afterFirst * 2);
  await stats();
  assert.equal(listings, afterFirst * 2, 'reused again');
  await sleep(HOSTED_COUNTS_TTL_MS + 100);
  await stats();
  assert.equal(listings, afterFirst * 3, 'read again after the TTL');
});

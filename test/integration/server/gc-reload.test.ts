/**
 * A SIGHUP reload that turns `[gc]` on or shortens its interval moves the scheduler's timer: the
 * next pass comes within the new interval, not when the timer set with the old one (86400 s by
 * default) fires. `app.reload` is what the SIGHUP handler (src/server.ts) calls.
 */
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { describe, test } from 'node:test';
import { startTestServer, type TestServer } from '../../helpers/server.ts';

async function lastRun(server: TestServer): Promise<number> {
  const metrics = await (await fetch(`${server.url}/metrics`)).text();
  const found = /^nora_gc_last_run_timestamp (\S+)$/m.exec(metrics);
  assert.ok(found, metrics);
  return Number(found[1]);
}

/** Polls until `check` holds or `ms` pass; returns whether it held. */
async function within(ms: number, check: () => Promise<boolean>): Promise<boolean> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await check()) return true;
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('[gc] reload reschedules the pass', () => {
  test('started without [gc]; enabled with interval = 1 by reload: a pass runs at once', async () => {
    await using server = await startTestServer();
    const { blobs } = server.app.context;
    const orphan = await blobs.ingest(Readable.from([Buffer.from('left behind')]));
    await new Promise((resolve) => setTimeout(resolve, 5));
    assert.equal(await lastRun(server), 0);
    const applied = server.app.reload({
      ...server.config,
      gc: { enabled: true, interval: 1, dry_run: false, grace: 0 },
    });
    assert.deepEqual(applied, []);
    // Not after the 86400 s the timer was set with at start-up.
    assert.ok(
      await within(3000, async () => (await lastRun(server)) > 0),
      'a pass ran within 3 s of the reload',
    );
    assert.equal(await blobs.stat(orphan.digest), undefined, 'the pass removed the orphan');
    // And then every interval.
    const first = await lastRun(server);
    assert.ok(
      await within(3000, async () => (await lastRun(server)) > first),
      'a second pass ran within the 1 s interval',
    );
  });

  test('enabled with the default interval: a shorter interval by reload applies to the next pass', async () => {
    await using server = await startTestServer({ config: { gc: { enabled: true, grace: 0 } } });
    await server.app.gc.runNow();
    const first = await lastRun(server);
    assert.ok(first > 0);
    server.app.reload({ ...server.config, gc: { ...server.config.gc, interval: 1 } });
    // Well before the start-up pass (5 s after start): only the moved timer runs one this soon.
    assert.ok(
      await within(2500, async () => (await lastRun(server)) > first),
      'the next pass ran 1 s after the last one, not a day later',
    );
  });
});

/**
 * Retention, trial 32 ops findings:
 * - `nora retention-plan` beside a running server is refused in its own words (it deletes
 *   nothing, so "would go on serving what this command deleted" was wrong), naming the admin
 *   API's plan; `retention-apply` keeps the deletion's reason, with or without `--yes` (trial 34:
 *   without it, it only said "pass --yes");
 * - `POST /api/v1/admin/retention?apply=true` audits its deletions with the admin as actor
 *   (`system` stays the timer's and the offline command's).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startAuthServer } from '../../helpers/auth-server.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { output } from '../../helpers/tools.ts';
import { auditFile, untilEvents } from '../../e2e/audit/helpers.ts';
import { retentionRig } from './rig.ts';

test('retention-plan beside a running server: refused in its own words', async () => {
  await using dir = await tempDir('nora-ret-t27o-');
  await using rig = await retentionRig(dir.path, [{ registry: 'raw', keep_last: 1 }]);
  const plan = await rig.cli(['retention-plan']);
  assert.equal(plan.code, 1, output(plan));
  assert.match(
    plan.stderr,
    /nora retention-plan: a NORA server \(pid \d+\) is running on .*: the plan would read the database and storage while the server changes them; ask the server for its plan instead: POST \/api\/v1\/admin\/retention as an admin \(it deletes nothing without \?apply=true\)/,
  );
  assert.doesNotMatch(plan.stderr, /deleted/);
  const apply = await rig.cli(['retention-apply', '--yes']);
  assert.equal(apply.code, 1, output(apply));
  assert.match(apply.stderr, /would go on serving what this command deleted/);
  // Trial 34: without --yes, the same refusal (not "pass --yes" for a run that would be refused).
  const bare = await rig.cli(['retention-apply']);
  assert.equal(bare.code, 1, output(bare));
  assert.equal(bare.stderr, apply.stderr);
  assert.doesNotMatch(bare.stderr, /pass --yes/);
  // While `nora gc` and `nora verify` run next to the server (README, docs/retention.md).
  for (const verb of ['gc', 'verify']) {
    const run = await rig.cli([verb]);
    assert.equal(run.code, 0, `${verb}: ${output(run)}`);
    assert.doesNotMatch(run.stderr, /is running on/, verb);
  }
});

test('the admin endpoint audits its deletions with the admin as actor', async () => {
  const PASSWORD = 'root-pw-27771';
  await using server = await startAuthServer({
    users: { root: PASSWORD },
    roles: ['admin'],
    auth: { admin_users: ['root'] },
    config: {
      retention: { rules: [{ registry: 'raw', name_glob: 'nightly/**', keep_last: 1 }] },
      audit: { actions: ['retention-apply'] },
    },
  });
  const authorization = `Basic ${Buffer.from(`root:${PASSWORD}`).toString('base64')}`;
  for (const i of [1, 2]) {
    const put = await fetch(`${server.url}/raw/nightly/tool/build-${i}.txt`, {
      method: 'PUT',
      headers: { authorization },
      body: `build ${i}`,
    });
    assert.equal(put.status, 201, await put.text());
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const applied = await fetch(`${server.url}/api/v1/admin/retention?apply=true`, {
    method: 'POST',
    headers: { authorization },
  });
  assert.equal(applied.status, 200, await applied.clone().text());
  assert.equal(((await applied.json()) as { deleted: number }).deleted, 1);
  const events = await untilEvents(auditFile(server), (all) => all.length >= 1);
  assert.deepEqual(
    events.map((e) => `${e.action} ${e.actor}`),
    ['retention-apply root'],
  );
});

test('without [[retention.rules]] the admin endpoint and retention-plan say so (trial 33)', async () => {
  await using dir = await tempDir('nora-ret-norules-');
  await using rig = await retentionRig(dir.path, []);
  const answer = await fetch(`${rig.server.url}/api/v1/admin/retention`, { method: 'POST' });
  assert.equal(answer.status, 200, await answer.clone().text());
  const body = (await answer.json()) as { planned: number; warnings: string[] };
  assert.equal(body.planned, 0);
  assert.match(body.warnings.join('\n'), /^no \[\[retention\.rules\]\] configured/);
  await rig.stop();
  const plan = await rig.cli(['retention-plan']);
  assert.equal(plan.code, 0, output(plan));
  assert.match(plan.stdout + plan.stderr, /warning: no \[\[retention\.rules\]\] configured/);
});

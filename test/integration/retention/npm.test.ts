/**
 * Retention of npm packages with the real npm CLI: 5 versions published, a rule keeping the
 * newest 2 (and the one `latest` points to, always), `nora retention-plan` / `retention-apply`
 * run offline (refused beside the running server), then npm sees only the kept versions, the
 * deleted tarballs are 404 and a kept version installs. Also the admin endpoint and the
 * in-server scheduler with a short first delay.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, test } from 'node:test';
import { npmHome } from '../../helpers/npm-ci.ts';
import { startTestServer } from '../../helpers/server.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { missingTools, output, run, type RunResult } from '../../helpers/tools.ts';
import { retentionRig } from './rig.ts';

const skip = missingTools('npm');

async function npmIn(
  home: string,
  registry: string,
  args: readonly string[],
  cwd?: string,
): Promise<RunResult> {
  const env = await npmHome(home, registry);
  return run('npm', [...args, '--registry', registry], {
    cwd: cwd ?? home,
    env,
    timeoutMs: 120_000,
    check: false,
  });
}

/** Publishes name@version with the real npm CLI; a few ms apart so stored times differ. */
async function publish(
  dir: string,
  registry: string,
  name: string,
  version: string,
  tag?: string,
): Promise<void> {
  const where = path.join(dir, 'pkgs', `${name}-${version}`);
  await fs.mkdir(where, { recursive: true });
  await fs.writeFile(
    path.join(where, 'package.json'),
    JSON.stringify({ name, version, license: 'MIT', main: 'index.js' }),
  );
  await fs.writeFile(
    path.join(where, 'index.js'),
    `module.exports = ${JSON.stringify(version)};\n`,
  );
  const result = await npmIn(
    path.join(dir, 'home'),
    registry,
    ['publish', ...(tag === undefined ? [] : ['--tag', tag])],
    where,
  );
  assert.equal(result.code, 0, output(result));
  await new Promise((resolve) => setTimeout(resolve, 20));
}

async function versionsOf(dir: string, registry: string, name: string): Promise<string[]> {
  const view = await npmIn(path.join(dir, 'home'), registry, ['view', name, 'versions', '--json']);
  assert.equal(view.code, 0, output(view));
  const parsed = JSON.parse(view.stdout) as string[] | string;
  return [parsed].flat();
}

describe('retention of npm packages (real npm)', { skip }, () => {
  test('retention-plan, retention-apply --yes offline; npm sees the kept versions, deleted ones 404', async () => {
    await using dir = await tempDir('nora-ret-npm-');
    await using rig = await retentionRig(dir.path, [
      { registry: 'npm', name_glob: 'ret-*', keep_last: 2 },
    ]);
    let registry = `${rig.server.url}/npm/`;
    for (const v of ['1.0.0', '1.1.0', '1.2.0', '1.3.0'])
      await publish(dir.path, registry, 'ret-pkg', v);
    // The newest publishes are prereleases on `next`: `latest` stays on 1.3.0, which is then
    // outside the newest 2 by stored time, and is kept all the same.
    await publish(dir.path, registry, 'ret-pkg', '2.0.0-rc.1', 'next');
    await publish(dir.path, registry, 'ret-pkg', '2.0.0-rc.2', 'next');
    await publish(dir.path, registry, 'other-pkg', '1.0.0');
    await publish(dir.path, registry, 'other-pkg', '1.0.1');

    // Beside the running server the command refuses: its cached answers would go stale.
    const beside = await rig.cli(['retention-plan']);
    assert.equal(beside.code, 1, output(beside));
    assert.match(
      beside.stderr,
      /nora retention-plan: a NORA server \(pid \d+\) is running on .*POST \/api\/v1\/admin\/retention/,
    );

    await rig.stop();
    const plan = await rig.cli(['retention-plan']);
    assert.equal(plan.code, 0, output(plan));
    assert.match(plan.stdout, /plan only \(nothing deleted\)/);
    assert.match(plan.stdout, /examined 8 versions of hosted repositories: 3 to delete/);
    assert.match(
      plan.stdout,
      /delete npm-hosted ret-pkg 1\.2\.0 \(\d+ bytes\): rule 1, not among the newest 2/,
    );
    assert.match(plan.stdout, /delete npm-hosted ret-pkg 1\.1\.0 /);
    assert.match(
      plan.stdout,
      /keep npm-hosted ret-pkg 1\.3\.0: rule 1, .*dist-tag latest points to it/,
    );
    assert.doesNotMatch(plan.stdout, /other-pkg/);
    const json = await rig.cli(['retention-plan', '--json']);
    assert.equal(json.code, 0, output(json));
    const doc = JSON.parse(json.stdout) as {
      delete: { name: string; version: string }[];
      apply: boolean;
    };
    assert.equal(doc.apply, false);
    assert.deepEqual(
      doc.delete.map((d) => `${d.name}@${d.version}`),
      ['ret-pkg@1.2.0', 'ret-pkg@1.1.0', 'ret-pkg@1.0.0'],
    );

    const refused = await rig.cli(['retention-apply']);
    assert.equal(refused.code, 2, output(refused));
    assert.match(refused.stderr, /nothing deleted: pass --yes/);

    const applied = await rig.cli(['retention-apply', '--yes']);
    assert.equal(applied.code, 0, output(applied));
    assert.match(applied.stdout, /deleted 3 versions, \d+ bytes of versions deleted/);

    const server = await rig.restart();
    registry = `${server.url}/npm/`;
    assert.deepEqual((await versionsOf(dir.path, registry, 'ret-pkg')).sort(), [
      '1.3.0',
      '2.0.0-rc.1',
      '2.0.0-rc.2',
    ]);
    assert.deepEqual((await versionsOf(dir.path, registry, 'other-pkg')).sort(), [
      '1.0.0',
      '1.0.1',
    ]);
    const gone = await fetch(`${server.url}/npm/ret-pkg/-/ret-pkg-1.2.0.tgz`);
    assert.equal(gone.status, 404);
    const project = path.join(dir.path, 'consumer');
    await fs.mkdir(project, { recursive: true });
    await fs.writeFile(
      path.join(project, 'package.json'),
      JSON.stringify({ name: 'consumer', version: '1.0.0', private: true }),
    );
    const install = await npmIn(
      path.join(dir.path, 'home'),
      registry,
      ['install', 'ret-pkg@1.3.0', '--no-package-lock'],
      project,
    );
    assert.equal(install.code, 0, output(install));
    const failed = await npmIn(
      path.join(dir.path, 'home'),
      registry,
      ['install', 'ret-pkg@1.2.0', '--no-package-lock'],
      project,
    );
    assert.notEqual(failed.code, 0, output(failed));
  });

  test('the admin endpoint plans and applies in the running server; its packument follows at once', async () => {
    await using dir = await tempDir('nora-ret-npm-api-');
    await using rig = await retentionRig(dir.path, [{ registry: 'npm', keep_last: 1 }]);
    const registry = `${rig.server.url}/npm/`;
    for (const v of ['1.0.0', '1.1.0', '1.2.0']) await publish(dir.path, registry, 'api-pkg', v);
    // Read (and so render and keep) the packument before the delete.
    assert.deepEqual((await versionsOf(dir.path, registry, 'api-pkg')).sort(), [
      '1.0.0',
      '1.1.0',
      '1.2.0',
    ]);
    const wrongMethod = await fetch(`${rig.server.url}/api/v1/admin/retention`);
    assert.equal(wrongMethod.status, 405);
    const plan = await fetch(`${rig.server.url}/api/v1/admin/retention`, { method: 'POST' });
    assert.equal(plan.status, 200);
    const planned = (await plan.json()) as { planned: number; deleted: number };
    assert.deepEqual([planned.planned, planned.deleted], [2, 0]);
    assert.equal((await versionsOf(dir.path, registry, 'api-pkg')).length, 3);
    const apply = await fetch(`${rig.server.url}/api/v1/admin/retention?apply=true`, {
      method: 'POST',
    });
    const applied = (await apply.json()) as { deleted: number; apply: boolean };
    assert.deepEqual([applied.apply, applied.deleted], [true, 2]);
    assert.deepEqual(await versionsOf(dir.path, registry, 'api-pkg'), ['1.2.0']);
    const metrics = await (await fetch(`${rig.server.url}/metrics`)).text();
    assert.match(metrics, /nora_retention_versions_deleted_total 2/);
    assert.match(metrics, /nora_retention_last_run_timestamp \d/);
  });

  test('the scheduler applies the rules soon after start; dry_run only logs the plan', async () => {
    await using dir = await tempDir('nora-ret-npm-sched-');
    const storage = path.join(dir.path, 'storage');
    const rules = [{ registry: 'npm', keep_last: 1 }];
    {
      await using server = await startTestServer({
        dataDir: dir.path,
        config: { storage: { mode: 'local', path: storage } },
      });
      const registry = `${server.url}/npm/`;
      for (const v of ['1.0.0', '1.1.0', '1.2.0'])
        await publish(dir.path, registry, 'sched-pkg', v);
    }
    const lines: string[] = [];
    {
      await using server = await startTestServer({
        dataDir: dir.path,
        config: { retention: { enabled: true, dry_run: true, interval: 3600, rules } },
        retentionFirstDelayMs: 50,
        logLevel: 'info',
        logStream: { write: (line) => lines.push(line) },
      });
      await waitFor(() => lines.some((l) => l.includes('plan only')));
      assert.ok(
        lines.some((l) => /2 to delete/.test(l)),
        lines.join('\n'),
      );
      assert.equal((await versionsOf(dir.path, `${server.url}/npm/`, 'sched-pkg')).length, 3);
    }
    {
      await using server = await startTestServer({
        dataDir: dir.path,
        config: { retention: { enabled: true, interval: 3600, rules } },
        retentionFirstDelayMs: 50,
      });
      await waitFor(
        async () => (await versionsOf(dir.path, `${server.url}/npm/`, 'sched-pkg')).length === 1,
      );
      assert.deepEqual(await versionsOf(dir.path, `${server.url}/npm/`, 'sched-pkg'), ['1.2.0']);
    }
  });
});

async function waitFor(check: () => boolean | Promise<boolean>, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * Retention, trial 27 newR's findings, through a running server and the CLI:
 * - F4: a rule is numbered from 1 in the JSON (`"rule"`) as in the text plan (`rule 2`);
 * - F5: a rule whose `repository` matches no hosted repository of its registry (a group's name,
 *   a typo) is warned about by `nora config check` and in every plan;
 * - F7: `deleted_bytes` counts an OCI tag's manifest only when the manifest itself went (one
 *   another tag still points at stays, and frees nothing);
 * - F8: the admin endpoint takes `apply=true|false` only; anything else is a 400, nothing run.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, test } from 'node:test';
import { tempDir } from '../../helpers/tmp.ts';
import { output } from '../../helpers/tools.ts';
import { retentionRig } from './rig.ts';

const pause = () => new Promise((resolve) => setTimeout(resolve, 20));
const sha256 = (data: string | Buffer) =>
  `sha256:${createHash('sha256').update(data).digest('hex')}`;

interface Report {
  apply: boolean;
  planned: number;
  deleted: number;
  deleted_bytes: number;
  delete: { name: string; version: string; rule: number; bytes: number }[];
  warnings: string[];
}

describe('retention: trial 27 newR F4, F5, F7, F8', () => {
  test('rule numbers, rules matching nothing, bytes of kept manifests, strict apply', async () => {
    await using dir = await tempDir('nora-ret-t27-');
    await using rig = await retentionRig(
      dir.path,
      [
        // Names a group: it holds nothing of its own, so this rule judges nothing.
        { registry: 'raw', repository: 'raw-all', keep_last: 1 },
        { registry: 'docker', name_glob: 'team/*', keep_last: 1 },
      ],
      {
        repositories: [
          { name: 'raw-team', format: 'raw', kind: 'hosted' },
          { name: 'raw-all', format: 'raw', kind: 'group', members: ['raw-team'] },
        ],
      },
    );
    const base = rig.server.url;
    const config = Buffer.from('{"architecture":"amd64","os":"linux"}');
    const blob = await fetch(`${base}/v2/team/app/blobs/uploads/?digest=${sha256(config)}`, {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream' },
      body: config,
    });
    assert.equal(blob.status, 201, await blob.text());
    const manifestOf = (note: string) =>
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: {
          mediaType: 'application/vnd.oci.image.config.v1+json',
          digest: sha256(config),
          size: config.length,
        },
        layers: [],
        annotations: { note },
      });
    const a = manifestOf('a');
    const b = manifestOf('b');
    // `old` → manifest A alone; `v1` and then `latest` → manifest B.
    for (const [tag, body] of [
      ['old', a],
      ['v1', b],
      ['latest', b],
    ] as const) {
      const put = await fetch(`${base}/v2/team/app/manifests/${tag}`, {
        method: 'PUT',
        headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' },
        body,
      });
      assert.equal(put.status, 201, await put.text());
      await pause();
    }

    // F8: only apply=true|false; anything else a 400 naming them, and nothing deleted.
    for (const query of [
      'apply=1',
      'apply=yes',
      'apply=TRUE',
      'aply=true',
      'dry_run=true&apply=true',
      'apply=true&apply=true',
    ]) {
      const reply = await fetch(`${base}/api/v1/admin/retention?${query}`, { method: 'POST' });
      const text = await reply.text();
      assert.equal(reply.status, 400, `${query}: ${text}`);
      assert.match(text, /apply=true \(delete\) or apply=false/, query);
    }
    const plan = await fetch(`${base}/api/v1/admin/retention?apply=false`, { method: 'POST' });
    assert.equal(plan.status, 200);
    const planned = (await plan.json()) as Report;
    assert.equal(planned.apply, false);
    assert.deepEqual(
      planned.delete.map((d) => [d.version, d.rule]),
      [
        ['v1', 2],
        ['old', 2],
      ],
      'F4: the second [[retention.rules]] is rule 2 in JSON, as in the text',
    );
    // F5: the rule naming the group is said to match nothing, in the plan.
    assert.equal(planned.warnings.length, 1, JSON.stringify(planned.warnings));
    assert.match(
      planned.warnings[0] ?? '',
      /^retention rule 1 \(registry = "raw", repository = "raw-all"\) matches no hosted repository: raw-all is a group \(groups hold nothing of their own: name its hosted members, raw-team\)/,
    );

    const applied = await fetch(`${base}/api/v1/admin/retention?apply=true`, { method: 'POST' });
    assert.equal(applied.status, 200);
    const report = (await applied.json()) as Report;
    assert.equal(report.deleted, 2);
    // F7: `v1`'s manifest is still `latest`'s: only manifest A's bytes went.
    assert.equal(report.deleted_bytes, Buffer.byteLength(a));
    assert.equal((await fetch(`${base}/v2/team/app/manifests/${sha256(b)}`)).status, 200);
    assert.equal((await fetch(`${base}/v2/team/app/manifests/${sha256(a)}`)).status, 404);

    // F4, F5 in the text plan and `nora config check` (offline, the server stopped).
    await rig.stop();
    const text = await rig.cli(['retention-plan']);
    assert.equal(text.code, 0, output(text));
    assert.match(
      text.stdout,
      /warning: retention rule 1 \(registry = "raw", repository = "raw-all"\) matches no hosted repository/,
    );
    const check = await rig.cli(['config', 'check']);
    assert.equal(check.code, 0, output(check));
    assert.match(
      output(check),
      /retention rule 1 \(registry = "raw", repository = "raw-all"\) matches no hosted repository: raw-all is a group/,
    );
  });
});

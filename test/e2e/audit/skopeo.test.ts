/**
 * The audit log with skopeo, auth on: `skopeo copy` of an image to NORA is push lines (each blob
 * and the manifest) with the user as actor; copying it out is pull lines. No password and no
 * registry token in any line. Pushing a changed image to the same tag is an `overwrite` line (the
 * tag moved to another manifest); pushing the same image again is a plain `push`.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import type { AuditEvent } from '../../../src/audit/types.ts';
import { startAuthServer } from '../../helpers/auth-server.ts';
import { htpasswdOf } from '../../helpers/auth.ts';
import { missingTools } from '../../helpers/tools.ts';
import { startOciServer } from '../../integration/oci/helpers.ts';
import { containersWork } from '../oci/containers-work.ts';
import { buildOciLayout } from '../oci-proxy/fixtures.ts';
import { auditFile, auditText, untilEvents } from './helpers.ts';

const PASSWORD = 'erin-pw-93817';

const isManifestPut = (e: AuditEvent): boolean =>
  e.method === 'PUT' && e.artifact === 'team/app/manifests/v1';

test(
  'skopeo copy in and out: push and pull by the user',
  { skip: missingTools('skopeo') },
  async () => {
    await using work = await containersWork('nora-audit-oci-');
    const htpasswd = path.join(work.path, 'users.htpasswd');
    await fs.writeFile(htpasswd, htpasswdOf({ erin: PASSWORD }));
    await using server = await startAuthServer({
      start: startOciServer,
      config: { docker: { upstreams: [] } },
      auth: { htpasswd_file: htpasswd },
    });
    await buildOciLayout(path.join(work.path, 'layout'), 'v1', { layerSizes: [1024, 2048] });
    const creds = `erin:${PASSWORD}`;
    const image = `docker://${server.host}/team/app:v1`;
    const copyIn = async (layout: string): Promise<void> => {
      const copied = await work.tool('skopeo', [
        'copy',
        '--dest-tls-verify=false',
        '--dest-creds',
        creds,
        `oci:${path.join(work.path, layout)}:v1`,
        image,
      ]);
      assert.equal(copied.code, 0, copied.stderr);
    };
    await copyIn('layout');
    const copyOut = await work.tool('skopeo', [
      'copy',
      '--src-tls-verify=false',
      '--src-creds',
      creds,
      image,
      `dir:${path.join(work.path, 'out')}`,
    ]);
    assert.equal(copyOut.code, 0, copyOut.stderr);
    // A changed image under the same tag, twice: the tag moves once.
    await buildOciLayout(path.join(work.path, 'changed'), 'v1', { layerSizes: [512] });
    for (let i = 0; i < 2; i++) await copyIn('changed');

    const file = auditFile(server);
    const events = await untilEvents(
      file,
      (all) => all.some((e) => e.action === 'pull') && all.filter(isManifestPut).length === 3,
    );
    const manifestPushes = events.filter(isManifestPut).map((e) => e.action);
    assert.deepEqual(manifestPushes, ['push', 'overwrite', 'push']);
    const pushes = events.filter((e) => e.action === 'push' && !isManifestPut(e));
    // Two layers and the config, then the changed image's layer and config (its second copy
    // finds them there and sends only the manifest).
    assert.equal(pushes.length, 5, JSON.stringify(pushes));
    const pulls = events.filter((e) => e.action === 'pull');
    assert.ok(pulls.some((e) => /^team\/app\/manifests\//.test(e.artifact)));
    assert.ok(pulls.some((e) => /^team\/app\/blobs\/sha256:/.test(e.artifact)));
    for (const event of events) {
      assert.equal(event.actor, 'erin');
      assert.equal(event.registry, 'docker');
    }
    const text = await auditText(file);
    assert.ok(!text.includes(PASSWORD));
    assert.ok(!/Bearer|eyJ/.test(text), 'a registry token in the audit log');
  },
);

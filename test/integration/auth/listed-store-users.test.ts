/**
 * `nora serve` judging the names of `[auth]` lists and the NORA_* variables that override them:
 * - a user registered in the metadata store (npm adduser, `allow_registration = true`) and listed
 *   in `read_only_users` was warned to have "no effect" at start-up and on SIGHUP, though the
 *   store, open by then, holds it (trial 18 authx F8): now only a name neither the htpasswd file
 *   nor the store holds is warned about, and `nora config check`, which does not open the store,
 *   says that it did not look there;
 * - a key edited in config.toml that a NORA_* variable overrides was silently kept at the
 *   variable's value by the SIGHUP reload (trial 18 authx F11): the reload now warns, and
 *   `nora config check` notes every such key.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { untilOutput, writeAuthConfig } from '../../helpers/auth-server.ts';
import { htpasswdOf } from '../../helpers/auth.ts';
import { nora } from '../../helpers/cli.ts';
import { freePort, type NoraProcess, startNoraProcess } from '../../helpers/process.ts';
import { tempDir } from '../../helpers/tmp.ts';

/** The messages of the JSON log lines of `output`. */
function messages(output: string): string[] {
  return output
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => (JSON.parse(line) as { msg?: string }).msg ?? '');
}

test(
  'store users in [auth] lists are users at start-up and SIGHUP; a file edit an env variable overrides is warned on reload',
  { timeout: 120_000 },
  async () => {
    await using dir = await tempDir('nora-listed-store-');
    const htpasswd = path.join(dir.path, 'users.htpasswd');
    await fs.writeFile(htpasswd, htpasswdOf({ alice: 'alice-pw-1' }));
    const config = (readOnly: readonly string[], admins: readonly string[]) =>
      writeAuthConfig(
        dir.path,
        htpasswd,
        [
          'allow_registration = true',
          `read_only_users = ${JSON.stringify(readOnly)}`,
          `admin_users = ${JSON.stringify(admins)}`,
        ],
        ['[rate_limit]', 'enabled = false'],
      );
    const configFile = await config([], ['alice']);
    const env = { NORA_AUTH_ADMIN_USERS: 'alice' };
    const start = () =>
      startNoraProcess({ port, args: ['serve', '-c', configFile], env: { ...env } });
    const port = await freePort();
    let server: NoraProcess = await start();
    try {
      // dave registers (npm adduser's request) while no list names him.
      const adduser = await fetch(`${server.url}/npm/-/user/org.couchdb.user:dave`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'dave', password: 'dave-pw-12', email: 'dave@example.org' }),
      });
      assert.equal(adduser.status, 201, await adduser.text());

      // The operator lists dave (and a name nobody holds) as read-only, and edits admin_users,
      // which NORA_AUTH_ADMIN_USERS overrides.
      await config(['dave', 'ghost'], ['alice', 'bob']);
      server.child.kill('SIGHUP');
      await untilOutput(server, 'configuration reloaded');
      const reloaded = messages(server.output());
      assert.deepEqual(
        reloaded.filter((m) => m.includes('"dave"')),
        [],
        reloaded.join('\n'),
      );
      assert.ok(
        reloaded.includes(
          '[auth] read_only_users: user "ghost" is in neither the htpasswd file nor the metadata store; it has no effect until the htpasswd file has it (npm adduser refuses a name the configuration lists)',
        ),
        reloaded.join('\n'),
      );
      assert.ok(
        reloaded.includes(
          `auth.admin_users in ${configFile} is overridden by NORA_AUTH_ADMIN_USERS: the file's ["alice","bob"] is not used; the edit takes effect only once the variable is unset and the server restarted`,
        ),
        reloaded.join('\n'),
      );
      // dave is a user, and now read-only: the list applies to him.
      const put = await fetch(`${server.url}/raw/x.txt`, {
        method: 'PUT',
        headers: { authorization: `Basic ${Buffer.from('dave:dave-pw-12').toString('base64')}` },
        body: 'x',
      });
      assert.equal(put.status, 403, await put.text());

      // nora config check does not open the store: it says so instead of "no effect".
      const check = await nora(['config', 'check', configFile], env);
      assert.equal(check.code, 0, check.stderr);
      assert.match(
        check.stderr,
        /warning: \[auth\] read_only_users: user "dave" is not in the htpasswd file; unless the metadata store holds a user of that name \(registered through npm adduser: this check does not open the store, start-up and SIGHUP look there too\), it has no effect/,
      );
      assert.ok(
        check.stderr.includes(
          `note: auth.admin_users in ${configFile} is overridden by NORA_AUTH_ADMIN_USERS: the file's ["alice","bob"] is not used\n`,
        ),
        check.stderr,
      );

      // Start-up judges as SIGHUP does.
      server.child.kill('SIGTERM');
      await server.exited;
      server = await start();
      // Logged once listening, after a look in the store: /health may answer first.
      await untilOutput(server, 'user \\"ghost\\" is in neither');
      const startup = messages(server.output());
      assert.deepEqual(
        startup.filter((m) => m.includes('"dave"')),
        [],
        startup.join('\n'),
      );
      assert.ok(
        startup.some((m) => m.includes('user "ghost" is in neither the htpasswd file')),
        startup.join('\n'),
      );
    } finally {
      server.child.kill('SIGTERM');
      await server.exited;
    }
  },
);

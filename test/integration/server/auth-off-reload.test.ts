/**
 * Auth switched off and on by SIGHUP, against a real process (trial 20 authx F8): with auth off
 * nothing about the htpasswd file is warned (its skipped lines included, as `nora config check`
 * omits them then), and the reload that turns auth off says "anyone who can reach this server
 * can read and write", as start-up with auth off does.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import bcrypt from 'bcryptjs';
import { freePort, startNoraProcess, waitFor } from '../../helpers/process.ts';

const ANYONE = /authentication is disabled: anyone who can reach this server can read and write/g;
/** The warn-level (40) line of the skipped MD5 line of `mike`. */
const SKIPPED = /"level":40[^\n]*htpasswd line 2 \(user \\"mike\\"\) skipped/g;

describe('auth off and on by SIGHUP', () => {
  test('auth off: skipped htpasswd lines not warned; a reload turning auth off says anyone can write', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'nora-auth-off-hup-'));
    const users = path.join(dir, 'users.htpasswd');
    await fs.writeFile(
      users,
      `alice:${bcrypt.hashSync('alice-pw', 4)}\nmike:$apr1$abcdefgh$0123456789abcdefghijkl\n`,
    );
    const file = path.join(dir, 'config.toml');
    const config = (enabled: boolean) =>
      `[storage]\npath = ${JSON.stringify(path.join(dir, 'storage'))}\n[auth]\nenabled = ${enabled}\nhtpasswd_file = ${JSON.stringify(users)}\n`;
    await fs.writeFile(file, config(false));
    const server = await startNoraProcess({
      port: await freePort(),
      args: ['serve', '-c', file],
      env: {},
    });
    const reloads = () => server.output().match(/configuration reloaded/g)?.length ?? 0;
    try {
      await waitFor(() => server.output().includes('nora listening'));
      // Let the htpasswd read (asynchronous) finish before judging the log.
      await waitFor(() => server.output().includes('htpasswd users loaded'));
      assert.equal(server.output().match(SKIPPED)?.length ?? 0, 0, server.output());
      assert.equal(server.output().match(ANYONE)?.length, 1);

      // Auth on: the skipped line matters now and is warned (the check above can see it).
      await fs.writeFile(file, config(true));
      server.child.kill('SIGHUP');
      await waitFor(() => reloads() === 1 && (server.output().match(SKIPPED)?.length ?? 0) === 1);
      assert.equal(server.output().match(ANYONE)?.length, 1, 'auth on: not said');

      // Auth off again: the reload opens the server to anyone, and says so.
      await fs.writeFile(file, config(false));
      server.child.kill('SIGHUP');
      await waitFor(() => reloads() === 2);
      assert.equal(server.output().match(ANYONE)?.length, 2, server.output());
      // Anonymous writes work right after (what the line warns about).
      const put = await fetch(`${server.url}/raw/x.txt`, { method: 'PUT', body: 'x' });
      assert.equal(put.status, 201);
      // Give the re-read a moment: it must not warn about the skipped line with auth off.
      await new Promise((r) => setTimeout(r, 500));
      assert.equal(server.output().match(SKIPPED)?.length, 1, server.output());
    } finally {
      server.child.kill('SIGTERM');
      await server.exited;
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});

/**
 * A SIGHUP while `nora serve` starts (trial 18 authx F10): before, Node's default action ended the
 * process silently (exit 129) when it arrived before the server's reload handler — a
 * `systemctl reload` right after `start`. Now bin/nora.js holds it from its first lines and the
 * server reloads once it is up. The test sends the signal as soon as the process catches SIGHUP
 * (`SigCgt` in /proc/<pid>/status), long before /health answers.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { NODE_FLAGS, freePort, startNoraProcess } from '../../helpers/process.ts';
import { PROJECT_ROOT } from '../../helpers/tools.ts';
import { tempDir } from '../../helpers/tmp.ts';

/** Whether `pid` has a handler for SIGHUP (signal 1: bit 0 of the caught-signals mask). */
async function catchesSighup(pid: number): Promise<boolean> {
  const status = await fs.readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  const mask = /SigCgt:\s*([0-9a-f]+)/.exec(status)?.[1];
  return mask !== undefined && (BigInt(`0x${mask}`) & 1n) === 1n;
}

test(
  'a SIGHUP during start-up is held and applied once the server is up, never ending it',
  { skip: process.platform !== 'linux' ? 'reads /proc/<pid>/status (Linux)' : false },
  async () => {
    await using dir = await tempDir('nora-early-hup-');
    await fs.writeFile(path.join(dir.path, 'config.toml'), '[rate_limit]\nenabled = false\n');
    let sent: Promise<number> | undefined;
    const sendEarly = (child: ChildProcess) => {
      sent = (async () => {
        const started = performance.now();
        while (child.pid === undefined || !(await catchesSighup(child.pid))) {
          if (performance.now() - started > 30_000) throw new Error('SIGHUP never caught');
          await new Promise((r) => setTimeout(r, 2));
        }
        child.kill('SIGHUP');
        return performance.now();
      })();
    };
    const server = await startNoraProcess({
      env: { NORA_STORAGE_PATH: path.join(dir.path, 'data') },
      cwd: dir.path,
      port: await freePort(),
      onSpawn: sendEarly,
    });
    try {
      assert.ok(sent !== undefined);
      await sent;
      const start = Date.now();
      while (!server.output().includes('configuration reloaded')) {
        if (Date.now() - start > 15_000) assert.fail(`no reload:\n${server.output()}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      assert.match(server.output(), /SIGHUP received while starting/);
      assert.equal((await fetch(`${server.url}/health`)).status, 200);
    } finally {
      server.child.kill('SIGTERM');
      await server.exited;
    }
  },
);

/**
 * Trial 19 authx F2: the hold was installed by bin/nora.js's first TypeScript import, which alone
 * takes 0.25-0.3 s (Node initialises its type stripper on it), so a SIGHUP in that window still
 * ended the server. A preload hook sends the signal at the exact moment the first `.ts` module is
 * resolved — deterministic, unlike a sleep — and the server must stay up and reload.
 */
test('a SIGHUP sent as the first TypeScript module loads is held too (the hold precedes every import)', async () => {
  await using dir = await tempDir('nora-early-hup-ts-');
  await fs.writeFile(path.join(dir.path, 'config.toml'), '[rate_limit]\nenabled = false\n');
  const preload = path.join(dir.path, 'hup-at-first-ts.mjs');
  await fs.writeFile(
    preload,
    [
      "import { registerHooks } from 'node:module';",
      'let sent = false;',
      'registerHooks({',
      '  resolve(specifier, context, next) {',
      "    if (!sent && specifier.endsWith('.ts')) {",
      '      sent = true;',
      "      process.stderr.write('test: SIGHUP at first .ts import\\n');",
      "      process.kill(process.pid, 'SIGHUP');",
      '    }',
      '    return next(specifier, context);',
      '  },',
      '});',
      '',
    ].join('\n'),
  );
  const server = await startNoraProcess({
    command: [
      process.execPath,
      ...NODE_FLAGS,
      '--import',
      preload,
      path.join(PROJECT_ROOT, 'bin/nora.js'),
      'serve',
    ],
    env: { NORA_STORAGE_PATH: path.join(dir.path, 'data') },
    cwd: dir.path,
    port: await freePort(),
  });
  try {
    const start = Date.now();
    while (!server.output().includes('configuration reloaded')) {
      if (Date.now() - start > 15_000) assert.fail(`no reload:\n${server.output()}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.match(server.output(), /test: SIGHUP at first \.ts import/);
    assert.match(server.output(), /SIGHUP received while starting/);
    assert.equal((await fetch(`${server.url}/health`)).status, 200);
  } finally {
    server.child.kill('SIGTERM');
    await server.exited;
  }
});

test(
  'SIGHUPs at a few delays after the process first catches the signal: each start survives',
  { skip: process.platform !== 'linux' ? 'reads /proc/<pid>/status (Linux)' : false },
  async () => {
    for (const delayMs of [0, 150]) {
      await using dir = await tempDir('nora-early-hup-delay-');
      await fs.writeFile(path.join(dir.path, 'config.toml'), '[rate_limit]\nenabled = false\n');
      let sent: Promise<void> | undefined;
      const server = await startNoraProcess({
        env: { NORA_STORAGE_PATH: path.join(dir.path, 'data') },
        cwd: dir.path,
        port: await freePort(),
        onSpawn: (child) => {
          sent = (async () => {
            while (child.pid === undefined || !(await catchesSighup(child.pid))) {
              await new Promise((r) => setTimeout(r, 1));
            }
            await new Promise((r) => setTimeout(r, delayMs));
            child.kill('SIGHUP');
          })();
        },
      });
      try {
        await sent;
        const start = Date.now();
        while (!server.output().includes('configuration reloaded')) {
          if (Date.now() - start > 15_000)
            assert.fail(`${delayMs} ms: no reload:\n${server.output()}`);
          await new Promise((r) => setTimeout(r, 50));
        }
        assert.equal((await fetch(`${server.url}/health`)).status, 200);
      } finally {
        server.child.kill('SIGTERM');
        await server.exited;
      }
    }
  },
);

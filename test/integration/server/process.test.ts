import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { buildApp } from '../../../src/app.ts';
import { parseConfigObject } from '../../../src/config/load.ts';
import { freePort, startNoraProcess } from '../../helpers/process.ts';
import { PROJECT_ROOT, run } from '../../helpers/tools.ts';

const nora = (args: string[], env: Record<string, string> = {}) =>
  run(process.execPath, [path.join(PROJECT_ROOT, 'bin/nora.js'), ...args], {
    check: false,
    env: { ...process.env, ...env },
    cwd: os.tmpdir(),
  });

describe('CLI', () => {
  test('--version and --help', async () => {
    const version = await nora(['--version']);
    assert.equal(version.code, 0);
    assert.match(version.stdout, /^\d+\.\d+\.\d+\n$/);
    const help = await nora(['--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /serve/);
    assert.match(help.stdout, /config/);
  });

  test('config check prints the effective config with secrets masked', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'nora-cli-'));
    const file = path.join(dir, 'c.toml');
    await fs.writeFile(
      file,
      '[server]\nport = 4100\n[npm]\nproxy = "http://127.0.0.1:9/"\nproxy_auth = "u:supersecret"\n',
    );
    const res = await nora(['config', 'check', file], { NORA_HOST: '0.0.0.0' });
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stdout, /port = 4100/);
    assert.match(res.stdout, /host = "0\.0\.0\.0"/);
    assert.doesNotMatch(res.stdout, /supersecret/);
  });

  test('an invalid config exits 2 naming the key', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'nora-cli-'));
    const file = path.join(dir, 'bad.toml');
    await fs.writeFile(file, '[docker]\nproxy_timeout = "soon"\n');
    const check = await nora(['config', 'check', file]);
    assert.equal(check.code, 2);
    assert.match(check.stderr, /docker\.proxy_timeout/);
    const serve = await nora(['serve'], { NORA_CONFIG_PATH: file });
    assert.equal(serve.code, 2);
    assert.match(serve.stderr, /docker\.proxy_timeout/);
    const envBad = await nora(['serve'], { NORA_PORT: 'abc' });
    assert.equal(envBad.code, 2);
    assert.match(envBad.stderr, /server\.port \(from NORA_PORT\)/);
    const missing = await nora(['serve'], { NORA_CONFIG_PATH: path.join(dir, 'nope.toml') });
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /cannot read config file/);
    const usage = await nora(['no-such-command']);
    assert.equal(usage.code, 2);
  });
});

describe('running as the README says', () => {
  test('`npm start` serves /health on the configured port', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'nora-start-'));
    const port = await freePort();
    const server = await startNoraProcess({
      command: ['npm', 'start', '--silent'],
      port,
      env: { NORA_STORAGE_PATH: path.join(dir, 'storage') },
      detached: true,
    });
    const body = (await (await fetch(`${server.url}/health`)).json()) as { status: string };
    assert.equal(body.status, 'healthy');
    await fs.access(path.join(dir, 'storage', 'nora.db'));
    // Stop the whole tree, as Ctrl-C in a terminal or systemd would.
    process.kill(-(server.child.pid ?? 0), 'SIGTERM');
    await server.exited;
    await waitFor(() => server.output().includes('shutting down'));
    await assert.rejects(fetch(`${server.url}/health`), 'the server stopped listening');
  });

  test('a port in use: the error naming the address and the fix is the last line, no line of a server that seems to run', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'nora-port-taken-'));
    // Another program holds the port.
    const holder = net.createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    const port = (holder.address() as net.AddressInfo).port;
    try {
      // stdout and stderr on one file, as in a terminal: the file holds the lines in the order
      // they were written (pino writes stdout asynchronously, the error goes to stderr at once).
      const outFile = path.join(dir, 'out.txt');
      const out = await fs.open(outFile, 'w');
      const child = spawn(process.execPath, [path.join(PROJECT_ROOT, 'bin/nora.js'), 'serve'], {
        cwd: dir,
        env: {
          ...process.env,
          NORA_HOST: '127.0.0.1',
          NORA_PORT: String(port),
          NORA_STORAGE_PATH: path.join(dir, 'storage'),
          NORA_AUTH_ENABLED: 'false',
        },
        stdio: ['ignore', out.fd, out.fd],
      });
      const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
      await out.close();
      const lines = (await fs.readFile(outFile, 'utf8')).split('\n').filter((l) => l !== '');
      assert.equal(code, 1, lines.join('\n'));
      assert.equal(
        lines.at(-1),
        `nora: cannot listen on 127.0.0.1:${port}: the address is already in use (another nora serve or another program has it): stop that one, or choose another port ([server] port, NORA_PORT)`,
      );
      // Said only by a server that listens (before: printed, then the error).
      assert.ok(
        !lines.some((l) => /authentication is disabled|listening/.test(l)),
        lines.join('\n'),
      );
    } finally {
      await new Promise((resolve) => holder.close(resolve));
    }
  });

  test('SIGTERM stops accepting, finishes and exits 0', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'nora-term-'));
    const server = await startNoraProcess({
      port: await freePort(),
      env: { NORA_STORAGE_PATH: path.join(dir, 'storage') },
    });
    server.child.kill('SIGTERM');
    assert.equal(await server.exited, 0, server.output());
  });

  test('SIGHUP reloads a valid config and keeps the old one when the new one is invalid', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'nora-hup-'));
    const file = path.join(dir, 'config.toml');
    await fs.writeFile(file, '[auth]\nenabled = false\n');
    const port = await freePort();
    const server = await startNoraProcess({
      port,
      env: { NORA_CONFIG_PATH: file, NORA_STORAGE_PATH: path.join(dir, 'storage') },
    });
    try {
      await fs.writeFile(file, '[auth\nenabled = ');
      server.child.kill('SIGHUP');
      await waitFor(() => server.output().includes('keeping previous config'));
      assert.match(server.output(), /TOML parse error/);
      assert.equal((await fetch(`${server.url}/health`)).status, 200);
      await fs.writeFile(file, '[docker]\nenabled = false\n');
      server.child.kill('SIGHUP');
      await waitFor(() => server.output().includes('configuration reloaded'));
      assert.match(server.output(), /"requires_restart":\["docker\.enabled"\]/);
    } finally {
      server.child.kill('SIGTERM');
      await server.exited;
    }
  });
});

describe('crash safety', () => {
  test('kill -9 during a blob write leaves no visible blob, and a restart is consistent', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'nora-crash-'));
    const storage = path.join(dir, 'storage');
    const child = spawn(
      process.execPath,
      [path.join(PROJECT_ROOT, 'test/fixtures/slow-ingest.ts'), storage],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (d: Buffer) => {
        if (d.toString().includes('spooling')) resolve();
      });
      child.on('exit', () => {
        reject(new Error('ingest child exited early'));
      });
    });
    const spooled = await fs.readdir(path.join(storage, '.tmp', 'ingest'));
    assert.equal(spooled.length, 1, 'a spool file is being written');
    child.kill('SIGKILL');
    await new Promise((r) => child.on('exit', r));

    const { config } = parseConfigObject({
      server: { log_level: 'silent' },
      storage: { path: storage },
    });
    const app = await buildApp(config, { logLevel: 'silent' });
    try {
      const blobs = await fs.readdir(path.join(storage, 'blobs')).catch(() => []);
      assert.deepEqual(blobs, [], 'no blob became visible');
      const left = await fs.readdir(path.join(storage, '.tmp', 'ingest')).catch(() => []);
      assert.deepEqual(left, [], 'stale spool files are removed at start');
      const health = await app.fastify.inject({ url: '/health' });
      assert.equal(health.json<{ status: string }>().status, 'healthy');
    } finally {
      await app.close();
    }
  });
});

async function waitFor(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const start = Date.now();
  while (!condition()) {
    if (Date.now() - start > timeoutMs) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

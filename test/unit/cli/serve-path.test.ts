/**
 * `nora serve` starts without the rest of the command line (src/serve-command.ts): src/main.ts,
 * commander and the other commands' modules (mirror, import, backup, …) stay unloaded in a
 * running server, ~3 MB of its idle memory (docs/performance.md "Idle RSS: the serve path
 * without the command line", 2026-12-06). Which modules a server loaded is read with a module
 * resolve hook in the child (`--import`), written out when the server exits.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { plainServeOptions } from '../../../src/serve-command.ts';
import { freePort, NODE_FLAGS, startNoraProcess } from '../../helpers/process.ts';
import { PROJECT_ROOT } from '../../helpers/tools.ts';

test('plainServeOptions takes the plain serve forms only', () => {
  assert.deepEqual(plainServeOptions([]), {});
  assert.deepEqual(plainServeOptions(['serve']), {});
  assert.deepEqual(plainServeOptions(['serve', '-c', 'x.toml']), { config: 'x.toml' });
  assert.deepEqual(plainServeOptions(['serve', '--config', 'x.toml']), { config: 'x.toml' });
  for (const argv of [
    ['--help'],
    ['-V'],
    ['serve', '--help'],
    ['serve', '-c'],
    ['serve', '-c', '--help'],
    ['serve', '--config=x.toml'],
    ['serve', 'extra'],
    ['serve', '-c', 'x.toml', 'extra'],
    ['-c', 'x.toml'],
    ['backup', '-o', 'f'],
  ]) {
    assert.equal(plainServeOptions(argv), undefined, argv.join(' '));
  }
});

const HOOK = `
import { registerHooks } from 'node:module';
import { writeFileSync } from 'node:fs';
const seen = new Set();
registerHooks({
  resolve(specifier, context, next) {
    const result = next(specifier, context);
    seen.add(result.url);
    return result;
  },
});
process.on('exit', () => writeFileSync(process.env.SEEN_FILE, JSON.stringify([...seen])));
`;

async function modulesOfAServer(args: readonly string[]): Promise<string[]> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'nora-serve-path-'));
  try {
    const hook = path.join(dir, 'hook.mjs');
    await fs.writeFile(hook, HOOK);
    const seenFile = path.join(dir, 'seen.json');
    const server = await startNoraProcess({
      port: await freePort(),
      env: { NORA_STORAGE_PATH: path.join(dir, 'storage'), SEEN_FILE: seenFile },
      command: [
        process.execPath,
        ...NODE_FLAGS,
        '--import',
        hook,
        path.join(PROJECT_ROOT, 'bin/nora.js'),
        ...args,
      ],
    });
    const ui = await fetch(`${server.url}/ui/`);
    assert.equal(ui.status, 200);
    await ui.arrayBuffer();
    server.child.kill('SIGTERM');
    await server.exited;
    const seen = JSON.parse(await fs.readFile(seenFile, 'utf8')) as string[];
    return seen.map((url) => url.replace(`file://${PROJECT_ROOT}/`, ''));
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

for (const args of [['serve'], []]) {
  test(`\`${['nora', ...args].join(' ')}\` serves without loading the command line's modules`, async () => {
    const loaded = await modulesOfAServer(args);
    assert.ok(loaded.includes('src/serve-command.ts'), 'the serve path ran');
    assert.ok(loaded.includes('src/app.ts'));
    for (const module of [
      'src/main.ts',
      'src/mirror/run.ts',
      'src/import/run.ts',
      'src/backup/backup.ts',
      'src/backup/restore.ts',
      'src/storage/migrate.ts',
      'src/curation/cli.ts',
      'src/formats/go/publish-cli.ts',
      // A local store: the S3 driver is loaded only for `[storage] mode = "s3"`.
      'src/storage/drivers/s3-driver.ts',
    ]) {
      assert.ok(!loaded.includes(module), `${module} was loaded`);
    }
    for (const npm of ['commander', 'aws4']) {
      assert.ok(!loaded.some((url) => url.includes(`node_modules/${npm}/`)), `${npm} loaded`);
    }
  });
}

test('`nora serve -c FILE` with a broken file: the command line’s message and exit code', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'nora-serve-path-'));
  try {
    const file = path.join(dir, 'config.toml');
    await fs.writeFile(file, 'bad = [\n');
    const run = promisify(execFile)(
      process.execPath,
      [...NODE_FLAGS, path.join(PROJECT_ROOT, 'bin/nora.js'), 'serve', '-c', file],
      { cwd: dir, timeout: 120_000 },
    );
    const failure = (await run.then(
      () => assert.fail('a broken config file must not start'),
      (err: unknown) => err,
    )) as { code?: number; stderr?: string };
    assert.equal(failure.code, 2);
    assert.match(failure.stderr ?? '', /^nora: TOML parse error in .*config\.toml at line 2/m);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});

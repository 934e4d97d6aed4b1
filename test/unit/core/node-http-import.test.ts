/**
 * Loading NORA's sources must not load Node's own bundled undici: an ES `import` of node:http
 * builds a module facade that reads node:http's `WebSocket`/`CloseEvent`/`MessageEvent` getters,
 * which load it (~80-100 ms of CPU and ~13 MB of RSS at every start, for nothing NORA uses).
 * src/core/node-http.ts takes node:http with `require` instead (docs/performance.md, "Start-up
 * and idle RSS", 2026-12-06).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';

const root = path.resolve(import.meta.dirname, '../../..');

test('importing src/main.ts and src/app.ts leaves Node’s bundled undici unloaded', async () => {
  const script = [
    `await import(${JSON.stringify(path.join(root, 'src/main.ts'))});`,
    `await import(${JSON.stringify(path.join(root, 'src/app.ts'))});`,
    `console.log(JSON.stringify(process.moduleLoadList.filter((m) => m.includes('deps/undici'))));`,
  ].join('\n');
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ['--input-type=module', '-e', script],
    { cwd: root, timeout: 120_000 },
  );
  assert.deepEqual(JSON.parse(stdout.trim().split('\n').at(-1) ?? '[]'), []);
});

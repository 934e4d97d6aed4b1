/**
 * Runs every test file (unit, integration, e2e) with node:test, streams the spec reporter, and
 * ends with one plain line "N passed, N failed, N skipped" (what CI reads).
 * Usage: node scripts/run-tests.ts [path-substring …]   (filters files by substring)
 *
 * Every test file runs with TMPDIR set to one fresh directory, removed at the end: what a test
 * (or a client it drives) leaves in its temporary directory does not pile up in the machine's
 * /tmp run after run (a few GB in a day of runs before this).
 */
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { glob } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { run } from 'node:test';
import { spec } from 'node:test/reporters';

const root = path.resolve(import.meta.dirname, '..');
const filters = process.argv.slice(2);
const files: string[] = [];
for await (const file of glob(['src/**/*.test.ts', 'test/**/*.test.ts'], { cwd: root })) {
  if (filters.length === 0 || filters.some((f) => file.includes(f)))
    files.push(path.join(root, file));
}
files.sort();

const tmp = mkdtempSync(path.join(os.tmpdir(), 'nora-tests-'));
// mkdtemp makes it 0700; nginx's workers (tests' static upstreams) drop root's privileges and
// must be able to walk into the trees tests create below it, as they could in /tmp itself.
chmodSync(tmp, 0o755);
process.env['TMPDIR'] = tmp;

let passed = 0;
let failed = 0;
let skipped = 0;
const stream = run({
  files,
  concurrency: Number(process.env['NORA_TEST_CONCURRENCY'] ?? 3),
  timeout: 20 * 60_000,
});
stream.on('test:pass', (event) => {
  if (event.details.type === 'suite') return;
  if (event.skip !== undefined || event.todo !== undefined) skipped++;
  else passed++;
});
stream.on('test:fail', (event) => {
  if (event.details.type === 'suite') return;
  failed++;
  process.exitCode = 1;
});
stream.compose(spec).pipe(process.stdout);
await new Promise<void>((resolve) =>
  stream.once('end', () => {
    resolve();
  }),
);
try {
  rmSync(tmp, { recursive: true, force: true, maxRetries: 3 });
} catch (err) {
  process.stdout.write(`could not remove the tests' temporary directory ${tmp}: ${String(err)}\n`);
}
process.stdout.write(`\n${passed} passed, ${failed} failed, ${skipped} skipped\n`);
if (files.length === 0 || passed + failed === 0) {
  process.stdout.write('no tests ran\n');
  process.exitCode = 1;
}

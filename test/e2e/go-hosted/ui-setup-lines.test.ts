/**
 * The dashboard's Go lines, pasted as they are, build a hosted module (thirtieth session, trial
 * 35 newA F2): the UI gave only `export GOPROXY=…/go`, and `go build` of a consumer of a hosted
 * module then failed `verifying go.mod: … 404 … set GOPRIVATE=…`. The lines now set GOPRIVATE
 * (the hosted module paths the viewer may read), GONOPROXY=none and GOFLAGS=-mod=mod as
 * README's Go block does. Real `go` in a shell with no Go variables of its own; skipped, saying
 * so, without `go`.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, test } from 'node:test';
import { goEnv } from '../../helpers/go.ts';
import { startTestServer } from '../../helpers/server.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { findTool, PROJECT_ROOT, run } from '../../helpers/tools.ts';

const NODE = process.execPath;
const NORA = path.join(PROJECT_ROOT, 'bin', 'nora.js');
const LIB = 'corp.example.com/uilib';
const missing =
  findTool('go') === undefined ? 'client not installed: go (Debian golang-go)' : false;

describe('the dashboard Go lines', { skip: missing }, () => {
  test('pasted in a shell, they let go build a consumer of a hosted module', async () => {
    await using work = await tempDir('nora-go-ui-lines-');
    await using nora = await startTestServer({ config: { go: { proxy: '' } } });
    const lib = path.join(work.path, 'lib');
    await fs.mkdir(lib, { recursive: true });
    await fs.writeFile(path.join(lib, 'go.mod'), `module ${LIB}\n\ngo 1.19\n`);
    await fs.writeFile(
      path.join(lib, 'lib.go'),
      'package uilib\n\n// Hello greets.\nfunc Hello() string { return "hello" }\n',
    );
    const published = await run(
      NODE,
      [NORA, 'go', 'publish', '--registry', `${nora.url}/go`, '--version', 'v1.0.0', lib],
      { check: false, timeoutMs: 60_000, env: { ...process.env } },
    );
    assert.equal(published.code, 0, published.stderr);

    const reply = await fetch(`${nora.url}/api/ui/dashboard`);
    assert.equal(reply.status, 200);
    const dashboard = (await reply.json()) as { mounts: { format: string; setup: string[] }[] };
    const lines = dashboard.mounts.find((m) => m.format === 'go')?.setup ?? [];
    assert.ok(
      lines.some((line) => line.includes(`GOPRIVATE=${LIB}`)),
      lines.join('\n'),
    );

    const consumer = path.join(work.path, 'consumer');
    await fs.mkdir(consumer, { recursive: true });
    await fs.writeFile(
      path.join(consumer, 'go.mod'),
      `module example.org/consumer\n\ngo 1.19\n\nrequire ${LIB} v1.0.0\n`,
    );
    await fs.writeFile(
      path.join(consumer, 'main.go'),
      `package main\n\nimport "${LIB}"\n\nfunc main() { println(uilib.Hello()) }\n`,
    );
    // A shell with no Go settings but the pasted lines (goEnv's test defaults removed).
    const unset = new Set(['GOFLAGS', 'GONOSUMDB', 'GOPRIVATE', 'GONOPROXY', 'GOINSECURE']);
    const env = Object.fromEntries(
      Object.entries(goEnv(work.path)).filter(([key]) => !unset.has(key)),
    );
    const script = `${lines.join('\n')}\ngo build -o /dev/null .\n`;
    const built = await run('sh', ['-ec', script], {
      cwd: consumer,
      env,
      check: false,
      timeoutMs: 300_000,
    });
    assert.equal(built.code, 0, `${script}\n${built.stdout}\n${built.stderr}`);
  });
});

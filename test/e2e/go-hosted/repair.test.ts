/**
 * A hosted Go module whose stored files were lost (removed after failing the integrity check, or
 * deleted on disk) is repaired by its publisher re-running `nora go publish` of the same tree
 * (docs/storage.md "Integrity of stored bytes"): the CLI builds the same zip byte for byte, NORA
 * stores the missing files again and answers 200 (the same bytes: a retry), saying so; another
 * tree under that version is still 409 (versions are immutable).
 * Real clients: the CLI (bin/nora.js) and Debian's `go` (`go mod download`), auth off.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, test } from 'node:test';
import { goEnv, goRun } from '../../helpers/go.ts';
import { startTestServer } from '../../helpers/server.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { findTool, PROJECT_ROOT, run, type RunResult } from '../../helpers/tools.ts';

const NORA = path.join(PROJECT_ROOT, 'bin', 'nora.js');
const MODULE = 'corp.example.com/repair/lib';
const GO_MOD = `module ${MODULE}\n\ngo 1.19\n`;
const missing = findTool('go') === undefined ? 'go is not installed (Debian golang-go)' : false;

function publish(dir: string, registry: string): Promise<RunResult> {
  return run(
    process.execPath,
    [NORA, 'go', 'publish', '--version', 'v1.0.0', '--registry', registry, dir],
    { check: false, timeoutMs: 60_000, env: { ...process.env } },
  );
}

function sha256(bytes: Buffer | string): string {
  return createHash('sha256').update(bytes).digest('hex');
}

describe(
  'hosted Go module: a re-publish of the same tree repairs lost files',
  { skip: missing },
  () => {
    test('zip and .mod deleted on disk: 503, then nora go publish stores them again (200)', async () => {
      await using work = await tempDir('nora-e2e-go-repair-');
      await using server = await startTestServer({ env: { NORA_GO_PROXY: 'none' } });
      const registry = `${server.url}/go`;
      const lib = path.join(work.path, 'lib');
      await fs.mkdir(lib);
      await fs.writeFile(path.join(lib, 'go.mod'), GO_MOD);
      await fs.writeFile(path.join(lib, 'lib.go'), 'package lib\n\nfunc X() int { return 7 }\n');

      const first = await publish(lib, registry);
      assert.equal(first.code, 0, first.stderr);
      const zipHex = /zip sha256 ([0-9a-f]{64})/.exec(first.stdout)?.[1];
      assert.ok(zipHex !== undefined, first.stdout);
      const blob = (hex: string) =>
        path.join(server.dataDir, 'storage', 'blobs', 'sha256', hex.slice(0, 2), hex);
      const modHex = sha256(GO_MOD);
      await fs.rm(blob(zipHex));
      await fs.rm(blob(modHex));

      const env = goEnv(work.path, {
        GOPROXY: registry,
        GOPRIVATE: 'corp.example.com',
        GONOPROXY: 'none',
      });
      const download = () =>
        goRun(['mod', 'download', '-json', `${MODULE}@v1.0.0`], work.path, env, false);
      const broken = await download();
      assert.notEqual(broken.code, 0);
      assert.match(broken.stdout + broken.stderr, /503|missing from storage/);

      // Another tree under the same version: refused; its zip puts nothing back, its go.mod (the
      // same bytes, so the same content address) puts the .mod back.
      const other = path.join(work.path, 'other');
      await fs.mkdir(other);
      await fs.writeFile(path.join(other, 'go.mod'), GO_MOD);
      await fs.writeFile(path.join(other, 'lib.go'), 'package lib\n\nfunc X() int { return 8 }\n');
      const refused = await publish(other, registry);
      assert.equal(refused.code, 1);
      assert.match(
        refused.stderr,
        /409 Conflict: .*already exists.*its \.mod missing .*stored again/,
      );
      await assert.rejects(fs.stat(blob(zipHex)));

      // The same tree again: a success (the same bytes), and the zip is back.
      const again = await publish(lib, registry);
      assert.equal(again.code, 0, again.stderr);
      assert.match(
        again.stdout,
        /already published with these exact bytes; its \.zip missing .*stored again/,
      );
      assert.equal(sha256(await fs.readFile(blob(zipHex))), zipHex);
      assert.equal(sha256(await fs.readFile(blob(modHex))), modHex);

      const fixed = await download();
      assert.equal(fixed.code, 0, fixed.stderr);
      const info = JSON.parse(fixed.stdout) as { Zip: string; GoMod: string };
      assert.equal(sha256(await fs.readFile(info.Zip)), zipHex);
      assert.equal(await fs.readFile(info.GoMod, 'utf8'), GO_MOD);

      // Nothing missing any more: the plain answer.
      const third = await publish(lib, registry);
      assert.equal(third.code, 0, third.stderr);
      assert.match(third.stdout, /already published with these exact bytes; nothing changed/);
      assert.doesNotMatch(third.stdout, /stored again/);
    });
  },
);

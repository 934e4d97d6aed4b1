/**
 * A hosted tarball whose stored bytes are gone (deleted by hand, or removed by the read check
 * or `nora verify --remove`; docs/storage.md): nothing can fetch it again, so `npm install` must
 * fail at once with NORA's text, with npm's own retry settings (no fetch-retry-* override). It
 * was answered 503, which npm retries with back-off (10 s, then 60 s): every install stalled
 * about 71 s per missing file before failing. Now 410 Gone, which npm does not retry.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { startTestServer } from '../../helpers/server.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { missingTools, output, run } from '../../helpers/tools.ts';
import { homeEnv, writePublisher, writeUserNpmrc } from './clients.ts';

test(
  'npm install of a hosted package whose tarball blob is gone fails fast with the reason',
  { skip: missingTools('npm'), timeout: 120_000 },
  async () => {
    await using work = await tempDir('nora-e2e-npm-gone-');
    await using server = await startTestServer();
    const registry = `${server.url}/npm/`;
    const {
      home: publisher,
      pkg,
      authLine: auth,
    } = await writePublisher(work.path, registry, 'gone-tarball');
    const published = await run('npm', ['publish'], {
      cwd: pkg,
      env: homeEnv(publisher),
      check: false,
    });
    assert.equal(published.code, 0, output(published));

    // Remove the tarball's blob (content-addressed by its sha512) behind NORA's back.
    const doc = (await (await fetch(`${registry}gone-tarball`)).json()) as {
      versions: Record<string, { dist: { tarball: string } }>;
    };
    const tarball = await fetch(doc.versions['1.0.0']?.dist.tarball ?? '');
    assert.equal(tarball.status, 200);
    const hex = createHash('sha512')
      .update(Buffer.from(await tarball.arrayBuffer()))
      .digest('hex');
    await fs.rm(path.join(server.dataDir, 'storage', 'blobs', 'sha512', hex.slice(0, 2), hex));

    const consumer = path.join(work.path, 'consumer');
    const project = path.join(work.path, 'project');
    await fs.mkdir(consumer, { recursive: true });
    await fs.mkdir(project, { recursive: true });
    await writeUserNpmrc(consumer, registry, [auth]);
    await fs.writeFile(
      path.join(project, 'package.json'),
      '{"name":"consumer","version":"1.0.0","private":true}\n',
    );
    const started = Date.now();
    const install = await run('npm', ['install', 'gone-tarball@1.0.0'], {
      cwd: project,
      env: homeEnv(consumer),
      check: false,
      timeoutMs: 40_000, // bounds a failure only (npm's retries of a 503 take ~71 s)
    });
    const seconds = (Date.now() - started) / 1000;
    const text = output(install);
    assert.notEqual(install.code, 0, text);
    assert.ok(seconds < 10, `npm gave up after ${seconds.toFixed(1)} s (retried?):\n${text}`);
    assert.match(text, /\b410\b/, text);
    assert.match(text, /stored file missing from storage/, text);
    // npm refuses a republish: the message says what else to do (trial 17 F2), for npm alone
    // (trial 19 fmts F4).
    assert.match(
      text,
      /put the npm pack \.tgz back by hand; nora verify lists what is missing/,
      text,
    );
  },
);

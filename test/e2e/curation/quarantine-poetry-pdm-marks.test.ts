/**
 * Quarantine marks with poetry and pdm (as quarantine-pip-marks.test.ts does with pip): a NORA
 * proxies a second NORA holding `young-lib` 1.0.0 and 1.1.0, quarantine enforce with a 1 h TTL.
 * Once 1.1.0's fill starts its hold, the page marks it yanked with the hold as the reason, so a
 * loose requirement makes `poetry lock` and `pdm lock` choose 1.0.0 (whose own fill then starts
 * its hold: the lock fails on 1.0.0, never asking for 1.1.0), and a pin (`==1.1.0`) makes poetry
 * ask for 1.1.0 and get the 403. Debian's pdm 2.2 takes no yanked file even pinned (its finder's
 * `allow_yanked` is off): it finds nothing, without a request for 1.1.0.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { startTestServer } from '../../helpers/server.ts';
import { tempDir } from '../../helpers/tmp.ts';
import {
  indexUrl,
  missingPython,
  output,
  pythonHome,
  step,
  writeLockApp,
} from '../../helpers/python.ts';
import {
  makeWheel,
  MULTIPART,
  multipartBody,
  twineFields,
} from '../../integration/pypi/fixtures.ts';

const TIMEOUT = 180_000;

for (const tool of ['poetry', 'pdm'] as const) {
  test(
    `${tool} through quarantine enforce: a held file is marked yanked, a loose requirement locks the other`,
    { skip: missingPython(tool), timeout: 300_000 },
    async () => {
      await using work = await tempDir(`nora-quar-${tool}-`);
      const home = await pythonHome(path.join(work.path, 'home'));
      await using upstream = await startTestServer({ env: { NORA_PYPI_PROXY: 'none' } });
      const wheels = new Map<string, string>();
      for (const version of ['1.0.0', '1.1.0']) {
        const wheel = makeWheel('young-lib', version);
        wheels.set(version, wheel.filename);
        const res = await fetch(`${upstream.url}/simple/`, {
          method: 'POST',
          body: multipartBody(twineFields('young-lib', version, wheel), wheel),
          headers: { 'content-type': MULTIPART },
        });
        assert.equal(res.status, 200, await res.text());
      }
      const asked: string[] = [];
      await using server = await startTestServer({
        config: {
          pypi: { metadata_ttl: 0 },
          curation: { quarantine: 'enforce', quarantine_ttl: '1h' },
        },
        env: { NORA_PYPI_PROXY: indexUrl(upstream.url) },
        logLevel: 'info',
        logStream: {
          // Each line about a wheel (its request, its hold): which files the client asked for.
          write: (line) => {
            if (line.includes('.whl')) asked.push(line);
          },
        },
      });
      const index = indexUrl(server.url);
      // 1.1.0's first fill starts its hold (403): from now on the page marks it yanked.
      const held = await fetch(`${server.url}/simple/young-lib/${wheels.get('1.1.0')}`);
      assert.equal(held.status, 403, await held.text());
      const page = await (await fetch(`${server.url}/simple/young-lib/`)).text();
      assert.match(
        page,
        /young_lib-1\.1\.0[^>]*data-yanked="curation: pypi young-lib@1\.1\.0 is in/,
      );
      asked.length = 0;

      const lock = (dir: string) =>
        step(home, tool, ['lock', '-v'], { cwd: dir, timeoutMs: TIMEOUT, check: false });
      const loose = path.join(work.path, 'loose');
      await writeLockApp(loose, tool, index, 'young-lib', '');
      const first = await lock(loose);
      // 1.0.0 chosen: its own first fill starts its hold, so the lock fails on it.
      assert.notEqual(first.code, 0, output(first));
      assert.ok(
        asked.some((u) => u.includes(wheels.get('1.0.0') ?? '?')),
        `${asked.join(' ')}\n${output(first)}`,
      );
      assert.ok(!asked.some((u) => u.includes(wheels.get('1.1.0') ?? '?')), asked.join(' '));

      asked.length = 0;
      const pinnedDir = path.join(work.path, 'pinned');
      await writeLockApp(pinnedDir, tool, index, 'young-lib', '==1.1.0');
      const pinned = await lock(pinnedDir);
      assert.notEqual(pinned.code, 0, output(pinned));
      if (tool === 'poetry') {
        // Pinned: the yanked file is taken (PEP 592) and refused with the hold's reason.
        assert.ok(
          asked.some((u) => u.includes(wheels.get('1.1.0') ?? '?')),
          `${asked.join(' ')}\n${output(pinned)}`,
        );
        assert.match(output(pinned), /403/, output(pinned));
      } else {
        // Both are held by now (1.0.0 since the loose lock): pdm finds no candidate at all.
        assert.match(output(pinned), /Unable to find (a resolution|candidates)/, output(pinned));
        assert.deepEqual(asked, []);
      }
    },
  );
}

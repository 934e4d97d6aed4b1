/**
 * Curation with the real pip: a NORA proxies a second NORA holding `cur-py` 1.0.0 and 2.0.0
 * (wheels uploaded with twine). With 2.0.0 blocklisted in enforce: the simple page lists 2.0.0's
 * file yanked with the reason (HTML and PEP 691 JSON), `pip install cur-py==2.0.0` fails
 * with the 403 and the reason, `pip install cur-py` gets 1.0.0, the file's GET is a
 * 403 with the reason, also once a bypass-token request has cached it; an internal project is
 * never asked of the upstream.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { startTestServer } from '../../helpers/server.ts';
import { tempDir } from '../../helpers/tmp.ts';
import {
  createVenv,
  indexUrl,
  missingPython,
  output,
  pythonHome,
  uploadWheels,
} from '../../helpers/python.ts';

test(
  'pip through curation: blocked version refused, another installed, cached copy refused, internal project not asked upstream',
  { skip: missingPython('build', 'venv', 'twine'), timeout: 240_000 },
  async () => {
    await using work = await tempDir('nora-cur-pypi-');
    const home = await pythonHome(path.join(work.path, 'home'));
    const upstreamLog: string[] = [];
    await using upstream = await startTestServer({
      env: { NORA_PYPI_PROXY: 'none' },
      logLevel: 'info',
      logStream: { write: (line) => upstreamLog.push(line) },
    });
    const files = await uploadWheels(home, path.join(work.path, 'src'), upstream.url, [
      { name: 'cur-py', version: '1.0.0' },
      { name: 'cur-py', version: '2.0.0' },
      { name: 'corp-secret', version: '1.0.0' },
    ]);
    upstreamLog.length = 0;

    const blocklist = path.join(work.path, 'blocklist.json');
    await fs.writeFile(
      blocklist,
      JSON.stringify({
        version: 1,
        rules: [
          {
            registry: 'pypi',
            name: 'Cur_Py',
            version: '==2.0.0',
            reason: 'malicious wheel (PYSEC-X)',
          },
        ],
      }),
    );
    await using server = await startTestServer({
      config: {
        pypi: { metadata_ttl: 0 },
        curation: {
          mode: 'enforce',
          blocklist_path: blocklist,
          internal_namespaces: ['pypi:corp-*'],
        },
      },
      env: { NORA_PYPI_PROXY: indexUrl(upstream.url), NORA_CURATION_BYPASS_TOKEN: 'tok' },
    });
    const index = indexUrl(server.url);

    const venv = await createVenv(home, path.join(work.path, 'venv'));
    const blocked = await venv.pip(
      ['install', '--no-cache-dir', '--index-url', index, 'cur-py==2.0.0'],
      {
        check: false,
      },
    );
    assert.notEqual(blocked.code, 0, output(blocked));
    // pip picks the yanked file for a pin and gets the 403, whose reason it prints.
    assert.match(output(blocked), /403 .*cur-py@2\.0\.0 is blocked .*malicious wheel \(PYSEC-X\)/);
    assert.deepEqual(await venv.versions('cur-py'), { 'cur-py': null });
    const html = await (await fetch(`${server.url}/simple/cur-py/`)).text();
    assert.match(
      html,
      /cur_py-2\.0\.0[^"]*\.whl#sha256=[0-9a-f]+"[^>]*data-yanked="curation: [^"]*malicious wheel/,
    );
    assert.doesNotMatch(html, /cur_py-1\.0\.0[^>]*data-yanked/);
    const json = (await (
      await fetch(`${server.url}/simple/cur-py/`, {
        headers: { accept: 'application/vnd.pypi.simple.v1+json' },
      })
    ).json()) as { files: { filename: string; yanked: boolean | string }[] };
    const yanked = Object.fromEntries(
      json.files.map((f): [string, boolean | string] => [f.filename.split('-')[1] ?? '', f.yanked]),
    );
    assert.equal(yanked['1.0.0'], false);
    assert.match(
      String(yanked['2.0.0']),
      /^curation: pypi cur-py@2\.0\.0 is blocked .*malicious wheel/,
    );
    const allowed = await venv.pip(['install', '--no-cache-dir', '--index-url', index, 'cur-py'], {
      check: false,
    });
    assert.equal(allowed.code, 0, output(allowed));
    assert.deepEqual(await venv.versions('cur-py'), { 'cur-py': '1.0.0' });

    // The file itself: 403 with the reason; a bypass request is served (and caches it); the
    // cached copy is still refused without the token.
    const wheel = path.basename(files.find((f) => f.includes('2.0.0')) ?? '');
    const fileUrl = `${server.url}/simple/cur-py/${wheel}`;
    const refused = await fetch(fileUrl);
    assert.equal(refused.status, 403);
    assert.match(
      await refused.text(),
      /pypi cur-py@2\.0\.0 is blocked by curation .*malicious wheel/,
    );
    const bypassed = await fetch(fileUrl, { headers: { 'x-nora-bypass-token': 'tok' } });
    assert.equal(bypassed.status, 200);
    await bypassed.arrayBuffer();
    assert.equal((await fetch(fileUrl)).status, 403);

    // pip download of the blocked file by URL: pip prints the 403.
    const direct = await venv.pip(
      ['download', '--no-cache-dir', '--no-deps', '-d', path.join(work.path, 'dl'), fileUrl],
      {
        check: false,
      },
    );
    assert.notEqual(direct.code, 0, output(direct));
    assert.match(output(direct), /403/);

    // Internal: 404 here, the upstream never asked.
    assert.equal((await fetch(`${server.url}/simple/corp-secret/`)).status, 404);
    const corp = await venv.pip(
      ['install', '--no-cache-dir', '--index-url', index, 'corp-secret'],
      {
        check: false,
      },
    );
    assert.notEqual(corp.code, 0, output(corp));
    assert.ok(!upstreamLog.some((line) => /corp/.test(line)), upstreamLog.join('\n'));
  },
);

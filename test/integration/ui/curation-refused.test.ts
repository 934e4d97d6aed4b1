/**
 * A proxied npm package curation refuses shows so on its detail page (trial 30: the page showed
 * `npm install name@2.0.0` with no hint that the install is refused). The mark and the
 * `Curation` fact carry the curation engine's own decision (CurationGate.decide: the message a
 * download gets), not a rule of the UI's. A second NORA is the upstream; a blocklist refuses
 * every version of one package.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startTestServer, type TestServer } from '../../helpers/server.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { NpmHttp } from '../npm/client.ts';
import { translator } from '../../../src/ui/i18n.ts';

interface DetailJson {
  install?: string;
  versions: { version: string; marks?: { mark: string }[] }[];
  facts?: { label: string; value?: string }[];
}

describe('web UI: a proxied npm package curation refuses', () => {
  let upstream: TestServer;
  let server: TestServer;
  let work: Awaited<ReturnType<typeof tempDir>>;

  before(async () => {
    work = await tempDir('nora-ui-curation-');
    upstream = await startTestServer({});
    const up = new NpmHttp(`${upstream.url}/npm`);
    for (const [name, version] of [
      ['cursed-lib', '1.0.0'],
      ['cursed-lib', '2.0.0'],
      ['fine-lib', '1.0.0'],
    ] as const) {
      assert.equal((await up.publish({ name, version })).status, 201);
    }
    const blocklist = path.join(work.path, 'blocklist.json');
    await fs.writeFile(
      blocklist,
      JSON.stringify({
        version: 1,
        rules: [{ registry: 'npm', name: 'cursed-lib', version: '*', reason: 'compromised' }],
      }),
    );
    server = await startTestServer({
      config: {
        npm: { proxy: `${upstream.url}/npm/` },
        curation: { mode: 'enforce', blocklist_path: blocklist },
      },
    });
    // Cache both packuments in npm-proxy (the refused one answers npm's 404 naming curation).
    for (const name of ['cursed-lib', 'fine-lib']) {
      const res = await fetch(`${server.url}/repository/npm-proxy/${name}`);
      await res.arrayBuffer();
    }
  });
  after(async () => {
    await server.close();
    await upstream.close();
    await work[Symbol.asyncDispose]();
  });

  test('the detail says curation refuses it, with the engine message; an allowed one does not', async () => {
    const res = await fetch(`${server.url}/api/ui/npm/cursed-lib?repo=npm-proxy`);
    const detail = (await res.json()) as DetailJson;
    assert.equal(res.status, 200, JSON.stringify(detail));
    assert.deepEqual(detail.versions[0]?.marks, [
      { mark: 'refusedByCuration', detail: 'compromised' },
    ]);
    const fact = detail.facts?.find((f) => f.label === 'curation')?.value ?? '';
    assert.match(
      fact,
      /^curation: npm cursed-lib@2\.0\.0 is blocked by curation \(blocklist rule 1 .*compromised$/,
    );
    // The page, in Russian: the fact's label and fixed parts translated, the rule and the
    // operator's reason as written.
    const page = await fetch(`${server.url}/ui/npm/cursed-lib?repo=npm-proxy`, {
      headers: { 'accept-language': 'ru' },
    });
    const html = await page.text();
    assert.equal(page.status, 200, html);
    assert.ok(html.includes(`<th>${translator('ru')('fact.curation')}</th>`), html);
    assert.ok(
      html.includes(
        `<span class="mark">${translator('ru')('mark.refusedByCuration')}: compromised</span>`,
      ),
      html,
    );
    assert.ok(!html.includes('refused by curation'));
    assert.ok(html.includes('cursed-lib@2.0.0 заблокирована списком запретов (blocklist rule 1'));
    assert.ok(!html.includes('is blocked by curation'));

    const fine = (await (
      await fetch(`${server.url}/api/ui/npm/fine-lib?repo=npm-proxy`)
    ).json()) as DetailJson;
    assert.equal(fine.versions[0]?.marks, undefined);
    assert.equal(
      fine.facts?.find((f) => f.label === 'curation'),
      undefined,
    );
  });
});

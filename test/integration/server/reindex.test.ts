/**
 * `POST /api/v1/admin/reindex[?registry=]` (NORA §3.14, src/http/reindex-api.ts): rows changed
 * behind the running server's back (here: deleted by SQL) stay in the documents it derived from
 * them until a reindex makes it forget those; 202 at once, the debounce's 429 with Retry-After,
 * 400 for what it does not understand, 405 for another method.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sql } from 'kysely';
import { buildChart } from '../../helpers/helm.ts';
import { startTestServer } from '../../helpers/server.ts';
import { indexPath } from '../../../src/formats/cargo/index-file.ts';
import { crateBody } from '../cargo/fixtures.ts';
import { NpmHttp } from '../npm/client.ts';

const REINDEX = '/api/v1/admin/reindex';

test('reindex: Helm index.yaml, npm packuments, Cargo index files and raw rows are derived again from the rows', async () => {
  await using server = await startTestServer();
  const db = server.app.context.db;
  for (const name of ['kept', 'gone']) {
    const chart = await buildChart({ name, version: '0.1.0' });
    const up = await fetch(`${server.url}/helm/api/charts`, { method: 'POST', body: chart });
    assert.equal(up.status, 201, await up.text());
  }
  const npm = new NpmHttp(`${server.url}/npm`);
  for (const version of ['1.0.0', '2.0.0']) {
    assert.equal((await npm.publish({ name: 'reindexed', version })).status, 201);
  }
  for (const version of ['0.1.0', '0.2.0']) {
    const published = await fetch(`${server.url}/cargo/api/v1/crates/new`, {
      method: 'PUT',
      body: await crateBody('reindexed_crate', version),
    });
    assert.equal(published.status, 200, await published.text());
  }
  const crateVersions = async (): Promise<string[]> => {
    const got = await fetch(`${server.url}/cargo/index/${indexPath('reindexed_crate')}`);
    assert.equal(got.status, 200);
    return (await got.text())
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => (JSON.parse(line) as { vers: string }).vers);
  };
  const raw = await fetch(`${server.url}/raw/r/file.txt`, { method: 'PUT', body: 'bytes' });
  assert.equal(raw.status, 201);
  const index = async (): Promise<string> => (await fetch(`${server.url}/helm/index.yaml`)).text();
  const versions = async (): Promise<string[]> => {
    const got = await npm.packument('reindexed');
    assert.equal(got.status, 200);
    return Object.keys(got.json<{ versions: Record<string, unknown> }>().versions);
  };
  const rawStatus = async (): Promise<number> => {
    const got = await fetch(`${server.url}/raw/r/file.txt`);
    await got.arrayBuffer();
    return got.status;
  };
  assert.match(await index(), /gone-0\.1\.0\.tgz/);
  assert.deepEqual(await versions(), ['1.0.0', '2.0.0']);
  assert.equal(await rawStatus(), 200);
  assert.deepEqual(await crateVersions(), ['0.1.0', '0.2.0']);

  // Behind the server's back (a hand edit, a restore of the database under it).
  await sql`DELETE FROM helm_charts WHERE name = 'gone'`.execute(db);
  await sql`DELETE FROM npm_versions WHERE name = 'reindexed' AND version = '2.0.0'`.execute(db);
  await sql`DELETE FROM raw_files WHERE path = 'r/file.txt'`.execute(db);
  await sql`DELETE FROM cargo_versions WHERE vers = '0.2.0'`.execute(db);
  // The documents derived before still say what the rows said (the premise of the endpoint).
  assert.match(await index(), /gone-0\.1\.0\.tgz/);
  assert.deepEqual(await versions(), ['1.0.0', '2.0.0']);
  assert.equal(await rawStatus(), 200);
  assert.deepEqual(await crateVersions(), ['0.1.0', '0.2.0']);

  const started = await fetch(`${server.url}${REINDEX}`, { method: 'POST' });
  assert.equal(started.status, 202, await started.clone().text());
  assert.equal(started.headers.get('cache-control'), 'no-store');
  const body = (await started.json()) as { accepted: boolean; registries: string[] };
  assert.equal(body.accepted, true);
  // Every format, pypi too (nothing to forget there), as docs/storage.md says.
  assert.deepEqual([...body.registries].sort(), [
    'cargo',
    'docker',
    'go',
    'helm',
    'maven',
    'npm',
    'pypi',
    'raw',
  ]);
  // Debounced: while it runs and for 10 s after it started.
  const again = await fetch(`${server.url}${REINDEX}?registry=helm`, { method: 'POST' });
  assert.equal(again.status, 429, await again.clone().text());
  assert.match(again.headers.get('retry-after') ?? '', /^\d+$/);
  assert.match(await again.text(), /a reindex runs or has just run/);
  await server.app.reindex.idle();

  assert.doesNotMatch(await index(), /gone-0\.1\.0\.tgz/);
  assert.match(await index(), /kept-0\.1\.0\.tgz/);
  assert.deepEqual(await versions(), ['1.0.0']);
  assert.equal(await rawStatus(), 404);
  assert.deepEqual(await crateVersions(), ['0.1.0']);
});

test('reindex: 400 for an unknown registry or parameter, 405 for GET, nothing run', async () => {
  await using server = await startTestServer();
  for (const query of ['registry=nuget', 'registy=npm', 'registry=npm&registry=helm']) {
    const reply = await fetch(`${server.url}${REINDEX}?${query}`, { method: 'POST' });
    const text = await reply.text();
    assert.equal(reply.status, 400, `${query}: ${text}`);
    assert.match(
      text,
      /the only parameter is registry=<docker\|npm\|pypi\|maven\|cargo\|go\|raw\|helm>/,
    );
  }
  const get = await fetch(`${server.url}${REINDEX}`);
  assert.equal(get.status, 405);
  assert.equal(get.headers.get('allow'), 'POST');
  await get.arrayBuffer();
  // None of those started one: a valid request is not debounced.
  const one = await fetch(`${server.url}${REINDEX}?registry=npm`, { method: 'POST' });
  assert.equal(one.status, 202, await one.text());
});

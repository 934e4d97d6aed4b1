/**
 * After a repository is renamed in the configuration and the server restarted, its files are not
 * served under either name; start-up now warns, naming the repositories the database holds
 * artifacts of that the configuration no longer names (trial 25 ops F4: the log said nothing).
 * The look-up itself (src/repos/unconfigured.ts) is one bounded query, checked on a plain table.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sql } from 'kysely';
import { openDatabase } from '../../../src/db/database.ts';
import { unconfiguredRepositories, unconfiguredWarning } from '../../../src/repos/unconfigured.ts';
import { serveNora, writeConfigToml } from '../../helpers/process.ts';
import { tempDir } from '../../helpers/tmp.ts';

const repository = (name: string) => [
  '[[repositories]]',
  `name = "${name}"`,
  'format = "raw"',
  'kind = "hosted"',
];

test('a renamed repository: the restart warns that the old name holds files it does not serve', async () => {
  await using dir = await tempDir('nora-renamed-repo-');
  const configFile = await writeConfigToml(dir.path, repository('team-raw'));
  const env = { NORA_RATE_LIMIT_ENABLED: 'false' };
  {
    await using server = await serveNora({ configFile }, env);
    for (const name of ['t1.txt', 't2.txt']) {
      const put = await fetch(`${server.url}/repository/team-raw/x/${name}`, {
        method: 'PUT',
        body: name,
      });
      assert.equal(put.status, 201);
    }
    assert.doesNotMatch(server.output(), /does not name/);
  }
  await writeConfigToml(dir.path, repository('team-files'));
  await using server = await serveNora({ configFile }, env);
  const warning = server
    .output()
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as { level: number; msg: string })
    .find((line) => line.msg.includes('does not name'));
  assert.equal(warning?.level, 40, server.output());
  assert.equal(
    warning.msg,
    "the database holds artifacts of 1 repository the configuration does not name: team-raw (2 rows in raw_files); they are not served (renamed or removed? a repository's name is where its artifacts are kept, so a renamed repository starts empty: put the old name back to serve them; nothing is deleted, gc keeps them)",
  );
  assert.equal((await fetch(`${server.url}/repository/team-raw/x/t1.txt`)).status, 404);
});

test('the look-up: distinct names by index, counts capped, configured names and other tables left out', async (t) => {
  const db = await openDatabase({ file: ':memory:' });
  t.after(() => db.destroy());
  await sql`CREATE TABLE files (repo TEXT NOT NULL, path TEXT NOT NULL, PRIMARY KEY (repo, path))`.execute(
    db,
  );
  await sql`CREATE TABLE other (repository TEXT)`.execute(db);
  await sql`INSERT INTO other VALUES ('gone')`.execute(db);
  await sql`
    WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1500)
    INSERT INTO files SELECT 'big', 'f' || i FROM n`.execute(db);
  for (const [repo, p] of [
    ['kept', 'a'],
    ['old', 'a'],
    ['zeta', 'a'],
    ['zeta', 'b'],
  ] as const) {
    await sql`INSERT INTO files VALUES (${repo}, ${p})`.execute(db);
  }
  const found = await unconfiguredRepositories(
    db,
    ['files', 'other', 'missing'],
    new Set(['kept']),
  );
  assert.deepEqual(found, [
    { repo: 'big', rows: [{ table: 'files', count: 1000, atLeast: true }] },
    { repo: 'old', rows: [{ table: 'files', count: 1, atLeast: false }] },
    { repo: 'zeta', rows: [{ table: 'files', count: 2, atLeast: false }] },
  ]);
  assert.match(
    unconfiguredWarning(found) ?? '',
    /^the database holds artifacts of 3 repositories the configuration does not name: big \(1000\+ rows in files\), old \(1 row in files\), zeta \(2 rows in files\); they are not served/,
  );
  assert.equal(unconfiguredWarning([]), undefined);
  assert.deepEqual(
    await unconfiguredRepositories(db, ['files'], new Set(['kept', 'big', 'old', 'zeta'])),
    [],
  );
  // The query walks the primary key's index, one seek per name (no scan of the 1500 rows).
  const plan = await sql<{ detail: string }>`EXPLAIN QUERY PLAN
    SELECT (SELECT MIN(repo) FROM files WHERE repo > 'big')`.execute(db);
  assert.ok(
    plan.rows.some((r) => /USING COVERING INDEX|SEARCH/.test(r.detail)),
    JSON.stringify(plan.rows),
  );
});

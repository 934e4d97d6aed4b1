/**
 * `nora curation validate FILE` (exit 0 / 1 with every problem and its line) and `nora curation
 * explain registry:name@version` (the decision and the rule), as an operator runs them.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { test } from 'node:test';
import { nora } from '../../helpers/cli.ts';
import { tempDir } from '../../helpers/tmp.ts';

test('nora curation validate: ok, and precise errors with exit 1', async () => {
  await using tmp = await tempDir('nora-cur-cli-');
  const good = path.join(tmp.path, 'good.json');
  await fs.writeFile(
    good,
    JSON.stringify({
      version: 1,
      rules: [{ registry: 'npm', name: 'x', version: '<2', reason: 'r' }],
    }),
  );
  const ok = await nora(['curation', 'validate', good]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(ok.stdout, `ok: ${good}: blocklist, 1 rule\n`);
  const allow = path.join(tmp.path, 'allow.json');
  await fs.writeFile(allow, '{"version":1,"entries":[]}');
  assert.equal(
    (await nora(['curation', 'validate', allow])).stdout,
    `ok: ${allow}: allowlist, 0 entries\n`,
  );
  const bad = path.join(tmp.path, 'bad.json');
  await fs.writeFile(
    bad,
    '{\n  "version": 1,\n  "rules": [\n    { "registry": "npm", "name": "x", "version": "not a range", "reason": "r" },\n    { "registry": "pip", "name": "y", "version": "*", "reason": "r" }\n  ]\n}\n',
  );
  const res = await nora(['curation', 'validate', bad]);
  assert.equal(res.code, 1);
  assert.match(res.stderr, /bad\.json:4: rules\[0\]\.version: "not a range" is not a SemVer range/);
  assert.match(res.stderr, /bad\.json:5: rules\[1\]\.registry: unknown registry "pip"/);
  const syntax = path.join(tmp.path, 'syntax.json');
  await fs.writeFile(syntax, '{\n  "version": 1,\n  "rules": [,]\n}\n');
  const broken = await nora(['curation', 'validate', syntax]);
  assert.equal(broken.code, 1);
  assert.match(broken.stderr, /syntax\.json:3: invalid JSON at column 13/);
});

test('nora curation explain: decision, reason and rule under the configuration', async () => {
  await using tmp = await tempDir('nora-cur-cli-');
  const blocklist = path.join(tmp.path, 'block.json');
  await fs.writeFile(
    blocklist,
    JSON.stringify({
      version: 1,
      rules: [{ registry: 'npm', name: '@evil/*', version: '*', reason: 'typosquat scope' }],
    }),
  );
  const env = {
    NORA_STORAGE_PATH: path.join(tmp.path, 'storage'),
    NORA_CURATION_MODE: 'enforce',
    NORA_CURATION_BLOCKLIST_PATH: blocklist,
    NORA_CURATION_INTERNAL_NS: 'npm:@corp/**',
  };
  const blocked = await nora(['curation', 'explain', 'npm:@evil/pkg@1.0.0'], env, tmp.path);
  assert.equal(blocked.code, 0, blocked.stderr);
  assert.match(blocked.stdout, /^subject: npm @evil\/pkg@1\.0\.0\nmode: enforce\n/);
  assert.match(
    blocked.stdout,
    /decision: blocked \(403\)\nreason: blocklist: typosquat scope\nrule: blocklist rule 1 \(npm @evil\/\* \*/,
  );
  const allowed = await nora(['curation', 'explain', 'npm:lodash@4.17.21'], env, tmp.path);
  assert.match(allowed.stdout, /decision: allowed \(no rule refuses it\)/);
  const internal = await nora(['curation', 'explain', 'npm:@corp/tool@1.0.0'], env, tmp.path);
  assert.match(
    internal.stdout,
    /internal namespace: npm:@corp\/\*\* \(never fetched from an upstream/,
  );
  // No "blocked"/"allowed" for an internal name: no request gets either (trial 27 newC F8).
  assert.match(internal.stdout, /decision: not proxied \(a proxy answers 404/);
  assert.doesNotMatch(internal.stdout, /decision: (blocked|allowed)/);
  // No version: a usage error, not "allowed" (trial 27 newC F7); Maven's g:a:v is named.
  const gav = await nora(['curation', 'explain', 'maven:com.acme:lib:2.0'], env, tmp.path);
  assert.equal(gav.code, 2);
  assert.match(gav.stderr, /no version in .*maven:com\.acme:lib@2\.0/);
  const bare = await nora(['curation', 'explain', 'npm:@evil/pkg'], env, tmp.path);
  assert.equal(bare.code, 2);
  const every = await nora(['curation', 'explain', 'npm:@evil/pkg@*'], env, tmp.path);
  assert.equal(every.code, 0, every.stderr);
  assert.match(every.stdout, /^subject: npm @evil\/pkg\n[^]*decision: blocked/);
  const wrong = await nora(['curation', 'explain', 'rubygems:rails@7'], env, tmp.path);
  assert.equal(wrong.code, 2);
  assert.match(wrong.stderr, /expected registry:name@version/);
});

test('nora curation explain: the min release age and its basis; raw:path needs no version', async () => {
  await using tmp = await tempDir('nora-cur-cli-');
  const env = {
    NORA_STORAGE_PATH: path.join(tmp.path, 'storage'),
    NORA_CURATION_MODE: 'enforce',
    NORA_CURATION_MIN_RELEASE_AGE: '1h',
    NORA_CURATION_QUARANTINE: 'enforce',
    NORA_CURATION_QUARANTINE_TTL: '3d',
  };
  const npm = await nora(['curation', 'explain', 'npm:lodash@4.17.21'], env, tmp.path);
  assert.equal(npm.code, 0, npm.stderr);
  assert.match(npm.stdout, /min_release_age: 1h, counted from the packument time\[version\]/);
  assert.match(npm.stdout, /quarantine: enforce, 3d from first seen/);
  assert.match(npm.stdout, /decision: allowed by the lists; by age: blocked \(403\) while younger/);
  const raw = await nora(['curation', 'explain', 'raw:tools/x.bin'], env, tmp.path);
  assert.equal(raw.code, 0, raw.stderr);
  assert.match(raw.stdout, /^subject: raw tools\/x\.bin\n/);
  assert.match(raw.stdout, /min_release_age: 1h, counted from when NORA first saw the artifact/);
});

test('nora config check warns of a min release age counted from first sight, and an idle quarantine', async () => {
  await using tmp = await tempDir('nora-cur-cli-');
  const env = {
    NORA_STORAGE_PATH: path.join(tmp.path, 'storage'),
    NORA_CURATION_MODE: 'enforce',
    NORA_CURATION_MIN_RELEASE_AGE: '1h',
    NORA_CURATION_MAVEN_MIN_RELEASE_AGE: '0',
    NORA_CURATION_QUARANTINE: 'enforce',
    NORA_CURATION_QUARANTINE_TTL: '0',
  };
  const check = await nora(['config', 'check'], env, tmp.path);
  assert.equal(check.code, 0, check.stderr);
  assert.match(
    check.stderr,
    /warning: curation: min_release_age counts from when NORA first saw an artifact for docker, cargo, raw .*\[curation\.docker\] min_release_age = 0/,
  );
  assert.match(check.stderr, /quarantine = "enforce" with quarantine_ttl = 0 holds nothing/);
});

/** The first-seen table as the server writes it (src/curation/first-seen.ts) in `storage`'s database. */
function firstSeenTable(storage: string) {
  const db = new DatabaseSync(path.join(storage, 'nora.db'));
  db.exec(
    'CREATE TABLE curation_first_seen (registry text not null, name text not null, version text not null, digest text not null, first_seen_at integer not null, PRIMARY KEY (registry, name, version, digest))',
  );
  return { db, insert: db.prepare('INSERT INTO curation_first_seen VALUES (?, ?, ?, ?, ?)') };
}

test('nora curation explain: the first-seen time from the server database and when its hold and age end, text and --json', async () => {
  await using tmp = await tempDir('nora-cur-cli-');
  const storage = path.join(tmp.path, 'storage');
  await fs.mkdir(storage, { recursive: true });
  const env = {
    NORA_STORAGE_PATH: storage,
    NORA_CURATION_MODE: 'enforce',
    NORA_CURATION_MIN_RELEASE_AGE: '1d',
    NORA_CURATION_QUARANTINE: 'enforce',
    NORA_CURATION_QUARANTINE_TTL: '3d',
  };
  // No database yet: never seen.
  const none = await nora(['curation', 'explain', 'go:example.com/lib@v1.0.0'], env, tmp.path);
  assert.equal(none.code, 0, none.stderr);
  assert.match(none.stdout, /first seen: never \(no proxy stored it from an upstream yet/);
  // The table as the server writes it (src/curation/first-seen.ts), a running server's rows.
  const seen = Date.now() - 3_600_000;
  const earlier = Date.now() - 5 * 86_400_000;
  const { db, insert } = firstSeenTable(storage);
  insert.run('go', 'example.com/lib', 'v1.0.0', '', seen);
  // PyPI keys by file digest: the wheel was first seen under another name five days ago.
  insert.run('pypi', 'req-lib', '2.0.0', 'sha256:aa', seen);
  insert.run('pypi', 'other', '1.0.0', 'sha256:aa', earlier);
  insert.run('pypi', 'req-lib', '2.0.0', 'sha256:bb', seen);
  db.close();
  const iso = (ms: number) => new Date(ms).toISOString().slice(0, 19) + 'Z';

  const go = await nora(['curation', 'explain', 'go:example.com/lib@v1.0.0'], env, tmp.path);
  assert.equal(go.code, 0, go.stderr);
  assert.match(
    go.stdout,
    new RegExp(
      `first seen: ${iso(seen)}; quarantine until ${iso(seen + 3 * 86_400_000)} \\(held now: a download is refused until then\\); min_release_age from first seen until ${iso(seen + 86_400_000)} \\(used only when the \\.info Time is missing`,
    ),
  );
  assert.match(go.stdout, new RegExp(`first-seen store: ${storage}/nora\\.db`));

  const json = await nora(['curation', 'explain', '--json', 'pypi:Req_Lib@2.0.0'], env, tmp.path);
  assert.equal(json.code, 0, json.stderr);
  const report = JSON.parse(json.stdout) as {
    subject: { registry: string; version: string };
    decision: string;
    lists_decision: string;
    quarantine: { mode: string; ttl_seconds: number };
    first_seen: { digest: string; first_seen: string; quarantine_until: string; held: boolean }[];
  };
  assert.equal(report.subject.version, '2.0.0');
  // The lists let it through; the held wheel (sha256:bb) is refused now (trial 30 F1).
  assert.equal(report.decision, 'blocked');
  assert.equal(report.lists_decision, 'allowed by the lists');
  assert.deepEqual(report.quarantine, { mode: 'enforce', ttl_seconds: 3 * 86_400 });
  assert.deepEqual(
    report.first_seen.map((e) => [e.digest, e.first_seen, e.quarantine_until, e.held]),
    [
      ['sha256:aa', iso(earlier), iso(earlier + 3 * 86_400_000), false],
      ['sha256:bb', iso(seen), iso(seen + 3 * 86_400_000), true],
    ],
  );
  const text = await nora(['curation', 'explain', 'pypi:req-lib@2.0.0'], env, tmp.path);
  assert.match(
    text.stdout,
    new RegExp(
      `first seen: ${iso(earlier)} \\(sha256:aa\\); quarantine until ${iso(earlier + 3 * 86_400_000)} \\(released\\)`,
    ),
  );
});

test('nora curation explain: a quarantine hold or a min release age from first seen refuses now, whatever the lists say', async () => {
  await using tmp = await tempDir('nora-cur-cli-');
  const storage = path.join(tmp.path, 'storage');
  await fs.mkdir(storage, { recursive: true });
  const env = {
    NORA_STORAGE_PATH: storage,
    NORA_CURATION_MODE: 'enforce',
    NORA_CURATION_INTERNAL_NS: 'npm:@corp/**',
    NORA_CURATION_QUARANTINE: 'enforce',
    NORA_CURATION_QUARANTINE_TTL: '3d',
  };
  const seen = Date.now() - 3_600_000;
  const { db, insert } = firstSeenTable(storage);
  insert.run('go', 'example.com/lib', 'v1.0.0', '', seen);
  insert.run('cargo', 'serde', '1.0.0', '', seen);
  insert.run('cargo', 'old', '1.0.0', '', seen - 10 * 86_400_000);
  db.close();
  type Report = { decision: string; lists_decision: string; reason: string | null };
  const explainJson = async (subject: string, extra: Record<string, string> = {}) => {
    const out = await nora(
      ['curation', 'explain', '--json', subject],
      { ...env, ...extra },
      tmp.path,
    );
    assert.equal(out.code, 0, out.stderr);
    return JSON.parse(out.stdout) as Report;
  };
  // Go: held by the quarantine (enforce) an hour after its first fill.
  const go = await explainJson('go:example.com/lib@v1.0.0');
  assert.deepEqual([go.decision, go.reason], ['blocked', 'quarantine']);
  const goText = await nora(['curation', 'explain', 'go:example.com/lib@v1.0.0'], env, tmp.path);
  assert.match(goText.stdout, /\nlists: allowed \(no rule refuses it\)\n/);
  assert.match(goText.stdout, /\ndecision: blocked \(403\)\nreason: quarantine: in quarantine/);
  // Quarantine applies with mode off too.
  const off = await explainJson('go:example.com/lib@v1.0.0', { NORA_CURATION_MODE: 'off' });
  assert.deepEqual([off.decision, off.reason], ['blocked', 'quarantine']);
  // Cargo (no upstream date): younger than the age since first seen; an old one is allowed.
  const ageEnv = { NORA_CURATION_QUARANTINE: 'off', NORA_CURATION_MIN_RELEASE_AGE: '2d' };
  const young = await explainJson('cargo:serde@1.0.0', ageEnv);
  assert.deepEqual(
    [young.decision, young.lists_decision, young.reason],
    ['blocked', 'allowed by the lists', 'min_release_age'],
  );
  const audited = await explainJson('cargo:serde@1.0.0', {
    ...ageEnv,
    NORA_CURATION_MODE: 'audit',
  });
  assert.deepEqual([audited.decision, audited.reason], ['audited', 'min_release_age']);
  const old = await explainJson('cargo:old@1.0.0', ageEnv);
  assert.deepEqual([old.decision, old.reason], ['allowed by the lists', null]);
});

test('nora curation explain says which configuration it read, or that none was found (stderr)', async () => {
  await using tmp = await tempDir('nora-cur-cli-');
  const none = await nora(['curation', 'explain', 'npm:left-pad@1.3.0'], {}, tmp.path);
  assert.equal(none.code, 0, none.stderr);
  assert.match(none.stderr, /configuration from defaults \+ environment \(no config file/);
  const file = path.join(tmp.path, 'config.toml');
  await fs.writeFile(file, '[curation]\nmode = "audit"\n');
  const found = await nora(['curation', 'explain', '--json', 'npm:left-pad@1.3.0'], {}, tmp.path);
  assert.equal(found.code, 0, found.stderr);
  assert.match(found.stderr, /configuration from .*config\.toml\n/);
  assert.match((JSON.parse(found.stdout) as { config_file: string }).config_file, /config\.toml$/);
});

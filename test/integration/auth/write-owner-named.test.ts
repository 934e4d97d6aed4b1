/**
 * A write refused through a group names the member it would land in and the rule owning the
 * path there (trial 17 auth F7). With a read rule on every repository and alice's rule on
 * raw-hosted only, alice's PUT of a POM through /maven2/ was refused with "(a rule on its member
 * maven-proxy owns it)": the proxy is never written, and the rule that decides is auth.rules[0]
 * (repositories = ["*"]) on maven-hosted, where the write lands. A rule is named only when it
 * names the caller (26th session: a 403 named another user's rule): auth.rules[0] there names
 * `reader`, so alice reads "no rule there grants alice write".
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startAuthServer } from '../../helpers/auth-server.ts';
import { basic, rule } from '../../helpers/auth.ts';

test('a write refused through a group names the write member and the owning rule', async () => {
  await using server = await startAuthServer({
    auth: {
      rules: [
        rule({ repositories: ['*'], users: ['reader'], actions: ['read'] }),
        rule({ repositories: ['raw-hosted'], users: ['alice'], actions: ['read', 'write'] }),
      ],
    },
    users: { alice: 'alice-pw-1' },
  });
  const pom = 'com/example/x/1.0/x-1.0.pom';
  const put = await fetch(`${server.url}/maven2/${pom}`, {
    method: 'PUT',
    headers: { authorization: basic('alice', 'alice-pw-1') },
    body: '<project/>',
  });
  const text = await put.text();
  assert.equal(put.status, 403, text);
  assert.match(
    text,
    /alice may not write com\/example\/x\/1\.0\/x-1\.0\.pom in maven \(the write lands in its member maven-hosted, no rule there grants alice write\)/,
  );
  assert.doesNotMatch(text, /maven-proxy|auth\.rules|reader/);
  // mvn prints the status line only: the reason phrase says the same.
  assert.match(put.statusText, /maven-hosted, no rule there grants alice write/);
  // Her own repository still takes her writes.
  const raw = await fetch(`${server.url}/raw/a.txt`, {
    method: 'PUT',
    headers: { authorization: basic('alice', 'alice-pw-1') },
    body: 'a',
  });
  assert.equal(raw.status, 201);
});

test('a write or delete refused on the repository itself names the owning rule too (trial 19 fmts F7)', async () => {
  await using server = await startAuthServer({
    auth: {
      rules: [
        rule({ repositories: ['maven-hosted'], users: ['alice'], actions: ['read', 'write'] }),
        rule({
          repositories: ['raw-hosted'],
          paths: ['corp/**'],
          users: ['carol'],
          actions: ['read', 'write', 'delete'],
        }),
      ],
    },
    users: { bob: 'bob-pw-1', carol: 'carol-pw-1' },
  });
  const put = (who: string, pw: string, url: string, method = 'PUT') =>
    fetch(`${server.url}${url}`, {
      method,
      headers: { authorization: basic(who, pw) },
      ...(method === 'PUT' ? { body: 'hi\n' } : {}),
    });
  // The repository's own rule refuses bob: it is named, as through a group.
  const refused = await put('bob', 'bob-pw-1', '/raw/corp/a.txt');
  const text = await refused.text();
  assert.equal(refused.status, 403, text);
  assert.match(
    text,
    /bob may not write corp\/a\.txt in raw-hosted \(no rule there grants bob write\)/,
  );
  // Carol owns it; bob may still write outside corp/ (no rule there: his role decides).
  assert.equal((await put('carol', 'carol-pw-1', '/raw/corp/a.txt')).status, 201);
  assert.equal((await put('bob', 'bob-pw-1', '/raw/other/a.txt')).status, 201);
  const del = await put('bob', 'bob-pw-1', '/raw/corp/a.txt', 'DELETE');
  const delText = await del.text();
  assert.equal(del.status, 403, delText);
  assert.match(
    delText,
    /bob may not delete corp\/a\.txt in raw-hosted \(no rule there grants bob delete\)/,
  );
  // Maven addressed directly: the reason phrase (what mvn prints) carries it.
  const pom = 'com/example/x/1.0/x-1.0.pom';
  const mvn = await put('bob', 'bob-pw-1', `/repository/maven-hosted/${pom}`);
  const mvnText = await mvn.text();
  assert.equal(mvn.status, 403, mvnText);
  assert.match(
    mvnText,
    /bob may not write com\/example\/x\/1\.0\/x-1\.0\.pom in maven-hosted \(no rule there grants bob write\)/,
  );
  assert.match(mvn.statusText, /no rule there grants bob write/);
  // A refused read does not name it (unchanged): only changes do.
  const read = await fetch(`${server.url}/raw/corp/a.txt`, {
    headers: { authorization: basic('bob', 'bob-pw-1') },
  });
  assert.equal(read.status, 403);
  assert.doesNotMatch(await read.text(), /auth\.rules/);
});

test('a write refused through a group whose own rule owns the path names the member and the rule (trial 19 authx F11)', async () => {
  await using server = await startAuthServer({
    auth: { rules: [rule({ repositories: ['maven', 'npm'], users: ['*'], actions: ['read'] })] },
    users: { bob: 'bob-pw-12' },
  });
  const put = await fetch(`${server.url}/maven2/com/example/x/1.0/x-1.0.pom`, {
    method: 'PUT',
    headers: { authorization: basic('bob', 'bob-pw-12') },
    body: '<project/>',
  });
  const text = await put.text();
  assert.equal(put.status, 403, text);
  assert.match(
    text,
    /bob may not write com\/example\/x\/1\.0\/x-1\.0\.pom in maven \(the write lands in its member maven-hosted, auth\.rules\[0\] on maven grants bob read only\)/,
  );
});

test('a change refused by a rule naming the caller without write says what it grants (trial 31)', async () => {
  await using server = await startAuthServer({
    auth: {
      rules: [
        rule({ repositories: ['npm', 'npm-hosted'], users: ['carol'], actions: ['read'] }),
        rule({
          repositories: ['raw-hosted'],
          users: ['carol', 'bob'],
          actions: ['read', 'delete'],
        }),
      ],
    },
    users: { carol: 'carol-pw-12' },
  });
  const carol = { authorization: basic('carol', 'carol-pw-12') };
  const publish = await fetch(`${server.url}/npm/newb-lib`, {
    method: 'PUT',
    headers: { ...carol, 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'newb-lib', versions: {}, _attachments: {} }),
  });
  const published = await publish.text();
  assert.equal(publish.status, 403, published);
  assert.match(
    published,
    /carol may not write newb-lib in npm \(the write lands in its member npm-hosted, auth\.rules\[0\] grants carol read only\)/,
  );
  const put = await fetch(`${server.url}/raw/a.txt`, { method: 'PUT', headers: carol, body: 'a' });
  const text = await put.text();
  assert.equal(put.status, 403, text);
  assert.match(
    text,
    /carol may not write a\.txt in raw-hosted \(auth\.rules\[1\] grants carol read, delete only\)/,
  );
});

test('a change refused at a member, owned by a rule on its group, names that rule; a delete says "the delete" (trial 20 authx F5)', async () => {
  await using server = await startAuthServer({
    config: { docker: { upstreams: [] } },
    auth: {
      rules: [
        rule({ repositories: ['raw-hosted'], users: ['carol'], actions: ['read'] }),
        rule({
          repositories: ['maven', 'docker', 'npm'],
          paths: ['com/corp/**', 'team/**', '@corp/*'],
          users: ['carol'],
          actions: ['read', 'write', 'delete'],
        }),
      ],
    },
    users: { bob: 'bob-pw-12' },
  });
  const bob = { authorization: basic('bob', 'bob-pw-12') };
  const refusal = async (url: string, method: string, body?: string) => {
    const res = await fetch(`${server.url}${url}`, {
      method,
      headers: bob,
      ...(body === undefined ? {} : { body }),
    });
    const text = await res.text();
    assert.equal(res.status, 403, text);
    return text;
  };
  // Maven's hosted member addressed directly: the group's rule, by index, as through the group.
  assert.match(
    await refusal('/repository/maven-hosted/com/corp/x/1.0/x-1.0.pom', 'PUT', '<project/>'),
    /bob may not write com\/corp\/x\/1\.0\/x-1\.0\.pom in maven-hosted \(no rule there grants bob write\)/,
  );
  // npm publish to the hosted member (the trial's case).
  const publish = await fetch(`${server.url}/repository/npm-hosted/@corp%2fpkg2`, {
    method: 'PUT',
    headers: { ...bob, 'content-type': 'application/json' },
    body: JSON.stringify({ name: '@corp/pkg2', versions: {}, _attachments: {} }),
  });
  const published = await publish.text();
  assert.equal(publish.status, 403, published);
  assert.match(
    published,
    /bob may not write @corp\/pkg2 in npm-hosted \(no rule there grants bob write\)/,
  );
  // Docker's hosted member addressed directly (an upload is a write).
  const upload = await refusal('/repository/docker-hosted/v2/team/app/blobs/uploads/', 'POST');
  assert.match(
    upload,
    /bob may not write team\/app in docker-hosted \(no rule there grants bob write\)/,
  );
  // A DELETE through the group: "the delete lands in its member", not "the write".
  const digest = `sha256:${'0'.repeat(64)}`;
  const deleted = await refusal(`/v2/team/app/manifests/${digest}`, 'DELETE');
  assert.match(
    deleted,
    /bob may not delete team\/app in docker \(the delete lands in its member docker-hosted, no rule there grants bob delete\)/,
  );
  // A refused read still names no rule index.
  const read = await fetch(`${server.url}/repository/maven-hosted/com/corp/x/1.0/x-1.0.pom`, {
    headers: bob,
  });
  assert.equal(read.status, 403);
  const readText = await read.text();
  assert.doesNotMatch(readText, /auth\.rules/);
  assert.match(readText, /a rule on its group maven owns it/);
});

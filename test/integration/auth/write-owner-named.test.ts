/**
 * A write refused through a group names the member it would land in and the rule owning the
 * path there (trial 17 auth F7). With a read rule on every repository and alice's rule on
 * raw-hosted only, alice's PUT of a POM through /maven2/ was refused with "(a rule on its member
 * maven-proxy owns it)": the proxy is never written, and the rule that decides is auth.rules[0]
 * (repositories = ["*"]) on maven-hosted, where the write lands.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { basic, rule } from '../../helpers/auth.ts';
import { startTestServer } from '../../helpers/server.ts';

test('a write refused through a group names the write member and the owning rule', async () => {
  await using server = await startTestServer({
    config: {
      auth: {
        enabled: true,
        anonymous_read: false,
        rules: [
          rule({ repositories: ['*'], users: ['reader'], actions: ['read'] }),
          rule({ repositories: ['raw-hosted'], users: ['alice'], actions: ['read', 'write'] }),
        ],
      },
    },
  });
  await server.app.context.identity.users.create('alice', 'alice-pw-1', undefined, [
    'read',
    'write',
  ]);
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
    /alice may not write com\/example\/x\/1\.0\/x-1\.0\.pom in maven \(the write lands in its member maven-hosted, owned by auth\.rules\[0\]\)/,
  );
  assert.doesNotMatch(text, /maven-proxy/);
  // mvn prints the status line only: the reason phrase says the same.
  assert.match(put.statusText, /maven-hosted, owned by auth\.rules\[0\]/);
  // Her own repository still takes her writes.
  const raw = await fetch(`${server.url}/raw/a.txt`, {
    method: 'PUT',
    headers: { authorization: basic('alice', 'alice-pw-1') },
    body: 'a',
  });
  assert.equal(raw.status, 201);
});

test('a write refused through a group whose own rule owns the path names the member and the rule (trial 19 authx F11)', async () => {
  await using server = await startTestServer({
    config: {
      auth: {
        enabled: true,
        anonymous_read: false,
        rules: [rule({ repositories: ['maven', 'npm'], users: ['*'], actions: ['read'] })],
      },
    },
  });
  await server.app.context.identity.users.create('bob', 'bob-pw-12', undefined, ['read', 'write']);
  const put = await fetch(`${server.url}/maven2/com/example/x/1.0/x-1.0.pom`, {
    method: 'PUT',
    headers: { authorization: basic('bob', 'bob-pw-12') },
    body: '<project/>',
  });
  const text = await put.text();
  assert.equal(put.status, 403, text);
  assert.match(
    text,
    /bob may not write com\/example\/x\/1\.0\/x-1\.0\.pom in maven \(the write lands in its member maven-hosted, owned by auth\.rules\[0\] on maven\)/,
  );
});

/**
 * A first deploy of an artifact the group's proxy member serves (trial13 F6). With
 * `protect_hosted_names` (the default of `/maven2/`) a groupId:artifactId that maven-hosted holds
 * is served from maven-hosted alone, so deploying `commons-io:commons-io:99.0` hid every upstream
 * version of commons-io, cached ones included, from every build through the group, without a
 * word. Now refused with 409 (before the body is read, nothing stored), whether the proxy has
 * cached the artifact or its upstream merely has it, unless `[maven] shadow_names` lists it; then
 * it goes ahead and its answer says what it took over. Only the first file of an artifact new to
 * the hosted repository is checked. An upstream that cannot be asked (down, or slower than
 * `[circuit_breaker] stale_after`) does not block the deploy, which warns.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { startTestServer, type TestServer } from '../../helpers/server.ts';
import { startFixtureUpstream, type FixtureUpstream } from './fixture-upstream.ts';
import { emptyJar } from '../../helpers/zip-fixtures.ts';

const pom = (groupId: string, artifactId: string, version: string) =>
  `<project><modelVersion>4.0.0</modelVersion><groupId>${groupId}</groupId><artifactId>${artifactId}</artifactId><version>${version}</version></project>`;

const metadata = (groupId: string, artifactId: string, versions: readonly string[]) =>
  `<metadata><groupId>${groupId}</groupId><artifactId>${artifactId}</artifactId><versioning><latest>${versions.at(-1) ?? ''}</latest><release>${versions.at(-1) ?? ''}</release><versions>${versions.map((v) => `<version>${v}</version>`).join('')}</versions></versioning></metadata>`;

/** Puts an artifact version (POM, jar, artifact metadata) into the fixture upstream. */
async function publish(upstream: FixtureUpstream, groupId: string, artifactId: string) {
  const dir = `${groupId.replaceAll('.', '/')}/${artifactId}`;
  await upstream.put(`${dir}/2.11.0/${artifactId}-2.11.0.pom`, pom(groupId, artifactId, '2.11.0'));
  await upstream.put(`${dir}/2.11.0/${artifactId}-2.11.0.jar`, emptyJar('upstream jar'));
  await upstream.put(`${dir}/maven-metadata.xml`, metadata(groupId, artifactId, ['2.11.0']));
}

describe('maven: a first deploy that would hide a proxied artifact', () => {
  let upstream: FixtureUpstream;
  let server: TestServer;

  before(async () => {
    upstream = await startFixtureUpstream();
    for (const [g, a] of [
      ['commons-io', 'commons-io'],
      ['org.up', 'never-asked'],
      ['org.allowed', 'lib'],
    ] as const) {
      await publish(upstream, g, a);
    }
    server = await startTestServer({
      config: {
        maven: { proxies: [{ url: upstream.url() }], shadow_names: ['org.allowed:*'] },
        repositories: [
          { name: 'open', format: 'maven', kind: 'hosted' },
          {
            name: 'unguarded',
            format: 'maven',
            kind: 'group',
            members: ['open', 'maven-proxy'],
            protect_hosted_names: false,
          },
        ],
      },
    });
  });
  after(async () => {
    await server.close();
    await upstream.close();
  });

  const put = (path: string, body: string) =>
    fetch(`${server.url}${path}`, { method: 'PUT', body });

  test('refused with 409 when the proxy has served it; nothing stored, the upstream versions still served', async () => {
    const cached = await fetch(
      `${server.url}/maven2/commons-io/commons-io/2.11.0/commons-io-2.11.0.pom`,
    );
    assert.equal(cached.status, 200);
    const refused = await put(
      '/maven2/commons-io/commons-io/99.0/commons-io-99.0.pom',
      pom('commons-io', 'commons-io', '99.0'),
    );
    const text = await refused.text();
    assert.equal(refused.status, 409, text);
    assert.equal(
      text,
      'refusing to deploy commons-io:commons-io, new in maven-hosted: group maven would stop serving its upstream versions ([maven] shadow_names allows it). ' +
        "artifact commons-io:commons-io is served by maven-proxy through group maven; from now on that group serves only maven-hosted's versions of it and no longer asks maven-proxy (protect_hosted_names). " +
        'Builds through that group that use a proxied version would then fail, until the hosted artifact is deleted. ' +
        `To take it over on purpose, an operator adds it to [maven] shadow_names in NORA's configuration (NORA_MAVEN_SHADOW_NAMES; e.g. shadow_names = ["commons-io:commons-io"] or a glob such as "com.corp.*:*"); to keep the proxied artifact, deploy under your own groupId (docs/maven.md, "Group").\n`,
    );
    // mvn prints only the status line: the reason phrase says what and why.
    assert.match(
      refused.statusText,
      /^Conflict - refusing to deploy commons-io:commons-io, new in maven-hosted: group maven would stop serving its upstream versions \(\[maven\] shadow_names allows it\)/,
    );
    assert.doesNotMatch(text, /127\.0\.0\.1/);
    const hosted = await fetch(
      `${server.url}/repository/maven-hosted/commons-io/commons-io/99.0/commons-io-99.0.pom`,
    );
    assert.equal(hosted.status, 404, 'nothing stored');
    const upstreamPom = await fetch(
      `${server.url}/maven2/commons-io/commons-io/2.11.0/commons-io-2.11.0.pom`,
    );
    assert.equal(upstreamPom.status, 200);
    const md = await (
      await fetch(`${server.url}/maven2/commons-io/commons-io/maven-metadata.xml`)
    ).text();
    assert.match(md, /<version>2\.11\.0<\/version>/);
  });

  test('an artifact the upstream has but nobody fetched yet: refused too, also straight to maven-hosted', async () => {
    const refused = await put(
      '/repository/maven-hosted/org/up/never-asked/1.0/never-asked-1.0.jar',
      emptyJar('corp'),
    );
    assert.equal(refused.status, 409);
    assert.match(
      await refused.text(),
      /^refusing to deploy org\.up:never-asked, new in maven-hosted/,
    );
  });

  test('in shadow_names: deployed, the answer warns; the proxied versions then 404 naming the guard', async () => {
    assert.equal(
      (await fetch(`${server.url}/maven2/org/allowed/lib/2.11.0/lib-2.11.0.pom`)).status,
      200,
    );
    const taken = await put(
      '/maven2/org/allowed/lib/3.0/lib-3.0.pom',
      pom('org.allowed', 'lib', '3.0'),
    );
    assert.equal(taken.status, 201);
    assert.equal(
      await taken.text(),
      "stored org/allowed/lib/3.0/lib-3.0.pom; warning: artifact org.allowed:lib is served by maven-proxy through group maven; from now on that group serves only maven-hosted's versions of it and no longer asks maven-proxy (protect_hosted_names)\n",
    );
    // Only the first file of the artifact is checked.
    const jar = await put('/maven2/org/allowed/lib/3.0/lib-3.0.jar', emptyJar('corp jar'));
    assert.equal(await jar.text(), 'stored org/allowed/lib/3.0/lib-3.0.jar\n');
    const gone = await fetch(`${server.url}/maven2/org/allowed/lib/2.11.0/lib-2.11.0.pom`);
    assert.equal(gone.status, 404);
    assert.match(
      await gone.text(),
      /org\.allowed:lib is hosted in maven-hosted, so group maven does not ask its proxy for it: protect_hosted_names/,
    );
  });

  test('an artifact no upstream has, and a group that does not guard hosted names: no check', async () => {
    const own = await put('/maven2/com/corp/own/1.0/own-1.0.pom', pom('com.corp', 'own', '1.0'));
    assert.equal(own.status, 201);
    assert.equal(await own.text(), 'stored com/corp/own/1.0/own-1.0.pom\n');
    // `unguarded` serves hosted and proxied versions together: nothing is hidden.
    const merged = await put(
      '/repository/unguarded/commons-io/commons-io/99.0/commons-io-99.0.pom',
      pom('commons-io', 'commons-io', '99.0'),
    );
    assert.equal(merged.status, 201, await merged.clone().text());
  });
});

describe('maven: the takeover check does not block a deploy when the upstream cannot answer', () => {
  test('upstream down: deployed with a warning', async () => {
    const upstream = await startFixtureUpstream();
    const url = upstream.url();
    await upstream.close();
    await using server = await startTestServer({
      config: { maven: { proxies: [{ url }] } },
    });
    const res = await fetch(`${server.url}/maven2/org/down/lib/1.0/lib-1.0.pom`, {
      method: 'PUT',
      body: pom('org.down', 'lib', '1.0'),
    });
    assert.equal(res.status, 201);
    assert.match(
      await res.text(),
      /^stored org\/down\/lib\/1\.0\/lib-1\.0\.pom; warning: could not ask maven-proxy whether its upstream has org\.down:lib \(unreachable or too slow, nothing cached\)/,
    );
  });

  test('upstream hanging: the deploy waits no longer than [circuit_breaker] stale_after', async () => {
    // Accepts connections, never answers. The look-up would wait proxy_timeout (3 s); the
    // deploy waits stale_after (1 s) for it, then goes ahead while it ends in the background.
    let open = 0;
    const hung = http.createServer((req) => {
      open++;
      req.socket.once('close', () => open--);
    });
    await new Promise<void>((resolve) => hung.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(hung.address() as AddressInfo).port}`;
    try {
      await using server = await startTestServer({
        config: {
          maven: { proxies: [{ url }], proxy_timeout: 3 },
          circuit_breaker: { stale_after: 1 },
        },
      });
      const res = await fetch(`${server.url}/maven2/org/slow/lib/1.0/lib-1.0.pom`, {
        method: 'PUT',
        body: pom('org.slow', 'lib', '1.0'),
      });
      assert.equal(res.status, 201);
      assert.match(
        await res.text(),
        /warning: could not ask maven-proxy whether its upstream has org\.slow:lib/,
      );
      // Answered while the look-up still waits for the upstream (until proxy_timeout).
      assert.equal(open, 1, 'the upstream look-up is still open');
    } finally {
      hung.closeAllConnections();
      await new Promise((resolve) => hung.close(resolve));
    }
  });
});

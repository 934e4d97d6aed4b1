/**
 * The first hosted publish of a public module path nobody fetched through NORA yet (trial 18
 * fmts F1): the group's Go proxy asks its upstream for the path's `@v/list` before the path is
 * taken over. A version the upstream lists is refused even with `?shadow=1` (its bytes are in
 * go.sum everywhere); another version is the takeover 409 unless `?shadow=1`. An upstream that
 * cannot be asked (connection refused: the air-gapped default) does not block the publish: it is
 * published at once with a warning saying so. Against a scripted GOPROXY upstream on loopback.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { goModuleZip, startGoProxyServer, type GoUpstream } from '../../helpers/go-fixtures.ts';
import { startTestServer, type TestServer } from '../../helpers/server.ts';

const put = async (go: string, module: string, version: string, query = '') => {
  const res = await fetch(`${go}/${module}/@v/${version}.zip${query}`, {
    method: 'PUT',
    body: await goModuleZip(module, version),
  });
  return { status: res.status, body: (await res.text()).trim() };
};

describe('go: first publish of a module path the upstream has but NORA never fetched', () => {
  let upstream: GoUpstream;
  let go: string;

  let close: () => Promise<void>;

  before(async () => {
    ({ upstream, go, close } = await startGoProxyServer(
      {
        'github.com/kr/text': ['v0.1.0', 'v0.2.0'],
        'example.org/lib': ['v1.0.0'],
      },
      60,
      ['private.example.com'],
    ));
  });

  after(() => close());

  test('a version the upstream lists: 409 with ?shadow=1 too; another: the takeover 409', async () => {
    for (const query of ['', '?shadow=1']) {
      const clash = await put(go, 'github.com/kr/text', 'v0.2.0', query);
      assert.equal(clash.status, 409, clash.body);
      assert.match(
        clash.body,
        /^refusing to publish github\.com\/kr\/text@v0\.2\.0: that version is served by go-proxy/,
      );
      assert.match(clash.body, /--shadow does not allow it/);
    }
    // The upstream was asked through the proxy (its list is cached from now on).
    assert.ok(
      upstream.requests.includes('/github.com/kr/text/@v/list'),
      upstream.requests.join(' '),
    );

    const taken = await put(go, 'github.com/kr/text', 'v0.3.0');
    assert.equal(taken.status, 409, taken.body);
    assert.match(
      taken.body,
      /^refusing to publish github\.com\/kr\/text@v0\.3\.0: it is a new module path in go-hosted, and github\.com\/kr\/text is served by go-proxy through group go/,
    );
    assert.doesNotMatch(taken.body, /127\.0\.0\.1/);
    // Nothing published: the group still answers the upstream's list.
    const list = await fetch(`${go}/github.com/kr/text/@v/list`).then((r) => r.text());
    assert.equal(list.trim(), 'v0.1.0\nv0.2.0');

    const shadowed = await put(go, 'github.com/kr/text', 'v0.3.0', '?shadow=1');
    assert.equal(shadowed.status, 201, shadowed.body);
    assert.match(
      shadowed.body,
      /\nwarning: github\.com\/kr\/text is served by go-proxy through group go/,
    );
  });

  test('a path the upstream does not have: published, saying which tree the guard keeps', async () => {
    const fresh = await put(go, 'corp.example.com/svc', 'v0.1.0');
    assert.equal(fresh.status, 201, fresh.body);
    const warnings = fresh.body.split('\n').slice(1);
    assert.equal(warnings.length, 1, fresh.body);
    assert.match(
      warnings[0] ?? '',
      /^warning: groups guarding hosted names now answer every module path under corp\.example\.com\/svc \(corp\.example\.com\/svc\/…\) from go-hosted only, never from go-proxy/,
    );
    // Private paths are never asked upstream: nothing to say about them.
    const kept = await put(go, 'private.example.com/svc', 'v0.1.0');
    assert.equal(kept.status, 201, kept.body);
    assert.doesNotMatch(kept.body, /warning/);
    assert.ok(upstream.requests.includes('/corp.example.com/svc/@v/list'));
  });

  test('a path under one the upstream has (a /v2 major): the takeover 409 names the prefix', async () => {
    // A hosted example.org/lib/v2 would keep the group from asking the proxy for the public
    // example.org/lib (a prefix of a hosted path is served from hosted members only), which
    // nobody has fetched through NORA yet: only its upstream can tell.
    const taken = await put(go, 'example.org/lib/v2', 'v2.0.0');
    assert.equal(taken.status, 409, taken.body);
    assert.match(
      taken.body,
      /^refusing to publish example\.org\/lib\/v2@v2\.0\.0: it is a new module path in go-hosted, and example\.org\/lib \(in the tree of example\.org\/lib\/v2\) is served by go-proxy through group go/,
    );
    // Every prefix was asked, the host alone included.
    for (const path of ['example.org/lib/v2', 'example.org/lib', 'example.org']) {
      assert.ok(upstream.requests.includes(`/${path}/@v/list`), path);
    }
    // However deep the path, the asks are bounded: the path and its 15 shortest prefixes.
    const before = upstream.requests.length;
    const deep = `deep.example.org/${Array.from({ length: 60 }, (_, i) => `s${i}`).join('/')}`;
    assert.equal((await put(go, deep, 'v0.1.0')).status, 201);
    const asked = upstream.requests.slice(before).filter((r) => r.endsWith('/@v/list'));
    assert.equal(asked.length, 16, asked.join(' '));
    assert.ok(asked.includes('/deep.example.org/@v/list'));
    const shadowed = await put(go, 'example.org/lib/v2', 'v2.0.0', '?shadow=1');
    assert.equal(shadowed.status, 201, shadowed.body);
    assert.match(
      shadowed.body,
      /\nwarning: example\.org\/lib \(in the tree of example\.org\/lib\/v2\) is served by go-proxy/,
    );
  });
});

describe('go: first publish when the upstream cannot be asked', () => {
  let server: TestServer;
  let go: string;

  before(async () => {
    // A port nothing listens on: every connection is refused, as on an air-gapped host.
    const probe = http.createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const port = (probe.address() as AddressInfo).port;
    await new Promise((resolve) => probe.close(resolve));
    server = await startTestServer({
      config: { go: { sumdb: [] } },
      env: { NORA_GO_PROXY: `http://127.0.0.1:${port}` },
    });
    go = `${server.url}/go`;
  });

  after(async () => {
    await server.close();
  });

  test('published at once, with a warning that the proxy could not be asked', async () => {
    for (const module of ['corp.example.com/a', 'corp.example.com/b', 'corp.example.com/c']) {
      const started = Date.now();
      const done = await put(go, module, 'v1.0.0');
      assert.equal(done.status, 201, done.body);
      assert.ok(Date.now() - started < 3000, `took ${Date.now() - started} ms`);
      assert.match(
        done.body,
        new RegExp(
          `\\nwarning: could not ask go-proxy whether its upstream has ${module.replaceAll('.', '\\.')} \\(unreachable or too slow, nothing cached\\): if it does, groups guarding hosted names now serve only go-hosted's versions of it \\(protect_hosted_names\\)\\nwarning: groups guarding hosted names now answer every module path under ${module.replaceAll('.', '\\.')} `,
        ),
      );
    }
  });
});

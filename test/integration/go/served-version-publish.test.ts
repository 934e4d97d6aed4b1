/**
 * A hosted publish of a version the group's Go proxy has already served (trial 17): refused
 * (409), `--shadow` (`?shadow=1`) or not, whether the proxy cached its `.info`/`.mod` or only
 * its upstream `@v/list` listed it; other bytes under that version would fail every build with it
 * in go.sum. A version never served goes the takeover way (409 naming the 404s, then
 * `?shadow=1`). Against a static GOPROXY tree on loopback; no host name of it in any answer.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { goModuleZip, startGoProxyServer } from '../../helpers/go-fixtures.ts';

const MODULE = 'example.org/pub';

/** Other code than the upstream's under the same version. */
const OTHER_CODE = 'package pub\n\nconst Other = true\n';

describe('go: publishing a version the group proxy has served', () => {
  let go: string;

  let close: () => Promise<void>;

  before(async () => {
    ({ go, close } = await startGoProxyServer({ [MODULE]: ['v1.0.0', 'v1.0.1'] }));
  });

  after(() => close());

  const get = async (url: string) => {
    const res = await fetch(`${go}/${MODULE}/@v/${url}`);
    return { status: res.status, body: (await res.text()).trim() };
  };
  const put = async (version: string, query = '') => {
    const res = await fetch(`${go}/${MODULE}/@v/${version}.zip${query}`, {
      method: 'PUT',
      body: await goModuleZip(MODULE, version, { 'pub.go': OTHER_CODE }),
    });
    return { status: res.status, body: (await res.text()).trim() };
  };
  const clash = (version: string) =>
    `refusing to publish ${MODULE}@${version}: that version is served by go-proxy (through group go: cached there, or its upstream lists it). ` +
    `Publishing other bytes under the same version would fail every build that has it in go.sum (checksum mismatch) and silently change its code for builds that do not check it (GOPRIVATE, GONOSUMDB or GOSUMDB=off, with no go.sum line yet); --shadow does not allow it. ` +
    `Publish a version go-proxy has not served (a later one), or publish under another module path.`;

  test('a served version is refused with --shadow or not; a new one takes over', async () => {
    // A consumer's `go get example.org/pub@v1.0.0` through the group: list, .info, .mod cached.
    assert.equal((await get('list')).body, 'v1.0.0\nv1.0.1');
    assert.equal((await get('v1.0.0.info')).status, 200);
    assert.equal((await get('v1.0.0.mod')).status, 200);

    for (const query of ['', '?shadow=1']) {
      // v1.0.0: its .info/.mod are cached.
      const served = await put('v1.0.0', query);
      assert.equal(served.status, 409, served.body);
      assert.equal(served.body, clash('v1.0.0'));
      // v1.0.1: only the cached @v/list names it.
      const listed = await put('v1.0.1', query);
      assert.equal(listed.status, 409, listed.body);
      assert.equal(listed.body, clash('v1.0.1'));
    }
    // Nothing was published: the group still serves the upstream's versions.
    assert.equal((await get('v1.0.0.info')).status, 200);
    assert.equal((await get('list')).body, 'v1.0.0\nv1.0.1');

    // A version never served: the takeover refusal, whose 404 is about the other versions.
    const takeover = await put('v1.0.2');
    assert.equal(takeover.status, 409, takeover.body);
    assert.match(
      takeover.body,
      /Builds through the group that use a proxied version go-hosted does not have \(go\.sum\) would then fail with 404 \(v1\.0\.2 itself was never served by the proxy\)/,
    );
    assert.doesNotMatch(takeover.body, /127\.0\.0\.1/);
    const taken = await put('v1.0.2', '?shadow=1');
    assert.equal(taken.status, 201, taken.body);
    assert.match(taken.body, /^published example\.org\/pub@v1\.0\.2 /);
    assert.match(taken.body, /\nwarning: example\.org\/pub is served by go-proxy/);
  });
});

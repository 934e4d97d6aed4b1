/**
 * PyPI fixes from the thirteenth new-user trial (PyPI + npm, auth on and off), over HTTP:
 * - F9: the `.metadata` of a hosted sdist (no page offers one) was a 404 blaming
 *   `protect_hosted_names` and naming the sdist itself (`.metadata` dropped), as if the file
 *   might be upstream; now a plain 404 naming the `.metadata` and why there is none.
 * - F3: `?format=application/vnd.pypi.simple.v1+json` as PEP 691 spells it was 406 (the query
 *   was read as a form: `+` is a space); `%2B` was the only way. Both work now, and a 406 for a
 *   `?format=` value says the parameter takes a media type and which.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { startTestServer } from '../../helpers/server.ts';
import { makeSdist, makeWheel, multipartBody, MULTIPART, twineFields } from './fixtures.ts';

describe('pypi: fixes from the thirteenth trial', () => {
  test('F9: an sdist has no core metadata: a plain 404 naming the .metadata, through the group and the member', async () => {
    // A proxy member (nothing listens there): the group's guard keeps it out for a hosted name.
    await using server = await startTestServer({
      config: { pypi: { proxy: 'http://127.0.0.1:9/simple/' } },
    });
    const sdist = makeSdist('Trial_Pkg', '0.1.0');
    const wheel = makeWheel('Trial_Pkg', '0.1.0');
    for (const file of [sdist, wheel]) {
      const upload = await fetch(`${server.url}/simple/`, {
        method: 'POST',
        headers: { 'content-type': MULTIPART },
        body: multipartBody(twineFields('Trial_Pkg', '0.1.0', file), file),
      });
      assert.equal(upload.status, 200, await upload.text());
    }
    for (const base of ['/simple/trial-pkg', '/repository/pypi-hosted/simple/trial-pkg']) {
      const res = await fetch(`${server.url}${base}/${sdist.filename}.metadata`);
      const text = await res.text();
      assert.equal(res.status, 404, text);
      assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
      assert.match(
        text,
        new RegExp(`trial-pkg/${sdist.filename.replace(/\./g, '\\.')}\\.metadata`),
      );
      assert.match(text, /offers no core metadata/, text);
      assert.doesNotMatch(text, /protect_hosted_names/, text);
      // The wheel's metadata is there.
      const meta = await fetch(`${server.url}${base}/${wheel.filename}.metadata`);
      assert.equal(meta.status, 200, base);
      await meta.arrayBuffer();
    }
    // A file the hosted page does not list still says why the proxy was not asked.
    const missing = await fetch(`${server.url}/simple/trial-pkg/trial_pkg-9.9.tar.gz`);
    assert.equal(missing.status, 404);
    assert.match(await missing.text(), /protect_hosted_names/);
  });

  test('F3: ?format= takes the media type as PEP 691 spells it, + or %2B; a 406 says what it takes', async () => {
    await using server = await startTestServer({ env: { NORA_PYPI_PROXY: 'none' } });
    const wheel = makeWheel('trial-pkg', '0.1.0');
    const upload = await fetch(`${server.url}/simple/`, {
      method: 'POST',
      headers: { 'content-type': MULTIPART },
      body: multipartBody(twineFields('trial-pkg', '0.1.0', wheel), wheel),
    });
    assert.equal(upload.status, 200, await upload.text());
    for (const format of [
      'application/vnd.pypi.simple.v1+json',
      'application/vnd.pypi.simple.v1%2Bjson',
      'application/vnd.pypi.simple.latest+json',
    ]) {
      const res = await fetch(`${server.url}/simple/trial-pkg/?format=${format}`);
      assert.equal(res.status, 200, `${format}: ${await res.clone().text()}`);
      assert.equal(res.headers.get('content-type'), 'application/vnd.pypi.simple.v1+json');
      assert.equal(((await res.json()) as { name: string }).name, 'trial-pkg');
    }
    const html = await fetch(
      `${server.url}/simple/trial-pkg/?format=application/vnd.pypi.simple.v1+html`,
    );
    assert.equal(html.status, 200);
    assert.match(html.headers.get('content-type') ?? '', /html/);
    await html.arrayBuffer();
    const shorthand = await fetch(`${server.url}/simple/trial-pkg/?format=json`);
    assert.equal(shorthand.status, 406);
    const text = await shorthand.text();
    assert.match(
      text,
      /^\?format=json names none of the media types served here; \?format= takes one of: application\/vnd\.pypi\.simple\.v1\+json/,
      text,
    );
  });
});

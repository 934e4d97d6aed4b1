/**
 * An upload whose form has no `requires_python` (curl with `:action=file_upload`, name, version,
 * filetype, sha256_digest, content) takes `Requires-Python` from the wheel's METADATA, which NORA
 * reads at upload anyway: the simple page's `data-requires-python` (what pip checks before it
 * downloads) and the JSON API's `requires_python` say it. Before, both were empty. The form's
 * value, when sent, still wins.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { startTestServer, type TestServer } from '../../helpers/server.ts';
import {
  MULTIPART,
  coreMetadata,
  digestsOf,
  makeSdist,
  makeWheel,
  multipartBody,
  type FormFields,
} from './fixtures.ts';

const HOSTED = '/repository/pypi-hosted';

async function upload(
  server: TestServer,
  fields: FormFields,
  file: { filename: string; data: Buffer },
): Promise<Response> {
  return fetch(`${server.url}${HOSTED}/simple/`, {
    method: 'POST',
    headers: { 'content-type': MULTIPART },
    body: multipartBody(fields, file),
  });
}

/** What a hand-made upload sends: no metadata fields at all. */
function bareFields(
  name: string,
  version: string,
  file: { filename: string; data: Buffer },
): FormFields {
  return {
    ':action': 'file_upload',
    name,
    version,
    filetype: file.filename.endsWith('.whl') ? 'bdist_wheel' : 'sdist',
    sha256_digest: digestsOf(file.data).sha256,
  };
}

async function simplePage(server: TestServer, project: string): Promise<string> {
  const res = await fetch(`${server.url}${HOSTED}/simple/${project}/`);
  assert.equal(res.status, 200);
  return res.text();
}

async function projectJson(
  server: TestServer,
  project: string,
): Promise<{ info: { requires_python: string }; urls: { requires_python: string | null }[] }> {
  const res = await fetch(`${server.url}${HOSTED}/pypi/${project}/json`);
  assert.equal(res.status, 200);
  return (await res.json()) as {
    info: { requires_python: string };
    urls: { requires_python: string | null }[];
  };
}

describe('pypi: Requires-Python from the wheel METADATA when the form has none', () => {
  test('a bare upload of a wheel: the simple page and the JSON API say its Requires-Python', async () => {
    await using server = await startTestServer({});
    const wheel = makeWheel('rp-demo', '1.0', {
      metadata: coreMetadata('rp-demo', '1.0', ['Requires-Python: >=3.7']),
    });
    const res = await upload(server, bareFields('rp-demo', '1.0', wheel), wheel);
    assert.equal(res.status, 200, await res.text());
    const page = await simplePage(server, 'rp-demo');
    assert.match(page, /data-requires-python="&gt;=3.7"/);
    const json = await projectJson(server, 'rp-demo');
    assert.equal(json.info.requires_python, '>=3.7');
    assert.equal(json.urls[0]?.requires_python, '>=3.7');
  });

  test("the form's requires_python, when sent, wins; an empty one takes the METADATA's", async () => {
    await using server = await startTestServer({});
    const a = makeWheel('rp-form', '1.0', {
      metadata: coreMetadata('rp-form', '1.0', ['Requires-Python: >=3.7']),
    });
    const sent = await upload(
      server,
      { ...bareFields('rp-form', '1.0', a), requires_python: '>=3.9' },
      a,
    );
    assert.equal(sent.status, 200, await sent.text());
    assert.match(await simplePage(server, 'rp-form'), /data-requires-python="&gt;=3.9"/);

    const b = makeWheel('rp-empty', '1.0', {
      metadata: coreMetadata('rp-empty', '1.0', ['Requires-Python: <4,>=3.8']),
    });
    const empty = await upload(
      server,
      { ...bareFields('rp-empty', '1.0', b), requires_python: '' },
      b,
    );
    assert.equal(empty.status, 200, await empty.text());
    assert.match(await simplePage(server, 'rp-empty'), /data-requires-python="&lt;4,&gt;=3.8"/);
  });

  test('a wheel without Requires-Python, and an sdist, have none', async () => {
    await using server = await startTestServer({});
    const wheel = makeWheel('rp-none', '1.0');
    const res = await upload(server, bareFields('rp-none', '1.0', wheel), wheel);
    assert.equal(res.status, 200, await res.text());
    const sdist = makeSdist('rp-none', '1.0');
    const res2 = await upload(server, bareFields('rp-none', '1.0', sdist), sdist);
    assert.equal(res2.status, 200, await res2.text());
    assert.doesNotMatch(await simplePage(server, 'rp-none'), /data-requires-python/);
    const json = await projectJson(server, 'rp-none');
    assert.equal(json.info.requires_python, '');
  });

  test("a METADATA Requires-Python that is not a specifier set is refused, as the form's is", async () => {
    await using server = await startTestServer({});
    const wheel = makeWheel('rp-bad', '1.0', {
      metadata: coreMetadata('rp-bad', '1.0', ['Requires-Python: python3 please']),
    });
    const res = await upload(server, bareFields('rp-bad', '1.0', wheel), wheel);
    assert.equal(res.status, 400);
    assert.match(await res.text(), /METADATA Requires-Python.*not a valid PEP 440 specifier set/);
  });
});

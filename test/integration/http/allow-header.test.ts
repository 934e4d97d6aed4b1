/**
 * Every 405 carries `Allow` (RFC 9110 §15.5.6) naming exactly the methods its URL serves in its
 * repository's mode: a hosted repository's writes, a proxy's reads only, an empty `Allow` for a
 * URL that serves nothing there (an upload or a yank on a proxy, an npm command NORA does not
 * have, npm's token endpoints with auth off: RFC 9110 §10.2.1). The body keeps each protocol's
 * error shape (npm `{error}`, OCI `{errors}`, Cargo `{errors}`, PyPI and Go text).
 *
 * No upstream is ever asked: every write is refused before one would be (the proxies' upstream
 * is a closed port).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Readable } from 'node:stream';
import { isRegistryError } from '../../../src/core/errors.ts';
import { CargoHosted } from '../../../src/formats/cargo/hosted.ts';
import { GoHosted } from '../../../src/formats/go/hosted.ts';
import { PypiHosted } from '../../../src/formats/pypi/hosted.ts';
import type { CargoTables } from '../../../src/formats/cargo/migrations.ts';
import type { GoTables } from '../../../src/formats/go/migrations.ts';
import type { PypiTables } from '../../../src/formats/pypi/migrations.ts';
import { startTestServer, type TestServer } from '../../helpers/server.ts';

/** A port nothing listens on: the proxies below are never asked anything. */
const NOWHERE = 'http://127.0.0.1:9';

describe('405 answers carry Allow (auth off)', () => {
  let server: TestServer;

  before(async () => {
    server = await startTestServer({
      config: {
        docker: { upstreams: [] },
        pypi: { proxy: '' },
        cargo: { proxy: '' },
        go: { proxy: '' },
        repositories: [
          { name: 'npmh', format: 'npm', kind: 'hosted' },
          { name: 'npmp', format: 'npm', kind: 'proxy', upstreams: [{ url: NOWHERE }] },
          { name: 'pyh', format: 'pypi', kind: 'hosted' },
          { name: 'pyp', format: 'pypi', kind: 'proxy', upstreams: [{ url: NOWHERE }] },
          { name: 'crh', format: 'cargo', kind: 'hosted' },
          { name: 'crp', format: 'cargo', kind: 'proxy', upstreams: [{ url: NOWHERE }] },
          { name: 'dockh', format: 'docker', kind: 'hosted' },
          { name: 'dockp', format: 'docker', kind: 'proxy', upstreams: [{ url: NOWHERE }] },
          { name: 'goh', format: 'go', kind: 'hosted' },
          { name: 'gop', format: 'go', kind: 'proxy', upstreams: [{ url: NOWHERE }] },
        ],
      },
    });
  });
  after(async () => {
    await server.close();
  });

  interface Case {
    readonly method: string;
    readonly url: string;
    /** The expected `Allow`, HEAD where GET is. */
    readonly allow: string;
    /** What the body must look like: the protocol's own error shape. */
    readonly body: 'npm' | 'oci' | 'cargo' | 'text';
    readonly headers?: Record<string, string>;
    readonly payload?: string;
  }

  const cases: readonly Case[] = [
    // npm: a packument is read and published (hosted), read only (proxy); a revision is only
    // written (PUT, DELETE), so nothing at all on a proxy.
    { method: 'POST', url: '/repository/npmh/demo', allow: 'GET, PUT, HEAD', body: 'npm' },
    { method: 'POST', url: '/repository/npmp/demo', allow: 'GET, HEAD', body: 'npm' },
    { method: 'GET', url: '/repository/npmh/demo/-rev/1-abc', allow: 'PUT, DELETE', body: 'npm' },
    { method: 'GET', url: '/repository/npmp/demo/-rev/1-abc', allow: '', body: 'npm' },
    { method: 'POST', url: '/repository/npmh/demo/-rev/1-abc', allow: 'PUT, DELETE', body: 'npm' },
    { method: 'PUT', url: '/repository/npmp/demo', allow: 'GET, HEAD', body: 'npm', payload: '{}' },
    {
      method: 'PUT',
      url: '/repository/npmp/demo/-rev/1-abc',
      allow: '',
      body: 'npm',
      payload: '{}',
    },
    { method: 'DELETE', url: '/repository/npmp/demo/-rev/1-abc', allow: '', body: 'npm' },
    // A dist-tag is set and removed, never read, at its own URL.
    {
      method: 'GET',
      url: '/repository/npmh/-/package/demo/dist-tags/beta',
      allow: 'PUT, POST, DELETE',
      body: 'npm',
    },
    {
      method: 'GET',
      url: '/repository/npmp/-/package/demo/dist-tags/beta',
      allow: '',
      body: 'npm',
    },
    {
      method: 'PUT',
      url: '/repository/npmp/-/package/demo/dist-tags/beta',
      allow: '',
      body: 'npm',
      payload: '"1.0.0"',
    },
    // Commands NORA does not have: nothing is served at their endpoints.
    { method: 'GET', url: '/npm/-/npm/v1/user', allow: '', body: 'npm' },
    { method: 'GET', url: '/npm/-/org/acme/user', allow: '', body: 'npm' },
    // `npm owner add` reads the user document, which is otherwise read and PUT (login).
    {
      method: 'GET',
      url: '/npm/-/user/org.couchdb.user:bob',
      allow: 'GET, PUT, HEAD',
      body: 'npm',
      headers: { 'npm-command': 'owner' },
    },
    // Auth off: no accounts, no tokens. A user document still takes a login (PUT).
    { method: 'GET', url: '/npm/-/user/org.couchdb.user:bob', allow: 'PUT', body: 'npm' },
    { method: 'GET', url: '/npm/-/npm/v1/tokens', allow: '', body: 'npm' },
    { method: 'PATCH', url: '/npm/-/user/org.couchdb.user:bob', allow: 'PUT', body: 'npm' },
    { method: 'PATCH', url: '/npm/-/npm/v1/tokens', allow: '', body: 'npm' },
    { method: 'DELETE', url: '/npm/-/npm/v1/tokens/token/abc', allow: '', body: 'npm' },
    // PyPI: the base URL takes uploads only; the simple root is read too.
    {
      method: 'POST',
      url: '/repository/pyp/',
      allow: '',
      body: 'text',
      headers: { 'content-type': 'multipart/form-data; boundary=x' },
      payload: '--x--\r\n',
    },
    { method: 'PUT', url: '/repository/pyp/', allow: '', body: 'text' },
    { method: 'PUT', url: '/repository/pyh/', allow: 'POST', body: 'text' },
    {
      method: 'POST',
      url: '/repository/pyp/simple/',
      allow: 'GET, HEAD',
      body: 'text',
      headers: { 'content-type': 'multipart/form-data; boundary=x' },
      payload: '--x--\r\n',
    },
    { method: 'PUT', url: '/repository/pyp/simple/', allow: 'GET, HEAD', body: 'text' },
    { method: 'PUT', url: '/repository/pyh/simple/', allow: 'GET, POST, HEAD', body: 'text' },
    { method: 'POST', url: '/repository/pyp/pypi/demo/1.0/yank', allow: '', body: 'text' },
    { method: 'DELETE', url: '/repository/pyp/pypi/demo/1.0', allow: '', body: 'text' },
    // Cargo: publishes, yanks and deletions serve nothing on a proxy; owners are still read.
    {
      method: 'PUT',
      url: '/repository/crp/api/v1/crates/new',
      allow: '',
      body: 'cargo',
      payload: '',
    },
    { method: 'GET', url: '/repository/crp/api/v1/crates/new', allow: '', body: 'cargo' },
    { method: 'GET', url: '/repository/crh/api/v1/crates/new', allow: 'PUT', body: 'cargo' },
    { method: 'DELETE', url: '/repository/crp/api/v1/crates/new', allow: '', body: 'cargo' },
    {
      method: 'DELETE',
      url: '/repository/crp/api/v1/crates/demo/1.0.0/yank',
      allow: '',
      body: 'cargo',
    },
    {
      method: 'PUT',
      url: '/repository/crp/api/v1/crates/demo/1.0.0/unyank',
      allow: '',
      body: 'cargo',
    },
    {
      method: 'POST',
      url: '/repository/crp/api/v1/crates/demo/owners',
      allow: 'GET, HEAD',
      body: 'cargo',
    },
    {
      method: 'POST',
      url: '/repository/crh/api/v1/crates/demo/owners',
      allow: 'GET, PUT, DELETE, HEAD',
      body: 'cargo',
    },
    // OCI: manifests and blobs are read everywhere, written where writes land; the upload URLs
    // serve nothing on a proxy.
    {
      method: 'POST',
      url: '/repository/dockh/v2/app/manifests/1.0',
      allow: 'GET, PUT, DELETE, HEAD',
      body: 'oci',
    },
    {
      method: 'POST',
      url: '/repository/dockp/v2/app/manifests/1.0',
      allow: 'GET, HEAD',
      body: 'oci',
    },
    {
      method: 'POST',
      url: `/repository/dockh/v2/app/blobs/sha256:${'0'.repeat(64)}`,
      allow: 'GET, DELETE, HEAD',
      body: 'oci',
    },
    {
      method: 'POST',
      url: `/repository/dockp/v2/app/blobs/sha256:${'0'.repeat(64)}`,
      allow: 'GET, HEAD',
      body: 'oci',
    },
    { method: 'GET', url: '/repository/dockh/v2/app/blobs/uploads/', allow: 'POST', body: 'oci' },
    { method: 'GET', url: '/repository/dockp/v2/app/blobs/uploads/', allow: '', body: 'oci' },
    { method: 'POST', url: '/repository/dockp/v2/app/blobs/uploads/', allow: '', body: 'oci' },
    {
      method: 'POST',
      url: '/repository/dockh/v2/app/blobs/uploads/0a1b2c3d-0000-4000-8000-000000000000',
      allow: 'GET, PATCH, PUT, DELETE, HEAD',
      body: 'oci',
    },
    {
      method: 'POST',
      url: '/repository/dockp/v2/app/blobs/uploads/0a1b2c3d-0000-4000-8000-000000000000',
      allow: '',
      body: 'oci',
    },
    {
      method: 'PATCH',
      url: '/repository/dockp/v2/app/blobs/uploads/0a1b2c3d-0000-4000-8000-000000000000',
      allow: '',
      body: 'oci',
    },
    { method: 'POST', url: '/repository/dockh/v2/app/tags/list', allow: 'GET, HEAD', body: 'oci' },
    // Go: a proxy's module files are read only.
    {
      method: 'PUT',
      url: '/repository/gop/example.com/demo/@v/v1.0.0.zip',
      allow: 'GET, HEAD',
      body: 'text',
      payload: 'x',
    },
    {
      method: 'DELETE',
      url: '/repository/gop/example.com/demo/@v/v1.0.0.zip',
      allow: 'GET, HEAD',
      body: 'text',
    },
    // A hosted module's .zip is also published and deleted, its @v/list deletes the module
    // (trial 24 fmtsB F1: both said GET, HEAD).
    {
      method: 'POST',
      url: '/repository/goh/example.com/demo/@v/v1.0.0.zip',
      allow: 'GET, PUT, DELETE, HEAD',
      body: 'text',
    },
    {
      method: 'POST',
      url: '/repository/goh/example.com/demo/@v/list',
      allow: 'GET, DELETE, HEAD',
      body: 'text',
    },
    {
      method: 'POST',
      url: '/repository/goh/example.com/demo/@latest',
      allow: 'GET, HEAD',
      body: 'text',
    },
    // PyPI's yank URLs serve POST (trial 24 fmtsB F3: a GET read as a file named "yank").
    { method: 'DELETE', url: '/repository/pyh/pypi/demo/1.0/yank', allow: 'POST', body: 'text' },
    { method: 'GET', url: '/repository/pyh/pypi/demo/1.0/unyank', allow: 'POST', body: 'text' },
  ];

  for (const c of cases) {
    test(`${c.method} ${c.url}${c.headers?.['npm-command'] ? ' (npm owner)' : ''} → 405, Allow: ${JSON.stringify(c.allow)}`, async () => {
      const res = await fetch(`${server.url}${c.url}`, {
        method: c.method,
        headers: c.headers ?? {},
        ...(c.payload === undefined ? {} : { body: c.payload }),
      });
      const text = await res.text();
      assert.equal(res.status, 405, text);
      assert.equal(res.headers.get('allow'), c.allow, text);
      const type = res.headers.get('content-type') ?? '';
      switch (c.body) {
        case 'npm':
          assert.equal(typeof (JSON.parse(text) as { error?: unknown }).error, 'string', text);
          break;
        case 'oci': {
          const errors = (JSON.parse(text) as { errors?: { code?: string }[] }).errors;
          assert.equal(errors?.[0]?.code, 'UNSUPPORTED', text);
          break;
        }
        case 'cargo': {
          const errors = (JSON.parse(text) as { errors?: { detail?: string }[] }).errors;
          assert.equal(typeof errors?.[0]?.detail, 'string', text);
          break;
        }
        case 'text':
          assert.match(type, /^text\/plain/, text);
          break;
      }
    });
  }

  // The hosted stores refuse a repository that is not hosted themselves (a guard behind
  // `requireWriteTarget`, which answers first over HTTP): that 405 carries `Allow` too.
  test("the hosted stores' own guard: 405 with the written URL's Allow", async () => {
    const { context } = server.app;
    const go = new GoHosted({
      db: context.db.$extendTables<GoTables>(),
      blobs: context.blobs,
      maxZipSize: () => 1,
    });
    const cargo = new CargoHosted({
      db: context.db.$extendTables<CargoTables>(),
      blobs: context.blobs,
      maxCrateBytes: () => 1,
    });
    const pypi = new PypiHosted({
      db: context.db.$extendTables<PypiTables>(),
      blobs: context.blobs,
      maxUploadBytes: () => 1,
    });
    const repo = (name: string) => {
      const found = context.repositories.get(name);
      assert.ok(found);
      return found;
    };
    const refusal = async (work: () => Promise<unknown>, allow: string) => {
      await assert.rejects(work, (err: unknown) => {
        assert.ok(isRegistryError(err));
        assert.equal(err.status, 405);
        assert.equal(err.headers?.['allow'], allow);
        return true;
      });
    };
    await refusal(
      () => go.publish(repo('gop'), 'example.com/demo', 'v1.0.0', Readable.from([]), undefined),
      'GET, HEAD',
    );
    await refusal(() => go.deleteModule(repo('gop'), 'example.com/demo'), 'GET, HEAD');
    await refusal(() => cargo.setYanked(repo('crp'), 'demo', '1.0.0', true), '');
    await refusal(() => cargo.deleteCrate(repo('crp'), 'demo'), '');
    await refusal(() => cargo.addOwners(repo('crp'), 'demo', ['bob']), 'GET, HEAD');
    await refusal(() => pypi.yank(repo('pyp'), 'demo', '1.0'), '');
    await refusal(() => pypi.deleteFile(repo('pyp'), 'demo', 'demo-1.0.tar.gz'), '');
  });
});

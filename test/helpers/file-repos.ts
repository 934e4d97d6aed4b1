/**
 * Two servers holding one immutable file of each "file" format, for tests of file answers'
 * headers (Last-Modified, If-Range): `up` hosts a PyPI wheel (`py-h`), a crate (`cr-h`) and a Go
 * module (`go-h`); `down` proxies each of them (`py-p`, `cr-p`, `go-p`), with whatever else a
 * test adds to its configuration.
 */
import assert from 'node:assert/strict';
import { crateBody } from '../integration/cargo/fixtures.ts';
import {
  makeWheel,
  makeZip,
  MULTIPART,
  multipartBody,
  twineFields,
} from '../integration/pypi/fixtures.ts';
import { startTestServer, type TestServer } from './server.ts';

export interface FileRepos {
  readonly up: TestServer;
  readonly down: TestServer;
  /** The wheel published to `py-h` (`<project>-1.0`). */
  readonly wheel: ReturnType<typeof makeWheel>;
  close(): Promise<void>;
}

export interface FileReposOptions {
  /** The PyPI project (`<project>` 1.0); the crate is its name with `_` (0.1.0). */
  readonly project: string;
  /** The Go module path (v1.0.0). */
  readonly module: string;
  /**
   * Sections of `down`'s configuration, given `up`'s URL; its `repositories` are added to the
   * three proxies.
   */
  readonly down?: (upUrl: string) => {
    readonly repositories?: readonly unknown[];
    readonly [section: string]: unknown;
  };
}

export async function startFileRepos(options: FileReposOptions): Promise<FileRepos> {
  const { project, module } = options;
  const wheel = makeWheel(project, '1.0');
  const up = await startTestServer({
    config: {
      repositories: [
        { name: 'py-h', format: 'pypi', kind: 'hosted' },
        { name: 'cr-h', format: 'cargo', kind: 'hosted' },
        { name: 'go-h', format: 'go', kind: 'hosted' },
      ],
    },
  });
  const py = await fetch(`${up.url}/repository/py-h/`, {
    method: 'POST',
    headers: { 'content-type': MULTIPART },
    body: multipartBody(twineFields(project, '1.0', wheel), wheel),
  });
  assert.equal(py.status, 200, await py.text());
  const crate = await fetch(`${up.url}/repository/cr-h/api/v1/crates/new`, {
    method: 'PUT',
    body: await crateBody(project.replaceAll('-', '_'), '0.1.0'),
  });
  assert.equal(crate.status, 200, await crate.text());
  const pkg = module.split('/').at(-1) ?? 'mod';
  const zip = makeZip([
    { name: `${module}@v1.0.0/go.mod`, data: Buffer.from(`module ${module}\n\ngo 1.19\n`) },
    { name: `${module}@v1.0.0/${pkg}.go`, data: Buffer.from(`package ${pkg}\n`) },
  ]);
  const go = await fetch(`${up.url}/repository/go-h/${module}/@v/v1.0.0.zip`, {
    method: 'PUT',
    headers: { 'content-type': 'application/zip' },
    body: zip,
  });
  assert.equal(go.status, 201, await go.text());
  const { repositories = [], ...sections } = options.down?.(up.url) ?? {};
  const down = await startTestServer({
    config: {
      ...sections,
      repositories: [
        {
          name: 'py-p',
          format: 'pypi',
          kind: 'proxy',
          upstreams: [{ url: `${up.url}/repository/py-h/simple/` }],
        },
        {
          name: 'cr-p',
          format: 'cargo',
          kind: 'proxy',
          upstreams: [{ url: `${up.url}/repository/cr-h/index/` }],
        },
        {
          name: 'go-p',
          format: 'go',
          kind: 'proxy',
          upstreams: [{ url: `${up.url}/repository/go-h` }],
        },
        ...repositories,
      ],
    },
  });
  return {
    up,
    down,
    wheel,
    async close() {
      await down.close();
      await up.close();
    },
  };
}

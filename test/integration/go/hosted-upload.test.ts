/**
 * go-hosted's upload API (`PUT <mount>/<module>/@v/<version>.zip`, hosted.ts + zip.ts) against a
 * real server: a valid module is published and read back by the GOPROXY protocol; every way a
 * module zip breaks the module zip rules (golang.org/x/mod/zip) or the module path and version
 * rules is a clear 4xx in plain text, and leaves nothing stored.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { crc32, deflateRawSync } from 'node:zlib';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import {
  goPublish,
  GoPublishError,
  registryOfServer,
} from '../../../src/formats/go/publish-cli.ts';
import { goModuleZip } from '../../helpers/go-fixtures.ts';
import { putDeclaredOnly } from '../../helpers/declared-put.ts';
import { startTestServer, type TestServer } from '../../helpers/server.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { findTool, PROJECT_ROOT, run } from '../../helpers/tools.ts';

const NORA = path.join(PROJECT_ROOT, 'bin', 'nora.js');

interface Entry {
  readonly name: string;
  readonly data?: string | Buffer;
  /** Unix st_mode recorded in the external attributes (creator Unix) when given. */
  readonly mode?: number;
  /** Lie about the uncompressed size / CRC (corruption tests). */
  readonly badCrc?: boolean;
  readonly deflate?: boolean;
}

/** A zip with exactly these entries (duplicates and odd names allowed: it is for bad input). */
function makeZip(entries: readonly Entry[]): Buffer {
  const parts: Buffer[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const name = Buffer.from(e.name, 'utf8');
    const data = Buffer.from(e.data ?? '');
    const body = e.deflate === true ? deflateRawSync(data) : data;
    const crc = (crc32(data) ^ (e.badCrc === true ? 1 : 0)) >>> 0;
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(0x0800, 6);
    local.writeUInt16LE(e.deflate === true ? 8 : 0, 8);
    local.writeUInt16LE(33, 12);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(body.length, 18);
    local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(name.length, 26);
    const cd = Buffer.alloc(46);
    cd.writeUInt32LE(0x02014b50, 0);
    cd.writeUInt16LE(e.mode === undefined ? 20 : (3 << 8) | 20, 4);
    cd.writeUInt16LE(20, 6);
    cd.writeUInt16LE(0x0800, 8);
    cd.writeUInt16LE(e.deflate === true ? 8 : 0, 10);
    cd.writeUInt16LE(33, 14);
    cd.writeUInt32LE(crc, 16);
    cd.writeUInt32LE(body.length, 20);
    cd.writeUInt32LE(data.length, 24);
    cd.writeUInt16LE(name.length, 28);
    cd.writeUInt32LE(e.mode === undefined ? 0 : (e.mode << 16) >>> 0, 38);
    cd.writeUInt32LE(offset, 42);
    parts.push(local, name, body);
    central.push(cd, name);
    offset += local.length + name.length + body.length;
  }
  const cdBytes = Buffer.concat(central);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(cdBytes.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...parts, cdBytes, end]);
}

/** The entry names of a zip's central directory. */
function zipNames(zip: Buffer): string[] {
  const end = zip.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  const count = zip.readUInt16LE(end + 10);
  let at = zip.readUInt32LE(end + 16);
  const names: string[] = [];
  for (let i = 0; i < count; i++) {
    const nameLength = zip.readUInt16LE(at + 28);
    const extra = zip.readUInt16LE(at + 30);
    const comment = zip.readUInt16LE(at + 32);
    names.push(zip.subarray(at + 46, at + 46 + nameLength).toString('utf8'));
    at += 46 + nameLength + extra + comment;
  }
  return names;
}

const MOD = 'example.com/hello';
const good = (prefix = `${MOD}@v1.0.0`, module = MOD): Entry[] => [
  { name: `${prefix}/go.mod`, data: `module ${module}\n\ngo 1.19\n` },
  { name: `${prefix}/hello.go`, data: 'package hello\n\nconst Hello = "hi"\n', deflate: true },
  { name: `${prefix}/LICENSE`, data: 'MIT\n' },
];

describe('go hosted upload: PUT <module>/@v/<version>.zip', () => {
  let server: TestServer;
  let base: string;
  const put = (urlPath: string, body: Buffer) =>
    fetch(`${base}/${urlPath}`, {
      method: 'PUT',
      body,
      headers: { 'content-type': 'application/zip' },
    });
  const status = async (urlPath: string) => {
    const res = await fetch(`${base}/${urlPath}`);
    await res.arrayBuffer();
    return res.status;
  };
  /**
   * Writes a module directory at `dir` (go.mod: `moduleLine` then `go 1.19`; x.go) and PUTs the
   * same files as `module`@v1.0.0's zip: the server's answer, which the CLI's check of the
   * directory is compared with.
   */
  const moduleDirAndUpload = async (dir: string, module: string, moduleLine: string) => {
    const files = { 'go.mod': `${moduleLine}\ngo 1.19\n`, 'x.go': 'package x\n' };
    for (const [name, text] of Object.entries(files))
      await fs.writeFile(path.join(dir, name), text);
    return put(`${module}/@v/v1.0.0.zip`, await goModuleZip(module, 'v1.0.0', files));
  };

  before(async () => {
    server = await startTestServer({
      config: { go: { max_zip_size: 64 * 1024 } },
      env: { NORA_GO_PROXY: 'none' },
    });
    base = `${server.url}/go`;
  });
  after(async () => {
    await (server as TestServer | undefined)?.close();
  });

  test('a declared Content-Length over [go] max_zip_size: 413 at once, before the body is read', async () => {
    const answer = await putDeclaredOnly(`${base}/${MOD}/@v/v1.0.9.zip`, 200 * 1024 * 1024);
    assert.notEqual(answer, 'no answer', 'the server waited for the 200 MB body');
    if (answer === 'no answer') return;
    assert.equal(answer.status, 413, answer.body);
    assert.match(answer.contentType, /text\/plain/);
    assert.match(
      answer.body,
      /209715200 bytes exceeds the limit of 65536 bytes \(\[go\] max_zip_size\)/,
    );
    assert.equal(await status(`${MOD}/@v/v1.0.9.info`), 404);
  });

  test('a chunked body over [go] max_zip_size: 413 naming the setting', async () => {
    const chunk = Buffer.alloc(40 * 1024, 1);
    const answer = await fetch(`${base}/${MOD}/@v/v1.0.8.zip`, {
      method: 'PUT',
      body: new ReadableStream<Uint8Array>({
        pull(controller) {
          controller.enqueue(chunk);
          controller.enqueue(chunk);
          controller.close();
        },
      }),
      duplex: 'half',
    });
    const body = await answer.text();
    assert.equal(answer.status, 413, body);
    assert.match(
      body,
      /module zip exceeds the limit of 65536 bytes \(\[go\] max_zip_size, NORA_GO_MAX_ZIP_SIZE\)/,
    );
    assert.equal(await status(`${MOD}/@v/v1.0.8.info`), 404);
  });

  test('a valid module is published once, read back, immutable (409), a same-bytes retry 200', async () => {
    const zip = makeZip(good());
    const res = await put(`${MOD}/@v/v1.0.0.zip`, zip);
    assert.equal(res.status, 201, await res.clone().text());
    assert.match(await res.text(), /^published example\.com\/hello@v1\.0\.0 \(3 files/);
    assert.equal(await (await fetch(`${base}/${MOD}/@v/list`)).text(), 'v1.0.0\n');
    const info = (await (await fetch(`${base}/${MOD}/@v/v1.0.0.info`)).json()) as {
      Version: string;
      Time: string;
    };
    assert.equal(info.Version, 'v1.0.0');
    assert.match(info.Time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.equal(
      await (await fetch(`${base}/${MOD}/@v/v1.0.0.mod`)).text(),
      `module ${MOD}\n\ngo 1.19\n`,
    );
    const back = Buffer.from(await (await fetch(`${base}/${MOD}/@v/v1.0.0.zip`)).arrayBuffer());
    assert.equal(
      createHash('sha256').update(back).digest('hex'),
      createHash('sha256').update(zip).digest('hex'),
    );
    // The same bytes again (a retried publish): a success that changes nothing.
    const again = await put(`${MOD}/@v/v1.0.0.zip`, makeZip(good()));
    assert.equal(again.status, 200);
    assert.match(
      await again.text(),
      /^example\.com\/hello@v1\.0\.0 was already published with these exact bytes; nothing changed \(3 files, \d+ bytes, zip sha256 [0-9a-f]{64}\)\n$/,
    );
    // Two identical uploads of a new version at once: one stores it, the other is the retry.
    const twice = await Promise.all(
      [0, 1].map(() =>
        put(
          'example.com/twice/@v/v1.0.0.zip',
          makeZip(good('example.com/twice@v1.0.0', 'example.com/twice')),
        ),
      ),
    );
    assert.deepEqual(twice.map((r) => r.status).sort(), [200, 201]);
    await Promise.all(twice.map((r) => r.arrayBuffer()));
    // Other bytes under that version: 409, for another file or only another entry order.
    const other = good();
    other[1] = { ...other[1], name: other[1]?.name ?? '', data: 'package hello\n' };
    const changed = await put(`${MOD}/@v/v1.0.0.zip`, makeZip(other));
    assert.equal(changed.status, 409);
    assert.match(await changed.text(), /already exists; module versions are immutable/);
    const reordered = await put(`${MOD}/@v/v1.0.0.zip`, makeZip([...good()].reverse()));
    assert.equal(reordered.status, 409);
    // Another go.mod (so another .mod) under that version: 409 too.
    const otherMod = good();
    otherMod[0] = { name: `${MOD}@v1.0.0/go.mod`, data: `module ${MOD}\n\ngo 1.20\n` };
    assert.equal((await put(`${MOD}/@v/v1.0.0.zip`, makeZip(otherMod))).status, 409);
    assert.equal(
      await (await fetch(`${base}/${MOD}/@v/v1.0.0.mod`)).text(),
      `module ${MOD}\n\ngo 1.19\n`,
    );
    // The hosted repository by name, too; a prerelease does not displace the release in @latest.
    const pre = await fetch(`${server.url}/repository/go-hosted/${MOD}/@v/v1.1.0-rc.1.zip`, {
      method: 'PUT',
      body: makeZip(good(`${MOD}@v1.1.0-rc.1`)),
    });
    assert.equal(pre.status, 201, await pre.clone().text());
    const latest = (await (await fetch(`${base}/${MOD}/@latest`)).json()) as { Version: string };
    assert.equal(latest.Version, 'v1.0.0');
  });

  test('a pseudo-version whose timestamp is no real date: 400 naming it, nothing stored', async () => {
    // Trial 2026-12-03 (F1): month 13 / day 99 was published and its .info given the upload time.
    const version = 'v0.0.0-20201399000000-abcdefabcdef';
    const res = await put(
      `example.com/badtime/@v/${version}.zip`,
      makeZip([{ name: `example.com/badtime@${version}/a.go`, data: 'package badtime\n' }]),
    );
    assert.equal(res.status, 400);
    assert.match(
      await res.text(),
      /invalid pseudo-version .*timestamp 20201399000000 is not a real/,
    );
    assert.equal(await status(`example.com/badtime/@v/${version}.info`), 404);
  });

  test('case-encoded paths, a module without go.mod, a pseudo-version', async () => {
    const upper = 'example.com/Upper/Lib';
    const res = await put(
      'example.com/!upper/!lib/@v/v0.0.0-20240102030405-abcdef123456.zip',
      makeZip([
        { name: `${upper}@v0.0.0-20240102030405-abcdef123456/lib.go`, data: 'package lib\n' },
      ]),
    );
    assert.equal(res.status, 201, await res.clone().text());
    assert.equal(
      await (
        await fetch(`${base}/example.com/!upper/!lib/@v/v0.0.0-20240102030405-abcdef123456.mod`)
      ).text(),
      `module ${upper}\n`,
    );
    assert.equal(await (await fetch(`${base}/example.com/!upper/!lib/@v/list`)).text(), '');
    const latest = (await (await fetch(`${base}/example.com/!upper/!lib/@latest`)).json()) as {
      Version: string;
      Time: string;
    };
    assert.deepEqual(latest, {
      Version: 'v0.0.0-20240102030405-abcdef123456',
      Time: '2024-01-02T03:04:05Z',
    });
    // +incompatible: a v2+ module without go.mod and without /v2.
    const inc = await put(
      'example.com/old/@v/v2.1.0+incompatible.zip',
      makeZip([{ name: 'example.com/old@v2.1.0+incompatible/old.go', data: 'package old\n' }]),
    );
    assert.equal(inc.status, 201, await inc.clone().text());
    // Unix creator, permission bits without file-type bits (Python's zipfile.writestr): a
    // regular file, as Go's archive/zip reads it.
    const py = await put(
      'example.com/pyzip/@v/v1.0.0.zip',
      makeZip([
        {
          name: 'example.com/pyzip@v1.0.0/go.mod',
          data: 'module example.com/pyzip\n',
          mode: 0o600,
        },
        { name: 'example.com/pyzip@v1.0.0/a.go', data: 'package pyzip\n', mode: 0o600 },
      ]),
    );
    assert.equal(py.status, 201, await py.clone().text());
  });

  const BAD: [string, string, Buffer, number, RegExp][] = [
    [
      'a path outside the prefix',
      `${MOD}/@v/v1.0.1.zip`,
      makeZip([...good(`${MOD}@v1.0.1`), { name: 'elsewhere/evil.go', data: 'x' }]),
      400,
      /does not have prefix/,
    ],
    [
      'a wrong version in the prefix',
      `${MOD}/@v/v1.0.1.zip`,
      makeZip(good(`${MOD}@v1.0.0`)),
      400,
      /does not have prefix "example\.com\/hello@v1\.0\.1\/"/,
    ],
    [
      'a traversal',
      `${MOD}/@v/v1.0.1.zip`,
      makeZip([...good(`${MOD}@v1.0.1`), { name: `${MOD}@v1.0.1/../../x.go`, data: 'x' }]),
      400,
      /invalid module zip/,
    ],
    [
      'a duplicate entry',
      `${MOD}/@v/v1.0.1.zip`,
      makeZip([...good(`${MOD}@v1.0.1`), { name: `${MOD}@v1.0.1/hello.go`, data: 'x' }]),
      400,
      /multiple entries for file "hello\.go"/,
    ],
    [
      'a case-insensitive duplicate',
      `${MOD}/@v/v1.0.1.zip`,
      makeZip([...good(`${MOD}@v1.0.1`), { name: `${MOD}@v1.0.1/Hello.go`, data: 'x' }]),
      400,
      /case-insensitive file name collision/,
    ],
    [
      'a symbolic link',
      `${MOD}/@v/v1.0.1.zip`,
      makeZip([
        ...good(`${MOD}@v1.0.1`),
        { name: `${MOD}@v1.0.1/link.go`, data: '/etc/passwd', mode: 0o120777 },
      ]),
      400,
      /symbolic link/,
    ],
    [
      'a nested module',
      `${MOD}/@v/v1.0.1.zip`,
      makeZip([...good(`${MOD}@v1.0.1`), { name: `${MOD}@v1.0.1/sub/go.mod`, data: 'module x\n' }]),
      400,
      /not in module root/,
    ],
    [
      'a vendored package',
      `${MOD}/@v/v1.0.1.zip`,
      makeZip([...good(`${MOD}@v1.0.1`), { name: `${MOD}@v1.0.1/vendor/a.b/c/c.go`, data: 'x' }]),
      400,
      /vendored/,
    ],
    [
      'an invalid file name',
      `${MOD}/@v/v1.0.1.zip`,
      makeZip([...good(`${MOD}@v1.0.1`), { name: `${MOD}@v1.0.1/a:b.go`, data: 'x' }]),
      400,
      /malformed file path/,
    ],
    [
      'a go.mod naming another module',
      `${MOD}/@v/v1.0.1.zip`,
      makeZip(good(`${MOD}@v1.0.1`, 'example.com/other')),
      400,
      /go\.mod declares module "example\.com\/other"/,
    ],
    [
      'a corrupt entry (CRC-32)',
      `${MOD}/@v/v1.0.1.zip`,
      makeZip([
        ...good(`${MOD}@v1.0.1`),
        { name: `${MOD}@v1.0.1/x.go`, data: 'package x', badCrc: true },
      ]),
      400,
      /CRC-32/,
    ],
    ['not a zip', `${MOD}/@v/v1.0.1.zip`, Buffer.from('hello'), 400, /invalid module zip/],
    [
      'over [go] max_zip_size',
      `${MOD}/@v/v1.0.1.zip`,
      makeZip([
        ...good(`${MOD}@v1.0.1`),
        { name: `${MOD}@v1.0.1/big.bin`, data: Buffer.alloc(70 * 1024) },
      ]),
      413,
      /exceeds the limit of 65536 bytes/,
    ],
    [
      'an invalid version',
      `${MOD}/@v/1.0.1.zip`,
      makeZip(good(`${MOD}@1.0.1`)),
      400,
      /invalid version/,
    ],
    [
      'a non-canonical version',
      `${MOD}/@v/v1.0.zip`,
      makeZip(good(`${MOD}@v1.0`)),
      400,
      // Said once (the reason was prefixed with "invalid version …" twice).
      /^(?![^]*invalid version "v1\.0": invalid version)[^]*not a canonical version \(want v1\.0\.0\)/,
    ],
    [
      'a major version that needs a /v2 suffix',
      `${MOD}/@v/v2.0.0.zip`,
      makeZip(good(`${MOD}@v2.0.0`)),
      400,
      /should be v0 or v1/,
    ],
    [
      '+incompatible with a go.mod',
      `${MOD}/@v/v2.0.0+incompatible.zip`,
      makeZip(good(`${MOD}@v2.0.0+incompatible`)),
      400,
      /\+incompatible/,
    ],
    [
      'uppercase without ! in the path',
      'example.com/Upper/@v/v1.0.0.zip',
      makeZip(good('example.com/Upper@v1.0.0', 'example.com/Upper')),
      400,
      /invalid escaped module path/,
    ],
    [
      'an invalid module path',
      'nodot/hello/@v/v1.0.0.zip',
      makeZip(good('nodot/hello@v1.0.0', 'nodot/hello')),
      400,
      /missing dot in first path element/,
    ],
  ];

  for (const [what, urlPath, body, code, message] of BAD) {
    test(`refused, nothing stored: ${what}`, async () => {
      const res = await put(urlPath, body);
      const text = await res.text();
      assert.equal(res.status, code, text);
      assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
      assert.match(text, message);
      if (urlPath.startsWith(`${MOD}/`)) {
        const file = urlPath.slice(`${MOD}/@v/`.length);
        const version = file.slice(0, -'.zip'.length);
        assert.notEqual(await status(`${MOD}/@v/${version}.info`), 200, 'no .info');
        assert.equal(await (await fetch(`${base}/${MOD}/@v/list`)).text(), 'v1.0.0\nv1.1.0-rc.1\n');
      }
    });
  }

  // trial 18 fmts F13: only the module line was read, so a go.mod go cannot parse was stored,
  // immutably, and every `go get` of it failed ("parsing go.mod: go.mod:5: syntax error").
  for (const [what, goMod, message] of [
    [
      'an unterminated block',
      `module ${MOD}\n\ngo 1.19\nrequire (\n`,
      'go.mod:5: syntax error (unterminated block started at go.mod:4:1)',
    ],
    [
      'an unterminated string',
      `module ${MOD}\nrequire x "v1\n`,
      'go.mod:2:14: unexpected newline in string',
    ],
    ['two module lines', `module ${MOD}\nmodule ${MOD}\n`, 'go.mod:2: repeated module statement'],
    // trial 19 fmts F2: what go's lax read of a dependency's go.mod (modfile.ParseLax) checks
    // beyond the syntax: the go version and the require lines.
    [
      'a go version go cannot read',
      `module ${MOD}\n\ngo banana\n`,
      "go.mod:3: invalid go version 'banana': must match format 1.23.0",
    ],
    [
      'a require version that is no semantic version',
      `module ${MOD}\n\nrequire foo.com/x notaversion\n`,
      'go.mod:3: require foo.com/x: version "notaversion" invalid: must be of the form v1.2.3',
    ],
    [
      'a require version whose major does not match the path',
      `module ${MOD}\n\nrequire (\n\tfoo.com/x/v2 v1.0.0\n)\n`,
      'go.mod:4:2: require foo.com/x/v2: version "v1.0.0" invalid: should be v2, not v1',
    ],
    [
      'a require line without a version',
      `module ${MOD}\nrequire foo.com/x\n`,
      'go.mod:2: usage: require module/path v1.2.3',
    ],
    [
      'a quoted module path that is no Go string',
      `module "${MOD}\\q"\n`,
      'go.mod:1: invalid quoted string: invalid syntax',
    ],
    ['two go lines', `module ${MOD}\ngo 1.19\ngo 1.21.0\n`, 'go.mod:3: repeated go statement'],
    // trial 23: what go's strict parse (`go install m@v`, `go mod edit`, the module's own
    // `go build`) refuses of the directives its lax read of a dependency skips.
    [
      'a go version of four parts',
      `module ${MOD}\ngo 1.2.3.4\n`,
      "go.mod:2: invalid go version '1.2.3.4': must match format 1.23.0",
    ],
    [
      'a toolchain that is no go toolchain',
      `module ${MOD}\ngo 1.21\ntoolchain 1.21.4\n`,
      "go.mod:3: invalid toolchain version '1.21.4': must match format go1.23.0 or default",
    ],
    [
      'an exclude line without a version',
      `module ${MOD}\nexclude foo.com/x\n`,
      'go.mod:2: usage: exclude module/path v1.2.3',
    ],
    [
      'a replace of a local directory with a version',
      `module ${MOD}\nreplace foo.com/x => ../x v1.0.0\n`,
      'go.mod:2: replacement module directory path "../x" cannot have version',
    ],
    [
      'a retract interval without its comma',
      `module ${MOD}\nretract [v1.0.0 v1.0.1] // broken\n`,
      "go.mod:2: expected ',' after version",
    ],
  ] as const) {
    test(`refused, nothing stored: a go.mod with ${what}`, async () => {
      const zip = await goModuleZip(MOD, 'v1.0.1', { 'go.mod': goMod, 'q.go': 'package hello\n' });
      const res = await put(`${MOD}/@v/v1.0.1.zip`, zip);
      const text = await res.text();
      assert.equal(res.status, 400, text);
      assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
      assert.ok(text.includes(`go.mod does not parse as go reads it (${message})`), text);
      assert.notEqual(await status(`${MOD}/@v/v1.0.1.info`), 200, 'no .info');
      assert.equal(await (await fetch(`${base}/${MOD}/@v/list`)).text(), 'v1.0.0\nv1.1.0-rc.1\n');
    });
  }

  // trial 23: a malformed `exclude` or `retract` (skipped by `go get`, refused by `go install
  // m@v`) is no longer taken: the table in gomod-strict.test.ts.
  test('taken: the forms go accepts, and a directive it does not know (trial 19 fmts F2)', async () => {
    const lax = 'example.com/laxgomod';
    const goMod = [
      `module "${lax}" // quoted, as go allows`,
      'go 1.21rc1 // a release candidate, as go 1.21 writes it',
      'toolchain go1.21.0',
      'godebug default=go1.21',
      'require (',
      '\tfoo.com/x v1.2 // go takes a short version',
      '\tfoo.com/y v2.0.0+incompatible',
      '\tgopkg.in/yaml.v1 v0.0.0-20200101000000-abcdefabcdef',
      ')',
      'exclude foo.com/x v1.3',
      'replace foo.com/y => ../y',
      'retract [v0.9.0, v0.9.1] // a rationale',
      'unknown directive of a newer go // skipped, as go skips it in a dependency',
      '',
    ].join('\n');
    const zip = await goModuleZip(lax, 'v1.0.0', { 'go.mod': goMod, 'q.go': 'package lax\n' });
    const res = await put(`${lax}/@v/v1.0.0.zip`, zip);
    assert.equal(res.status, 201, await res.text());
    assert.equal(await (await fetch(`${base}/${lax}/@v/v1.0.0.mod`)).text(), goMod);
  });

  test(
    'goPublish: version from the git tag at HEAD (module in a subdirectory), dry run, errors',
    { skip: findTool('git') === undefined ? 'git is not installed' : false },
    async () => {
      await using work = await tempDir('nora-go-publish-git-');
      const dir = path.join(work.path, 'lib');
      await fs.mkdir(dir, { recursive: true });
      await fs.writeFile(path.join(dir, 'go.mod'), 'module example.com/tagged/lib\n\ngo 1.19\n');
      await fs.writeFile(path.join(dir, 'lib.go'), 'package lib\n');
      const git = (...args: string[]) =>
        execFileSync('git', args, {
          cwd: work.path,
          env: {
            ...process.env,
            GIT_AUTHOR_NAME: 't',
            GIT_AUTHOR_EMAIL: 't@example.invalid',
            GIT_COMMITTER_NAME: 't',
            GIT_COMMITTER_EMAIL: 't@example.invalid',
          },
        });
      git('init', '-q');
      git('add', '-A');
      git('commit', '-qm', 'lib');
      await assert.rejects(goPublish({ dir, registry: base }), GoPublishError);
      // A tag without the v (another ecosystem's habit): go ignores it; the error names it and
      // the fix (trial 17 F3).
      git('tag', 'lib/0.3.0');
      await assert.rejects(goPublish({ dir, registry: base }), {
        message:
          'no --version given and no semver tag (vX.Y.Z) points at HEAD: HEAD is tagged lib/0.3.0, which go ignores (no leading v): tag lib/v0.3.0 or pass --version v0.3.0',
      });
      git('tag', 'lib/v0.3.0');
      git('tag', 'unrelated');
      const dry = await goPublish({ dir, registry: base, dryRun: true });
      assert.deepEqual(
        [dry.module, dry.version, dry.files, dry.answer],
        ['example.com/tagged/lib', 'v0.3.0', 2, undefined],
      );
      assert.equal(await status('example.com/tagged/lib/@v/v0.3.0.info'), 404);
      const lines: string[] = [];
      const done = await goPublish({ dir, registry: base, log: (l) => lines.push(l) });
      assert.match(done.answer ?? '', /^published example\.com\/tagged\/lib@v0\.3\.0/);
      assert.deepEqual(
        lines.filter((l) => l.startsWith('warning')),
        [],
        'a clean checkout publishes without a warning',
      );
      assert.equal(await status('example.com/tagged/lib/@v/v0.3.0.zip'), 200);
      // The same tree again (a retry): success, nothing changed.
      const retried = await goPublish({ dir, registry: base });
      assert.match(
        retried.answer ?? '',
        /already published with these exact bytes; nothing changed/,
      );
      await assert.rejects(
        goPublish({ dir, registry: base, version: 'v2.0.0' }),
        /should be v0 or v1/,
      );
      // A tag of another ecosystem's spelling: the Go spelling is suggested (trial 16 F9).
      await assert.rejects(goPublish({ dir, registry: base, version: '0.3.1' }), {
        message: 'invalid version "0.3.1": not a semantic version: did you mean v0.3.1?',
      });
      await assert.rejects(goPublish({ dir, registry: base, version: 'x1' }), {
        message: 'invalid version "x1": not a semantic version',
      });
      // Uncommitted changes (a modified file, an untracked one): refused, naming them, nothing
      // sent; with allowDirty (--allow-dirty) published, with a warning.
      await fs.writeFile(path.join(dir, 'lib.go'), 'package lib\n\nconst Dirty = 1\n');
      await fs.writeFile(path.join(dir, 'new.go'), 'package lib\n');
      await assert.rejects(
        goPublish({ dir, registry: base, version: 'v0.3.1' }),
        /has uncommitted changes \(lib\/lib\.go, lib\/new\.go\): commit them, or pass --allow-dirty/,
      );
      assert.equal(await status('example.com/tagged/lib/@v/v0.3.1.info'), 404);
      lines.length = 0;
      const dirty = await goPublish({
        dir,
        registry: base,
        version: 'v0.3.1',
        allowDirty: true,
        log: (l) => lines.push(l),
      });
      assert.match(dirty.answer ?? '', /^published example\.com\/tagged\/lib@v0\.3\.1 \(3 files/);
      const warnings = lines.filter((l) => l.startsWith('warning'));
      assert.equal(warnings.length, 1, lines.join('\n'));
      assert.match(warnings[0] ?? '', /has uncommitted changes \(lib\/lib\.go, lib\/new\.go\)/);
      assert.match(warnings[0] ?? '', /not a commit of v0\.3\.1$/);
    },
  );

  test(
    'goPublish in a git checkout leaves out the files git ignores (.env, node_modules/)',
    { skip: findTool('git') === undefined ? 'git is not installed' : false },
    async () => {
      await using work = await tempDir('nora-go-publish-ignored-');
      const dir = work.path;
      const write = async (rel: string, text: string) => {
        await fs.mkdir(path.dirname(path.join(dir, rel)), { recursive: true });
        await fs.writeFile(path.join(dir, rel), text);
      };
      await write('go.mod', 'module example.com/ignored/lib\n\ngo 1.19\n');
      await write('lib.go', 'package lib\n');
      await write('.gitignore', '.env\nnode_modules\n*.log\n');
      await write('docs/a.md', 'docs\n');
      const git = (...args: string[]) =>
        execFileSync('git', args, {
          cwd: dir,
          env: {
            ...process.env,
            GIT_AUTHOR_NAME: 't',
            GIT_AUTHOR_EMAIL: 't@example.invalid',
            GIT_COMMITTER_NAME: 't',
            GIT_COMMITTER_EMAIL: 't@example.invalid',
          },
        });
      git('init', '-q');
      git('add', '-A');
      git('commit', '-qm', 'lib');
      // Present on disk, never committed: a secret, installed packages, a log in a kept dir.
      await write('.env', 'SECRET=hunter2\n');
      await write('node_modules/x.js', 'x\n');
      await write('node_modules/deep/y.js', 'y\n');
      await write('docs/build.log', 'log\n');
      const lines: string[] = [];
      const done = await goPublish({
        dir,
        registry: base,
        version: 'v1.0.0',
        log: (l) => lines.push(l),
      });
      assert.match(done.answer ?? '', /^published example\.com\/ignored\/lib@v1\.0\.0 \(4 files/);
      assert.deepEqual(
        lines.filter((l) => l.startsWith('left out')),
        [
          'left out 3 paths git ignores (.env, docs/build.log, node_modules/), as a zip made from the repository would',
        ],
      );
      assert.deepEqual(
        lines.filter((l) => l.startsWith('warning')),
        [],
        'ignored files are no uncommitted change',
      );
      // The checkout's .git is information, not an "omitted …" that reads like a warning (trial 33).
      assert.deepEqual(
        lines.filter((l) => l.includes('.git/') || l.startsWith('omitted')),
        ['.git/ is not put in the zip (version control data never is)'],
      );
      const zip = Buffer.from(
        await (await fetch(`${base}/example.com/ignored/lib/@v/v1.0.0.zip`)).arrayBuffer(),
      );
      const names = zipNames(zip);
      assert.deepEqual(names, [
        'example.com/ignored/lib@v1.0.0/.gitignore',
        'example.com/ignored/lib@v1.0.0/docs/a.md',
        'example.com/ignored/lib@v1.0.0/go.mod',
        'example.com/ignored/lib@v1.0.0/lib.go',
      ]);
      assert.ok(!zip.includes('hunter2'));

      // An untracked file git does not ignore is an uncommitted change: refused, and with
      // allowDirty it goes in, with the warning.
      await write('new.go', 'package lib\n');
      await assert.rejects(
        goPublish({ dir, registry: base, version: 'v1.0.1' }),
        /uncommitted changes \(new\.go\)/,
      );
      lines.length = 0;
      const dirty = await goPublish({
        dir,
        registry: base,
        version: 'v1.0.1',
        allowDirty: true,
        log: (l) => lines.push(l),
      });
      assert.match(dirty.answer ?? '', /\(5 files/);
      assert.match(
        lines.find((l) => l.startsWith('warning')) ?? '',
        /uncommitted changes \(new\.go\)/,
      );

      // A directory git ignores as a whole: refused (its zip would lack go.mod), nothing sent.
      await write('build/go.mod', 'module example.com/ignored/build\n\ngo 1.19\n');
      await fs.appendFile(path.join(dir, '.gitignore'), 'build/\n');
      await assert.rejects(
        goPublish({ dir: path.join(dir, 'build'), registry: base, version: 'v1.0.0' }),
        /build\/go\.mod is ignored by git/,
      );
      await fs.rm(path.join(dir, 'build'), { recursive: true });

      // Outside a git work tree every file goes in, as before.
      await fs.rm(path.join(dir, '.git'), { recursive: true });
      const plain = await goPublish({ dir, registry: base, version: 'v1.0.2', dryRun: true });
      assert.equal(plain.files, 9);
    },
  );

  test('goPublish to a URL that is no Go repository (/cargo, the root) says so, with the URL shape', async () => {
    // Trial 2026-12-03 (F7): another format's raw 404 JSON was echoed.
    await using work = await tempDir('nora-go-publish-notgo-');
    await fs.writeFile(path.join(work.path, 'go.mod'), 'module example.com/notgo\n');
    await fs.writeFile(path.join(work.path, 'a.go'), 'package notgo\n');
    // Trial 33: /maven2 answered 400 `invalid characters in path segment "@v"`, printed as is.
    for (const [registry, status] of [
      [`${server.url}/cargo`, '404 Not Found'],
      [`${server.url}/`, '404 Not Found'],
      [`${server.url}/maven2`, '400 Bad Request'],
    ] as const) {
      await assert.rejects(
        goPublish({ dir: work.path, registry, version: 'v1.0.0' }),
        (err: Error) => {
          assert.ok(err instanceof GoPublishError);
          assert.ok(
            err.message.startsWith(
              `${registry.replace(/\/$/, '')} is not a Go module mount of NORA (${status}`,
            ),
            err.message,
          );
          assert.ok(
            err.message.endsWith(
              `; --registry must be the Go group (${server.url}/go) or a Go repository (${server.url}/repository/<name>)`,
            ),
            err.message,
          );
          return true;
        },
      );
    }
    // The right URL still publishes.
    const done = await goPublish({ dir: work.path, registry: base, version: 'v1.0.0' });
    assert.match(done.answer ?? '', /^published example\.com\/notgo@v1\.0\.0/);
  });

  test("goPublish of a go.mod go cannot parse says go's error, as the server would (trial 20 fmts F3)", async () => {
    await using work = await tempDir('nora-go-publish-badquote-');
    // The server's 400 for the same module, whose parenthesised part the CLI must repeat.
    const res = await moduleDirAndUpload(work.path, 'example.net/bq', 'module "example.net/bq\n');
    assert.equal(res.status, 400);
    const served = await res.text();
    const reason = /does not parse as go reads it \((.*)\): fix it/.exec(served)?.[1];
    assert.equal(reason, 'go.mod:1:23: unexpected newline in string', served);
    await assert.rejects(
      goPublish({ dir: work.path, registry: base, version: 'v1.0.0' }),
      (err: Error) => {
        assert.ok(err instanceof GoPublishError);
        assert.equal(
          err.message,
          `${path.resolve(work.path)}/go.mod does not parse as go reads it (${reason}): fix it and publish again`,
        );
        return true;
      },
    );
  });

  test('a misspelt module directive is named, by the server and by goPublish (trial 21 fmts F3)', async () => {
    await using work = await tempDir('nora-go-publish-modul-');
    // The server reads a dependency's go.mod (go skips the unknown line, so no module line) and
    // names the misspelt directive beside it.
    const res = await moduleDirAndUpload(
      work.path,
      'example.net/modul',
      'modul example.net/modul\n',
    );
    const served = await res.text();
    assert.equal(res.status, 400, served);
    assert.ok(
      served.includes('go.mod has no module line (go.mod:1: unknown directive: modul)'),
      served,
    );
    assert.notEqual(await status('example.net/modul/@v/v1.0.0.info'), 200, 'nothing stored');
    // The CLI reads the module's own go.mod strictly, as go does in it.
    await assert.rejects(
      goPublish({ dir: work.path, registry: base, version: 'v1.0.0' }),
      (err: Error) => {
        assert.ok(err instanceof GoPublishError);
        assert.equal(
          err.message,
          `${path.resolve(work.path)}/go.mod does not parse as go reads it (go.mod:1: unknown directive: modul): fix it and publish again`,
        );
        return true;
      },
    );
    // An unknown directive beside a module line: published by the server (go skips it in a
    // dependency), refused by the CLI (the author's own `go build` refuses it).
    await fs.writeFile(path.join(work.path, 'go.mod'), 'module example.net/modul\nrequre x v1\n');
    await assert.rejects(
      goPublish({ dir: work.path, registry: base, version: 'v1.0.0' }),
      /go\.mod:2: unknown directive: requre/,
    );
  });

  test('nora go publish: the default registry is the configured server (NORA_PORT, [server])', async () => {
    await using work = await tempDir('nora-go-publish-registry-');
    const lib = path.join(work.path, 'lib');
    await fs.mkdir(lib);
    await fs.writeFile(path.join(lib, 'go.mod'), 'module example.com/configured/lib\n\ngo 1.19\n');
    await fs.writeFile(path.join(lib, 'lib.go'), 'package lib\n');
    const { port } = new URL(server.url);
    const env: NodeJS.ProcessEnv = { PATH: process.env['PATH'] ?? '/usr/bin:/bin' };
    const cli = (args: string[], extra: NodeJS.ProcessEnv = {}) =>
      run(process.execPath, [NORA, 'go', 'publish', ...args, lib], {
        check: false,
        timeoutMs: 60_000,
        cwd: work.path,
        env: { ...env, ...extra },
      });
    // NORA_PORT (and NORA_HOST), no --registry: the server those describe.
    const byEnv = await cli(['--version', 'v1.0.0'], { NORA_PORT: port, NORA_HOST: '0.0.0.0' });
    assert.equal(byEnv.code, 0, byEnv.stderr);
    assert.match(byEnv.stdout, /^published example\.com\/configured\/lib@v1\.0\.0/);
    assert.match(
      byEnv.stderr,
      new RegExp(`registry http://127\\.0\\.0\\.1:${port}/go \\(from defaults \\+ environment\\)`),
    );
    assert.doesNotMatch(byEnv.stderr, /warning/);
    // ./config.toml's [server] port; NORA_TOKEN is no unknown variable for it.
    await fs.writeFile(path.join(work.path, 'config.toml'), `[server]\nport = ${port}\n`);
    const byFile = await cli(['--version', 'v1.0.1'], { NORA_TOKEN: '' });
    assert.equal(byFile.code, 0, byFile.stderr);
    assert.match(byFile.stderr, /registry http:\/\/127\.0\.0\.1:\d+\/go \(from .*config\.toml\)/);
    assert.doesNotMatch(byFile.stderr, /warning/);
    // --config names another file; NORA_GO_REGISTRY and --registry win over the configuration.
    await fs.writeFile(path.join(work.path, 'config.toml'), '[server]\nport = 1\n');
    await fs.writeFile(path.join(work.path, 'other.toml'), `[server]\nport = ${port}\n`);
    assert.equal((await cli(['--version', 'v1.0.2', '--config', 'other.toml'])).code, 0);
    const wrong = await cli(['--version', 'v1.0.3']);
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /cannot reach http:\/\/127\.0\.0\.1:1\/go/);
    const byVariable = await cli(['--version', 'v1.0.3'], { NORA_GO_REGISTRY: base });
    assert.equal(byVariable.code, 0, byVariable.stderr);
    assert.doesNotMatch(byVariable.stderr, /registry /);
    const byFlag = await cli(['--version', 'v1.0.4', '--registry', base], {
      NORA_GO_REGISTRY: 'http://127.0.0.1:1/go',
    });
    assert.equal(byFlag.code, 0, byFlag.stderr);
    assert.equal(await status('example.com/configured/lib/@v/v1.0.4.info'), 200);
    // Another program's config.toml that is no NORA configuration: with the registry named, it
    // is not read at all; without, the error names the file and how to name the registry.
    for (const other of ['[server]\nport = "eighty"\n', 'title = "unterminated\n']) {
      await fs.writeFile(path.join(work.path, 'config.toml'), other);
      const version = `v1.1.${String(other.length)}`;
      const named = await cli(['--version', version, '--registry', base]);
      assert.equal(named.code, 0, named.stderr);
      assert.equal(named.stderr.includes('config.toml'), false, named.stderr);
      const unnamed = await cli(['--version', 'v1.2.0']);
      assert.equal(unnamed.code, 2, unnamed.stderr);
      assert.match(
        unnamed.stderr,
        /^nora go publish: no default registry: the configuration it comes from \(\/.*\/config\.toml, NORA_\* variables\) does not load:\n {2}(invalid configuration|TOML parse error in \/.*\/config\.toml)[\s\S]*\nname the registry with --registry http:\/\/<host>:<port>\/go or NORA_GO_REGISTRY/,
      );
    }
    assert.equal(await status('example.com/configured/lib/@v/v1.2.0.info'), 404);
  });

  test('registryOfServer: public_url, wildcard and IPv6 hosts', () => {
    assert.equal(registryOfServer({ host: '127.0.0.1', port: 4000 }), 'http://127.0.0.1:4000/go');
    assert.equal(registryOfServer({ host: '0.0.0.0', port: 5000 }), 'http://127.0.0.1:5000/go');
    assert.equal(registryOfServer({ host: '::', port: 5000 }), 'http://[::1]:5000/go');
    assert.equal(registryOfServer({ host: 'fd00::1', port: 80 }), 'http://[fd00::1]:80/go');
    assert.equal(registryOfServer({ host: 'nora.lan', port: 80 }), 'http://nora.lan:80/go');
    assert.equal(
      registryOfServer({ host: '0.0.0.0', port: 4000, public_url: 'https://nora.example.com/' }),
      'https://nora.example.com/go',
    );
  });

  test('reads only: a proxy repository refuses uploads; other methods 405', async () => {
    // (DELETE is an admin's delete now: test/integration/go/delete.test.ts.)
    const post = await fetch(`${base}/${MOD}/@v/v1.0.0.zip`, { method: 'POST' });
    assert.equal(post.status, 405);
    await post.arrayBuffer();
    const putInfo = await put(`${MOD}/@v/v1.0.9.info`, Buffer.from('{}'));
    assert.equal(putInfo.status, 405);
    assert.match(await putInfo.text(), /PUT <module>\/@v\/<version>\.zip/);
  });
});

/** paths.ts (GOPROXY and sumdb URLs → routes) and the [go] section's proxy keys and NORA_GO_*. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseConfigObject } from '../../../src/config/load.ts';
import { parseSumdbEntry, sumdbUpstreams } from '../../../src/formats/go/config.ts';
import { GoPathError, parseGoPath } from '../../../src/formats/go/paths.ts';
import { isPrivateModule } from '../../../src/formats/go/proxy.ts';

describe('parseGoPath', () => {
  test('protocol URLs, decoded', () => {
    assert.deepEqual(parseGoPath('/github.com/!azure/azure-sdk/@v/list'), {
      kind: 'list',
      module: 'github.com/Azure/azure-sdk',
    });
    assert.deepEqual(parseGoPath('/example.com/m/@latest'), {
      kind: 'latest',
      module: 'example.com/m',
    });
    assert.deepEqual(parseGoPath('/example.com/m/v2/@v/v2.0.1.zip'), {
      kind: 'zip',
      module: 'example.com/m/v2',
      version: 'v2.0.1',
      canonical: true,
    });
    assert.deepEqual(parseGoPath('/example.com/m/@v/v4.0.0+incompatible.mod'), {
      kind: 'mod',
      module: 'example.com/m',
      version: 'v4.0.0+incompatible',
      canonical: true,
    });
    assert.deepEqual(parseGoPath('/example.com/m/@v/v0.0.0-20191109021931-daa7c04131f5.info'), {
      kind: 'info',
      module: 'example.com/m',
      version: 'v0.0.0-20191109021931-daa7c04131f5',
      canonical: true,
    });
    // `.info` of a query (a branch) is allowed and mutable; `.zip` of one is not.
    assert.deepEqual(parseGoPath('/example.com/m/@v/master.info'), {
      kind: 'info',
      module: 'example.com/m',
      version: 'master',
      canonical: false,
    });
    assert.throws(() => parseGoPath('/example.com/m/@v/master.zip'), GoPathError);
    assert.deepEqual(parseGoPath('/example.com/m/@v/v1.0.0-!r!c1.info'), {
      kind: 'info',
      module: 'example.com/m',
      version: 'v1.0.0-RC1',
      canonical: true,
    });
  });

  test('checksum database URLs', () => {
    assert.deepEqual(parseGoPath('/sumdb/sum.golang.org/supported'), {
      kind: 'sumdb',
      name: 'sum.golang.org',
      path: 'supported',
    });
    assert.deepEqual(parseGoPath('/sumdb/sum.golang.org/lookup/github.com/!azure/x@v1.0.0'), {
      kind: 'sumdb',
      name: 'sum.golang.org',
      path: 'lookup/github.com/!azure/x@v1.0.0',
      module: 'github.com/Azure/x',
    });
    for (const tile of ['tile/8/0/001', 'tile/8/1/x123/456.p/7', 'tile/8/data/x001/234']) {
      assert.equal(parseGoPath(`/sumdb/sum.golang.org/${tile}`).kind, 'sumdb', tile);
    }
    for (const bad of ['tile/8/0/1', 'tile/x/0/001', 'lookup/x', 'other', 'tile/8/0/001/../x']) {
      assert.throws(() => parseGoPath(`/sumdb/sum.golang.org/${bad}`), GoPathError, bad);
    }
  });

  test('bad input', () => {
    for (const bad of [
      '/github.com/Azure/x/@v/list',
      '/example.com/m/@v/v1.0.zip',
      '/example.com/m/@v/v1.0.0.tgz',
      '/example.com/m',
      '/example.com/%2e%2e/m/@v/list',
      '/example.com/m%2f/@v/list',
      '/example.com/m/@v/v2.0.0.zip',
      '/example.com/m/v2/@v/v1.0.0.zip',
      '/localhost/m/@v/list',
      '/example.com/m/@v/%zz.info',
    ]) {
      assert.throws(() => parseGoPath(bad), GoPathError, bad);
    }
  });
});

describe('[go] proxy keys', () => {
  test('defaults as NORA documents them, plus ours', () => {
    const { config } = parseConfigObject({}, {});
    assert.equal(config.go.proxy, 'https://proxy.golang.org');
    assert.equal(config.go.proxy_timeout, 30);
    assert.equal(config.go.proxy_timeout_zip, 120);
    assert.equal(config.go.max_zip_size, 104857600);
    assert.equal(config.go.metadata_ttl, 300);
    assert.deepEqual(config.go.private, []);
    assert.deepEqual([...sumdbUpstreams(config.go).keys()], ['sum.golang.org']);
  });

  test('NORA_GO_* variables', () => {
    const { config } = parseConfigObject(
      {},
      {
        NORA_GO_PROXY: 'none',
        NORA_GO_PROXY_TIMEOUT: '7',
        NORA_GO_PROXY_TIMEOUT_ZIP: '9',
        NORA_GO_MAX_ZIP_SIZE: '1000',
        NORA_GO_METADATA_TTL: '-1',
        NORA_GO_PRIVATE: 'corp.example, *.internal',
        NORA_GO_SUMDB: 'sum.test=http://127.0.0.1:9/db,https://sum.golang.org',
      },
    );
    assert.equal(config.go.proxy, '');
    assert.equal(config.go.proxy_timeout, 7);
    assert.equal(config.go.proxy_timeout_zip, 9);
    assert.equal(config.go.max_zip_size, 1000);
    assert.equal(config.go.metadata_ttl, -1);
    assert.deepEqual(config.go.private, ['corp.example', '*.internal']);
    assert.deepEqual(sumdbUpstreams(config.go).get('sum.test'), {
      name: 'sum.test',
      url: 'http://127.0.0.1:9/db',
    });
    assert.equal(parseSumdbEntry('not a url'), undefined);
  });

  test('sumdb in the file: a list, or a string as NORA_GO_SUMDB takes it ("none", a list)', () => {
    assert.deepEqual(parseConfigObject({ go: { sumdb: 'none' } }, {}).config.go.sumdb, []);
    assert.deepEqual(parseConfigObject({ go: { sumdb: '' } }, {}).config.go.sumdb, []);
    assert.deepEqual(parseConfigObject({ go: { sumdb: [] } }, {}).config.go.sumdb, []);
    const listed = parseConfigObject(
      { go: { sumdb: 'sum.test=http://127.0.0.1:9/db, https://sum.golang.org' } },
      {},
    ).config.go;
    assert.deepEqual([...sumdbUpstreams(listed).keys()], ['sum.test', 'sum.golang.org']);
    assert.throws(() => parseConfigObject({ go: { sumdb: 'not a url' } }, {}));
  });

  test('private globs: GOPRIVATE semantics (a prefix of path elements)', () => {
    const globs = ['corp.example', '*.internal/secret'];
    assert.ok(isPrivateModule(globs, 'corp.example'));
    assert.ok(isPrivateModule(globs, 'corp.example/a/b'));
    assert.ok(isPrivateModule(globs, 'x.internal/secret/y'));
    assert.ok(!isPrivateModule(globs, 'corp.example.com/a'));
    assert.ok(!isPrivateModule(globs, 'x.internal/public'));
    assert.ok(!isPrivateModule([], 'corp.example'));
  });

  test('a malformed private glob is refused, not silently never matched', () => {
    for (const bad of ['[', 'corp.example/[x', 'a\\', '/', '[]']) {
      assert.throws(
        () => parseConfigObject({ go: { private: [bad] } }, {}),
        /go\.private\[0\].*not a GOPRIVATE-style pattern/s,
        bad,
      );
    }
    assert.throws(
      () => parseConfigObject({}, { NORA_GO_PRIVATE: 'corp.example,[' }),
      /go\.private\[1\] \(from NORA_GO_PRIVATE\)/,
    );
    const { config } = parseConfigObject({ go: { private: ['corp.example/', '*/[a-c]x'] } }, {});
    assert.deepEqual(config.go.private, ['corp.example/', '*/[a-c]x']);
  });

  test('private as a string in GOPRIVATE syntax (copied from GOPRIVATE): a comma-separated list', () => {
    const { config } = parseConfigObject({ go: { private: 'corp.example/*, other.example,' } }, {});
    assert.deepEqual(config.go.private, ['corp.example/*', 'other.example']);
    assert.deepEqual(parseConfigObject({ go: { private: '' } }, {}).config.go.private, []);
    // Its entries are checked as a list's are, by position.
    assert.throws(
      () => parseConfigObject({ go: { private: 'corp.example,[' } }, {}),
      /go\.private\[1\]: not a GOPRIVATE-style pattern/,
    );
    // The variable still wins over the file.
    const both = parseConfigObject(
      { go: { private: 'corp.example' } },
      { NORA_GO_PRIVATE: 'env.example' },
    );
    assert.deepEqual(both.config.go.private, ['env.example']);
  });
});

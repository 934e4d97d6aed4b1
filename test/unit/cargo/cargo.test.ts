/**
 * Cargo building blocks without a server: crate-name rules, SemVer precedence keys, index prefix
 * paths (both ways), index-line serialization and ETags, the publish → index entry mapping, and
 * the publish body reader fed one byte at a time.
 */
import assert from 'node:assert/strict';
import { etagMatches, notModified } from '../../../src/core/http-conditional.ts';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { describe, test } from 'node:test';
import { RegistryError } from '../../../src/core/errors.ts';
import { openDatabase } from '../../../src/db/database.ts';
import {
  entryLine,
  indexPath,
  ModifiedClock,
  nameFromIndexPath,
  registryConfig,
  renderIndexFile,
} from '../../../src/formats/cargo/index-file.ts';
import { type CargoTables, cargoMigrations } from '../../../src/formats/cargo/migrations.ts';
import type { IndexEntry } from '../../../src/formats/cargo/model.ts';
import {
  canonicalName,
  crateNameProblem,
  isCargoVersionReq,
  parseCrateVersion,
} from '../../../src/formats/cargo/names.ts';
import {
  indexEntry,
  publishMetadataSchema,
  receivePublish,
} from '../../../src/formats/cargo/publish.ts';
import { CargoStore } from '../../../src/formats/cargo/store.ts';
import { makeCrate, metadata, publishBody } from '../../integration/cargo/fixtures.ts';

describe('cargo version requirements', () => {
  test('what Cargo reads', () => {
    for (const req of [
      '^1.0',
      '1',
      '1.2.3',
      '*',
      '1.*',
      '1.2.*',
      '>=1, <2',
      '~1.2',
      '=1.0.0-rc.1',
      '>= 0.3.2',
      '^0.4.17',
    ]) {
      assert.ok(isCargoVersionReq(req), req);
    }
  });
  test('what it does not', () => {
    for (const req of ['not a req!!', '', '^', '1.2.3.4', '>=1,', 'latest', '1 || 2', '^1.0; rm']) {
      assert.ok(!isCargoVersionReq(req), req);
    }
  });
});

describe('cargo names', () => {
  test('valid names', () => {
    for (const name of ['a', 'serde', 'Serde_JSON', 'foo-bar', 'x1', 'a'.repeat(64)]) {
      assert.equal(crateNameProblem(name), undefined, name);
    }
  });
  test('invalid names, each with its reason', () => {
    const cases: [string, RegExp][] = [
      ['', /empty/],
      ['1x', /start with an ASCII letter/],
      ['_x', /start with an ASCII letter/],
      ['a.b', /may only hold/],
      ['a/b', /may only hold/],
      ['é', /start with/],
      ['a'.repeat(65), /longer than 64/],
      ['nul', /reserved/],
      ['NUL', /reserved/],
      ['lpt9', /reserved/],
      ['std', /reserved/],
      ['proc-macro', /reserved/],
      ['Proc_Macro', /reserved/],
    ];
    for (const [name, reason] of cases) assert.match(crateNameProblem(name) ?? '', reason, name);
  });
  test('canonical names fold case and - / _', () => {
    assert.equal(canonicalName('Foo-Bar'), 'foo_bar');
    assert.equal(canonicalName('foo_bar'), 'foo_bar');
  });
  test('SemVer keys drop build metadata only', () => {
    assert.equal(parseCrateVersion('1.0.0+a')?.key, '1.0.0');
    assert.equal(parseCrateVersion('1.0.0+b')?.key, '1.0.0');
    assert.equal(parseCrateVersion('1.0.0-rc.1+x')?.key, '1.0.0-rc.1');
    for (const bad of ['1.0', 'v1.0.0', '=1.0.0', '01.0.0', '1.0.0-', ' 1.0.0', 'x']) {
      assert.equal(parseCrateVersion(bad), undefined, bad);
    }
  });
});

describe('cargo index files', () => {
  test('prefix paths (Cargo book) and back', () => {
    const cases: [string, string][] = [
      ['a', '1/a'],
      ['AB', '2/ab'],
      ['abc', '3/a/abc'],
      ['Serde', 'se/rd/serde'],
      ['foo-bar', 'fo/o-/foo-bar'],
    ];
    for (const [name, expected] of cases) {
      assert.equal(indexPath(name), expected);
      assert.equal(nameFromIndexPath(expected), name.toLowerCase());
      assert.equal(nameFromIndexPath(expected.toUpperCase()), name.toLowerCase());
    }
    for (const bad of [
      '3/b/abc',
      'se/rd',
      'se/rd/ser',
      '../se/rd/serde',
      '1/.',
      'se/rd/se.de',
      '',
    ]) {
      assert.equal(nameFromIndexPath(bad), undefined, bad);
    }
  });

  const entry: IndexEntry = {
    name: 'demo',
    vers: '1.0.0',
    deps: [
      {
        name: 'x',
        req: '^1',
        features: [],
        optional: false,
        default_features: true,
        target: null,
        kind: 'normal',
      },
    ],
    cksum: 'ab'.repeat(32),
    features: {},
    yanked: false,
    links: null,
  };

  test('one line per entry, crates.io field order, optionals left out when absent', () => {
    assert.equal(
      entryLine(entry),
      '{"name":"demo","vers":"1.0.0","deps":[{"name":"x","req":"^1","features":[],"optional":false,' +
        '"default_features":true,"target":null,"kind":"normal"}],"cksum":"' +
        'ab'.repeat(32) +
        '","features":{},"yanked":false}',
    );
    const rendered = renderIndexFile({
      name: 'demo',
      entries: [entry, { ...entry, vers: '1.1.0' }],
    });
    const text = rendered.body.toString('utf8');
    assert.equal(text.split('\n').length, 3);
    assert.ok(text.endsWith('\n'));
    assert.match(rendered.etag, /^"[0-9a-f]{64}"$/);
    const yanked = renderIndexFile({
      name: 'demo',
      entries: [entry, { ...entry, vers: '1.1.0', yanked: true }],
    });
    assert.notEqual(yanked.etag, rendered.etag);
  });

  test('If-None-Match: lists, weak tags, *', () => {
    assert.ok(etagMatches('"a", "b"', '"b"'));
    assert.ok(etagMatches('W/"b"', '"b"'));
    assert.ok(etagMatches('*', '"b"'));
    assert.ok(!etagMatches('"a"', '"b"'));
    assert.ok(!etagMatches(undefined, '"b"'));
  });

  test('Last-Modified: kept while the ETag holds, strictly later on every change', () => {
    let now = Date.UTC(2026, 11, 1, 12, 0, 0, 400);
    const clock = new ModifiedClock(() => now);
    const a = clock.of('r\nfoo', '"a"');
    assert.equal(a.header, 'Tue, 01 Dec 2026 12:00:00 GMT');
    now += 5000;
    assert.equal(clock.of('r\nfoo', '"a"'), a, 'unchanged bytes keep their date');
    const b = clock.of('r\nfoo', '"b"');
    assert.equal(b.seconds, a.seconds + 5);
    // Two changes within one second still get two dates, and bytes that come back move forward.
    const back = clock.of('r\nfoo', '"a"');
    assert.equal(back.seconds, b.seconds + 1);
    assert.equal(clock.of('other\nfoo', '"a"').seconds, b.seconds, 'per repository and crate');
  });

  test('If-None-Match decides alone; else If-Modified-Since not before Last-Modified', () => {
    const at = Date.UTC(2026, 11, 1, 12, 0, 0) / 1000;
    const date = (s: number) => new Date(s * 1000).toUTCString();
    assert.equal(notModified('"x"', date(at), '"x"', at), true);
    assert.equal(notModified('"y"', date(at + 60), '"x"', at), false, 'the ETag wins');
    assert.equal(notModified(undefined, date(at), '"x"', at), true);
    assert.equal(notModified(undefined, date(at + 1), '"x"', at), true);
    assert.equal(notModified(undefined, date(at - 1), '"x"', at), false);
    assert.equal(notModified(undefined, 'not a date', '"x"', at), false);
    assert.equal(notModified(undefined, undefined, '"x"', at), false);
  });

  test('config.json', () => {
    assert.deepEqual(registryConfig('http://h/cargo', false), {
      dl: 'http://h/cargo/api/v1/crates',
      api: 'http://h/cargo',
    });
    assert.equal(registryConfig('http://h/cargo', true)['auth-required'], true);
  });
});

describe('cargo publish', () => {
  test('metadata → index entry: renames, registry, features2 / v 2, rust_version', () => {
    const meta = publishMetadataSchema.parse(
      metadata('demo', '1.0.0', {
        deps: [
          { name: 'real', version_req: '^2', explicit_name_in_toml: 'alias', kind: 'dev' },
          { name: 'other', version_req: '*', registry: 'https://example.invalid/index' },
        ],
        features: { a: ['real/x'], b: ['dep:alias'], c: ['alias?/std'] },
        links: 'z',
        rust_version: '1.60',
      }),
    );
    const e = indexEntry(meta, 'cd'.repeat(32));
    assert.deepEqual(e.deps, [
      {
        name: 'alias',
        req: '^2',
        features: [],
        optional: false,
        default_features: true,
        target: null,
        kind: 'dev',
        package: 'real',
      },
      {
        name: 'other',
        req: '*',
        features: [],
        optional: false,
        default_features: true,
        target: null,
        kind: 'normal',
        registry: 'https://example.invalid/index',
      },
    ]);
    assert.deepEqual(e.features, { a: ['real/x'] });
    assert.deepEqual(e.features2, { b: ['dep:alias'], c: ['alias?/std'] });
    assert.equal(e.v, 2);
    assert.equal(e.links, 'z');
    assert.equal(e.rust_version, '1.60');
  });

  test('the body reader copes with one-byte chunks; the spool holds exactly the .crate', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'nora-cargo-unit-'));
    try {
      const crate = await makeCrate('demo', '1.0.0');
      const body = publishBody(metadata('demo', '1.0.0'), crate);
      const oneByte = Readable.from(
        (function* () {
          for (const byte of body) yield Buffer.from([byte]);
        })(),
      );
      let n = 0;
      const received = await receivePublish(oneByte, {
        maxCrateBytes: 1024 * 1024,
        spoolPath: () => Promise.resolve(path.join(dir, `spool-${n++}`)),
      });
      assert.equal(received.size, crate.length);
      assert.deepEqual(await fs.readFile(received.spool), crate);
      assert.equal(received.entry.name, 'demo');
      assert.equal(received.version.key, '1.0.0');
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });

  test('authorize runs before the .crate is read, and a refusal leaves no spool file', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'nora-cargo-unit-'));
    try {
      const body = publishBody(metadata('demo', '1.0.0'), await makeCrate('demo', '1.0.0'));
      await assert.rejects(
        receivePublish(Readable.from([body]), {
          maxCrateBytes: 1024 * 1024,
          spoolPath: () => Promise.resolve(path.join(dir, 'spool')),
          authorize: (name) => {
            throw new RegistryError('DENIED', `no ${name}`);
          },
        }),
        /no demo/,
      );
      assert.deepEqual(await fs.readdir(dir), []);
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});

describe('cargo store', () => {
  test('hasCrate answers are kept; a publish of any spelling makes "absent" stale', async () => {
    const db = await openDatabase({ file: ':memory:', migrations: cargoMigrations });
    try {
      const store = new CargoStore(db.$extendTables<CargoTables>());
      assert.equal(store.hasCrateKnown('h', 'foo_bar'), undefined, 'nothing read yet');
      assert.equal(await store.hasCrate('h', 'foo_bar'), false);
      assert.equal(store.hasCrateKnown('h', 'foo_bar'), false, 'kept: no SQL next time');
      assert.equal(await store.hasCrate('other', 'foo_bar'), false);
      const entry = {
        ...indexEntry(publishMetadataSchema.parse(metadata('Foo-Bar', '1.0.0')), 'a'.repeat(64)),
        yanked: false,
      };
      await store.publish(
        'h',
        canonicalName('Foo-Bar'),
        {
          displayName: 'Foo-Bar',
          versionKey: '1.0.0',
          entry,
          size: 1,
          blob: `sha256:${'a'.repeat(64)}`,
          description: undefined,
          keywords: [],
          publisher: undefined,
        },
        () => undefined,
      );
      assert.equal(store.hasCrateKnown('h', 'foo_bar'), undefined, 'stale after the publish');
      assert.equal(await store.hasCrate('h', 'foo_bar'), true);
      assert.equal(store.hasCrateKnown('h', 'FOO-BAR'), true, 'one answer per canonical name');
      assert.equal(
        store.hasCrateKnown('other', 'foo_bar'),
        false,
        'other repositories keep theirs',
      );
    } finally {
      await db.destroy();
    }
  });
});

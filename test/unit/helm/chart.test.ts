/**
 * Chart archives and index.yaml rendering: file names, SemVer 2, Chart.yaml validation, YAML
 * bombs, corrupt archives, and the rendered index read back by a YAML parser as Helm's IndexFile.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { describe, test } from 'node:test';
import { parse as parseYaml } from 'yaml';
import {
  chartMetadata,
  compareVersionsDesc,
  entryFragment,
  isChartName,
  isChartVersion,
  MAX_ENTRIES,
  MAX_UNPACKED_BYTES,
  parseBoundedYaml,
  parseChartFilename,
  provenanceChart,
  readChartMetadata,
} from '../../../src/formats/helm/chart.ts';
import { renderIndexText, sortEntries } from '../../../src/formats/helm/index-render.ts';
import { parseUpstreamIndex } from '../../../src/formats/helm/upstream-index.ts';
import { buildChart, provenance } from '../../helpers/helm.ts';
import { cpuNow } from '../../helpers/properties.ts';

const code = (err: unknown) => (err as { code?: string }).code;

describe('helm chart names, versions and file names', () => {
  test('names: letters, digits, . _ -, never a path', () => {
    for (const ok of ['nginx', 'my-chart', 'a.b_c', 'X1']) assert.ok(isChartName(ok), ok);
    for (const bad of ['', '..', 'a/b', '../x', '-x', '.hidden', 'a..b', 'a b', 'a%2fb']) {
      assert.ok(!isChartName(bad), bad);
    }
  });

  test('versions: SemVer 2 with an optional leading v, as Helm (no leading zeros, no 2-part)', () => {
    for (const ok of [
      '1.0.0',
      'v1.0.0',
      'v0.1.0-rc.1+b',
      '0.1.0-rc.1',
      '1.2.3+build.5',
      '10.20.30-alpha.1+x',
      '18446744073709551615.0.0',
    ]) {
      assert.ok(isChartVersion(ok), ok);
    }
    // Past uint64 (Helm's parser) is not a version either.
    for (const bad of [
      'V1.0.0',
      'vv1.0.0',
      'v1.0',
      '1.0',
      '01.0.0',
      '1.0.0-',
      'latest',
      '1.0.0-01',
      '18446744073709551616.0.0',
      '1.99999999999999999999999.0',
    ]) {
      assert.ok(!isChartVersion(bad), bad);
    }
    // `version: 1.0` is a YAML number: the message says so, not "version 1" (trial).
    assert.throws(
      () => chartMetadata({ apiVersion: 'v2', name: 'x', version: 1 }),
      /version is the number 1 in YAML, not a string: quote a SemVer 2 version/,
    );
    // `name: 123` likewise: a number, not a missing name (trial 18 fmts F5).
    assert.throws(
      () => chartMetadata({ apiVersion: 'v2', name: 123, version: '1.0.0' }),
      /name is the number 123 in YAML, not a string: quote it \(name: "123"\)/,
    );
  });

  test('a number is quoted as written, a nested field named by its path (trial 19 fmts F6)', async () => {
    const refused = async (chartYaml: string, message: string) => {
      const archive = await buildChart({ name: 'x', version: '1.0.0', chartYaml });
      await assert.rejects(readChartMetadata(Readable.from([archive])), (err: Error) => {
        assert.equal(code(err), 'BAD_REQUEST');
        assert.equal(err.message, `invalid Chart.yaml: ${message}`);
        return true;
      });
    };
    await refused(
      'apiVersion: v2\nname: x\nversion: 1.0\n',
      'version is the number 1.0 in YAML, not a string: quote a SemVer 2 version (version: "1.0.0")',
    );
    await refused(
      'apiVersion: v2\nname: x\nversion: 2.10\n',
      'version is the number 2.10 in YAML, not a string: quote a SemVer 2 version (version: "2.10.0")',
    );
    await refused(
      'apiVersion: v2\nname: x\nversion: 3\n',
      'version is the number 3 in YAML, not a string: quote a SemVer 2 version (version: "1.0.0")',
    );
    await refused(
      'apiVersion: v2\nname: 0x1F\nversion: 1.0.0\n',
      'name is the number 0x1F in YAML, not a string: quote it (name: "0x1F")',
    );
    await refused(
      'apiVersion: v2\nname: x\nversion: 1.0.0\nmaintainers: [{name: ok}, {name: 5}]\n',
      'maintainers[1].name must be a string',
    );
    await refused(
      'apiVersion: v2\nname: x\nversion: 1.0.0\nmaintainers: [oops]\n',
      'maintainers[0] must be a mapping',
    );
    await refused(
      'apiVersion: v2\nname: x\nversion: 1.0.0\ndependencies:\n  - name: a\n  - name: b\n    repository: [1]\n',
      'dependencies[1].repository must be a string',
    );
    await refused(
      'apiVersion: v2\nname: x\nversion: 1.0.0\ndependencies:\n  - version: "1"\n',
      'dependencies[0] needs a name',
    );
    await refused(
      'apiVersion: v2\nname: x\nversion: 1.0.0\ndependencies:\n  - name: a\n    enabled: "yes"\n',
      'dependencies[0].enabled must be a boolean',
    );
    // A top-level field keeps its bare name.
    await refused('apiVersion: v2\nname: x\nversion: 1.0.0\nhome: [1]\n', 'home must be a string');
  });

  test('a numeric appVersion/kubeVersion Helm reads differently is refused; bad elements are named (trial 20 fmts F2)', async () => {
    const read = async (chartYaml: string) =>
      readChartMetadata(
        Readable.from([await buildChart({ name: 'x', version: '1.0.0', chartYaml })]),
      );
    const refused = async (chartYaml: string, message: string) => {
      await assert.rejects(read(chartYaml), (err: Error) => {
        assert.equal(code(err), 'BAD_REQUEST');
        assert.equal(err.message, `invalid Chart.yaml: ${message}`);
        return true;
      });
    };
    const head = 'apiVersion: v2\nname: x\nversion: 1.0.0\n';
    await refused(
      `${head}kubeVersion: 1.20\n`,
      'kubeVersion is the number 1.20 in YAML, which Helm reads as 1.2: quote it (kubeVersion: "1.20")',
    );
    await refused(
      `${head}appVersion: 1.10\n`,
      'appVersion is the number 1.10 in YAML, which Helm reads as 1.1: quote it (appVersion: "1.10")',
    );
    // Numbers whose reading is their text are kept as that text.
    assert.equal((await read(`${head}appVersion: 2\n`))['appVersion'], '2');
    assert.equal((await read(`${head}appVersion: 1.5\n`))['appVersion'], '1.5');
    assert.equal((await read(`${head}kubeVersion: 1.21\n`))['kubeVersion'], '1.21');
    assert.equal((await read(`${head}kubeVersion: "1.20"\n`))['kubeVersion'], '1.20');
    // Helm rounds a float to float32 and reads YAML 1.1 integers: judged as Helm reads them.
    await refused(
      `${head}appVersion: 1.23456789\n`,
      'appVersion is the number 1.23456789 in YAML, which Helm reads as 1.2345679: quote it (appVersion: "1.23456789")',
    );
    await refused(
      `${head}appVersion: 1_000\n`,
      'appVersion is the number 1_000 in YAML, which Helm reads as 1000: quote it (appVersion: "1_000")',
    );
    assert.equal((await read(`${head}appVersion: 123456789012\n`))['appVersion'], '123456789012');
    assert.equal((await read(`${head}appVersion: v1.2.3\n`))['appVersion'], 'v1.2.3');
    // YAML 1.1 booleans as Helm reads them; an explicit !!str is text (trial 22 F4).
    await refused(
      `${head}appVersion: yes\n`,
      'appVersion is the boolean yes in YAML, which Helm reads as true: quote it (appVersion: "yes")',
    );
    await refused(
      `${head}kubeVersion: on\n`,
      'kubeVersion is the boolean on in YAML, which Helm reads as true: quote it (kubeVersion: "on")',
    );
    assert.equal((await read(`${head}appVersion: true\n`))['appVersion'], 'true');
    assert.equal((await read(`${head}appVersion: !!str 1.20\n`))['appVersion'], '1.20');
    await refused(
      `${head}annotations: {ok: fine, foo: 1}\n`,
      'annotations must map strings to strings: annotations.foo is a number',
    );
    await refused(
      `${head}annotations:\n  artifacthub.io/changes: [a]\n`,
      'annotations must map strings to strings: annotations["artifacthub.io/changes"] is a list',
    );
    await refused(
      `${head}keywords: [a, 1.50, true]\n`,
      'keywords must be a list of strings: keywords[1] is a number',
    );
    await refused(`${head}keywords: cache\n`, 'keywords must be a list of strings');
  });

  test('file names split at the first dash followed by a SemVer version', () => {
    assert.deepEqual(parseChartFilename('my-chart-1.0.0-rc.1.tgz'), {
      name: 'my-chart',
      version: '1.0.0-rc.1',
      prov: false,
    });
    assert.deepEqual(parseChartFilename('nginx-2.3.4.tgz.prov'), {
      name: 'nginx',
      version: '2.3.4',
      prov: true,
    });
    assert.equal(parseChartFilename('nginx.tgz'), undefined);
    assert.equal(parseChartFilename('nginx-1.0.tgz'), undefined);
    assert.equal(parseChartFilename('..-1.0.0.tgz'), undefined);
  });

  test('versions order newest first by SemVer precedence', () => {
    const sorted = ['1.0.0', '1.10.0', '1.2.0', '1.10.0-rc.1', '0.9.9'].sort(compareVersionsDesc);
    assert.deepEqual(sorted, ['1.10.0', '1.10.0-rc.1', '1.2.0', '1.0.0', '0.9.9']);
  });
});

describe('Chart.yaml', () => {
  test('a real archive: metadata read, typed, unknown keys dropped', async () => {
    const archive = await buildChart({
      name: 'demo',
      version: '1.2.3',
      extra:
        'dependencies:\n  - name: redis\n    version: "~17"\n    repository: https://example.com\n    tags: [cache]\nannotations:\n  category: Test\nkubeVersion: ">=1.20"\nhome: https://example.com\nfoo: bar\n',
    });
    const meta = await readChartMetadata(Readable.from([archive]));
    assert.equal(meta.name, 'demo');
    assert.equal(meta.version, '1.2.3');
    assert.equal(meta['appVersion'], '1.0.0');
    assert.deepEqual(meta['dependencies'], [
      { name: 'redis', version: '~17', repository: 'https://example.com', tags: ['cache'] },
    ]);
    assert.deepEqual(meta['annotations'], { category: 'Test' });
    assert.equal(meta['foo'], undefined);
  });

  test('refused: no Chart.yaml, not gzip, not tar, deeper Chart.yaml only', async () => {
    const noChart = await buildChart({ name: 'x', version: '1.0.0', dir: 'x/sub' });
    for (const body of [noChart, Buffer.from('not gzip at all'), gzipSync('not a tar')]) {
      await assert.rejects(readChartMetadata(Readable.from([body])), (err) => {
        assert.equal(code(err), 'BAD_REQUEST');
        return true;
      });
    }
    const whole = await buildChart({ name: 'cut', version: '1.0.0' });
    await assert.rejects(
      readChartMetadata(Readable.from([whole.subarray(0, whole.length - 10)])),
      /truncated/,
      'a chart cut short is said to be truncated, not "not gzip"',
    );
    await assert.rejects(
      readChartMetadata(Readable.from([Buffer.from('plain text')])),
      /not a gzip/,
    );
  });

  test('any single top folder is accepted; the name comes from Chart.yaml (trial fix 4)', async () => {
    const other = await buildChart({ name: 'mism', version: '1.0.0', dir: 'otherdir' });
    const meta = await readChartMetadata(Readable.from([other]));
    assert.equal(meta.name, 'mism');
    const dotted = await buildChart({ name: 'web', version: '1.0.0', dir: './pkg' });
    assert.equal((await readChartMetadata(Readable.from([dotted]))).name, 'web');
  });

  test('refused: entries outside the top folder, traversal, absolute paths (trial fix 4)', async () => {
    const cases: [string, RegExp][] = [
      ['elsewhere/notes.txt', /outside its top folder/],
      ['README.md', /is at the archive's top level: a chart archive holds one folder/],
      ['web/../../etc/passwd', /leaves the chart folder/],
      ['/etc/passwd', /absolute path/],
    ];
    for (const [name, message] of cases) {
      const body = await buildChart({
        name: 'web',
        version: '1.0.0',
        extraFiles: [{ name, text: 'x' }],
      });
      await assert.rejects(readChartMetadata(Readable.from([body])), (err) => {
        assert.equal(code(err), 'BAD_REQUEST', name);
        assert.match((err as Error).message, message, name);
        return true;
      });
    }
  });

  test('refused: a file Helm reads twice in the top folder (trial fix 3)', async () => {
    const evil = 'apiVersion: v2\nname: web\nversion: 6.6.6\n';
    for (const [name, text] of [
      ['web/Chart.yaml', evil],
      ['web/./Chart.yaml', evil],
      ['web/values.yaml', 'replicaCount: 99\n'],
      ['web/Chart.lock', 'x: 1\n'],
    ] as const) {
      const extra =
        name === 'web/Chart.lock'
          ? [
              { name, text },
              { name, text },
            ]
          : [{ name, text }];
      const body = await buildChart({ name: 'web', version: '1.0.0', extraFiles: extra });
      await assert.rejects(readChartMetadata(Readable.from([body])), (err) => {
        assert.equal(code(err), 'BAD_REQUEST', name);
        assert.match((err as Error).message, /twice/, name);
        return true;
      });
    }
    // A same-named file deeper down (a subchart's own Chart.yaml) is fine.
    const sub = await buildChart({
      name: 'web',
      version: '1.0.0',
      extraFiles: [{ name: 'web/charts/db/Chart.yaml', text: evil }],
    });
    assert.equal((await readChartMetadata(Readable.from([sub]))).version, '1.0.0');
  });

  test('the whole archive is bounded, not only what precedes Chart.yaml (TOO_LARGE)', async () => {
    // Found by review: a 600 MB unpacked archive (zeros after Chart.yaml) used to be accepted.
    const bomb = await buildChart({
      name: 'bomb',
      version: '1.0.0',
      extraFiles: [{ name: 'bomb/files/zeros.bin', zeros: MAX_UNPACKED_BYTES + 1024 * 1024 }],
    });
    assert.ok(bomb.length < 1024 * 1024, `a gzip bomb: ${bomb.length} bytes packed`);
    await assert.rejects(readChartMetadata(Readable.from([bomb])), (err) => {
      assert.equal(code(err), 'TOO_LARGE');
      assert.match((err as Error).message, /unpacks to more than/);
      return true;
    });
    const many = await buildChart({
      name: 'many',
      version: '1.0.0',
      extraFiles: Array.from({ length: MAX_ENTRIES }, (_, i) => ({
        name: `many/files/f${i}`,
        text: '',
      })),
    });
    await assert.rejects(readChartMetadata(Readable.from([many])), (err) => {
      assert.equal(code(err), 'TOO_LARGE');
      assert.match((err as Error).message, /more than 10000 entries/);
      return true;
    });
    // Within the bounds, files after Chart.yaml are read through and the chart is accepted.
    const fine = await buildChart({
      name: 'fine',
      version: '1.0.0',
      extraFiles: [{ name: 'fine/files/data.bin', zeros: 8 * 1024 * 1024 }],
    });
    assert.equal((await readChartMetadata(Readable.from([fine]))).name, 'fine');
  });

  test('refused: missing name/version, non-SemVer version, bad apiVersion, wrong types', () => {
    const base = { apiVersion: 'v2', name: 'x', version: '1.0.0' };
    for (const bad of [
      { ...base, name: undefined },
      { ...base, version: 'v1.0' },
      { ...base, version: '1.0' },
      { ...base, apiVersion: 'v3' },
      { ...base, name: '../etc' },
      { ...base, keywords: 'a,b' },
      { ...base, maintainers: 'me' },
      { ...base, annotations: { a: 1 } },
      { ...base, type: 'plugin' },
      { ...base, dependencies: [{ version: '1' }] },
      'a string',
    ]) {
      assert.throws(() => chartMetadata(bad), { name: 'RegistryError' }, JSON.stringify(bad));
    }
    assert.equal(chartMetadata({ ...base, appVersion: 1.1 })['appVersion'], '1.1');
  });

  test('a YAML bomb (aliases expanding) is refused, not expanded', () => {
    const lines = ['a: &a ["x","x","x","x","x","x","x","x","x","x"]'];
    for (let i = 1; i < 9; i++) {
      const prev = String.fromCharCode(96 + i);
      const name = String.fromCharCode(97 + i);
      lines.push(`${name}: &${name} [${Array(10).fill(`*${prev}`).join(',')}]`);
    }
    // CPU time: the bound is on the parser's work (an expanded bomb is 10^9 nodes), which wall
    // time on a loaded machine overstates.
    const started = cpuNow();
    assert.throws(() => parseBoundedYaml(lines.join('\n'), 'Chart.yaml'), {
      name: 'RegistryError',
    });
    assert.ok(cpuNow() - started < 2000);
  });

  test('a provenance file names its chart', async () => {
    const archive = await buildChart({ name: 'demo', version: '1.0.0' });
    assert.deepEqual(provenanceChart(provenance('demo', '1.0.0', archive)), {
      name: 'demo',
      version: '1.0.0',
      chartDigest: `sha256:${createHash('sha256').update(archive).digest('hex')}`,
    });
    const other = provenance('demo', '1.0.0', archive).replace('demo-1.0.0.tgz', 'other-1.tgz');
    assert.equal(provenanceChart(other).chartDigest, undefined, 'names no digest for the chart');
    assert.throws(() => provenanceChart('hello'), { name: 'RegistryError' });
  });
});

describe('index.yaml rendering', () => {
  test('fragments concatenated read back as Helm IndexFile, sorted, escapes safe', () => {
    const weird = 'line\u2028sep \u0085 "quoted" \\ tab\t: # not a comment';
    const entries = sortEntries([
      {
        name: 'b',
        version: '1.0.0',
        fragment: entryFragment({ name: 'b', version: '1.0.0', urls: ['charts/b-1.0.0.tgz'] }),
      },
      {
        name: 'a',
        version: '1.0.0',
        fragment: entryFragment({ name: 'a', version: '1.0.0', description: weird, urls: ['x'] }),
      },
      {
        name: 'a',
        version: '2.0.0',
        fragment: entryFragment({ name: 'a', version: '2.0.0', urls: ['y'] }),
      },
      {
        name: 'true',
        version: '1.0.0',
        fragment: entryFragment({ name: 'true', version: '1.0.0', urls: ['z'] }),
      },
    ]);
    const text = renderIndexText(entries, Date.UTC(2026, 0, 1));
    const doc = parseYaml(text) as {
      apiVersion: string;
      entries: Record<string, { version: string; description?: string }[]>;
      generated: string;
    };
    assert.equal(doc.apiVersion, 'v1');
    assert.deepEqual(Object.keys(doc.entries), ['a', 'b', 'true']);
    assert.deepEqual(
      doc.entries['a']?.map((e) => e.version),
      ['2.0.0', '1.0.0'],
    );
    assert.equal(doc.entries['a'].at(1)?.description, weird);
    assert.equal(doc.generated, '2026-01-01T00:00:00.000Z');
    assert.deepEqual((parseYaml(renderIndexText([], 0)) as { entries: unknown }).entries, {});
  });

  test('an index with no change known is generated now, never at the epoch (trial fix 6)', () => {
    const before = Date.now();
    const doc = parseYaml(renderIndexText([], 0)) as { generated: string };
    const generated = Date.parse(doc.generated);
    assert.ok(generated >= before && generated <= Date.now(), doc.generated);
  });

  test('upstream index: urls rewritten to ours, bad entries skipped, digests kept', () => {
    const digest = 'a'.repeat(64);
    const parsed = parseUpstreamIndex(
      [
        'apiVersion: v1',
        'entries:',
        '  nginx:',
        `  - {name: nginx, version: 1.0.0, digest: ${digest}, urls: [nginx-1.0.0.tgz]}`,
        `  - {name: nginx, version: 2.0.0, digest: "sha256:${'b'.repeat(64)}", urls: ["https://cdn.example.com/nginx-2.0.0.tgz"]}`,
        // Never servable (F4): no digest and another host, a file URL, a malformed digest.
        '  - {name: nginx, version: 3.0.0, urls: ["https://cdn.example.com/nginx-3.0.0.tgz"]}',
        '  - {name: nginx, version: 4.0.0, urls: ["file:///etc/passwd"]}',
        '  - {name: nginx, version: 5.0.0, digest: zzz, urls: [nginx-1.0.0.tgz]}',
        // A field Helm cannot decode (F3): the entry is left out, not passed on.
        '  - {name: nginx, version: 6.0.0, keywords: cache, urls: [nginx-1.0.0.tgz]}',
        '  - {name: nginx, version: 7.0.0, maintainers: someone, urls: [nginx-1.0.0.tgz]}',
        '  - {name: nginx, version: 8.0.0, created: yesterday, urls: [nginx-1.0.0.tgz]}',
        '  - {name: nginx, version: not-semver, urls: [x.tgz]}',
        '  - {name: other, version: 1.0.0, urls: [x.tgz]}',
        '  "../evil":',
        '  - {name: ../evil, version: 1.0.0, urls: [x.tgz]}',
      ].join('\n'),
      'http://up.example/charts',
      0,
    );
    assert.deepEqual(
      parsed.charts.map((c) => [c.name, c.version, c.url, c.sha256]),
      [
        ['nginx', '2.0.0', 'https://cdn.example.com/nginx-2.0.0.tgz', 'b'.repeat(64)],
        ['nginx', '1.0.0', 'http://up.example/charts/nginx-1.0.0.tgz', digest],
      ],
    );
    assert.deepEqual((JSON.parse(parsed.charts[0]?.fragment ?? '{}') as { urls: string[] }).urls, [
      'charts/nginx-2.0.0.tgz',
    ]);
    assert.ok(parsed.skipped);
    assert.equal(parsed.skipped.count, 6);
    assert.match(parsed.skipped.examples.join('\n'), /nginx 6\.0\.0: keywords must be a list/);
  });

  test('tagged appVersion/kubeVersion and 1e400 as Helm reads them, on upload and in an upstream index (trial 23 fmts F1)', async () => {
    const read = async (chartYaml: string) =>
      readChartMetadata(
        Readable.from([await buildChart({ name: 'x', version: '1.0.0', chartYaml })]),
      );
    const head = 'apiVersion: v2\nname: x\nversion: 1.0.0\n';
    // Written, what Helm (sigs.k8s.io/yaml v1.4.0) reads: the values of the trial's report.
    const cases: [string, string][] = [
      ['!!bool yes', 'true'],
      ['!!bool on', 'true'],
      ['!!bool no', 'false'],
      ['!!int 017', '15'],
      ['!!int 1_000', '1000'],
      ['!!float .inf', '+Inf'],
      ['!!timestamp 2021-01-01', '2021-01-01'],
      ['1e400', '1e400'],
      ['!!str 1.10', '1.10'],
      ['"1.20"', '1.20'],
    ];
    for (const [written, helm] of cases) {
      for (const key of ['appVersion', 'kubeVersion']) {
        const meta = await read(`${head}${key}: ${written}\n`);
        assert.equal(meta[key], helm, `upload ${key}: ${written}`);
      }
    }
    // Untagged, the proxy side reads as Helm does too (the upload refuses these: "quote it").
    const proxied: [string, string][] = [
      ...cases,
      ['yes', 'true'],
      ['1.10', '1.1'],
      ['0x1F', '31'],
      ['true', 'true'],
      ['2', '2'],
    ];
    const index = [
      'entries:',
      '  a:',
      ...proxied.map(
        ([written], i) =>
          `  - {name: a, version: 1.0.${i}, appVersion: ${written}, kubeVersion: ${written}, urls: [a.tgz]}`,
      ),
    ].join('\n');
    const parsed = parseUpstreamIndex(index, 'http://up.example/', 0);
    for (const [i, [written, helm]] of proxied.entries()) {
      const chart = parsed.charts.find((c) => c.version === `1.0.${i}`);
      const entry = JSON.parse(chart?.fragment ?? '{}') as Record<string, unknown>;
      assert.equal(entry['appVersion'], helm, `proxy appVersion: ${written}`);
      assert.equal(entry['kubeVersion'], helm, `proxy kubeVersion: ${written}`);
    }
    // What go-yaml cannot decode as its tag says is refused (Helm refuses the whole file).
    await assert.rejects(read(`${head}appVersion: !!float 1e400\n`), (err: Error) => {
      assert.equal(code(err), 'BAD_REQUEST');
      assert.equal(
        err.message,
        'invalid Chart.yaml: appVersion is !!float 1e400 in YAML, which Helm cannot read (cannot decode !!str `1e400` as a !!float): quote it without the tag (appVersion: "1e400")',
      );
      return true;
    });
    await assert.rejects(
      read(`${head}kubeVersion: !!bool maybe\n`),
      /cannot decode !!str `maybe` as a !!bool/,
    );
    const skipped = parseUpstreamIndex(
      'entries:\n  a:\n  - {name: a, version: 1.0.0, appVersion: !!int 1.5, urls: [a.tgz]}\n',
      'http://up.example/',
      0,
    );
    assert.equal(skipped.charts.length, 0);
    assert.deepEqual(skipped.skipped?.examples, [
      'a 1.0.0: appVersion is !!int 1.5 in YAML, which Helm cannot read (cannot decode !!float `1.5` as a !!int)',
    ]);
  });

  test('upstream index: field types as Helm decodes them; numbers and a missing apiVersion as Helm reads them', () => {
    const parsed = parseUpstreamIndex(
      [
        'entries:',
        '  a:',
        '  - {name: a, version: 1.0.0, appVersion: 1.10, keywords: [x], created: "2026-01-02T03:04:05.123Z", extra: {any: thing}, urls: [a.tgz]}',
        '  - {name: a, version: 0.9.0, apiVersion: v2, sources: [1], urls: [a.tgz]}',
        '  - {name: a, version: 0.8.0, apiVersion: v2, deprecated: "yes", urls: [a.tgz]}',
        '  - {name: a, version: 0.7.0, apiVersion: v2, annotations: {a: 1}, urls: [a.tgz]}',
      ].join('\n'),
      'http://up.example/',
      0,
    );
    assert.deepEqual(
      parsed.charts.map((c) => c.version),
      ['1.0.0'],
    );
    assert.deepEqual(JSON.parse(parsed.charts[0]?.fragment ?? '{}'), {
      apiVersion: 'v1',
      name: 'a',
      version: '1.0.0',
      appVersion: '1.1',
      keywords: ['x'],
      urls: ['charts/a-1.0.0.tgz'],
      created: '2026-01-02T03:04:05.123Z',
    });
    assert.equal(parsed.skipped?.count, 3);
  });
});

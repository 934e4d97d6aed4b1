/**
 * Property tests for the Helm parsers of untrusted input: chart file names in URLs, YAML text
 * (Chart.yaml, provenance files, upstream index.yaml), the parsed Chart.yaml metadata, upstream
 * indexes and the NORA_HELM_PROXIES list. Uploaded input fails with a RegistryError (400) and
 * nothing else; what is accepted can always be written back into index.yaml; alias bombs and
 * deep nesting are refused in milliseconds.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import fc from 'fast-check';
import { stringify } from 'yaml';
import { isRegistryError } from '../../../src/core/errors.ts';
import {
  chartFilename,
  chartMetadata,
  entryFragment,
  isChartName,
  isChartVersion,
  MAX_YAML_DEPTH,
  parseBoundedYaml,
  parseChartFilename,
  chartFilenameReadings,
  provenanceChart,
  readChartMetadata,
} from '../../../src/formats/helm/chart.ts';
import { parseHelmUpstreamList } from '../../../src/formats/helm/config.ts';
import { parseUpstreamIndex } from '../../../src/formats/helm/upstream-index.ts';
import { buildChart, provenance } from '../../helpers/helm.ts';
import {
  cpuNow,
  onlyRegistryErrors,
  semver2 as semver2Versions,
  upstreamEntries,
} from '../../helpers/properties.ts';

const nameChar = fc.constantFrom(...'abcXYZ0129._-'.split(''));
const chartName = fc
  .tuple(fc.constantFrom(...'abzAZ09'.split('')), fc.string({ unit: nameChar, maxLength: 20 }))
  .map(([first, rest]) => first + rest)
  .filter(isChartName);
/** SemVer 2.0.0 versions as written. */
const semver2 = semver2Versions.map((v) => v.text);

const fileChar = fc.constantFrom(
  ...'aZ09-._+/\\% '.split(''),
  '.tgz',
  '.prov',
  '-1.0.0',
  '%2e%2e',
  '..',
  '\u0000',
  '\uff0e',
);
const anyText = fc.oneof(
  fc.string({ maxLength: 200 }),
  fc.string({ unit: 'binary', maxLength: 100 }),
  fc.string({ unit: fileChar, maxLength: 30 }),
);

test('parseChartFilename is total; what it returns is a chart name and version that rebuild it', () => {
  fc.assert(
    fc.property(
      fc.oneof(
        anyText,
        fc.tuple(anyText, semver2).map(([n, v]) => `${n}-${v}.tgz`),
        fc.tuple(chartName, anyText).map(([n, v]) => `${n}-${v}.tgz.prov`),
      ),
      (filename) => {
        const parsed = parseChartFilename(filename);
        if (parsed === undefined) return;
        assert.ok(isChartName(parsed.name) && isChartVersion(parsed.version));
        assert.ok(!/[/\\\0]/.test(parsed.name) && !parsed.name.includes('..'));
        const rebuilt = chartFilename(parsed.name, parsed.version) + (parsed.prov ? '.prov' : '');
        assert.equal(rebuilt, filename);
      },
    ),
    { numRuns: 3000 },
  );
});

test('chart file names round-trip (names with `-` and digits included)', () => {
  fc.assert(
    fc.property(chartName, semver2, fc.boolean(), (name, version, prov) => {
      const filename = chartFilename(name, version) + (prov ? '.prov' : '');
      const parsed = parseChartFilename(filename);
      // `<name>-<version>` is split at the first `-` a version follows: a name with such a `-`
      // (`app-1.2.3-x`) reads as another chart, and hosted uploads refuse it (service.commit).
      const ambiguous = [...name.matchAll(/-/g)].some((m) =>
        isChartVersion(`${name.slice(m.index + 1)}-${version}`),
      );
      if (!ambiguous) assert.deepEqual(parsed, { name, version, prov });
      else assert.notEqual(parsed?.name, name);
      // Whatever the split, the chart is one of the file name's readings (the index decides).
      assert.ok(
        chartFilenameReadings(filename).some((r) => r.name === name && r.version === version),
      );
    }),
    { numRuns: 2000 },
  );
  assert.deepEqual(parseChartFilename('my-chart-2-1.0.0-rc.1.tgz'), {
    name: 'my-chart-2',
    version: '1.0.0-rc.1',
    prov: false,
  });
  assert.deepEqual(parseChartFilename('app-1.2.3-x-0.1.0.tgz'), {
    name: 'app',
    version: '1.2.3-x-0.1.0',
    prov: false,
  });
  assert.equal(parseChartFilename('..-1.0.0.tgz'), undefined);
  assert.equal(parseChartFilename('a/b-1.0.0.tgz'), undefined);
});

test('parseBoundedYaml: arbitrary text is a value or a 400', () => {
  const yamlChar = fc.constantFrom(
    ...'ab:- ?[]{},&*!|>\'"#%@`\n\t'.split(''),
    '&a ',
    '*a',
    '<<: ',
    '---\n',
    '...\n',
    '!!binary ',
    '%YAML 1.1\n',
    '\ufeff',
  );
  fc.assert(
    fc.property(
      fc.oneof(fc.string({ maxLength: 200 }), fc.string({ unit: yamlChar, maxLength: 60 })),
      (text) => {
        onlyRegistryErrors(() => parseBoundedYaml(text, 'Chart.yaml'));
      },
    ),
    { numRuns: 3000 },
  );
});

test('parseBoundedYaml: alias bombs and deep nesting are refused fast', () => {
  // "Billion laughs": each level refers nine times to the previous one.
  let bomb = 'l0: &l0 [x, x, x, x, x, x, x, x, x]\n';
  for (let i = 1; i < 30; i++)
    bomb += `l${i}: &l${i} [${Array(9)
      .fill(`*l${i - 1}`)
      .join(', ')}]\n`;
  const mb = 1024 * 1024;
  const deep = [
    bomb,
    '['.repeat(mb),
    '{a: '.repeat(mb / 4),
    '[a, '.repeat(mb / 4),
    '- '.repeat(mb / 2),
    '? '.repeat(mb / 2),
    `a:\n${'  - '.repeat(mb / 4)}`,
    '['.repeat(MAX_YAML_DEPTH + 1) + ']'.repeat(MAX_YAML_DEPTH + 1),
  ];
  for (const text of deep) {
    // CPU time (cpuNow): the bound is on the parser's work, which wall time on a loaded machine
    // overstates.
    const started = cpuNow();
    assert.throws(() => parseBoundedYaml(text, 'Chart.yaml'), isRegistryError);
    const ms = cpuNow() - started;
    assert.ok(ms < 2000, `${text.slice(0, 12)}… took ${ms} ms`);
  }
  // Up to the bound, nesting and brackets inside scalars are fine.
  assert.ok(parseBoundedYaml('['.repeat(MAX_YAML_DEPTH) + ']'.repeat(MAX_YAML_DEPTH), 'x'));
  assert.deepEqual(
    parseBoundedYaml(Array.from({ length: 200 }, (_, i) => `k${i}: "[{ ["`).join('\n'), 'x'),
    Object.fromEntries(Array.from({ length: 200 }, (_, i) => [`k${i}`, '[{ ['])),
  );
  const json = JSON.stringify({
    entries: Object.fromEntries(
      Array.from({ length: 500 }, (_, i) => [`c${i}`, [{ name: `c${i}`, keywords: ['a'] }]]),
    ),
  });
  assert.ok(parseBoundedYaml(json, 'index.yaml'), 'an index written as JSON on one line');
});

/** A valid Chart.yaml as an object. */
const chartYaml = fc.record(
  {
    apiVersion: fc.constantFrom('v1', 'v2'),
    name: chartName,
    version: semver2,
    appVersion: fc.oneof(fc.string({ maxLength: 8 }), fc.constant(1.1)),
    description: fc.string({ maxLength: 20 }),
    type: fc.constantFrom('application', 'library'),
    deprecated: fc.boolean(),
    keywords: fc.array(fc.string({ maxLength: 6 }), { maxLength: 3 }),
    maintainers: fc.array(fc.record({ name: fc.string({ maxLength: 6 }) }), { maxLength: 2 }),
    dependencies: fc.array(
      fc.record(
        {
          name: chartName,
          version: fc.string({ maxLength: 6 }),
          tags: fc.array(fc.string({ maxLength: 4 }), { maxLength: 2 }),
          enabled: fc.boolean(),
          'import-values': fc.jsonValue({ maxDepth: 2 }),
        },
        { requiredKeys: ['name'] },
      ),
      { maxLength: 2 },
    ),
    annotations: fc.dictionary(fc.string({ maxLength: 6 }), fc.string({ maxLength: 6 })),
  },
  { requiredKeys: ['apiVersion', 'name', 'version'] },
);
const mutant = fc.oneof(
  fc.jsonValue({ maxDepth: 2 }),
  fc.constantFrom(null, '', 'v3', '..', '1.0', 'v1.0', [], {}, [1], { a: 1 }, true, Infinity),
);
const chartKeys = [
  'apiVersion',
  'name',
  'version',
  'appVersion',
  'description',
  'type',
  'deprecated',
  'keywords',
  'maintainers',
  'dependencies',
  'annotations',
  'kubeVersion',
  'sources',
  'home',
  'icon',
] as const;

test('chartMetadata: arbitrary and near-valid metadata give a writable entry or a 400', () => {
  const check = (parsed: unknown) => {
    onlyRegistryErrors(() => {
      const entry = chartMetadata(parsed);
      assert.ok(isChartName(entry.name) && isChartVersion(entry.version));
      // What index.yaml will hold must be writable, and read back as the same data.
      const fragment = entryFragment(entry);
      assert.deepEqual(parseBoundedYaml(fragment, 'entry'), JSON.parse(fragment));
    });
  };
  fc.assert(fc.property(fc.jsonValue({ maxDepth: 3 }), check), { numRuns: 300 });
  fc.assert(
    fc.property(chartYaml, fc.constantFrom(...chartKeys), mutant, (meta, key, value) => {
      check(meta);
      check({ ...meta, [key]: value });
      if (meta.dependencies && meta.dependencies.length > 0) {
        check({ ...meta, dependencies: [{ ...meta.dependencies[0], [key]: value }] });
      }
      check({ ...meta, maintainers: [{ name: 'x', [key]: value }] });
    }),
    { numRuns: 250 },
  );
  // Through YAML text, as an upload: every valid Chart.yaml is accepted and keeps its identity.
  fc.assert(
    fc.property(chartYaml, (meta) => {
      const entry = chartMetadata(parseBoundedYaml(stringify(meta), 'Chart.yaml'));
      assert.equal(entry.name, meta.name);
      assert.equal(entry.version, meta.version);
    }),
    { numRuns: 150 },
  );
});

test('chartMetadata: Chart.yaml text with anchors and aliases gives a writable entry or a 400', () => {
  // Each dependency is anchored; its import-values may alias any dependency (itself included:
  // YAML makes that a circular structure) or hold plain data.
  const dependency = fc.tuple(fc.nat(4), fc.boolean(), fc.constantFrom('[*d', '*d', '{k: *d'));
  fc.assert(
    fc.property(fc.array(dependency, { minLength: 1, maxLength: 4 }), (deps) => {
      const lines = ['apiVersion: v2', 'name: x', 'version: 1.0.0', 'dependencies:'];
      deps.forEach(([target, alias, shape], i) => {
        const ref = `${shape}${Math.min(target, i)}`;
        const value = !alias
          ? '[a, b]'
          : shape.startsWith('[')
            ? `${ref}]`
            : shape.startsWith('{')
              ? `${ref}}`
              : ref;
        lines.push(`  - &d${i}`, `    name: dep${i}`, `    import-values: ${value}`);
      });
      onlyRegistryErrors(() => {
        const entry = chartMetadata(parseBoundedYaml(lines.join('\n'), 'Chart.yaml'));
        JSON.parse(entryFragment(entry));
      });
    }),
    { numRuns: 200 },
  );
});

test('regression: a recursive alias in import-values is a 400, not a 500', () => {
  // Found by the property above: `import-values` is kept as given, and a YAML alias to its
  // own dependency made it circular; entryFragment's JSON.stringify then threw a TypeError.
  const text = [
    'apiVersion: v2',
    'name: x',
    'version: 1.0.0',
    'dependencies:',
    '  - &d',
    '    name: y',
    '    import-values: [*d]',
  ].join('\n');
  assert.throws(() => chartMetadata(parseBoundedYaml(text, 'Chart.yaml')), isRegistryError);
  const shared =
    'apiVersion: v2\nname: x\nversion: 1.0.0\nx: &v [a]\ndependencies:\n  - name: y\n    import-values: *v\n';
  assert.deepEqual(chartMetadata(parseBoundedYaml(shared, 'Chart.yaml'))['dependencies'], [
    { name: 'y', 'import-values': ['a'] },
  ]);
});

/** An upstream index entry, valid or with one field replaced. */
const indexEntry = fc
  .tuple(
    chartName,
    semver2,
    fc.constantFrom('charts/x.tgz', 'https://cdn.example/x.tgz', '../x.tgz', '/x.tgz'),
    fc.option(fc.stringMatching(/^[0-9a-f]{64}$/)),
  )
  .map(([name, version, url, digest]) => ({
    name,
    version,
    urls: [url],
    ...(digest === null ? {} : { digest }),
  }));

function checkIndex(text: string): void {
  try {
    const parsed = parseUpstreamIndex(text, 'http://127.0.0.1:1/charts', 0);
    for (const chart of parsed.charts) {
      assert.ok(isChartName(chart.name) && isChartVersion(chart.version));
      assert.match(chart.url, /^https?:\/\//);
      assert.ok(chart.sha256 === undefined || /^[0-9a-f]{64}$/.test(chart.sha256));
      const entry = JSON.parse(chart.fragment) as { name: string; urls: string[] };
      assert.equal(entry.name, chart.name);
      assert.deepEqual(entry.urls, [`charts/${chartFilename(chart.name, chart.version)}`]);
    }
  } catch (err) {
    // The caller turns any throw into a 502; a TypeError/RangeError would still be a bug here.
    assert.ok(
      isRegistryError(err) || (err as Error).constructor === Error,
      `unexpected ${String(err)}`,
    );
  }
}

test('parseUpstreamIndex: arbitrary and near-valid index.yaml never throw a TypeError', () => {
  fc.assert(fc.property(anyText, checkIndex), { numRuns: 1000 });
  fc.assert(
    fc.property(
      fc.array(indexEntry, { maxLength: 6 }),
      fc.array(
        fc.tuple(fc.nat(5), fc.constantFrom('name', 'version', 'urls', 'digest', 'x'), mutant),
        { maxLength: 3 },
      ),
      fc.constantFrom('yaml', 'json'),
      (entries, mutations, style) => {
        const doc: Record<string, unknown> = { apiVersion: 'v1', entries: {} };
        const byName = doc['entries'] as Record<string, unknown[]>;
        const list: Record<string, unknown>[] = entries.map((e) => ({ ...e }));
        for (const [i, key, value] of mutations) {
          const target = list[i];
          if (target) target[key] = value;
        }
        for (const [i, e] of list.entries()) {
          const name = entries[i]?.name ?? 'x';
          (byName[name] ??= []).push(e);
        }
        checkIndex(style === 'json' ? JSON.stringify(doc) : stringify(doc));
        // Valid entries come through; an invalid one never hides the others.
        if (mutations.length === 0) {
          const parsed = parseUpstreamIndex(stringify(doc), 'http://127.0.0.1:1/charts', 0);
          // Except an entry it could never serve: no digest and a URL on another host (F4).
          const servable = entries.filter((e) => 'digest' in e || !e.urls[0]?.startsWith('https:'));
          assert.equal(parsed.charts.length, servable.length);
        }
      },
    ),
    { numRuns: 250 },
  );
  for (const text of ['[]', 'x', '42', 'entries: []', 'entries: x', '~', '']) checkIndex(text);
  // Anchored entries whose extra field aliases an entry (itself included: a circular value).
  fc.assert(
    fc.property(fc.array(fc.option(fc.nat(4)), { minLength: 1, maxLength: 5 }), (aliases) => {
      const lines = ['apiVersion: v1', 'entries:'];
      aliases.forEach((target, i) => {
        lines.push(`  c${i}:`, `    - &e${i}`, `      name: c${i}`, '      version: 1.0.0');
        lines.push(`      urls: [c${i}-1.0.0.tgz]`);
        // In a field Helm has (unknown ones are not copied): dependencies[].import-values.
        if (target !== null)
          lines.push(`      dependencies: [{name: d, import-values: *e${Math.min(target, i)}}]`);
      });
      checkIndex(lines.join('\n'));
      const parsed = parseUpstreamIndex(lines.join('\n'), 'http://127.0.0.1:1/', 0);
      // Entries that alias themselves, or an entry that does, are circular (and skipped).
      const circular: boolean[] = [];
      aliases.forEach((t, i) => {
        const to = t === null ? -1 : Math.min(t, i);
        circular.push(to === i || (to >= 0 && circular[to] === true));
      });
      assert.equal(parsed.charts.length, circular.filter((c) => !c).length);
    }),
    { numRuns: 200 },
  );
});

test('regression: a recursive alias in one upstream entry skips that entry only', () => {
  const text = [
    'apiVersion: v1',
    'entries:',
    '  a:',
    '    - &e',
    '      name: a',
    '      version: 1.0.0',
    '      urls: [a-1.0.0.tgz]',
    '      dependencies: [{name: d, import-values: *e}]',
    '  b:',
    '    - name: b',
    '      version: 1.0.0',
    '      urls: [b-1.0.0.tgz]',
  ].join('\n');
  const parsed = parseUpstreamIndex(text, 'http://127.0.0.1:1/', 0);
  assert.deepEqual(
    parsed.charts.map((c) => c.name),
    ['b'],
  );
});

test('parseUpstreamIndex: a 10k-line index.yaml in bounded time', () => {
  const lines = ['apiVersion: v1', 'entries:'];
  for (let c = 0; c < 100; c++) {
    lines.push(`  chart${c}:`);
    for (let v = 0; v < 20; v++) {
      lines.push(
        `    - name: chart${c}`,
        `      version: 1.${v}.0`,
        `      urls: [chart${c}-1.${v}.0.tgz]`,
        `      digest: ${'a'.repeat(64)}`,
        '      description: a chart',
      );
    }
  }
  // CPU time, not wall time: on a loaded machine the same linear parse took 6.9 s of wall time.
  const started = cpuNow();
  assert.equal(parseUpstreamIndex(lines.join('\n'), 'http://127.0.0.1:1/', 0).charts.length, 2000);
  const ms = cpuNow() - started;
  assert.ok(ms < 5000, `${ms} ms of CPU`);
});

test('parseHelmUpstreamList is total; every entry has a url', () => {
  fc.assert(
    fc.property(
      fc.oneof(anyText, fc.string({ unit: fc.constantFrom(...'a,| :/none'.split('')) })),
      (value) => {
        if (value.trim().startsWith('[')) return void upstreamEntries(parseHelmUpstreamList, value);
        const list = upstreamEntries(parseHelmUpstreamList, value);
        for (const entry of list) {
          const e = entry as Record<string, unknown>;
          assert.equal(typeof e['url'], 'string');
          assert.ok(Object.keys(e).every((k) => k === 'url' || k === 'auth'));
        }
      },
    ),
    { numRuns: 1000 },
  );
  assert.deepEqual(parseHelmUpstreamList(' none '), []);
  assert.deepEqual(parseHelmUpstreamList('http://a/charts, http://b|u:p'), [
    { url: 'http://a/charts' },
    { url: 'http://b', auth: 'u:p' },
  ]);
});

test('readChartMetadata: corrupted, truncated and random archives are a 400/413', async () => {
  const valid = await buildChart({ name: 'fuzz', version: '1.0.0' });
  assert.equal((await readChartMetadata(Readable.from([valid]))).name, 'fuzz');
  await fc.assert(
    fc.asyncProperty(
      fc.oneof(
        fc
          .array(fc.tuple(fc.nat(valid.length - 1), fc.integer({ min: 1, max: 255 })), {
            minLength: 1,
            maxLength: 3,
          })
          .map((flips) => {
            const bytes = Buffer.from(valid);
            for (const [at, xor] of flips) bytes[at] = (bytes[at] ?? 0) ^ xor;
            return bytes;
          }),
        fc.nat(valid.length - 1).map((cut) => valid.subarray(0, cut)),
        fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b)),
      ),
      async (bytes) => {
        try {
          const entry = await readChartMetadata(Readable.from([bytes]));
          entryFragment(entry);
        } catch (err) {
          assert.ok(isRegistryError(err), `unexpected ${String(err)}`);
          assert.ok([400, 413].includes(err.status), `status ${err.status}`);
        }
      },
    ),
    { numRuns: 300 },
  );
});

test('provenanceChart: arbitrary and near-valid provenance files are a 400', () => {
  const valid = provenance('fuzz', '1.0.0', Buffer.from('archive'));
  const check = (text: string) => {
    onlyRegistryErrors(() => {
      const parsed = provenanceChart(text);
      assert.ok(isChartName(parsed.name) && isChartVersion(parsed.version));
      assert.ok(
        parsed.chartDigest === undefined || /^sha256:[0-9a-f]{64}$/i.test(parsed.chartDigest),
      );
    });
  };
  fc.assert(
    fc.property(
      fc.oneof(
        anyText,
        fc
          .tuple(fc.nat(valid.length), fc.nat(40), fc.string({ maxLength: 10 }))
          .map(([at, drop, insert]) => valid.slice(0, at) + insert + valid.slice(at + drop)),
        fc
          .string({ maxLength: 60 })
          .map((body) => valid.replace('apiVersion: v2\nname: fuzz\nversion: 1.0.0', body)),
      ),
      check,
    ),
    { numRuns: 1000 },
  );
  assert.deepEqual(provenanceChart(valid), {
    name: 'fuzz',
    version: '1.0.0',
    chartDigest: `sha256:${createHash('sha256').update('archive').digest('hex')}`,
  });
});

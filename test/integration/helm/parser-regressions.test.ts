/**
 * Uploads that the Helm parser property tests (test/unit/helm/parsers.property.test.ts) showed
 * mishandled, over HTTP: each is a clear 400 in ChartMuseum's format, answered fast, and leaves
 * index.yaml as it was.
 * 1. A Chart.yaml whose `import-values` aliases its own dependency (a circular value) was a 500.
 * 2. A Chart.yaml nested thousands of levels deep held the event loop for seconds.
 * 3. A chart named `app-1.2.3-x` (0.1.0) was indexed under `app-1.2.3-x-0.1.0.tgz`, which reads
 *    as chart `app` 1.2.3-x-0.1.0: listed, never downloadable.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { buildChart } from '../../helpers/helm.ts';
import { cpuNow } from '../../helpers/properties.ts';
import { startTestServer } from '../../helpers/server.ts';

test('helm uploads the parser properties found mishandled are clear 400s', async () => {
  await using server = await startTestServer({});
  const post = (body: Buffer) =>
    fetch(`${server.url}/helm/api/charts`, { method: 'POST', body: new Uint8Array(body) });
  const chartYaml = (extra: string) => `apiVersion: v2\nname: reg\nversion: 1.0.0\n${extra}`;
  const cases: [string, Buffer, RegExp][] = [
    [
      'circular import-values',
      await buildChart({
        name: 'reg',
        version: '1.0.0',
        chartYaml: chartYaml('dependencies:\n  - &d\n    name: y\n    import-values: [*d]\n'),
      }),
      /import-values/,
    ],
    [
      'deep nesting',
      await buildChart({
        name: 'reg',
        version: '1.0.0',
        chartYaml: chartYaml(`x: ${'['.repeat(512 * 1024)}\n`),
      }),
      /nested deeper/,
    ],
    [
      'ambiguous file name',
      await buildChart({ name: 'app-1.2.3-x', version: '0.1.0' }),
      /reads as another chart/,
    ],
  ];
  for (const [label, body, message] of cases) {
    // CPU time (cpuNow): the server runs in this process, so this is the upload's work (the
    // deep nesting held the event loop for seconds of CPU); wall time on a loaded CI machine is
    // not a measure of it.
    const started = cpuNow();
    const r = await post(body);
    const text = await r.text();
    const ms = cpuNow() - started;
    assert.equal(r.status, 400, `${label}: ${text}`);
    assert.match((JSON.parse(text) as { error: string }).error, message, label);
    assert.ok(ms < 2000, `${label} took ${ms.toFixed(0)} ms of CPU`);
  }
  // A `-` followed by digits is fine when no version follows it; the chart downloads by its name.
  assert.equal((await post(await buildChart({ name: 'app-2', version: '1.0.0' }))).status, 201);
  const index = parseYaml(await (await fetch(`${server.url}/helm/index.yaml`)).text()) as {
    entries: Record<string, { urls: string[] }[]>;
  };
  assert.deepEqual(Object.keys(index.entries), ['app-2']);
  const url = index.entries['app-2']?.[0]?.urls[0] ?? '';
  assert.equal((await fetch(new URL(url, `${server.url}/helm/`))).status, 200);
});

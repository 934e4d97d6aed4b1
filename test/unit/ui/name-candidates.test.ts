import assert from 'node:assert/strict';
import { test } from 'node:test';
import { nameCandidates } from '../../../src/ui/dashboard.ts';

// The activity feed hides an event when any name its artifact may stand for is unreadable: the
// names access rules speak of must be among the candidates (trial 28: npm publishes are recorded
// as `@scope/pkg@1.0.0`, crates as `crate@1.0.0`, charts as `<chart>-<version>.tgz`).
test('nameCandidates: the names rules speak of, for every format’s artifact shape', () => {
  const has = (format: string, segments: string[], name: string) => {
    assert.ok(nameCandidates(format, segments).includes(name), `${segments.join('/')} → ${name}`);
  };
  has('npm', ['@hidden', 'topsecret@1.0.0'], '@hidden/topsecret');
  has('cargo', ['serde@1.0.0'], 'serde');
  has('cargo', ['api', 'v1', 'crates', 'serde', '1.0.0', 'download'], 'serde');
  has('cargo', ['se', 'rd', 'serde'], 'serde');
  has('helm', ['mychart-0.9.0.tgz'], 'mychart');
  has('helm', ['charts', 'my-chart-2-1.0.0.tgz'], 'my-chart-2');
  has('pypi', ['simple', 'requests'], 'requests');
  assert.ok(!nameCandidates('helm', ['@scope']).includes(''));
  // A raw path is its own name: no single-segment candidate that a scoped credential would miss.
  assert.deepEqual(nameCandidates('raw', ['public', 'readme.txt']), []);
});

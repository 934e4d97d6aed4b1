/**
 * The minimum release age (docs/curation.md "Minimum release age"): a version younger than the
 * registry's age is refused in enforce, counted in audit, hidden from listings; the age counts
 * from the upstream's publish time, else from the first-seen store. A fake clock and an
 * in-memory store stand in for time and SQLite.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseConfigObject } from '../../../src/config/load.ts';
import { parseDuration } from '../../../src/config/fields.ts';
import { RegistryError } from '../../../src/core/errors.ts';
import type { Logger } from '../../../src/core/logger.ts';
import { CurationEngine, loadPolicy, reloadCuration } from '../../../src/curation/engine.ts';
import { quarantineCheck } from '../../../src/curation/quarantine.ts';
import type { FirstSeenKey, FirstSeenStore } from '../../../src/curation/types.ts';
import { Metrics } from '../../../src/metrics/metrics.ts';

const HOUR = 3_600_000;
const NOW = Date.parse('2026-12-05T12:00:00Z');

/** A FirstSeenStore in memory, with the contract's lookup rules. */
class MemoryStore implements FirstSeenStore {
  readonly rows: (FirstSeenKey & { at: number })[] = [];
  record(key: FirstSeenKey, at: number): number {
    const same = this.rows.find(
      (r) =>
        r.registry === key.registry &&
        r.name === key.name &&
        r.version === key.version &&
        r.digest === key.digest,
    );
    if (same) return same.at;
    this.rows.push({ ...key, at });
    return at;
  }
  get(key: FirstSeenKey): number | undefined {
    const hits = this.rows.filter((r) =>
      key.digest !== ''
        ? r.registry === key.registry && r.digest === key.digest
        : r.registry === key.registry && r.name === key.name && r.version === key.version,
    );
    return hits.length === 0 ? undefined : Math.min(...hits.map((r) => r.at));
  }
  prune(before: number): number {
    const keep = this.rows.filter((r) => r.at >= before);
    const gone = this.rows.length - keep.length;
    this.rows.splice(0, this.rows.length, ...keep);
    return gone;
  }
}

const silent: Logger = {
  error: () => undefined,
  warn: () => undefined,
  info: () => undefined,
  debug: () => undefined,
  child: () => silent,
};

function engineWith(curation: Record<string, unknown>, store?: FirstSeenStore) {
  const clock = { now: NOW };
  const config = parseConfigObject({ curation }).config.curation;
  const metrics = new Metrics();
  const engine = new CurationEngine(loadPolicy(config, {}, false), metrics, silent, {
    store,
    now: () => clock.now,
  });
  return { engine, clock, metrics };
}

describe('duration syntax', () => {
  test('seconds, s, m, h, d and w; anything else is refused', () => {
    assert.equal(parseDuration('12h'), 43_200);
    assert.equal(parseDuration('3d'), 259_200);
    assert.equal(parseDuration('1W'), 604_800);
    assert.equal(parseDuration(' 90s '), 90);
    assert.equal(parseDuration('3600'), 3600);
    assert.equal(parseDuration(7200), 7200);
    for (const bad of ['1.5h', '3 days', '1d12h', '-1', '', 'h']) {
      assert.equal(parseDuration(bad), undefined, bad);
    }
    assert.equal(parseDuration(-5), undefined);
  });

  test('per-registry keys override [curation], from the file and from NORA_CURATION_<REG>_*', () => {
    const { config } = parseConfigObject(
      { curation: { min_release_age: '3d', npm: { min_release_age: '1h' } } },
      { NORA_CURATION_PYPI_MIN_RELEASE_AGE: '1w', NORA_CURATION_GO_QUARANTINE: 'enforce' },
    );
    const engine = new CurationEngine(
      loadPolicy(config.curation, {}, false),
      new Metrics(),
      silent,
    );
    assert.equal(engine.timeSettings('npm').minReleaseAge, 3600);
    assert.equal(engine.timeSettings('pypi').minReleaseAge, 604_800);
    assert.equal(engine.timeSettings('cargo').minReleaseAge, 259_200);
    assert.equal(engine.timeSettings('go').quarantine, 'enforce');
    assert.equal(engine.timeSettings('go').quarantineTtl, 1_209_600);
    assert.throws(
      () => parseConfigObject({}, { NORA_CURATION_MIN_RELEASE_AGE: '3 days' }),
      /curation\.min_release_age \(from NORA_CURATION_MIN_RELEASE_AGE\): expected a duration/,
    );
  });

  test('enforce with only a min release age is a valid configuration', () => {
    assert.doesNotThrow(() =>
      parseConfigObject({ curation: { mode: 'enforce', min_release_age: '1d' } }),
    );
    assert.doesNotThrow(() =>
      parseConfigObject({ curation: { mode: 'enforce', helm: { min_release_age: '1d' } } }),
    );
  });
});

describe('min release age', () => {
  test('enforce refuses a version published less than the age ago, saying when it is available', () => {
    const { engine, clock } = engineWith({ mode: 'enforce', min_release_age: '3d' });
    const young = {
      registry: 'npm',
      name: 'pkg',
      version: '2.0.0',
      publishedAt: NOW - HOUR,
    } as const;
    assert.throws(
      () => engine.guard(young),
      (err: unknown) =>
        err instanceof RegistryError &&
        err.code === 'DENIED' &&
        err.message.includes('min_release_age 3d') &&
        err.message.includes('published 2026-12-05T11:00:00Z') &&
        err.message.includes('available from 2026-12-08T11:00:00Z'),
    );
    assert.equal(engine.hides(young), true);
    const old = { ...young, version: '1.0.0', publishedAt: NOW - 4 * 24 * HOUR };
    assert.equal(engine.guard(old).decision, 'allowed');
    assert.equal(engine.hides(old), false);
    clock.now = NOW + 3 * 24 * HOUR;
    assert.equal(engine.guard(young).decision, 'allowed');
    assert.equal(engine.hides(young), false);
  });

  test('audit serves and counts with reason min_release_age; off ignores the age', async () => {
    const { engine, metrics } = engineWith({ mode: 'audit', min_release_age: '1d' });
    const young = { registry: 'pypi', name: 'p', version: '1.0', publishedAt: NOW - HOUR } as const;
    assert.equal(engine.guard(young).decision, 'audited');
    assert.equal(engine.hides(young), false);
    assert.match(
      await metrics.registry.metrics(),
      /nora_curation_decisions_total\{registry="pypi",decision="audited",reason="min_release_age"\} 1/,
    );
    const off = engineWith({ mode: 'off', min_release_age: '1d' }).engine;
    assert.equal(off.guard(young).decision, 'allowed');
  });

  test('a registry override applies to that registry only; 0 turns it off there', () => {
    const { engine } = engineWith({
      mode: 'enforce',
      min_release_age: '1d',
      go: { min_release_age: 0 },
      helm: { min_release_age: '1w' },
    });
    const at = NOW - 2 * 24 * HOUR;
    assert.equal(
      engine.decide({ registry: 'go', name: 'm', version: 'v1.0.0', publishedAt: NOW }).refuse,
      false,
    );
    assert.equal(
      engine.decide({ registry: 'npm', name: 'm', version: '1.0.0', publishedAt: at }).refuse,
      false,
    );
    assert.equal(
      engine.decide({ registry: 'helm', name: 'm', version: '1.0.0', publishedAt: at }).refuse,
      true,
    );
  });

  test('without a trusted date it counts from first-seen; the first download starts the clock', () => {
    const store = new MemoryStore();
    const { engine, clock } = engineWith({ mode: 'enforce', min_release_age: '12h' }, store);
    const crate = { registry: 'cargo', name: 'Serde_Json', version: '1.0.0' } as const;
    // Never seen: listed (not known to be young), refused on download, which records it.
    assert.equal(engine.hides(crate), false);
    assert.throws(
      () => engine.guard(crate),
      /first seen 2026-12-05T12:00:00Z.*available from 2026-12-06T00:00:00Z/,
    );
    assert.deepEqual(
      store.rows.map((r) => [r.name, r.version, r.at]),
      [['serde_json', '1.0.0', NOW]],
    );
    clock.now = NOW + 6 * HOUR;
    assert.equal(engine.hides(crate), true);
    assert.throws(
      () => engine.guard(crate),
      /first seen 2026-12-05T12:00:00Z.*available from 2026-12-06T00:00:00Z/,
    );
    clock.now = NOW + 12 * HOUR;
    assert.equal(engine.guard(crate).decision, 'allowed');
  });

  test('without a date or a store nothing can be judged: served', () => {
    const { engine } = engineWith({ mode: 'enforce', min_release_age: '12h' });
    assert.equal(
      engine.guard({ registry: 'maven', name: 'g:a', version: '1' }).decision,
      'allowed',
    );
  });

  test('a refusal by age carries reason min_release_age', () => {
    const { engine } = engineWith({
      mode: 'enforce',
      min_release_age: '1d',
      internal_namespaces: [],
    });
    assert.equal(
      engine.decide({ registry: 'npm', name: 'a', version: '1.0.0', publishedAt: NOW }).reason,
      'min_release_age',
    );
  });

  test('a SIGHUP reload applies a new age at once, and the view key changes', () => {
    const { engine } = engineWith({ mode: 'enforce', min_release_age: '1d' });
    const subject = {
      registry: 'npm',
      name: 'a',
      version: '1.0.0',
      publishedAt: NOW - 2 * HOUR,
    } as const;
    const before = engine.viewKey();
    assert.equal(engine.hides(subject), true);
    const next = parseConfigObject({ curation: { mode: 'enforce', min_release_age: '1h' } }).config;
    assert.equal(reloadCuration(engine, next.curation, {}, silent), undefined);
    assert.equal(engine.hides(subject), false);
    assert.notEqual(engine.viewKey(), before);
  });

  test('first-seen is recorded on every fill, whatever the settings (trial 30 F2)', () => {
    const store = new MemoryStore();
    const { engine } = engineWith({ mode: 'audit', npm: { min_release_age: '1d' } }, store);
    assert.equal(engine.recordFirstSeen({ registry: 'pypi', name: 'x', version: '1' }), NOW);
    assert.equal(
      engine.recordFirstSeen({ registry: 'npm', name: 'x', version: '1', digest: 'sha256:ab' }),
      NOW,
    );
    assert.equal(store.rows.length, 2);
  });
});

describe('min release age with quarantine', () => {
  /** The labels of nora_curation_decisions_total that were counted, as `decision/reason`. */
  async function counted(metrics: Metrics): Promise<string[]> {
    return (await metrics.registry.metrics())
      .split('\n')
      .filter((l) => l.startsWith('nora_curation_decisions_total{') && !l.endsWith(' 0'))
      .map((l) => {
        const m = /decision="(\w+)",reason="(\w+)"/.exec(l);
        return `${m?.[1]}/${m?.[2]}`;
      })
      .sort();
  }

  test('audit min age + quarantine enforce: the hold refuses, both are counted', async () => {
    const store = new MemoryStore();
    const { engine, metrics } = engineWith(
      { mode: 'audit', min_release_age: '1h', quarantine: 'enforce', quarantine_ttl: '1h' },
      store,
    );
    const young = {
      registry: 'npm',
      name: 'q',
      version: '1.0.0',
      publishedAt: NOW - 60_000,
    } as const;
    engine.recordFirstSeen(young);
    assert.equal(engine.decide(young).reason, 'quarantine');
    assert.throws(() => engine.guard(young), /npm q@1\.0\.0 is in quarantine/);
    assert.deepEqual(await counted(metrics), ['audited/min_release_age', 'blocked/quarantine']);
    // A blocklist in audit likewise does not let a hold through.
    const listed = engineWith(
      { mode: 'audit', quarantine: 'enforce', internal_namespaces: [] },
      new MemoryStore(),
    ).engine;
    const subject = { registry: 'npm', name: 'q', version: '1.0.0' } as const;
    listed.recordFirstSeen(subject);
    assert.equal(listed.decide(subject).refuse, true);
  });

  for (const [registry, subject] of [
    ['npm', { registry: 'npm', name: 'old', version: '1.0.0' }],
    ['pypi', { registry: 'pypi', name: 'old', version: '1.0', digest: 'sha256:aa' }],
  ] as const) {
    test(`${registry}: an old-enough first fill is held by quarantine; the age is the publish time`, async () => {
      const store = new MemoryStore();
      const { engine, metrics, clock } = engineWith(
        { mode: 'enforce', min_release_age: '5m', quarantine: 'enforce', quarantine_ttl: '1h' },
        store,
      );
      const published = { ...subject, publishedAt: NOW - 24 * HOUR };
      // Before the fetch: the age passes on the upstream's date (not on a first-seen time).
      assert.equal(engine.guard(published).decision, 'allowed');
      // The fill: quarantineCheck records it and the hold refuses, naming quarantine.
      assert.throws(
        () => {
          quarantineCheck(engine, subject, true);
        },
        (err: unknown) =>
          err instanceof RegistryError &&
          /is in quarantine/.test(err.message) &&
          !/min_release_age/.test(err.message),
      );
      assert.deepEqual(await counted(metrics), ['allowed/none', 'blocked/quarantine']);
      // The next request (a cache hit) is refused by the hold before the fetch too.
      assert.throws(() => engine.guard(published), /is in quarantine/);
      clock.now = NOW + HOUR;
      assert.equal(engine.guard(published).decision, 'allowed');
      quarantineCheck(engine, subject, false);
    });
  }

  test('a young version is refused by the age before any fill, with its publish time', () => {
    const { engine } = engineWith(
      { mode: 'enforce', min_release_age: '1h', quarantine: 'enforce', quarantine_ttl: '1h' },
      new MemoryStore(),
    );
    assert.throws(
      () =>
        engine.guard({ registry: 'pypi', name: 'y', version: '1.0', publishedAt: NOW - 60_000 }),
      /published 2026-12-05T11:59:00Z, younger than the minimum release age of 1h/,
    );
  });
});

test("Helm: an index entry's created is its publish time", async () => {
  const { createdOf } = await import('../../../src/formats/helm/proxy.ts');
  const fragment = JSON.stringify({ name: 'c', version: '1.0.0', created: '2026-12-05T11:00:00Z' });
  assert.equal(createdOf(fragment), NOW - HOUR);
  assert.equal(createdOf('{"name":"c"}'), undefined);
});

test('npm dist-tags on hidden versions move to the newest kept version below them, else drop', async () => {
  const { curatedTags } = await import('../../../src/formats/npm/service.ts');
  const tags = { latest: '2.0.0', next: '3.0.0-rc.2', beta: '0.1.0-beta.1', old: '1.0.0' };
  // 2.0.0 and 3.0.0-rc.2 too young: latest → the release below, next → the prerelease below.
  assert.deepEqual(curatedTags(tags, ['0.1.0-beta.1', '1.0.0', '3.0.0-rc.1']), {
    latest: '1.0.0',
    next: '3.0.0-rc.1',
    beta: '0.1.0-beta.1',
    old: '1.0.0',
  });
  assert.deepEqual(curatedTags({ latest: '1.0.0', next: '2.0.0-rc.1' }, ['1.0.0']), {
    latest: '1.0.0',
    next: '1.0.0',
  });
  // Nothing kept below a tag: dropped (docs/curation.md); nothing kept at all: no tags.
  assert.deepEqual(curatedTags({ latest: '1.0.0', next: '0.9.0-rc.1' }, ['1.0.0']), {
    latest: '1.0.0',
  });
  assert.deepEqual(curatedTags({ latest: '1.0.0', next: '2.0.0-rc.1' }, []), {});
});

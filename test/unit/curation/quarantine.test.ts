/**
 * Digest quarantine in the engine (src/curation/quarantine.ts, engine.ts) under a fake clock:
 * a recorded artifact is held for its registry's TTL (enforce refuses naming the release time,
 * observe serves, both counted in nora_quarantine_holds_total), per-registry overrides, mode
 * `off` of the lists does not turn it off, listings are not filtered; the SQL first-seen store
 * survives a restart and prunes rows older than 90 days at load.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseConfigObject } from '../../../src/config/load.ts';
import { RegistryError } from '../../../src/core/errors.ts';
import type { Logger } from '../../../src/core/logger.ts';
import { openDatabase } from '../../../src/db/database.ts';
import { CurationEngine, loadPolicy } from '../../../src/curation/engine.ts';
import {
  firstSeenMigrations,
  type FirstSeenTables,
  SqlFirstSeenStore,
} from '../../../src/curation/first-seen.ts';
import { quarantineCheck, quarantineLine } from '../../../src/curation/quarantine.ts';
import { FIRST_SEEN_KEEP_MS } from '../../../src/curation/types.ts';
import { Metrics } from '../../../src/metrics/metrics.ts';
import { tempDir } from '../../helpers/tmp.ts';

const DAY = 86_400_000;
const T0 = Date.parse('2026-12-09T10:00:00Z');

function logger(lines: string[]): Logger {
  const log: Logger = {
    error: () => undefined,
    warn: (a: object | string, b?: string) => {
      lines.push(b ?? (typeof a === 'string' ? a : JSON.stringify(a)));
    },
    info: () => undefined,
    debug: () => undefined,
    child: () => log,
  };
  return log;
}

function engine(curation: Record<string, unknown>, clock: { now: number }, lines: string[] = []) {
  const { config } = parseConfigObject({ curation }, {});
  const metrics = new Metrics();
  const store = new SqlFirstSeenStore(undefined, () => undefined);
  const gate = new CurationEngine(loadPolicy(config.curation, {}, false), metrics, logger(lines), {
    store,
    now: () => clock.now,
  });
  const holds = async (registry: string, mode: string) =>
    Number(
      new RegExp(
        `nora_quarantine_holds_total\\{registry="${registry}",mode="${mode}"\\} (\\d+)`,
      ).exec(await metrics.registry.metrics())?.[1] ?? 0,
    );
  return { gate, holds };
}

describe('quarantine in the engine', () => {
  test('enforce: held from the fill until the TTL, 403 naming the release time', async () => {
    const clock = { now: T0 };
    const lines: string[] = [];
    const { gate, holds } = engine({ quarantine: 'enforce', quarantine_ttl: '14d' }, clock, lines);
    const subject = {
      registry: 'cargo',
      name: 'serde',
      version: '1.0.0',
      digest: 'sha256:aa',
    } as const;
    // Never seen (a cache hit of an artifact stored before quarantine was on): served.
    quarantineCheck(gate, subject, false);
    assert.throws(
      () => {
        quarantineCheck(gate, subject, true);
      },
      (err: unknown) =>
        err instanceof RegistryError &&
        err.code === 'DENIED' &&
        err.message.includes(
          'cargo serde@1.0.0 is in quarantine (first seen 2026-12-09T10:00:00Z) until 2026-12-23T10:00:00Z',
        ),
    );
    assert.equal(gate.hides(subject), false, 'listings are not filtered');
    assert.equal(gate.decide(subject).reason, 'quarantine');
    // The same bytes under another version share the clock (keyed by digest).
    assert.equal(gate.held({ ...subject, version: '1.0.1' })?.until, T0 + 14 * DAY);
    clock.now = T0 + 14 * DAY - 1;
    assert.throws(() => {
      quarantineCheck(gate, subject, true);
    }, RegistryError);
    clock.now = T0 + 14 * DAY;
    quarantineCheck(gate, subject, true);
    assert.equal(gate.held(subject), undefined);
    assert.equal(await holds('cargo', 'enforce'), 2);
    assert.equal(lines.filter((l) => l.includes('in quarantine')).length, 2);
  });

  test('observe serves and counts; per-registry overrides; off elsewhere', async () => {
    const clock = { now: T0 };
    const lines: string[] = [];
    const { gate, holds } = engine(
      {
        quarantine: 'observe',
        quarantine_ttl: '1d',
        npm: { quarantine: 'off' },
        docker: { quarantine: 'enforce', quarantine_ttl: '2d' },
      },
      clock,
      lines,
    );
    quarantineCheck(gate, { registry: 'pypi', name: 'requests', version: '2.0' }, true);
    assert.match(
      lines[0] ?? '',
      /quarantine observe.*until 2026-12-10T10:00:00Z; served: observe mode/,
    );
    assert.equal(await holds('pypi', 'observe'), 1);
    quarantineCheck(gate, { registry: 'npm', name: 'a', version: '1.0.0' }, true);
    assert.equal(gate.held({ registry: 'npm', name: 'a', version: '1.0.0' }), undefined);
    assert.throws(() => {
      quarantineCheck(
        gate,
        { registry: 'docker', name: 'library/alpine', digest: 'sha256:bb' },
        true,
      );
    }, /until 2026-12-11T10:00:00Z/);
    assert.equal(await holds('docker', 'enforce'), 1);
    assert.equal(await holds('npm', 'observe'), 0);
  });

  test('off: a fill is recorded (a quarantine turned on later counts from it), nothing is held', () => {
    const clock = { now: T0 };
    const { gate } = engine({}, clock);
    const subject = { registry: 'go', name: 'example.com/m', version: 'v1.0.0' } as const;
    quarantineCheck(gate, subject, true);
    assert.equal(gate.firstSeen(subject), T0);
    quarantineCheck(gate, { ...subject, version: 'v2.0.0' }, false);
    assert.equal(
      gate.firstSeen({ ...subject, version: 'v2.0.0' }),
      undefined,
      'a hit records nothing',
    );
  });
});

describe('SqlFirstSeenStore', () => {
  test('a burst of records is written in one batch: a cold fill of 5000 files costs little', async (t) => {
    await using tmp = await tempDir('nora-first-seen-');
    const db = await openDatabase({ file: `${tmp.path}/nora.db`, migrations: firstSeenMigrations });
    const store = new SqlFirstSeenStore(db, (err) => {
      throw err;
    });
    await store.load(T0);
    const started = performance.now();
    for (let i = 0; i < 5000; i++) {
      store.record({ registry: 'maven', name: `g:a${i}`, version: '1.0', digest: '' }, T0 + i);
    }
    const recorded = performance.now() - started;
    await store.flush();
    const written = performance.now() - started;
    t.diagnostic(
      `5000 records: ${recorded.toFixed(0)} ms on the request path, written by ${written.toFixed(0)} ms`,
    );
    const count = await db
      .$extendTables<FirstSeenTables>()
      .selectFrom('curation_first_seen')
      .select((eb) => eb.fn.countAll().as('n'))
      .executeTakeFirstOrThrow();
    assert.equal(Number(count.n), 5000);
    assert.equal(
      store.get({ registry: 'maven', name: 'g:a42', version: '1.0', digest: '' }),
      T0 + 42,
    );
    await db.destroy();
  });

  test('survives a restart; rows older than 90 days are pruned at load', async () => {
    await using tmp = await tempDir('nora-first-seen-');
    const file = `${tmp.path}/nora.db`;
    const key = { registry: 'npm', name: 'new', version: '1.0.0', digest: 'sha512-n' } as const;
    {
      const db = await openDatabase({ file, migrations: firstSeenMigrations });
      const store = new SqlFirstSeenStore(db, (err) => {
        throw err;
      });
      assert.equal(await store.load(T0), 0);
      store.record({ ...key, name: 'old', digest: 'sha512-o' }, T0 - FIRST_SEEN_KEEP_MS - 1);
      store.record(key, T0 - DAY);
      assert.equal(store.record(key, T0), T0 - DAY, 'the first time stays');
      await store.flush();
      await db.destroy();
    }
    const db = await openDatabase({ file, migrations: firstSeenMigrations });
    const store = new SqlFirstSeenStore(db, () => undefined);
    assert.equal(await store.load(T0), 1);
    assert.equal(store.get(key), T0 - DAY);
    assert.equal(store.get({ ...key, digest: '' }), T0 - DAY, 'by name@version too');
    assert.equal(store.get({ ...key, name: 'old', digest: 'sha512-o' }), undefined);
    await db.destroy();
  });

  test('on SQLite each look-up asks the table (nothing read whole at load), pending records included', async () => {
    await using tmp = await tempDir('nora-first-seen-');
    const db = await openDatabase({ file: `${tmp.path}/nora.db`, migrations: firstSeenMigrations });
    const store = new SqlFirstSeenStore(db, (err) => {
      throw err;
    });
    await store.load(T0);
    // A row the store never read into memory (as a table of 1,000,000 rows is not).
    await db
      .$extendTables<FirstSeenTables>()
      .insertInto('curation_first_seen')
      .values({
        registry: 'pypi',
        name: 'w',
        version: '1.0',
        digest: 'sha256:aa',
        first_seen_at: T0 - DAY,
      })
      .execute();
    const wheel = { registry: 'pypi', name: 'other', version: '2.0', digest: 'sha256:aa' } as const;
    assert.equal(store.get(wheel), T0 - DAY, 'the digest under any name');
    assert.equal(store.get({ ...wheel, name: 'w', version: '1.0', digest: '' }), T0 - DAY);
    // Recorded and not yet written: answered from memory, then from the table.
    const fresh = { registry: 'npm', name: 'n', version: '1.0.0', digest: '' } as const;
    assert.equal(store.get(fresh), undefined);
    assert.equal(store.record(fresh, T0), T0);
    assert.equal(store.get(fresh), T0);
    await store.flush();
    const again = new SqlFirstSeenStore(db, () => undefined);
    assert.equal(again.get(fresh), T0);
    assert.equal(again.record(fresh, T0 + DAY), T0, 'the first time stays');
    await db.destroy();
  });
});

test('explain says the quarantine of the registry', () => {
  assert.equal(
    quarantineLine({ minReleaseAge: 0, quarantine: 'off', quarantineTtl: 0 }),
    'quarantine: off',
  );
  assert.match(
    quarantineLine({ minReleaseAge: 0, quarantine: 'enforce', quarantineTtl: 14 * 86_400 }),
    /^quarantine: enforce, 14d from first seen \(a proxy refuses/,
  );
});

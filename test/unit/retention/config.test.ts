import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseConfigObject } from '../../../src/config/load.ts';

describe('[retention] configuration', () => {
  it('defaults: off, daily, not a dry run, no rules', () => {
    const { retention } = parseConfigObject({}).config;
    assert.deepEqual(retention, { enabled: false, interval: 86_400, dry_run: false, rules: [] });
  });

  it('NORA_RETENTION_* variables set the section; rule defaults fill in', () => {
    const { config } = parseConfigObject(
      { retention: { rules: [{ registry: 'npm', keep_last: 3 }] } },
      {
        NORA_RETENTION_ENABLED: 'true',
        NORA_RETENTION_INTERVAL: '600',
        NORA_RETENTION_DRY_RUN: 'true',
      },
    );
    assert.equal(config.retention.enabled, true);
    assert.equal(config.retention.interval, 600);
    assert.equal(config.retention.dry_run, true);
    assert.deepEqual(config.retention.rules, [
      { registry: 'npm', repository: '*', name_glob: '**', keep_last: 3, exclude_tags: [] },
    ]);
  });

  it('a rule with neither keep_last nor older_than_days is refused, naming why', () => {
    assert.throws(
      () => parseConfigObject({ retention: { rules: [{ registry: 'docker', name_glob: 'a/*' }] } }),
      /retention\.rules\[0\].*needs keep_last or older_than_days/s,
    );
  });

  it('an unknown format, a misspelt key and bad numbers are refused', () => {
    assert.throws(
      () => parseConfigObject({ retention: { rules: [{ registry: 'rpm', keep_last: 1 }] } }),
      /retention\.rules\[0\]\.registry.*expected "\*" or a format name/s,
    );
    // A misspelt exclude_tags would delete what it was meant to keep: refused, not ignored.
    assert.throws(
      () =>
        parseConfigObject({ retention: { rules: [{ keep_last: 1, exclude_tag: ['stable'] }] } }),
      /exclude_tag/,
    );
    assert.throws(
      () => parseConfigObject({ retention: { rules: [{ keep_last: -1 }] } }),
      /keep_last/,
    );
    assert.throws(
      () => parseConfigObject({ retention: { rules: [{ older_than_days: 0 }] } }),
      /older_than_days/,
    );
  });
});

describe('[retention] configuration: trial 27 newR', () => {
  it('keep_last = 0 without older_than_days is refused like a rule with neither (F2)', () => {
    assert.throws(
      () => parseConfigObject({ retention: { rules: [{ keep_last: 0 }] } }),
      /retention\.rules\[0\]\.keep_last.*keep_last = 0 keeps no version.*older_than_days/s,
    );
    // With older_than_days it is a rule: delete every version older than that.
    const { config } = parseConfigObject({
      retention: { rules: [{ keep_last: 0, older_than_days: 30 }] },
    });
    assert.equal(config.retention.rules[0]?.keep_last, 0);
  });

  it('an unknown key is called a retention rule key, with the valid keys (F3)', () => {
    assert.throws(
      () => parseConfigObject({ retention: { rules: [{ keep_last: 1, exclude_tag: ['x'] }] } }),
      (error: Error) => {
        assert.match(error.message, /unknown key "exclude_tag" \(did you mean "exclude_tags"\?\)/);
        assert.match(
          error.message,
          /not a retention rule key \(they are registry, repository, name_glob, keep_last, older_than_days, exclude_tags\)/,
        );
        assert.doesNotMatch(error.message, /access wider/);
        return true;
      },
    );
  });
});

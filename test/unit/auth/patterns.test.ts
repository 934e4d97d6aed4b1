import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { globToRegExp, ResourcePatterns } from '../../../src/auth/patterns.ts';

describe('resource patterns', () => {
  it('globs are segment-aware', () => {
    const cases: [string, string, boolean][] = [
      ['team/**', 'team/app', true],
      ['team/**', 'team/a/b', true],
      ['team/**', 'team', true],
      ['team/**', 'teams/app', false],
      ['team/*', 'team/a/b', false],
      ['@corp/*', '@corp/pkg', true],
      ['@corp/*', '@other/pkg', false],
      ['*', 'lodash', true],
      ['*', '@corp/pkg', false],
      ['**', 'a/b/c', true],
      ['a/**/z', 'a/z', true],
      ['a/**/z', 'a/b/c/z', true],
      ['lib-*', 'lib-x', true],
      ['lib-*', 'lib-x/y', false],
      ['a.b', 'aXb', false],
    ];
    for (const [glob, path, expected] of cases) {
      assert.equal(globToRegExp(glob).test(path), expected, `${glob} ~ ${path}`);
    }
  });

  it('repository:path patterns; a path alone covers every repository', () => {
    const p = new ResourcePatterns(['npm-*:@corp/*', 'team/**']);
    assert.equal(p.matches({ repository: 'npm-hosted', path: '@corp/x' }), true);
    assert.equal(p.matches({ repository: 'docker', path: '@corp/x' }), false);
    assert.equal(p.matches({ repository: 'docker', path: 'team/app' }), true);
    assert.equal(p.matches({ repository: 'npm-hosted' }), true);
    assert.equal(p.matches({ repository: 'docker', path: 'other/app' }), false);
  });
});

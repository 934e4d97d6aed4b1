import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compileGlob, ResourcePatterns } from '../../../src/auth/patterns.ts';
import type { Repository } from '../../../src/repos/repository.ts';

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
      assert.equal(compileGlob(glob).test(path), expected, `${glob} ~ ${path}`);
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

describe('a credential scope naming a group', () => {
  it('covers the hosted member a write through that group lands in, not the member addressed alone', async () => {
    const { AccessControl } = await import('../../../src/auth/access.ts');
    const { patternScope } = await import('../../../src/auth/resolvers.ts');
    const repo = (name: string) => ({ name, format: 'npm' }) as unknown as Repository;
    const access = new AccessControl({ authEnabled: true, anonymousRead: false });
    const principal = {
      kind: 'user',
      name: 'ci',
      roles: ['write'],
      scope: patternScope(['npm:@corp/*']),
    } as const;
    const group = repo('npm');
    const member = repo('npm-hosted');
    access.authorize(principal, group, 'write', '@corp/pkg');
    access.authorize(principal, member, 'write', '@corp/pkg', { via: group });
    assert.throws(() => {
      access.authorize(principal, member, 'write', '@corp/pkg');
    }, /limited to/);
    assert.throws(() => {
      access.authorize(principal, member, 'write', '@other/pkg', { via: group });
    }, /limited to/);
  });
});

describe('pattern validation', () => {
  it('refuses patterns that can match nothing or hide mistakes', async () => {
    const { patternProblem } = await import('../../../src/auth/patterns.ts');
    for (const bad of ['', '../../x', 'a//b', 'team/./x', 'a:b:c', 'docker/x:team/**', 'a b']) {
      assert.ok(patternProblem(bad) !== undefined, bad);
    }
    for (const good of ['team/**', 'npm:@corp/*', '**', 'docker:', 'npm-*:lib-*']) {
      assert.equal(patternProblem(good), undefined, good);
    }
  });
});

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

describe("a credential scope compares names in the format's spelling, as rules do", () => {
  it('PyPI: PEP 503 on both sides; Cargo: its crate-name form; npm and Go: as written', async () => {
    const { AccessControl } = await import('../../../src/auth/access.ts');
    const { patternScope } = await import('../../../src/auth/resolvers.ts');
    const { normalizeProjectName } = await import('../../../src/formats/pypi/names.ts');
    const { canonicalName } = await import('../../../src/formats/cargo/names.ts');
    const repo = (name: string, format: string) => ({ name, format }) as unknown as Repository;
    const access = new AccessControl({ authEnabled: false, anonymousRead: true }, undefined, {
      pypi: normalizeProjectName,
      cargo: canonicalName,
    });
    const may = (scope: string, repository: Repository, path: string) =>
      access.can(
        { kind: 'user', name: 'ci', roles: ['write'], scope: patternScope([scope]) },
        repository,
        'write',
        path,
      );
    const pypi = repo('pypi', 'pypi');
    // The trial's F6: the project as pyproject.toml spells it, and globs in other spellings.
    for (const scope of ['pypi:Trial_Pkg', 'pypi:TRIAL.PKG', 'pypi:trial_*', 'pypi:Trial*']) {
      assert.ok(may(scope, pypi, 'trial-pkg'), scope);
      assert.ok(may(scope, pypi, 'Trial.Pkg'), `${scope} (request spelling)`);
    }
    assert.ok(!may('pypi:Trial_Pkg', pypi, 'trial-pkg-extra'));
    assert.ok(!may('pypi:other_*', pypi, 'trial-pkg'));
    assert.ok(!may('pypi-team:Trial_Pkg', pypi, 'trial-pkg'), 'the repository part is as written');
    const cargo = repo('cargo', 'cargo');
    assert.ok(may('cargo:Foo-Bar', cargo, 'foo_bar'));
    assert.ok(may('cargo:foo-*', cargo, 'foo_baz'));
    // npm and Go names are exact: `Foo` (a legacy npm name) and `foo` are two packages.
    assert.ok(!may('npm:Foo', repo('npm', 'npm'), 'foo'));
    assert.ok(!may('npm:my_pkg', repo('npm', 'npm'), 'my-pkg'));
    assert.ok(!may('go:github.com/Corp/*', repo('go', 'go'), 'github.com/corp/x'));
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

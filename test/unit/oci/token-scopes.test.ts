import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { GrantScope } from '../../../src/auth/registry-token.ts';
import {
  bearerChallenge,
  challengeActions,
  parseScopes,
  TokenError,
} from '../../../src/formats/oci/token.ts';
import type { Repository } from '../../../src/repos/repository.ts';

describe('registry token scopes', () => {
  it('parses several scope params and space-separated scopes; names may contain ":"', () => {
    assert.deepEqual(
      parseScopes(['repository:team/app:pull,push registry:catalog:*', 'repository:a:delete']),
      [
        { type: 'repository', name: 'team/app', actions: ['pull', 'push'] },
        { type: 'registry', name: 'catalog', actions: ['*'] },
        { type: 'repository', name: 'a', actions: ['delete'] },
      ],
    );
    assert.deepEqual(parseScopes(['repository(plugin):x:pull']), [
      { type: 'repository', name: 'x', actions: ['pull'] },
    ]);
    assert.deepEqual(parseScopes(['plugin:host:5000/x:pull']), [
      { type: 'plugin', name: 'host:5000/x', actions: ['pull'] },
    ]);
    assert.deepEqual(parseScopes([]), []);
    // Bounded: a token carries its grants, and a huge JWT could not be sent back.
    assert.equal(
      parseScopes(Array.from({ length: 64 }, (_, i) => `repository:a${i}:pull`)).length,
      64,
    );
    assert.throws(
      () => parseScopes(Array.from({ length: 65 }, (_, i) => `repository:a${i}:pull`)),
      /at most 64 scopes/,
    );
  });

  it('refuses malformed scopes with invalid_scope', () => {
    for (const text of [
      'repository',
      'repository:x',
      'repository:x:',
      ':x:pull',
      'repository:UP:pull',
      'repository:x:pull,',
    ]) {
      assert.throws(
        () => parseScopes([text]),
        (err) =>
          err instanceof TokenError && err.oauthError === 'invalid_scope' && err.status === 400,
        text,
      );
    }
  });

  it('a grant scope allows exactly its (repository, path, action)s', () => {
    const repo = (name: string) => ({ name, format: 'docker' }) as unknown as Repository;
    const scope = new GrantScope([
      { repository: 'docker', path: 'team/app', actions: ['read', 'write'] },
      { repository: 'mirror', actions: ['read'] },
    ]);
    assert.ok(scope.allows({ repository: repo('docker'), path: 'team/app' }, 'write'));
    assert.ok(!scope.allows({ repository: repo('docker'), path: 'team/app' }, 'delete'));
    assert.ok(!scope.allows({ repository: repo('docker'), path: 'team/other' }, 'read'));
    assert.ok(
      !scope.allows({ repository: repo('docker') }, 'read'),
      'no catalog from an image grant',
    );
    assert.ok(scope.allows({ repository: repo('mirror') }, 'read'));
    assert.ok(
      !scope.allows({ repository: repo('mirror'), path: 'x' }, 'read'),
      'catalog grant reads no image',
    );
    assert.ok(
      scope.allows({ repository: repo('mirror'), path: 'x', listing: true }, 'read'),
      'catalog grant lists the names',
    );
    assert.match(scope.description, /docker:team\/app \(read,write\)/);
  });

  it('builds the challenge', () => {
    assert.equal(challengeActions('HEAD'), 'pull');
    assert.equal(challengeActions('PATCH'), 'pull,push');
    assert.equal(challengeActions('DELETE'), 'delete');
    assert.equal(
      bearerChallenge('http://h/v2/token', 'nora', 'repository:a:pull'),
      'Bearer realm="http://h/v2/token",service="nora",scope="repository:a:pull"',
    );
    assert.equal(
      bearerChallenge('http://h/v2/token', 'nora', undefined),
      'Bearer realm="http://h/v2/token",service="nora"',
    );
  });

  it('insufficient_scope with the refusal as an RFC 6750 error_description (trial 33 newB)', () => {
    assert.equal(
      bearerChallenge('http://h/v2/token', 'nora', 'repository:a:pull,push', 'may not "x"\\é'),
      'Bearer realm="http://h/v2/token",service="nora",scope="repository:a:pull,push",' +
        `error="insufficient_scope",error_description="may not 'x'/?"`,
    );
    // No scope (`/v2/` itself): no scope to be insufficient.
    assert.equal(
      bearerChallenge('http://h/v2/token', 'nora', undefined, 'refused'),
      'Bearer realm="http://h/v2/token",service="nora"',
    );
  });
});

/** unknown-repository.ts: the protocol a path speaks, and its answers never throw (fast-check). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { RegistryError } from '../../../src/core/errors.ts';
import { FORMATS } from '../../../src/formats/index.ts';
import { errorAnswer, protocolOf } from '../../../src/http/unknown-repository.ts';

test('protocolOf: the format and rule path of common client requests', () => {
  const cases: [string, string, string | undefined][] = [
    ['/v2/', 'docker', undefined],
    ['/v2/team/app/manifests/1.0', 'docker', 'team/app'],
    ['/simple/', 'pypi', undefined],
    ['/simple/trial-pkg/', 'pypi', 'trial-pkg'],
    ['/simple/Trial_Pkg/', 'pypi', undefined],
    ['/pypi/trial-pkg/json', 'pypi', 'trial-pkg'],
    ['/lodash', 'npm', 'lodash'],
    ['/@corp%2fui', 'npm', '@corp/ui'],
    ['/@corp/ui/-/ui-1.0.0.tgz', 'npm', '@corp/ui'],
    ['/-/v1/search?text=x', 'npm', undefined],
    ['/config.json', 'cargo', undefined],
    ['/index.yaml', 'helm', undefined],
    ['/example.com/!corp/mod/@v/list', 'go', 'example.com/Corp/mod'],
    ['/com/example/lib/1.0/lib-1.0.jar', 'maven', 'com/example/lib/1.0/lib-1.0.jar'],
    ['/a/b/c.txt', 'raw', 'a/b/c.txt'],
    ['', 'raw', undefined],
  ];
  for (const [rest, format, path] of cases) {
    const guess = protocolOf(rest, FORMATS);
    assert.equal(guess.format, format, rest);
    assert.equal(guess.path, path, rest);
  }
});

test('protocolOf: the most telling shape wins; no claiming format is raw plain text', () => {
  // `/index.yaml` and `/config.json` are one segment, which npm would claim as a package.
  assert.equal(protocolOf('/index.yaml', FORMATS).shape, 'helm');
  assert.equal(protocolOf('/config.json', FORMATS).shape, 'cargo');
  // A Maven-looking file under a Go module's `@v/` is Go's.
  assert.equal(protocolOf('/example.com/m/@v/v1.0.0.mod', FORMATS).format, 'go');
  const withoutClaims = FORMATS.map(({ protocolPath: _, ...rest }) => rest);
  assert.deepEqual(protocolOf('/v2/a/manifests/1', withoutClaims), {
    format: 'raw',
    shape: 'text',
    path: undefined,
  });
});

test('protocolOf and errorAnswer answer any path (no throw; the body is what the shape says)', () => {
  fc.assert(
    fc.property(fc.string({ maxLength: 200 }), fc.constantFrom(401, 403, 404), (rest, status) => {
      const guess = protocolOf(`/${rest}`, FORMATS);
      const code = status === 401 ? 'UNAUTHORIZED' : status === 403 ? 'DENIED' : 'NOT_FOUND';
      const answer = errorAnswer(
        new RegistryError(code, `refused\r\n${rest}`),
        guess,
        { name: 'x', method: 'GET' },
        { realm: 'http://127.0.0.1/v2/token', service: 'nora' },
      );
      assert.equal(answer.status, status);
      assert.ok(!answer.body.slice(0, -1).includes('\n'), 'one line');
      if (guess.shape !== 'text') JSON.parse(answer.body);
    }),
    { numRuns: 500 },
  );
});

test('errorAnswer: an npm 401 challenges every client but the npm CLI, as the npm routes do', () => {
  const guess = protocolOf('/lodash', FORMATS);
  assert.equal(guess.shape, 'npm');
  const answer = (userAgent: string | undefined) =>
    errorAnswer(
      new RegistryError('UNAUTHORIZED', 'authentication required'),
      guess,
      { name: 'x', method: 'GET', userAgent },
      { realm: 'http://127.0.0.1/v2/token', service: 'nora' },
    ).headers['www-authenticate'];
  assert.equal(answer('curl/8.5.0'), 'Basic realm="nora"');
  assert.equal(answer(undefined), 'Basic realm="nora"');
  assert.equal(answer('npm/11.6.0 node/v24.0.0 linux x64 workspaces/false'), undefined);
});

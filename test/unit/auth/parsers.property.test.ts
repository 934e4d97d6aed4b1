/**
 * Property tests for what auth parses from untrusted or user-set text: resource globs (rules,
 * token scopes, OIDC subjects), pattern validation, and the Basic/Bearer Authorization headers.
 * A glob covers exactly what the module comment of src/auth/patterns.ts says (checked against
 * an independent recursive reading of it) and never more; matching is bounded on adversarial
 * globs; header parsing never throws and round-trips user names and passwords.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { AccessControl } from '../../../src/auth/access.ts';
import type { UserDirectory } from '../../../src/auth/directory.ts';
import {
  compileGlob,
  patternProblem,
  ResourcePattern,
  ResourcePatterns,
} from '../../../src/auth/patterns.ts';
import {
  BasicPasswordResolver,
  BearerTokenResolver,
  TokenAuthenticator,
} from '../../../src/auth/resolvers.ts';
import type { TokenStore } from '../../../src/auth/users.ts';
import { looksLikeToken } from '../../../src/auth/users.ts';
import { cpuNow, onlyRegistryErrors } from '../../helpers/properties.ts';

/** Any code points, lone surrogates included (fc's `binary` unit is slow to build). */
const anyCodePoints = (maxLength: number) =>
  fc
    .array(fc.integer({ min: 0, max: 0x10ffff }), { maxLength })
    .map((points) => String.fromCodePoint(...points));

// ---------------------------------------------------------------------------------------------
// Globs

/** One glob segment as the module comment defines it: `*` any run, the rest literal. */
function segmentCovers(glob: string, value: string): boolean {
  if (glob === '') return value === '';
  if (glob.startsWith('*')) {
    for (let i = 0; i <= value.length; i++)
      if (segmentCovers(glob.slice(1), value.slice(i))) return true;
    return false;
  }
  return value.startsWith(glob[0] ?? '') && segmentCovers(glob.slice(1), value.slice(1));
}

/** Whole segments: `**` covers zero or more non-empty segments, others exactly one. */
function segmentsCover(glob: readonly string[], value: readonly string[]): boolean {
  const [g, ...rest] = glob;
  if (g === undefined) return value.length === 0;
  if (g === '**') {
    if (segmentsCover(rest, value)) return true;
    return value.length > 0 && value[0] !== '' && segmentsCover(glob, value.slice(1));
  }
  const [v, ...after] = value;
  return v !== undefined && segmentCovers(g, v) && segmentsCover(rest, after);
}

function reference(glob: string, value: string): boolean {
  const segments = glob.split('/');
  if (value === '' && segments.every((s) => s === '**')) return true;
  return segmentsCover(segments, value.split('/'));
}

const globSegment = fc.oneof(
  { weight: 1, arbitrary: fc.constant('**') },
  {
    weight: 4,
    arbitrary: fc.string({ unit: fc.constantFrom('a', 'b', '*', '.', '-'), maxLength: 4 }),
  },
);
const globArb = fc.array(globSegment, { minLength: 1, maxLength: 5 }).map((s) => s.join('/'));
const valueArb = fc.string({ unit: fc.constantFrom('a', 'b', '/', '.', '-', '*'), maxLength: 12 });

test('compileGlob covers exactly what the segment-aware glob grammar says', () => {
  fc.assert(
    fc.property(globArb, valueArb, (glob, value) => {
      assert.equal(compileGlob(glob).test(value), reference(glob, value), `${glob} ~ ${value}`);
    }),
    { numRuns: 3000 },
  );
});

test('a glob never covers more than it says', () => {
  const name = fc
    .array(fc.stringMatching(/^[a-z0-9@._-]{1,6}$/), { minLength: 1, maxLength: 4 })
    .map((s) => s.join('/'));
  fc.assert(
    fc.property(name, name, (a, b) => {
      // Without wildcards a glob is the name itself.
      assert.equal(compileGlob(a).test(b), a === b);
      // `prefix/**` covers the prefix and what lies below it, nothing beside it.
      assert.equal(compileGlob(`${a}/**`).test(b), b === a || b.startsWith(`${a}/`));
      // `prefix/*` covers exactly one segment below it.
      const below = b.startsWith(`${a}/`) && !b.slice(a.length + 1).includes('/');
      assert.equal(compileGlob(`${a}/*`).test(b), below);
      // `*` alone stays within one segment; `**` covers everything.
      assert.equal(compileGlob('*').test(b), !b.includes('/'));
      assert.ok(compileGlob('**').test(b));
      // Characters a RegExp would treat specially are literal.
      for (const special of ['.', '+', '?', '(', '[', '^', '$', '|', '\\', '{']) {
        assert.equal(compileGlob(`${a}${special}`).test(`${a}x`), special === 'x');
      }
    }),
    { numRuns: 500 },
  );
});

test('regression: `**` twice in a row covers what one `**` covers', () => {
  // Found by the grammar property: `a/**/**` compiled to a RegExp that needed an empty segment.
  assert.equal(compileGlob('a/**/**').test('a/x'), true);
  assert.equal(compileGlob('a/**/**').test('a'), true);
  assert.equal(compileGlob('a/**/**').test('a/x/'), false);
  assert.equal(compileGlob('**/**').test('x/y'), true);
});

test('regression: glob matching is bounded on adversarial globs (token scopes are user input)', () => {
  // Found by timing: the RegExp of `*a*a*a*a*a*a*a*a*b` took over 20 s against 60 `a`s (a user
  // could set it as an API token scope and stall the server on every request with that token).
  const cases: [string, string][] = [
    [`${'*a'.repeat(20)}b`, 'a'.repeat(10_000)],
    [`${'**/a/'.repeat(20)}b`, `${'a/'.repeat(5_000)}a`],
    [`${'*'.repeat(500)}b`, 'a'.repeat(10_000)],
    ['a*'.repeat(250), `${'a'.repeat(9_999)}/`],
    [`**/${'*a'.repeat(30)}b/**`, `${'a'.repeat(100)}/`.repeat(100)],
  ];
  for (const [glob, value] of cases) {
    const start = cpuNow();
    compileGlob(glob).test(value);
    new ResourcePattern(`${glob}:${glob}`).matches({ repository: value, path: value });
    assert.ok(cpuNow() - start < 500, `${glob.slice(0, 20)}… took too long`);
  }
});

test('ResourcePattern: `repo:path` splits at the first colon; a bare path covers any repository', () => {
  const part = fc.stringMatching(/^[a-z*]{1,5}$/);
  // Repository names are one non-empty segment.
  const repositoryArb = fc.stringMatching(/^[a-z*.-]{1,6}$/);
  fc.assert(
    fc.property(part, part, repositoryArb, valueArb, (repoGlob, pathGlob, repository, path) => {
      const both = new ResourcePattern(`${repoGlob}:${pathGlob}`);
      assert.equal(
        both.matches({ repository, path }),
        compileGlob(repoGlob).test(repository) && compileGlob(pathGlob).test(path),
      );
      assert.equal(both.matches({ repository }), compileGlob(repoGlob).test(repository));
      const bare = new ResourcePattern(pathGlob);
      assert.equal(bare.matches({ repository, path }), compileGlob(pathGlob).test(path));
      const list = new ResourcePatterns([`${repoGlob}:${pathGlob}`, pathGlob]);
      assert.equal(
        list.matches({ repository, path }),
        both.matches({ repository, path }) || bare.matches({ repository, path }),
      );
    }),
    { numRuns: 500 },
  );
});

test('patternProblem is total; accepted patterns compile and have no empty or dot segments', () => {
  const text = fc.oneof(
    fc.string({ maxLength: 40 }),
    fc.string({ unit: fc.constantFrom('a', '/', ':', '*', '.', ' ', '\0'), maxLength: 12 }),
    fc.constantFrom('__proto__', 'constructor:toString', 'a:b:c', '**', 'x'.repeat(600)),
  );
  fc.assert(
    fc.property(text, (t) => {
      const problem = patternProblem(t);
      if (problem !== undefined) {
        assert.equal(typeof problem, 'string');
        return;
      }
      assert.ok(t.length <= 512 && !/[\s\0]/.test(t));
      const colon = t.indexOf(':');
      const path = colon === -1 ? t : t.slice(colon + 1);
      if (path !== '') assert.ok(path.split('/').every((s) => s !== '' && s !== '.' && s !== '..'));
      new ResourcePattern(t).matches({ repository: 'r', path: 'p' });
    }),
    { numRuns: 1000 },
  );
});

// ---------------------------------------------------------------------------------------------
// Authorization headers

interface Seen {
  verified: [string, string][];
  tokens: string[];
}

function resolvers(): { basic: BasicPasswordResolver; bearer: BearerTokenResolver; seen: Seen } {
  const seen: Seen = { verified: [], tokens: [] };
  const directory = {
    verify: (name: string, password: string) => {
      seen.verified.push([name, password]);
      return Promise.resolve(undefined);
    },
    account: () => Promise.resolve(undefined),
  } as unknown as UserDirectory;
  const tokens = {
    lookup: (secret: string) => {
      seen.tokens.push(secret);
      return Promise.resolve(undefined);
    },
    touch: () => Promise.resolve(),
  } as unknown as TokenStore;
  const auth = new TokenAuthenticator(tokens, directory);
  return {
    basic: new BasicPasswordResolver(directory, auth),
    bearer: new BearerTokenResolver(auth),
    seen,
  };
}

const headerArb = fc.oneof(
  fc.string({ maxLength: 80 }),
  anyCodePoints(40),
  fc
    .tuple(
      fc.constantFrom('Basic', 'basic', 'BASIC', 'Bearer', 'bearer', 'Token', ''),
      fc.constantFrom(' ', '  ', '\t', ''),
      fc.oneof(
        fc.string({ maxLength: 40 }),
        fc.base64String({ maxLength: 40 }),
        anyCodePoints(20).map((s) => Buffer.from(s).toString('base64')),
        fc.constantFrom('Og==', '=', '====', 'nra_' + 'a'.repeat(30), 'nora_anonymous_x'),
      ),
    )
    .map(([scheme, space, rest]) => `${scheme}${space}${rest}`),
);

test('Basic/Bearer resolvers and the no-credential check never throw on any header', async () => {
  const access = new AccessControl({ authEnabled: true, anonymousRead: false });
  await fc.assert(
    fc.asyncProperty(headerArb, async (authorization) => {
      const { basic, seen } = resolvers();
      assert.equal(await basic.resolve({ authorization }), undefined);
      assert.equal(await resolvers().bearer.resolve({ authorization }), undefined);
      const none = access.withoutCredentials(authorization);
      assert.ok(none === undefined || none.kind === 'anonymous');
      // Only token-shaped Basic passwords are looked up as tokens.
      for (const secret of seen.tokens) assert.ok(looksLikeToken(secret), secret);
      // A password is checked only with a non-empty user name.
      for (const [name] of seen.verified) assert.ok(name !== '' && !name.includes(':'));
    }),
    { numRuns: 1000 },
  );
});

test('Basic credentials round-trip: the user and password reach the directory unchanged', async () => {
  const user = fc
    .string({ unit: 'grapheme', minLength: 1, maxLength: 20 })
    .filter((u) => !u.includes(':'));
  const password = fc.string({ unit: 'grapheme', maxLength: 30 }).filter((p) => !looksLikeToken(p));
  await fc.assert(
    fc.asyncProperty(user, password, async (name, secret) => {
      const { basic, seen } = resolvers();
      const encoded = Buffer.from(`${name}:${secret}`, 'utf8').toString('base64');
      await basic.resolve({ authorization: `Basic ${encoded}` });
      assert.deepEqual(seen.verified, [[name, secret]]);
    }),
    { numRuns: 500 },
  );
});

test('token-shaped secrets go to the token store, never to password checks', async () => {
  const token = fc
    .tuple(fc.constantFrom('nra_', 'nora_'), fc.stringMatching(/^[A-Za-z0-9_-]{20,60}$/))
    .map(([p, s]) => `${p}${s}`);
  await fc.assert(
    fc.asyncProperty(token, fc.string({ maxLength: 10 }), async (secret, name) => {
      assert.ok(looksLikeToken(secret));
      const { basic, bearer, seen } = resolvers();
      await basic.resolve({
        authorization: `Basic ${Buffer.from(`${name.replace(/:/g, '')}:${secret}`).toString('base64')}`,
      });
      await bearer.resolve({ authorization: `Bearer ${secret}` });
      await bearer.resolve({ authorization: secret });
      assert.deepEqual(seen.tokens, [secret, secret, secret]);
      assert.deepEqual(seen.verified, []);
    }),
    { numRuns: 300 },
  );
});

test('header parsing bounds its work on huge headers', async () => {
  // 64 KiB: four times what Node's HTTP parser lets through (16 KiB of headers).
  const { basic, bearer } = resolvers();
  const access = new AccessControl({ authEnabled: true, anonymousRead: false });
  const start = cpuNow();
  for (const header of [
    `Basic ${'A'.repeat(1 << 16)}`,
    `Basic ${' '.repeat(1 << 16)}x`,
    `Bearer ${' '.repeat(1 << 16)}x`,
    `Basic${'\t'.repeat(1 << 16)}`,
    `nra_${'a'.repeat(1 << 16)}!`,
  ]) {
    await basic.resolve({ authorization: header });
    await bearer.resolve({ authorization: header });
    onlyRegistryErrors(() => access.withoutCredentials(header));
  }
  assert.ok(cpuNow() - start < 2000);
});

/**
 * Property tests for the OCI protocol documents and parameters that test/unit/oci/parsers.test.ts
 * (names, tags, references, paths, Content-Range) does not cover: manifest and index validation
 * (media types, descriptors, sizes), tag-list pagination through the Link header it writes, and
 * the token endpoint's scopes. Each answers or refuses with the protocol's 4xx, never anything
 * else (a TypeError would be a 500).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import type { AccessControl } from '../../../src/auth/access.ts';
import { ANONYMOUS } from '../../../src/auth/access.ts';
import type { UserDirectory } from '../../../src/auth/directory.ts';
import type { RegistryTokens } from '../../../src/auth/registry-token.ts';
import { isRegistryError } from '../../../src/core/errors.ts';
import { MEDIA_TYPES, parseManifest } from '../../../src/formats/oci/manifest.ts';
import { parseOciPath } from '../../../src/formats/oci/paths.ts';
import { isValidName } from '../../../src/formats/oci/reference.ts';
import { paginate } from '../../../src/formats/oci/service.ts';
import {
  bearerChallenge,
  parseScopes,
  TokenEndpoint,
  TokenError,
  type TokenRequest,
  withoutResourceClass,
} from '../../../src/formats/oci/token.ts';
import { parseChallenge } from '../../../src/proxy/auth.ts';
import type { Repository } from '../../../src/repos/repository.ts';
import { cpuNow, onlyRegistryErrors } from '../../helpers/properties.ts';

const hex = (length: number) => fc.stringMatching(new RegExp(`^[a-f0-9]{${length}}$`));
const digestArb = fc.oneof(
  hex(64).map((h) => `sha256:${h}`),
  hex(128).map((h) => `sha512:${h}`),
);
const alnum = fc.stringMatching(/^[a-z0-9]{1,6}$/);
const component = fc
  .tuple(
    alnum,
    fc.array(fc.tuple(fc.constantFrom('.', '_', '__', '-', '--'), alnum), { maxLength: 2 }),
  )
  .map(([head, rest]) => head + rest.map(([s, a]) => s + a).join(''));
const nameArb = fc.array(component, { minLength: 1, maxLength: 4 }).map((p) => p.join('/'));

// ---------------------------------------------------------------------------------------------
// Manifests

const descriptorArb = fc.record({
  mediaType: fc.constantFrom(
    'application/vnd.oci.image.layer.v1.tar+gzip',
    'application/vnd.oci.image.config.v1+json',
    'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
    'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
    MEDIA_TYPES.ociManifest,
  ),
  digest: digestArb,
  size: fc.oneof(fc.nat(), fc.constant(Number.MAX_SAFE_INTEGER)),
});

const imageArb = fc.record({
  schemaVersion: fc.constant(2),
  mediaType: fc.constantFrom(MEDIA_TYPES.ociManifest, MEDIA_TYPES.dockerManifest),
  config: descriptorArb,
  layers: fc.array(descriptorArb, { maxLength: 4 }),
});
const indexArb = fc.record({
  schemaVersion: fc.constant(2),
  mediaType: fc.constantFrom(MEDIA_TYPES.ociIndex, MEDIA_TYPES.dockerList),
  manifests: fc.array(descriptorArb, { maxLength: 4 }),
});

const contentTypeArb = fc.option(
  fc.constantFrom(
    MEDIA_TYPES.ociManifest,
    MEDIA_TYPES.ociIndex,
    MEDIA_TYPES.dockerManifest,
    MEDIA_TYPES.dockerList,
    'application/json',
    'application/octet-stream',
  ),
  { nil: undefined },
);

function only400(fn: () => unknown): void {
  try {
    fn();
  } catch (err) {
    assert.ok(isRegistryError(err), `unexpected ${String(err)}`);
    assert.equal(err.status, 400, err.message);
    assert.equal(err.code, 'MANIFEST_INVALID');
  }
}

test('valid manifests and indexes parse to their descriptors; foreign layers are not linked', () => {
  fc.assert(
    fc.property(fc.oneof(imageArb, indexArb), (doc) => {
      const parsed = parseManifest(Buffer.from(JSON.stringify(doc)), doc.mediaType);
      assert.equal(parsed.mediaType, doc.mediaType);
      if ('config' in doc) {
        const distributable = doc.layers.filter(
          (l) => !l.mediaType.includes('nondistributable') && !l.mediaType.includes('foreign'),
        );
        assert.deepEqual(parsed.blobs, [doc.config.digest, ...distributable.map((l) => l.digest)]);
        assert.deepEqual(parsed.children, []);
      } else {
        assert.deepEqual(
          parsed.children,
          doc.manifests.map((m) => m.digest),
        );
        assert.deepEqual(parsed.blobs, []);
      }
      // Without mediaType in the body, the Content-Type (or the shape) decides the same way.
      const bare: Record<string, unknown> = { ...doc };
      delete bare['mediaType'];
      const again = parseManifest(Buffer.from(JSON.stringify(bare)), doc.mediaType);
      assert.deepEqual(again, parsed);
    }),
    { numRuns: 300 },
  );
});

test('a manifest with one field broken is MANIFEST_INVALID (400), never anything else', () => {
  const badValue = fc.constantFrom<unknown>(
    -1,
    1.5,
    2 ** 53,
    '12',
    null,
    [],
    {},
    '',
    'SHA256:' + 'A'.repeat(64),
    'sha256:' + 'a'.repeat(63),
    'md5:abc',
    '__proto__',
    true,
  );
  const where = fc.constantFrom(
    'schemaVersion',
    'mediaType',
    'config',
    'config.size',
    'config.digest',
    'config.mediaType',
    'layers',
    'layers.0.size',
    'layers.0.digest',
    'manifests',
    'manifests.0.size',
    'subject',
    'subject.digest',
    'annotations',
    'annotations.x',
    'artifactType',
    '__proto__',
    'constructor',
  );
  fc.assert(
    fc.property(
      fc.oneof(imageArb, indexArb),
      where,
      badValue,
      contentTypeArb,
      (doc, at, value, type) => {
        const copy = JSON.parse(JSON.stringify(doc)) as Record<string, unknown>;
        const path = at.split('.');
        let target: Record<string, unknown> = copy;
        for (const key of path.slice(0, -1)) {
          const next = target[key];
          if (typeof next !== 'object' || next === null) return;
          target = next as Record<string, unknown>;
        }
        Object.defineProperty(target, path.at(-1) ?? '', {
          value,
          enumerable: true,
          writable: true,
        });
        only400(() => {
          const parsed = parseManifest(Buffer.from(JSON.stringify(copy)), type);
          for (const digest of [...parsed.blobs, ...parsed.children]) {
            assert.match(digest, /^sha(256:[a-f0-9]{64}|512:[a-f0-9]{128})$/);
          }
        });
      },
    ),
    { numRuns: 1000 },
  );
});

test('arbitrary JSON and bytes as a manifest: only MANIFEST_INVALID', () => {
  fc.assert(
    fc.property(
      fc.oneof(
        fc.jsonValue({ maxDepth: 4 }).map((v) => Buffer.from(JSON.stringify(v))),
        fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b)),
        fc
          .dictionary(
            fc.constantFrom(
              'schemaVersion',
              'mediaType',
              'config',
              'layers',
              'manifests',
              'subject',
            ),
            fc.jsonValue({ maxDepth: 2 }),
          )
          .map((d) => Buffer.from(JSON.stringify({ schemaVersion: 2, ...d }))),
      ),
      contentTypeArb,
      (body, type) => {
        only400(() => parseManifest(body, type));
      },
    ),
    { numRuns: 1000 },
  );
});

test('a declared mediaType and a different manifest Content-Type are refused', () => {
  fc.assert(
    fc.property(imageArb, contentTypeArb, (doc, type) => {
      const body = Buffer.from(JSON.stringify(doc));
      const manifestType =
        type !== undefined && (Object.values(MEDIA_TYPES) as string[]).includes(type);
      if (manifestType && type !== doc.mediaType) {
        assert.throws(() => parseManifest(body, type), /does not match/);
      } else {
        assert.equal(parseManifest(body, type).mediaType, doc.mediaType);
      }
    }),
    { numRuns: 300 },
  );
});

test('huge manifests finish quickly', () => {
  const layers = Array.from({ length: 20_000 }, () => ({
    mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip',
    digest: `sha256:${'a'.repeat(64)}`,
    size: 1,
  }));
  const start = cpuNow();
  parseManifest(
    Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        config: layers[0],
        layers,
        mediaType: MEDIA_TYPES.ociManifest,
      }),
    ),
    undefined,
  );
  only400(() =>
    parseManifest(Buffer.from(`{"schemaVersion":2,"layers":${'['.repeat(50_000)}`), undefined),
  );
  assert.ok(cpuNow() - start < 2000);
});

// ---------------------------------------------------------------------------------------------
// Pagination

/** The `last` and `n` a client reads back out of `Link: <path?n=…&last=…>; rel="next"`. */
function nextQuery(link: string | undefined): URLSearchParams | undefined {
  if (link === undefined) return undefined;
  const match = /^<([^>]*)>; rel="next"$/.exec(link);
  assert.ok(match, link);
  const url = new URL(match[1] ?? '', 'http://registry.invalid');
  return url.searchParams;
}

test('pagination through the Link header visits every name once, in order', () => {
  fc.assert(
    fc.property(
      fc.uniqueArray(fc.oneof(nameArb, fc.string({ minLength: 1, maxLength: 6 })), {
        maxLength: 25,
      }),
      fc.integer({ min: 1, max: 6 }),
      (items, n) => {
        const sorted = [...items].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
        const seen: string[] = [];
        let query: URLSearchParams | undefined = new URLSearchParams({ n: String(n) });
        for (let guard = 0; query !== undefined && guard < 100; guard++) {
          const page = paginate(sorted, query);
          assert.ok(page.items.length <= n);
          seen.push(...page.items);
          query = nextQuery(page.link('/v2/x/tags/list')['link']);
          if (query !== undefined) assert.equal(query.get('n'), String(n));
        }
        assert.deepEqual(seen, sorted);
      },
    ),
    { numRuns: 300 },
  );
});

test('pagination parameters: any n and last give a page or PAGINATION_NUMBER_INVALID', () => {
  const nText = fc.oneof(
    fc.string({ maxLength: 8 }),
    fc.constantFrom('0', '-1', '1.5', '1e3', '9007199254740993', 'NaN', 'Infinity', '', ' 2'),
    fc.nat().map(String),
  );
  fc.assert(
    fc.property(
      fc.array(fc.string({ maxLength: 4 }), { maxLength: 10 }),
      nText,
      fc.string(),
      (items, n, last) => {
        const sorted = [...items].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
        onlyRegistryErrors(() => {
          const page = paginate(sorted, new URLSearchParams({ n, last }));
          for (const item of page.items) assert.ok(last === '' || item > last);
          const link = page.link('/v2/_catalog')['link'];
          if (link !== undefined) assert.ok(nextQuery(link)?.get('last') === page.items.at(-1));
        });
      },
    ),
    { numRuns: 1000 },
  );
});

// ---------------------------------------------------------------------------------------------
// Token scopes

const actionArb = fc.oneof(
  fc.constantFrom('pull', 'push', 'delete', '*'),
  fc.constantFrom('__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf', 'PULL'),
  fc.stringMatching(/^[a-z_]{1,8}$/),
);
const scopeArb = fc
  .tuple(
    fc.constantFrom('repository', 'registry', 'repository(plugin)', '__proto__', 'constructor'),
    fc.oneof(nameArb, fc.constantFrom('catalog', 'host:5000/x', '__proto__')),
    fc.array(actionArb, { minLength: 1, maxLength: 4 }),
  )
  .map(([type, name, actions]) => `${type}:${name}:${actions.join(',')}`);

test('parseScopes round-trips well-formed scopes and refuses the rest with invalid_scope', () => {
  const middle = (s: string) => s.slice(s.indexOf(':') + 1, s.lastIndexOf(':'));
  fc.assert(
    fc.property(fc.array(scopeArb, { maxLength: 5 }), (scopes) => {
      fc.pre(scopes.every((s) => !s.startsWith('repository') || isValidName(middle(s))));
      const parsed = parseScopes([scopes.join(' ')]);
      assert.equal(parsed.length, scopes.length);
      parsed.forEach((scope, i) => {
        const text = scopes[i] ?? '';
        const type = text.startsWith('repository(') ? 'repository(plugin)' : scope.type;
        assert.equal(`${type}:${scope.name}:${scope.actions.join(',')}`, text);
      });
    }),
    { numRuns: 500 },
  );
  fc.assert(
    fc.property(fc.array(fc.string({ maxLength: 30 }), { maxLength: 4 }), (values) => {
      try {
        for (const scope of parseScopes(values)) {
          assert.ok(scope.type !== '' && scope.actions.every((a) => a !== ''));
          if (scope.type === 'repository') assert.ok(isValidName(scope.name));
        }
      } catch (err) {
        assert.ok(err instanceof TokenError && err.oauthError === 'invalid_scope', String(err));
      }
    }),
    { numRuns: 1000 },
  );
});

const KNOWN_ACTIONS = new Set(['pull', 'push', 'delete', '*']);

function endpoint(issued: { access: unknown[] }[]): TokenEndpoint {
  const repository = { name: 'docker', format: 'docker', kind: 'hosted' } as unknown as Repository;
  return new TokenEndpoint({
    access: { can: () => true } as unknown as AccessControl,
    tokens: {
      issueAccess: (request: { access: unknown[] }) => {
        issued.push(request);
        return Promise.resolve({ token: 't', expiresIn: 300, issuedAt: new Date(0) });
      },
    } as unknown as RegistryTokens,
    users: { passwordFingerprint: () => Promise.resolve(undefined) } as unknown as UserDirectory,
    locate: (name) => (isValidName(name) ? { repository, name } : undefined),
    writeTarget: (r) => r,
    catalogRepositories: () => [repository],
    service: () => 'nora',
    ttlSeconds: () => 300,
  });
}

function tokenRequest(scopes: string[]): TokenRequest {
  const params = new URLSearchParams();
  for (const scope of scopes) params.append('scope', scope);
  params.set('service', 'nora');
  return {
    method: 'GET',
    principal: { kind: 'user', name: 'alice', roles: ['admin'] },
    params,
    authenticate: () => Promise.resolve(ANONYMOUS),
  };
}

test('the token endpoint grants only known actions, whatever the scope names', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(scopeArb, { maxLength: 4 }), async (scopes) => {
      const issued: { access: unknown[] }[] = [];
      try {
        await endpoint(issued).handle(tokenRequest(scopes));
      } catch (err) {
        assert.ok(err instanceof TokenError, `unexpected ${String(err)}`);
        return;
      }
      for (const entry of issued[0]?.access ?? []) {
        const { actions } = entry as { actions: string[] };
        for (const action of actions) assert.ok(KNOWN_ACTIONS.has(action), action);
      }
    }),
    { numRuns: 500 },
  );
});

test('regression: a scope action named like an Object.prototype member is no action', async () => {
  // Found by the property above: `repository:x:constructor` looked up the action table's
  // inherited `constructor` (a function, not a list) and the token request failed with a 500.
  for (const action of ['constructor', '__proto__', 'toString', 'hasOwnProperty']) {
    const issued: { access: unknown[] }[] = [];
    const reply = await endpoint(issued).handle(
      tokenRequest([`repository:team/app:${action},pull`]),
    );
    assert.equal(reply.token, 't');
    assert.deepEqual(issued[0]?.access, [
      { type: 'repository', name: 'team/app', actions: ['pull'] },
    ]);
  }
});

test('bearerChallenge: the parameters read back with the challenge grammar', () => {
  fc.assert(
    fc.property(nameArb, fc.constantFrom('pull', 'pull,push', 'delete'), (name, actions) => {
      const scope = `repository:${name}:${actions}`;
      const header = bearerChallenge('https://r.invalid/v2/token', 'nora', scope);
      const params = Object.fromEntries(
        [...header.slice('Bearer '.length).matchAll(/(\w+)="([^"]*)"/g)].map(
          (m): [string, string] => [m[1] ?? '', m[2] ?? ''],
        ),
      );
      assert.deepEqual(params, { realm: 'https://r.invalid/v2/token', service: 'nora', scope });
      assert.deepEqual(parseScopes([scope]), [
        { type: 'repository', name, actions: actions.split(',') },
      ]);
    }),
  );
});

test('bearerChallenge round-trips through the challenge parser, whatever the realm holds', () => {
  // Header values: visible ASCII and spaces (no control characters reach a header).
  const headerText = fc.string({
    unit: fc.oneof(
      fc.constantFrom('"', '\\', ',', '=', ' ', ':', '/'),
      fc.integer({ min: 0x21, max: 0x7e }).map((c) => String.fromCharCode(c)),
    ),
    maxLength: 30,
  });
  fc.assert(
    fc.property(
      headerText,
      headerText,
      fc.option(headerText, { nil: undefined }),
      (realm, service, scope) => {
        const challenge = parseChallenge(bearerChallenge(realm, service, scope));
        assert.deepEqual(challenge, {
          scheme: 'bearer',
          params: { realm, service, ...(scope === undefined ? {} : { scope }) },
        });
      },
    ),
    { numRuns: 1000 },
  );
});

test('regression: a realm holding a quote stays one quoted value', () => {
  // Found by the round-trip above: the realm (from the Host header without public_url) was
  // written unescaped, so `h", scope="x` ended it early and added a parameter.
  const header = bearerChallenge('http://h", scope="x/v2/token', 'nora', undefined);
  assert.deepEqual(parseChallenge(header)?.params, {
    realm: 'http://h", scope="x/v2/token',
    service: 'nora',
  });
});

test('regression: withoutResourceClass removes what /\\(.*\\)$/ removed, in linear time', () => {
  const text = fc.string({
    unit: fc.constantFrom('(', ')', 'a', 'repository', '\n', '\r', '\u2028', ' '),
    maxLength: 12,
  });
  fc.assert(
    fc.property(text, (t) => {
      assert.equal(withoutResourceClass(t), t.replace(/\(.*\)$/, ''), JSON.stringify(t));
    }),
    { numRuns: 2000 },
  );
  // Found by timing: a POST /v2/token form (64 KiB allowed, anonymous) whose scope type is 60,000
  // `(` kept the RegExp busy for about two seconds.
  const start = cpuNow();
  parseScopes([`${'('.repeat(60_000)}:x:pull`]);
  onlyRegistryErrors(() => parseScopes([`repository${'('.repeat(60_000)})x:a:pull`]));
  assert.ok(cpuNow() - start < 100);
});

test('OCI paths and names: bounded work on 10k-character inputs', () => {
  const start = cpuNow();
  for (const path of [
    `${'a/'.repeat(5_000)}manifests/x`,
    `${'a/'.repeat(5_000)}tags/lis`,
    `${'a-'.repeat(5_000)}a/blobs/sha256:${'a'.repeat(64)}`,
    `${'a__'.repeat(3_000)}/manifests/${'a'.repeat(10_000)}`,
    '/manifests'.repeat(1_000),
    `${'a.'.repeat(5_000)}!/tags/list`,
  ]) {
    onlyRegistryErrors(() => parseOciPath(path), { min: 400, max: 499 });
    isValidName(path);
  }
  assert.ok(cpuNow() - start < 500);
});

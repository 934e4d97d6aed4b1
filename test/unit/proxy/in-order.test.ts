import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { UpstreamDefinition } from '../../../src/proxy/engine.ts';
import { RegistryError } from '../../../src/core/errors.ts';
import {
  ABSENT,
  askInOrder,
  type Revalidated,
  refreshInOrder,
  repositoryTargets,
  upstreamFailure,
} from '../../../src/proxy/in-order.ts';
import type { UpstreamTarget } from '../../../src/proxy/upstream-client.ts';

const made: UpstreamDefinition[] = [];
const engine = {
  upstream: (definition: UpstreamDefinition) => {
    made.push(definition);
    return { label: definition.label } as unknown as UpstreamTarget;
  },
};

test('repositoryTargets: one Basic target per upstream, labelled <repository>#<index>', () => {
  made.length = 0;
  const targets = repositoryTargets(
    engine,
    { name: 'mirror', upstreams: [{ url: 'http://a/' }, { url: 'http://b/', auth: 'u:p' }] },
    { timeoutSeconds: 30, url: (u) => `${u}index/` },
  );
  assert.deepEqual(
    targets.map((t) => t.label),
    ['mirror#0', 'mirror#1'],
  );
  assert.deepEqual(made, [
    {
      label: 'mirror#0',
      registry: 'mirror',
      url: 'http://a/index/',
      credentials: undefined,
      auth: 'basic',
      timeoutSeconds: 30,
      readTimeoutSeconds: 30,
    },
    {
      label: 'mirror#1',
      registry: 'mirror',
      url: 'http://b/index/',
      credentials: 'u:p',
      auth: 'basic',
      timeoutSeconds: 30,
      readTimeoutSeconds: 30,
    },
  ]);
});

const targets = ['r#0', 'r#1', 'r#2'].map((label) => ({ label }) as unknown as UpstreamTarget);

test('askInOrder: the first hit wins and later upstreams are not asked', async () => {
  const asked: string[] = [];
  const result = await askInOrder(targets, async (target, index) => {
    asked.push(target.label);
    if (index === 0) return ABSENT;
    return Promise.resolve(`from ${target.label}`);
  });
  assert.deepEqual(result, { kind: 'hit', value: 'from r#1' });
  assert.deepEqual(asked, ['r#0', 'r#1']);
});

test('askInOrder: absent only when every upstream says so (none at all is absent too)', async () => {
  assert.deepEqual(await askInOrder(targets, () => Promise.resolve(ABSENT)), { kind: 'absent' });
  assert.deepEqual(await askInOrder([], () => Promise.resolve('x')), { kind: 'absent' });
});

test('askInOrder: a failure outranks a 404 and the last failure is kept, as onError made it', async () => {
  const result = await askInOrder(
    targets,
    (target, index) =>
      index === 1 ? Promise.resolve(ABSENT) : Promise.reject(new Error(`down ${target.label}`)),
    (err, target) => `${target.label}: ${(err as Error).message}`,
  );
  assert.deepEqual(result, { kind: 'failed', error: 'r#2: down r#2' });
  const plain = await askInOrder(targets, (_t, index) =>
    index === 0 ? Promise.reject(new Error('boom')) : Promise.resolve(ABSENT),
  );
  assert.deepEqual(plain, { kind: 'failed', error: new Error('boom') });
});

const document = (etag: string): Revalidated => ({
  kind: 'document',
  body: Buffer.from(etag),
  type: undefined,
  etag,
  modifiedAt: undefined,
});
const updated = (label: string) => ({
  kind: 'updated' as const,
  entry: { digest: 'sha256:0', size: 0, mediaType: 'x', etag: undefined, upstream: label },
});
const down = new RegistryError('UPSTREAM_FAILED', 'upstream down');

test('refreshInOrder: absent and failing upstreams move on; the first document is stored', async () => {
  const stored: string[] = [];
  const result = await refreshInOrder(targets, -1, {
    fetch: (target) =>
      target.label === 'r#0'
        ? Promise.resolve({ kind: 'absent' })
        : target.label === 'r#1'
          ? Promise.reject(new Error('ECONNREFUSED'))
          : Promise.resolve(document('e2')),
    store: (fetched, target, index) => {
      stored.push(`${target.label}:${index}:${String(fetched.etag)}`);
      return Promise.resolve(updated(target.label));
    },
    onError: (err, target) => upstreamFailure(err, target.label, 'x'),
    what: 'x',
  });
  assert.deepEqual(result, updated('r#2'));
  assert.deepEqual(stored, ['r#2:2:e2']);
});

test('refreshInOrder: a copy from an earlier upstream that fails is kept, not switched', async () => {
  const steps = {
    fetch: (target: UpstreamTarget) =>
      target.label === 'r#0' ? Promise.reject(down) : Promise.resolve(document('later')),
    store: (_f: unknown, target: UpstreamTarget) => Promise.resolve(updated(target.label)),
    onError: () => down,
    what: 'x',
  };
  await assert.rejects(refreshInOrder(targets, 0, steps), down);
  assert.deepEqual(await refreshInOrder(targets, 1, steps), updated('r#1'));
});

test('refreshInOrder: unchanged ends it; ABSENT from store counts as absent; all absent is absent', async () => {
  assert.deepEqual(
    await refreshInOrder(targets, -1, {
      fetch: () => Promise.resolve({ kind: 'unchanged', etag: '"e"', modifiedAt: undefined }),
      store: () => Promise.reject(new Error('unused')),
      onError: () => down,
      what: 'x',
    }),
    { kind: 'unchanged', etag: '"e"', modifiedAt: undefined, upstream: 'r#0' },
  );
  assert.deepEqual(
    await refreshInOrder(targets, -1, {
      fetch: (target) =>
        Promise.resolve(target.label === 'r#1' ? document('empty') : { kind: 'absent' }),
      store: () => Promise.resolve(ABSENT),
      onError: () => down,
      what: 'x',
    }),
    { kind: 'absent' },
  );
  await assert.rejects(
    refreshInOrder(targets, -1, {
      fetch: () => Promise.resolve(document('bad')),
      store: () => Promise.reject(new RegistryError('TOO_LARGE', 'too big')),
      onError: (err, target) => upstreamFailure(err, target.label, 'x'),
      what: 'x',
    }),
    /^RegistryError: upstream r#2 for x: too big$/,
  );
});

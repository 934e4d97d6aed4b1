import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { UpstreamDefinition } from '../../../src/proxy/engine.ts';
import { ABSENT, askInOrder, repositoryTargets } from '../../../src/proxy/in-order.ts';
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

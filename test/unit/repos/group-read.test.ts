/** The shared group rule (src/repos/group-read.ts) in isolation. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RegistryError } from '../../../src/core/errors.ts';
import type { Logger } from '../../../src/core/logger.ts';
import { Metrics } from '../../../src/metrics/metrics.ts';
import {
  describeFailure,
  GroupReader,
  hostedNameGuard,
  MergeMemo,
  missNote,
} from '../../../src/repos/group-read.ts';
import { toRepository } from '../../../src/repos/repository.ts';

const repo = (name: string, kind: 'hosted' | 'proxy' | 'group', protect = true) =>
  toRepository(
    {
      name,
      format: 'docker',
      kind,
      members: [],
      upstreams: [],
      protect_hosted_names: protect,
    },
    false,
  );

function reader(): { reader: GroupReader; warnings: unknown[]; metrics: Metrics } {
  const warnings: unknown[] = [];
  const log = { warn: (o: unknown) => warnings.push(o) } as unknown as Logger;
  const metrics = new Metrics();
  return {
    reader: new GroupReader({ log, failures: metrics.groupMemberFailures }),
    warnings,
    metrics,
  };
}

const down = new RegistryError('UPSTREAM_FAILED', 'upstream p/0 failed (ECONNREFUSED)', {
  detail: { upstream: 'p/0' },
});

test('a failing member is "not here": the next answers; a total miss builds the 404 with the note', async () => {
  const { reader: r, warnings, metrics } = reader();
  const group = repo('g', 'group');
  const members = [repo('p', 'proxy'), repo('h', 'hosted')];
  const found = await r.first(
    group,
    members,
    (m) => (m.kind === 'proxy' ? Promise.reject(down) : Promise.resolve('hosted answer')),
    () => new Error('unused'),
  );
  assert.equal(found, 'hosted answer');
  await assert.rejects(
    r.first(
      group,
      members,
      (m) => (m.kind === 'proxy' ? Promise.reject(down) : Promise.resolve(undefined)),
      (note) => new RegistryError('NOT_FOUND', `missing${note}`),
    ),
    /^RegistryError: missing \(upstream p\/0 unreachable: ECONNREFUSED\)$/,
  );
  assert.equal(warnings.length, 2, 'one warning per read');
  assert.match(
    await metrics.registry.metrics(),
    /nora_group_member_failures_total\{repository="g",member="p"\} 2/,
  );
});

test('a proxy addressed alone keeps its failure; other errors are never swallowed', async () => {
  const { reader: r } = reader();
  const proxy = repo('p', 'proxy');
  await assert.rejects(
    r.first(
      proxy,
      [proxy],
      () => Promise.reject(down),
      () => new Error('x'),
    ),
    down,
  );
  const bad = new RegistryError('BAD_REQUEST', 'nope');
  await assert.rejects(
    r.all(repo('g', 'group'), [proxy], () => Promise.reject(bad)),
    bad,
  );
});

test('describeFailure and missNote are host-free and short', () => {
  assert.deepEqual(describeFailure('m', down), {
    member: 'm',
    upstream: 'p/0',
    reason: 'ECONNREFUSED',
  });
  const timeout = new RegistryError('UPSTREAM_TIMEOUT', 'upstream npm-proxy#0 timed out');
  assert.equal(describeFailure('m', timeout).reason, 'timeout');
  assert.equal(
    describeFailure('m', new RegistryError('UPSTREAM_FAILED', 'upstream x answered 503')).reason,
    'HTTP 503',
  );
  assert.equal(missNote([]), '');
});

test('hostedNameGuard: proxies are skipped for a hosted name only when the group protects', async () => {
  const hosted = repo('h', 'hosted');
  const proxy = repo('p', 'proxy');
  let asked = 0;
  const has = () => {
    asked++;
    return Promise.resolve(true);
  };
  const guard = hostedNameGuard(repo('g', 'group'), [hosted, proxy], has);
  assert.equal(await guard.allows(hosted), true);
  assert.equal(asked, 0, 'a hosted member costs no lookup');
  assert.equal(await guard.allows(proxy), false);
  assert.equal(await guard.allows(proxy), false);
  assert.equal(asked, 1, 'looked up once');
  const off = hostedNameGuard(repo('g', 'group', false), [hosted, proxy], has);
  assert.equal(await off.allows(proxy), true);
});

test('some: the answers of the members that had it; undefined or the miss when none did', async () => {
  const { reader: r } = reader();
  const group = repo('g', 'group');
  const members = [repo('p', 'proxy'), repo('h', 'hosted'), repo('h2', 'hosted')];
  const miss = (note: string) => new RegistryError('NOT_FOUND', `missing${note}`);
  const answers = await r.some(
    group,
    members,
    (m) =>
      m.kind === 'proxy' ? Promise.reject(down) : Promise.resolve(m.name === 'h' ? 1 : undefined),
    miss,
  );
  assert.deepEqual(
    answers?.map(({ member, value }) => [member.name, value]),
    [['h', 1]],
  );
  assert.equal(
    await r.some(group, members.slice(1), () => Promise.resolve(undefined), miss),
    undefined,
  );
  await assert.rejects(
    r.some(
      group,
      members,
      (m) => (m.kind === 'proxy' ? Promise.reject(down) : Promise.resolve(undefined)),
      miss,
    ),
    /^RegistryError: missing \(upstream p\/0 unreachable: ECONNREFUSED\)$/,
  );
});

test('MergeMemo: the same parts give the same merge; other parts or keys do not; bounded', () => {
  const memo = new MergeMemo<object, string>(2);
  const a = {};
  const b = {};
  memo.set('g\nx', [a, b], 'ab');
  assert.equal(memo.get('g\nx', [a, b]), 'ab');
  assert.equal(memo.get('g\nx', [b, a]), undefined, 'order counts');
  assert.equal(memo.get('g\nx', [a, b, {}]), undefined);
  assert.equal(memo.get('g\nx', [{}, b]), undefined, 'identity, not equality');
  memo.set('g\ny', [a], 'a');
  memo.set('g\nz', [b], 'b');
  assert.equal(memo.get('g\nx', [a, b]), undefined, 'the oldest merge went');
  assert.equal(memo.get('g\ny', [a]), 'a');
  assert.equal(memo.get('g\nz', [b]), 'b');
});

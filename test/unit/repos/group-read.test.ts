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
  shadowedProxies,
  shadowedText,
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
  const guard = hostedNameGuard(repo('g', 'group'), [hosted, proxy], 'lib', has);
  assert.equal(await guard.allows(hosted), true);
  assert.equal(asked, 0, 'a hosted member costs no lookup');
  assert.equal(guard.keptOut(), undefined);
  assert.equal(await guard.allows(proxy), false);
  assert.equal(await guard.allows(proxy), false);
  assert.equal(asked, 1, 'looked up once');
  const off = hostedNameGuard(repo('g', 'group', false), [hosted, proxy], 'lib', has);
  assert.equal(await off.allows(proxy), true);
  assert.equal(off.keptOut(), undefined);
});

test('the guard says what it kept out: the 404 names the hosted member, the group, the setting', async () => {
  const { reader: r } = reader();
  const group = repo('go', 'group');
  const hosted = repo('go-hosted', 'hosted');
  const proxy = repo('go-proxy', 'proxy');
  const miss = (note: string) => new RegistryError('NOT_FOUND', `not found: x${note}`);
  const none = (): Promise<string | undefined> => Promise.resolve(undefined);
  // The hosted member holds the name: the proxy is kept out, and the miss says so.
  const same = hostedNameGuard(group, [hosted, proxy], 'corp.example/lib', () =>
    Promise.resolve(true),
  );
  await assert.rejects(
    r.first(group, [hosted, proxy], none, miss, same),
    /^RegistryError: not found: x \(corp\.example\/lib is hosted in go-hosted, so group go does not ask its proxy for it: protect_hosted_names\)$/,
  );
  // It holds another name of the tree (Go): that one is named, and the one read.
  const tree = () =>
    hostedNameGuard(group, [hosted, proxy], 'corp.example', () =>
      Promise.resolve('corp.example/lib'),
    );
  await assert.rejects(
    r.some(group, [hosted, proxy], none, miss, tree()),
    /\(corp\.example\/lib is hosted in go-hosted, so group go does not ask its proxy for corp\.example: protect_hosted_names\)$/,
  );
  const all = await r.all(group, [hosted, proxy], none, tree());
  assert.deepEqual(all.kept, {
    group: 'go',
    name: 'corp.example',
    hosted: 'go-hosted',
    held: 'corp.example/lib',
    members: ['go-proxy'],
  });
  assert.equal(
    missNote([], all.kept),
    ' (corp.example/lib is hosted in go-hosted, so group go does not ask its proxy for corp.example: protect_hosted_names)',
  );
  // Failures and the guard in one note.
  assert.equal(
    missNote([{ member: 'p2', upstream: 'p2/0', reason: 'ECONNREFUSED' }], all.kept),
    ' (upstream p2/0 unreachable: ECONNREFUSED; corp.example/lib is hosted in go-hosted, so group go does not ask its proxy for corp.example: protect_hosted_names)',
  );
  // Nothing hosted: nothing kept out, a plain absence (undefined), no note.
  const free = hostedNameGuard(group, [hosted, proxy], 'other', () => Promise.resolve(false));
  assert.equal(await r.first(group, [hosted, proxy], none, miss, free), undefined);
  assert.equal(free.keptOut(), undefined);
  // A hosted answer: never a miss, whatever the guard kept out.
  const answered = hostedNameGuard(group, [proxy, hosted], 'lib', () => Promise.resolve(true));
  assert.equal(
    await r.first(
      group,
      [proxy, hosted],
      (m) => Promise.resolve(m.kind === 'hosted' ? 1 : undefined),
      miss,
      answered,
    ),
    1,
  );
});

test('shadowedProxies and shadowedText: which proxies of which guarding groups served a new name', async () => {
  const hosted = toRepository(
    { name: 'cargo-hosted', format: 'cargo', kind: 'hosted', members: [], upstreams: [] },
    false,
  );
  const proxy = toRepository(
    { name: 'cargo-proxy', format: 'cargo', kind: 'proxy', members: [], upstreams: [] },
    false,
  );
  const group = (name: string, protect: boolean) =>
    toRepository(
      {
        name,
        format: 'cargo',
        kind: 'group',
        members: ['cargo-hosted', 'cargo-proxy'],
        upstreams: [],
        protect_hosted_names: protect,
      },
      false,
    );
  const all = [hosted, proxy, group('cargo', true), group('merging', false)];
  const membersOf = (g: { members: readonly string[] }) =>
    all.filter((r) => g.members.includes(r.name));
  let asked = 0;
  const shadowed = await shadowedProxies(all, membersOf, hosted, 'up-other', () => {
    asked++;
    return Promise.resolve('up-other');
  });
  assert.deepEqual(shadowed, [{ group: 'cargo', proxy: 'cargo-proxy', served: 'up-other' }]);
  assert.equal(asked, 1);
  assert.deepEqual(
    shadowedText((n) => `crate \`${n}\``, 'up-other', 'cargo-hosted', shadowed),
    [
      "crate `up-other` is served by cargo-proxy through group cargo; from now on that group serves only cargo-hosted's versions of it and no longer asks cargo-proxy (protect_hosted_names)",
    ],
  );
  assert.deepEqual(
    await shadowedProxies(all, membersOf, hosted, 'mine', () => Promise.resolve(undefined)),
    [],
  );
  assert.deepEqual(
    shadowedText((n) => n, 'a.example/x/y', 'go-hosted', [
      { group: 'go', proxy: 'go-proxy', served: 'a.example/x' },
    ]),
    [
      'a.example/x (in the tree of a.example/x/y) is served by go-proxy through group go; from now on that group no longer asks go-proxy for it, only go-hosted (protect_hosted_names)',
    ],
  );
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

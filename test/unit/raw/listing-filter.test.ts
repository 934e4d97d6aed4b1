/**
 * RawService.list over a fake source: hidden entries are filtered before the page is cut, the
 * work per request is bounded (SCAN_BOUND past the page size), and a page that stops at the bound
 * on a hidden entry resumes through an opaque cursor that names nothing and works only in its
 * own folder.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { AccessControl, Principal } from '../../../src/auth/access.ts';
import type { AppConfig } from '../../../src/config/schema.ts';
import { RegistryError } from '../../../src/core/errors.ts';
import type { RawHosted } from '../../../src/formats/raw/hosted.ts';
import type { RawListing, RawListingEntry, RawSource } from '../../../src/formats/raw/model.ts';
import { RawService, SCAN_BOUND } from '../../../src/formats/raw/service.ts';
import { compareNames } from '../../../src/formats/raw/store.ts';
import type { Repository, RepositoryRegistry } from '../../../src/repos/repository.ts';

const file = (name: string): RawListingEntry => ({
  kind: 'file',
  name,
  size: 1,
  sha256: undefined,
  files: undefined,
  modifiedAt: 0,
});

/** A folder of sorted names; counts the entries it hands out. */
class FakeSource implements RawSource {
  readonly names: string[];
  handedOut = 0;
  calls = 0;
  constructor(names: string[]) {
    this.names = [...names].sort(compareNames);
  }
  openFile(): Promise<undefined> {
    return Promise.resolve(undefined);
  }
  list(
    _repo: Repository,
    _dir: string,
    after: string | undefined,
    limit: number,
  ): Promise<RawListing> {
    this.calls++;
    // first index whose name sorts after `after` (binary search: big folders stay cheap)
    let lo = 0;
    let hi = this.names.length;
    while (after !== undefined && lo < hi) {
      const mid = (lo + hi) >> 1;
      if (compareNames(this.names[mid] ?? '', after) > 0) hi = mid;
      else lo = mid + 1;
    }
    const entries = this.names.slice(lo, lo + limit).map(file);
    this.handedOut += entries.length;
    return Promise.resolve({ entries, more: this.names.length - lo > limit });
  }
}

const repo = (name: string) => ({ name, kind: 'group' }) as unknown as Repository;

function serviceOver(source: FakeSource, scanBound?: number): RawService {
  const access = {
    authorize: () => undefined,
    can: (_p: Principal, _r: Repository, _a: string, path: string) => !path.includes('hidden'),
  } as unknown as AccessControl;
  return new RawService({
    hosted: {} as unknown as RawHosted,
    repositories: {} as unknown as RepositoryRegistry,
    access,
    config: () => ({ raw: { list_page_size: 1000 } }) as unknown as AppConfig,
    sourceOf: () => source,
    ...(scanBound === undefined ? {} : { scanBound }),
  });
}

const principal = { kind: 'anonymous' } as unknown as Principal;

async function page(
  service: RawService,
  r: Repository,
  dir: string,
  p: { after?: string; limit?: number; cursor?: string },
) {
  const result = await service.list(r, dir, principal, {
    after: p.after,
    limit: p.limit,
    cursor: p.cursor,
  });
  assert.ok(result.kind === 'listing');
  return result.listing;
}

describe('raw listings: filter first, then page, bounded', () => {
  test('hidden entries after a full page: no next page; a visible one behind them: next page', async () => {
    const source = new FakeSource(['a', 'b', 'hidden-1', 'hidden-2']);
    const service = serviceOver(source);
    const first = await page(service, repo('g'), '', { limit: 2 });
    assert.deepEqual(
      first.entries.map((e) => e.name),
      ['a', 'b'],
    );
    assert.equal(first.more, false);
    source.names.push('z'); // sorts last
    const again = await page(service, repo('g'), '', { limit: 2 });
    assert.equal(again.more, true);
    assert.equal(again.cursor, undefined);
    const next = await page(service, repo('g'), '', { limit: 2, after: 'b' });
    assert.deepEqual(
      next.entries.map((e) => e.name),
      ['z'],
    );
    assert.equal(next.more, false);
  });

  test('many hidden entries: at most limit + SCAN_BOUND examined, an opaque cursor resumes', async () => {
    const hidden = Array.from(
      { length: 3 * SCAN_BOUND },
      (_, i) => `hidden-${String(i).padStart(6, '0')}`,
    );
    const source = new FakeSource(['a', ...hidden, 'z']);
    const service = serviceOver(source);
    const r = repo('g');
    const first = await page(service, r, 'dir', { limit: 10 });
    assert.deepEqual(
      first.entries.map((e) => e.name),
      ['a'],
    );
    assert.ok(source.handedOut <= 10 + SCAN_BOUND + 1, `examined ${source.handedOut}`);
    assert.equal(first.more, true);
    assert.ok(first.cursor !== undefined);
    assert.doesNotMatch(Buffer.from(first.cursor, 'base64url').toString('latin1'), /hidden/);
    // the walk goes on through the cursors, each request bounded, and ends at z
    const names: string[] = first.entries.map((e) => e.name);
    let cursor: string | undefined = first.cursor;
    for (let i = 0; cursor !== undefined && i < 10; i++) {
      source.handedOut = 0;
      const next = await page(service, r, 'dir', { limit: 10, cursor });
      assert.ok(source.handedOut <= 10 + SCAN_BOUND + 1, `examined ${source.handedOut}`);
      names.push(...next.entries.map((e) => e.name));
      cursor = next.more ? next.cursor : undefined;
      if (next.more && next.cursor === undefined) {
        assert.fail('a page with more entries and no cursor (all its entries were hidden)');
      }
    }
    assert.deepEqual(names, ['a', 'z']);
    // a cursor is only good for its own folder and repository
    await assert.rejects(
      page(service, r, 'other', { limit: 10, cursor: first.cursor }),
      (err: unknown) => err instanceof RegistryError && err.status === 400,
    );
    await assert.rejects(
      page(service, repo('h'), 'dir', { limit: 10, cursor: first.cursor }),
      (err: unknown) => err instanceof RegistryError && err.status === 400,
    );
    await assert.rejects(
      page(service, r, 'dir', { limit: 10, cursor: 'AAAA' }),
      (err: unknown) => err instanceof RegistryError && err.status === 400,
    );
  });

  test('a small bound: a cursor past the hidden entries, then after= in clear again', async () => {
    const source = new FakeSource(['a', 'hidden-1', 'hidden-2', 'm', 'n', 'z']);
    const service = serviceOver(source, 2);
    const first = await page(service, repo('g'), '', { limit: 1 });
    // limit 1 + bound 2: examines a, hidden-1, hidden-2 → a, more (unknown yet), cursor past hidden-2
    assert.deepEqual(
      first.entries.map((e) => e.name),
      ['a'],
    );
    assert.equal(first.more, true);
    assert.ok(first.cursor !== undefined);
    const second = await page(service, repo('g'), '', { limit: 1, cursor: first.cursor });
    assert.deepEqual(
      second.entries.map((e) => e.name),
      ['m'],
    );
    assert.equal(second.more, true);
    assert.equal(second.cursor, undefined);
  });

  test('no hidden entries: one source call per page, as before', async () => {
    const source = new FakeSource(['a', 'b', 'c']);
    const service = serviceOver(source);
    const first = await page(service, repo('g'), '', { limit: 2 });
    assert.equal(source.calls, 1);
    assert.equal(first.more, true);
    assert.equal(first.cursor, undefined);
  });
});

/**
 * The browse pages' facts and marks (src/ui/browse-pages.ts localFact, localMark): the sources
 * return structured data (a key + parameters, src/ui/types.ts), which reads in the page's
 * language — labels, PyPI's `N bytes (+ N bytes of PEP 658 metadata), sha256:…, requires …`,
 * raw's listing limit, every version badge — while data (file names, digests, version
 * specifiers, yank reasons) stays as written.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { localFact, localMark } from '../../../src/ui/browse-pages.ts';
import { LANGUAGES, translator } from '../../../src/ui/i18n.ts';
import type { BrowseMark } from '../../../src/ui/types.ts';

const hex = 'ab'.repeat(32);

describe('localFact', () => {
  test("PyPI's file fact, with and without PEP 658 metadata and requires", () => {
    const ru = translator('ru');
    const zh = translator('zh');
    const wheel = {
      file: 'tool-1.0-py3-none-any.whl',
      bytes: 2048,
      metadataBytes: 512,
      digest: `sha256:${hex}`,
      requires: '>=3.8',
    };
    assert.deepEqual(localFact(wheel, ru), [
      'tool-1.0-py3-none-any.whl',
      `2048 байт (+ 512 байт метаданных PEP 658), sha256:${hex}, требует >=3.8`,
    ]);
    assert.deepEqual(
      localFact({ file: 'tool-1.0.tar.gz', bytes: 99, digest: `sha256:${hex}` }, zh),
      ['tool-1.0.tar.gz', `99 字节, sha256:${hex}`],
    );
    assert.deepEqual(localFact(wheel, translator('en')), [
      'tool-1.0-py3-none-any.whl',
      `2048 bytes (+ 512 bytes of PEP 658 metadata), sha256:${hex}, requires >=3.8`,
    ]);
  });

  test('labels and fixed values; data values stay as written', () => {
    const ru = translator('ru');
    assert.deepEqual(localFact({ label: 'repository', value: 'npm-hosted' }, ru), [
      'Репозиторий',
      'npm-hosted',
    ]);
    assert.deepEqual(localFact({ label: 'cachedFrom', upstream: true }, ru), [
      'Источник кэша',
      'внешний реестр (прокси)',
    ]);
    assert.deepEqual(localFact({ label: 'listing', first: 1000, rest: 'http://h/raw/a/' }, ru), [
      'Список',
      'первые 1000 записей; остальные: GET http://h/raw/a/',
    ]);
    // A value that merely looks like a fixed phrase is data: never translated.
    assert.deepEqual(localFact({ label: 'curation', value: 'upstream (proxy)' }, ru), [
      'Курирование',
      'upstream (proxy)',
    ]);
  });
});

describe('localMark', () => {
  const every: readonly BrowseMark[] = [
    { mark: 'yanked' },
    { mark: 'deprecated' },
    { mark: 'snapshot' },
    { mark: 'pseudoVersion' },
    { mark: 'refusedByCuration' },
    { mark: 'held', until: Date.UTC(2026, 11, 8, 12) },
    { mark: 'folder', files: 3 },
  ];

  test('every badge reads in each language, distinct from English', () => {
    const en = every.map((m) => localMark(m, translator('en')));
    assert.deepEqual(en, [
      'yanked',
      'deprecated',
      'snapshot',
      'pseudo-version',
      'refused by curation',
      'held until 2026-12-08T12:00:00Z',
      'folder, 3 files',
    ]);
    for (const language of LANGUAGES.filter((l) => l !== 'en')) {
      const local = every.map((m) => localMark(m, translator(language)));
      local.forEach((text, i) => {
        assert.notEqual(text, en[i], `${language}: ${en[i]}`);
      });
    }
    assert.equal(localMark({ mark: 'folder', files: 3 }, translator('ru')), 'папка, 3 файла');
  });

  test("a mark's detail (a reason, a message) follows as written", () => {
    assert.equal(
      localMark({ mark: 'yanked', detail: 'broken <build>' }, translator('zh')),
      '已撤回: broken <build>',
    );
    assert.equal(
      localMark({ mark: 'deprecated', detail: 'use 1.9' }, translator('ru')),
      'устарела: use 1.9',
    );
    assert.equal(localMark({ mark: 'yanked', detail: '' }, translator('en')), 'yanked');
  });
});

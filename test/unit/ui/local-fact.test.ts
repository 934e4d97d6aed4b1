/**
 * The browse pages' fact translation (src/ui/browse-pages.ts localFact): the labels and fixed
 * phrases the sources write in English read in the page's language — PyPI's
 * `N bytes (+ N bytes of PEP 658 metadata), sha256:…, requires …`, raw's listing limit — while
 * data (file names, digests, version specifiers) stays as written.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { localFact } from '../../../src/ui/browse-pages.ts';
import { translator } from '../../../src/ui/i18n.ts';

const hex = 'ab'.repeat(32);

describe('localFact', () => {
  test("PyPI's file fact, with and without PEP 658 metadata and requires", () => {
    const ru = translator('ru');
    const zh = translator('zh');
    const value = `2048 bytes (+ 512 bytes of PEP 658 metadata), sha256:${hex}, requires >=3.8`;
    assert.deepEqual(localFact(['tool-1.0-py3-none-any.whl', value], ru), [
      'tool-1.0-py3-none-any.whl',
      `2048 байт (+ 512 байт метаданных PEP 658), sha256:${hex}, требует >=3.8`,
    ]);
    assert.deepEqual(localFact(['tool-1.0.tar.gz', `99 bytes, sha256:${hex}`], zh), [
      'tool-1.0.tar.gz',
      `99 字节, sha256:${hex}`,
    ]);
    // English reads as the source wrote it.
    assert.deepEqual(localFact(['f', value], translator('en')), ['f', value]);
  });

  test('labels and fixed values; unknown ones stay as written', () => {
    const ru = translator('ru');
    assert.deepEqual(localFact(['Repository', 'npm-hosted'], ru), ['Репозиторий', 'npm-hosted']);
    assert.deepEqual(localFact(['Cached from', 'upstream (proxy)'], ru), [
      'Источник кэша',
      'внешний реестр (прокси)',
    ]);
    assert.deepEqual(
      localFact(['Listing', 'the first 1000 entries; the rest: GET http://h/raw/a/'], ru),
      ['Список', 'первые 1000 записей; остальные: GET http://h/raw/a/'],
    );
    assert.deepEqual(localFact(['Whatever', '12 bytes of love'], ru), [
      'Whatever',
      '12 bytes of love',
    ]);
  });
});

/**
 * Counts in the web UI agree with their number in every language (src/ui/i18n.ts
 * formatMessage): `1 file` / `2 files`, `1 файл` / `2 файла` / `5 файлов`, Chinese's one form —
 * raw's folder badge, a file's bytes, the listing limit, the dashboard's cards, the lockout's
 * seconds. Each table's counts carry every form its language's plural rules select, and no
 * English message puts a plural noun after a bare number.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { localFact, localMark } from '../../../src/ui/browse-pages.ts';
import { renderDashboard, type Dashboard } from '../../../src/ui/dashboard.ts';
import {
  formatMessage,
  LANGUAGES,
  MESSAGES,
  messageArguments,
  pluralCategories,
  translator,
  type MessageKey,
} from '../../../src/ui/i18n.ts';

const en = translator('en');
const ru = translator('ru');
const zh = translator('zh');

describe('UI counts: singular and plural', () => {
  test("raw's folder badge counts its files in each language's forms", () => {
    const folder = (t: typeof en, files: number) => localMark({ mark: 'folder', files }, t);
    assert.equal(folder(en, 1), 'folder, 1 file');
    assert.equal(folder(en, 0), 'folder, 0 files');
    assert.equal(folder(en, 2), 'folder, 2 files');
    assert.deepEqual(
      [1, 2, 5, 11, 21, 22, 104].map((n) => folder(ru, n)),
      [
        'папка, 1 файл',
        'папка, 2 файла',
        'папка, 5 файлов',
        'папка, 11 файлов',
        'папка, 21 файл',
        'папка, 22 файла',
        'папка, 104 файла',
      ],
    );
    assert.equal(folder(zh, 1), '文件夹，1 个文件');
  });

  test("a file's bytes and raw's listing limit", () => {
    const digest = `sha256:${'cd'.repeat(32)}`;
    assert.deepEqual(localFact({ file: 'a.whl', bytes: 1, digest }, en), [
      'a.whl',
      `1 byte, ${digest}`,
    ]);
    assert.deepEqual(localFact({ file: 'a.whl', bytes: 1, metadataBytes: 1, digest }, en), [
      'a.whl',
      `1 byte (+ 1 byte of PEP 658 metadata), ${digest}`,
    ]);
    assert.deepEqual(localFact({ file: 'a.whl', bytes: 2, metadataBytes: 3, digest }, ru), [
      'a.whl',
      `2 байта (+ 3 байта метаданных PEP 658), ${digest}`,
    ]);
    assert.deepEqual(localFact({ label: 'listing', first: 1, rest: 'http://h/raw/a/' }, en), [
      'Listing',
      'the first 1 entry; the rest: GET http://h/raw/a/',
    ]);
    assert.deepEqual(localFact({ label: 'listing', first: 2, rest: 'http://h/raw/a/' }, ru), [
      'Список',
      'первые 2 записи; остальные: GET http://h/raw/a/',
    ]);
  });

  test("the dashboard's cards: 1 name, 1 hit, 1 miss", () => {
    const data: Dashboard = {
      stats: {
        formats_enabled: 1,
        formats: ['raw'],
        repositories: { hosted: 1, proxy: 1, group: 1, total: 3 },
        hosted: { names: 1, versions: 1, bytes: 10 },
        storage_bytes: 10,
        cache: { hits: 1, misses: 1, hit_ratio: 0.5 },
      },
      registries: [],
      mounts: [],
      activity: [],
    };
    const page = String(renderDashboard(data, () => '/ui/raw', en));
    assert.match(page, /1 name · 10 B/);
    assert.match(page, /1 hit · 1 miss\b/);
    assert.doesNotMatch(page, /\b1 (names|hits|misses)\b/);
    const many = {
      ...data,
      stats: { ...data.stats, hosted: { names: 2, versions: 2, bytes: 10 } },
    };
    assert.match(String(renderDashboard(many, () => '/ui/raw', en)), /2 names · 10 B/);
    const russian = String(renderDashboard(data, () => '/ui/raw', ru));
    assert.match(russian, /1 имя · 10 B/);
    assert.match(russian, /1 попадание · 1 промах/);
    assert.match(russian, /1 локальный · 1 прокси · 1 группа/);
  });

  test("the lockout's seconds", () => {
    assert.equal(en('error.retryAfter', { seconds: '1' }), 'Try again in 1 second.');
    assert.equal(en('error.retryAfter', { seconds: '30' }), 'Try again in 30 seconds.');
    assert.equal(ru('error.retryAfter', { seconds: '1' }), 'Повторите через 1 секунду.');
    assert.equal(ru('error.retryAfter', { seconds: '5' }), 'Повторите через 5 секунд.');
    assert.equal(zh('error.retryAfter', { seconds: '1' }), '请在 1 秒后重试。');
  });

  test('formatMessage: exact =N first, a missing or non-numeric count stays as written', () => {
    const text = '{n, plural, =0 {none} one {# item} other {# items}} in {where}';
    assert.equal(formatMessage('en', text, { n: 0, where: 'a' }), 'none in a');
    assert.equal(formatMessage('en', text, { n: 1, where: 'a' }), '1 item in a');
    assert.equal(formatMessage('en', text, { n: 7, where: 'a' }), '7 items in a');
    assert.equal(formatMessage('ru', text, { n: 5, where: 'a' }), '5 items in a');
    assert.equal(formatMessage('en', text, { where: 'a' }), text.replace('{where}', 'a'));
    assert.equal(formatMessage('en', text, { n: 'x', where: 'a' }), text.replace('{where}', 'a'));
    // A form may hold further arguments; `#` in a value is data, not the number.
    assert.equal(
      formatMessage('en', '{n, plural, one {# file in {dir}} other {# files in {dir}}}', {
        n: 2,
        dir: '#x',
      }),
      '2 files in #x',
    );
  });
});

describe('UI message tables: counts', () => {
  test("every count carries each form its language's plural rules select, and no other", () => {
    for (const language of LANGUAGES) {
      const needed = pluralCategories(language);
      for (const [key, text] of Object.entries(MESSAGES[language])) {
        for (const argument of messageArguments(text)) {
          if (argument.plural === undefined) continue;
          const forms = Object.keys(argument.plural).filter((f) => !f.startsWith('='));
          assert.deepEqual(
            forms.sort(),
            [...needed].sort(),
            `${language} ${key} {${argument.name}}`,
          );
        }
      }
    }
  });

  test('no English message puts a plural noun after a bare number', () => {
    const countNouns =
      /\{[a-z]+\} (?:files|entries|bytes|names|hits|misses|seconds|versions|tags|days|items)\b/;
    const english = MESSAGES.en;
    for (const key of Object.keys(english) as MessageKey[]) {
      assert.doesNotMatch(english[key], countNouns, key);
    }
    // Each count of the English table is written as one (the ones this test knows of).
    const counted = (Object.keys(english) as MessageKey[]).filter((key) =>
      messageArguments(english[key]).some((a) => a.plural !== undefined),
    );
    assert.deepEqual(counted.sort(), [
      'dash.hitSub',
      'dash.hostedSub',
      'error.retryAfter',
      'fact.bytes',
      'fact.bytesMetadata',
      'fact.listingFirst',
      'mark.folder',
    ]);
  });
});

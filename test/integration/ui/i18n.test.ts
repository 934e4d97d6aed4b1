/**
 * The web UI's languages (NORA §3.14; docs/ui.md "Languages"): every table has the English
 * table's keys (and the same `{placeholders}`), Accept-Language picks the page language,
 * `?lang=` sets the `nora_lang` cookie that later pages follow, `<html lang>` says which,
 * data (package names, versions) is never translated; and the failed-login lockout answers a
 * browser's `/ui/` request with the UI's HTML error page (Retry-After kept), `/api/ui/` JSON.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  fromAcceptLanguage,
  LANGUAGES,
  MESSAGES,
  messageArguments,
  pickLanguage,
  translator,
} from '../../../src/ui/i18n.ts';
import { startTestServer, type TestServer } from '../../helpers/server.ts';
import { escapedName, publishBody } from '../npm/fixtures.ts';

const basic = (user: string, password: string) =>
  `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

async function get(server: TestServer, path: string, headers: Record<string, string> = {}) {
  const res = await fetch(`${server.url}${path}`, { redirect: 'manual', headers });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

/** The names a message fills in: `{name}` and counts' `{name, plural, …}` (their forms' too). */
const placeholders = (text: string): string[] =>
  [...new Set(messageArguments(text).map((a) => a.name))].sort();

describe('UI message tables', () => {
  test('every language has exactly the English keys, non-empty, with the same placeholders', () => {
    const english = MESSAGES.en;
    const keys = Object.keys(english).sort();
    assert.ok(keys.length > 50);
    for (const language of LANGUAGES) {
      const table = MESSAGES[language];
      assert.deepEqual(Object.keys(table).sort(), keys, `${language}: same keys as en`);
      for (const key of keys) {
        const text = table[key as keyof typeof english];
        assert.ok(text.trim() !== '', `${language} ${key} is empty`);
        assert.deepEqual(
          placeholders(text),
          placeholders(english[key as keyof typeof english]),
          `${language} ${key}`,
        );
      }
    }
    // The non-English tables are translations, not copies (ids and the like excepted).
    for (const language of ['ru', 'zh'] as const) {
      const same = keys.filter(
        (k) => MESSAGES[language][k as keyof typeof english] === english[k as keyof typeof english],
      );
      assert.deepEqual(same, ['th.id'], `${language}: untranslated keys`);
    }
  });

  test('Accept-Language: q-values, subtags, refused ranges; ?lang= and the cookie win', () => {
    assert.equal(fromAcceptLanguage('ru-RU,ru;q=0.9,en-US;q=0.8,en;q=0.7'), 'ru');
    assert.equal(fromAcceptLanguage('zh-Hans-CN'), 'zh');
    assert.equal(fromAcceptLanguage('de-DE, en;q=0.5, zh;q=0.8'), 'zh');
    assert.equal(fromAcceptLanguage('ru;q=0, en;q=0.1'), 'en');
    assert.equal(fromAcceptLanguage('de, fr'), undefined);
    assert.equal(fromAcceptLanguage('*'), undefined);
    assert.equal(fromAcceptLanguage(undefined), undefined);
    assert.equal(pickLanguage({ acceptLanguage: 'fr' }), 'en');
    assert.equal(pickLanguage({ cookie: 'a=b; nora_lang=zh', acceptLanguage: 'ru' }), 'zh');
    assert.equal(pickLanguage({ query: 'RU', cookie: 'nora_lang=zh' }), 'ru');
    assert.equal(
      pickLanguage({ query: 'xx', cookie: 'nora_lang=bogus', acceptLanguage: 'ru' }),
      'ru',
    );
    assert.equal(
      translator('ru')('browse.notFound', { name: '<x>', repo: 'npm' }),
      '<x> не найден в npm.',
    );
  });
});

describe('UI pages in each language', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ config: { auth: { enabled: false } } });
    const name = 'widget-lang';
    const res = await fetch(`${server.url}/npm/${escapedName(name)}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(publishBody({ name, version: '1.2.3', description: 'Dashboard' })),
    });
    assert.equal(res.status, 201, await res.text());
  });
  after(async () => {
    await server.close();
  });

  test('Accept-Language picks the language; <html lang> and every fixed string follow', async () => {
    for (const [accept, language] of [
      ['ru-RU,ru;q=0.9,en;q=0.5', 'ru'],
      ['zh-CN,zh;q=0.9', 'zh'],
      ['fr-FR', 'en'],
    ] as const) {
      const t = translator(language);
      const page = await get(server, '/ui/', { 'accept-language': accept });
      assert.equal(page.status, 200);
      assert.match(page.text, new RegExp(`<html lang="${language}">`));
      assert.match(page.headers.get('vary') ?? '', /Accept-Language/);
      for (const key of [
        'nav.dashboard',
        'dash.registries',
        'dash.mountPoints',
        'th.clientSetup',
        'nav.tokens',
      ] as const) {
        assert.ok(page.text.includes(t(key)), `${language}: ${key}`);
      }
      const list = await get(server, '/ui/npm', { 'accept-language': accept });
      assert.ok(list.text.includes(`<th>${t('th.latest')}</th>`), `${language}: list head`);
      assert.ok(list.text.includes(t('browse.search')), `${language}: search button`);
      // Data is never translated: the name, the version and a description that is an English key's text.
      assert.ok(list.text.includes('widget-lang') && list.text.includes('1.2.3'));
      assert.ok(list.text.includes('<td>Dashboard</td>'), `${language}: description as written`);
      const missing = await get(server, '/ui/npm/no-such-pkg', { 'accept-language': accept });
      assert.equal(missing.status, 404);
      assert.ok(
        missing.text.includes(t('browse.notFound', { name: 'no-such-pkg', repo: 'npm-hosted' })),
        missing.text,
      );
      const tokens = await get(server, '/ui/tokens', { 'accept-language': accept });
      assert.ok(tokens.text.includes(t('tokens.authOffWhy')), `${language}: tokens page`);
      const unknown = await get(server, '/ui/nosuch', { 'accept-language': accept });
      assert.equal(unknown.status, 404);
      assert.ok(unknown.text.includes(`<title>${t('error.notFound')} · NORA</title>`));
    }
    // English pages hold no Russian or Chinese (the default table is complete on its own).
    const en = await get(server, '/ui/');
    assert.match(en.text, /<html lang="en">/);
    assert.doesNotMatch(en.text.replace(/>(Русский|中文)</g, '><'), /[\u0400-\u04ff\u4e00-\u9fff]/);
  });

  test('fact labels, kind labels and activity actions follow the language (data does not)', async () => {
    const pom =
      '<project><modelVersion>4.0.0</modelVersion><groupId>com.lang</groupId>' +
      '<artifactId>lib</artifactId><version>1.0</version><packaging>jar</packaging></project>';
    const put = await fetch(`${server.url}/maven2/com/lang/lib/1.0/lib-1.0.pom`, {
      method: 'PUT',
      body: pom,
    });
    assert.ok(put.status < 300, String(put.status));
    for (const language of ['ru', 'zh'] as const) {
      const t = translator(language);
      const accept = { 'accept-language': language };
      const npm = await get(server, '/ui/npm/widget-lang', accept);
      assert.equal(npm.status, 200, npm.text);
      assert.ok(npm.text.includes(`<th>${t('fact.repository')}</th>`), `${language}: Repository`);
      assert.ok(npm.text.includes(`<th>${t('fact.distTags')}</th>`), `${language}: Dist-tags`);
      assert.ok(npm.text.includes(`(${t('kind.hosted')})`), `${language}: (hosted)`);
      assert.ok(npm.text.includes('latest: 1.2.3'), 'the fact value is data');
      assert.doesNotMatch(npm.text, /<th>(Repository|Dist-tags)<\/th>|\(hosted\)/);
      const list = await get(server, '/ui/npm', accept);
      assert.ok(list.text.includes(`(${t('kind.group')})`), `${language}: (group)`);
      assert.doesNotMatch(list.text, /\((hosted|group)\)/);
      const maven = await get(server, '/ui/maven/com.lang:lib', accept);
      assert.equal(maven.status, 200, maven.text);
      assert.ok(maven.text.includes(`<th>${t('fact.packaging')}</th>`), `${language}: Packaging`);
      assert.ok(maven.text.includes(t('fact.bytes', { bytes: Buffer.byteLength(pom) })));
      assert.doesNotMatch(maven.text, /<th>Packaging<\/th>|\d bytes/);
      const dashboard = await get(server, '/ui/', accept);
      assert.ok(
        dashboard.text.includes(`<td data-action="push">${t('action.push')}</td>`),
        `${language}: the activity's action`,
      );
      assert.ok(dashboard.text.includes(`${t('kind.hosted')}</span`), `${language}: card kinds`);
    }
    // English keeps NORA's action names (docs/audit.md).
    const en = await get(server, '/ui/');
    assert.ok(en.text.includes('<td data-action="push">push</td>'));
  });

  test('?lang= sets the cookie (path: the UI root); the switcher links keep the query', async () => {
    const chosen = await get(server, '/ui/npm?q=widget&lang=zh', { 'accept-language': 'ru' });
    assert.match(chosen.text, /<html lang="zh">/);
    assert.match(
      chosen.headers.get('set-cookie') ?? '',
      /^nora_lang=zh; Path=\/ui; Max-Age=\d+; SameSite=Lax$/,
    );
    // The switcher: one link per language, this page's query kept.
    assert.ok(chosen.text.includes('href="?q=widget&amp;lang=ru"'), chosen.text.slice(0, 3000));
    assert.ok(chosen.text.includes('href="?q=widget&amp;lang=en"'));
    assert.match(chosen.text, /lang="zh"\s+aria-current="true"/);
    // The cookie then wins over Accept-Language; no cookie is set without ?lang=.
    const next = await get(server, '/ui/', { 'accept-language': 'ru', cookie: 'nora_lang=zh' });
    assert.match(next.text, /<html lang="zh">/);
    assert.equal(next.headers.get('set-cookie'), null);
    // A bad ?lang= is ignored (no cookie, no error).
    const bad = await get(server, '/ui/?lang=xx', { 'accept-language': 'ru' });
    assert.equal(bad.status, 200);
    assert.match(bad.text, /<html lang="ru">/);
    assert.equal(bad.headers.get('set-cookie'), null);
  });
});

describe('UI: the sign-in page in each language', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ config: { auth: { enabled: true } } });
    await server.app.context.identity.users.create('erin', 'erin-password-1', undefined, ['read']);
  });
  after(async () => {
    await server.close();
  });

  test('"invalid credentials" and "authentication required" are translated', async () => {
    for (const language of ['ru', 'zh'] as const) {
      const t = translator(language);
      const accept = { 'accept-language': language };
      const wrong = await get(server, '/ui/', { ...accept, authorization: basic('erin', 'no') });
      assert.equal(wrong.status, 401);
      assert.ok(wrong.text.includes(t('signin.invalid')), wrong.text);
      assert.doesNotMatch(wrong.text, /invalid credentials/);
      const anonymous = await get(server, '/ui/', accept);
      assert.equal(anonymous.status, 401);
      assert.ok(anonymous.text.includes(t('signin.required')), anonymous.text);
    }
    // /api/ui keeps the JSON as the service wrote it.
    const api = await get(server, '/api/ui/stats', { authorization: basic('erin', 'no') });
    assert.deepEqual(JSON.parse(api.text), { error: 'invalid credentials' });
  });
});

describe('UI: the failed-login lockout', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ config: { auth: { enabled: true } } });
    await server.app.context.identity.users.create('dave', 'dave-password-1', undefined, ['read']);
  });
  after(async () => {
    await server.close();
  });

  test('pages answer an HTML 429 with Retry-After; /api/ui keeps its JSON 429', async () => {
    const wrong = basic('dave', 'wrong');
    let locked: Awaited<ReturnType<typeof get>> | undefined;
    for (let i = 0; i < 10 && locked === undefined; i++) {
      const page = await get(server, '/ui/', { authorization: wrong, 'accept-language': 'ru' });
      if (page.status === 429) locked = page;
      else assert.equal(page.status, 401);
    }
    assert.ok(locked, 'the lockout starts');
    assert.match(locked.headers.get('content-type') ?? '', /^text\/html; charset=utf-8/);
    const retry = locked.headers.get('retry-after');
    assert.match(retry ?? '', /^[0-9]+$/);
    assert.match(locked.text, /^<!DOCTYPE html>[\s\S]*<html lang="ru">/);
    const t = translator('ru');
    assert.ok(locked.text.includes(t('error.tooManyRequests')));
    assert.ok(locked.text.includes(t('error.retryAfter', { seconds: retry! })));
    assert.match(locked.headers.get('content-security-policy') ?? '', /script-src 'none'/);
    assert.equal(locked.headers.get('cache-control'), 'no-store');

    const api = await get(server, '/api/ui/stats', { authorization: wrong });
    assert.equal(api.status, 429);
    assert.match(api.headers.get('content-type') ?? '', /^application\/json/);
    assert.match(api.headers.get('retry-after') ?? '', /^[0-9]+$/);
    assert.equal(typeof (JSON.parse(api.text) as { error?: unknown }).error, 'string');
  });
});

describe('UI: the lockout page words one second in the singular', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ config: { auth: { enabled: true } } });
    await server.app.context.identity.users.create('fay', 'fay-password-1', undefined, ['read']);
  });
  after(async () => {
    await server.close();
  });

  test('the first lockout (1 s) says "Try again in 1 second.", never "1 seconds"', async () => {
    const wrong = basic('fay', 'wrong');
    let locked: Awaited<ReturnType<typeof get>> | undefined;
    for (let i = 0; i < 10 && locked === undefined; i++) {
      const page = await get(server, '/ui/', { authorization: wrong, 'accept-language': 'en' });
      if (page.status === 429) locked = page;
      else assert.equal(page.status, 401);
    }
    assert.ok(locked, 'the lockout starts');
    assert.equal(locked.headers.get('retry-after'), '1');
    assert.ok(locked.text.includes('Try again in 1 second.'), locked.text);
    assert.doesNotMatch(locked.text, /\b1 seconds\b/);
  });
});

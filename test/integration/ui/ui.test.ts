/**
 * The web UI over HTTP (NORA §3.14; docs/ui.md): gating by auth and `[auth] public_web_ui`
 * (401 + Basic challenge on pages, JSON 401 on /api/ui, a token as password), the security
 * headers (CSP whose style hash matches the page), the dashboard's real data after a publish,
 * the tokens page (create → the secret works, revoke → it stops working) through the token API,
 * CSRF refusals, HTML escaping of hostile package data, and sub-path public URLs.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { startTestServer, type TestServer } from '../../helpers/server.ts';
import { escapedName, publishBody } from '../npm/fixtures.ts';

const basic = (user: string, password: string) =>
  `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

const ALICE = basic('alice', 'alice-password-1');

async function get(server: TestServer, path: string, authorization?: string) {
  const res = await fetch(`${server.url}${path}`, {
    redirect: 'manual',
    headers: authorization === undefined ? {} : { authorization },
  });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

async function post(
  server: TestServer,
  path: string,
  form: Record<string, string>,
  headers: Record<string, string>,
) {
  const res = await fetch(`${server.url}${path}`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(form),
  });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

const csrfOf = (page: string): string => {
  const match = /name="csrf" value="([^"]+)"/.exec(page);
  assert.ok(match, 'the page has a CSRF field');
  return match[1]!;
};

async function publish(server: TestServer, name: string, description: string, auth: string) {
  const res = await fetch(`${server.url}/npm/${escapedName(name)}`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json', authorization: auth },
    body: JSON.stringify(publishBody({ name, version: '1.0.0', description })),
  });
  assert.equal(res.status, 201, await res.text());
}

describe('web UI with auth on (public_web_ui false, the default)', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ config: { auth: { enabled: true } } });
    await server.app.context.identity.users.create('alice', 'alice-password-1', undefined, [
      'read',
      'write',
    ]);
  });
  after(async () => {
    await server.close();
  });

  test('/favicon.ico: a tiny icon without credentials (no console error in browsers)', async () => {
    const reply = await fetch(`${server.url}/favicon.ico`);
    assert.equal(reply.status, 200);
    assert.equal(reply.headers.get('content-type'), 'image/x-icon');
    const icon = Buffer.from(await reply.arrayBuffer());
    assert.equal(icon.length, 70);
    assert.deepEqual([...icon.subarray(0, 6)], [0, 0, 1, 0, 1, 0]); // ICONDIR: icon, 1 image
  });

  test("one realm: the UI 401 and the format endpoints' 401 name the same realm (trial 33 newA F5)", async () => {
    const realm = (challenge: string | null) => /realm="([^"]*)"/.exec(challenge ?? '')?.[1];
    const page = await get(server, '/ui/');
    assert.equal(page.status, 401);
    // Anonymous reads are allowed by default: writes ask for credentials.
    for (const [method, path] of [
      ['GET', '/npm/-/whoami'],
      ['PUT', '/raw/x.txt'],
      ['DELETE', '/pypi/x/1.0'],
    ] as const) {
      const format = await fetch(`${server.url}${path}`, {
        method,
        ...(method === 'PUT' ? { body: 'x' } : {}),
      });
      assert.equal(format.status, 401, path);
      assert.equal(realm(format.headers.get('www-authenticate')), 'nora', path);
    }
    assert.equal(realm(page.headers.get('www-authenticate')), 'nora');
  });

  test('anonymous: 401 with a Basic challenge on pages, a JSON 401 on /api/ui', async () => {
    for (const path of ['/ui/', '/ui', '/ui/tokens', '/ui/npm', '/ui/npm/left-pad']) {
      const page = await get(server, path);
      assert.equal(page.status, 401, path);
      assert.match(
        page.headers.get('www-authenticate') ?? '',
        /^Basic realm="nora", charset="UTF-8"$/,
        path,
      );
      // An HTML body (what a browser shows when the prompt is cancelled), not JSON.
      assert.match(page.headers.get('content-type') ?? '', /^text\/html; charset=utf-8/, path);
      assert.match(page.text, /^<!DOCTYPE html>/, path);
      assert.match(page.text, /Sign in required[\s\S]*public_web_ui/, path);
      assert.match(page.headers.get('content-security-policy') ?? '', /script-src 'none'/, path);
    }
    for (const path of ['/api/ui/stats', '/api/ui/dashboard', '/api/ui/npm/list']) {
      const api = await get(server, path);
      assert.equal(api.status, 401, path);
      assert.match(api.headers.get('content-type') ?? '', /application\/json/);
      assert.match((JSON.parse(api.text) as { error: string }).error, /public_web_ui/);
    }
  });

  test('signed in: 200, strict CSP whose style hash is the page style, nosniff, no framing', async () => {
    const page = await get(server, '/ui/', ALICE);
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type') ?? '', /^text\/html; charset=utf-8/);
    assert.equal(page.headers.get('cache-control'), 'no-store');
    assert.equal(page.headers.get('x-content-type-options'), 'nosniff');
    const csp = page.headers.get('content-security-policy') ?? '';
    assert.match(csp, /default-src 'self'/);
    assert.match(csp, /frame-ancestors 'none'/);
    assert.match(csp, /script-src 'none'/);
    const style = /<style>([\s\S]*?)<\/style>/.exec(page.text)?.[1] ?? '';
    const hash = createHash('sha256').update(style).digest('base64');
    assert.ok(csp.includes(`'sha256-${hash}'`), 'the CSP allows exactly the embedded style');
    assert.doesNotMatch(page.text, /<script/i);
    assert.doesNotMatch(page.text, /\b(?:src|href)="https?:/, 'no external asset');
    assert.match(page.text, /signed in as <strong>alice<\/strong>/);
    // `/ui` → `/ui/`.
    const bare = await get(server, '/ui', ALICE);
    assert.equal(bare.status, 308);
    assert.equal(bare.headers.get('location'), '/ui/');
  });

  test('the dashboard shows a publish: stat cards, registry cards, mounts, JSON twins', async () => {
    await publish(server, 'ui-dash-pkg', 'a package for the dashboard', ALICE);
    const stats = JSON.parse((await get(server, '/api/ui/stats', ALICE)).text) as {
      formats_enabled: number;
      repositories: { hosted: number; proxy: number; group: number; total: number };
      hosted: { names: number; versions: number; bytes: number };
      storage_bytes: number;
      cache: { hit_ratio: number | null };
    };
    assert.equal(stats.formats_enabled, 8);
    assert.ok(stats.repositories.hosted >= 1);
    assert.equal(
      stats.repositories.total,
      stats.repositories.hosted + stats.repositories.proxy + stats.repositories.group,
    );
    assert.ok(stats.hosted.versions >= 1 && stats.hosted.names >= 1, JSON.stringify(stats));
    assert.ok(stats.hosted.bytes > 0);
    assert.ok(stats.storage_bytes > 0);
    const dashboard = JSON.parse((await get(server, '/api/ui/dashboard', ALICE)).text) as {
      stats: unknown;
      registries: { format: string; mount: string }[];
      mounts: { format: string; setup: string[] }[];
      activity: unknown[];
    };
    assert.deepEqual(dashboard.stats, stats);
    assert.ok(dashboard.registries.some((r) => r.format === 'npm' && r.mount === '/npm'));
    const npm = dashboard.mounts.find((m) => m.format === 'npm');
    assert.deepEqual(npm?.setup, [`npm config set registry ${server.url}/npm/`]);
    const page = (await get(server, '/ui/', ALICE)).text;
    assert.ok(page.includes(`npm config set registry ${server.url}/npm/`));
    assert.ok(page.includes(`export GOPROXY=${server.url}/go`));
    assert.ok(page.includes(`helm repo add nora ${server.url}/helm`));
    assert.match(page, /Hosted versions/);
  });

  test('a token as password opens the UI', async () => {
    const page = await get(server, '/ui/tokens', ALICE);
    const made = await post(
      server,
      '/ui/tokens',
      { csrf: csrfOf(page.text), op: 'create', role: 'read', ttl_days: '1', description: 'ui' },
      { authorization: ALICE, origin: server.url, 'sec-fetch-site': 'same-origin' },
    );
    const secret = /id="secret">(nra_[^<]+)</.exec(made.text)?.[1];
    assert.ok(secret);
    assert.equal((await get(server, '/api/ui/stats', basic('anything', secret))).status, 200);
    assert.equal((await get(server, '/ui/', `Bearer ${secret}`)).status, 200);
  });

  test('tokens page: expiry pre-filled with 90 days; cleared, the token never expires', async () => {
    // docs/ui.md documents the 90-day default (trial 35 newA F5: only "expiry in days" was said).
    const page = await get(server, '/ui/tokens', ALICE);
    assert.match(page.text, /<input name="ttl_days" type="number" min="1" max="3650" value="90"/);
    const same = { authorization: ALICE, origin: server.url, 'sec-fetch-site': 'same-origin' };
    const form = { csrf: csrfOf(page.text), op: 'create', role: 'read' };
    const days = await post(
      server,
      '/ui/tokens',
      { ...form, ttl_days: '90', description: 'd90' },
      same,
    );
    const never = await post(
      server,
      '/ui/tokens',
      { ...form, ttl_days: '', description: 'dnone' },
      same,
    );
    assert.equal(days.status, 200, days.text);
    assert.equal(never.status, 200, never.text);
    const listed = await fetch(`${server.url}/api/tokens/list`, {
      method: 'POST',
      headers: { authorization: ALICE, 'content-type': 'application/json' },
      body: '{}',
    });
    const { tokens } = (await listed.json()) as {
      tokens: { description: string; created_at: string; expires_at: string | null }[];
    };
    const d90 = tokens.find((t) => t.description === 'd90');
    assert.ok(d90?.expires_at);
    const lifetime = Date.parse(d90.expires_at) - Date.parse(d90.created_at);
    assert.ok(Math.abs(lifetime - 90 * 86_400_000) < 120_000, String(lifetime));
    assert.equal(tokens.find((t) => t.description === 'dnone')?.expires_at, null);
  });

  test('tokens page: create (secret once, works with the registry), list without secrets, revoke', async () => {
    const page = await get(server, '/ui/tokens', ALICE);
    assert.equal(page.status, 200);
    // Roles offered: up to alice's own (write), never admin.
    assert.match(page.text, /<option value="write"/);
    assert.doesNotMatch(page.text, /<option value="admin"/);
    const same = { authorization: ALICE, origin: server.url, 'sec-fetch-site': 'same-origin' };
    const made = await post(
      server,
      '/ui/tokens',
      { csrf: csrfOf(page.text), op: 'create', role: 'write', ttl_days: '30', description: 'ci' },
      same,
    );
    assert.equal(made.status, 200, made.text);
    assert.equal(made.headers.get('cache-control'), 'no-store');
    const secret = /id="secret">(nra_[^<]+)</.exec(made.text)?.[1];
    assert.ok(secret, 'the secret is shown once');
    // The token publishes through the registry.
    await publish(server, 'ui-token-pkg', 'published with a UI token', `Bearer ${secret}`);
    // The list never shows a secret.
    const listed = await get(server, '/ui/tokens', ALICE);
    assert.ok(!listed.text.includes(secret));
    const id = /data-token="([0-9a-f]+)"/.exec(listed.text)?.[1];
    assert.ok(id);
    // An admin role is refused by the token service (alice is no admin): its message shown.
    const admin = await post(
      server,
      '/ui/tokens',
      { csrf: csrfOf(listed.text), op: 'create', role: 'admin' },
      same,
    );
    assert.equal(admin.status, 403);
    assert.match(admin.text, /id="error"[^>]*>[^<]*only admins/);
    // Revoke: the row's button asks first (trial 33: one click revoked), the token still works;
    // the confirmation's form revokes, and the token stops working.
    assert.doesNotMatch(listed.text, /name="op"\s+value="revoke"/);
    assert.match(listed.text, /name="op"\s+value="confirm-revoke"/);
    const revokeIds = [...listed.text.matchAll(/name="id" value="([0-9a-f]+)"/g)].map((m) => m[1]!);
    for (const each of revokeIds) {
      const asked = await post(
        server,
        '/ui/tokens',
        { csrf: csrfOf(listed.text), op: 'confirm-revoke', id: each },
        same,
      );
      assert.equal(asked.status, 200, asked.text);
      assert.match(asked.text, /id="confirm-revoke"/);
      assert.doesNotMatch(asked.text, /id="revoked"/);
      assert.match(asked.text, /Revoke token [0-9a-f]+\? Every client/);
      assert.match(asked.text, /<a href="\/ui\/tokens">Cancel<\/a>/);
      const confirmForm = /id="confirm-revoke"[\s\S]*?<\/form>/.exec(asked.text)?.[0] ?? '';
      assert.match(confirmForm, /name="op"\s+value="revoke"/);
      assert.ok(confirmForm.includes(`name="id" value="${each}"`), confirmForm);
      const stillThere = await fetch(`${server.url}/npm/ui-token-pkg`, {
        headers: { authorization: `Bearer ${secret}` },
      });
      assert.equal(stillThere.status, 200, 'nothing revoked before the confirmation');
      const revoked = await post(
        server,
        '/ui/tokens',
        { csrf: csrfOf(asked.text), op: 'revoke', id: each },
        same,
      );
      assert.equal(revoked.status, 200, revoked.text);
      assert.match(revoked.text, /id="revoked"/);
    }
    const refused = await fetch(`${server.url}/npm/ui-token-pkg`, {
      headers: { authorization: `Bearer ${secret}` },
    });
    assert.equal(refused.status, 401);
  });

  test('CSRF: cross-site posts, foreign Origins and missing or foreign tokens are refused', async () => {
    const page = await get(server, '/ui/tokens', ALICE);
    const csrf = csrfOf(page.text);
    const form = { csrf, op: 'create', role: 'read' };
    const cases: [string, Record<string, string>][] = [
      ['cross-site fetch metadata', { 'sec-fetch-site': 'cross-site', origin: server.url }],
      ['same-site is not same-origin', { 'sec-fetch-site': 'same-site' }],
      ['a foreign Origin', { origin: 'http://evil.example' }],
      ['an opaque Origin', { origin: 'null' }],
    ];
    for (const [why, headers] of cases) {
      const refused = await post(server, '/ui/tokens', form, { authorization: ALICE, ...headers });
      assert.equal(refused.status, 403, why);
      assert.match(refused.text, /cross-origin form post refused/, why);
    }
    const noToken = await post(
      server,
      '/ui/tokens',
      { op: 'create', role: 'read' },
      { authorization: ALICE, origin: server.url },
    );
    assert.equal(noToken.status, 403);
    assert.match(noToken.text, /CSRF token/);
    // Another credential's token (a different session) does not pass.
    await server.app.context.identity.users.create('bob', 'bob-password-12', undefined, [
      'read',
      'write',
    ]);
    const foreign = await post(server, '/ui/tokens', form, {
      authorization: basic('bob', 'bob-password-12'),
      origin: server.url,
    });
    assert.equal(foreign.status, 403);
    assert.match(foreign.text, /CSRF token/);
    // Nothing was created by the refused posts.
    const after = await get(server, '/ui/tokens', basic('bob', 'bob-password-12'));
    assert.match(after.text, /no tokens yet/);
  });

  test('a hostile package name and description are escaped on every page', async () => {
    const hostile = '<script>alert(1)</script><img src=x onerror=alert(2)>';
    await publish(server, 'ui-hostile', hostile, ALICE);
    for (const path of ['/ui/', '/ui/npm', '/ui/npm/ui-hostile', '/ui/tokens']) {
      const page = await get(server, path, ALICE);
      assert.doesNotMatch(page.text, /<script/i, path);
      assert.doesNotMatch(page.text, /<img/i, path);
    }
    // A hostile token description too.
    const page = await get(server, '/ui/tokens', ALICE);
    const made = await post(
      server,
      '/ui/tokens',
      { csrf: csrfOf(page.text), op: 'create', role: 'read', description: hostile },
      { authorization: ALICE, origin: server.url },
    );
    assert.equal(made.status, 200);
    assert.doesNotMatch(made.text, /<script|<img/i);
    assert.ok(made.text.includes('&lt;script&gt;alert(1)&lt;/script&gt;'));
  });
});

describe('web UI with auth on: refused credentials (wrong password, bad token, unknown user)', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ config: { auth: { enabled: true } } });
    await server.app.context.identity.users.create('carol', 'carol-password-1', undefined, [
      'read',
    ]);
  });
  after(async () => {
    await server.close();
  });

  /** What a browser gets: the HTML sign-in page with the Basic challenge (it prompts again). */
  const assertSignInPage = (page: Awaited<ReturnType<typeof get>>, what: string) => {
    assert.equal(page.status, 401, what);
    assert.match(
      page.headers.get('www-authenticate') ?? '',
      /^Basic realm="nora", charset="UTF-8"$/,
      what,
    );
    assert.match(page.headers.get('content-type') ?? '', /^text\/html; charset=utf-8/, what);
    assert.match(
      page.text,
      /^<!DOCTYPE html>[\s\S]*Sign in required[\s\S]*invalid credentials/,
      what,
    );
    assert.match(page.headers.get('content-security-policy') ?? '', /script-src 'none'/, what);
    assert.equal(page.headers.get('cache-control'), 'no-store', what);
  };

  test('pages: HTML 401 with the challenge; /api/ui: JSON 401 with the challenge', async () => {
    // Three failures, then a success (resets the address's count: 5 would lock it out).
    assertSignInPage(await get(server, '/ui/', basic('carol', 'bad')), 'wrong password');
    assertSignInPage(await get(server, '/ui/tokens', 'Bearer nora_not-a-token'), 'bad Bearer');
    assertSignInPage(await get(server, '/ui/npm?q=x', basic('nobody', 'x')), 'unknown user');
    assert.equal((await get(server, '/ui/', basic('carol', 'carol-password-1'))).status, 200);
    const form = await post(
      server,
      '/ui/tokens',
      { op: 'revoke', id: 'x' },
      {
        authorization: basic('carol', 'bad'),
      },
    );
    assertSignInPage(form, 'POST /ui/tokens, wrong password');
    const api = await get(server, '/api/ui/stats', basic('carol', 'bad'));
    assert.equal(api.status, 401);
    assert.match(
      api.headers.get('www-authenticate') ?? '',
      /^Basic realm="nora", charset="UTF-8"$/,
    );
    assert.match(api.headers.get('content-type') ?? '', /application\/json/);
    assert.deepEqual(JSON.parse(api.text), { error: 'invalid credentials' });
    // Outside the UI a refused credential answers as before (no UI page).
    const tokensApi = await get(server, '/api/tokens', basic('carol', 'bad'));
    assert.doesNotMatch(tokensApi.headers.get('content-type') ?? '', /text\/html/);
  });
});

describe('web UI with public_web_ui = true', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({
      config: {
        auth: { enabled: true, public_web_ui: true },
        audit: { actions: ['push', 'pull', 'login-failed', 'token-create'] },
      },
    });
    await server.app.context.identity.users.create('bob', 'bob-password-1', undefined, ['read']);
  });
  after(async () => {
    await server.close();
  });

  test('anonymous sees the dashboard; the tokens page still asks to sign in', async () => {
    assert.equal((await get(server, '/ui/')).status, 200);
    assert.equal((await get(server, '/api/ui/stats')).status, 200);
    const tokens = await get(server, '/ui/tokens');
    assert.equal(tokens.status, 401);
    assert.match(
      tokens.headers.get('www-authenticate') ?? '',
      /^Basic realm="nora", charset="UTF-8"$/,
    );
    assert.match(tokens.headers.get('content-type') ?? '', /^text\/html/);
    assert.match(tokens.text, /sign in to manage your tokens/);
  });

  test('anonymous does not see failed logins (an existing user name) in the activity', async () => {
    const wrong = await fetch(`${server.url}/raw/x.txt`, {
      headers: { authorization: `Basic ${Buffer.from('bob:wrong').toString('base64')}` },
    });
    assert.equal(wrong.status, 401);
    const reply = await get(server, '/api/ui/dashboard');
    assert.equal(reply.status, 200);
    const body = JSON.parse(reply.text) as { activity: { action: string; actor: string }[] };
    assert.deepEqual(
      body.activity.filter((e) => e.action === 'login-failed' || e.actor === 'bob'),
      [],
    );
    assert.doesNotMatch((await get(server, '/ui/')).text, /login-failed/);
    // The event was recorded: the filter, not its absence, keeps it off the page.
    const feed = server.app.context.activity.recent(50);
    assert.ok(feed.some((e) => e.action === 'login-failed'));
  });
});

describe('web UI with auth off, behind a sub-path public URL', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({
      config: { server: { public_url: 'https://tools.example/nora' } },
    });
  });
  after(async () => {
    await server.close();
  });

  test('links and setup lines use the public URL and its path; tokens need auth', async () => {
    const page = await get(server, '/ui/');
    assert.equal(page.status, 200);
    assert.ok(page.text.includes('href="/nora/ui/npm"'));
    assert.ok(page.text.includes('href="/nora/ui/tokens"'));
    assert.ok(page.text.includes('npm config set registry https://tools.example/nora/npm/'));
    assert.ok(page.text.includes('sparse+https://tools.example/nora/cargo/index/'));
    // Docker cannot live under a sub-path: the card says so.
    assert.match(page.text, /reverse proxy must route tools\.example\/v2\//);
    const tokens = await get(server, '/ui/tokens');
    assert.equal(tokens.status, 200);
    assert.match(tokens.text, /id="auth-off"/);
    const refused = await post(server, '/ui/tokens', { op: 'create' }, {});
    assert.equal(refused.status, 405);
  });
});

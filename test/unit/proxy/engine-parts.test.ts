/** Unit tests of the proxy engine's parts: breaker, challenge parsing, token cache, freshness. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ChallengeAuth, parseChallenge, StaticAuth, TokenCache } from '../../../src/proxy/auth.ts';
import { CircuitBreaker } from '../../../src/proxy/circuit-breaker.ts';
import { Readable } from 'node:stream';
import { fillSourceOf } from '../../../src/proxy/fill.ts';
import { FreshCopies, isFresh } from '../../../src/proxy/freshness.ts';
import { SingleFlight } from '../../../src/proxy/single-flight.ts';
import {
  answeredAbsent,
  declaredLength,
  joinUrl,
  toUpstreamError,
  type UpstreamResponse,
} from '../../../src/proxy/upstream-client.ts';

describe('circuit breaker', () => {
  const settings = { enabled: true, threshold: 3, resetTimeoutMs: 1000 };

  test('opens after `threshold` consecutive failures, half-opens for one probe after the reset timeout', () => {
    let now = 0;
    const breaker = new CircuitBreaker(
      () => settings,
      () => now,
    );
    for (let i = 0; i < 2; i++) {
      assert.ok(breaker.tryAcquire());
      breaker.recordFailure();
    }
    assert.equal(breaker.state, 'closed');
    breaker.recordSuccess();
    for (let i = 0; i < 3; i++) breaker.recordFailure();
    assert.equal(breaker.state, 'open');
    assert.equal(breaker.tryAcquire(), false);
    now = 999;
    assert.equal(breaker.tryAcquire(), false);
    now = 1000;
    assert.equal(breaker.state, 'half_open');
    assert.equal(breaker.tryAcquire(), true, 'the probe');
    assert.equal(breaker.tryAcquire(), false, 'only one probe at a time');
    breaker.recordFailure();
    assert.equal(breaker.state, 'open', 'a failed probe re-opens');
    now = 2000;
    assert.equal(breaker.tryAcquire(), true);
    breaker.recordSuccess();
    assert.equal(breaker.state, 'closed');
    assert.equal(breaker.tryAcquire(), true);
  });

  test('a probe that ended without a verdict frees the half-open slot', () => {
    let now = 0;
    const breaker = new CircuitBreaker(
      () => settings,
      () => now,
    );
    for (let i = 0; i < 3; i++) breaker.recordFailure();
    now = 5000;
    assert.ok(breaker.tryAcquire());
    breaker.release();
    assert.ok(breaker.tryAcquire());
  });

  test('disabled: never skips an upstream', () => {
    const breaker = new CircuitBreaker(() => ({ ...settings, enabled: false }));
    for (let i = 0; i < 10; i++) breaker.recordFailure();
    assert.equal(breaker.tryAcquire(), true);
  });

  test('reports state changes (for the gauge)', () => {
    const seen: string[] = [];
    const breaker = new CircuitBreaker(
      () => settings,
      () => 0,
    );
    breaker.onStateChange((s) => seen.push(s));
    for (let i = 0; i < 3; i++) breaker.recordFailure();
    breaker.recordSuccess();
    assert.deepEqual(seen, ['open', 'closed']);
  });
});

describe('WWW-Authenticate parsing', () => {
  test('Docker Hub style bearer challenge', () => {
    const c = parseChallenge(
      'Bearer realm="https://auth.example/token",service="registry.example",scope="repository:library/nginx:pull"',
    );
    assert.deepEqual(c, {
      scheme: 'bearer',
      params: {
        realm: 'https://auth.example/token',
        service: 'registry.example',
        scope: 'repository:library/nginx:pull',
      },
    });
  });

  test('basic, unquoted values, escapes, garbage', () => {
    assert.deepEqual(parseChallenge('Basic realm="Registry Realm"'), {
      scheme: 'basic',
      params: { realm: 'Registry Realm' },
    });
    assert.deepEqual(parseChallenge('Bearer realm=x, scope="a\\"b"'), {
      scheme: 'bearer',
      params: { realm: 'x', scope: 'a"b' },
    });
    assert.equal(parseChallenge(''), undefined);
    assert.equal(parseChallenge('!!!'), undefined);
  });
});

describe('token cache and challenge auth', () => {
  test('tokens are cached per origin + scope until they expire', () => {
    let now = 0;
    const cache = new TokenCache(() => now);
    cache.set('http://r', 'repository:a:pull', 'Bearer t', 300);
    assert.equal(cache.get('http://r', 'repository:a:pull'), 'Bearer t');
    assert.equal(cache.get('http://r', 'repository:b:pull'), undefined);
    now = 300_000;
    assert.equal(cache.get('http://r', 'repository:a:pull'), undefined);
  });

  test('bearer challenge: fetches a token with the credentials, then sends it up front', async () => {
    const calls: { url: string; basic: string | undefined }[] = [];
    const auth = new ChallengeAuth('robot:pw', new TokenCache(), (url, basic) => {
      calls.push({ url: url.toString(), basic });
      return Promise.resolve({ token: 'tok', expiresInSeconds: 300 });
    });
    assert.equal(auth.initial('http://r', 'repository:a:pull'), undefined, 'anonymous first');
    const header = await auth.challenge(
      'http://r',
      'Bearer realm="http://auth/token",service="svc",scope="repository:a:pull"',
      'repository:a:pull',
    );
    assert.equal(header, 'Bearer tok');
    assert.equal(calls.length, 1);
    assert.equal(calls[0]?.url, 'http://auth/token?service=svc&scope=repository%3Aa%3Apull');
    assert.equal(calls[0].basic, `Basic ${Buffer.from('robot:pw').toString('base64')}`);
    assert.equal(auth.initial('http://r', 'repository:a:pull'), 'Bearer tok');
  });

  test('basic challenge: credentials when configured, nothing otherwise; a non-http realm is refused', async () => {
    const fetcher = () => Promise.reject(new Error('no token fetch expected'));
    const withCreds = new ChallengeAuth('u:p', new TokenCache(), fetcher);
    assert.equal(
      await withCreds.challenge('http://r', 'Basic realm="x"', undefined),
      `Basic ${Buffer.from('u:p').toString('base64')}`,
    );
    assert.equal(
      withCreds.initial('http://r', undefined),
      `Basic ${Buffer.from('u:p').toString('base64')}`,
    );
    const anonymous = new ChallengeAuth(undefined, new TokenCache(), fetcher);
    assert.equal(await anonymous.challenge('http://r', 'Basic realm="x"', undefined), undefined);
    assert.equal(
      await anonymous.challenge('http://r', 'Bearer realm="file:///etc/passwd"', undefined),
      undefined,
    );
  });

  test('static strategies (npm-style upstream credentials)', async () => {
    assert.equal(
      StaticAuth.basic('a:b').initial(),
      `Basic ${Buffer.from('a:b').toString('base64')}`,
    );
    assert.equal(StaticAuth.bearer('t').initial(), 'Bearer t');
    assert.equal(StaticAuth.basic(undefined).initial(), undefined);
    assert.equal(await StaticAuth.bearer('t').challenge(), undefined);
  });
});

describe('freshness rule', () => {
  test('-1 forever, 0 always revalidate, >0 seconds', () => {
    assert.equal(isFresh(0, -1, 10 ** 12), true);
    assert.equal(isFresh(1000, 0, 1000), false);
    assert.equal(isFresh(1000, 60, 60_999), true);
    assert.equal(isFresh(1000, 60, 61_000), false);
  });
});

describe('single flight', () => {
  test('concurrent calls for one key share one execution; later calls run again', async () => {
    const flight = new SingleFlight<number>();
    let runs = 0;
    const task = async () => {
      runs += 1;
      await new Promise((resolve) => setTimeout(resolve, 10));
      return runs;
    };
    const a = flight.run('k', task);
    const b = flight.run('k', task);
    assert.equal(a.joined, false);
    assert.equal(b.joined, true);
    assert.deepEqual(await Promise.all([a.promise, b.promise]), [1, 1]);
    assert.equal(flight.size, 0);
    assert.equal(await flight.run('k', task).promise, 2);
  });
});

describe('upstream URLs and errors', () => {
  test('joinUrl keeps the base path prefix', () => {
    assert.equal(
      joinUrl('http://h:1/mirror/', '/v2/a/manifests/b').toString(),
      'http://h:1/mirror/v2/a/manifests/b',
    );
    assert.equal(joinUrl('http://h:1', '/-/x?y=1').toString(), 'http://h:1/-/x?y=1');
  });

  test('transport errors name the upstream label, never its host', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 10.1.2.3:443'), {
      code: 'ECONNREFUSED',
    });
    const err = toUpstreamError(refused, 'docker-proxy/0');
    assert.equal(err.status, 502);
    assert.doesNotMatch(err.message, /10\.1\.2\.3/);
    const timeout = toUpstreamError(
      Object.assign(new Error('t'), { code: 'UND_ERR_HEADERS_TIMEOUT' }),
      'x',
    );
    assert.equal(timeout.status, 504);
  });
});

describe('shared proxy parts', () => {
  test('FreshCopies: fresh under the TTL only, last regardless; the oldest key goes first', () => {
    const copies = new FreshCopies<{ fetchedAt: number; v: string }>(2);
    copies.set('a', { fetchedAt: Date.now(), v: 'a' });
    copies.set('b', { fetchedAt: Date.now() - 120_000, v: 'b' });
    assert.equal(copies.fresh('a', 60)?.v, 'a');
    assert.equal(copies.fresh('b', 60), undefined, 'older than the TTL');
    assert.equal(copies.fresh('b', -1)?.v, 'b', 'TTL -1: forever');
    assert.equal(copies.fresh('a', 0), undefined, 'TTL 0: always revalidate');
    assert.equal(copies.last('b')?.v, 'b');
    copies.set('c', { fetchedAt: Date.now(), v: 'c' });
    assert.equal(copies.last('a'), undefined, 'bounded: the oldest went');
    copies.delete('b');
    assert.equal(copies.last('b'), undefined);
  });

  const response = (status: number, headers: Record<string, string> = {}) => {
    const body = Readable.from([Buffer.from('x')]);
    return {
      response: { status, header: (name: string) => headers[name], body } as UpstreamResponse,
      body,
    };
  };

  test('answeredAbsent and fillSourceOf: absent statuses, a 200, anything else is the upstream failing', () => {
    const missing = response(410);
    assert.equal(answeredAbsent(missing.response, 'u#0', 'f', [404, 410]), true);
    assert.equal(missing.body.destroyed, true);
    assert.equal(answeredAbsent(response(200).response, 'u#0', 'f', [404]), false);
    const failing = response(503);
    assert.throws(
      () => answeredAbsent(failing.response, 'u#0', 'f', [404]),
      /^RegistryError: upstream u#0 answered 503 for f$/,
    );
    assert.equal(failing.body.destroyed, true);
    assert.equal(fillSourceOf(response(404).response, 'u#0', 'f', [404]), undefined);
    assert.equal(
      fillSourceOf(response(200, { 'content-length': '12' }).response, 'u#0', 'f', [])?.size,
      12,
    );
    assert.equal(fillSourceOf(response(200).response, 'u#0', 'f', [])?.size, undefined);
  });

  test('declaredLength: 1 to 15 digits, else unknown', () => {
    assert.equal(declaredLength('0'), 0);
    assert.equal(declaredLength('123456789012345'), 123456789012345);
    for (const bad of [undefined, '', ' 1', '1e3', '-1', '1234567890123456']) {
      assert.equal(declaredLength(bad), undefined, String(bad));
    }
  });
});

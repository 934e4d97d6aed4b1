import assert from 'node:assert/strict';
import { glob } from 'node:fs/promises';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { describeConfig, MASK, maskSecrets } from '../../../src/config/describe.ts';
import type { AppConfig } from '../../../src/config/schema.ts';
import { envBindings } from '../../../src/config/env.ts';
import { ConfigError, loadConfig, parseConfigObject } from '../../../src/config/load.ts';
import { configSchema } from '../../../src/config/schema.ts';
import { PROJECT_ROOT } from '../../helpers/tools.ts';
import { configError } from '../../helpers/config.ts';

test('defaults match NORA: 127.0.0.1:4000, data under ./data, Docker Hub upstream', () => {
  const { config } = parseConfigObject({});
  assert.equal(config.server.host, '127.0.0.1');
  assert.equal(config.server.port, 4000);
  assert.equal(config.server.body_limit_mb, 2048);
  assert.equal(config.storage.mode, 'local');
  assert.equal(config.storage.path, 'data/storage');
  assert.deepEqual(config.docker.upstreams, [{ url: 'https://registry-1.docker.io' }]);
  assert.equal(config.docker.max_upload_sessions, 100);
  assert.equal(config.npm.proxy, undefined, 'no built-in npm upstream host');
  assert.equal(config.npm.metadata_ttl, 300);
});

test('env mapping is derived from the schema with NORA names', () => {
  const names = new Map(envBindings(configSchema).map((b) => [b.path.join('.'), b.names]));
  assert.deepEqual(names.get('server.host'), ['NORA_HOST']);
  assert.deepEqual(names.get('server.port'), ['NORA_PORT']);
  assert.deepEqual(names.get('server.public_url'), ['NORA_PUBLIC_URL']);
  assert.deepEqual(names.get('server.body_limit_mb'), ['NORA_BODY_LIMIT_MB']);
  assert.deepEqual(names.get('storage.mode'), ['NORA_STORAGE_MODE']);
  assert.deepEqual(names.get('storage.path'), ['NORA_STORAGE_PATH']);
  assert.deepEqual(names.get('storage.s3_url'), ['NORA_STORAGE_S3_URL']);
  assert.deepEqual(names.get('docker.enabled'), ['NORA_DOCKER_ENABLED']);
  assert.deepEqual(names.get('docker.proxy_timeout'), ['NORA_DOCKER_PROXY_TIMEOUT']);
  assert.deepEqual(names.get('docker.upstreams'), ['NORA_DOCKER_UPSTREAMS', 'NORA_DOCKER_PROXIES']);
  assert.deepEqual(names.get('docker.max_upload_sessions'), ['NORA_MAX_UPLOAD_SESSIONS']);
  assert.deepEqual(names.get('npm.proxy'), ['NORA_NPM_PROXY']);
  assert.deepEqual(names.get('npm.metadata_ttl'), ['NORA_NPM_METADATA_TTL']);
});

test('environment overrides the file, and typed values are parsed', () => {
  const { config } = parseConfigObject(
    { server: { port: 5000, host: '0.0.0.0' }, docker: { proxy_timeout: 10 } },
    {
      NORA_PORT: '4100',
      NORA_DOCKER_ENABLED: 'false',
      NORA_DOCKER_PROXIES: 'http://a.example:5000|user:tok|ghcr, http://b.example',
      NORA_STORAGE_PATH: '/srv/nora',
    },
  );
  assert.equal(config.server.port, 4100);
  assert.equal(config.server.host, '0.0.0.0', 'file value kept when no env');
  assert.equal(config.docker.enabled, false);
  assert.equal(config.docker.proxy_timeout, 10);
  assert.deepEqual(config.docker.upstreams, [
    { url: 'http://a.example:5000', auth: 'user:tok', prefix: 'ghcr' },
    { url: 'http://b.example' },
  ]);
  assert.equal(config.storage.path, '/srv/nora');
});

test('server.host: an IP literal or a host name, checked at load (not at listen)', () => {
  for (const host of [
    '127.0.0.1',
    '0.0.0.0',
    '::',
    '::1',
    'fe80::1%eth0',
    'localhost',
    'nora.internal',
    'my_nora',
    'registry.example.',
  ]) {
    assert.equal(parseConfigObject({}, { NORA_HOST: host }).config.server.host, host);
  }
  for (const host of [
    '999.1.1.1',
    '10.0.0',
    '1.2.3.4.5',
    '[::1]',
    'bad host',
    '-x.example',
    'a..b',
    'x'.repeat(64),
    'http://h',
  ]) {
    assert.throws(
      () => parseConfigObject({}, { NORA_HOST: host }),
      (err: unknown) =>
        err instanceof ConfigError &&
        err.message.includes(
          `server.host (from NORA_HOST): expected an IPv4 or IPv6 address (such as 127.0.0.1, 0.0.0.0 or ::, without brackets) or a host name, got ${JSON.stringify(host)}`,
        ),
      host,
    );
  }
  assert.throws(
    () => parseConfigObject({ server: { host: '999.1.1.1' } }),
    /\n {2}server\.host: expected an IPv4 or IPv6 address .*got "999\.1\.1\.1"/,
  );
});

test('an invalid value names the key, the variable and the expected form', () => {
  assert.throws(
    () => parseConfigObject({}, { NORA_PORT: 'eighty' }),
    (err: unknown) =>
      err instanceof ConfigError &&
      err.message.includes('server.port') &&
      err.message.includes('NORA_PORT') &&
      err.message.includes(
        'expected a number in decimal digits (such as 30 or 2.5; no 0x, 0o, 0b or exponent forms), got "eighty"',
      ),
  );
  // Every variable is text: the message names the texts accepted, not zod's types.
  assert.throws(
    () => parseConfigObject({}, { NORA_AUTH_ANONYMOUS_READ: 'maybe' }),
    (err: unknown) =>
      err instanceof ConfigError &&
      err.message.includes(
        'auth.anonymous_read (from NORA_AUTH_ANONYMOUS_READ): expected true or false (also 1/0, yes/no, on/off; any case), got "maybe"',
      ) &&
      !err.message.includes('received string'),
  );
  assert.equal(
    parseConfigObject({}, { NORA_AUTH_ANONYMOUS_READ: 'No' }).config.auth.anonymous_read,
    false,
  );
  assert.throws(
    () => parseConfigObject({ storage: { mode: 'ftp' } }),
    (err: unknown) =>
      err instanceof ConfigError &&
      err.message.includes('storage.mode') &&
      err.message.includes('"local"'),
  );
  assert.throws(
    () => parseConfigObject({ npm: { proxy: 'not a url' } }),
    (err: unknown) =>
      err instanceof ConfigError &&
      err.message.includes('npm.proxy') &&
      err.message.includes('http(s) URL'),
  );
});

/** The ConfigError message `fn` throws (fails the test when it does not throw one). */
test('an upstream list takes bare URL strings as shorthand for { url = … } (as NORA does)', () => {
  const { config } = parseConfigObject({
    maven: { proxies: ['https://m2.example/maven2', { url: 'https://b.example', auth: 'u:p' }] },
    pypi: { proxies: ['https://pypi.example/simple/'] },
    helm: { proxies: ['https://charts.example'] },
    docker: { upstreams: ['https://registry.example'] },
    repositories: [
      { name: 'mirror', format: 'raw', kind: 'proxy', upstreams: ['https://files.example'] },
    ],
  });
  assert.deepEqual(config.maven.proxies, [
    { url: 'https://m2.example/maven2' },
    { url: 'https://b.example', auth: 'u:p' },
  ]);
  assert.deepEqual(config.pypi.proxies, [{ url: 'https://pypi.example/simple/' }]);
  assert.deepEqual(config.helm.proxies, [{ url: 'https://charts.example' }]);
  assert.deepEqual(config.docker.upstreams, [{ url: 'https://registry.example' }]);
  assert.deepEqual(config.repositories[0]?.upstreams, [{ url: 'https://files.example' }]);
  // The shorthand changes nothing downstream: masking and unknown-key checks still see the table.
  assert.ok(describeConfig(config).includes(`auth = "${MASK}"`));
  const { warnings } = parseConfigObject({
    maven: { proxies: [{ url: 'https://a.example', authh: 'u:p' }] },
  });
  assert.deepEqual(warnings, [
    'unknown config key "maven.proxies[0].authh" (ignored) (did you mean "maven.proxies[0].auth"?)',
  ]);
});

test('a wrong upstream entry names both accepted forms; a wrong env value names its syntax', () => {
  for (const [section, key] of [
    ['maven', 'proxies'],
    ['pypi', 'proxies'],
    ['helm', 'proxies'],
    ['docker', 'upstreams'],
  ] as const) {
    const message = configError(() => parseConfigObject({ [section]: { [key]: [42] } }));
    assert.ok(message.includes(`${section}.${key}[0]`), message);
    assert.ok(message.includes('a URL string "https://…"'), message);
    assert.ok(message.includes('{ url = "https://…", auth = "user:pass" }'), message);
  }
  const bad = configError(() => parseConfigObject({ maven: { proxies: ['ftp://old.example'] } }));
  assert.match(bad, /maven\.proxies\[0\]\.url: expected an http\(s\) URL/);
  const env = configError(() => parseConfigObject({}, { NORA_MAVEN_PROXIES: 'not-a-url' }));
  assert.ok(env.includes('(from NORA_MAVEN_PROXIES)'), env);
  assert.ok(env.includes('NORA_MAVEN_PROXIES takes "url1,url2|user:pass"'), env);
  const docker = configError(() => parseConfigObject({}, { NORA_DOCKER_UPSTREAMS: 'x|y' }));
  assert.ok(docker.includes('NORA_DOCKER_UPSTREAMS takes "url1,url2|user:token|prefix"'), docker);
});

test('a list of strings where tables are expected says "table", and an ignored key is noted', () => {
  const rules = configError(() => parseConfigObject({ auth: { rules: ['read'] } }));
  assert.match(
    rules,
    /auth\.rules\[0\]: expected a table \(\{ key = value, … \} inline, or a \[\[…\]\] block\), got a string/,
  );
  // A repository's `proxies` (the section key) instead of `upstreams`: the failure says why.
  const repo = configError(() =>
    parseConfigObject({
      repositories: [{ name: 'm', format: 'maven', kind: 'proxy', proxies: ['https://a.example'] }],
    }),
  );
  assert.match(
    repo,
    /repositories\[0\]\.upstreams: a proxy repository needs at least one upstream/,
  );
  assert.ok(
    repo.includes(
      'unknown config key "repositories[0].proxies" (ignored) (did you mean "repositories[0].upstreams"?)',
    ),
    repo,
  );
});

test('a refused configuration also notes the unknown NORA_* variables (trial 2026-12-02)', () => {
  const error = configError(() =>
    parseConfigObject({}, { NORA_AUTH_ENABLED: 'maybe', NORA_PROT: '5000' }),
  );
  assert.match(error, /auth\.enabled \(from NORA_AUTH_ENABLED\)/);
  assert.ok(
    error.includes(
      '  note: unknown environment variable NORA_PROT (ignored) (did you mean NORA_PORT?)',
    ),
    error,
  );
});

test('proxy = "none" means no upstream, in config.toml as in the environment', () => {
  for (const format of ['pypi', 'cargo', 'go'] as const) {
    const fromFile = parseConfigObject({ [format]: { proxy: 'none' } }, {}).config;
    assert.equal(fromFile[format].proxy, '', `[${format}] proxy = "none"`);
    const variable = `NORA_${format.toUpperCase()}_PROXY`;
    const fromEnv = parseConfigObject({}, { [variable]: ' None ' }).config;
    assert.equal(fromEnv[format].proxy, '', `${variable}=None`);
  }
  assert.throws(() => parseConfigObject({ pypi: { proxy: 'nonesuch' } }, {}), /http\(s\) URL/);
  // npm has no built-in upstream: "none" and "" are unset (hosted only), and the variable
  // overrides a file's upstream.
  for (const proxy of ['none', '', ' NONE ']) {
    assert.equal(parseConfigObject({ npm: { proxy } }, {}).config.npm.proxy, undefined, proxy);
  }
  const overridden = parseConfigObject(
    { npm: { proxy: 'http://127.0.0.1:9/' } },
    { NORA_NPM_PROXY: 'none' },
  ).config;
  assert.equal(overridden.npm.proxy, undefined);
  assert.equal(
    parseConfigObject({}, { NORA_NPM_PROXY: 'http://127.0.0.1:9/' }).config.npm.proxy,
    'http://127.0.0.1:9/',
  );
  assert.throws(() => parseConfigObject({ npm: { proxy: 'nonesuch' } }, {}), /http\(s\) URL/);
});

test('an unknown variable missing its section names the one it may be', async () => {
  const { unknownEnvWarnings } = await import('../../../src/config/env.ts');
  assert.deepEqual(unknownEnvWarnings(configSchema, { NORA_HTPASSWD_FILE: 'x' }), [
    'unknown environment variable NORA_HTPASSWD_FILE (ignored) (did you mean NORA_AUTH_HTPASSWD_FILE?)',
  ]);
});

test('unknown keys warn instead of failing', () => {
  const { warnings } = parseConfigObject({ server: { colour: 'blue' }, nonsense: { a: 1 } });
  assert.deepEqual(warnings.sort(), [
    'unknown config key "nonsense" (ignored)',
    'unknown config key "server.colour" (ignored)',
  ]);
});

test('an unknown key close to a known one says which it may be', () => {
  const { warnings } = parseConfigObject({ server: { log_levl: 'debug' } });
  assert.deepEqual(warnings, [
    'unknown config key "server.log_levl" (ignored) (did you mean "server.log_level"?)',
  ]);
});

test('repositories are validated: kinds, members, duplicate names', () => {
  assert.throws(
    () => parseConfigObject({ repositories: [{ name: 'p', format: 'docker', kind: 'proxy' }] }),
    /at least one upstream/,
  );
  assert.throws(
    () => parseConfigObject({ repositories: [{ name: 'g', format: 'npm', kind: 'group' }] }),
    /at least one member/,
  );
  assert.throws(
    () =>
      parseConfigObject({
        repositories: [
          { name: 'x', format: 'raw', kind: 'hosted' },
          { name: 'x', format: 'raw', kind: 'hosted' },
        ],
      }),
    /duplicate repository name/,
  );
  assert.throws(
    () =>
      parseConfigObject({ repositories: [{ name: 'Bad Name', format: 'raw', kind: 'hosted' }] }),
    /repositories\[0\]\.name/,
  );
});

test('secrets are masked when the configuration is printed', () => {
  const { config } = parseConfigObject(
    {
      npm: { proxy: 'http://up.example/', proxy_auth: 'bob:hunter2' },
      storage: { s3_secret_key: 'topsecret' },
    },
    { NORA_DOCKER_UPSTREAMS: 'http://r.example|alice:pa55' },
  );
  const printed = describeConfig(config);
  for (const secret of ['hunter2', 'topsecret', 'pa55'])
    assert.ok(!printed.includes(secret), `${secret} leaked`);
  assert.ok(printed.includes(MASK));
  assert.ok(printed.includes('http://r.example'));
});

test('keys whose name says secret are masked even without secret metadata; paths are not', () => {
  const { config } = parseConfigObject({});
  const withNewKeys = {
    ...config,
    auth: {
      ...config.auth,
      client_secret: 'oidc-s3cret',
      bind_password: 'ldap-s3cret',
      proxy_auth: 'u:p4ss',
      htpasswd_file: '/etc/nora/users.htpasswd',
      token_storage: 'data/tokens',
      jwks_uri: 'https://issuer.example/jwks',
    },
  } as AppConfig;
  const masked = maskSecrets(withNewKeys)['auth'] as Record<string, unknown>;
  assert.equal(masked['client_secret'], MASK);
  assert.equal(masked['bind_password'], MASK);
  assert.equal(masked['proxy_auth'], MASK);
  assert.equal(masked['htpasswd_file'], '/etc/nora/users.htpasswd');
  assert.equal(masked['token_storage'], 'data/tokens');
  assert.equal(masked['jwks_uri'], 'https://issuer.example/jwks');
  assert.equal(masked['public_metrics'], true);
});

test('NORA_CONFIG_PATH must exist when set; ./config.toml is optional', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'nora-cfg-'));
  await assert.rejects(
    loadConfig({ cwd: dir, env: { NORA_CONFIG_PATH: path.join(dir, 'missing.toml') } }),
    ConfigError,
  );
  const loaded = await loadConfig({ cwd: dir, env: {} });
  assert.equal(loaded.file, undefined);
  await fs.writeFile(path.join(dir, 'config.toml'), '[server]\nport = 4321\n');
  assert.equal((await loadConfig({ cwd: dir, env: {} })).config.server.port, 4321);
  await fs.writeFile(path.join(dir, 'config.toml'), '[server\nport = ');
  await assert.rejects(loadConfig({ cwd: dir, env: {} }), /TOML parse error .* at line 1/);
});

test('every example config shipped in the repo is valid', async () => {
  const files: string[] = [];
  for await (const file of glob('examples/*.toml', { cwd: PROJECT_ROOT })) files.push(file);
  assert.ok(files.length >= 2);
  for (const file of files) {
    const loaded = await loadConfig({ file: path.join(PROJECT_ROOT, file), env: {} });
    assert.deepEqual(loaded.warnings, [], `${file} has unknown keys`);
  }
});

test('an empty NORA_AUTH_TRUSTED_PROXIES trusts no proxy (not the loopback default)', async () => {
  const cwd = os.tmpdir();
  const unset = await loadConfig({ cwd, env: { NORA_CONFIG_PATH: '' } });
  assert.deepEqual(unset.config.auth.trusted_proxies, ['127.0.0.1', '::1']);
  const empty = await loadConfig({ cwd, env: { NORA_AUTH_TRUSTED_PROXIES: '' } });
  assert.deepEqual(empty.config.auth.trusted_proxies, []);
  const set = await loadConfig({
    cwd,
    env: { NORA_AUTH_TRUSTED_PROXIES: '10.0.0.1, 10.1.0.0/16' },
  });
  assert.deepEqual(set.config.auth.trusted_proxies, ['10.0.0.1', '10.1.0.0/16']);
});

test('a rule naming no repository is refused; a group outside [auth.groups] is warned about', async () => {
  const { checkConfig } = await import('../../../src/app.ts');
  const rule = (repositories: string[], groups: string[] = []) =>
    parseConfigObject(
      {
        auth: {
          groups: { platform: ['alice'] },
          rules: [{ repositories, paths: ['com/priv/**'], groups, actions: ['read'] }],
        },
      },
      {},
    ).config;
  assert.throws(
    () => checkConfig(rule(['maven-hostd'])),
    (err: unknown) =>
      err instanceof ConfigError &&
      /auth\.rules\[0\]\.repositories: "maven-hostd" names no repository \(did you mean "maven-hosted"\?\)/.test(
        err.message,
      ),
  );
  // A format's name where its one repository was meant: that repository (trial 17 F8).
  assert.throws(
    () => checkConfig(rule(['raw'])),
    (err: unknown) =>
      err instanceof ConfigError &&
      /"raw" names no repository \(did you mean "raw-hosted"\?\)/.test(err.message),
  );
  // Auth is off here: that its rules do nothing yet is said once (trial 18 authx F14).
  const ruleWarnings = (config: ReturnType<typeof rule>) =>
    checkConfig(config).filter((w) => !w.startsWith('[auth] enabled = false'));
  assert.deepEqual(checkConfig(rule(['maven-hosted', '*-hosted'], ['platform'])), [
    '[auth] enabled = false: [auth.groups], [[auth.rules]] have no effect until it is true',
  ]);
  const warnings = ruleWarnings(rule(['maven-hosted'], ['platfrom']));
  assert.equal(warnings.length, 1);
  assert.match(
    warnings[0] ?? '',
    /"platfrom" is not a group of \[auth\.groups\] \(did you mean "platform"\?\)/,
  );
});

test('a swapped pair of letters is one typo: server.prot → server.port', () => {
  const { warnings } = parseConfigObject({ server: { prot: 4001 } }, {});
  assert.match(
    warnings.join('\n'),
    /unknown config key "server\.prot" \(ignored\) \(did you mean "server\.port"\?\)/,
  );
});

test('[auth] admin_users: a list, or a comma list as a string as NORA_AUTH_ADMIN_USERS takes it', () => {
  assert.deepEqual(parseConfigObject({ auth: { admin_users: 'ci' } }, {}).config.auth.admin_users, [
    'ci',
  ]);
  assert.deepEqual(
    parseConfigObject({ auth: { admin_users: 'ci, ops ,' } }, {}).config.auth.admin_users,
    ['ci', 'ops'],
  );
  assert.deepEqual(
    parseConfigObject({ auth: { admin_users: ['a', 'b'] } }, {}).config.auth.admin_users,
    ['a', 'b'],
  );
  assert.deepEqual(
    parseConfigObject({}, { NORA_AUTH_ADMIN_USERS: 'x,y' }).config.auth.admin_users,
    ['x', 'y'],
  );
  assert.throws(() => parseConfigObject({ auth: { admin_users: 5 } }, {}));
});

test('a list variable given as a TOML array (pasted from config.toml) is read as that list (trial 18 authx F2)', () => {
  const users = (value: string) =>
    parseConfigObject({}, { NORA_AUTH_READ_ONLY_USERS: value }).config.auth.read_only_users;
  assert.deepEqual(users('["carol"]'), ['carol']);
  assert.deepEqual(users(` ["carol", 'dave'] `), ['carol', 'dave']);
  assert.deepEqual(users('carol, dave'), ['carol', 'dave']);
  assert.deepEqual(
    parseConfigObject({}, { NORA_AUTH_ADMIN_USERS: '["root","ops"]' }).config.auth.admin_users,
    ['root', 'ops'],
  );
  // Not a TOML array of strings: split on commas as before (an IPv6 address in brackets).
  assert.deepEqual(
    parseConfigObject({}, { NORA_AUTH_READ_ONLY_USERS: '[::1]' }).config.auth.read_only_users,
    ['[::1]'],
  );
  assert.deepEqual(users('[::1], [fd00::1]/64'), ['[::1]', '[fd00::1]/64']);
  assert.deepEqual(users('[]'), []);
});

test('every list-valued NORA_* variable takes the TOML array form as its comma list (trial 20 authx F4)', () => {
  // One value per list variable, in the comma form; the array form must give the same config.
  const samples: Record<string, [string, string[]]> = {
    NORA_AUTH_ADMIN_USERS: ['root,ops', ['root', 'ops']],
    NORA_AUTH_READ_ONLY_USERS: ['carol,dave', ['carol', 'dave']],
    NORA_AUTH_TRUSTED_PROXIES: ['10.0.0.1,192.168.0.0/16', ['10.0.0.1', '192.168.0.0/16']],
    NORA_DOCKER_UPSTREAMS: [
      'https://a.example,https://b.example',
      ['https://a.example', 'https://b.example'],
    ],
    NORA_PYPI_PROXIES: [
      'https://a.example,https://b.example',
      ['https://a.example', 'https://b.example'],
    ],
    NORA_MAVEN_PROXIES: [
      'https://a.example,https://b.example',
      ['https://a.example', 'https://b.example'],
    ],
    NORA_HELM_PROXIES: [
      'https://a.example,https://b.example',
      ['https://a.example', 'https://b.example'],
    ],
    NORA_MAVEN_SHADOW_NAMES: ['com.corp,org.corp', ['com.corp', 'org.corp']],
    NORA_CARGO_SHADOW_NAMES: ['corp-a,corp-b', ['corp-a', 'corp-b']],
    NORA_HELM_SHADOW_NAMES: ['corp-a,corp-b', ['corp-a', 'corp-b']],
    NORA_NPM_SHADOW_NAMES: ['@corp/*,corp-b', ['@corp/*', 'corp-b']],
    NORA_PYPI_SHADOW_NAMES: ['corp-a,corp-b', ['corp-a', 'corp-b']],
    NORA_DOCKER_SHADOW_NAMES: ['corp/*,lib/app', ['corp/*', 'lib/app']],
    NORA_CURATION_INTERNAL_NS: ['npm:@corp/**,com.corp.**', ['npm:@corp/**', 'com.corp.**']],
    NORA_GO_PRIVATE: ['corp.example.com/*,*.internal', ['corp.example.com/*', '*.internal']],
    NORA_GO_SUMDB: [
      'https://sum.golang.org,sum.test=http://127.0.0.1:9/db',
      ['https://sum.golang.org', 'sum.test=http://127.0.0.1:9/db'],
    ],
    NORA_AUDIT_ACTIONS: ['push,token-create', ['push', 'token-create']],
  };
  // The test covers every list variable there is (a new one must take both forms too).
  const defaults = parseConfigObject({}, {}).config as unknown as Record<
    string,
    Record<string, unknown>
  >;
  const listVariables = envBindings(configSchema)
    .filter((b) => Array.isArray(defaults[b.path[0] ?? '']?.[b.path[1] ?? '']))
    .map((b) => b.names[0]);
  assert.deepEqual([...listVariables].sort(), Object.keys(samples).sort());
  for (const [name, [comma, items]] of Object.entries(samples)) {
    const binding = envBindings(configSchema).find((b) => b.names[0] === name);
    assert.ok(binding, name);
    const [section = '', key = ''] = binding.path;
    const value = (env: Record<string, string>) =>
      (parseConfigObject({}, env).config as unknown as Record<string, Record<string, unknown>>)[
        section
      ]?.[key];
    const array = `[${items.map((item) => JSON.stringify(item)).join(', ')}]`;
    assert.deepEqual(value({ [name]: array }), value({ [name]: comma }), `${name}=${array}`);
    // Malformed: a config error naming the variable, never a literal "[…" item.
    assert.match(
      configError(() => parseConfigObject({}, { [name]: `[${JSON.stringify(items[0])}` })),
      new RegExp(`${binding.path.join('\\.')} \\(from ${name}\\): starts with "\\["`),
      name,
    );
  }
  assert.deepEqual(
    parseConfigObject({}, { NORA_GO_PRIVATE: '["corp.example.com"]' }).config.go.private,
    ['corp.example.com'],
  );
  // Upstream lists take the file's tables too.
  assert.deepEqual(
    parseConfigObject(
      {},
      {
        NORA_HELM_PROXIES: '["https://a.example", { url = "https://b.example", auth = "u:p" }]',
      },
    ).config.helm.proxies,
    [{ url: 'https://a.example' }, { url: 'https://b.example', auth: 'u:p' }],
  );
  // …and their malformed-array error never repeats the value (it may hold credentials).
  const secret = configError(() =>
    parseConfigObject(
      {},
      { NORA_PYPI_PROXIES: '[{ url = "https://b.example", auth = "u:s3cr3t" ' },
    ),
  );
  assert.ok(!secret.includes('s3cr3t'), secret);
});

test('a list variable starting with "[" that is no TOML array of strings is a config error, not a comma list (trial 19 authx F3)', () => {
  // Before: `[carol, dave]` became the users `[carol` and `dave]`, exit 0, and carol kept writing.
  const error = (value: string) =>
    configError(() => parseConfigObject({}, { NORA_AUTH_READ_ONLY_USERS: value }));
  const unquoted = error('[carol, dave]');
  assert.match(unquoted, /auth\.read_only_users \(from NORA_AUTH_READ_ONLY_USERS\)/);
  assert.match(unquoted, /not a TOML array of strings \(.*TOML.*\)/);
  assert.ok(unquoted.includes(`'["carol", "dave"]'`), unquoted);
  assert.ok(unquoted.includes('carol,dave'), unquoted);
  assert.match(error('["carol",'), /unfinished array|TOML/);
  assert.match(error('["carol", 1]'), /item 2 \(1\) is not a string/);
  assert.match(
    configError(() => parseConfigObject({}, { NORA_AUTH_ADMIN_USERS: '[root' })),
    /auth\.admin_users \(from NORA_AUTH_ADMIN_USERS\)/,
  );
});

test('shadow_check_upstream: off by default; only an npm or pypi proxy repository takes it', () => {
  const config = configSchema.parse({});
  assert.equal(config.npm.shadow_check_upstream, false);
  assert.equal(config.pypi.shadow_check_upstream, false);
  const proxy = parseConfigObject({
    repositories: [
      {
        name: 'p',
        format: 'pypi',
        kind: 'proxy',
        upstreams: ['https://a.example/simple/'],
        shadow_check_upstream: true,
      },
    ],
  });
  assert.equal(proxy.config.repositories[0]?.shadow_check_upstream, true);
  for (const repo of [
    { name: 'h', format: 'npm', kind: 'hosted' },
    { name: 'c', format: 'cargo', kind: 'proxy', upstreams: ['https://a.example/'] },
  ]) {
    assert.match(
      configError(() =>
        parseConfigObject({ repositories: [{ ...repo, shadow_check_upstream: true }] }),
      ),
      /repositories\[0\]\.shadow_check_upstream: only an npm or pypi proxy repository asks its upstream on a first publish/,
    );
  }
});

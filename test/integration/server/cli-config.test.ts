/**
 * The CLI and the configuration as an operator meets them, run as real processes: verbs not in
 * this build, unknown commands and options, a closed stdout, `config check` = `serve`'s
 * validation, unknown NORA_* variables, and SIGHUP against the running configuration.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import bcrypt from 'bcryptjs';
import { BIN, cleanEnv, nora } from '../../helpers/cli.ts';
import {
  freePort,
  NODE_FLAGS,
  serveNora,
  startNoraProcess,
  waitFor,
} from '../../helpers/process.ts';

async function tempDir(prefix: string): Promise<string> {
  return fs.mkdtemp(path.join(os.tmpdir(), prefix));
}

describe('CLI verbs, commands and options', () => {
  test('every verb of NORA is built: none is listed as not available', async () => {
    const help = await nora(['--help']);
    assert.doesNotMatch(help.stdout, /not available/);
    assert.match(help.stdout, /import\s+import the hosted repositories of an\s+Artifactory/);
    // Built verbs are no longer listed as "not available".
    assert.match(help.stdout, /backup \[options\]\s+write the database and every blob/);
    assert.match(
      help.stdout,
      /migrate \[options\]\s+copy every stored object to another storage\s+backend/,
    );
    assert.doesNotMatch(
      help.stdout,
      /^ +(backup|restore|retention-plan|retention-apply|migrate|re-pin|migrate-docker-keys|import) .*not available/m,
    );
    assert.match(help.stdout, /re-pin \[options\] \[key\]\s+point a stored file's name/);
    assert.match(help.stdout, /migrate-docker-keys \[options\]\s+bring the Docker images/);
    // A missing required flag of a built verb is a usage error (exit 2), not "not built".
    const rePin = await nora(['re-pin', 'raw/raw-hosted/a.bin']);
    assert.equal(rePin.code, 2);
    assert.match(rePin.stderr, /^nora re-pin: missing --expected SHA256/);
  });

  test('an unknown command is named as one, not as an argument of serve', async () => {
    const res = await nora(['frobnicate']);
    assert.equal(res.code, 2);
    assert.match(res.stderr, /^nora: unknown command 'frobnicate'/);
    assert.doesNotMatch(res.stderr, /too many arguments/);
  });

  test('an unknown option names the option and the command it was given to', async () => {
    const serve = await nora(['serve', '--bogus']);
    assert.equal(serve.code, 2);
    assert.match(serve.stderr, /^nora serve: unknown option '--bogus'/);
    const check = await nora(['config', 'check', '--bogus']);
    assert.equal(check.code, 2);
    assert.match(check.stderr, /^nora config check: unknown option '--bogus'/);
    const typo = await nora(['serve', '--conifg', 'x.toml']);
    assert.match(typo.stderr, /nora serve: unknown option '--conifg'[\s\S]*--config/);
  });

  test('a closed stdout (`nora config check | head -1`) ends quietly', async () => {
    const child = spawn(process.execPath, [...NODE_FLAGS, BIN, 'config', 'check'], {
      cwd: os.tmpdir(),
      env: cleanEnv(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    // The reader goes away before nora writes: every write then fails with EPIPE.
    child.stdout.destroy();
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    assert.equal(stderr, '');
    assert.equal(code, 0);
  });
});

describe('config check runs the validation serve runs', () => {
  test('NORA_STORAGE_MODE=gcs (a mode this build has not): both refuse it, exit 2, naming the variable', async () => {
    const env = { NORA_STORAGE_MODE: 'gcs', NORA_PORT: String(await freePort()) };
    const check = await nora(['config', 'check'], env);
    const serve = await nora(['serve'], env);
    for (const res of [check, serve]) {
      assert.equal(res.code, 2, res.stderr);
      assert.match(
        res.stderr,
        /storage\.mode \(from NORA_STORAGE_MODE\):.*"local".*"s3".*"memory"/,
      );
    }
  });

  test('NORA_HOST=999.1.1.1: both refuse it, exit 2, naming the variable (not a failure at listen)', async () => {
    const env = { NORA_HOST: '999.1.1.1', NORA_PORT: String(await freePort()) };
    const check = await nora(['config', 'check'], env);
    const serve = await nora(['serve'], env);
    for (const res of [check, serve]) {
      assert.equal(res.code, 2, res.stderr);
      assert.match(
        res.stderr,
        /server\.host \(from NORA_HOST\): expected an IPv4 or IPv6 address .* or a host name, got "999\.1\.1\.1"/,
      );
    }
  });

  test('a group with an unknown member: both refuse it with exit 2', async () => {
    const dir = await tempDir('nora-repos-');
    const file = path.join(dir, 'config.toml');
    await fs.writeFile(
      file,
      '[[repositories]]\nname = "team"\nformat = "docker"\nkind = "group"\nmembers = ["nope"]\n',
    );
    const env = { NORA_STORAGE_PATH: path.join(dir, 'storage'), NORA_PORT: '0' };
    const check = await nora(['config', 'check', file], env);
    // -c/--config as serve takes it (trial 18 authx F3).
    const checkC = await nora(['config', 'check', '-c', file], env);
    const serve = await nora(['serve', '--config', file], env);
    for (const res of [check, checkC, serve]) {
      assert.equal(res.code, 2, res.stderr);
      assert.match(res.stderr, /group "team": unknown member "nope"/);
    }
    const both = await nora(['config', 'check', file, '-c', `${file}.other`], env);
    assert.equal(both.code, 2);
    assert.match(both.stderr, /two files given/);
  });

  test('Cargo upstreams spelled `sparse+…` (as in .cargo/config.toml) are taken, the prefix dropped', async () => {
    const dir = await tempDir('nora-cargo-sparse-');
    const file = path.join(dir, 'config.toml');
    await fs.writeFile(
      file,
      [
        '[cargo]',
        'proxy = "sparse+http://127.0.0.1:4791/index/"',
        '[[repositories]]',
        'name = "cargo-mirror"',
        'format = "cargo"',
        'kind = "proxy"',
        'upstreams = [{ url = "sparse+http://127.0.0.1:4792/index/" }, "sparse+http://127.0.0.1:4793/"]',
        '',
      ].join('\n'),
    );
    const env = { NORA_STORAGE_PATH: path.join(dir, 'storage'), NORA_PORT: '0' };
    const res = await nora(['config', 'check', file], env);
    assert.equal(res.code, 0, res.stderr);
    assert.match(
      res.stdout,
      /\[cargo\]\nenabled = true\nproxy = "http:\/\/127\.0\.0\.1:4791\/index\/"\n/,
    );
    assert.match(res.stdout, /\nurl = "http:\/\/127\.0\.0\.1:4792\/index\/"\n/);
    assert.match(res.stdout, /\nurl = "http:\/\/127\.0\.0\.1:4793\/"\n/);
    assert.doesNotMatch(res.stdout, /sparse\+/);

    const fromEnv = await nora(['config', 'check'], {
      NORA_CARGO_PROXY: 'sparse+http://127.0.0.1:4791/index',
    });
    assert.equal(fromEnv.code, 0, fromEnv.stderr);
    assert.match(fromEnv.stdout, /\nproxy = "http:\/\/127\.0\.0\.1:4791\/index"\n/);

    // Only Cargo's: another format's `sparse+` URL is still refused.
    await fs.writeFile(
      file,
      '[[repositories]]\nname = "npm-x"\nformat = "npm"\nkind = "proxy"\nupstreams = ["sparse+http://127.0.0.1:4794/"]\n',
    );
    const other = await nora(['config', 'check', file], env);
    assert.equal(other.code, 2);
    assert.match(other.stderr, /repositories\[0\]\.upstreams\[0\]\.url: expected an http\(s\) URL/);
  });

  test('unknown NORA_* variables are warned about, with a suggestion when close', async () => {
    const res = await nora(['config', 'check'], {
      NORA_DOKER_UPSTREAMS: 'none',
      NORA_SOMETHING_ELSE: '1',
      NORA_TEST_ANYTHING: '1',
      NORA_TOOLS_DIR: '/x',
    });
    assert.equal(res.code, 0, res.stderr);
    assert.match(
      res.stderr,
      /warning: unknown environment variable NORA_DOKER_UPSTREAMS \(ignored\) \(did you mean NORA_DOCKER_UPSTREAMS\?\)/,
    );
    assert.match(res.stderr, /unknown environment variable NORA_SOMETHING_ELSE \(ignored\)\n/);
    assert.doesNotMatch(res.stderr, /NORA_TEST_ANYTHING|NORA_TOOLS_DIR/);
  });

  test("htpasswd lines the server will skip are warned, in the server's words (trial 19 authx F10)", async () => {
    const dir = await tempDir('nora-htpasswd-lines-');
    try {
      const htpasswd = path.join(dir, 'users.htpasswd');
      // alice as `htpasswd -B` writes her, mike as `htpasswd -m` (MD5) does.
      await fs.writeFile(
        htpasswd,
        `alice:${bcrypt.hashSync('alice-pw', 4)}\nmike:$apr1$Qm3Jc1s9$5dYyQy2vWqRrV1Gm0o1qX/\n`,
      );
      const file = path.join(dir, 'config.toml');
      await fs.writeFile(
        file,
        `[auth]\nenabled = true\nhtpasswd_file = ${JSON.stringify(htpasswd)}\n[storage]\npath = ${JSON.stringify(path.join(dir, 'storage'))}\n`,
      );
      const res = await nora(['config', 'check', file]);
      assert.equal(res.code, 0, res.stderr);
      assert.match(
        res.stderr,
        /^warning: htpasswd line 2 \(user "mike"\) skipped: MD5 \(\$apr1\$\) hash: only bcrypt \(htpasswd -B\) is accepted$/m,
      );
      assert.doesNotMatch(res.stderr, /alice/);
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });

  test('a rule granting write but not read is warned about (it locks reads out, its users too)', async () => {
    const dir = await tempDir('nora-rule-warn-');
    try {
      const file = path.join(dir, 'config.toml');
      const rule = (actions: string, paths = '"corp-*"') =>
        `[[auth.rules]]\nrepositories = ["cargo-hosted"]\npaths = [${paths}]\nusers = ["alice"]\nactions = [${actions}]\n`;
      await fs.writeFile(
        file,
        `[auth]\nenabled = true\n${rule('"write"')}${rule('"write", "delete"', '"team/**"')}`,
      );
      const res = await nora(['config', 'check', file]);
      assert.equal(res.code, 0, res.stderr);
      assert.match(
        res.stderr,
        /warning: auth\.rules\[0\] grants write but not read: it owns cargo-hosted corp-\*, where only rules' grants count, so nobody but admins may read there, its own users included: they cannot read back what they publish, and a publish whose client reads fails \(cargo publish reads the crate's index entry first; mvn deploy uploads the POM and jar, then fails reading the maven-metadata\.xml and leaves them without one\), while npm, pnpm, twine and curl uploads publish without reading and succeed/,
      );
      // Trial 34: npm and pnpm publish did succeed under such a rule; the warning no longer
      // says every publish fails.
      assert.doesNotMatch(res.stderr, /their publish fails at the client's first read/);
      assert.match(res.stderr, /auth\.rules\[1\] grants write, delete but not read/);
      // A read grant on the same space (here an anonymous read rule) answers it: no warning.
      await fs.writeFile(
        file,
        `[auth]\nenabled = true\n${rule('"write"')}[[auth.rules]]\nrepositories = ["cargo-hosted"]\npaths = ["corp-*"]\nanonymous = true\nactions = ["read"]\n`,
      );
      const fine = await nora(['config', 'check', file]);
      assert.equal(fine.code, 0, fine.stderr);
      assert.doesNotMatch(fine.stderr, /but not read/);
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });

  test('a rule that a broader rule makes redundant is warned about, naming both', async () => {
    const dir = await tempDir('nora-rule-shadow-');
    try {
      const file = path.join(dir, 'config.toml');
      await fs.writeFile(
        file,
        '[auth]\nenabled = true\n' +
          '[[auth.rules]]\nusers = ["*"]\nactions = ["read", "write"]\n' +
          '[[auth.rules]]\nrepositories = ["npm-hosted"]\npaths = ["@corp/*"]\nusers = ["bob"]\nactions = ["read"]\n',
      );
      const res = await nora(['config', 'check', file]);
      assert.equal(res.code, 0, res.stderr);
      assert.match(
        res.stderr,
        /warning: auth\.rules\[1\] \(users \["bob"\]; actions \["read"\] on repositories \["npm-hosted"\], paths \["@corp\/\*"\]\) never applies: auth\.rules\[0\] \(users \["\*"\]; actions \["read","write"\] on repositories \["\*"\], paths \["\*\*"\]\) before it covers every repository, path and principal it covers/,
      );
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });

  test('NORA_DOCKER_UPSTREAMS: errors name it; "" and "none" switch the Docker cache off', async () => {
    const bad = await nora(['config', 'check'], { NORA_DOCKER_UPSTREAMS: 'not-a-url' });
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /docker\.upstreams\[0\]\.url \(from NORA_DOCKER_UPSTREAMS\)/);
    for (const value of ['', 'none']) {
      const off = await nora(['config', 'check'], { NORA_DOCKER_UPSTREAMS: value });
      assert.equal(off.code, 0, off.stderr);
      // The [docker] table only (`shadow_names = []` stands before upstreams since stop 45).
      const docker = off.stdout.slice(off.stdout.indexOf('\n[docker]\n'));
      assert.match(
        docker.slice(0, docker.indexOf('\n\n')),
        /\nupstreams = \[\]$/m,
        JSON.stringify(value),
      );
    }
  });
});

describe('SIGHUP against the running configuration', () => {
  test('log_level is applied live; unknown variables are warned about at start', async () => {
    const dir = await tempDir('nora-hup-level-');
    const file = path.join(dir, 'config.toml');
    await fs.writeFile(file, '[server]\nlog_level = "warn"\n');
    const server = await startNoraProcess({
      port: await freePort(),
      env: {
        NORA_CONFIG_PATH: file,
        NORA_STORAGE_PATH: path.join(dir, 'storage'),
        NORA_LOG_LEVL: 'info',
      },
    });
    try {
      assert.match(server.output(), /NORA_LOG_LEVL \(ignored\) \(did you mean NORA_LOG_LEVEL\?\)/);
      await (await fetch(`${server.url}/ready`)).arrayBuffer();
      assert.doesNotMatch(server.output(), /"msg":"request"/, 'warn level: no access lines');
      await fs.writeFile(file, '[server]\nlog_level = "info"\n');
      server.child.kill('SIGHUP');
      await waitFor(() => server.output().includes('configuration reloaded'));
      assert.match(server.output(), /"applied":\["server\.log_level"\],"requires_restart":\[\]/);
      await (await fetch(`${server.url}/ready`)).arrayBuffer();
      await waitFor(() => /"url":"\/ready".*"msg":"request"/.test(server.output()));
    } finally {
      server.child.kill('SIGTERM');
      await server.exited;
    }
  });

  test('auth off with settings that wait for it: start-up says "anyone … can read and write" once (trial 19 authx F10)', async () => {
    const dir = await tempDir('nora-auth-off-');
    const file = path.join(dir, 'config.toml');
    await fs.writeFile(
      file,
      `[auth]\nenabled = false\nread_only_users = ["carol"]\n[storage]\npath = ${JSON.stringify(path.join(dir, 'storage'))}\n`,
    );
    try {
      await using server = await serveNora({ configFile: file });
      await waitFor(() => server.output().includes('nora listening'));
      const output = server.output();
      // The file turned auth off: no variable named.
      assert.match(
        output,
        /"msg":"\[auth\] enabled = false: read_only_users has no effect until it is true"/,
      );
      assert.equal(
        output.match(/anyone who can reach this server can read and write/g)?.length,
        1,
        output,
      );
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });

  test('auth rules are reloaded by SIGHUP: a rule giving carol only read makes her read-only', async () => {
    // docs/auth.md "Reloading auth" and "A read-only user", checked against a running server.
    const dir = await tempDir('nora-hup-rules-');
    const htpasswd = path.join(dir, 'users.htpasswd');
    await fs.writeFile(
      htpasswd,
      ['alice', 'carol'].map((u) => `${u}:${bcrypt.hashSync(`${u}-pw`, 4)}`).join('\n') + '\n',
    );
    const file = path.join(dir, 'config.toml');
    const auth = `[auth]\nenabled = true\nanonymous_read = true\nhtpasswd_file = ${JSON.stringify(htpasswd)}\n`;
    await fs.writeFile(file, auth);
    const server = await startNoraProcess({
      port: await freePort(),
      env: { NORA_CONFIG_PATH: file, NORA_STORAGE_PATH: path.join(dir, 'storage') },
    });
    const as = (user: string) => `Basic ${Buffer.from(`${user}:${user}-pw`).toString('base64')}`;
    const put = async (user: string, name: string) => {
      const res = await fetch(`${server.url}/raw/docs/${name}`, {
        method: 'PUT',
        body: name,
        headers: { authorization: as(user) },
      });
      await res.arrayBuffer();
      return res.status;
    };
    const get = async (name: string, user?: string) => {
      const res = await fetch(`${server.url}/raw/docs/${name}`, {
        headers: user === undefined ? {} : { authorization: as(user) },
      });
      await res.arrayBuffer();
      return res.status;
    };
    try {
      // No rules: both users write (htpasswd users have the read and write roles).
      assert.equal(await put('carol', 'a.txt'), 201);
      assert.equal(await put('alice', 'b.txt'), 201);
      // The docs' read-only user: carol reads only, the writers group keeps writing, anonymous
      // clients keep reading (the first rule owns every path, where only grants count).
      await fs.writeFile(
        file,
        auth +
          '[auth.groups]\nwriters = ["alice"]\n' +
          '[[auth.rules]]\nusers = ["carol"]\nactions = ["read"]\n' +
          '[[auth.rules]]\ngroups = ["writers"]\nactions = ["read", "write", "delete"]\n' +
          '[[auth.rules]]\nanonymous = true\nactions = ["read"]\n',
      );
      server.child.kill('SIGHUP');
      await waitFor(() => server.output().includes('configuration reloaded'));
      assert.doesNotMatch(server.output(), /never applies/, 'no rule is redundant');
      assert.equal(await put('carol', 'c.txt'), 403);
      assert.equal(await get('a.txt', 'carol'), 200);
      assert.equal(await put('alice', 'd.txt'), 201);
      assert.equal(await get('d.txt'), 200);
      // The htpasswd file is re-read by SIGHUP too (and on change): carol removed, carol is 401.
      await fs.writeFile(htpasswd, `alice:${bcrypt.hashSync('alice-pw', 4)}\n`);
      server.child.kill('SIGHUP');
      await waitFor(() => server.output().split('configuration reloaded').length > 2);
      await waitFor(() => /htpasswd users loaded[^\n]*/.test(server.output()));
      let status = 0;
      for (let i = 0; i < 100 && status !== 401; i++) {
        status = await get('a.txt', 'carol');
        if (status !== 401) await new Promise((resolve) => setTimeout(resolve, 50));
      }
      assert.equal(status, 401);
    } finally {
      server.child.kill('SIGTERM');
      await server.exited;
    }
  });

  test('requires_restart compares with what runs, not with the last file', async () => {
    const dir = await tempDir('nora-hup-restart-');
    const file = path.join(dir, 'config.toml');
    await fs.writeFile(file, '[docker]\nenabled = true\n');
    const server = await startNoraProcess({
      port: await freePort(),
      env: { NORA_CONFIG_PATH: file, NORA_STORAGE_PATH: path.join(dir, 'storage') },
    });
    const reloads = () => server.output().match(/"requires_restart":\[[^\]]*\]/g) ?? [];
    try {
      await fs.writeFile(file, '[docker]\nenabled = false\n');
      server.child.kill('SIGHUP');
      await waitFor(() => reloads().length === 1);
      // Same file again: docker is still enabled in the running process.
      server.child.kill('SIGHUP');
      await waitFor(() => reloads().length === 2);
      assert.deepEqual(reloads(), [
        '"requires_restart":["docker.enabled"]',
        '"requires_restart":["docker.enabled"]',
      ]);
      const health = (await (await fetch(`${server.url}/health`)).json()) as {
        registries: Record<string, string>;
      };
      assert.equal(health.registries['docker'], 'ok', '/health says what runs');
      // Back to what runs: nothing to restart for.
      await fs.writeFile(file, '[docker]\nenabled = true\n');
      server.child.kill('SIGHUP');
      await waitFor(() => reloads().length === 3);
      assert.equal(reloads()[2], '"requires_restart":[]');
    } finally {
      server.child.kill('SIGTERM');
      await server.exited;
    }
  });

  test('a reload changing [maven] and [helm] keys says which took effect and which need a restart', async () => {
    const dir = await tempDir('nora-hup-formats-');
    const file = path.join(dir, 'config.toml');
    await fs.writeFile(file, '[maven]\nproxies = []\n');
    const server = await startNoraProcess({
      port: await freePort(),
      env: { NORA_CONFIG_PATH: file, NORA_STORAGE_PATH: path.join(dir, 'storage') },
    });
    const lines = () =>
      server
        .output()
        .split('\n')
        .filter((line) => line.includes('configuration reloaded'));
    try {
      await fs.writeFile(
        file,
        [
          '[maven]',
          'proxies = []',
          'header_timeout = 3',
          'shadow_names = ["com.corp:*"]',
          '[helm]',
          'shadow_names = ["corp-*"]',
          'proxies = ["http://127.0.0.1:9/charts"]',
          '',
        ].join('\n'),
      );
      server.child.kill('SIGHUP');
      await waitFor(() => lines().length === 1);
      const first = JSON.parse(lines()[0] ?? '{}') as Record<string, unknown>;
      assert.deepEqual(first['applied'], [
        'helm.shadow_names',
        'maven.header_timeout',
        'maven.shadow_names',
      ]);
      // helm-proxy would be a new repository (and a member of /helm/): built at start only.
      assert.deepEqual(first['requires_restart'], ['repositories', 'helm.proxies']);
      assert.equal(
        first['msg'],
        'configuration reloaded: applied helm.shadow_names, maven.header_timeout, maven.shadow_names; needs a restart to take effect: repositories, helm.proxies',
      );
      // helm.enabled needs a restart (it was reported as applied, and kept as if running).
      await fs.writeFile(file, '[maven]\nproxies = []\n[helm]\nenabled = false\n');
      server.child.kill('SIGHUP');
      await waitFor(() => lines().length === 2);
      const second = JSON.parse(lines()[1] ?? '{}') as Record<string, unknown>;
      assert.deepEqual(second['requires_restart'], ['helm.enabled']);
      assert.equal(
        second['msg'],
        'configuration reloaded: applied helm.shadow_names, maven.header_timeout, maven.shadow_names; needs a restart to take effect: helm.enabled',
      );
      assert.equal((await fetch(`${server.url}/helm/index.yaml`)).status, 200, 'helm still runs');
      server.child.kill('SIGHUP');
      await waitFor(() => lines().length === 3);
      assert.match(
        lines()[2] ?? '',
        /"msg":"configuration reloaded: needs a restart to take effect: helm\.enabled"/,
      );
    } finally {
      server.child.kill('SIGTERM');
      await server.exited;
    }
  });

  test('a config file deleted before SIGHUP keeps the running config and logs an error', async () => {
    const dir = await tempDir('nora-hup-gone-');
    // ./config.toml in the working directory: the file that is optional at start.
    const file = path.join(dir, 'config.toml');
    await fs.writeFile(file, '[server]\nlog_level = "warn"\n');
    await using server = await serveNora({ dir });
    await fs.rm(file);
    server.child.kill('SIGHUP');
    await waitFor(() => server.output().includes('configuration reload failed'));
    assert.match(
      server.output(),
      /"level":50,.*"error":"cannot read config file [^"]*config\.toml: ENOENT.*"msg":"configuration reload failed, keeping previous config"/,
    );
    assert.doesNotMatch(server.output(), /configuration reloaded/);
    // Still at "warn" (the default would be "info" and log this request).
    await (await fetch(`${server.url}/ready`)).arrayBuffer();
    await new Promise((r) => setTimeout(r, 200));
    assert.doesNotMatch(server.output(), /"msg":"request"/);
  });

  test('a config file made after start, then deleted: SIGHUP keeps it, not the defaults', async () => {
    const dir = await tempDir('nora-hup-late-');
    // No ./config.toml at start: defaults + environment.
    const file = path.join(dir, 'config.toml');
    await using server = await serveNora({ dir });
    // "debug", not "warn": the reload's own line is logged at the new level.
    await fs.writeFile(file, '[server]\nlog_level = "debug"\n');
    server.child.kill('SIGHUP');
    await waitFor(() => server.output().includes('configuration reloaded'));
    assert.match(server.output(), /"applied":\["server\.log_level"\]/);
    await fs.rm(file);
    server.child.kill('SIGHUP');
    await waitFor(() => server.output().includes('configuration reload failed'));
    assert.match(
      server.output(),
      /"level":50,.*"error":"cannot read config file [^"]*config\.toml: ENOENT.*"msg":"configuration reload failed, keeping previous config"/,
    );
    // No second reload to the defaults ("info", and auth off if the file had turned it on).
    assert.equal(server.output().match(/configuration reloaded/g)?.length, 1);
  });
});

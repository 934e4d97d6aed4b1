/**
 * Curation with the real npm client: a NORA process (so SIGHUP is a real signal) proxies a second
 * NORA holding `cur-lib` 1.0.0, 1.1.0, 1.2.0 (latest) and a squatted `@corp/secret`. In order:
 * audit mode serves the blocklisted 1.2.0 (a lockfile pins it); a SIGHUP to enforce makes
 * `npm ci` of that lockfile fail with 403 and the rule's reason, `npm install cur-lib@1.2.0`
 * finds no such version and `npm install cur-lib` gets 1.1.0 (latest repointed); the bypass
 * header is served; an internal name is never asked of the upstream (its access log); a broken
 * blocklist on SIGHUP keeps the previous policy with a warning naming the line.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { freePort, startNoraProcess, waitFor, writeConfigToml } from '../../helpers/process.ts';
import { startTestServer } from '../../helpers/server.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { findTool, output, run } from '../../helpers/tools.ts';
import { NpmHttp } from '../../integration/npm/client.ts';
import { npmUserEnv as npmEnv, writeUserNpmrc } from '../npm/clients.ts';

const REASON = 'compromised release (advisory CUR-1)';

test(
  'npm through curation: audit, SIGHUP to enforce, blocked version refused with its reason, bypass, internal namespace, broken reload',
  { skip: findTool('npm') === undefined ? 'client not installed: npm' : false, timeout: 300_000 },
  async () => {
    await using tmp = await tempDir('nora-cur-npm-');
    const upstreamLog: string[] = [];
    await using upstream = await startTestServer({
      logLevel: 'info',
      logStream: { write: (line) => upstreamLog.push(line) },
    });
    const up = new NpmHttp(`${upstream.url}/npm`);
    for (const version of ['1.0.0', '1.1.0', '1.2.0']) {
      assert.equal((await up.publish({ name: 'cur-lib', version })).status, 201);
    }
    assert.equal((await up.publish({ name: '@corp/secret', version: '9.9.9' })).status, 201);
    upstreamLog.length = 0; // from here on: what the proxy asks

    const blocklist = path.join(tmp.path, 'blocklist.json');
    await fs.writeFile(
      blocklist,
      JSON.stringify(
        {
          version: 1,
          rules: [{ registry: 'npm', name: 'cur-lib', version: '1.2.0', reason: REASON }],
        },
        null,
        2,
      ),
    );
    const configLines = (mode: string) => [
      '[npm]',
      `proxy = ${JSON.stringify(`${upstream.url}/npm/`)}`,
      'metadata_ttl = 0',
      '[curation]',
      `mode = "${mode}"`,
      `blocklist_path = ${JSON.stringify(blocklist)}`,
      'internal_namespaces = ["@corp/**"]',
    ];
    const configFile = await writeConfigToml(tmp.path, configLines('audit'));
    const port = await freePort();
    await using server = await startNoraProcess({
      port,
      args: ['serve', '-c', configFile],
      env: { NORA_CURATION_BYPASS_TOKEN: 'let-me-in', NORA_LOG_LEVEL: 'info' },
    });
    const registry = `${server.url}/npm/`;
    const npm = async (label: string, args: readonly string[]) => {
      const home = path.join(tmp.path, `home-${label}`);
      await fs.mkdir(home, { recursive: true });
      const npmrc = await writeUserNpmrc(home, registry);
      const project = path.join(tmp.path, `project-${label}`);
      await fs.mkdir(project, { recursive: true });
      if (args[0] !== 'ci') {
        await fs.writeFile(
          path.join(project, 'package.json'),
          '{"name":"consumer","version":"1.0.0","private":true}\n',
        );
      }
      return {
        project,
        result: await run('npm', [...args, '--registry', registry], {
          cwd: project,
          env: npmEnv(home, npmrc),
          check: false,
          timeoutMs: 120_000,
        }),
      };
    };
    const installed = async (project: string) =>
      (
        JSON.parse(
          await fs.readFile(path.join(project, 'node_modules', 'cur-lib', 'package.json'), 'utf8'),
        ) as { version: string }
      ).version;

    // Audit: the blocked version is served (and logged); its lockfile is kept for later.
    const audited = await npm('audit', ['install', '--no-audit', '--no-fund', 'cur-lib@1.2.0']);
    assert.equal(audited.result.code, 0, output(audited.result));
    assert.equal(await installed(audited.project), '1.2.0');
    assert.match(server.output(), /curation \(audit\): npm cur-lib@1\.2\.0 is blocked/);

    // SIGHUP to enforce.
    await writeConfigToml(tmp.path, configLines('enforce'));
    server.child.kill('SIGHUP');
    const group = new NpmHttp(`${server.url}/npm`);
    await waitFor(() => server.output().includes('curation.mode'), 20_000);
    let refused = await group.request('GET', '/cur-lib/-/cur-lib-1.2.0.tgz');
    for (let i = 0; i < 100 && refused.status !== 403; i++) {
      await new Promise((r) => setTimeout(r, 50));
      refused = await group.request('GET', '/cur-lib/-/cur-lib-1.2.0.tgz');
    }
    assert.equal(refused.status, 403, refused.text);
    assert.match(
      refused.json<{ error: string }>().error,
      /cur-lib@1\.2\.0 is blocked by curation .*compromised release/,
    );

    // The lockfile that pins 1.2.0: npm ci fails with the 403 and the reason.
    const ciProject = path.join(tmp.path, 'project-ci');
    await fs.mkdir(ciProject, { recursive: true });
    for (const file of ['package.json', 'package-lock.json']) {
      await fs.copyFile(path.join(audited.project, file), path.join(ciProject, file));
    }
    const ci = await npm('ci', ['ci', '--no-audit', '--no-fund']);
    assert.notEqual(ci.result.code, 0, output(ci.result));
    assert.match(output(ci.result), /403/);
    assert.match(output(ci.result), /compromised release/);

    // A fresh install of the exact version finds none; of the package, the highest allowed.
    const exact = await npm('exact', ['install', '--no-audit', '--no-fund', 'cur-lib@1.2.0']);
    assert.notEqual(exact.result.code, 0, output(exact.result));
    assert.match(output(exact.result), /ETARGET|No matching version/);
    const bare = await npm('bare', ['install', '--no-audit', '--no-fund', 'cur-lib']);
    assert.equal(bare.result.code, 0, output(bare.result));
    assert.equal(await installed(bare.project), '1.1.0');
    const packument = (await group.packument('cur-lib')).json<{
      'dist-tags': Record<string, string>;
      versions: Record<string, unknown>;
    }>();
    assert.deepEqual(Object.keys(packument.versions).sort(), ['1.0.0', '1.1.0']);
    assert.equal(packument['dist-tags'].latest, '1.1.0');

    // The bypass token serves it (and is never answered from the answer memo for others).
    const bypassed = await group.request('GET', '/cur-lib/-/cur-lib-1.2.0.tgz', undefined, {
      'x-nora-bypass-token': 'let-me-in',
    });
    assert.equal(bypassed.status, 200);
    const withTag = await group.request('GET', '/cur-lib', undefined, {
      'x-nora-bypass-token': 'let-me-in',
    });
    assert.ok('1.2.0' in withTag.json<{ versions: Record<string, unknown> }>().versions);
    assert.equal((await group.request('GET', '/cur-lib/-/cur-lib-1.2.0.tgz')).status, 403);

    // Internal namespace: 404 here, and the upstream never saw the name.
    const internal = await group.request('GET', '/@corp%2fsecret');
    assert.equal(internal.status, 404);
    const internalTarball = await group.request('GET', '/@corp/secret/-/secret-9.9.9.tgz');
    assert.equal(internalTarball.status, 404);
    assert.ok(
      !upstreamLog.some((line) => /@corp/i.test(line)),
      upstreamLog.filter((line) => /corp/i.test(line)).join('\n'),
    );

    // A broken blocklist on SIGHUP: a warning naming the line; the previous policy stays.
    await fs.writeFile(
      blocklist,
      '{\n  "version": 1,\n  "rules": [\n    { "registry": "npm", }\n  ]\n}\n',
    );
    server.child.kill('SIGHUP');
    await waitFor(() => server.output().includes('curation policy reload failed'), 20_000);
    assert.match(server.output(), /keeping the previous policy: .*blocklist\.json:4: invalid JSON/);
    assert.equal((await group.request('GET', '/cur-lib/-/cur-lib-1.2.0.tgz')).status, 403);

    // An edited blocklist on SIGHUP applies at once (answer memo and packument cache included).
    await fs.writeFile(
      blocklist,
      JSON.stringify({
        version: 1,
        rules: [{ registry: 'npm', name: 'cur-lib', version: '<1.1.0', reason: 'old' }],
      }),
    );
    server.child.kill('SIGHUP');
    let after = await group.request('GET', '/cur-lib/-/cur-lib-1.2.0.tgz');
    for (let i = 0; i < 200 && after.status !== 200; i++) {
      await new Promise((r) => setTimeout(r, 50));
      after = await group.request('GET', '/cur-lib/-/cur-lib-1.2.0.tgz');
    }
    assert.equal(after.status, 200);
    assert.equal((await group.request('GET', '/cur-lib/-/cur-lib-1.0.0.tgz')).status, 403);
    const versions = Object.keys(
      (await group.packument('cur-lib')).json<{ versions: Record<string, unknown> }>().versions,
    );
    assert.deepEqual(versions.sort(), ['1.1.0', '1.2.0']);

    const metrics = await fetch(`${server.url}/metrics`).then((r) => r.text());
    assert.match(
      metrics,
      /nora_curation_decisions_total\{registry="npm",decision="blocked",reason="blocklist"\} [1-9]/,
    );
    assert.match(
      metrics,
      /nora_curation_decisions_total\{registry="npm",decision="audited",reason="blocklist"\} [1-9]/,
    );
    assert.match(
      metrics,
      /nora_curation_decisions_total\{registry="npm",decision="bypassed",reason="blocklist"\} [1-9]/,
    );
  },
);

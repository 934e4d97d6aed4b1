/**
 * Curation policy: list parsing (errors with line and field), version matching per registry,
 * name patterns of internal namespaces, and the engine's decisions (audit, enforce, bypass,
 * on_failure, allowlist and integrity, reload keeping the previous policy).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, test } from 'node:test';
import { RegistryError } from '../../../src/core/errors.ts';
import { curationRequest } from '../../../src/curation/context.ts';
import { CurationEngine, loadPolicy, reloadCuration } from '../../../src/curation/engine.ts';
import type { CurationConfig } from '../../../src/curation/engine.ts';
import {
  namePattern,
  parseInternalNamespace,
  parseList,
  PolicyError,
  versionMatcher,
} from '../../../src/curation/policy.ts';
import { parseConfigObject } from '../../../src/config/load.ts';
import { configSchema } from '../../../src/config/schema.ts';
import type { Logger } from '../../../src/core/logger.ts';
import { Metrics } from '../../../src/metrics/metrics.ts';
import { tempDir } from '../../helpers/tmp.ts';

function logger(lines: string[]): Logger {
  const said = (level: string, a: object | string, b?: string): void => {
    lines.push(`${level} ${b ?? (typeof a === 'string' ? a : JSON.stringify(a))}`);
  };
  const log: Logger = {
    error: (a: object | string, b?: string) => {
      said('error', a, b);
    },
    warn: (a: object | string, b?: string) => {
      said('warn', a, b);
    },
    info: () => undefined,
    debug: () => undefined,
    child: () => log,
  };
  return log;
}

function config(over: Partial<CurationConfig>): CurationConfig {
  return { ...configSchema.parse({}).curation, mode: 'enforce', ...over };
}

// A real npm dist.integrity (88 base64 characters).
const SHA512 = `sha512-${'q'.repeat(86)}==`;

const BLOCKLIST = `{
  "version": 1,
  "rules": [
    { "registry": "npm", "name": "left-pad", "version": "<1.3.0", "reason": "CVE-1" },
    { "registry": "pypi", "name": "Evil_Pkg", "version": "*", "reason": "typosquat" },
    { "registry": "cargo", "name": "bad-crate", "version": "=0.2.0", "reason": "yanked upstream" }
  ]
}
`;

describe('list parsing', () => {
  test('a valid blocklist: rules in order, with their lines', () => {
    const list = parseList('blocklist', 'b.json', BLOCKLIST);
    assert.deepEqual(
      list.rules.map((r) => [r.index, r.line, r.registry, r.reason]),
      [
        [1, 4, 'npm', 'CVE-1'],
        [2, 5, 'pypi', 'typosquat'],
        [3, 6, 'cargo', 'yanked upstream'],
      ],
    );
  });

  test('JSON syntax errors name the line and column', () => {
    assert.throws(
      () =>
        parseList(
          'blocklist',
          'b.json',
          '{\n  "version": 1,\n  "rules": [\n    {"registry": "npm",}\n  ]\n}',
        ),
      (err: unknown) =>
        err instanceof PolicyError && /^b\.json:4: invalid JSON at column \d+/.test(err.message),
    );
  });

  test('every field problem is listed with its line and path', () => {
    const text = `{
  "version": 2,
  "rules": [
    { "registry": "npm", "name": "a", "version": "<<1", "reason": "r" },
    { "registry": "rubygems", "name": "b", "version": "*", "reason": "r" },
    { "registry": "maven", "name": "g:a", "version": ">=1.0", "reason": "r" },
    { "registry": "npm", "name": "c", "version": "*" },
    { "registry": "npm", "name": "d", "version": "*", "reason": "r", "note": "x" }
  ]
}`;
    assert.throws(
      () => parseList('blocklist', 'b.json', text),
      (err: unknown) => {
        assert.ok(err instanceof PolicyError);
        assert.deepEqual(
          err.issues.map((i) => `${i.line}:${i.path}`),
          [
            '2:version',
            '4:rules[0].version',
            '5:rules[1].registry',
            '6:rules[2].version',
            '7:rules[3].reason',
            '8:rules[4].note',
          ],
        );
        assert.match(err.message, /b\.json:4: rules\[0\]\.version: "<<1" is not a SemVer range/);
        assert.match(err.message, /maven versions have no range syntax/);
        return true;
      },
    );
  });

  test('Maven ranges and globs are errors for maven, docker and raw (they would match nothing)', () => {
    for (const registry of ['maven', 'docker', 'raw'] as const) {
      for (const spec of ['[1.0,2.0)', '(,1.0]', '[1.0]', '1.*', '1.0,2.0']) {
        const matcher = versionMatcher(registry, spec);
        assert.equal(typeof matcher, 'string', `${registry} ${spec}`);
        assert.match(matcher as string, /no range syntax/);
      }
      assert.notEqual(typeof versionMatcher(registry, '1.0-SNAPSHOT'), 'string');
    }
    assert.throws(
      () =>
        parseList(
          'blocklist',
          'm.json',
          '{"version":1,"rules":[{"registry":"maven","name":"g:a","version":"[1.0,2.0)","reason":"r"}]}',
        ),
      /rules\[0\]\.version: maven versions have no range syntax/,
    );
  });

  test('an allowlist takes entries with an optional integrity', () => {
    const list = parseList(
      'allowlist',
      'a.json',
      `{"version":1,"entries":[{"registry":"npm","name":"x","version":"^1","integrity":"${SHA512}"}]}`,
    );
    assert.equal(list.entries[0]?.integrity, SHA512);
  });

  test('an integrity must be SRI sha256/384/512 of the right length or sha256:<hex>', () => {
    const entry = (integrity: string) =>
      `{"version":1,"entries":[{"registry":"npm","name":"x","version":"*","integrity":${JSON.stringify(integrity)}}]}`;
    for (const good of [SHA512, `sha256-${'A'.repeat(43)}=`, `sha256:${'a'.repeat(64)}`]) {
      assert.doesNotThrow(() => parseList('allowlist', 'a.json', entry(good)), good);
    }
    for (const bad of [
      'md5-xx',
      'sha512-',
      'sha512-abc',
      `sha256:${'a'.repeat(63)}`,
      'sha1-abc=',
    ]) {
      assert.throws(
        () => parseList('allowlist', 'a.json', entry(bad)),
        /entries\[0\]\.integrity: .* is not an integrity NORA can compare/,
        bad,
      );
    }
  });
});

describe('matching', () => {
  test('SemVer ranges for npm/Cargo/Go, PEP 440 for PyPI, exact for Maven', () => {
    const npm = versionMatcher('npm', '>=1.0.0 <1.4.2 || 2.0.0');
    assert.ok(typeof npm !== 'string');
    assert.deepEqual(
      ['0.9.0', '1.0.0', '1.4.1', '1.4.2', '2.0.0', '1.2.0-beta.1'].map((v) => npm.matches(v)),
      [false, true, true, false, true, true],
    );
    const go = versionMatcher('go', '<v1.5.0');
    assert.ok(typeof go !== 'string');
    assert.equal(go.matches('v1.4.9'), true);
    assert.equal(go.matches('v1.5.0'), false);
    const pypi = versionMatcher('pypi', '<2.32,>=2.0');
    assert.ok(typeof pypi !== 'string');
    assert.deepEqual(
      ['1.9', '2.0', '2.31.0', '2.32.0'].map((v) => pypi.matches(v)),
      [false, true, true, false],
    );
    const exact = versionMatcher('pypi', '1.0');
    assert.ok(typeof exact !== 'string');
    assert.equal(exact.matches('1.0.0'), true, 'PEP 440 zero padding');
    const maven = versionMatcher('maven', '1.2.3');
    assert.ok(typeof maven !== 'string');
    assert.equal(maven.matches('1.2.3'), true);
    assert.equal(maven.matches('1.2.4'), false);
    const star = versionMatcher('npm', '*');
    assert.ok(typeof star !== 'string');
    assert.equal(star.matches(undefined), true);
    assert.equal(npm.matches(undefined), false, 'a name-level question matches only "*"');
  });

  test('name patterns: prefix/**, prefix.**, prefix*, *, exact, per registry spelling', () => {
    assert.equal(namePattern('@acme/**').matches('npm', '@acme/tool'), true);
    assert.equal(namePattern('@acme/**').matches('npm', '@acmex/tool'), false);
    assert.equal(namePattern('com.acme.**').matches('maven', 'com.acme:lib'), true);
    assert.equal(namePattern('com.acme.**').matches('maven', 'com.acme.sub:lib'), true);
    assert.equal(namePattern('com.acme.**').matches('maven', 'com.acmex:lib'), false);
    assert.equal(namePattern('acme-*').matches('pypi', 'Acme_Tools'), true);
    assert.equal(namePattern('acme-*').matches('cargo', 'acme_tools'), true);
    assert.equal(namePattern('*').matches('go', 'anything'), true);
    assert.equal(namePattern('My.Pkg').matches('pypi', 'my-pkg'), true);
    assert.equal(namePattern('left-pad').matches('npm', 'left-pad2'), false);
    const scoped = parseInternalNamespace('npm:@corp/**');
    assert.equal(scoped.registry, 'npm');
    assert.equal(
      parseInternalNamespace('com.corp:x').registry,
      '*',
      'maven names keep their colon',
    );
  });
});

describe('engine', () => {
  function engineWith(over: Partial<CurationConfig>, env: NodeJS.ProcessEnv = {}) {
    const lines: string[] = [];
    const metrics = new Metrics();
    const engine = new CurationEngine(loadPolicy(config(over), env, false), metrics, logger(lines));
    return { engine, lines, metrics };
  }

  test("a refusal tells the client the rule's list and number, never the server's file path", async () => {
    await using tmp = await tempDir('nora-cur-');
    const file = path.join(tmp.path, 'block.json');
    await fs.writeFile(file, BLOCKLIST);
    const allow = path.join(tmp.path, 'allow.json');
    await fs.writeFile(
      allow,
      '{"version":1,"entries":[{"registry":"cargo","name":"good","version":"*"}]}',
    );
    const { engine, lines } = engineWith({ blocklist_path: file, allowlist_path: allow });
    for (const subject of [
      { registry: 'npm', name: 'left-pad', version: '1.2.0' },
      { registry: 'cargo', name: 'other', version: '1.0.0' },
    ] as const) {
      assert.throws(
        () => engine.guard(subject),
        (err: unknown) =>
          err instanceof RegistryError &&
          /blocklist rule 1 \(npm left-pad <1\.3\.0\)|the cargo allowlist/.test(err.message) &&
          !err.message.includes(tmp.path),
      );
    }
    // The log line's `curation.source` (and explain) keep where the rule is.
    assert.match(
      engine.decide({ registry: 'npm', name: 'left-pad', version: '1.2.0' }).source ?? '',
      /block\.json:4$/,
    );
    assert.doesNotMatch(lines.join('\n'), new RegExp(tmp.path));
  });

  test('enforce refuses a blocklisted version with 403 and the reason, counts it', async () => {
    await using tmp = await tempDir('nora-cur-');
    const file = path.join(tmp.path, 'block.json');
    await fs.writeFile(file, BLOCKLIST);
    const { engine, metrics } = engineWith({ blocklist_path: file });
    assert.throws(
      () => engine.guard({ registry: 'npm', name: 'left-pad', version: '1.2.0' }),
      (err: unknown) =>
        err instanceof RegistryError &&
        err.status === 403 &&
        /npm left-pad@1\.2\.0 is blocked by curation \(blocklist rule 1 .*\): CVE-1/.test(
          err.message,
        ),
    );
    assert.equal(
      engine.guard({ registry: 'npm', name: 'left-pad', version: '1.3.0' }).decision,
      'allowed',
    );
    assert.equal(engine.hides({ registry: 'pypi', name: 'evil.pkg', version: '1' }), true);
    const text = await metrics.registry.metrics();
    assert.match(
      text,
      /nora_curation_decisions_total\{registry="npm",decision="blocked",reason="blocklist"\} 1/,
    );
    assert.match(
      text,
      /nora_curation_decisions_total\{registry="npm",decision="allowed",reason="none"\} 1/,
    );
  });

  test('audit serves and logs; the bypass token serves in enforce', async () => {
    await using tmp = await tempDir('nora-cur-');
    const file = path.join(tmp.path, 'block.json');
    await fs.writeFile(file, BLOCKLIST);
    const audit = engineWith({ mode: 'audit', blocklist_path: file });
    const verdict = audit.engine.guard({ registry: 'cargo', name: 'bad_crate', version: '0.2.0' });
    assert.equal(verdict.decision, 'audited');
    assert.equal(
      audit.engine.hides({ registry: 'cargo', name: 'bad-crate', version: '0.2.0' }),
      false,
    );
    assert.match(audit.lines.join('\n'), /curation \(audit\): cargo bad_crate@0\.2\.0 is blocked/);
    const { engine } = engineWith(
      { blocklist_path: file },
      { NORA_CURATION_BYPASS_TOKEN: 's3cret' },
    );
    const subject = { registry: 'npm' as const, name: 'left-pad', version: '1.0.0' };
    const keyBefore = engine.viewKey();
    curationRequest.run({ bypassToken: 's3cret' }, () => {
      assert.equal(engine.guard(subject).decision, 'bypassed');
      assert.equal(engine.hides(subject), false);
      assert.notEqual(engine.viewKey(), keyBefore);
    });
    curationRequest.run({ bypassToken: 'wrong' }, () => {
      assert.throws(() => engine.guard(subject), RegistryError);
    });
  });

  test('on_failure: closed refuses every proxied download, open serves', () => {
    const closed = engineWith({ blocklist_path: '/nonexistent/block.json' });
    assert.throws(
      () => closed.engine.guard({ registry: 'pypi', name: 'x', version: '1' }),
      (err: unknown) =>
        err instanceof RegistryError &&
        /policy could not be loaded \(on_failure = "closed"\)/.test(err.message) &&
        // The load error names the server's path: the client never reads it, the log does.
        !/nonexistent|block\.json|ENOENT/.test(err.message),
    );
    assert.match(closed.lines.join('\n'), /every proxied download is refused/);
    // The refusal's log line keeps it (`curation.source`).
    assert.match(
      closed.engine.decide({ registry: 'pypi', name: 'x', version: '1' }).source ?? '',
      /ENOENT.*nonexistent\/block\.json/,
    );
    const open = engineWith({
      blocklist_path: '/nonexistent/block.json',
      on_failure: 'open',
    });
    assert.equal(
      open.engine.guard({ registry: 'pypi', name: 'x', version: '1' }).decision,
      'allowed',
    );
  });

  test('one client request counts (and logs) a decision once, however often a group asks', async () => {
    await using tmp = await tempDir('nora-cur-');
    const file = path.join(tmp.path, 'block.json');
    await fs.writeFile(file, BLOCKLIST);
    const subject = { registry: 'npm', name: 'left-pad', version: '1.2.0' } as const;
    for (const mode of ['enforce', 'audit'] as const) {
      const { engine, lines, metrics } = engineWith({ mode, blocklist_path: file });
      const decision = mode === 'enforce' ? 'blocked' : 'audited';
      const ask = () => {
        try {
          engine.guard(subject);
        } catch (err) {
          if (!(err instanceof RegistryError)) throw err;
        }
      };
      // A group of two proxy members: each member's source asks the gate.
      curationRequest.run({ bypassToken: undefined }, () => {
        ask();
        ask();
      });
      const counted = async () =>
        new RegExp(
          `nora_curation_decisions_total\\{registry="npm",decision="${decision}",reason="blocklist"\\} (\\d+)`,
        ).exec(await metrics.registry.metrics())?.[1];
      assert.equal(await counted(), '1', mode);
      assert.equal(lines.filter((l) => l.includes('left-pad@1.2.0')).length, 1, mode);
      // Another client request counts again; the refusal is still thrown on every ask.
      curationRequest.run({ bypassToken: undefined }, () => {
        if (mode === 'enforce') assert.throws(() => engine.guard(subject), RegistryError);
        ask();
      });
      assert.equal(await counted(), '2', mode);
    }
  });

  test('allowlist: only listed versions of its registries; integrity when required', async () => {
    await using tmp = await tempDir('nora-cur-');
    const file = path.join(tmp.path, 'allow.json');
    await fs.writeFile(
      file,
      JSON.stringify({
        version: 1,
        entries: [
          { registry: 'npm', name: 'ok', version: '^1.0.0' },
          { registry: 'npm', name: 'pinned', version: '2.0.0', integrity: SHA512 },
        ],
      }),
    );
    const { engine } = engineWith({ allowlist_path: file });
    assert.equal(engine.decide({ registry: 'npm', name: 'ok', version: '1.5.0' }).refuse, false);
    assert.equal(
      engine.decide({ registry: 'npm', name: 'ok', version: '2.0.0' }).reason,
      'allowlist',
    );
    assert.equal(engine.decide({ registry: 'npm', name: 'other', version: '1.0.0' }).refuse, true);
    assert.equal(
      engine.decide({ registry: 'pypi', name: 'other', version: '1.0' }).refuse,
      false,
      'pypi has no entries',
    );
    assert.equal(
      engine.decide({ registry: 'npm', name: 'pinned', version: '2.0.0', integrity: 'sha512-bad' })
        .reason,
      'integrity',
    );
    assert.equal(
      engine.decide({ registry: 'npm', name: 'pinned', version: '2.0.0', integrity: SHA512 })
        .refuse,
      false,
    );
    const strict = engineWith({ allowlist_path: file, require_integrity: true });
    assert.equal(
      strict.engine.decide({ registry: 'npm', name: 'ok', version: '1.0.0' }).reason,
      'integrity',
    );
  });

  test('internal namespaces apply in every mode, off included', () => {
    const { engine } = engineWith({
      mode: 'off',
      internal_namespaces: ['npm:@corp/**', 'corp-*'],
    });
    assert.equal(engine.isInternal('npm', '@corp/tool'), true);
    assert.equal(engine.isInternal('pypi', 'corp_tools'), true);
    assert.equal(engine.isInternal('pypi', '@corp/tool'), false);
    assert.equal(
      engine.guard({ registry: 'npm', name: 'x', version: '1.0.0' }).decision,
      'allowed',
    );
  });

  test('a reload that cannot parse a list keeps the running policy and warns with the line', async () => {
    await using tmp = await tempDir('nora-cur-');
    const file = path.join(tmp.path, 'block.json');
    await fs.writeFile(file, BLOCKLIST);
    const { engine, lines } = engineWith({ blocklist_path: file });
    const key = engine.viewKey();
    await fs.writeFile(file, '{\n  "version": 1,\n  "rules": [\n    oops\n  ]\n}\n');
    const error = reloadCuration(engine, config({ blocklist_path: file }), {}, logger(lines));
    assert.match(error ?? '', /block\.json:4: invalid JSON/);
    assert.match(
      lines.join('\n'),
      /curation policy reload failed, keeping the previous policy: .*block\.json:4/,
    );
    assert.equal(engine.viewKey(), key);
    assert.equal(
      engine.decide({ registry: 'npm', name: 'left-pad', version: '1.0.0' }).refuse,
      true,
    );
    await fs.writeFile(file, '{"version":1,"rules":[]}');
    assert.equal(
      reloadCuration(engine, config({ blocklist_path: file }), {}, logger(lines)),
      undefined,
    );
    assert.equal(
      engine.decide({ registry: 'npm', name: 'left-pad', version: '1.0.0' }).refuse,
      false,
    );
    assert.notEqual(engine.viewKey(), key);
  });
});

describe('[curation] config', () => {
  test('enforce without any control is a config error naming the keys', () => {
    assert.throws(
      () => parseConfigObject({ curation: { mode: 'enforce' } }, {}),
      /enforce" needs at least one active control/,
    );
    const { config: loaded } = parseConfigObject(
      {},
      {
        NORA_CURATION_MODE: 'enforce',
        NORA_CURATION_INTERNAL_NS: '@corp/**, com.corp.**',
        NORA_CURATION_ON_FAILURE: 'open',
      },
    );
    assert.equal(loaded.curation.mode, 'enforce');
    assert.equal(loaded.curation.on_failure, 'open');
    assert.deepEqual(loaded.curation.internal_namespaces, ['@corp/**', 'com.corp.**']);
  });
});

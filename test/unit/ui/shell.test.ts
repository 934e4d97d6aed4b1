/**
 * The UI's shell quoting (src/ui/shell.ts) and the dashboard's setup lines that use it: a word
 * survives `bash -c` as one argument, unchanged; skopeo's line turns TLS off for an http URL.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { pipTrustedHost } from '../../../src/formats/pypi/browse.ts';
import { setupLines } from '../../../src/ui/dashboard.ts';
import { shellCommand, shellQuote } from '../../../src/ui/shell.ts';
import { missingTools, run } from '../../helpers/tools.ts';

describe('shellQuote', () => {
  test('plain words stay as they are', () => {
    assert.equal(shellQuote('@scope/pkg@1.0.0'), '@scope/pkg@1.0.0');
    assert.equal(shellQuote('http://127.0.0.1:8080/npm/'), 'http://127.0.0.1:8080/npm/');
  });

  test('anything else is single-quoted, a quote as quote-backslash-quote-quote', () => {
    assert.equal(shellQuote(''), "''");
    assert.equal(shellQuote('a b'), "'a b'");
    assert.equal(shellQuote("it's"), "'it'\\''s'");
  });

  test('bash reads each quoted word back unchanged', { skip: missingTools('bash') }, async () => {
    const words = [`"q' ü $HOME.txt`, '`id`', '*', '~', 'a\nb', "''", '-n', 'x;y|z&', '\\'];
    const ran = await run('bash', ['-c', `printf '%s\\0' ${shellCommand(...words)}`]);
    assert.deepEqual(ran.stdout.split('\0').slice(0, -1), words);
  });
});

describe('dashboard setup lines', () => {
  test('skopeo turns TLS verification off for an http public URL only', () => {
    const http = setupLines('docker', 'http://127.0.0.1:4000').setup.join('\n');
    assert.match(
      http,
      /^skopeo copy --dest-tls-verify=false oci:\.\/layout:v1 docker:\/\/127\.0\.0\.1:4000\/myapp:latest$/m,
    );
    const https = setupLines('docker', 'https://nora.example').setup.join('\n');
    assert.match(https, /^skopeo copy oci:\.\/layout:v1 docker:\/\/nora\.example\/myapp:latest$/m);
  });

  test('pip gets --trusted-host for a plain-http non-loopback URL only (trial 34)', () => {
    const pip = (base: string) =>
      setupLines('pypi', base).setup.find((line) => line.startsWith('pip ')) ?? '';
    assert.equal(
      pip('http://nora.example:4000'),
      'pip install --index-url http://nora.example:4000/simple/ --trusted-host nora.example <package>',
    );
    for (const base of [
      'https://nora.example',
      'http://127.0.0.1:4000',
      'http://127.8.9.10:4000',
      'http://localhost:4000',
      'http://[::1]:4000',
    ]) {
      assert.doesNotMatch(pip(base), /trusted-host/, base);
    }
    assert.deepEqual(pipTrustedHost('http://10.0.0.5:4000/pypi/simple'), [
      '--trusted-host',
      '10.0.0.5',
    ]);
  });
});

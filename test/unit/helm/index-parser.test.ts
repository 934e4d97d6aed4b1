/**
 * The upstream index.yaml parser off the event loop (src/formats/helm/index-parser.ts): a large
 * index goes through the worker and comes back as the same entries the in-thread parse gives;
 * what the in-thread parse refuses (deep nesting, alias bombs, a document that is not an index)
 * is refused with the same error; a worker that runs out of memory or time fails that parse
 * with a clear reason and is replaced for the next; close() and an idle worker never keep the
 * process alive. No timing: a parse is held in the worker through a shared gate (`hold`).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { describe, test } from 'node:test';
import { isRegistryError } from '../../../src/core/errors.ts';
import { UpstreamIndexParser } from '../../../src/formats/helm/index-parser.ts';
import { parseUpstreamIndex } from '../../../src/formats/helm/upstream-index.ts';
import { bigUpstreamIndex } from '../../helpers/helm.ts';

const BASE = 'https://charts.example.org/stable';

/** What a parse threw, comparable across threads. */
function described(err: unknown): { kind: string; code?: string; message: string } {
  assert.ok(err instanceof Error, `not an Error: ${String(err)}`);
  return isRegistryError(err)
    ? { kind: 'RegistryError', code: err.code, message: err.message }
    : { kind: err.constructor.name, message: err.message };
}

function inThread(text: string): unknown {
  try {
    parseUpstreamIndex(text, BASE, 0);
  } catch (err) {
    return described(err);
  }
  assert.fail('the in-thread parse accepted it');
}

async function viaWorker(parser: UpstreamIndexParser, text: string): Promise<unknown> {
  return parser.parse(Buffer.from(text), BASE, 0).then(
    () => assert.fail('the worker accepted it'),
    (err: unknown) => described(err),
  );
}

describe('helm upstream index parser (worker thread)', () => {
  test('a large index goes through the worker and gives the in-thread entries', async () => {
    const text = bigUpstreamIndex(4, 500); // 2,000 versions, ~2.3 MB
    const expected = parseUpstreamIndex(text, BASE, 3);
    assert.equal(expected.charts.length, 2000);
    const parser = new UpstreamIndexParser();
    try {
      const copied = Buffer.from(text);
      assert.deepEqual(await parser.parse(copied, BASE, 3), expected);
      assert.equal(parser.workersStarted, 1);
      assert.equal(copied.byteLength, Buffer.byteLength(text), 'not transferred: still readable');
      // Transferred: the caller's Buffer is detached, the result the same, the worker reused.
      const handed = Buffer.from(text);
      assert.deepEqual(await parser.parse(handed, BASE, 3, { transfer: true }), expected);
      assert.equal(handed.byteLength, 0);
      assert.equal(parser.workersStarted, 1);
    } finally {
      await parser.close();
    }
  });

  test('a small index is parsed in place: no worker', async () => {
    const parser = new UpstreamIndexParser();
    try {
      const text = bigUpstreamIndex(1, 2);
      assert.deepEqual(
        await parser.parse(Buffer.from(text), BASE, 0),
        parseUpstreamIndex(text, BASE, 0),
      );
      assert.equal(parser.workersStarted, 0);
    } finally {
      await parser.close();
    }
  });

  test('hostile and non-index documents: the in-thread error, and the next parse works', async () => {
    const parser = new UpstreamIndexParser({ inlineMaxBytes: 0 });
    try {
      const bomb = [
        'a: &a [x, x, x, x, x, x, x, x, x, x]',
        ...Array.from({ length: 9 }, (_, i) => {
          const prev = i === 0 ? 'a' : `l${i - 1}`;
          return `l${i}: &l${i} [${Array.from({ length: 10 }, () => `*${prev}`).join(', ')}]`;
        }),
        'entries: *l8',
      ].join('\n');
      // Block mappings nested 3,000 levels (4.5 MB): past the `yaml` parser's recursion on the
      // main thread's stack (it gives out at 1,000-2,000 levels, with the JIT's state), and so on
      // the worker's, which has the same size (with Node's default 4 MiB it parsed).
      const deepBlock = ['entries:'];
      for (let i = 1; i <= 3000; i++) deepBlock.push(`${' '.repeat(i)}a${i}:`);
      deepBlock.push(`${' '.repeat(3001)}x`);
      const hostile = [
        deepBlock.join('\n'),
        `entries: ${'['.repeat(200)}${']'.repeat(200)}`, // nested past MAX_YAML_DEPTH
        `entries:\n  x: ${'- '.repeat(100)}1`, // block nesting on one line
        bomb, // billion laughs: past maxAliasCount
        'entries: [unclosed',
        '[]', // not a mapping
        'entries: 42',
      ];
      for (const text of hostile) {
        const expected = inThread(text);
        assert.deepEqual(await viaWorker(parser, text), expected, text.slice(0, 40));
      }
      assert.match(
        JSON.stringify(await viaWorker(parser, bomb)),
        /index\.yaml is not valid YAML: .*alias/i,
      );
      const ok = bigUpstreamIndex(1, 3);
      assert.deepEqual(
        await parser.parse(Buffer.from(ok), BASE, 0),
        parseUpstreamIndex(ok, BASE, 0),
      );
      assert.equal(parser.workersStarted, 1, 'a refused document does not cost the worker');
    } finally {
      await parser.close();
    }
  });

  test('a worker out of memory fails that parse clearly; the next one gets a new worker', async () => {
    // 32 MiB: the worker's modules take ~13 MiB, a 2.3 MB index ~80 MiB more, a 3-entry one ~0.
    const parser = new UpstreamIndexParser({ inlineMaxBytes: 0, maxOldGenerationMb: 32 });
    try {
      await assert.rejects(parser.parse(Buffer.from(bigUpstreamIndex(4, 500)), BASE, 0), {
        message: 'parsing it needs more than 32 MiB of memory (the parser was stopped)',
      });
      const ok = bigUpstreamIndex(1, 3);
      assert.deepEqual(
        await parser.parse(Buffer.from(ok), BASE, 0),
        parseUpstreamIndex(ok, BASE, 0),
      );
      assert.equal(parser.workersStarted, 2);
    } finally {
      await parser.close();
    }
  });

  test('a parse past the time bound fails and its worker is replaced', async () => {
    // The gate stays shut, so the first parse cannot end before its time bound; the bound counts
    // from when the worker took the task (after its start), and a 3-entry parse needs ~1 ms of it.
    const hold = new Int32Array(new SharedArrayBuffer(8));
    const parser = new UpstreamIndexParser({ inlineMaxBytes: 0, timeoutMs: 2000, hold });
    try {
      const ok = bigUpstreamIndex(1, 3);
      await assert.rejects(parser.parse(Buffer.from(ok), BASE, 0), {
        message: 'parsing it took longer than 2 s (the parser was stopped)',
      });
      Atomics.store(hold, 0, 1); // open the gate
      assert.deepEqual(
        await parser.parse(Buffer.from(ok), BASE, 0),
        parseUpstreamIndex(ok, BASE, 0),
      );
      assert.equal(parser.workersStarted, 2);
    } finally {
      await parser.close();
    }
  });

  test('close(): running and queued parses reject, later ones too', async () => {
    const hold = new Int32Array(new SharedArrayBuffer(8));
    const parser = new UpstreamIndexParser({ inlineMaxBytes: 0, hold });
    const text = Buffer.from(bigUpstreamIndex(1, 3));
    const running = assert.rejects(parser.parse(text, BASE, 0), {
      message: 'the server is closing',
    });
    const queued = assert.rejects(parser.parse(text, BASE, 0), {
      message: 'the server is closing',
    });
    const started = Atomics.waitAsync(hold, 1, 0);
    if (started.async) await started.value;
    await parser.close();
    await running;
    await queued;
    await assert.rejects(parser.parse(text, BASE, 0), { message: 'the server is closing' });
  });

  test('an idle worker does not keep the process alive', async () => {
    // A process that parses through the worker and then has nothing left to do must exit by
    // itself (the worker is unref'd while idle), long before the worker's idle stop.
    const script = [
      "import { UpstreamIndexParser } from './src/formats/helm/index-parser.ts';",
      "import { bigUpstreamIndex } from './test/helpers/helm.ts';",
      'const parser = new UpstreamIndexParser({ inlineMaxBytes: 0, idleMs: 3_600_000 });',
      "const parsed = await parser.parse(Buffer.from(bigUpstreamIndex(2, 5)), 'https://x.example/', 0);",
      'process.stdout.write(`${parsed.charts.length} ${parser.workersStarted}\\n`);',
    ].join('\n');
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
      cwd: new URL('../../../', import.meta.url),
      stdio: ['ignore', 'pipe', 'inherit'],
      // A bound, not a measurement: the child needs ~1 s; a hung one is killed and fails.
      signal: AbortSignal.timeout(60_000),
    });
    child.on('error', () => undefined); // the abort; the exit code below says it
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    assert.equal(code, 0);
    assert.equal(out.trim(), '10 1');
  });
});

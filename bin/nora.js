#!/usr/bin/env -S node --max-semi-space-size=4
/* global process */
// First of all — `nora serve` (the default verb): a SIGHUP while the sources load would end the
// process (Node's default action, exit 129, nothing logged). It is held from here, in plain
// JavaScript before any import (the first TypeScript import alone takes 0.25-0.3 s: trial 19
// authx F2), until the server's reload handler is in place; the shape is shared with
// src/early-reload.ts, which hands the held signal to the server.
{
  const verb = process.argv.slice(2).find((arg) => !arg.startsWith('-'));
  if (verb === undefined || verb === 'serve') {
    const held = { pending: false, listener: () => (held.pending = true) };
    globalThis[Symbol.for('nora.earlySighup')] = held;
    process.on('SIGHUP', held.listener);
  }
}
// Entry point for `nora` / `npx nora`. The V8 flag (also in `npm start` and
// test/helpers/process.ts NODE_FLAGS) keeps the young generation small: request bodies arrive as
// 64 KiB buffers whose memory is returned only when a scavenge runs, so frequent small scavenges
// keep RSS flat under upload load (peak 186 -> 169 MB pushing 512 MiB, see docs/performance.md).
// NORA runs its TypeScript sources directly with Node 24's
// type stripping; `npm ci` installs Node 24 for the project's scripts.
const major = Number(process.versions.node.split('.')[0]);
if (major < 24) {
  process.stderr.write(
    `nora: Node.js >= 24 is required (this is ${process.version}). Run it through npm ` +
      '(`npm start`, `npx nora` in the checkout) after `npm ci`, which brings Node 24 into ' +
      'node_modules/.bin; from elsewhere: <checkout>/node_modules/.bin/node <checkout>/bin/nora.js.\n',
  );
  process.exit(2);
}
// libuv's thread pool (file-system calls, DNS lookups, hashing off-thread) has 4 threads unless
// told otherwise, and every fsync holds one for milliseconds: 16 concurrent uploads queued their
// fsyncs 4 at a time. The pool starts on first use, so this must run before any I/O. An
// operator's own UV_THREADPOOL_SIZE wins. See docs/performance.md (raw PUT).
process.env.UV_THREADPOOL_SIZE ??= '16';
// undici parses every upstream response with llhttp (WebAssembly): V8 compiles it fast (Liftoff),
// then re-compiles its hot functions with TurboFan, which for llhttp's one huge parser function
// costs 0.1-0.2 s of CPU and a 24 MB compiler zone on V8's worker threads
// (--trace-wasm-compilation-times), i.e. in the middle of the first cold fills after a start
// (measured: a cold `go mod download` of 52 files, NORA's CPU 0.55 -> 0.30 s; half of it was that
// compile). A budget ~150x V8's default (13e6 "bytes executed" per function) holds it off for
// small answers; a tier-up filter below stops it for good. Set before undici compiles llhttp (at
// its first connection); an operator's own flag wins.
if (!process.execArgv.some((flag) => flag.startsWith('--wasm-tiering-budget'))) {
  const { setFlagsFromString } = await import('node:v8');
  setFlagsFromString('--wasm-tiering-budget=2000000000');
}
// `nora serve`: process.nextTick is optimised (TurboFan) while NORA's sources load, from the
// ticks of that start, whose mix leaves its `{ [async_id_symbol]: …, callback, args }` literal
// without usable feedback: the optimised code then defined each field through a V8 runtime call
// (Runtime_DefineKeyedOwnPropertyInLiteral), 5-6% of the CPU of every answer-memo hit, where a
// bare node:http server has none (perf, docs/performance.md "Memo hit: the hit's own frames").
// A chain of like ticks first gets it optimised on uniform feedback (~20 ms of CPU at start;
// 10,000 ticks were too few for V8 to optimise it).
if (globalThis[Symbol.for('nora.earlySighup')] !== undefined) {
  await new Promise((resolve) => {
    let left = 20_000;
    const tick = () => {
      if (--left > 0) process.nextTick(tick);
      else resolve(undefined);
    };
    process.nextTick(tick);
  });
}
// Cache compiled bytecode across starts (os.tmpdir()/node-compile-cache): ~40% faster start.
const { enableCompileCache } = await import('node:module');
enableCompileCache?.();
// A plain `nora`, `nora serve` or `nora serve -c FILE` starts the server without loading the
// rest of the command line (src/main.ts: commander and ~60 modules of the other commands, ~3 MB
// of a server's idle memory); every other argument list goes through src/main.ts.
const argv = process.argv.slice(2);
const { plainServeOptions, serveMain } = await import('../src/serve-command.ts');
const serveOptions = plainServeOptions(argv);
const { main } = serveOptions === undefined ? await import('../src/main.ts') : {};
// The budget does not hold the tier-up off when bodies are large: a cold `cargo fetch` of 117
// crates (10 MB of bodies) still set it off, 0.1 s of that round's ~0.9 s of CPU. And the tier-up
// buys nothing: with perf, llhttp's own code is ~0.2% of the CPU of an undici loop fetching 625 KB
// bodies from nginx, in Liftoff and TurboFan code alike (bodies pass as spans). So no wasm function
// is tiered up: the filter names a function index no module has. Set after the sources are
// loaded, so Node's TypeScript stripping (WebAssembly too) keeps the tiering it had; an operator's
// own flag wins. See docs/performance.md (cold fills, 2026-12-03).
if (!process.execArgv.some((flag) => flag.startsWith('--wasm-tier-up-filter'))) {
  const { setFlagsFromString } = await import('node:v8');
  setFlagsFromString('--wasm-tier-up-filter=2147483647');
}
if (main !== undefined) await main(argv);
else await serveMain(argv, serveOptions ?? {});

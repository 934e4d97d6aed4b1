#!/usr/bin/env -S node --max-semi-space-size=4
/* global process */
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
// costs ~0.2 s of CPU on V8's worker threads after a few dozen responses, i.e. in the middle of the
// first cold fills after a start (measured: a cold `go mod download` of 52 files, NORA's CPU 0.55
// -> 0.30 s; half of it was that compile). A budget ~150x V8's default (13e6 "bytes executed" per
// function) still optimizes it on a server that keeps proxying, once it has paid for itself.
// Set before undici compiles llhttp (at its first connection); an operator's own flag wins.
if (!process.execArgv.some((flag) => flag.startsWith('--wasm-tiering-budget'))) {
  const { setFlagsFromString } = await import('node:v8');
  setFlagsFromString('--wasm-tiering-budget=2000000000');
}
// Cache compiled bytecode across starts (os.tmpdir()/node-compile-cache): ~40% faster start.
const { enableCompileCache } = await import('node:module');
enableCompileCache?.();
const { main } = await import('../src/main.ts');
await main(process.argv.slice(2));

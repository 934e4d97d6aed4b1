/**
 * A SIGHUP that arrives while `nora serve` is still starting (loading its sources and opening
 * storage takes seconds): without a listener, Node's default action ends the process, silently
 * (exit 129; trial 18 authx F10) — a `systemctl reload` right after `start`, or a logrotate
 * postrotate, killed the server. bin/nora.js holds such signals from its very first statement, in
 * plain JavaScript: the first TypeScript import alone takes 0.25-0.3 s (Node initialises its type
 * stripper on it), and a hold installed from here left that window open (trial 19 authx F2). The
 * server takes the held signal once its own reload handler is in place (server.ts) and reloads
 * once: the file may have changed after the start read it.
 *
 * The hold is shared with bin/nora.js through a global registered under
 * `Symbol.for('nora.earlySighup')`: `{ pending: boolean, listener: () => void }`.
 */
interface EarlySighup {
  pending: boolean;
  listener: () => void;
}

const KEY = Symbol.for('nora.earlySighup');

function state(): EarlySighup | undefined {
  return (globalThis as Record<symbol, EarlySighup | undefined>)[KEY];
}

/** Removes the placeholder; true when a SIGHUP arrived while it was in place. */
export function takeHeldReload(): boolean {
  const held = state();
  if (held === undefined) return false;
  process.off('SIGHUP', held.listener);
  (globalThis as Record<symbol, EarlySighup | undefined>)[KEY] = undefined;
  return held.pending;
}

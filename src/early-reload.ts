/**
 * A SIGHUP that arrives while `nora serve` is still starting (loading its sources and opening
 * storage takes seconds): without a listener, Node's default action ends the process, silently
 * (exit 129; trial 18 authx F10) — a `systemctl reload` right after `start`, or a logrotate
 * postrotate, killed the server. bin/nora.js holds such signals from its first line; the server
 * takes them once its own reload handler is in place (server.ts) and reloads once: the file may
 * have changed after the start read it.
 */
let pending = false;

const hold = (): void => {
  pending = true;
};

/** Installs the placeholder SIGHUP listener (before any slow import). */
export function holdReloadsUntilReady(): void {
  process.on('SIGHUP', hold);
}

/** Removes the placeholder; true when a SIGHUP arrived while it was in place. */
export function takeHeldReload(): boolean {
  process.off('SIGHUP', hold);
  const held = pending;
  pending = false;
  return held;
}

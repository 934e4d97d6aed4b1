/**
 * Where a full disk (ENOSPC, EDQUOT) was met, for whoever watches a storage (storage/free-space.ts
 * StorageSpace): storageFault (core/errors.ts), the one mapping of storage errors to answers,
 * reports each one here. Core does not import storage: listeners register themselves.
 */
type Listener = (path: string | undefined) => void;

const listeners = new Set<Listener>();

/** Calls `listener` with the path of every full-disk error met (undefined when it has none). */
export function onDiskFull(listener: Listener): () => void {
  listeners.add(listener);
  return () => {
    listeners.delete(listener);
  };
}

/** Reports a full-disk error to the listeners. */
export function noteDiskFull(err: unknown): void {
  const at = (err as { path?: unknown }).path;
  for (const listener of listeners) listener(typeof at === 'string' ? at : undefined);
}

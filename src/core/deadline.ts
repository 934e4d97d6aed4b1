/**
 * A wait bounded by a deadline: what `promise` settles to, or `late` once `ms` (milliseconds)
 * have gone by first (the timer is cleared either way; `promise` itself goes on). A rejection
 * of `promise` rejects the wait, as awaiting it would. `options.unref`: the timer does not keep
 * the process alive on its own (for waits during shutdown or in the background, where nothing
 * should outlive the server because of them).
 */
export async function raceDeadline<T, L>(
  promise: Promise<T>,
  ms: number,
  late: L,
  options?: { readonly unref?: boolean },
): Promise<T | L> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<L>((resolve) => {
    timer = setTimeout(() => {
      resolve(late);
    }, ms);
    if (options?.unref === true) timer.unref();
  });
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

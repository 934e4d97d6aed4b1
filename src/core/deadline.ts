/**
 * A wait bounded by a deadline: what `promise` settles to, or `late` once `ms` have gone by
 * first (the timer is cleared either way; `promise` itself goes on). A rejection of `promise`
 * rejects the wait, as awaiting it would.
 */
export async function raceDeadline<T, L>(promise: Promise<T>, ms: number, late: L): Promise<T | L> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<L>((resolve) => {
    timer = setTimeout(() => {
      resolve(late);
    }, ms);
  });
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The one freshness rule for mutable metadata (tags, packuments, index pages…):
 * TTL -1 = fresh forever, 0 = revalidate on every use, >0 = fresh for that many seconds.
 */
export function isFresh(fetchedAt: number, ttlSeconds: number, now: number = Date.now()): boolean {
  if (ttlSeconds < 0) return true;
  if (ttlSeconds === 0) return false;
  return now - fetchedAt < ttlSeconds * 1000;
}

/**
 * Free space of a local storage directory, for /health (trial 25 ops F10: on a nearly full disk
 * every realistic upload answered 507 while /health, whose write probe stores one byte, said
 * healthy). Two signals: the disk is nearly full (statfs: less than LOW_SPACE_FRACTION of the
 * file system free, at most LOW_SPACE_MAX_BYTES; uploads have no threshold of their own, they fail
 * on ENOSPC/EDQUOT), and a write under the storage met a full disk (StorageSpace, kept until that
 * much space more is free again).
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { onDiskFull } from '../core/disk-full.ts';

/** At most this much free counts as nearly full (a big disk): 256 MiB. */
export const LOW_SPACE_MAX_BYTES = 256 * 1024 * 1024;
/** Or this share of the file system, when smaller (a small volume is not always "full"). */
export const LOW_SPACE_FRACTION = 0.1;

export interface FreeSpace {
  /** Bytes this process may still write (statfs `bavail`: root's reserved blocks left out). */
  readonly free: number;
  /** Size of the file system, bytes. */
  readonly total: number;
}

/** statfs of `dir`: its file system's free and total bytes. Throws the errno error. */
export async function freeSpaceOf(dir: string): Promise<FreeSpace> {
  const stats = await fs.statfs(dir);
  return { free: stats.bavail * stats.bsize, total: stats.blocks * stats.bsize };
}

/** The free bytes below which a file system of `total` bytes is nearly full. */
export function lowSpaceThreshold(total: number): number {
  return Math.min(LOW_SPACE_MAX_BYTES, Math.floor(total * LOW_SPACE_FRACTION));
}

/**
 * Why `space` is nearly full (`/health`'s `storage.low_space`), e.g. `128 KiB free of 4 MiB,
 * below 204.8 KiB (5% of the file system, at most 64 MiB)`; undefined when it is not.
 */
export function lowSpaceReason(space: FreeSpace): string | undefined {
  const threshold = lowSpaceThreshold(space.total);
  if (space.free >= threshold) return undefined;
  return `${bytes(space.free)} free of ${bytes(space.total)}, below ${bytes(threshold)} (${String(LOW_SPACE_FRACTION * 100)}% of the file system, at most ${bytes(LOW_SPACE_MAX_BYTES)})`;
}

function bytes(n: number): string {
  const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0
    ? `${String(n)} bytes`
    : `${String(Math.round(value * 10) / 10)} ${units[unit] ?? ''}`;
}

/** What /health reports of the storage's disk. */
export interface SpaceState extends FreeSpace {
  /** A write under the storage met ENOSPC/EDQUOT, and not that much more room is free since. */
  readonly full: boolean;
}

/**
 * The disk of a local storage directory: statfs, and whether a write under it met a full disk
 * (reported by core/errors.ts storageFault through core/disk-full.ts). That is remembered until
 * the free space is above what it was then by the nearly-full threshold (lowSpaceThreshold): an
 * upload refused 507 says nothing about how much room the next one needs, and a one-byte write
 * probe passes on a disk that refuses every real upload.
 */
export class StorageSpace {
  readonly #dir: string;
  readonly #statfs: (dir: string) => Promise<FreeSpace>;
  /** Free bytes when the full disk was met (Infinity until statfs answers); undefined: none. */
  #fullAt: number | undefined;
  readonly #stop: () => void;

  constructor(dir: string, statfs: (dir: string) => Promise<FreeSpace> = freeSpaceOf) {
    this.#dir = path.resolve(dir);
    this.#statfs = statfs;
    this.#stop = onDiskFull((at) => {
      // An error with no path (a write on an open descriptor) may be ours: counted.
      if (at === undefined || at === this.#dir || at.startsWith(this.#dir + path.sep)) {
        this.noteFull();
      }
    });
  }

  /** A write under the storage met a full disk. */
  noteFull(): void {
    this.#fullAt = Infinity;
    this.#statfs(this.#dir).then(
      (space) => {
        if (this.#fullAt !== undefined) this.#fullAt = Math.min(this.#fullAt, space.free);
      },
      () => undefined,
    );
  }

  /** statfs now, and whether the disk is still counted full. Throws statfs's error. */
  async state(): Promise<SpaceState> {
    const space = await this.#statfs(this.#dir);
    if (
      this.#fullAt !== undefined &&
      space.free >= this.#fullAt + Math.max(1, lowSpaceThreshold(space.total))
    ) {
      this.#fullAt = undefined;
    }
    return { ...space, full: this.#fullAt !== undefined };
  }

  /** Stops listening for full-disk errors (the server closes). */
  close(): void {
    this.#stop();
  }
}

/**
 * Regions of an Arena handed out one after another (decoding contexts) and given back in any order.
 *
 * The arena is a bump allocator: it can only release its top. A region given back while a later one is
 * still live is marked free and its memory is reclaimed once every region above it is free too, so
 * disposing contexts out of creation order never frees memory another context still uses. If something
 * else was allocated above a region (an adapter, a trainer), that region's memory stays reserved: a
 * leak of scratch, never a use after free.
 */
import type { Arena } from "./arena.js";

export interface Region {
  readonly start: number;
  readonly end: number;
}

interface Entry extends Region {
  free: boolean;
}

export class ArenaRegions {
  private readonly live: Entry[] = [];

  constructor(private readonly arena: Arena) {}

  /**
   * Runs `alloc` (which allocates from the arena) as one region. When it throws, whatever it allocated
   * is released (if nothing else was allocated above it meanwhile) and the error propagates.
   */
  carve<T>(alloc: () => T): { value: T; region: Region } {
    const start = this.arena.mark();
    let value: T;
    try {
      value = alloc();
    } catch (e) {
      this.arena.reset(start);
      throw e;
    }
    const region: Entry = { start, end: this.arena.mark(), free: false };
    this.live.push(region);
    return { value, region };
  }

  /** Gives a region back (a second call is a no-op); memory returns to the arena as described above. */
  release(region: Region): void {
    const entry = this.live.find((r) => r === region);
    if (!entry || entry.free) return;
    entry.free = true;
    while (this.live.length > 0) {
      const top = this.live[this.live.length - 1];
      if (!top.free || this.arena.mark() !== top.end) break;
      this.arena.reset(top.start);
      this.live.pop();
    }
  }

  /** Regions not yet given back. */
  get count(): number {
    return this.live.filter((r) => !r.free).length;
  }
}

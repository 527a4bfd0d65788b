/**
 * Counts open channels on one connection. OpenSSH refuses channels beyond MaxSessions (10 by
 * default) with "Channel open failure", so we queue instead of failing.
 */
export class Semaphore {
  private active = 0;
  private readonly waiting: Array<() => void> = [];
  /** Highest number of holders seen at once (tests assert it never exceeds the limit). */
  peak = 0;

  constructor(readonly limit: number) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`semaphore limit must be a positive integer, got ${limit}`);
  }

  get inUse(): number {
    return this.active;
  }

  /** Resolves with a release function once a slot is free. Release is idempotent. */
  async acquire(): Promise<() => void> {
    if (this.active >= this.limit) {
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    } else {
      this.active++;
    }
    this.peak = Math.max(this.peak, this.active);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiting.shift();
      // Hand the slot straight to the next waiter: active stays the same.
      if (next) next();
      else this.active--;
    };
  }
}

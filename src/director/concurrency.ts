/**
 * Small async helpers. Written by hand because the director must run on Node 18
 * (no AbortSignal.any) and must not depend on node_modules at run time.
 */

export type Settled<T> = { ok: true; value: T } | { ok: false; error: unknown };

/**
 * Runs fn over items with at most `limit` in flight and waits for every started call to settle
 * (a phase never moves on while one of its calls is still running). After `stop()` returns
 * true, items not yet started are skipped and reported as undefined.
 */
export async function mapLimit<I, T>(
  items: readonly I[],
  limit: number,
  fn: (item: I) => Promise<T>,
  stop: () => boolean = () => false,
): Promise<Array<Settled<T> | undefined>> {
  const results: Array<Settled<T> | undefined> = new Array(items.length).fill(undefined);
  let next = 0;
  const worker = async () => {
    while (next < items.length && !stop()) {
      const index = next++;
      try {
        results[index] = { ok: true, value: await fn(items[index] as I) };
      } catch (error) {
        results[index] = { ok: false, error };
      }
    }
  };
  const workers = Math.max(1, Math.min(limit, items.length));
  await Promise.all(Array.from({ length: workers }, worker));
  return results;
}

export interface LinkedSignal {
  signal: AbortSignal;
  /** (Re)starts the deadline: abort `ms` from now, replacing any earlier deadline; undefined: none. */
  arm(ms: number | undefined): void;
  /** Clears the timer; call when the guarded work is over. */
  dispose(): void;
}

/**
 * A signal that aborts when the parent aborts or after `ms` (if given), whichever comes first.
 * The abort reason says which (`'deadline'` or the parent's reason).
 */
export function linkedSignal(parent: AbortSignal | undefined, ms?: number): LinkedSignal {
  const controller = new AbortController();
  const onParent = () => controller.abort(parent?.reason);
  if (parent?.aborted) controller.abort(parent.reason);
  else parent?.addEventListener('abort', onParent, { once: true });
  let timer: ReturnType<typeof setTimeout> | undefined;
  const arm = (after: number | undefined) => {
    if (timer !== undefined) clearTimeout(timer);
    timer = after === undefined ? undefined : setTimeout(() => controller.abort('deadline'), after);
    timer?.unref?.();
  };
  arm(ms);
  return {
    signal: controller.signal,
    arm,
    dispose: () => {
      arm(undefined);
      parent?.removeEventListener('abort', onParent);
    },
  };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

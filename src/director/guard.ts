import type { Context } from './context';
import { acquireLock, type Lock } from './lock';

/** Holds the director's lock around fn; warns when a stale lock of a dead run was taken over. */
export async function withLock<T>(ctx: Context, command: string, fn: (lock: Lock) => Promise<T>): Promise<T> {
  const lock = acquireLock(
    ctx.state,
    { pid: ctx.pid, command, startedAt: new Date(ctx.now()).toISOString(), director: ctx.plan.director },
    ctx.alive,
  );
  if (lock.tookOverFrom) {
    const old = lock.tookOverFrom;
    ctx.report.warn('lock', `took over a stale lock: pid ${old.pid} (${old.command}, started ${old.startedAt}) is gone`);
  }
  try {
    return await fn(lock);
  } finally {
    lock.release();
  }
}

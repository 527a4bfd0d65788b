/**
 * One lock file in the state dir, held by perform_backup, restores and the docker commands
 * that change state. Created with link(2) so that creation is atomic (O_EXCL semantics even on
 * odd filesystems). A lock whose pid is dead is stale: it is taken over with a warning, by
 * renaming it aside first so that of two runs racing for a stale lock only one wins.
 */
import { linkSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { LockHeldError, type LockHolder } from './errors';
import type { StateStore } from './state';

export interface Lock {
  holder: LockHolder;
  /** The stale holder this lock replaced, if any (the caller warns and cleans up after it). */
  tookOverFrom?: LockHolder;
  release(): void;
}

export function pidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: the process exists but belongs to someone else — still alive.
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readHolder(path: string): LockHolder | undefined {
  try {
    const value = JSON.parse(readFileSync(path, 'utf8')) as LockHolder;
    return typeof value.pid === 'number' ? value : { pid: -1, command: 'unknown', startedAt: 'unknown' };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    // Unparseable lock (crash mid-write): treat as stale.
    return { pid: -1, command: 'unreadable lock file', startedAt: 'unknown' };
  }
}

function unlinkQuiet(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // already gone
  }
}

export function acquireLock(state: StateStore, holder: LockHolder, alive: (pid: number) => boolean = pidAlive): Lock {
  state.ensure();
  const path = state.lockPath;
  const tmp = `${path}.${holder.pid}.tmp`;
  let tookOverFrom: LockHolder | undefined;
  for (let attempt = 0; attempt < 5; attempt++) {
    writeFileSync(tmp, `${JSON.stringify(holder)}\n`, { mode: 0o600 });
    try {
      linkSync(tmp, path);
      unlinkQuiet(tmp);
      return {
        holder,
        tookOverFrom,
        release: () => {
          // Only remove the lock if it is still ours.
          if (readHolder(path)?.pid === holder.pid) unlinkQuiet(path);
        },
      };
    } catch (e) {
      unlinkQuiet(tmp);
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    const current = readHolder(path);
    if (current === undefined) continue; // released meanwhile: try again
    if (alive(current.pid)) throw new LockHeldError(current, path);
    const aside = `${path}.stale.${holder.pid}`;
    try {
      renameSync(path, aside);
    } catch {
      continue; // someone else moved it first
    }
    const moved = readHolder(aside);
    if (moved !== undefined && alive(moved.pid)) {
      // We raced and moved a fresh, live lock: put it back (link fails if yet another run took it).
      try {
        linkSync(aside, path);
      } catch {
        // the newer lock stays
      }
      unlinkQuiet(aside);
      throw new LockHeldError(moved, path);
    }
    unlinkQuiet(aside);
    tookOverFrom = moved ?? current;
  }
  throw new LockHeldError(readHolder(path) ?? { pid: -1, command: 'unknown', startedAt: 'unknown' }, path);
}

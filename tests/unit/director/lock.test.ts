import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { LockHeldError } from '../../../src/director/errors';
import { acquireLock, pidAlive } from '../../../src/director/lock';
import { StateStore } from '../../../src/director/state';

const dirs: string[] = [];
function store(): StateStore {
  const d = mkdtempSync(join(tmpdir(), 'sbdi-lock-'));
  dirs.push(d);
  return new StateStore(join(d, 'state'));
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const DEAD = 4_194_304 + 99;
const me = (command = 'perform_backup') => ({ pid: process.pid, command, startedAt: 'now' });

describe('lock', () => {
  it('is exclusive while held and free after release', () => {
    const s = store();
    const lock = acquireLock(s, me());
    expect(existsSync(s.lockPath)).toBe(true);
    expect(() => acquireLock(s, { pid: process.ppid, command: 'x', startedAt: 'y' })).toThrow(LockHeldError);
    lock.release();
    expect(existsSync(s.lockPath)).toBe(false);
    acquireLock(s, me()).release();
    expect(readdirSync(s.dir)).toEqual(['runs']);
  });

  it('names the live holder', () => {
    const s = store();
    s.ensure();
    writeFileSync(s.lockPath, JSON.stringify({ pid: process.ppid, command: 'restore_backup 20240101_000000', startedAt: '2024-01-01T00:00:00Z' }));
    try {
      acquireLock(s, me());
      throw new Error('expected LockHeldError');
    } catch (e) {
      expect(e).toBeInstanceOf(LockHeldError);
      expect((e as LockHeldError).holder.pid).toBe(process.ppid);
      expect((e as Error).message).toMatch(/pid \d+, command restore_backup 20240101_000000, started 2024-01-01T00:00:00Z/);
    }
  });

  it('takes over a stale lock (dead pid, or unreadable) and says whose', () => {
    for (const content of [JSON.stringify({ pid: DEAD, command: 'perform_backup', startedAt: 'then' }), '{garbage']) {
      const s = store();
      s.ensure();
      writeFileSync(s.lockPath, content);
      const lock = acquireLock(s, me());
      expect(lock.tookOverFrom).toBeDefined();
      lock.release();
      expect(readdirSync(s.dir)).toEqual(['runs']);
    }
  });

  it('release does not remove a lock that is no longer ours', () => {
    const s = store();
    const lock = acquireLock(s, me());
    writeFileSync(s.lockPath, JSON.stringify({ pid: process.ppid, command: 'other', startedAt: 'x' }));
    lock.release();
    expect(existsSync(s.lockPath)).toBe(true);
  });

  it('pidAlive', () => {
    expect(pidAlive(process.pid)).toBe(true);
    expect(pidAlive(DEAD)).toBe(false);
    expect(pidAlive(-1)).toBe(false);
  });
});

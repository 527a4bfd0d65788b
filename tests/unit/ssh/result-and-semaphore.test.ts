import { describe, expect, it } from 'vitest';
import { Semaphore, commandLine, parseResultLine } from '../../../src/ssh';

describe('parseResultLine', () => {
  it('takes only the last non-empty line', () => {
    expect(parseResultLine('noise\nSBDI-RESULT {"ok":true,"n":1}\n\n')).toEqual({ ok: true, n: 1 });
    expect(parseResultLine('SBDI-RESULT {"ok":true}\nlater noise\n')).toBeUndefined();
    expect(parseResultLine('SBDI-RESULT not json\n')).toBeUndefined();
    expect(parseResultLine('SBDI-RESULT [1]\n')).toBeUndefined();
    expect(parseResultLine('')).toBeUndefined();
    expect(parseResultLine('SBDI-RESULT {"ok":false}\r\n')).toEqual({ ok: false });
  });
});

describe('commandLine', () => {
  it('builds capsule [arg] and refuses anything shell-like', () => {
    expect(commandLine('h', 'commit_backup', '20240101_000000')).toBe('commit_backup 20240101_000000');
    expect(commandLine('h', 'receive_backup', 'manager-1@+docker')).toBe('receive_backup manager-1@+docker');
    expect(() => commandLine('h', 'ls -l')).toThrow(/refusing/);
    expect(() => commandLine('h', 'x', '$(id)')).toThrow(/refusing/);
    expect(() => commandLine('h', 'x', '-rf')).toThrow(/refusing/);
  });
});

describe('Semaphore', () => {
  it('never exceeds its limit and serves waiters in order', async () => {
    const s = new Semaphore(2);
    const order: number[] = [];
    await Promise.all(
      Array.from({ length: 6 }, async (_, i) => {
        const release = await s.acquire();
        order.push(i);
        expect(s.inUse).toBeLessThanOrEqual(2);
        await new Promise((r) => setTimeout(r, 5));
        release();
        release(); // idempotent
      }),
    );
    expect(order).toEqual([0, 1, 2, 3, 4, 5]);
    expect(s.peak).toBe(2);
    expect(s.inUse).toBe(0);
  });
});

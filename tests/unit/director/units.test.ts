import { describe, expect, it } from 'vitest';
import { linkedSignal, mapLimit } from '../../../src/director/concurrency';
import { formatAge, formatBytes, formatDuration, renderTable } from '../../../src/director/format';
import { backupIdAt, backupIdTime } from '../../../src/director/ids';
import { canonicalJson, pauseWindow, snapshotsInside } from '../../../src/director/manifest';
import { Reporter } from '../../../src/director/reporter';

describe('ids', () => {
  it('formats in UTC and parses back', () => {
    const t = Date.UTC(2024, 0, 2, 3, 4, 5);
    expect(backupIdAt(t)).toBe('20240102_030405');
    expect(backupIdTime('20240102_030405')).toBe(t);
    expect(backupIdTime('20241302_030405')).toBeUndefined();
    expect(backupIdTime('x')).toBeUndefined();
  });
});

describe('canonicalJson', () => {
  it('sorts keys at every level and drops undefined', () => {
    expect(canonicalJson({ b: 1, a: { d: [2, { z: 1, y: undefined, x: null }], c: 'é' } })).toBe('{"a":{"c":"é","d":[2,{"x":null,"z":1}]},"b":1}');
  });
});

describe('pause window', () => {
  it('is the intersection of the hosts\' pauses', () => {
    const w = pauseWindow(
      [
        { host: 'a', pausedAt: 100, unpausedAt: 500 },
        { host: 'b', pausedAt: 120, unpausedAt: 480 },
      ],
      90,
      470,
      60,
    );
    expect([w.start, w.end, w.durationMs]).toEqual([120, 480, 360]);
    expect(snapshotsInside(w, [{ snapshotAt: 120 }, { snapshotAt: 480 }])).toBe(true);
    expect(snapshotsInside(w, [{ snapshotAt: 110 }])).toBe(false);
    // Without the capsule's times, the director's request times are the conservative bounds.
    expect(pauseWindow([{ host: 'a' }], 90, 470, 60)).toMatchObject({ start: 90, end: 470 });
    expect(pauseWindow([], 90, 470, 60)).toMatchObject({ start: 90, end: 470 });
  });
});

describe('concurrency', () => {
  it('mapLimit keeps the limit, keeps order, and stops starting on request', async () => {
    let running = 0;
    let peak = 0;
    const r = await mapLimit([1, 2, 3, 4, 5], 2, async (n) => {
      running++;
      peak = Math.max(peak, running);
      await new Promise((res) => setTimeout(res, 5));
      running--;
      if (n === 2) throw new Error('two');
      return n * 10;
    });
    expect(peak).toBe(2);
    expect(r.map((s) => (s?.ok ? s.value : 'x'))).toEqual([10, 'x', 30, 40, 50]);
    let started = 0;
    const stopped = await mapLimit([1, 2, 3], 1, async () => ++started, () => started >= 1);
    expect(stopped.filter((s) => s === undefined)).toHaveLength(2);
  });

  it('linkedSignal aborts on deadline or parent', async () => {
    const l = linkedSignal(undefined, 10);
    await new Promise((r) => setTimeout(r, 30));
    expect(l.signal.reason).toBe('deadline');
    const parent = new AbortController();
    const m = linkedSignal(parent.signal, 10_000);
    parent.abort('SIGINT');
    expect(m.signal.reason).toBe('SIGINT');
    m.dispose();
  });
});

describe('format', () => {
  it('renders sizes, durations, ages and tables', () => {
    expect(formatBytes(0)).toBe('0 B');
    expect(formatBytes(1536)).toBe('1.50 KiB');
    expect(formatBytes(undefined)).toBe('-');
    expect(formatDuration(250)).toBe('250 ms');
    expect(formatDuration(61_000)).toBe('1m01s');
    expect(formatAge(3 * 86_400_000 + 3_600_000)).toBe('3d01h');
    expect(renderTable(['A', 'NUM'], [['xx', '1'], ['y', '100']], [1])).toBe('A   NUM\n--  ---\nxx    1\ny   100');
  });
});

describe('Reporter', () => {
  it('writes one uniform line per event, control characters removed', () => {
    const lines: string[] = [];
    const sys: string[] = [];
    const r = new Reporter('backup-director', { line: (l) => lines.push(l), syslog: (l) => sys.push(l) }, () => 0);
    r.error('sync', 'rsync said\nsomething\x1b[31m bad', 'manager-1');
    expect(sys).toEqual(['sbdi-backup host=backup-director phase=sync level=error msg=manager-1: rsync said something[31m bad']);
    expect(lines[0]).toMatch(/^\[00:00:00\] ERROR sync\s+manager-1: rsync said something/);
  });
});

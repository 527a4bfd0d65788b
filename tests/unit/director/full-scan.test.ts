import { describe, expect, it } from 'vitest';
import { fullScansDue } from '../../../src/director/full-scan';
import type { SourceRecord } from '../../../src/director/manifest';
import type { RunRecord, RunStatus } from '../../../src/director/state';

const DAY = 86_400_000;
const NOW = Date.UTC(2026, 10, 29, 3, 0, 0);
const HOSTS = ['a', 'b'];

function run(id: string, daysAgo: number, scans: Record<string, 'full' | 'changes' | undefined>, status: RunStatus = 'complete'): RunRecord {
  const sources = Object.entries(scans).map(([host, scan]) => ({ host, ...(scan === undefined ? {} : { scan }) }) as SourceRecord);
  return {
    id,
    command: 'perform_backup',
    pid: 1,
    director: 'd',
    status,
    phase: 'done',
    startedAt: NOW - daysAgo * DAY,
    pauseInProgress: false,
    snapshotsMayExist: false,
    phases: [],
    ...(status === 'complete' ? { manifest: { sources } as RunRecord['manifest'] } : {}),
  };
}

describe('fullScansDue', () => {
  it('--full-scan: every source, whatever the records say', () => {
    expect([...fullScansDue([run('1', 0, { a: 'full', b: 'full' })], HOSTS, NOW, 7, true)]).toEqual([
      ['a', '--full-scan'],
      ['b', '--full-scan'],
    ]);
  });

  it('backup_full_scan_days 0: never by itself, even with no record', () => {
    expect(fullScansDue([], HOSTS, NOW, 0, false).size).toBe(0);
  });

  it('no full scan on record (new director, or records without the scan noted): due', () => {
    const due = fullScansDue([run('1', 1, { a: undefined, b: 'changes' })], HOSTS, NOW, 7, false);
    expect(due.get('a')).toBe('no full scan of it on record; backup_full_scan_days 7');
    expect(due.has('b')).toBe(true);
  });

  it('due once the newest full scan of the source is the setting old, per source', () => {
    const records = [run('old', 9, { a: 'full', b: 'full' }), run('mid', 6.5, { a: 'changes', b: 'full' }), run('new', 1, { a: 'changes', b: 'changes' })];
    const due = fullScansDue(records, HOSTS, NOW, 7, false);
    expect(due.get('a')).toBe('its last full scan was 9 days ago, in backup old; backup_full_scan_days 7');
    expect(due.has('b')).toBe(false);
    expect(fullScansDue(records, HOSTS, NOW + 0.5 * DAY, 7, false).has('b')).toBe(true);
    expect(fullScansDue(records, HOSTS, NOW, 10, false).size).toBe(0);
  });

  it('a failed or running run counts for nothing, whatever it pushed', () => {
    const records = [run('ok', 8, { a: 'full', b: 'full' }), run('failed', 1, { a: 'full', b: 'full' }, 'failed'), { ...run('running', 0, { a: 'full', b: 'full' }), status: 'running' as const }];
    expect([...fullScansDue(records, HOSTS, NOW, 7, false).keys()]).toEqual(['a', 'b']);
  });
});

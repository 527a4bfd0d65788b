import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { performBackup } from '../../../src/director/backup';
import { EXIT } from '../../../src/director/exit-codes';
import { backupIdAt } from '../../../src/director/ids';
import type { SourceRecord } from '../../../src/director/manifest';
import { RUNS_KEPT, runsToForget, type RunRecord } from '../../../src/director/state';
import { harness } from './harness';
import { testPlan } from './plan-fixture';

const HOUR = 3_600_000;
const START = Date.UTC(2025, 0, 1, 0, 0, 0);

/** The id of a run N hours after START. */
function idAt(n: number): string {
  return new Date(START + n * HOUR).toISOString().replace(/[-:]/g, '').replace('T', '_').slice(0, 15);
}

function run(n: number, scans: Record<string, 'full' | 'changes'> = {}, extra: Partial<RunRecord> = {}): RunRecord {
  const sources = Object.entries(scans).map(([host, scan]) => ({ host, scan }) as SourceRecord);
  return {
    id: idAt(n),
    command: 'perform_backup',
    pid: 1,
    director: 'backup-director',
    status: 'complete',
    phase: 'done',
    startedAt: START + n * HOUR,
    endedAt: START + n * HOUR + 60_000,
    pauseInProgress: false,
    snapshotsMayExist: false,
    phases: [],
    manifest: { sources } as RunRecord['manifest'],
    ...extra,
  };
}

describe('the director keeps a bounded history of its runs', () => {
  it('forgets all but the newest runs, every unsettled one and each source\'s last full scan', () => {
    const records = [
      run(0, { a: 'full', b: 'full' }),
      run(1, { a: 'full', b: 'changes' }),
      run(2, {}, { status: 'running', phase: 'sync' }),
      run(3, {}, { status: 'failed', snapshotsMayExist: true }),
      run(4, {}, { status: 'failed', pauseInProgress: true }),
      run(5, {}, { status: 'failed', commitTargets: ['t2'] }),
      run(6, {}, { status: 'failed' }),
      // A full scan that failed counts for nothing.
      run(7, { b: 'full' }, { status: 'failed' }),
      ...Array.from({ length: 10 }, (_, i) => run(8 + i, { a: 'changes', b: 'changes' })),
    ];
    // In any order: the newest are the latest ids.
    const forgotten = runsToForget([...records].reverse(), 5);
    // Kept: b's last full scan (0; 7 failed), a's (1), the unsettled ones (2 to 5), the newest five.
    expect(forgotten.sort()).toEqual([6, 7, 8, 9, 10, 11, 12].map(idAt));
  });

  it('keeps everything while there are no more than its bound', () => {
    expect(runsToForget(Array.from({ length: RUNS_KEPT }, (_, i) => run(i, { a: 'changes' })))).toEqual([]);
  });

  it('perform_backup after a year of hourly runs leaves the newest records and the last full scan, and scans only the changes', async () => {
    const h = harness(testPlan({ settings: { fullScanDays: 3650 } }));
    expect(await performBackup(h.ctx)).toBe(EXIT.OK);
    const full = h.state.runs()[0]!;
    expect(full.manifest?.sources?.map((s) => s.scan)).toEqual(['full', 'full']);
    // The full scan as the first of a year of runs, every later one sending the changes.
    h.state.forgetRun(full.id);
    const old = { ...full, id: idAt(-1), startedAt: START - HOUR };
    h.state.saveRun(old);
    const hosts = full.manifest!.sources!.map((s) => s.host);
    for (let n = 0; n < 365 * 24; n++) h.state.saveRun(run(n, Object.fromEntries(hosts.map((x) => [x, 'changes']))));
    expect(readdirSync(h.state.runsDir)).toHaveLength(365 * 24 + 1);
    // The store still holds the first backup, whose record is gone: the next id (the clock's
    // second) must lie after it, or the run is refused as one whose clock went back.
    while (backupIdAt(Date.now()) <= full.id) await new Promise((r) => setTimeout(r, 50));
    expect(await performBackup(h.ctx)).toBe(EXIT.OK);
    const left = h.state.runs();
    expect(left).toHaveLength(RUNS_KEPT + 1);
    expect(left[0]!.id).toBe(old.id);
    // The full scan on record still counts: no source is scanned whole again.
    expect(left[left.length - 1]!.manifest?.sources?.map((s) => s.scan)).toEqual(['changes', 'changes']);
    expect(await performBackup(h.ctx)).toBe(EXIT.OK);
    expect(h.state.runs().at(-1)!.manifest?.sources?.map((s) => s.scan)).toEqual(['changes', 'changes']);
  });
});

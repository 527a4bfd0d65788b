// The scale series' pure parts: the counts, the tree and its 0.1 % mutation, the room, the listing figure, the tables.
import { describe, expect, it } from 'vitest';
import { FILES_PER_DIR, planMutationOf } from '../../../tools/bench/corpus';
import { parseArgs } from '../../../tools/bench/main';
import type { ScaleRecord } from '../../../tools/bench/run';
import { expectMutationOnDisk } from './on-disk';
import {
  SCALE_MIX, formatCount, parseListing, parseScale, planScale, scaleFullTable, scaleMutationCounts, scaleRoomGiB, scaleSidesOf, scaleTable,
} from '../../../tools/bench/scale';

describe('--scale', () => {
  it('file counts as numbers or with k and M, ascending; none', () => {
    expect(parseScale('20k,200k,1M')).toEqual([20_000, 200_000, 1_000_000]);
    expect(parseScale('1m,20000,1.5K')).toEqual([1_500, 20_000, 1_000_000]);
    expect(parseScale('2M')).toEqual([2_000_000]);
    expect(parseScale('none')).toEqual([]);
  });

  it('refuses counts out of 1k..2M, not whole, unknown suffixes and repeats', () => {
    expect(() => parseScale('999')).toThrow(/"999" is not a whole file count from 1k to 2M/);
    expect(() => parseScale('2.1M')).toThrow(/"2.1M" is not/);
    expect(() => parseScale('1.0005k')).toThrow(/not a whole file count/);
    expect(() => parseScale('20G')).toThrow(/"20G" is not/);
    expect(() => parseScale('20k,')).toThrow(/"" is not/);
    expect(() => parseScale('20k,20000')).toThrow(/20000 given twice/);
  });

  it('bench arguments: none and one run by default; --scale-runs from 1 to 20', () => {
    expect(parseArgs([])).toMatchObject({ scale: [], scaleRuns: 1 });
    expect(parseArgs(['--scale', '200k,20k', '--scale-runs', '3'])).toMatchObject({ scale: [20_000, 200_000], scaleRuns: 3 });
    expect(() => parseArgs(['--scale', '5M'])).toThrow(/--scale "5M": "5M" is not a whole file count/);
    expect(() => parseArgs(['--scale-runs', '0'])).toThrow(/--scale-runs "0": must be a whole number from 1 to 20/);
    expect(() => parseArgs(['--scale'])).toThrow(/--scale needs a value/);
  });

  it('names counts as the tables do', () => {
    expect([2_000, 20_000, 1_500, 1_000_000, 1_500_000, 250_000, 1_234_567].map(formatCount)).toEqual(['2k', '20k', '1.5k', '1M', '1.5M', '250k', '1234567']);
  });
});

describe('the scale tree', () => {
  it('N files of 0–2 KiB (≈ 1 KiB mean) in leaf directories of 100, seeded by seed and count', () => {
    const p = planScale(20_000, 's');
    expect(p.files).toHaveLength(20_000);
    expect(p.dirs).toHaveLength(200);
    expect(planScale(20_000, 's')).toEqual(p);
    expect(planScale(20_000, 't').files.map((f) => f.size)).not.toEqual(p.files.map((f) => f.size));
    expect(planScale(2_000, 's').files[0]).not.toEqual(p.files[0]);
    expect(p.files.every((f) => f.size >= 0 && f.size <= 2048)).toBe(true);
    expect(p.totalBytes / p.files.length).toBeGreaterThan(980);
    expect(p.totalBytes / p.files.length).toBeLessThan(1070);
    const perDir = new Map<string, number>();
    for (const f of p.files) perDir.set(f.path.slice(0, f.path.lastIndexOf('/')), (perDir.get(f.path.slice(0, f.path.lastIndexOf('/'))) ?? 0) + 1);
    expect(Math.max(...perDir.values())).toBe(FILES_PER_DIR);
  });

  it('an incremental is 0.1 % of the files: a tenth added, as many deleted, the rest rewritten', () => {
    expect(scaleMutationCounts(1_000)).toEqual({ changed: 1, added: 0, deleted: 0 });
    expect(scaleMutationCounts(2_000)).toEqual({ changed: 2, added: 0, deleted: 0 });
    expect(scaleMutationCounts(20_000)).toEqual({ changed: 16, added: 2, deleted: 2 });
    expect(scaleMutationCounts(200_000)).toEqual({ changed: 160, added: 20, deleted: 20 });
    expect(scaleMutationCounts(1_000_000)).toEqual({ changed: 800, added: 100, deleted: 100 });
  });

  it('the mutation is seeded by round, its new files small too, and applied on disk', () => {
    const plan = planScale(1_500, 's');
    const counts = { changed: 8, added: 3, deleted: 2 };
    const m = planMutationOf(plan.files, 's', 1, counts, SCALE_MIX);
    expect([m.changed.length, m.added.length, m.deleted.length]).toEqual([8, 3, 2]);
    expect(planMutationOf(plan.files, 's', 1, counts, SCALE_MIX)).toEqual(m);
    expect(planMutationOf(plan.files, 's', 2, counts, SCALE_MIX).changed).not.toEqual(m.changed);
    for (const f of m.added) expect(f.size).toBeLessThanOrEqual(2048);
    const changed = new Set(m.changed.map((f) => f.path));
    for (const f of m.deleted) expect(changed.has(f.path)).toBe(false);

    expectMutationOnDisk(plan, m);
  });

  it('room for the largest tree on the sources and on the target; none without a series', () => {
    expect(scaleRoomGiB([])).toEqual({ source: 0, pool: 0 });
    expect(scaleRoomGiB([20_000, 1_000_000])).toEqual({ source: 5, pool: 9 });
    expect(scaleRoomGiB([2_000_000])).toEqual({ source: 9, pool: 17 });
  });

  it('sides: ours, rsync -aHAX, then the peers', () => {
    expect(scaleSidesOf([])).toEqual(['ours', 'fidelity']);
    expect(scaleSidesOf(['restic', 'borg'])).toEqual(['ours', 'fidelity', 'restic', 'borg']);
  });
});

describe("perform_rsync's listing figure", () => {
  const LOG = [
    'Dec  5 10:00:01 solr-1 user.info sbdi-backup: sbdi-backup host=solr-1 phase=perform_rsync level=info msg=40 entries differ from backup 20261205_095900 (listed and compared in 812 ms): sending only those',
    'Dec  5 10:05:01 solr-1 user.info sbdi-backup: sbdi-backup host=solr-1 phase=perform_rsync level=info msg=25 entries differ from backup 20261205_100000 (listed and compared in 64 ms): sending only those',
    'Dec  5 10:05:02 solr-1 user.info sbdi-backup: sbdi-backup host=solr-1 phase=commit level=info msg=backup 20261205_100500 committed',
    'Dec  5 10:09:01 solr-1 user.info sbdi-backup: sbdi-backup host=solr-1 phase=perform_rsync level=info msg=31 entries differ from backup 20261205_100500 (29 paths named by btrfs as changed since 20261205_100500, listed and compared in 41 ms): sending only those',
  ].join('\n');

  it("is the line whose base is the backup before: the entries and the milliseconds", () => {
    expect(parseListing(LOG, '20261205_100000')).toEqual({ entries: 25, ms: 64 });
    expect(parseListing(LOG, '20261205_095900')).toEqual({ entries: 40, ms: 812 });
    expect(parseListing(LOG, '20261205_100500')).toEqual({ entries: 31, ms: 41, fromBase: 29 });
    expect(parseListing(LOG, '20261205_100900')).toBeUndefined();
    expect(parseListing('', 'x')).toBeUndefined();
  });
});

const backup = (ms: ScaleRecord['full']['ms'], id: string): ScaleRecord['full'] => ({ ms, storeBytes: {}, backup: id });

function record(files: number, incs: Array<{ ms: ScaleRecord['full']['ms']; listingMs?: number }>): ScaleRecord {
  return {
    host: 'solr-1',
    dir: '/docker_local/scale',
    files,
    dirs: files / 100,
    bytes: files * 1024,
    writeMs: files,
    dockerHosts: 2,
    full: backup({ ours: 40_000, fidelity: 30_000, restic: 50_000 }, 'f'),
    incrementals: incs.map((x, i) => ({
      ...backup(x.ms, `i${i}`),
      run: i + 1,
      order: ['ours', 'fidelity', 'restic'],
      changed: 16,
      added: 2,
      deleted: 2,
      listing: x.listingMs === undefined ? {} : { 'solr-1': { entries: 20, ms: x.listingMs }, 'manager-1': { entries: 3, ms: 9 } },
    })),
  };
}

describe('scale tables', () => {
  const records = [
    record(20_000, [{ ms: { ours: 4_000, fidelity: 2_000, restic: 8_000 }, listingMs: 300 }]),
    record(1_000_000, [
      { ms: { ours: 30_000, fidelity: 60_000, restic: 90_000 }, listingMs: 9_000 },
      { ms: { ours: 20_000, fidelity: 40_000, restic: 50_000 }, listingMs: 7_000 },
      { ms: { ours: 25_000, fidelity: 50_000, restic: 70_000 } },
    ]),
  ];

  it('the incrementals: each side, ours against restic and rsync -aHAX, the listing on the tree\'s host (medians)', () => {
    const t = scaleTable(records, ['restic']).split('\n');
    expect(t[0]).toBe("| files | changed / added / deleted | runs | ours | rsync -aHAX | restic | ours ÷ restic | ours ÷ rsync -aHAX | ours' listing + compare |");
    expect(t[2]).toBe('| 20k | 16 / 2 / 2 | 1 | 4.0 s | 2.0 s | 8.0 s | 0.50× | 2.00× | 300 ms |');
    expect(t[3]).toBe('| 1M | 16 / 2 / 2 | 3 | 25.0 s | 50.0 s | 70.0 s | 0.36× | 0.50× | 8000 ms |');
    // Without restic: no restic column, no ratio to it.
    expect(scaleTable(records, []).split('\n')[0]).toBe("| files | changed / added / deleted | runs | ours | rsync -aHAX | ours ÷ rsync -aHAX | ours' listing + compare |");
  });

  it('the set-up: the tree, how long it took to write, every full backup', () => {
    const t = scaleFullTable(records, ['restic', 'borg']).split('\n');
    expect(t[0]).toBe('| files | directories | bytes | written in | full: ours | full: rsync -aHAX | full: restic | full: borg |');
    expect(t[3]).toBe('| 1M | 10000 | 977 MiB | 1000.0 s | 40.0 s | 30.0 s | 50.0 s | – |');
  });
});

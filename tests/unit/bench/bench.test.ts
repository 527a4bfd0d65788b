// The bench's pure parts: the seeded corpus, the incremental's mutation, the arithmetic and the tables.
// (The bench itself measures speed and never runs in `npm test`.)
import { describe, expect, it } from 'vitest';
import { FILES_PER_DIR, SIZES, fileContent, largeFileCount, planCorpus, planMutation, rng, type CorpusSize } from '../../../tools/bench/corpus';
import { expectMutationOnDisk } from './on-disk';
import { load } from 'js-yaml';
import { parseArgs } from '../../../tools/bench/main';
import { TARGET_POOL_FILE, inventoryYaml, targetRoot } from '../../../tools/sandbox/inventory';
import { ceilingTable, markdownTable, median, meets, pauseTable, ratio, throughputTable } from '../../../tools/bench/stats';

const TINY: CorpusSize = { name: 'small', files: 450, bytes: 30 * 2 ** 20 };

describe('corpus', () => {
  it('the same seed gives the same tree, sizes and bytes; another seed another tree', () => {
    const a = planCorpus(TINY, 'seed-a');
    expect(planCorpus(TINY, 'seed-a')).toEqual(a);
    expect(planCorpus(TINY, 'seed-b').files.map((f) => f.size)).not.toEqual(a.files.map((f) => f.size));
    const f = a.files[123]!;
    expect(fileContent('seed-a', f.path, f.size).equals(fileContent('seed-a', f.path, f.size))).toBe(true);
    expect(fileContent('seed-b', f.path, f.size).equals(fileContent('seed-a', f.path, f.size))).toBe(false);
  });

  it('small is shaped as the issue asks: 20k files, ≈400 MiB, 100 per leaf directory at depth 3–5, a few of 5–20 MB', () => {
    const p = planCorpus(SIZES.small, 'sbdi-bench-1');
    expect(p.files).toHaveLength(20_000);
    expect(p.totalBytes / 2 ** 20).toBeGreaterThan(360);
    expect(p.totalBytes / 2 ** 20).toBeLessThan(440);
    const perDir = new Map<string, number>();
    for (const f of p.files) perDir.set(f.path.slice(0, f.path.lastIndexOf('/')), (perDir.get(f.path.slice(0, f.path.lastIndexOf('/'))) ?? 0) + 1);
    expect(Math.max(...perDir.values())).toBe(FILES_PER_DIR);
    const depths = new Set(p.dirs.map((d) => d.split('/').length));
    expect([...depths].sort()).toEqual([3, 4, 5]);
    const large = p.files.filter((f) => f.size >= 5 * 2 ** 20);
    expect(large.length).toBe(largeFileCount(SIZES.small));
    for (const f of large) expect(f.size).toBeLessThanOrEqual(20 * 2 ** 20);
    const small = p.files.filter((f) => f.size < 5 * 2 ** 20);
    for (const f of small) expect(f.size >= 1024 && f.size <= 32 * 1024).toBe(true);
    expect(SIZES.large.files).toBe(200_000);
  });

  it('content is text-like: printable ASCII lines, exactly the planned size', () => {
    const b = fileContent('s', 'a/b/c.log', 50_000);
    expect(b.length).toBe(50_000);
    expect(/^[\x20-\x7e\n]*$/.test(b.toString('latin1'))).toBe(true);
    expect(b.toString('utf8').split('\n').length).toBeGreaterThan(100);
  });

  it('the incremental changes 0.5 %, adds 0.2 %, deletes 0.1 % (disjoint, seeded by round) and is applied on disk', () => {
    const plan = planCorpus(TINY, 's');
    const files = plan.files;
    const big = planMutation(planCorpus(SIZES.small, 's').files, 's', 1);
    expect([big.changed.length, big.added.length, big.deleted.length]).toEqual([100, 40, 20]);
    const m = planMutation(files, 's', 1);
    expect(planMutation(files, 's', 1)).toEqual(m);
    expect(planMutation(files, 's', 2).changed).not.toEqual(m.changed);
    const changed = new Set(m.changed.map((f) => f.path));
    for (const f of m.deleted) expect(changed.has(f.path)).toBe(false);

    expectMutationOnDisk(plan, m);
  });

  it('rng is seeded and in [0, 1)', () => {
    const a = rng('x');
    const xs = Array.from({ length: 1000 }, a);
    expect(Array.from({ length: 1000 }, rng('x'))).toEqual(xs);
    expect(xs.every((x) => x >= 0 && x < 1)).toBe(true);
    expect(new Set(xs).size).toBeGreaterThan(990);
  });
});

describe('stats and tables', () => {
  it('median, ratio and the target verdicts', () => {
    expect(median([])).toBeUndefined();
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(ratio(110, 100)).toBeCloseTo(1.1);
    expect(ratio(1, 0)).toBeUndefined();
    expect(ratio(undefined, 1)).toBeUndefined();
    expect(meets(1.1, 1.1)).toBe('yes');
    expect(meets(1.11, 1.1)).toBe('NO');
  });

  it('markdown tables: a header rule, escaped pipes', () => {
    expect(markdownTable(['a', 'b'], [['x|y', '1']])).toBe('| a | b |\n| --- | --- |\n| x\\|y | 1 |');
  });

  it('a throughput table: one row per side, its median divided by rsync -a, -aHAX and restic, each run, the store after', () => {
    const t = throughputTable(
      {
        what: 'full backup',
        ms: { ours: [12_000, 10_000, 11_000], bare: [10_000, 9_000, 10_000], fidelity: [11_000, 11_000, 12_000], restic: [22_000, 20_000, 21_000], borg: [33_000, 30_000, 31_000] },
        storeBytes: { ours: [100 * 2 ** 20, 102 * 2 ** 20, 101 * 2 ** 20], restic: [50 * 2 ** 20, 50 * 2 ** 20, 50 * 2 ** 20] },
      },
      ['ours', 'bare', 'fidelity', 'restic', 'borg'],
    ).split('\n');
    expect(t[0]).toBe('| side | runs | median | ÷ rsync -a | ÷ rsync -aHAX | ÷ restic | each run (s) | store after (median) |');
    expect(t[2]).toBe('| ours | 3 | 11.0 s | 1.10× | 1.00× | 0.52× | 12.0, 10.0, 11.0 | 101.0 MiB |');
    expect(t[3]).toBe('| rsync -a | 3 | 10.0 s | 1.00× | 0.91× | 0.48× | 10.0, 9.0, 10.0 | – |');
    expect(t[5]).toBe('| restic | 3 | 21.0 s | 2.10× | 1.91× | 1.00× | 22.0, 20.0, 21.0 | 50.0 MiB |');
    expect(t[6]).toBe('| borg | 3 | 31.0 s | 3.10× | 2.82× | 1.48× | 33.0, 30.0, 31.0 | – |');
    // Without peers and without sizes (a restore): no restic column, no store column.
    const r = throughputTable({ what: 'full restore', ms: { ours: [2000], bare: [1000], fidelity: [2000] } }, ['ours', 'bare', 'fidelity']).split('\n');
    expect(r[0]).toBe('| side | runs | median | ÷ rsync -a | ÷ rsync -aHAX | each run (s) |');
    expect(r[2]).toBe('| ours | 1 | 2.0 s | 2.00× | 1.00× | 2.0 |');
  });

  it('the ceiling table gives ours against both baselines and both verdicts', () => {
    const t = ceilingTable([{ what: 'incremental backup', ms: { ours: [5000], bare: [4000], fidelity: [7000] } }]).split('\n');
    expect(t[2]).toBe('| incremental backup | 5.0 s | 1.25× | 0.71× | NO / yes |');
  });

  it('the pause table leads with the freeze and gives the window beside it', () => {
    const p = pauseTable([{ dockerHosts: 5, containersPerHost: 20, paused: [100, 100, 100], freezeMs: [900, 700, 650], windowMs: [400, 650, 450] }]).split('\n');
    expect(p[0]).toBe('| docker hosts | containers per host | runs | containers paused | freeze (median) | freeze min – max | window (median) | window min – max | freeze target |');
    expect(p[2]).toBe('| 5 | 20 | 3 | 100 | 700 ms | 650 – 900 ms | 450 ms | 400 – 650 ms | ≤ 250 ms: NO |');
    // A manifest without the freeze (NaN) leaves it out; none at all: –.
    const q = pauseTable([{ dockerHosts: 2, containersPerHost: 20, paused: [40], freezeMs: [NaN], windowMs: [300] }]).split('\n');
    expect(q[2]).toBe('| 2 | 20 | 1 | 40 | – | – | 300 ms | 300 – 300 ms | – |');
    const r = pauseTable([{ dockerHosts: 20, containersPerHost: 20, paused: [400], freezeMs: [415], windowMs: [100] }]).split('\n');
    expect(r[2]).toBe('| 20 | 20 | 1 | 400 | 415 ms | 415 – 415 ms | 100 ms | 100 – 100 ms | ≤ 500 ms: yes |');
  });
});

describe('bench arguments', () => {
  it('defaults, and bad values refused naming what is allowed', () => {
    const o = parseArgs([]);
    expect(o).toMatchObject({ size: 'small', runs: 3, pauseRuns: 3, hostCounts: [2, 5, 10], containersPerHost: 20, keep: false, dropCaches: true, target: 'zfs', peers: [] });
    expect(parseArgs(['--warm-caches'])).toMatchObject({ dropCaches: false });
    expect(parseArgs(['--size', 'large', '--runs', '1', '--hosts', '2,5'])).toMatchObject({ size: 'large', runs: 1, hostCounts: [2, 5] });
    expect(() => parseArgs(['--size', 'huge'])).toThrow(/--size "huge": must be tiny, small or large/);
    expect(parseArgs(['--size', 'tiny'])).toMatchObject({ size: 'tiny' });
    expect(() => parseArgs(['--hosts', '2,1'])).toThrow(/--hosts "1": must be a whole number from 2 to 20/);
    expect(() => parseArgs(['--runs', '-1'])).toThrow(/whole number/);
    expect(() => parseArgs(['--bogus'])).toThrow(/unexpected argument/);
  });
});

describe('bench arguments: target and peers', () => {
  it('--target picks the backend; --peers a list of restic and borg', () => {
    expect(parseArgs(['--target', 'btrfs'])).toMatchObject({ target: 'btrfs' });
    expect(parseArgs(['--target', 'dir', '--peers', 'restic,borg'])).toMatchObject({ target: 'dir', peers: ['restic', 'borg'] });
    expect(parseArgs(['--peers', 'borg'])).toMatchObject({ peers: ['borg'] });
    expect(parseArgs(['--peers', 'none'])).toMatchObject({ peers: [] });
    expect(() => parseArgs(['--target', 'lvm'])).toThrow(/--target "lvm": must be one of zfs, btrfs, dir/);
    expect(() => parseArgs(['--peers', 'restic,duplicity'])).toThrow(/"duplicity" is not one of restic, borg/);
    expect(() => parseArgs(['--peers', 'borg,borg'])).toThrow(/borg given twice/);
    expect(() => parseArgs(['--peers'])).toThrow(/--peers needs a value/);
  });

  it('the tiny corpus keeps the mix at a tenth of the files', () => {
    const p = planCorpus(SIZES.tiny, 'sbdi-bench-1');
    expect(p.files).toHaveLength(2000);
    expect(p.files.filter((f) => f.size >= 5 * 2 ** 20).length).toBe(largeFileCount(SIZES.tiny));
    expect(p.totalBytes / 2 ** 20).toBeGreaterThan(45);
    expect(p.totalBytes / 2 ** 20).toBeLessThan(75);
  });
});

describe('the bench inventory: the target backend', () => {
  type Inv = { all: { children: { backup_targets: { hosts: Record<string, Record<string, unknown>> } } } };
  const target = (o: Parameters<typeof inventoryYaml>[1]): Record<string, unknown> =>
    (load(inventoryYaml('bnc', o)) as Inv).all.children.backup_targets.hosts['backup-target']!;

  it('zfs by default (zfs-fuse, pool file); btrfs on the same file; dir on the data volume', () => {
    expect(target({ targetPoolGiB: 6 })).toEqual({
      ansible_host: 'bnc-backup-target', backup_data_device: TARGET_POOL_FILE, backup_data_file_size: 6, backup_zfs_package: 'zfs-fuse',
    });
    expect(target({ targetPoolGiB: 6, targetBackend: 'btrfs' })).toEqual({
      ansible_host: 'bnc-backup-target', backup_target_backend: 'btrfs', backup_data_device: TARGET_POOL_FILE, backup_data_file_size: 6,
    });
    expect(target({ targetBackend: 'dir' })).toEqual({ ansible_host: 'bnc-backup-target', backup_target_backend: 'dir', backup_root: targetRoot('dir') });
    expect(targetRoot('dir')).toBe('/var/lib/sbdi/backup');
    expect(targetRoot('btrfs')).toBe('/backup');
  });
});

// The bench's report: a result in, markdown out (every side, the peers' notes, the freeze first).
import { describe, expect, it } from 'vitest';
import { renderReport } from '../../../tools/bench/report';
import { seriesOf, type BenchResult, type RunRecord } from '../../../tools/bench/run';

const summary = (files: number, added: number) => ({ files, changedFiles: 21, bytes: 62_914_560, addedBytes: added, seconds: 1.5 });

const RUN: RunRecord = {
  run: 1,
  order: ['ours', 'bare', 'fidelity', 'restic', 'borg'],
  full: {
    ms: { ours: 11_000, bare: 10_000, fidelity: 12_000, restic: 20_000, borg: 30_000 },
    storeBytes: { ours: 40 * 2 ** 20, bare: 60 * 2 ** 20, fidelity: 60 * 2 ** 20, restic: 35 * 2 ** 20, borg: 38 * 2 ** 20 },
    backup: '20261201_020000',
    pauseMs: 250,
    syncMs: 9_000,
    peers: { restic: [summary(2003, 30e6)], borg: [{ files: 2003, bytes: 62_914_560, addedBytes: 31e6, seconds: 2 }] },
  },
  incremental: {
    ms: { ours: 3_000, bare: 2_000, fidelity: 4_000, restic: 6_000, borg: 8_000 },
    storeBytes: { ours: 41 * 2 ** 20, bare: 60 * 2 ** 20, fidelity: 60 * 2 ** 20, restic: 36 * 2 ** 20, borg: 39 * 2 ** 20 },
    backup: '20261201_020100',
    changed: 10,
    added: 4,
    deleted: 2,
    peers: { restic: [summary(2005, 1e6)], borg: [{ files: 2005, bytes: 62_914_560, addedBytes: 1.2e6, seconds: 1, warning: { code: 1, stderrLines: 2 } }] },
  },
  restore: { ms: { ours: 5_000, bare: 4_000, fidelity: 5_000, restic: 10_000, borg: 12_000 }, filesExpected: 2002, filesAfter: { ours: 2002, bare: 2002, fidelity: 2002, restic: 2002, borg: 2002 } },
};

function result(): BenchResult {
  return {
    startedAt: '2026-12-01T02:00:00Z',
    finishedAt: '2026-12-01T02:20:00Z',
    options: {
      prefix: 'bnc', size: 'tiny', seed: 's', runs: 1, pauseRuns: 1, hostCounts: [2], containersPerHost: 20, keep: false, out: '/x', dropCaches: true,
      target: 'btrfs', peers: ['restic', 'borg'], scale: [], scaleRuns: 1,
    },
    machine: { cpus: 2, cpuModel: 'cpu', memGiB: 23.5, kernel: '6.1', os: 'Debian 12', disk: 'vda', node: 'v20', docker: '20.10', rsyncHost: 'rsync 3.2.7' },
    sandbox: { rsync: 'rsync  version 3.2.7', openssh: 'OpenSSH_9.2p1', store: 'btrfs-progs 6.2-1', bareRsync: 'rsync -a --delete', fidelityRsync: 'rsync -aHAX --sparse --numeric-ids --delete', restic: '0.14.0', borg: '1.2.4' },
    load: [{ at: 0, load1: 1 }],
    runs: [RUN],
    series: seriesOf([RUN]),
    pause: [{ dockerHosts: 2, containersPerHost: 20, paused: [40], freezeMs: [700], windowMs: [300] }],
  };
}

/** Every expected piece must be in the report. */
function expectAll(md: string, pieces: readonly string[]): void {
  for (const piece of pieces) expect(md).toContain(piece);
}

describe('report', () => {
  it('every side in each throughput table, with ratios against rsync -a, -aHAX and restic, and the store after', () => {
    expectAll(renderReport(result()), [
      '## Throughput (target `btrfs`)',
      '### full backup\n\n| side | runs | median | ÷ rsync -a | ÷ rsync -aHAX | ÷ restic | each run (s) | store after (median) |',
      '| ours | 1 | 11.0 s | 1.10× | 0.92× | 0.55× | 11.0 | 40.0 MiB |',
      '| borg | 1 | 30.0 s | 3.00× | 2.50× | 1.50× | 30.0 | 38.0 MiB |',
      '### incremental backup',
      '| restic | 1 | 6.0 s | 3.00× | 1.50× | 1.00× | 6.0 | 36.0 MiB |',
      // A restore has no store size.
      '### full restore\n\n| side | runs | median | ÷ rsync -a | ÷ rsync -aHAX | ÷ restic | each run (s) |\n',
      '| full backup | 11.0 s | 1.10× | 0.92× | yes / yes |',
      '| 1 | ours, rsync -a, rsync -aHAX, restic, borg | 250 ms / 9.0 s | 10 / 4 / 2 |',
      '2002 / 2002 / 2002 / 2002 / 2002 / 2002 |',
    ]);
  });

  it('sets ours beside rsync -aHAX with its copies then written to disk, where the bench measured that', () => {
    const full = { ...RUN.full, fidelitySyncMs: 3_000 };
    const incremental = { ...RUN.incremental, fidelitySyncMs: 1_000 };
    const run = { ...RUN, full, incremental };
    const md = renderReport({ ...result(), runs: [run], series: seriesOf([run]) });
    expectAll(md, [
      '| measurement | ours (median) | ÷ rsync -a | ÷ rsync -aHAX | ≤ 1.10× (-a / -aHAX) | ÷ rsync -aHAX, then its sync |',
      '| full backup | 11.0 s | 1.10× | 0.92× | yes / yes | 0.73× |',
      '| incremental backup | 3.0 s | 1.50× | 0.75× | NO / yes | 0.60× |',
      '| full restore | 5.0 s | 1.25× | 1.00× | NO / yes | – |',
    ]);
    expect(renderReport(result())).not.toContain('then its sync');
  });

  it('says how the peers ran (encryption, caches) and what they reported', () => {
    expectAll(renderReport(result()), [
      'restic encrypts always (a fixed password file)',
      '`borg init -e none`',
      'are kept between the full and the incremental backup',
      "used bytes of the store's btrfs",
      '| restic (Debian) | 0.14.0 |',
      '| 1 | restic | incremental | 2005 | 21 | 60.0 MiB | 1.0 MiB | 1.5 s | – |',
      '| 1 | borg | full | 2003 | – | 60.0 MiB | 29.6 MiB | 2.0 s | – |',
      '| 1 | borg | incremental | 2005 | – | 60.0 MiB | 1.1 MiB | 1.0 s | 1 of 1 (exit 1) |',
    ]);
  });

  it('the pause section leads with the freeze', () => {
    expectAll(renderReport(result()), [
      "## Pause (from each backup's manifest)",
      '| 2 | 20 | 1 | 40 | 700 ms | 700 – 700 ms | 300 ms | 300 – 300 ms | – |',
    ]);
  });

  it('the scale section: where the tree is, the incrementals first, the set-up after; none without a series', () => {
    expect(renderReport(result())).not.toContain('## Scale');
    const r = result();
    r.scale = [
      {
        host: 'solr-1', dir: '/docker_local/scale', files: 20_000, dirs: 200, bytes: 20_000 * 1024, writeMs: 4_200, dockerHosts: 2,
        full: { ms: { ours: 30_000, fidelity: 20_000, restic: 40_000, borg: 50_000 }, storeBytes: {}, backup: 'f' },
        incrementals: [
          {
            run: 1, order: ['ours', 'fidelity', 'restic', 'borg'], changed: 16, added: 2, deleted: 2, listing: { 'solr-1': { entries: 24, ms: 310 } },
            ms: { ours: 3_000, fidelity: 2_000, restic: 6_000, borg: 9_000 }, storeBytes: {}, backup: 'i',
          },
        ],
      },
    ];
    expectAll(renderReport(r), [
      '## Scale (target `btrfs`)',
      '`solr-1:/docker_local/scale`',
      '2 docker hosts in the inventory',
      '### Incremental backup\n\n| files | changed / added / deleted | runs | ours | rsync -aHAX | restic | borg | ours ÷ restic | ours ÷ rsync -aHAX |',
      '| 20k | 16 / 2 / 2 | 1 | 3.0 s | 2.0 s | 6.0 s | 9.0 s | 0.50× | 1.50× | 310 ms |',
      '| 20k | 200 | 20 MiB | 4.2 s | 30.0 s | 20.0 s | 40.0 s | 50.0 s |',
    ]);
    // Without throughput runs the scale section says how the peers ran.
    r.runs = [];
    r.series = [];
    expect(renderReport(r)).toContain('`borg init -e none`');
  });

  it('without peers: no restic column, no peer notes', () => {
    const r = result();
    r.options.peers = [];
    r.options.target = 'zfs';
    for (const run of r.runs) {
      for (const k of ['full', 'incremental'] as const) {
        delete run[k].ms.restic;
        delete run[k].ms.borg;
        delete run[k].peers;
      }
    }
    r.series = seriesOf(r.runs);
    const md = renderReport(r);
    expect(md).not.toContain('÷ restic');
    expect(md).not.toContain('What the peers reported');
    expect(md).not.toContain('borg init');
    expect(md).toContain('`used` of its dataset with its snapshots');
  });
});

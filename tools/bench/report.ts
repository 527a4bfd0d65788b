/** The bench's markdown: machine, load, corpus, the throughput tables, the pause series. Pure (a result in, text out). */
import type { BenchResult } from './run';
import { scaleFullTable, scaleTable } from './scale';
import { SIDE_LABELS, ceilingTable, formatMiB, markdownTable, median, pauseTable, throughputTable, type Side } from './stats';

export function loadSummary(samples: ReadonlyArray<{ load1: number }>): string {
  if (samples.length === 0) return '–';
  const xs = samples.map((s) => s.load1);
  return `1-min load average min ${Math.min(...xs).toFixed(2)}, median ${median(xs)!.toFixed(2)}, max ${Math.max(...xs).toFixed(2)} (${xs.length} samples)`;
}

/** Whether the sides started cold (older results do not say). */
function cacheNote(dropped: boolean | undefined): string[] {
  if (dropped === undefined) return [];
  return [dropped ? "Before each side the host's page cache was dropped (`sync; echo 3 > /proc/sys/vm/drop_caches`) and the sandbox's programs read back in: every side's data comes from disk, no side pages in node, python or ssh." : 'Warm caches (`--warm-caches`): a side may read from memory what the side before it wrote or read.', ''];
}

function peerNote(peers: readonly string[]): string[] {
  if (peers.length === 0) return [];
  return [
    'Peers: one repository per source on the target host (restic: sftp; borg: `borg serve` over ssh). restic encrypts always (a fixed password file); ' +
      'borg is unencrypted (`borg init -e none`). Their own caches on the sources (restic\'s, borg\'s files and chunks caches) are kept between ' +
      'the full and the incremental backup, as an operator\'s daily runs keep them, and removed with the repositories before each full backup. ' +
      'A restore is `restic restore latest --target /` or `borg extract` at `/`. Like bare rsync, the peers read the live dirs while the writers run (nothing is paused or snapshotted for them): ' +
      'borg ends such a backup with a warning (exit 1, "file changed while we backed it up"), which the bench accepts and counts.',
    '',
  ];
}

function storeNote(target: string | undefined): string {
  const ours =
    target === 'btrfs' ? "used bytes of the store's btrfs (compressed, metadata included; the bench's copies are on a second btrfs)"
      : target === 'dir' ? '`du -s -B1` of the store (hardlinked files counted once)'
        : '`used` of its dataset with its snapshots (compressed)';
    return `Store after: ours, ${ours}; the others, \`du -sb\` of their copy or repository (apparent bytes).`;
}

export function renderReport(r: BenchResult): string {
  const m = r.machine;
  const out: string[] = [`# Bench ${r.startedAt}${r.finishedAt ? ` – ${r.finishedAt}` : ' (running)'}`, ''];
  if (r.error) out.push(`**Stopped by an error:** ${r.error}`, '');
  if (m) {
    out.push(
      markdownTable(['machine', ''], [
        ['CPU', `${m.cpus} × ${m.cpuModel}`],
        ['RAM', `${m.memGiB} GiB`],
        ['disk', m.disk],
        ['OS, kernel', `${m.os}, ${m.kernel}`],
        ['docker', m.docker],
        ['node', m.node],
        ['rsync (machine)', m.rsyncHost],
        ...(r.sandbox
          ? [
              ['rsync (sandbox hosts)', r.sandbox.rsync],
              ['OpenSSH (sandbox hosts)', r.sandbox.openssh],
              [`target store (\`${r.options.target}\`)`, r.sandbox.store],
              ...(r.sandbox.restic ? [['restic (Debian)', r.sandbox.restic]] : []),
              ...(r.sandbox.borg ? [['borg (Debian)', r.sandbox.borg]] : []),
            ]
          : []),
        ['load during the run', loadSummary(r.load)],
      ]),
      '',
    );
  }
  if (r.corpus) {
    const c = r.corpus;
    out.push(
      `Corpus \`${c.size}\`, seed \`${c.seed}\`: ${c.files} files (${c.largeFiles} of 5–20 MB) in ${c.dirs} leaf directories, ` +
        `${(c.bytes / 2 ** 20).toFixed(0)} MiB; written in ${(c.writeMs / 1000).toFixed(1)} s.`,
      '',
    );
  }
  if (r.runs.length > 0) {
    const sides: Side[] = ['ours', 'bare', 'fidelity', ...(r.options.peers ?? [])];
    const peers = r.options.peers ?? [];
    out.push(
      `## Throughput (target \`${r.options.target}\`)`,
      '',
      `Sides: ours; \`${r.sandbox?.bareRsync ?? 'rsync -a'}\` and \`${r.sandbox?.fidelityRsync ?? 'rsync -aHAX'}\` over ssh${peers.length ? `; ${peers.join(' and ')} over ssh` : ''}. ` +
        'Between the same containers, ours syncs and restores the sources as an installation does, up to four at once (`backup_sync_concurrency`, `backup_restore_concurrency`); the other sides copy them one after the other, and their time is the sum of the copies. ÷ X: the median divided by the median of X.',
      '',
      ...cacheNote(r.options.dropCaches),
      ...peerNote(peers),
      storeNote(r.options.target),
      '',
    );
    for (const s of r.series) out.push(`### ${s.what}`, '', throughputTable(s, sides), '');
    out.push('### Ours against the ceiling', '', ceilingTable(r.series), '');
    if (r.series.some((s) => s.fidelitySyncedMs !== undefined)) {
      out.push(
        "Ours' backup is on disk when `perform_backup` answers (the commit writes it out); bare rsync's copies are still in the target's page cache when their time is taken. The last column adds to `rsync -aHAX`'s time that of `sync -f` of its copies on the target, right after it.",
        '',
      );
    }
    out.push(
      markdownTable(
        ['run', 'order', 'full: pause / sync (manifest)', 'incremental: changed / added / deleted', 'incremental: pause / sync', `restore: files ${sides.map((x) => SIDE_LABELS[x]).join(' / ')} / expected`],
        r.runs.map((x) => [
          String(x.run),
          x.order.map((y) => SIDE_LABELS[y]).join(', '),
          `${x.full.pauseMs ?? '?'} ms / ${((x.full.syncMs ?? 0) / 1000).toFixed(1)} s`,
          `${x.incremental.changed} / ${x.incremental.added} / ${x.incremental.deleted}`,
          `${x.incremental.pauseMs ?? '?'} ms / ${((x.incremental.syncMs ?? 0) / 1000).toFixed(1)} s`,
          `${sides.map((y) => String(x.restore.filesAfter[y] ?? '?')).join(' / ')} / ${x.restore.filesExpected}`,
        ]),
      ),
      '',
    );
    const peerRows = r.runs.flatMap((x) =>
      peers.flatMap((p) =>
        (['full', 'incremental'] as const).map((kind) => {
          const xs = x[kind].peers?.[p] ?? [];
          const sum = (f: (y: (typeof xs)[number]) => number | undefined): number => xs.reduce((a, y) => a + (f(y) ?? 0), 0);
          const changed = xs.every((y) => y.changedFiles !== undefined) ? String(sum((y) => y.changedFiles)) : '–';
          const warned = xs.filter((y) => y.warning);
          const warnings = warned.length ? `${warned.length} of ${xs.length} (exit ${[...new Set(warned.map((y) => y.warning!.code))].join(', ')})` : '–';
          return [String(x.run), p, kind, String(sum((y) => y.files)), changed, formatMiB(sum((y) => y.bytes)), formatMiB(sum((y) => y.addedBytes)), `${sum((y) => y.seconds).toFixed(1)} s`, warnings];
        }),
      ),
    );
    if (peerRows.length > 0) {
      out.push(
        'What the peers reported (summed over the sources):',
        '',
        markdownTable(['run', 'peer', 'backup', 'files', 'new or changed', 'source bytes', 'new data (restic: before compression; borg: compressed)', "the tool's own time", 'sources with a warning'], peerRows),
        '',
      );
    }
  }
  if (r.pause.length > 0) {
    out.push(
      "## Pause (from each backup's manifest)",
      '',
      'Freeze (`pause.freezeMs`): from the first container frozen on any docker host to the last one thawed: what the platform feels. ' +
        'Window (`pause.durationMs`): from the last host having paused everything to the first host unpausing: when the whole platform was frozen at once.',
      '',
      pauseTable(r.pause),
      '',
    );
  }
  if (r.scale && r.scale.length > 0) {
    const peers = r.options.peers ?? [];
    const hosts = [...new Set(r.scale.map((x) => x.dockerHosts))].join(', ');
    const where = [...new Set(r.scale.map((x) => `${x.host}:${x.dir}`))].join(', ');
    out.push(
      `## Scale (target \`${r.options.target}\`)`,
      '',
      `Per file count a tree of that many files of 0–2 KiB (uniform), 100 to a leaf directory, generated from \`--seed\` in \`${where}\` ` +
        `(the corpus removed first); ${hosts} docker hosts in the inventory. After a full backup by every side (the set-up, below), each incremental ` +
        'follows a change of 0.1 % of the files (a tenth of them added, as many deleted, the rest rewritten). Sides: ours, ' +
        `\`${r.sandbox?.fidelityRsync ?? 'rsync -aHAX'}\`${peers.length ? ` and ${peers.join(' and ')}` : ''} over ssh as in the throughput runs, the order rotated every run. ` +
        "Listing + compare: perform_rsync's own figure on the tree's host (from its syslog), listing the snapshot and comparing it with the base's listing; " +
        '– where the push compared every entry instead (a dir target: only zfs and btrfs stores are set back to a base a push can send just the changes against). ' +
        'Medians over the runs.',
      '',
      ...cacheNote(r.options.dropCaches),
      // Said with the throughput runs when there are any.
      ...(r.runs.length === 0 ? peerNote(peers) : []),
      '### Incremental backup',
      '',
      scaleTable(r.scale, peers),
      '',
      '### Set-up: the tree and each full backup',
      '',
      scaleFullTable(r.scale, peers),
      '',
    );
  }
  return `${out.join('\n')}\n`;
}

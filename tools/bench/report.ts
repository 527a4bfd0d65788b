/** The bench's markdown: machine, load, corpus, the two tables. Pure (a result in, text out). */
import type { BenchResult } from './run';
import { markdownTable, median, pauseTable, throughputTable } from './stats';

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
          ? [['rsync (sandbox hosts)', r.sandbox.rsync], ['OpenSSH (sandbox hosts)', r.sandbox.openssh], ['zfs-fuse (target)', r.sandbox.zfsFuse]]
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
    out.push(`## Throughput (ours vs \`${r.sandbox?.bareRsync ?? 'rsync'}\` over ssh, and \`${r.sandbox?.fidelityRsync ?? ''}\`; same containers, same pool)`, '', ...cacheNote(r.options.dropCaches), throughputTable(r.series), '');
    out.push(
      markdownTable(
        ['run', 'order', 'full: pause / sync (manifest)', 'incremental: changed / added / deleted', 'incremental: pause / sync', 'restore: files ours / bare / -aHAX / expected'],
        r.runs.map((x) => [
          String(x.run),
          x.order.join(', '),
          `${x.full.pauseMs ?? '?'} ms / ${((x.full.syncMs ?? 0) / 1000).toFixed(1)} s`,
          `${x.incremental.changed} / ${x.incremental.added} / ${x.incremental.deleted}`,
          `${x.incremental.pauseMs ?? '?'} ms / ${((x.incremental.syncMs ?? 0) / 1000).toFixed(1)} s`,
          `${x.restore.filesAfter.ours} / ${x.restore.filesAfter.bare} / ${x.restore.filesAfter.fidelity} / ${x.restore.filesExpected}`,
        ]),
      ),
      '',
    );
  }
  if (r.pause.length > 0) out.push('## Pause window (from each backup\'s manifest)', '', pauseTable(r.pause), '');
  return `${out.join('\n')}\n`;
}

/**
 * The scale series' pure parts: which file counts (--scale), the tree of small files and its 0.1 %
 * mutation, the room it needs, perform_rsync's own listing figure out of a source's syslog, the tables.
 * The series itself runs in run.ts.
 */
import { planCorpus, type CorpusPlan, type FileMix, type MutationCounts } from './corpus';
import type { PeerName } from './peers';
import type { ScaleRecord } from './run';
import { SIDE_LABELS, formatRatio, formatSeconds, markdownTable, median, ratio, type Side } from './stats';

const KiB = 1024;
const GiB = 1024 ** 3;

export const SCALE_MIN_FILES = 1_000;
export const SCALE_MAX_FILES = 2_000_000;

/** The scale trees' files: 0–2 KiB (uniform, ≈ 1 KiB mean), no large ones. */
export const SCALE_MIX: FileMix = { min: 0, max: 2 * KiB, large: false };

/** Parses `--scale`: file counts such as 20000, 20k, 1.5M (comma-separated), or `none`; ascending, no repeats. */
export function parseScale(v: string): number[] {
  if (v === 'none' || v === '') return [];
  const out: number[] = [];
  for (const x of v.split(',')) {
    const m = /^(\d+(?:\.\d+)?)([kKmM]?)$/.exec(x);
    const exact = m ? Number(m[1]) * (m[2] === '' ? 1 : /k/i.test(m[2]!) ? 1e3 : 1e6) : NaN;
    const n = Math.round(exact);
    if (!(Math.abs(exact - n) < 1e-6) || n < SCALE_MIN_FILES || n > SCALE_MAX_FILES) {
      throw new Error(`--scale ${JSON.stringify(v)}: ${JSON.stringify(x)} is not a whole file count from 1k to 2M (e.g. 20000, 20k, 1M)`);
    }
    if (out.includes(n)) throw new Error(`--scale ${JSON.stringify(v)}: ${x} given twice`);
    out.push(n);
  }
  return out.sort((a, b) => a - b);
}

/** A count as the tables and logs name it: 20k, 1M, 1.5M, 2500. */
export function formatCount(n: number): string {
  if (n >= 1e6 && n % 1e5 === 0) return `${n / 1e6}M`;
  if (n >= 1e3 && n % 100 === 0) return `${n / 1e3}k`;
  return String(n);
}

/** The tree of `files` small files, in leaf directories of 100 like the corpus; seeded by `--seed` and the count. */
export function planScale(files: number, seed: string): CorpusPlan {
  return planCorpus({ name: `scale-${files}`, files, bytes: files * KiB }, seed, SCALE_MIX);
}

/** An incremental of the scale series: 0.1 % of the files (at least one), a tenth of them added and as many deleted, the rest rewritten. */
export function scaleMutationCounts(files: number): MutationCounts {
  const total = Math.max(1, Math.round(files / 1000));
  const few = Math.round(total / 10);
  return { changed: total - 2 * few, added: few, deleted: few };
}

/**
 * Room the largest tree needs beyond the corpus', GiB: on each source 4 KiB a file (btrfs keeps files
 * this small inline in its metadata, and its metadata twice), in the target's pool and in the bench's
 * area 8 KiB a file (a copy, its snapshots, the peers' repositories). The images are sparse.
 */
export function scaleRoomGiB(counts: readonly number[]): { source: number; pool: number } {
  const most = Math.max(0, ...counts);
  if (most === 0) return { source: 0, pool: 0 };
  return { source: Math.ceil((most * 4 * KiB) / GiB) + 1, pool: Math.ceil((most * 8 * KiB) / GiB) + 1 };
}

/** The sides of the scale series: ours, bare `rsync -aHAX`, the peers asked for. */
export function scaleSidesOf(peers: readonly PeerName[]): Side[] {
  return ['ours', 'fidelity', ...peers];
}

/** perform_rsync's line (templates/capsules/perform_rsync.sh.hbs) when it sends only the changes. */
const LISTING = /(\d+) entries differ from backup (\S+) \((?:(\d+) paths named by btrfs as changed since \S+, )?listed and compared in (\d+) ms\)/;

/**
 * A push of only the changes: how many entries differed from the base, how long listing and
 * comparing took, and (a btrfs source listing from its base) how many paths btrfs named.
 */
export interface Listing {
  entries: number;
  ms: number;
  fromBase?: number;
}

/** Out of a source's log: the listing and comparison of the push whose base was `base` (the last one, should there be more). */
export function parseListing(log: string, base: string): Listing | undefined {
  let found: Listing | undefined;
  for (const line of log.split('\n')) {
    const m = LISTING.exec(line);
    if (m && m[2] === base) found = { entries: Number(m[1]), ms: Number(m[4]), ...(m[3] !== undefined ? { fromBase: Number(m[3]) } : {}) };
  }
  return found;
}

function medianOf(xs: ReadonlyArray<number | undefined>): number | undefined {
  return median(xs.filter((x): x is number => x !== undefined));
}

/**
 * The headline: per file count, the incremental of each side (median over the runs), ours divided by
 * restic and by `rsync -aHAX`, and perform_rsync's listing and comparison on the tree's host.
 */
export function scaleTable(records: readonly ScaleRecord[], peers: readonly PeerName[]): string {
  const sides = scaleSidesOf(peers);
  const against = (['restic', 'fidelity'] as const).filter((b) => sides.includes(b));
  return markdownTable(
    ['files', 'changed / added / deleted', 'runs', ...sides.map((s) => SIDE_LABELS[s]), ...against.map((b) => `ours ÷ ${SIDE_LABELS[b]}`), "ours' listing + compare"],
    records.map((r) => {
      const incs = r.incrementals;
      const med = (side: Side): number | undefined => medianOf(incs.map((x) => x.ms[side]));
      const listing = medianOf(incs.map((x) => x.listing[r.host]?.ms));
      const first = incs[0];
      return [
        formatCount(r.files),
        first ? `${first.changed} / ${first.added} / ${first.deleted}` : '–',
        String(incs.length),
        ...sides.map((s) => formatSeconds(med(s))),
        ...against.map((b) => formatRatio(ratio(med('ours'), med(b)))),
        listing === undefined ? '–' : `${Math.round(listing)} ms`,
      ];
    }),
  );
}

/** The set-up: per file count, the tree's size, how long writing it took, and each side's full backup. */
export function scaleFullTable(records: readonly ScaleRecord[], peers: readonly PeerName[]): string {
  const sides = scaleSidesOf(peers);
  return markdownTable(
    ['files', 'directories', 'bytes', 'written in', ...sides.map((s) => `full: ${SIDE_LABELS[s]}`)],
    records.map((r) => [
      formatCount(r.files),
      String(r.dirs),
      `${(r.bytes / 2 ** 20).toFixed(0)} MiB`,
      formatSeconds(r.writeMs),
      ...sides.map((s) => formatSeconds(r.full.ms[s])),
    ]),
  );
}

/**
 * The bench's corpus: a seeded, generated tree shaped like the platform's data (service directories,
 * ~100 files per leaf directory at depth 3–5, mostly 1–32 KiB text-like files, a few 5–20 MB ones).
 * Planning is pure (same seed → same paths, sizes and bytes); only writeCorpus/applyMutation touch disk.
 */
import { mkdirSync, rmSync, writeFileSync, openSync, writeSync, closeSync } from 'node:fs';
import { dirname, join } from 'node:path';

const KiB = 1024;
const MiB = 1024 * KiB;

export type SizeName = 'tiny' | 'small' | 'large';

export interface CorpusSize {
  /** Part of what seeds the plan, beside `--seed`: a size's tree depends on its name too. */
  name: string;
  files: number;
  bytes: number;
}

/**
 * `small` ≈ 20k files / 400 MB, `large` ≈ 200k files (same mix, so ≈ 4 GB); `tiny` (2k files, 60 MB, the
 * same mix) only shows that every side works end to end: its figures are dominated by fixed costs.
 */
export const SIZES: Record<SizeName, CorpusSize> = {
  tiny: { name: 'tiny', files: 2_000, bytes: 60 * MiB },
  small: { name: 'small', files: 20_000, bytes: 400 * MiB },
  large: { name: 'large', files: 200_000, bytes: 4000 * MiB },
};

export const FILES_PER_DIR = 100;
const SMALL_MIN = 1 * KiB;
const SMALL_MAX = 32 * KiB;
const LARGE_MIN = 5 * MiB;
const LARGE_MAX = 20 * MiB;

/** The sizes of a tree's files: small ones uniform in [min, max] bytes, and whether some are 5–20 MB. */
export interface FileMix {
  min: number;
  max: number;
  large: boolean;
}

/** The corpus' mix: 1–32 KiB, a few files of 5–20 MB to come near the size's bytes. */
export const CORPUS_MIX: FileMix = { min: SMALL_MIN, max: SMALL_MAX, large: true };

import { rng, type Rng } from '../util/rng';

export { rng, type Rng };

function int(r: Rng, min: number, max: number): number {
  return min + Math.floor(r() * (max - min + 1));
}

function pick<T>(r: Rng, xs: readonly T[]): T {
  return xs[Math.floor(r() * xs.length)]!;
}

export interface CorpusFile {
  /** Relative to the corpus root, '/'-separated. */
  path: string;
  size: number;
}

export interface CorpusPlan {
  seed: string;
  size: string;
  dirs: string[];
  files: CorpusFile[];
  totalBytes: number;
}

/** Top-level directories named like the platform's services. */
const SERVICES = ['portal', 'registry', 'proxy', 'cassandra', 'indexer', 'metrics', 'solr', 'postgres', 'images', 'spatial', 'biocache', 'logger'];
const PARTS = ['data', 'conf', 'logs', 'cache', 'index', 'shards', 'segments', 'tmp', 'uploads', 'archive'];
const EXTS = ['log', 'json', 'txt', 'xml', 'csv', 'properties'];

/** Expected count of 5–20 MB files so that the whole corpus comes near `size.bytes`. */
export function largeFileCount(size: CorpusSize): number {
  const smallMean = (SMALL_MIN + SMALL_MAX) / 2;
  const largeMean = (LARGE_MIN + LARGE_MAX) / 2;
  return Math.max(1, Math.round((size.bytes - size.files * smallMean) / (largeMean - smallMean)));
}

export function planCorpus(size: CorpusSize, seed: string, mix: FileMix = CORPUS_MIX): CorpusPlan {
  const r = rng(`plan:${seed}:${size.name}`);
  const leaves = Math.ceil(size.files / FILES_PER_DIR);
  const dirs: string[] = [];
  for (let i = 0; i < leaves; i++) {
    const depth = int(r, 3, 5);
    const parts = [pick(r, SERVICES)];
    while (parts.length < depth - 1) parts.push(`${pick(r, PARTS)}-${int(r, 0, 3)}`);
    parts.push(`part-${String(i).padStart(5, '0')}`);
    dirs.push(parts.join('/'));
  }
  const large = new Set<number>();
  const nLarge = mix.large ? Math.min(size.files, largeFileCount(size)) : 0;
  while (large.size < nLarge) large.add(int(r, 0, size.files - 1));
  const files: CorpusFile[] = [];
  let totalBytes = 0;
  for (let j = 0; j < size.files; j++) {
    const dir = dirs[Math.floor(j / FILES_PER_DIR)]!;
    const bytes = large.has(j) ? int(r, LARGE_MIN, LARGE_MAX) : int(r, mix.min, mix.max);
    const ext = large.has(j) ? 'dat' : pick(r, EXTS);
    files.push({ path: `${dir}/f${String(j).padStart(6, '0')}.${ext}`, size: bytes });
    totalBytes += bytes;
  }
  return { seed, size: size.name, dirs, files, totalBytes };
}

const WORDS = (
  'the of and record occurrence taxon species genus family dataset resource event location latitude longitude ' +
  'basis observation specimen collector identified date country state locality elevation depth status valid ' +
  'index shard segment commit request response GET POST 200 404 500 INFO WARN ERROR DEBUG user session token ' +
  'image thumbnail upload download query filter facet count total page size offset cache hit miss'
).split(' ');

/** A seeded block of text-like bytes (log lines, key=value, JSON-ish) that every file's content is cut from. */
const pools = new Map<string, Buffer>();
function pool(seed: string): Buffer {
  let p = pools.get(seed);
  if (p) return p;
  const r = rng(`pool:${seed}`);
  const lines: string[] = [];
  let len = 0;
  while (len < 2 * MiB) {
    const kind = int(r, 0, 3);
    // Random ids and encoded blobs, as real data has: keeps gzip near 2.5×, not the 4× of words alone.
    const id = Array.from({ length: 4 }, () => Math.floor(r() * 2 ** 32).toString(16).padStart(8, '0')).join('-');
    const words = Array.from({ length: int(r, 4, 14) }, () => pick(r, WORDS)).join(' ');
    const n = int(r, 0, 999_999);
    const line =
      kind === 0
        ? `2024-${String(int(r, 1, 12)).padStart(2, '0')}-${String(int(r, 1, 28)).padStart(2, '0')} ${pick(r, ['INFO', 'WARN', 'DEBUG'])} [${pick(r, SERVICES)}] ${words} id=${n} req=${id}`
        : kind === 1
          ? `{"id":${n},"name":"${pick(r, WORDS)}","value":${(r() * 1000).toFixed(3)},"text":"${words}"}`
          : kind === 2
            ? `${pick(r, WORDS)}.${pick(r, WORDS)}=${words} trace=${id}`
            : Buffer.from(Array.from({ length: 57 }, () => Math.floor(r() * 256))).toString('base64');
    lines.push(line);
    len += line.length + 1;
  }
  p = Buffer.from(`${lines.join('\n')}\n`, 'utf8');
  pools.set(seed, p);
  return p;
}

/** The bytes of one file: a header naming it, then pieces of the seeded pool, cut to `size`. */
export function fileContent(seed: string, path: string, size: number, salt = ''): Buffer {
  const src = pool(seed);
  const r = rng(`file:${seed}:${path}:${salt}`);
  const out = Buffer.allocUnsafe(size);
  let at = out.write(`# ${path} ${salt}\n`.slice(0, size), 0, 'utf8');
  while (at < size) {
    const len = Math.min(size - at, int(r, 512, 8192));
    const from = int(r, 0, src.length - len);
    at += src.copy(out, at, from, from + len);
  }
  return out;
}

/** Writes the planned tree under `root` (made if missing). Returns the bytes written. */
export function writeCorpus(root: string, plan: CorpusPlan): number {
  for (const d of plan.dirs) mkdirSync(join(root, d), { recursive: true });
  let bytes = 0;
  for (const f of plan.files) {
    writeFileSync(join(root, f.path), fileContent(plan.seed, f.path, f.size));
    bytes += f.size;
  }
  return bytes;
}

export interface Fractions {
  changed: number;
  added: number;
  deleted: number;
}

/** The incremental: 0.5 % of files changed, 0.2 % added, 0.1 % deleted. */
export const INCREMENTAL: Fractions = { changed: 0.005, added: 0.002, deleted: 0.001 };

/** How many files a round changes, adds and deletes. */
export type MutationCounts = Fractions;

export function countsOf(files: number, fr: Fractions): MutationCounts {
  return { changed: Math.round(files * fr.changed), added: Math.round(files * fr.added), deleted: Math.round(files * fr.deleted) };
}

export interface Mutation {
  round: number;
  changed: CorpusFile[];
  added: CorpusFile[];
  deleted: CorpusFile[];
}

/** Which files an incremental round changes, adds and deletes (disjoint; pure, seeded by seed and round). */
export function planMutation(files: readonly CorpusFile[], seed: string, round: number, fr: Fractions = INCREMENTAL): Mutation {
  return planMutationOf(files, seed, round, countsOf(files.length, fr));
}

/** planMutation with the counts given; added files get sizes of `mix` (without its large files). */
export function planMutationOf(files: readonly CorpusFile[], seed: string, round: number, counts: MutationCounts, mix: FileMix = CORPUS_MIX): Mutation {
  const r = rng(`mutate:${seed}:${round}`);
  const { changed: nChanged, deleted: nDeleted, added: nAdded } = counts;
  // Partial Fisher–Yates: the first nChanged + nDeleted of a seeded shuffle of the indices.
  const idx = files.map((_, i) => i);
  const take = Math.min(files.length, nChanged + nDeleted);
  for (let i = 0; i < take; i++) {
    const j = i + Math.floor(r() * (idx.length - i));
    [idx[i], idx[j]] = [idx[j]!, idx[i]!];
  }
  const changed = idx.slice(0, nChanged).map((i) => files[i]!);
  const deleted = idx.slice(nChanged, take).map((i) => files[i]!);
  const dirs = [...new Set(files.map((f) => dirname(f.path)))].sort();
  const added: CorpusFile[] = [];
  for (let k = 0; k < nAdded; k++) {
    added.push({ path: `${pick(r, dirs)}/new-r${round}-${String(k).padStart(5, '0')}.${pick(r, EXTS)}`, size: int(r, mix.min, mix.max) });
  }
  return { round, changed, added, deleted };
}

/** The file list after a mutation (changed files keep their path and size). */
export function afterMutation(files: readonly CorpusFile[], m: Mutation): CorpusFile[] {
  const gone = new Set(m.deleted.map((f) => f.path));
  return [...files.filter((f) => !gone.has(f.path)), ...m.added];
}

/** Above this size a change rewrites one 64 KiB block in place (a database page), below it the whole file. */
const IN_PLACE_ABOVE = 1 * MiB;
const BLOCK = 64 * KiB;

/** Applies a mutation under `root`. */
export function applyMutation(root: string, seed: string, m: Mutation): void {
  const salt = `r${m.round}`;
  for (const f of m.changed) {
    const file = join(root, f.path);
    if (f.size > IN_PLACE_ABOVE) {
      const at = Math.floor(rng(`at:${seed}:${f.path}:${salt}`)() * (f.size - BLOCK));
      const fd = openSync(file, 'r+');
      try {
        writeSync(fd, fileContent(seed, f.path, BLOCK, salt), 0, BLOCK, at);
      } finally {
        closeSync(fd);
      }
    } else {
      writeFileSync(file, fileContent(seed, f.path, f.size, salt));
    }
  }
  for (const f of m.added) writeFileSync(join(root, f.path), fileContent(seed, f.path, f.size, salt));
  for (const f of m.deleted) rmSync(join(root, f.path));
}

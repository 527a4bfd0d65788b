// npm run bench -- [--size tiny|small|large] [--runs 3] [--pause-runs 3] [--hosts 2,5,10] [--containers 20]
//                  [--target zfs|btrfs|dir] [--peers restic,borg] [--scale 20k,200k,1M] [--scale-runs 1]
//                  [--seed S] [--prefix bnc] [--out DIR] [--keep] [--warm-caches]
// Makes its own sandbox, measures, removes it; figures in DIR (default bench-results/<time>/).
import { join } from 'node:path';
import { repoRoot } from '../sandbox/config';
import { TARGET_BACKENDS, type TargetBackend } from '../sandbox/inventory';
import { parsePeers } from './peers';
import { runBench, type BenchOptions } from './run';
import { parseScale } from './scale';

const USAGE = `usage: bench [--size tiny|small|large] [--runs N] [--pause-runs N] [--hosts 2,5,10] [--containers 20]
             [--target zfs|btrfs|dir] [--peers restic,borg] [--scale 20k,200k,1M] [--scale-runs N]
             [--seed TEXT] [--prefix NAME] [--out DIR] [--keep] [--warm-caches]
  --size        corpus: small ≈ 20k files / 400 MiB (default), large ≈ 200k files / 4 GiB,
                tiny ≈ 2k files / 60 MiB (a smoke run: fixed costs dominate its figures)
  --runs        throughput runs (full + incremental + restore, every side each); 0 skips (default 3)
  --target      the backup target's backend: zfs (zfs-fuse, default), btrfs (on a loop file) or dir
  --peers       other backup tools measured beside ours and bare rsync: restic, borg (comma-separated;
                default none)
  --pause-runs  perform_backup runs per docker-host count; 0 skips (default 3)
  --hosts       docker-host counts of the pause series (default 2,5,10; each 2..20)
  --containers  containers per docker host (default 20)
  --scale       file counts of the scale series, e.g. 20k,200k,1M (each 1k..2M; default none): per count a
                tree of that many 0–2 KiB files, a full backup by ours, rsync -aHAX and the peers, then
                incrementals after 0.1 % of the files changed; runs last, after removing the corpus
  --scale-runs  incrementals per file count (default 1; the tables show medians)
  --keep        leave the sandbox up (remove it with npm run sandbox -- down --prefix NAME)
  --warm-caches do not drop the host's page cache before each timed side (dropping needs root)`;

class UsageError extends Error {}

function wholeNumber(flag: string, v: string, min: number, max: number): number {
  const n = Number(v);
  if (!/^\d+$/.test(v) || n < min || n > max) throw new UsageError(`${flag} ${JSON.stringify(v)}: must be a whole number from ${min} to ${max}`);
  return n;
}

/** A value parsed by a function that throws on a bad one: its message becomes a usage error. */
function asUsage<T>(parse: () => T): T {
  try {
    return parse();
  } catch (e) {
    throw e instanceof UsageError ? e : new UsageError((e as Error).message);
  }
}

export function parseArgs(argv: readonly string[]): BenchOptions | 'help' {
  const o: BenchOptions = {
    prefix: 'bnc', size: 'small', seed: 'sbdi-bench-1', runs: 3, pauseRuns: 3, hostCounts: [2, 5, 10], containersPerHost: 20, keep: false, dropCaches: true,
    target: 'zfs', peers: [], scale: [], scaleRuns: 1,
    out: join(repoRoot(), 'bench-results', new Date().toISOString().replace(/[:.]/g, '-')),
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new UsageError(`${a} needs a value`);
      return v;
    };
    if (a === '--size') {
      const v = value();
      if (v !== 'tiny' && v !== 'small' && v !== 'large') throw new UsageError(`--size ${JSON.stringify(v)}: must be tiny, small or large`);
      o.size = v;
    } else if (a === '--target') {
      const v = value();
      if (!(TARGET_BACKENDS as readonly string[]).includes(v)) throw new UsageError(`--target ${JSON.stringify(v)}: must be one of ${TARGET_BACKENDS.join(', ')}`);
      o.target = v as TargetBackend;
    } else if (a === '--peers') o.peers = asUsage(() => parsePeers(value()));
    else if (a === '--scale') o.scale = asUsage(() => parseScale(value()));
    else if (a === '--scale-runs') o.scaleRuns = wholeNumber(a, value(), 1, 20);
    else if (a === '--runs') o.runs = wholeNumber(a, value(), 0, 50);
    else if (a === '--pause-runs') o.pauseRuns = wholeNumber(a, value(), 0, 50);
    else if (a === '--hosts') o.hostCounts = value().split(',').map((x) => wholeNumber(a, x, 2, 20));
    else if (a === '--containers') o.containersPerHost = wholeNumber(a, value(), 3, 50);
    else if (a === '--seed') o.seed = value();
    else if (a === '--prefix') o.prefix = value();
    else if (a === '--out') o.out = value();
    else if (a === '--keep') o.keep = true;
    else if (a === '--warm-caches') o.dropCaches = false;
    else if (a === '-h' || a === '--help') return 'help';
    else throw new UsageError(`unexpected argument ${JSON.stringify(a)}`);
  }
  return o;
}

async function main(argv: string[]): Promise<number> {
  let o: BenchOptions | 'help';
  try {
    o = parseArgs(argv);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    process.stderr.write(`${e.message}\n${USAGE}\n`);
    return 2;
  }
  if (o === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const res = await runBench(o);
  process.stdout.write(`figures: ${join(o.out, 'results.md')} and results.json\n`);
  return res.error ? 1 : 0;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e: unknown) => {
      process.stderr.write(`${e instanceof Error ? e.stack ?? e.message : String(e)}\n`);
      process.exit(1);
    },
  );
}

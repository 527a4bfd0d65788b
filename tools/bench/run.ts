/**
 * The bench: makes its own scaled sandbox, measures, and removes everything it made (also when a step
 * fails or it is interrupted). Figures are written after every phase, so a late failure keeps the rest.
 *
 * Order: create (N docker hosts × M containers) → pause window with the first host count → the
 * throughput runs (full, incremental, restore; ours and bare rsync alternating who goes first) → the
 * pause window with the other host counts (each a re-converge with a changed inventory).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { extraDockerHosts, type DockerScale } from '../sandbox/config';
import { writeInventory } from '../sandbox/inventory';
import { converge, create, deploymentNames, deploymentPaths, destroy, type SandboxOptions } from '../sandbox/steps';
import { LIVE_SUBVOLUME } from '../sandbox/btrfs';
import type { Names } from '../sandbox/config';
import {
  SIZES, afterMutation, applyMutation, planCorpus, planMutation, writeCorpus, type CorpusFile, type SizeName,
} from './corpus';
import { dropCaches, machineFacts, sampleLoad, type LoadSample, type MachineFacts } from './machine';
import {
  BARE_RSYNC, BARE_RSYNC_FIDELITY, BASELINES, SOURCES, barePull, barePush, countFiles, emptyLiveDirs, emptyTargetCopies, latestBackup, operator, rootSh, setupBare, warmPrograms,
  type ListedBackup,
} from './platform';
import { type PauseSeries, type Series } from './stats';
import { renderReport } from './report';

export interface BenchOptions {
  prefix: string;
  size: SizeName;
  seed: string;
  /** Throughput runs (each: full, incremental, restore); 0 skips them. */
  runs: number;
  /** perform_backup runs per docker-host count; 0 skips the pause series. */
  pauseRuns: number;
  /** Docker-host counts of the pause series, ascending. */
  hostCounts: number[];
  containersPerHost: number;
  keep: boolean;
  out: string;
  /** Drop the host's caches before each timed side (default); false: warm caches (--warm-caches). */
  dropCaches: boolean;
}

/** The host that holds the corpus (a source without docker: nothing else writes there). */
export const CORPUS_HOST = 'solr-1';
export const CORPUS_DIR = 'corpus';

type Side = 'ours' | keyof typeof BASELINES;
const SIDES: readonly Side[] = ['ours', 'bare', 'fidelity'];

interface Timed {
  oursMs: number;
  bareMs: number;
  fidelityMs: number;
}

export interface RunRecord {
  run: number;
  /** Who went first, second, third (rotated each run, so warm caches favour no side). */
  order: Side[];
  full: Timed & { backup: string; pauseMs?: number; syncMs?: number };
  incremental: Timed & { changed: number; added: number; deleted: number; backup: string; pauseMs?: number; syncMs?: number };
  restore: Timed & { filesExpected: number; filesAfter: Record<Side, number> };
}

export interface BenchResult {
  startedAt: string;
  finishedAt?: string;
  options: BenchOptions;
  machine?: MachineFacts;
  sandbox?: { rsync: string; openssh: string; zfsFuse: string; bareRsync: string; fidelityRsync: string };
  load: LoadSample[];
  corpus?: { size: SizeName; seed: string; files: number; bytes: number; largeFiles: number; dirs: number; writeMs: number };
  runs: RunRecord[];
  series: Series[];
  pause: PauseSeries[];
  error?: string;
}

function log(msg: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
}

function seriesOf(runs: readonly RunRecord[]): Series[] {
  return [
    { what: 'full backup', ...timings(runs.map((r) => r.full)) },
    { what: 'incremental backup', ...timings(runs.map((r) => r.incremental)) },
    { what: 'full restore', ...timings(runs.map((r) => r.restore)) },
  ];
}

function timings(xs: readonly Timed[]): Omit<Series, 'what'> {
  return { oursMs: xs.map((x) => x.oursMs), bareMs: xs.map((x) => x.bareMs), fidelityMs: xs.map((x) => x.fidelityMs) };
}

function save(res: BenchResult): void {
  mkdirSync(res.options.out, { recursive: true });
  res.series = seriesOf(res.runs);
  writeFileSync(join(res.options.out, 'results.json'), `${JSON.stringify(res, null, 2)}\n`);
  writeFileSync(join(res.options.out, 'results.md'), renderReport(res));
}

function pauseOf(b: ListedBackup): number | undefined {
  return b.manifest?.pause?.durationMs;
}

function syncOf(b: ListedBackup): number | undefined {
  const xs = b.manifest?.sources?.map((s) => s.syncDurationMs ?? 0);
  return xs ? xs.reduce((a, x) => a + x, 0) : undefined;
}

/** Keeps what an operator command printed (its phase table: where ours' time went) beside the results. */
function keepOutput(o: BenchOptions, label: string, stdout: string): void {
  const dir = join(o.out, 'ours');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, `${label}.txt`), stdout);
}

/** A perform_backup timed from outside, with the manifest's own pause and sync figures. */
async function oursBackup(n: Names, o: BenchOptions, label: string): Promise<{ ms: number; backup: ListedBackup }> {
  const { ms, stdout } = await operator(n, 'perform_backup');
  keepOutput(o, label, stdout);
  return { ms, backup: await latestBackup(n) };
}

/** Runs every side in `order`, each through `body` and each from cold caches (unless --warm-caches); resolves with each side's ms. */
async function inOrder(n: Names, o: BenchOptions, order: readonly Side[], body: (side: Side) => Promise<number>, setup?: () => Promise<void>): Promise<Record<Side, number>> {
  const ms = { ours: 0, bare: 0, fidelity: 0 };
  for (const side of order) {
    await setup?.();
    if (o.dropCaches) {
      await dropCaches();
      await warmPrograms(n);
    }
    ms[side] = await body(side);
  }
  return ms;
}

function timedOf(ms: Record<Side, number>): Timed {
  return { oursMs: ms.ours, bareMs: ms.bare, fidelityMs: ms.fidelity };
}

/** One backup by each side: perform_backup (with its manifest's pause and sync) and the bare pushes. */
async function backupAll(n: Names, o: BenchOptions, order: readonly Side[], label: string): Promise<RunRecord['full']> {
  let backup: ListedBackup | undefined;
  const ms = await inOrder(n, o, order, async (side) => {
    if (side !== 'ours') return barePush(n, BASELINES[side]);
    const r = await oursBackup(n, o, label);
    backup = r.backup;
    return r.ms;
  });
  return { ...timedOf(ms), backup: backup!.id, pauseMs: pauseOf(backup!), syncMs: syncOf(backup!) };
}

function secs(t: Timed): string {
  return `ours ${(t.oursMs / 1000).toFixed(1)} s, bare ${(t.bareMs / 1000).toFixed(1)} s, bare -aHAX ${(t.fidelityMs / 1000).toFixed(1)} s`;
}

async function throughputRun(n: Names, o: BenchOptions, run: number, files: CorpusFile[], corpusRoot: string): Promise<{ rec: RunRecord; files: CorpusFile[] }> {
  const order = SIDES.map((_, i) => SIDES[(i + run - 1) % SIDES.length]!);
  log(`run ${run}: full backup (order ${order.join(', ')})`);
  await emptyTargetCopies(n);
  const full = await backupAll(n, o, order, `run${run}-full`);
  log(`run ${run}: full ${secs(full)}`);

  const m = planMutation(files, o.seed, run);
  applyMutation(corpusRoot, o.seed, m);
  const after = afterMutation(files, m);
  const inc = { changed: m.changed.length, added: m.added.length, deleted: m.deleted.length, ...(await backupAll(n, o, order, `run${run}-incremental`)) };
  log(`run ${run}: incremental ${secs(inc)}`);

  await operator(n, 'stop_docker');
  const source = SOURCES.find((s) => s.host === CORPUS_HOST)!;
  const corpusInContainer = `${source.dir}/${CORPUS_DIR}`;
  const filesAfter = { ours: 0, bare: 0, fidelity: 0 };
  let ms: Record<Side, number>;
  try {
    ms = await inOrder(
      n,
      o,
      order,
      async (side) => {
        let t: number;
        if (side === 'ours') {
          const r = await operator(n, 'restore_backup', [inc.backup]);
          keepOutput(o, `run${run}-restore`, r.stdout);
          t = r.ms;
        } else t = await barePull(n, BASELINES[side]);
        filesAfter[side] = await countFiles(n, CORPUS_HOST, corpusInContainer);
        return t;
      },
      () => emptyLiveDirs(n),
    );
  } finally {
    await operator(n, 'start_docker');
  }
  const restore = { ...timedOf(ms), filesExpected: after.length, filesAfter };
  log(`run ${run}: restore ${secs(restore)}`);
  for (const side of SIDES) {
    if (filesAfter[side] !== after.length) throw new Error(`run ${run}: after the ${side} restore the corpus has ${filesAfter[side]} files, expected ${after.length}`);
  }
  return { rec: { run, order, full, incremental: inc, restore }, files: after };
}

/** Points the deployment at the first `hosts` docker hosts (re-writes its inventory, converges). */
async function useDockerHosts(so: SandboxOptions, o: BenchOptions, scale: DockerScale, hosts: number, poolGiB: number): Promise<void> {
  const extra = extraDockerHosts(scale).slice(0, hosts - 2).map((h) => h.name);
  writeInventory(deploymentPaths(so).inventory, o.prefix, { extraDockerHosts: extra, targetPoolGiB: poolGiB });
  log(`converge with ${hosts} docker hosts × ${scale.containersPerHost} containers`);
  await converge(so);
}

async function pauseSeries(n: Names, o: BenchOptions, hosts: number): Promise<PauseSeries> {
  const s: PauseSeries = { dockerHosts: hosts, containersPerHost: o.containersPerHost, paused: [], windowMs: [] };
  for (let i = 1; i <= o.pauseRuns; i++) {
    const r = await oursBackup(n, o, `pause-${hosts}hosts-run${i}`);
    const pause = r.backup.manifest?.pause;
    const paused = (pause?.hosts ?? []).reduce((a, h) => a + (h.paused ?? 0), 0);
    if ((pause?.hosts ?? []).length !== hosts) throw new Error(`backup ${r.backup.id}: the manifest shows ${(pause?.hosts ?? []).length} paused docker hosts, expected ${hosts}`);
    s.paused.push(paused);
    s.windowMs.push(pause?.durationMs ?? NaN);
    log(`pause, ${hosts} hosts, run ${i}: ${pause?.durationMs} ms (${paused} containers)`);
  }
  return s;
}

export async function runBench(o: BenchOptions): Promise<BenchResult> {
  const res: BenchResult = { startedAt: new Date().toISOString(), options: o, load: [], runs: [], series: [], pause: [] };
  const load = sampleLoad();
  const size = SIZES[o.size];
  const maxHosts = Math.max(2, ...o.hostCounts);
  const scale: DockerScale = { dockerHosts: maxHosts, containersPerHost: o.containersPerHost };
  // Room for the corpus plus a full restore's rewrite on the source; the pool holds ~2 full copies per run.
  const sourceImageSize = o.size === 'small' ? '3G' : '16G';
  const poolGiB = o.size === 'small' ? 6 : 40;
  const so: SandboxOptions = { prefix: o.prefix, scale, sourceImageSize, targetPoolGiB: poolGiB, log: (m) => log(`sandbox: ${m}`) };
  let interrupted = false;
  const onSignal = (sig: NodeJS.Signals): void => {
    if (interrupted) return;
    interrupted = true;
    log(`${sig}: removing the sandbox`);
    destroy(so).finally(() => process.exit(130));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    res.machine = await machineFacts();
    save(res);
    log(`create ${o.prefix}: ${maxHosts} docker hosts × ${o.containersPerHost} containers`);
    await create(so);
    const n = deploymentNames(so);
    const counts = [...o.hostCounts].sort((a, b) => a - b);
    await useDockerHosts(so, o, scale, counts[0] ?? 2, poolGiB);
    res.sandbox = {
      rsync: (await rootSh(n, CORPUS_HOST, 'rsync --version | sed -n 1p')).trim(),
      openssh: (await rootSh(n, CORPUS_HOST, 'ssh -V 2>&1')).trim(),
      zfsFuse: (await rootSh(n, 'backup-target', "dpkg-query -W -f '${Version}' zfs-fuse")).trim(),
      bareRsync: BARE_RSYNC,
      fidelityRsync: BARE_RSYNC_FIDELITY,
    };
    if (o.pauseRuns > 0 && counts[0] !== undefined) {
      res.pause.push(await pauseSeries(n, o, counts[0]));
      save(res);
    }
    if (o.runs > 0) {
      const plan = planCorpus(size, o.seed);
      const root = join(deploymentPaths(so).btrfsMount(CORPUS_HOST), LIVE_SUBVOLUME, CORPUS_DIR);
      log(`writing the ${o.size} corpus: ${plan.files.length} files, ${(plan.totalBytes / 2 ** 20).toFixed(0)} MiB`);
      const t0 = performance.now();
      writeCorpus(root, plan);
      res.corpus = {
        size: o.size, seed: o.seed, files: plan.files.length, bytes: plan.totalBytes,
        largeFiles: plan.files.filter((f) => f.size >= 5 * 2 ** 20).length, dirs: plan.dirs.length, writeMs: performance.now() - t0,
      };
      await setupBare(n);
      let files = plan.files;
      for (let run = 1; run <= o.runs; run++) {
        const r = await throughputRun(n, o, run, files, root);
        files = r.files;
        res.runs.push(r.rec);
        save(res);
      }
    }
    if (o.pauseRuns > 0) {
      for (const hosts of counts.slice(1)) {
        await useDockerHosts(so, o, scale, hosts, poolGiB);
        res.pause.push(await pauseSeries(n, o, hosts));
        save(res);
      }
    }
  } catch (e) {
    res.error = e instanceof Error ? e.message : String(e);
    log(`FAILED: ${res.error}`);
  } finally {
    res.load = load.stop();
    res.finishedAt = new Date().toISOString();
    save(res);
    if (!o.keep) await destroy(so);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  return res;
}

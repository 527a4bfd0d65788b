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
import { machineFacts, sampleLoad, type LoadSample, type MachineFacts } from './machine';
import {
  BARE_RSYNC, SOURCES, barePull, barePush, countFiles, emptyLiveDirs, emptyTargetCopies, latestBackup, operator, rootSh, setupBare,
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
}

/** The host that holds the corpus (a source without docker: nothing else writes there). */
export const CORPUS_HOST = 'solr-1';
export const CORPUS_DIR = 'corpus';

export interface RunRecord {
  run: number;
  oursFirst: boolean;
  full: { oursMs: number; bareMs: number; backup: string; pauseMs?: number; syncMs?: number };
  incremental: { changed: number; added: number; deleted: number; oursMs: number; bareMs: number; backup: string; pauseMs?: number; syncMs?: number };
  restore: { oursMs: number; bareMs: number; filesExpected: number; filesAfterOurs: number; filesAfterBare: number };
}

export interface BenchResult {
  startedAt: string;
  finishedAt?: string;
  options: BenchOptions;
  machine?: MachineFacts;
  sandbox?: { rsync: string; openssh: string; zfsFuse: string; bareRsync: string };
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
    { what: 'full backup', oursMs: runs.map((r) => r.full.oursMs), bareMs: runs.map((r) => r.full.bareMs) },
    { what: 'incremental backup', oursMs: runs.map((r) => r.incremental.oursMs), bareMs: runs.map((r) => r.incremental.bareMs) },
    { what: 'full restore', oursMs: runs.map((r) => r.restore.oursMs), bareMs: runs.map((r) => r.restore.bareMs) },
  ];
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

/** A perform_backup timed from outside, with the manifest's own pause and sync figures. */
async function oursBackup(n: Names): Promise<{ ms: number; backup: ListedBackup }> {
  const { ms } = await operator(n, 'perform_backup');
  return { ms, backup: await latestBackup(n) };
}

/** Runs both sides in the given order; the other order next run, so warm caches favour neither. */
async function both(oursFirst: boolean, ours: () => Promise<void>, bare: () => Promise<void>): Promise<void> {
  if (oursFirst) {
    await ours();
    await bare();
  } else {
    await bare();
    await ours();
  }
}

/** One backup of each kind: perform_backup (with its manifest's pause and sync) and the bare pushes. */
async function backupBoth(n: Names, oursFirst: boolean): Promise<RunRecord['full']> {
  const rec: RunRecord['full'] = { oursMs: 0, bareMs: 0, backup: '' };
  await both(
    oursFirst,
    async () => {
      const r = await oursBackup(n);
      Object.assign(rec, { oursMs: r.ms, backup: r.backup.id, pauseMs: pauseOf(r.backup), syncMs: syncOf(r.backup) });
    },
    async () => {
      rec.bareMs = await barePush(n);
    },
  );
  return rec;
}

async function throughputRun(n: Names, o: BenchOptions, run: number, files: CorpusFile[], corpusRoot: string): Promise<{ rec: RunRecord; files: CorpusFile[] }> {
  const oursFirst = run % 2 === 1;
  log(`run ${run}: full backup (${oursFirst ? 'ours' : 'bare rsync'} first)`);
  await emptyTargetCopies(n);
  const full = await backupBoth(n, oursFirst);
  log(`run ${run}: full ours ${(full.oursMs / 1000).toFixed(1)} s, bare ${(full.bareMs / 1000).toFixed(1)} s`);

  const m = planMutation(files, o.seed, run);
  applyMutation(corpusRoot, o.seed, m);
  const after = afterMutation(files, m);
  const inc = { changed: m.changed.length, added: m.added.length, deleted: m.deleted.length, ...(await backupBoth(n, oursFirst)) };
  log(`run ${run}: incremental ours ${(inc.oursMs / 1000).toFixed(1)} s, bare ${(inc.bareMs / 1000).toFixed(1)} s`);

  await operator(n, 'stop_docker');
  const source = SOURCES.find((s) => s.host === CORPUS_HOST)!;
  const corpusInContainer = `${source.dir}/${CORPUS_DIR}`;
  const restore = { oursMs: 0, bareMs: 0, filesExpected: after.length, filesAfterOurs: 0, filesAfterBare: 0 };
  try {
    await both(
      oursFirst,
      async () => {
        await emptyLiveDirs(n);
        restore.oursMs = (await operator(n, 'restore_backup', [inc.backup])).ms;
        restore.filesAfterOurs = await countFiles(n, CORPUS_HOST, corpusInContainer);
      },
      async () => {
        await emptyLiveDirs(n);
        restore.bareMs = await barePull(n);
        restore.filesAfterBare = await countFiles(n, CORPUS_HOST, corpusInContainer);
      },
    );
  } finally {
    await operator(n, 'start_docker');
  }
  log(`run ${run}: restore ours ${(restore.oursMs / 1000).toFixed(1)} s, bare ${(restore.bareMs / 1000).toFixed(1)} s`);
  if (restore.filesAfterOurs !== after.length || restore.filesAfterBare !== after.length) {
    throw new Error(`run ${run}: after restore the corpus has ${restore.filesAfterOurs} (ours) / ${restore.filesAfterBare} (bare) files, expected ${after.length}`);
  }
  return { rec: { run, oursFirst, full, incremental: inc, restore }, files: after };
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
    const r = await oursBackup(n);
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

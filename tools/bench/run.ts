/**
 * The bench: makes its own scaled sandbox, measures, and removes everything it made (also when a step
 * fails or it is interrupted). Figures are written after every phase, so a late failure keeps the rest.
 *
 * Order: create (N docker hosts × M containers) → pause series with the first host count → the
 * throughput runs (full, incremental, restore; ours, the bare rsync baselines and the peers, the order
 * rotated every run) → the pause series with the other host counts (each a re-converge with a changed
 * inventory) → the scale series (the corpus removed; per file count a tree of small files, a full
 * backup by each side, then the incrementals).
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { extraDockerHosts, type DockerScale } from '../sandbox/config';
import { writeInventory } from '../sandbox/inventory';
import { converge, create, deploymentNames, deploymentPaths, destroy, type SandboxOptions } from '../sandbox/steps';
import { LIVE_SUBVOLUME } from '../sandbox/btrfs';
import type { Names } from '../sandbox/config';
import {
  SIZES, afterMutation, applyMutation, planCorpus, planMutation, planMutationOf, writeCorpus, type CorpusFile, type SizeName,
} from './corpus';
import { dropCaches, machineFacts, sampleLoad, type LoadSample, type MachineFacts } from './machine';
import {
  BARE_RSYNC, BARE_RSYNC_FIDELITY, BASELINES, SOURCES, afterCommit, barePull, barePush, countFiles, syncBareCopies, emptyLiveDirs, emptyTargetCopies, latestBackup, operator, peerBackup, peerRestore,
  rootSh, setupBare, syslogLines, storeBytes, targetLayout, warmPrograms, type ListedBackup, type TargetLayout,
} from './platform';
import { parseVersion, type PeerBackupSummary, type PeerName } from './peers';
import { SIDE_LABELS, type PauseSeries, type Series, type Side } from './stats';
import type { TargetBackend } from '../sandbox/inventory';
import { renderReport } from './report';
import { SCALE_MIX, formatCount, parseListing, planScale, scaleMutationCounts, scaleRoomGiB, scaleSidesOf, type Listing } from './scale';

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
  /** The target's backend (`backup_target_backend`); default zfs. */
  target: TargetBackend;
  /** Other backup tools measured beside ours and bare rsync (--peers); none by default. */
  peers: PeerName[];
  /** File counts of the scale series, ascending (--scale); none by default. */
  scale: number[];
  /** Incrementals per file count of the scale series (--scale-runs). */
  scaleRuns: number;
}

/** The host that holds the corpus (a source without docker: nothing else writes there). */
export const CORPUS_HOST = 'solr-1';
export const CORPUS_DIR = 'corpus';
/** The scale series' tree, beside the corpus. */
export const SCALE_DIR = 'scale';
/** The corpus host's live dir, as its containers see it. */
const CORPUS_LIVE_DIR = SOURCES.find((s) => s.host === CORPUS_HOST)!.dir;

/** Every side of a run: ours, the two baselines, then the peers asked for. */
export function sidesOf(peers: readonly PeerName[]): Side[] {
  return ['ours', 'bare', 'fidelity', ...peers];
}

/** A run's order: the sides rotated by the run number, so warm caches favour no side. */
export function orderOf(sides: readonly Side[], run: number): Side[] {
  return sides.map((_, i) => sides[(i + run - 1) % sides.length]!);
}

type Times = Partial<Record<Side, number>>;

interface BackupRecord {
  /** Each side's wall time, ms. */
  ms: Times;
  /** Each side's store size right after its backup, bytes (platform.ts storeBytes). */
  storeBytes: Times;
  backup: string;
  pauseMs?: number;
  syncMs?: number;
  /**
   * A dir store's rebuild of current after ours' commit, ms (its capsule's syslog line): it runs
   * after perform_backup has answered, and the bench waits for it, untimed, before the next side.
   */
  rebuildMs?: number;
  /** `sync -f` of the target's bare copies right after `rsync -aHAX`'s, ms: what writing them to disk adds. */
  fidelitySyncMs?: number;
  /** What each peer reported about its backup, per source. */
  peers?: Partial<Record<PeerName, PeerBackupSummary[]>>;
}

export interface RunRecord {
  run: number;
  /** Who went first, second, … (rotated each run, so warm caches favour no side). */
  order: Side[];
  full: BackupRecord;
  incremental: BackupRecord & { changed: number; added: number; deleted: number };
  restore: { ms: Times; filesExpected: number; filesAfter: Times };
}

/** One file count of the scale series: its tree, the full backups (set-up), the incrementals. */
export interface ScaleRecord {
  /** The source holding the tree, and the tree's path there. */
  host: string;
  dir: string;
  files: number;
  dirs: number;
  bytes: number;
  writeMs: number;
  /** Docker hosts in the inventory (ours pauses them all). */
  dockerHosts: number;
  full: BackupRecord;
  incrementals: Array<
    BackupRecord & {
      run: number;
      order: Side[];
      changed: number;
      added: number;
      deleted: number;
      /** perform_rsync's listing and comparison with the base, per source host (from its syslog). */
      listing: Partial<Record<string, Listing>>;
    }
  >;
}

export interface BenchResult {
  startedAt: string;
  finishedAt?: string;
  options: BenchOptions;
  machine?: MachineFacts;
  sandbox?: { rsync: string; openssh: string; store: string; bareRsync: string; fidelityRsync: string; restic?: string; borg?: string };
  load: LoadSample[];
  corpus?: { size: SizeName; seed: string; files: number; bytes: number; largeFiles: number; dirs: number; writeMs: number };
  runs: RunRecord[];
  series: Series[];
  pause: PauseSeries[];
  scale?: ScaleRecord[];
  error?: string;
}

function log(msg: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
}

/** `rsync -aHAX` then its sync, per run, when every run measured the sync. */
function synced(backups: readonly BackupRecord[]): Pick<Series, 'fidelitySyncedMs'> {
  const xs = backups.map((b) => (b.ms.fidelity === undefined || b.fidelitySyncMs === undefined ? undefined : b.ms.fidelity + b.fidelitySyncMs));
  return xs.length > 0 && xs.every((x) => x !== undefined) ? { fidelitySyncedMs: xs as number[] } : {};
}

export function seriesOf(runs: readonly RunRecord[]): Series[] {
  const collect = (xs: ReadonlyArray<Times>): Partial<Record<Side, number[]>> => {
    const out: Partial<Record<Side, number[]>> = {};
    for (const x of xs) for (const [side, v] of Object.entries(x) as Array<[Side, number | undefined]>) if (v !== undefined) (out[side] ??= []).push(v);
    return out;
  };
  return [
    { what: 'full backup', ms: collect(runs.map((r) => r.full.ms)), storeBytes: collect(runs.map((r) => r.full.storeBytes)), ...synced(runs.map((r) => r.full)) },
    { what: 'incremental backup', ms: collect(runs.map((r) => r.incremental.ms)), storeBytes: collect(runs.map((r) => r.incremental.storeBytes)), ...synced(runs.map((r) => r.incremental)) },
    { what: 'full restore', ms: collect(runs.map((r) => r.restore.ms)) },
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

/** Keeps what an operator command printed (its phase table: where ours' time went) beside the results. */
function keepOutput(o: BenchOptions, label: string, stdout: string): void {
  const dir = join(o.out, 'ours');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, `${label}.txt`), stdout);
}

/** A perform_backup timed in the director's shell (operator), with the manifest's own pause and sync figures. */
async function oursBackup(n: Names, o: BenchOptions, t: TargetLayout, label: string): Promise<{ ms: number; backup: ListedBackup; rebuildMs?: number }> {
  const { ms, stdout } = await operator(n, 'perform_backup');
  keepOutput(o, label, stdout);
  const backup = await latestBackup(n);
  const rebuildMs = await afterCommit(n, t, backup.id);
  return { ms, backup, ...(rebuildMs === undefined ? {} : { rebuildMs }) };
}

/** Runs every side in `order`, each through `body` and each from cold caches (unless --warm-caches); resolves with each side's ms. */
async function inOrder(n: Names, o: BenchOptions, order: readonly Side[], body: (side: Side) => Promise<number>, setup?: () => Promise<void>): Promise<Times> {
  const ms: Times = {};
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

/** The store size of a side after its backup (untimed). */
function storeOf(n: Names, t: TargetLayout, side: Side): Promise<number> {
  return storeBytes(n, t, side === 'bare' ? 'plain' : side);
}

/** One backup by each side: perform_backup (with its manifest's pause and sync), the bare pushes, the peers. */
async function backupAll(n: Names, o: BenchOptions, t: TargetLayout, order: readonly Side[], label: string, archive: string): Promise<BackupRecord> {
  let backup: ListedBackup | undefined;
  let rebuildMs: number | undefined;
  let fidelitySyncMs: number | undefined;
  const store: Times = {};
  const peers: Partial<Record<PeerName, PeerBackupSummary[]>> = {};
  const ms = await inOrder(n, o, order, async (side) => {
    let ms: number;
    if (side === 'ours') {
      const r = await oursBackup(n, o, t, label);
      backup = r.backup;
      rebuildMs = r.rebuildMs;
      ms = r.ms;
    } else if (side === 'bare' || side === 'fidelity') {
      ms = await barePush(n, t, BASELINES[side]);
      if (side === 'fidelity') fidelitySyncMs = await syncBareCopies(n, t);
    } else {
      const r = await peerBackup(n, t, side, archive);
      peers[side] = r.summaries;
      ms = r.ms;
    }
    store[side] = await storeOf(n, t, side);
    return ms;
  });
  return {
    ms,
    storeBytes: store,
    backup: backup!.id,
    pauseMs: pauseOf(backup!),
    syncMs: syncOf(backup!),
    ...(rebuildMs === undefined ? {} : { rebuildMs }),
    ...(fidelitySyncMs === undefined ? {} : { fidelitySyncMs }),
    ...(o.peers.length ? { peers } : {}),
  };
}

/** The dir store's rebuild of current after ours' backup, for the log (untimed, waited for). */
function rebuilt(r: BackupRecord): string {
  return r.rebuildMs === undefined ? '' : ` (then the store's current made again in ${(r.rebuildMs / 1000).toFixed(1)} s, untimed)`;
}

function secs(ms: Times): string {
  return (Object.entries(ms) as Array<[Side, number]>).map(([side, v]) => `${SIDE_LABELS[side]} ${(v / 1000).toFixed(1)} s`).join(', ');
}

async function throughputRun(n: Names, o: BenchOptions, t: TargetLayout, run: number, files: CorpusFile[], corpusRoot: string): Promise<{ rec: RunRecord; files: CorpusFile[] }> {
  const sides = sidesOf(o.peers);
  const order = orderOf(sides, run);
  log(`run ${run}: full backup (order ${order.join(', ')})`);
  await emptyTargetCopies(n, t, o.peers);
  const full = await backupAll(n, o, t, order, `run${run}-full`, `run${run}-full`);
  log(`run ${run}: full ${secs(full.ms)}${rebuilt(full)}`);

  const m = planMutation(files, o.seed, run);
  applyMutation(corpusRoot, o.seed, m);
  const after = afterMutation(files, m);
  const incArchive = `run${run}-incremental`;
  const inc = { changed: m.changed.length, added: m.added.length, deleted: m.deleted.length, ...(await backupAll(n, o, t, order, incArchive, incArchive)) };
  log(`run ${run}: incremental ${secs(inc.ms)}${rebuilt(inc)}`);

  await operator(n, 'stop_docker');
  const corpusInContainer = `${CORPUS_LIVE_DIR}/${CORPUS_DIR}`;
  const filesAfter: Times = {};
  let ms: Times;
  try {
    ms = await inOrder(
      n,
      o,
      order,
      async (side) => {
        let ms: number;
        if (side === 'ours') {
          const r = await operator(n, 'restore_backup', [inc.backup]);
          keepOutput(o, `run${run}-restore`, r.stdout);
          ms = r.ms;
        } else if (side === 'bare' || side === 'fidelity') ms = await barePull(n, t, BASELINES[side]);
        else ms = await peerRestore(n, t, side, incArchive);
        filesAfter[side] = await countFiles(n, CORPUS_HOST, corpusInContainer);
        return ms;
      },
      () => emptyLiveDirs(n),
    );
  } finally {
    await operator(n, 'start_docker');
  }
  const restore = { ms, filesExpected: after.length, filesAfter };
  log(`run ${run}: restore ${secs(ms)}`);
  for (const side of sides) {
    if (filesAfter[side] !== after.length) throw new Error(`run ${run}: after the ${side} restore the corpus has ${filesAfter[side]} files, expected ${after.length}`);
  }
  return { rec: { run, order, full, incremental: inc, restore }, files: after };
}

/** What each source's perform_rsync said of listing and comparing its tree in the push whose base was `base`. */
async function listingOf(n: Names, base: string): Promise<Partial<Record<string, Listing>>> {
  const out: Partial<Record<string, Listing>> = {};
  for (const s of SOURCES) {
    const l = parseListing(await syslogLines(n, s.host, 'listed and compared'), base);
    if (l) out[s.host] = l;
  }
  return out;
}

/**
 * One file count of the scale series: the tree written (from the host, like the corpus), every side's
 * full backup, then per run 0.1 % of the files changed and every side's incremental. `keep` is
 * called with the record whenever it grew.
 */
async function scaleSeries(n: Names, o: BenchOptions, t: TargetLayout, files: number, dockerHosts: number, root: string, keep: (rec: ScaleRecord) => void): Promise<void> {
  const sides = scaleSidesOf(o.peers);
  const label = `scale${formatCount(files)}`;
  const plan = planScale(files, o.seed);
  log(`${label}: writing ${plan.files.length} files in ${plan.dirs.length} directories, ${(plan.totalBytes / 2 ** 20).toFixed(0)} MiB`);
  rmSync(root, { recursive: true, force: true });
  const t0 = performance.now();
  writeCorpus(root, plan);
  const writeMs = performance.now() - t0;
  log(`${label}: written in ${(writeMs / 1000).toFixed(1)} s`);
  await emptyTargetCopies(n, t, o.peers);
  const full = await backupAll(n, o, t, orderOf(sides, 1), `${label}-full`, `${label}-full`);
  log(`${label}: full ${secs(full.ms)}${rebuilt(full)}`);
  const rec: ScaleRecord = { host: CORPUS_HOST, dir: `${CORPUS_LIVE_DIR}/${SCALE_DIR}`, files, dirs: plan.dirs.length, bytes: plan.totalBytes, writeMs, dockerHosts, full, incrementals: [] };
  keep(rec);
  let tree = plan.files;
  let base = full.backup;
  for (let run = 1; run <= o.scaleRuns; run++) {
    const m = planMutationOf(tree, o.seed, run, scaleMutationCounts(files), SCALE_MIX);
    applyMutation(root, o.seed, m);
    tree = afterMutation(tree, m);
    const order = orderOf(sides, run);
    const name = `${label}-incremental${run}`;
    const inc = await backupAll(n, o, t, order, name, name);
    const listing = await listingOf(n, base);
    base = inc.backup;
    rec.incrementals.push({ run, order, changed: m.changed.length, added: m.added.length, deleted: m.deleted.length, ...inc, listing });
    const own = listing[CORPUS_HOST];
    log(`${label}: incremental ${run} ${secs(inc.ms)}${rebuilt(inc)}; ours on ${CORPUS_HOST}: ${own ? `${own.entries} entries differed, listed and compared in ${own.ms} ms` : 'a whole-tree push (no listing)'}`);
    keep(rec);
  }
}

/** Points the deployment at the first `hosts` docker hosts (re-writes its inventory, converges). */
async function useDockerHosts(so: SandboxOptions, o: BenchOptions, scale: DockerScale, hosts: number, poolGiB: number): Promise<void> {
  const extra = extraDockerHosts(scale).slice(0, hosts - 2).map((h) => h.name);
  writeInventory(deploymentPaths(so).inventory, o.prefix, { extraDockerHosts: extra, targetPoolGiB: poolGiB, targetBackend: o.target });
  log(`converge with ${hosts} docker hosts × ${scale.containersPerHost} containers`);
  await converge(so);
}

async function pauseSeries(n: Names, o: BenchOptions, t: TargetLayout, hosts: number): Promise<PauseSeries> {
  const s: PauseSeries = { dockerHosts: hosts, containersPerHost: o.containersPerHost, paused: [], freezeMs: [], windowMs: [] };
  for (let i = 1; i <= o.pauseRuns; i++) {
    const r = await oursBackup(n, o, t, `pause-${hosts}hosts-run${i}`);
    const pause = r.backup.manifest?.pause;
    const paused = (pause?.hosts ?? []).reduce((a, h) => a + (h.paused ?? 0), 0);
    if ((pause?.hosts ?? []).length !== hosts) throw new Error(`backup ${r.backup.id}: the manifest shows ${(pause?.hosts ?? []).length} paused docker hosts, expected ${hosts}`);
    s.paused.push(paused);
    s.freezeMs.push(pause?.freezeMs ?? NaN);
    s.windowMs.push(pause?.durationMs ?? NaN);
    log(`pause, ${hosts} hosts, run ${i}: freeze ${pause?.freezeMs} ms, window ${pause?.durationMs} ms (${paused} containers)`);
  }
  return s;
}

/** The target's store software and its version, e.g. `zfs-fuse 0.7.0-25+b1`, `btrfs-progs 6.2-1`, `dir (coreutils 9.1-1)`. */
async function storeVersion(n: Names, backend: TargetBackend): Promise<string> {
  const pkg = backend === 'zfs' ? 'zfs-fuse' : backend === 'btrfs' ? 'btrfs-progs' : 'coreutils';
  const v = (await rootSh(n, 'backup-target', `dpkg-query -W -f '\${Version}' ${pkg}`)).trim();
  return backend === 'dir' ? `dir store (${pkg} ${v})` : `${pkg} ${v}`;
}

export async function runBench(o: BenchOptions): Promise<BenchResult> {
  const res: BenchResult = { startedAt: new Date().toISOString(), options: o, load: [], runs: [], series: [], pause: [] };
  const load = sampleLoad();
  const size = SIZES[o.size];
  const maxHosts = Math.max(2, ...o.hostCounts);
  const scale: DockerScale = { dockerHosts: maxHosts, containersPerHost: o.containersPerHost };
  // Room for the corpus plus a full restore's rewrite on the source; the pool holds ~2 full copies per run;
  // and the scale series' largest tree.
  const room = scaleRoomGiB(o.scale);
  const sourceImageSize = `${(o.size === 'large' ? 16 : 3) + room.source}G`;
  const poolGiB = (o.size === 'large' ? 40 : 6) + room.pool;
  const so: SandboxOptions = { prefix: o.prefix, scale, sourceImageSize, targetPoolGiB: poolGiB, targetBackend: o.target, log: (m) => log(`sandbox: ${m}`) };
  const t = targetLayout(o.target);
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
    let hosts = counts[0] ?? 2;
    await useDockerHosts(so, o, scale, hosts, poolGiB);
    res.sandbox = {
      rsync: (await rootSh(n, CORPUS_HOST, 'rsync --version | sed -n 1p')).trim(),
      openssh: (await rootSh(n, CORPUS_HOST, 'ssh -V 2>&1')).trim(),
      store: await storeVersion(n, o.target),
      bareRsync: BARE_RSYNC,
      fidelityRsync: BARE_RSYNC_FIDELITY,
      ...(o.peers.includes('restic') ? { restic: parseVersion('restic', await rootSh(n, CORPUS_HOST, 'restic version')) } : {}),
      ...(o.peers.includes('borg') ? { borg: parseVersion('borg', await rootSh(n, CORPUS_HOST, 'borg --version')) } : {}),
    };
    if (o.pauseRuns > 0 && counts[0] !== undefined) {
      res.pause.push(await pauseSeries(n, o, t, counts[0]));
      save(res);
    }
    const live = join(deploymentPaths(so).btrfsMount(CORPUS_HOST), LIVE_SUBVOLUME);
    // The baselines' and the peers' keys and area, made once for whichever series needs them first.
    let benchArea = false;
    const useBenchArea = async (): Promise<void> => {
      // The bench's second btrfs (btrfs target) holds the baselines' copies and the peers' repositories.
      if (!benchArea) await setupBare(n, t, poolGiB);
      benchArea = true;
    };
    if (o.runs > 0) {
      const plan = planCorpus(size, o.seed);
      const root = join(live, CORPUS_DIR);
      log(`writing the ${o.size} corpus: ${plan.files.length} files, ${(plan.totalBytes / 2 ** 20).toFixed(0)} MiB`);
      const t0 = performance.now();
      // A kept sandbox (--keep) still holds the last run's corpus, mutations included.
      rmSync(root, { recursive: true, force: true });
      writeCorpus(root, plan);
      res.corpus = {
        size: o.size, seed: o.seed, files: plan.files.length, bytes: plan.totalBytes,
        largeFiles: plan.files.filter((f) => f.size >= 5 * 2 ** 20).length, dirs: plan.dirs.length, writeMs: performance.now() - t0,
      };
      await useBenchArea();
      let files = plan.files;
      for (let run = 1; run <= o.runs; run++) {
        const r = await throughputRun(n, o, t, run, files, root);
        files = r.files;
        res.runs.push(r.rec);
        save(res);
      }
    }
    if (o.pauseRuns > 0) {
      for (const more of counts.slice(1)) {
        hosts = more;
        await useDockerHosts(so, o, scale, hosts, poolGiB);
        res.pause.push(await pauseSeries(n, o, t, hosts));
        save(res);
      }
    }
    if (o.scale.length > 0) {
      // Only the scale tree is measured: the corpus goes first.
      rmSync(join(live, CORPUS_DIR), { recursive: true, force: true });
      await useBenchArea();
      const records = (res.scale ??= []);
      for (const files of o.scale) {
        await scaleSeries(n, o, t, files, hosts, join(live, SCALE_DIR), (rec) => {
          if (!records.includes(rec)) records.push(rec);
          save(res);
        });
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

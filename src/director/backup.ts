/**
 * perform_backup: the backup's phases as a straight line with one guarded detour.
 *
 *   connect → [cleanup of a crashed run] → prepare_target (the window's sessions open beside it)
 *     → pause ─► snapshot ─┐  (both bounded by the pause deadline)
 *                          └─► unpause   (ALWAYS, on every docker host, whatever happened above)
 *     → sync → commit → remove_snapshots (each source's removal starts as its own sync ends)
 *
 * The run record in the state dir is rewritten at every phase change, so a crash at any point
 * leaves enough to clean up: whether a pause may be in force, whether snapshots may exist.
 */
import type { CapsuleResult } from '../ssh/types';
import { num, runCapsule } from './capsule';
import { linkedSignal, sleep, type LinkedSignal } from './concurrency';
import { interruptSignalName, type Context } from './context';
import { DirectorError, InterruptedError, PhaseError, asDirectorError } from './errors';
import { EXIT } from './exit-codes';
import { formatBytes, formatDuration } from './format';
import { fullScansDue } from './full-scan';
import { withLock } from './guard';
import { BACKUP_ID, backupIdAt } from './ids';
import { pauseWindow, planDigest, snapshotsInside, type Manifest, type PauseHostRecord, type PauseWindow, type SourceRecord } from './manifest';
import { capsuleOnHosts, capsulePhase, connectAll, runOnHosts, runPhase, throwIfFailed, type PhaseOutcome } from './phase';
import { PreOpened } from './preopened';
import { targetHosts } from '../plan/lookup';
import { runsToForget, type RunRecord } from './state';
import { leftoversOf, recoverLeftovers } from './recovery';
import { phaseTable } from './summary';
import { writeMetricsQuietly } from './health';
import { pruneStep } from './prune';
import { replicateStep } from './replicate';

/** A source's snapshot removal, as a phase of its own (beside the syncs, or after the commit). */
const REMOVE_SNAPSHOT = { phase: 'remove_snapshots', exitCode: EXIT.REMOVE_SNAPSHOTS, capsule: 'remove_source_snapshot' } as const;

/** An unpause that takes longer than this is given up on: the host's own deadline ends the pause. */
const DEFAULT_UNPAUSE_TIMEOUT_MS = 60_000;

export interface BackupOptions {
  /** Push whole trees, comparing every entry on both sides, even where a base would allow only the changes. */
  fullScan?: boolean;
}

export async function performBackup(ctx: Context, options: BackupOptions = {}): Promise<number> {
  return withLock(ctx, 'perform_backup', async () => {
    const id = await freshId(ctx);
    const code = await new BackupRun(ctx, id, options).run();
    return afterBackup(ctx, code, id);
  });
}

/** A step run after a complete backup, under the same lock: its name says what failed. */
interface AfterStep {
  name: string;
  run: (ctx: Context, id: string) => Promise<number>;
}

/**
 * Replication first: pruning keeps the newest backup each remote shares with the target (its next
 * incremental's base), and after replication that is this run's backup, so older bases may go.
 */
const AFTER_STEPS: readonly AfterStep[] = [
  { name: 'replication', run: (ctx) => replicateStep(ctx) },
  { name: 'pruning', run: (ctx, id) => pruneStep(ctx, false, { takenByRun: id }) },
];

/** After a complete backup, the after-steps; the Prometheus metrics are rewritten after every run. */
async function afterBackup(ctx: Context, code: number, id: string): Promise<number> {
  let result = code;
  if (code === EXIT.OK && !ctx.interrupt.aborted) {
    const failed: string[] = [];
    for (const step of AFTER_STEPS) {
      const r = await step.run(ctx, id);
      if (r !== EXIT.OK) failed.push(`${step.name} (exit ${r})`);
    }
    if (failed.length > 0) {
      ctx.report.warn('done', `backup complete, but ${failed.join(' and ')} failed`);
      result = EXIT.POST_BACKUP;
    }
  }
  await writeMetricsQuietly(ctx);
  forgetOldRuns(ctx);
  return result;
}

/** Bounds the director's history (state.ts, runsToForget); a record that cannot go stays, said once. */
function forgetOldRuns(ctx: Context): void {
  try {
    for (const id of runsToForget(ctx.state.runs())) ctx.state.forgetRun(id);
  } catch (e) {
    ctx.report.warn('done', `cannot delete old run records in ${ctx.state.runsDir}: ${(e as Error).message}`);
  }
}

/** How long a failed run waits for its commit sessions to end once called off. */
const COMMIT_OFF_WAIT_MS = 5_000;

/** An id not used by an earlier run: two runs in the same second wait for the next one. */
async function freshId(ctx: Context): Promise<string> {
  for (let i = 0; i < 3; i++) {
    const id = backupIdAt(ctx.now());
    if (!ctx.state.hasRun(id)) return id;
    await sleep(1000 - (ctx.now() % 1000) + 5);
  }
  throw new DirectorError('could not find an unused backup id', EXIT.INTERNAL, 'start');
}

/** The manifest's account of how a push found what to send (perform_rsync's result). */
function scanOf(sync: CapsuleResult, base: string | undefined): Pick<SourceRecord, 'scan' | 'base' | 'changedEntries'> {
  if (sync.scan === 'changes' && base !== undefined) return { scan: 'changes', base, changedEntries: num(sync, 'changedEntries') };
  return sync.scan === 'full' ? { scan: 'full' } : {};
}

class BackupRun {
  private readonly record: RunRecord;
  private committed = false;
  /** Targets whose part of a half-committed backup was removed again (several targets only). */
  private discarded: string[] = [];
  private pause: PauseWindow | undefined;
  private readonly snapshots = new Map<string, CapsuleResult>();
  private readonly syncs = new Map<string, CapsuleResult>();
  /**
   * The commit's sessions, opened on every target as the syncs start and given the manifest with
   * their go: its ssh channel, sudo and bash then start while the sources push (~70 ms less to
   * wait for after the last push).
   */
  private commits: PreOpened | undefined;
  /**
   * Snapshot removals started as each source's sync ended: once copied, a snapshot has nothing
   * left to give (a failed commit discards the backup, it never syncs again), so its removal runs
   * beside the next syncs and the commit.
   */
  private readonly removals: Array<Promise<PhaseOutcome<CapsuleResult>>> = [];
  /**
   * Per target: the backup its store was set back to by prepare_target, which each of its
   * sources' pushes may take as the base of a push of only the changes (templates/source/changes).
   */
  private readonly bases = new Map<string, string>();
  /** Sources whose push compares every entry although a base would allow only the changes, and why. */
  private fullScans = new Map<string, string>();
  /**
   * Per source tree: the store's names that share their file with another (prepare_target's
   * `linked`, base64 of NUL-terminated `inode<TAB>path` records), for a push that writes in place.
   */
  private readonly linked = new Map<string, string>();
  /** Per target: its newest complete backup not dated in the future (prepare_target). */
  private readonly newestOn = new Map<string, string>();

  constructor(
    private readonly ctx: Context,
    readonly id: string,
    private readonly options: BackupOptions = {},
  ) {
    this.record = {
      id,
      command: 'perform_backup',
      pid: ctx.pid,
      director: ctx.plan.director,
      status: 'running',
      phase: 'start',
      startedAt: ctx.now(),
      pauseInProgress: false,
      snapshotsMayExist: false,
      phases: [],
    };
  }

  private get plan() {
    return this.ctx.plan;
  }
  private get sourceHosts(): string[] {
    return this.plan.sources.map((s) => s.host);
  }
  private get targets(): string[] {
    return targetHosts(this.plan);
  }

  private save(): void {
    this.record.phases = this.ctx.report.phases;
    this.ctx.state.saveRun(this.record);
  }

  /** For the paths that must go on whatever happens (unpause, cleanup): a full disk must not stop them. */
  private trySave(): void {
    try {
      this.save();
    } catch (e) {
      this.ctx.report.warn(this.record.phase, `cannot write the run record: ${(e as Error).message}`);
    }
  }

  /** Moves to a phase: persisted first, and refused once the operator interrupted. */
  private enter(phase: string): void {
    this.record.phase = phase;
    this.save();
    if (this.ctx.interrupt.aborted) throw new InterruptedError(phase, interruptSignalName(this.ctx));
  }

  async run(): Promise<number> {
    const { ctx, plan } = this;
    const records = ctx.state.runs();
    const leftovers = leftoversOf(records);
    this.fullScans = fullScansDue(records, this.sourceHosts, ctx.now(), plan.settings.fullScanDays, this.options.fullScan === true);
    ctx.report.info('start', `backup ${this.id} of ${plan.sources.length} sources to ${this.targets.join(', ')}, pausing ${plan.dockerHosts.length} docker hosts`);
    this.save();
    let failure: DirectorError | undefined;
    try {
      this.enter('connect');
      const hosts = [...this.targets, ...this.sourceHosts, ...plan.dockerHosts];
      await connectAll(ctx, hosts, EXIT.CONNECT);
      if (leftovers.length > 0) {
        this.enter('cleanup');
        await recoverLeftovers(ctx, this.id, leftovers);
      }
      this.enter('prepare_target');
      // The window's sessions are opened while the target is prepared (~150 ms less per run). They
      // are gated: a director that dies here leaves sessions that read end-of-file and do nothing,
      // and nothing is paused before both are done; the record says prepare_target until then.
      const prepared = capsulePhase(ctx, this.targets, {
        phase: 'prepare_target',
        exitCode: EXIT.PREPARE_TARGET,
        capsule: 'prepare_target',
        exec: { signal: ctx.interrupt },
        // The trees whose push must compare every entry: the store lists their shared files too.
        stdinFor: (host) => plan.sources.filter((s) => s.target === host && this.fullScans.has(s.host)).map((s) => `${s.treeName}\n`).join(''),
        summarize: (r) => ({ detail: `${formatBytes(num(r, 'freeBytes'))} free${typeof r.base === 'string' ? `, base ${r.base}` : ''}` }),
        onDone: (host, r) => {
          if (typeof r.base === 'string') this.bases.set(host, r.base);
          if (typeof r.newest === 'string' && BACKUP_ID.test(r.newest)) this.newestOn.set(host, r.newest);
          const linked = r.linked;
          if (linked !== null && typeof linked === 'object') {
            for (const [tree, list] of Object.entries(linked as Record<string, unknown>)) {
              if (typeof list === 'string' && /^([A-Za-z0-9+/=]*|-)$/.test(list)) this.linked.set(tree, list);
            }
          }
        },
      });
      // Awaited in pauseWindow; this only keeps a failure there from being reported as unhandled.
      prepared.catch(() => undefined);
      await this.pauseWindow(prepared);
      this.enter('sync');
      await this.sync();
      this.enter('commit');
      await this.commit();
      // After the commit the backup is complete whatever happens; no more interrupt checks.
      this.record.phase = 'remove_snapshots';
      this.save();
      await this.removeSnapshots(true);
    } catch (e) {
      failure = asDirectorError(e, this.record.phase);
      if (ctx.interrupt.aborted && !(failure instanceof InterruptedError)) {
        failure = new InterruptedError(failure.phase, interruptSignalName(ctx));
      }
    }
    // Sent at once; waited for beside the snapshots' removal, and at most a few seconds: a session
    // on a connection gone quiet would hold the exit (closing the connection ends it anyway).
    const commitsOff = this.commits?.callOff();
    if (failure !== undefined && !this.committed && this.record.snapshotsMayExist) {
      // Do not leave snapshots filling their volumes until the next run.
      await this.removeSnapshots(false);
    }
    if (commitsOff !== undefined) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([commitsOff, new Promise<void>((resolve) => (timer = setTimeout(resolve, COMMIT_OFF_WAIT_MS)))]);
      clearTimeout(timer);
    }
    return this.finish(failure);
  }

  /** pause → snapshot, then unpause no matter what. Only this method may leave containers paused. */
  private async pauseWindow(prepared: Promise<unknown>): Promise<void> {
    const { ctx, plan } = this;
    const deadlineSeconds = plan.settings.pauseDeadlineSeconds;
    // The director gives up on pause and snapshots when the hosts' own deadline would unpause
    // anyway: past it the snapshots cannot be consistent, so waiting longer gains nothing. The
    // same bound covers opening the sessions (nothing is paused then), counted from the target
    // being ready: a store healed by prepare_target may take longer than the deadline, and the
    // sessions opened beside it just wait.
    const window = linkedSignal(ctx.interrupt);
    // Not abortable by the operator's interrupt (the unpause is what the operator wants to happen).
    const unpauseLimit = linkedSignal(undefined);
    // Every session of the window is opened first, each waiting for its go (preopened.ts): ssh,
    // sudo, bash and the capsules' preparations stay outside the window, and nothing is paused
    // unless every docker host already holds the session that will unpause it.
    const pauses = new PreOpened(ctx, { phase: 'pause', exitCode: EXIT.PAUSE, capsule: 'pause_containers' }, plan.dockerHosts, { signal: window.signal });
    const snapshots = new PreOpened(ctx, { phase: 'snapshot', exitCode: EXIT.SNAPSHOT, capsule: 'prepare_source_snapshot' }, this.sourceHosts, { signal: window.signal });
    const unpauses = new PreOpened(ctx, { phase: 'unpause', exitCode: EXIT.UNPAUSE, capsule: 'unpause_containers' }, plan.dockerHosts, { signal: unpauseLimit.signal });
    const sessions = [pauses, snapshots, unpauses];
    try {
      await prepared;
      this.refuseIdNotAfterNewest();
      window.arm(deadlineSeconds * 1000);
      await Promise.all(sessions.map((p) => p.allReady()));
      this.enter('pause');
      await this.refuseUnopened(sessions);
      await this.pauseAndSnapshot(pauses, snapshots, unpauses, window, unpauseLimit);
    } finally {
      window.dispose();
      unpauseLimit.dispose();
      await Promise.all(sessions.map((p) => p.callOff()));
    }
  }

  /**
   * Backup ids are read as times: by restore_latest_backup, retention and replication. An id that
   * is not after a target's newest backup (the director's clock stepped back) would be taken for
   * an older backup than it is, so the run stops before anything is paused.
   */
  private refuseIdNotAfterNewest(): void {
    const behind = [...this.newestOn].filter(([, newest]) => newest >= this.id);
    if (behind.length === 0) return;
    throw new DirectorError(
      `this backup's id ${this.id} (the director's clock) is not after the newest backup on ${behind.map(([t, n]) => `${t} (${n})`).join(', ')}: the director's clock is behind (did it step back?); set it right, or wait until it is past that backup; nothing was paused`,
      EXIT.PREPARE_TARGET,
      'prepare_target',
    );
  }

  /** Before anything is paused: a session that could not be opened fails the run with nothing touched. */
  private async refuseUnopened(sessions: PreOpened[]): Promise<void> {
    const problems: Array<{ host: string; message: string }> = [];
    for (const p of sessions) {
      for (const host of p.endedEarly()) {
        const why = await p.run(host).then(
          () => `${host}: ${p.call.capsule} ended before its go`,
          (e: unknown) => asDirectorError(e, 'pause').message,
        );
        problems.push({ host, message: `${why} (nothing was paused)` });
      }
    }
    if (problems.length > 0) throw new PhaseError('pause', EXIT.PAUSE, problems);
  }

  private async pauseAndSnapshot(pauses: PreOpened, snapshots: PreOpened, unpauses: PreOpened, window: LinkedSignal, unpauseLimit: LinkedSignal): Promise<void> {
    const { ctx, plan } = this;
    const deadlineSeconds = plan.settings.pauseDeadlineSeconds;
    // Persisted BEFORE the first pause: a crash from here on makes the next run unpause.
    this.record.pauseInProgress = true;
    this.save();
    const requestedAt = ctx.now();
    window.arm(deadlineSeconds * 1000);
    let pauseResults = new Map<string, CapsuleResult>();
    let failure: unknown;
    let snapshotPhase: Promise<PhaseOutcome<CapsuleResult>> | undefined;
    let pausesEnded: Promise<void> = Promise.resolve();
    try {
      const pausePhase = runPhase<CapsuleResult>(ctx, plan.dockerHosts, { phase: 'pause', exitCode: EXIT.PAUSE, summarize: (r) => ({ detail: `${String(r.paused ?? '?')} containers frozen${typeof r.pausedBefore === 'number' && r.pausedBefore > 0 ? ` (${r.pausedBefore} paused before, left alone)` : ''}` }) }, (host) =>
        pauses.run(host),
      );
      pausePhase.catch(() => undefined);
      // The snapshots go once every host has frozen its containers (SBDI-MARK frozen), not once
      // every pause session has ended: its log line, its exit and the ssh channel's close are
      // not part of the freeze. A host that ended without the mark failed: its error stops the run.
      await Promise.all(plan.dockerHosts.map((h) => pauses.reached(h, 'frozen')));
      if (!plan.dockerHosts.every((h) => pauses.hasMark(h, 'frozen'))) {
        pauseResults = await pausePhase;
        // Ended without an error and without the mark: nothing says its containers are frozen,
        // so no snapshot may be taken.
        const unconfirmed = plan.dockerHosts.filter((h) => !pauses.hasMark(h, 'frozen'));
        if (unconfirmed.length > 0) {
          throw new PhaseError('pause', EXIT.PAUSE, unconfirmed.map((host) => ({ host, message: 'the pause ended without saying its containers are frozen' })));
        }
      }
      pausesEnded = pausePhase.then((r) => {
        pauseResults = r;
      });
      this.record.snapshotsMayExist = true;
      this.enter('snapshot');
      snapshotPhase = runOnHosts<CapsuleResult>(ctx, this.sourceHosts, { phase: 'snapshot', exitCode: EXIT.SNAPSHOT, summarize: (r) => ({ detail: String(r.backend ?? '') }) }, (host) => snapshots.run(host));
      // The unpause waits for the snapshots themselves, not for their mounts (taken: sbdi_mark).
      await Promise.all(this.sourceHosts.map((h) => snapshots.reached(h, 'taken')));
    } catch (e) {
      failure = e;
    }
    // Taken (or given up on): the deadline no longer applies; the mounts may take their time.
    window.arm(undefined);

    // The unpause: every docker host, also those whose pause failed or never answered.
    this.record.phase = 'unpause';
    this.trySave();
    const unpauseRequestedAt = ctx.now();
    unpauseLimit.arm(ctx.unpauseTimeoutMs ?? DEFAULT_UNPAUSE_TIMEOUT_MS);
    const unpaused = await runOnHosts<CapsuleResult>(
      ctx,
      plan.dockerHosts,
      { phase: 'unpause', exitCode: EXIT.UNPAUSE, summarize: (r) => ({ detail: `${String(r.unpaused ?? '?')} containers thawed${r.stoppedPause === true ? ', a pause still in progress stopped' : ''}${r.watchdogFired === true ? ', DEADLINE HAD FIRED' : ''}` }) },
      (host) => unpauses.run(host),
    );
    // The pause sessions' own ends (their results), awaited only now: nothing waits for them.
    await pausesEnded.catch((e: unknown) => {
      failure ??= e;
    });
    if (unpaused.failures.length === 0) {
      this.record.pauseInProgress = false;
      this.trySave();
    } else {
      ctx.report.error('unpause', `containers may stay paused until the ${deadlineSeconds}s deadline unpauses them; or run unpause_containers`);
    }
    if (snapshotPhase !== undefined) {
      const snaps = await snapshotPhase;
      snaps.values.forEach((r, h) => this.snapshots.set(h, r));
      if (failure === undefined) {
        try {
          throwIfFailed({ phase: 'snapshot', exitCode: EXIT.SNAPSHOT }, snaps);
        } catch (e) {
          failure = e;
        }
      }
    }
    if (failure !== undefined) throw failure;
    throwIfFailed({ phase: 'unpause', exitCode: EXIT.UNPAUSE }, unpaused);

    const fired = [...unpaused.values].filter(([, r]) => r.watchdogFired === true).map(([h]) => h);
    if (fired.length > 0) {
      throw new PhaseError(
        'unpause',
        EXIT.UNPAUSE,
        fired.map((host) => ({ host, message: `${host}: the ${deadlineSeconds}s pause deadline unpaused containers before the director did: snapshots may be inconsistent` })),
      );
    }

    const hosts: PauseHostRecord[] = plan.dockerHosts.map((host) => {
      const p: CapsuleResult = pauseResults.get(host) ?? {};
      const u: CapsuleResult = unpaused.values.get(host) ?? {};
      return { host, paused: num(p, 'paused'), armedAt: num(p, 'armedAt'), pauseStartedAt: num(p, 'pauseStartedAt'), pausedAt: num(p, 'pausedAt'), unpausedAt: num(u, 'unpausedAt'), watchdogFired: u.watchdogFired === true };
    });
    this.pause = pauseWindow(hosts, requestedAt, unpauseRequestedAt, deadlineSeconds);
    ctx.report.info('unpause', `containers frozen ${this.pause.freezeMs ?? '?'} ms (all at once: ${this.pause.durationMs} ms)`);
  }

  private async sync(): Promise<void> {
    const { ctx, plan } = this;
    this.commits = new PreOpened(ctx, { phase: 'commit', exitCode: EXIT.COMMIT, capsule: 'commit_backup' }, this.targets);
    for (const s of plan.sources) {
      const reason = this.fullScans.get(s.host);
      if (reason !== undefined && this.bases.has(s.target)) ctx.report.info('sync', `${s.host}: comparing every entry with the store (${reason})`);
    }
    const outcome = await capsuleOnHosts(ctx, this.sourceHosts, {
      phase: 'sync',
      exitCode: EXIT.SYNC,
      capsule: 'perform_rsync',
      exec: { signal: ctx.interrupt, onStderr: ctx.progress },
      stdinFor: (host) => {
        const tree = plan.sources.find((s) => s.host === host)?.treeName;
        const linked = tree === undefined ? undefined : this.linked.get(tree);
        const progress = ctx.progress === undefined ? '' : ' progress';
        return `${this.baseFor(host) ?? '-'} ${this.id}${progress}\n${linked === undefined ? '' : `linked ${linked}\n`}`;
      },
      concurrency: Math.max(1, plan.settings.syncConcurrency),
      // A backup missing one source is never committed: no point starting the next ones.
      stopOnFailure: true,
      stop: () => ctx.interrupt.aborted,
      announce: true,
      summarize: (r) => ({ bytes: num(r, 'bytes'), files: num(r, 'files'), ...(r.scan === 'changes' ? { detail: `${String(r.changedEntries ?? '?')} entries changed` } : {}) }),
      onDone: (host) => this.removals.push(capsuleOnHosts(ctx, [host], REMOVE_SNAPSHOT)),
    });
    outcome.values.forEach((r, h) => this.syncs.set(h, r));
    throwIfFailed({ phase: 'sync', exitCode: EXIT.SYNC }, outcome);
  }

  /** The base a source's push may send its changes against: its target's, unless a full scan is due. */
  private baseFor(host: string): string | undefined {
    if (this.fullScans.has(host)) return undefined;
    const target = this.plan.sources.find((s) => s.host === host)?.target;
    return target === undefined ? undefined : this.bases.get(target);
  }

  private manifest(): Manifest {
    const { ctx, plan } = this;
    if (this.pause === undefined) throw new DirectorError('no pause window recorded', EXIT.INTERNAL, 'commit');
    const sources: SourceRecord[] = plan.sources.map((s) => {
      const snap: CapsuleResult = this.snapshots.get(s.host) ?? {};
      const sync: CapsuleResult = this.syncs.get(s.host) ?? {};
      return {
        host: s.host,
        target: s.target,
        treeName: s.treeName,
        backend: s.backend,
        snapshotStartedAt: num(snap, 'snapshotStartedAt'),
        snapshotAt: num(snap, 'snapshotAt') ?? Number.NaN,
        bytes: num(sync, 'bytes'),
        files: num(sync, 'files'),
        transferredBytes: num(sync, 'transferredBytes'),
        syncSeconds: num(sync, 'seconds'),
        syncDurationMs: this.stepDuration('sync', s.host),
        exitStatus: 0,
        rsyncExit: num(sync, 'rsyncExit'),
        ...scanOf(sync, this.baseFor(s.host)),
      };
    });
    const inside = snapshotsInside(this.pause, sources);
    if (!inside) ctx.report.warn('commit', 'a snapshot time lies outside the pause window: are the hosts\' clocks in sync (NTP)?');
    return {
      schema: 1,
      id: this.id,
      status: 'complete',
      planDigest: planDigest(plan),
      application: plan.application,
      deploymentPrefix: plan.deploymentPrefix,
      director: plan.director,
      targets: plan.targets.map((t) => ({ host: t.host, backend: t.backend })),
      startedAt: this.record.startedAt,
      createdAt: ctx.now(),
      pause: this.pause,
      snapshotsInsidePauseWindow: inside,
      sources,
    };
  }

  private stepDuration(phase: string, host: string): number | undefined {
    const p = this.ctx.report.phases.find((r) => r.phase === phase && r.host === host);
    return p?.endedAt === undefined ? undefined : p.endedAt - p.startedAt;
  }

  private async commit(): Promise<void> {
    const { ctx } = this;
    const manifest = this.manifest();
    this.record.manifest = manifest;
    // Until every target committed, a crash leaves parts the next run must settle (finishCommits).
    if (this.targets.length > 1) this.record.commitTargets = this.targets;
    this.save();
    // Not abortable: a commit cut in half is worse than a few more seconds of waiting. Every target
    // is asked even when one fails, so the outcome is known everywhere.
    const stdin = `${JSON.stringify(manifest)}\n`;
    const outcome = await runOnHosts<CapsuleResult>(ctx, this.targets, { phase: 'commit', exitCode: EXIT.COMMIT, summarize: (r) => ({ bytes: num(r, 'usedBytes'), detail: `backup ${this.id}` }) }, async (host) => {
      const result = await this.commitOn(host, stdin);
      // Only an answer naming this backup says it was committed.
      if (result.calledOff === true || result.id !== this.id) {
        throw new DirectorError(`${host}: commit_backup answered without committing ${this.id}: ${JSON.stringify(result).slice(0, 200)}`, EXIT.COMMIT, 'commit', host);
      }
      return result;
    });
    if (outcome.failures.length > 0 || outcome.skipped.length > 0) {
      // A backup is complete only when every target committed it: take back the parts that were,
      // and those whose outcome is unknown (a commit that went through but whose reply was lost
      // would otherwise stay there, complete-looking, with nothing left to clean it). discard_backup
      // is a no-op where nothing was committed; a target it cannot reach stays in the record, for
      // the next run to settle.
      if (this.targets.length > 1) await this.discard(this.targets, 'discard');
      throwIfFailed({ phase: 'commit', exitCode: EXIT.COMMIT }, outcome);
    }
    this.committed = true;
    this.record.status = 'complete';
    delete this.record.commitTargets;
    this.save();
  }

  /** One target's commit: through the capsule opened as the syncs started, or a new call where that one ended before its go. */
  private async commitOn(host: string, stdin: string): Promise<CapsuleResult> {
    const opened = this.commits;
    if (opened !== undefined && !opened.endedEarly().includes(host)) return opened.run(host, stdin);
    if (opened !== undefined) {
      // It did nothing (its channel could not be opened, say): its error says why.
      const why = await opened.run(host).then(() => 'it ended before its go', (e: unknown) => asDirectorError(e, 'commit').message);
      this.ctx.report.warn('commit', `the commit's session opened during the syncs had ended (${why}): committing through a new one`, host);
    }
    return runCapsule(this.ctx, { phase: 'commit', exitCode: EXIT.COMMIT, host, capsule: 'commit_backup', arg: this.id }, { stdin });
  }

  /** Removes this backup's parts from `hosts`; what cannot be removed now stays in the record for the next run. */
  private async discard(hosts: string[], phase: string): Promise<boolean> {
    const outcome = await capsuleOnHosts(this.ctx, hosts, {
      phase,
      exitCode: EXIT.COMMIT,
      capsule: 'discard_backup',
      arg: this.id,
      summarize: (r) => ({ detail: r.discarded === true ? `discarded its part of ${this.id}` : 'nothing to discard' }),
    });
    this.discarded.push(...[...outcome.values].filter(([, r]) => r.discarded === true).map(([h]) => h));
    const left = hosts.filter((h) => !outcome.values.has(h));
    if (left.length === 0) delete this.record.commitTargets;
    else {
      this.record.commitTargets = left;
      this.ctx.report.error(phase, `backup ${this.id} is still on ${left.join(', ')} (it shows as incomplete); the next perform_backup discards it`);
    }
    this.trySave();
    return left.length === 0;
  }

  /** Every source's snapshot removed: those removed beside the syncs are waited for, the others (and failed ones, once more) removed now. */
  private async removeSnapshots(strict: boolean): Promise<void> {
    const { ctx } = this;
    // Never two removals on one host at once: the early ones end first.
    const early = await Promise.all(this.removals.splice(0));
    const left = this.sourceHosts.filter((h) => !early.some((o) => o.values.has(h)));
    if (left.length < this.sourceHosts.length && left.length > 0) ctx.report.info('remove_snapshots', `removing the snapshots of ${left.join(', ')} (the others were removed after their syncs)`);
    const outcome = await capsuleOnHosts(ctx, left, REMOVE_SNAPSHOT);
    if (outcome.failures.length === 0) {
      this.record.snapshotsMayExist = false;
      this.trySave();
    }
    if (strict) throwIfFailed({ phase: 'remove_snapshots', exitCode: EXIT.REMOVE_SNAPSHOTS }, outcome);
  }

  private finish(failure: DirectorError | undefined): number {
    const { ctx, record } = this;
    record.endedAt = ctx.now();
    if (failure === undefined) {
      record.status = 'complete';
      record.exitCode = EXIT.OK;
    } else {
      record.status = this.committed ? 'complete' : 'failed';
      record.failedPhase = failure.phase;
      record.exitCode = failure.exitCode;
      record.error = failure.message;
    }
    this.trySave();

    const lines = ['', phaseTable(ctx.report.phases)];
    if (this.pause !== undefined) {
      lines.push(
        '',
        `freeze: ${this.pause.freezeMs ?? '?'} ms from the first container frozen to the last one thawed (one host at most ${this.pause.longestHostFreezeMs ?? '?'} ms)`,
        `pause window: ${this.pause.durationMs} ms (all containers paused ${new Date(this.pause.start).toISOString()} .. ${new Date(this.pause.end).toISOString()})`,
      );
    }
    const took = formatDuration(record.endedAt - record.startedAt);
    if (failure === undefined) {
      lines.push('', `backup ${this.id} complete in ${took}`);
      ctx.report.info('done', `backup ${this.id} complete in ${took}`);
    } else if (this.committed) {
      lines.push('', `backup ${this.id} complete, but ${failure.phase} failed (exit ${failure.exitCode}): ${failure.message}`);
      ctx.report.warn('done', `backup ${this.id} complete, but ${failure.phase} failed: ${failure.message}`);
    } else {
      const left = record.commitTargets ?? [];
      const committed =
        left.length > 0
          ? `its parts on ${left.join(', ')} could not be discarded: they show as incomplete and the next perform_backup discards them`
          : this.discarded.length > 0
            ? `what ${this.discarded.join(', ')} had committed was discarded: no target holds it`
            : 'nothing was committed';
      lines.push('', `backup ${this.id} FAILED in phase ${failure.phase} (exit ${failure.exitCode}): ${failure.message}`, `${committed}; the run is recorded as failed`);
      ctx.report.error('done', `backup ${this.id} failed in phase ${failure.phase} (exit ${failure.exitCode}): ${failure.message}`);
    }
    ctx.print(lines.join('\n'));
    return record.exitCode;
  }
}

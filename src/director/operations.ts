/**
 * Operator commands: replicate_backups, prune_backups, verify_backup, check_backup, and the
 * Prometheus textfile metrics. The target pushes to the remotes (its replicate_backups capsule);
 * the director decides what retention removes (src/director/retention.ts) and asks the stores'
 * own capsules to remove it, which refuse the newest complete backup and the newest shared one.
 */
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { MonitoringPlan, RemotePlan, RetentionPolicy } from '../plan/types';
import type { CapsuleResult } from '../ssh/types';
import { runCapsule } from './capsule';
import type { Context } from './context';
import { DirectorError, UsageError, asDirectorError } from './errors';
import { EXIT } from './exit-codes';
import { formatBytes, renderTable } from './format';
import { withLock } from './guard';
import { BACKUP_ID, backupIdTime, datedInFuture } from './ids';
import { fetchListings, fetchTargetBackups, finite, futureWarning, incompleteParts, isComplete, mergeTargetListings, storeClock, type StoreUsage, type TargetBackup } from './list';
import { connectAll, runOnHosts, throwIfFailed } from './phase';
import { remotesOfTarget, targetHosts } from '../plan/lookup';
import { FUTURE_STOPS_PRUNING, describePolicy, policyIsEmpty, selectRetention, tooManyDeletions, type RetentionCandidate, type RetentionDecision } from './retention';

export interface Replica {
  id: string;
  guid?: string;
  /** The remote's own time of the receive, epoch ms. */
  storedAt?: number;
  /** Dated after the remote's clock (its id or its receive): not genuine. */
  future?: boolean;
}

export interface RemoteListing {
  host: string;
  replicas: Replica[];
  health?: { state?: string; errors?: string };
  /** The remote's clock when it listed, epoch ms. */
  now?: number;
}

/** Reads list_replicas' result defensively; each replica is judged against the remote's own clock. */
export function parseReplicas(result: CapsuleResult, skewMs: number, directorNow: number): Replica[] {
  const now = storeClock(result, directorNow);
  const list = Array.isArray(result.replicas) ? (result.replicas as unknown[]) : [];
  return list
    .filter((x): x is { id: string; guid?: unknown; storedAt?: unknown } => x !== null && typeof x === 'object' && typeof (x as { id?: unknown }).id === 'string' && BACKUP_ID.test((x as { id: string }).id))
    .map((x) => {
      const storedAt = finite(x.storedAt);
      return {
        id: x.id,
        ...(typeof x.guid === 'string' ? { guid: x.guid } : {}),
        ...(storedAt === undefined ? {} : { storedAt }),
        ...(datedInFuture(x.id, now, skewMs, [storedAt]) ? { future: true } : {}),
      };
    })
    .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

async function listRemotes(
  ctx: Context,
  phase: string,
  exitCode: (typeof EXIT)[keyof typeof EXIT],
  remotes: readonly string[] = ctx.plan.remotes.map((r) => r.host),
): Promise<{ listings: RemoteListing[]; failures: DirectorError[] }> {
  const parse = (r: CapsuleResult): Replica[] => parseReplicas(r, ctx.plan.settings.clockSkewSeconds * 1000, ctx.now());
  const outcome = await runOnHosts(ctx, remotes, { phase, exitCode, summarize: (r: CapsuleResult) => ({ detail: `${parse(r).length} replicas` }) }, (host) =>
    runCapsule(ctx, { phase, exitCode, host, capsule: 'list_replicas' }, { signal: ctx.interrupt }),
  );
  const listings = [...outcome.values].map(([host, r]) => ({ host, replicas: parse(r), health: (r.health ?? undefined) as RemoteListing['health'], now: storeClock(r, ctx.now()) }));
  return { listings, failures: outcome.failures };
}

// ---------------------------------------------------------------- replicate

export interface ReplicationOutcome {
  remote: string;
  ok: boolean;
  code: number;
  sent: number;
  newest: string;
  diverged: boolean;
  error: string;
}

function parseReplication(result: CapsuleResult | undefined): ReplicationOutcome[] {
  const list = Array.isArray(result?.remotes) ? (result!.remotes as unknown[]) : [];
  return list.filter((x): x is ReplicationOutcome => x !== null && typeof x === 'object' && typeof (x as ReplicationOutcome).remote === 'string');
}

/** The replication step (no lock: perform_backup runs it inside its own). Returns the exit code. */
export async function replicateStep(ctx: Context): Promise<number> {
  const { plan } = ctx;
  if (plan.remotes.length === 0) {
    ctx.report.info('replicate', 'no off-site remotes in the plan (group backup_remotes)');
    return EXIT.OK;
  }
  const phase = 'replicate';
  // Each target sends to its own remotes (backup_remote_target).
  const sending = plan.targets.filter((t) => remotesOfTarget(plan, t.host).length > 0).map((t) => t.host);
  const outcomes: ReplicationOutcome[] = [];
  let failure: DirectorError | undefined;
  try {
    await connectAll(ctx, plan.targets.length > 1 ? targetHosts(plan) : sending, EXIT.CONNECT);
    // Several targets: a part complete on one target only is never sent off-site, where it would
    // keep that target from discarding it. Every target must answer.
    const held = plan.targets.length > 1 ? incompleteParts(await fetchTargetBackups(ctx, phase, EXIT.REPLICATE)) : new Map<string, Set<string>>();
    const outcome = await runOnHosts(
      ctx,
      sending,
      { phase, exitCode: EXIT.REPLICATE, summarize: (r: CapsuleResult) => ({ detail: parseReplication(r).map((o) => `${o.remote}: ${o.sent} sent, newest ${o.newest || 'none'}`).join('; ') }) },
      (host) =>
        runCapsule(ctx, { phase, exitCode: EXIT.REPLICATE, host, capsule: 'replicate_backups' }, { signal: ctx.interrupt, stdin: [...(held.get(host) ?? [])].map((id) => `skip ${id}\n`).join('') }),
    );
    for (const r of outcome.values.values()) outcomes.push(...parseReplication(r));
    throwIfFailed({ phase, exitCode: EXIT.REPLICATE }, outcome);
  } catch (e) {
    failure = asDirectorError(e, phase);
  }
  saveReplicationState(ctx, outcomes);
  if (failure === undefined) return EXIT.OK;
  const diverged = /DIVERGED/.test(failure.message);
  ctx.report.error(phase, diverged ? `${failure.message} — nothing was destroyed; see docs/operations.md "Divergence"` : failure.message);
  return diverged ? EXIT.DIVERGED : failure.exitCode === EXIT.CONNECT ? EXIT.CONNECT : EXIT.REPLICATE;
}

function saveReplicationState(ctx: Context, outcomes: ReplicationOutcome[]): void {
  try {
    ctx.state.ensure();
    const path = join(ctx.state.dir, 'replication.json');
    writeFileSync(`${path}.tmp`, `${JSON.stringify({ at: ctx.now(), outcomes }, null, 2)}\n`, { mode: 0o600 });
    renameSync(`${path}.tmp`, path);
  } catch {
    /* state must never fail a replication */
  }
}

export async function replicateBackups(ctx: Context): Promise<number> {
  return withLock(ctx, 'replicate_backups', async () => {
    const code = await replicateStep(ctx);
    await writeMetricsQuietly(ctx);
    return code;
  });
}

// ---------------------------------------------------------------- prune

export interface PruneRow {
  store: string;
  id: string;
  decision: RetentionDecision;
}

/** What retention does on one store: its rows, the ids dated in its future, and why it deletes nothing. */
export interface StorePrune {
  store: string;
  kind: 'target' | 'remote';
  rows: PruneRow[];
  future: string[];
  stopped?: string;
}

export interface PruneOptions {
  /** The backup the current run took: never deleted. */
  takenByRun?: string;
  /** Delete even when more than half of a store's complete backups would go. */
  force?: boolean;
}

/** What retention removes on one target and on each of its remotes; pure over the listings. */
export function prunePlan(
  targetHost: string,
  target: TargetBackup[],
  targetNow: number | undefined,
  remotes: RemoteListing[],
  targetPolicy: RetentionPolicy,
  remotePlans: RemotePlan[],
  options: PruneOptions = {},
): StorePrune[] {
  const out: StorePrune[] = [];
  const store = (name: string, kind: StorePrune['kind'], candidates: RetentionCandidate[], policy: RetentionPolicy, protectedIds: Map<string, string>, now: number | undefined): void => {
    const decisions = selectRetention(candidates, policy, protectedIds, now);
    const future = candidates.filter((c) => c.future === true).map((c) => c.id);
    const stopped = future.length > 0 ? FUTURE_STOPS_PRUNING : tooManyDeletions(candidates, decisions, options.force === true);
    out.push({ store: name, kind, rows: decisions.map((d) => ({ store: name, id: d.id, decision: d })), future, ...(stopped === undefined ? {} : { stopped }) });
  };
  const shared = new Map<string, string>();
  const targetIds = new Set(target.map((b) => b.id));
  for (const r of remotes) {
    // The newest snapshot both hold: the base of the next incremental send.
    const common = [...r.replicas].reverse().find((x) => targetIds.has(x.id));
    if (common) shared.set(common.id, [shared.get(common.id), `shared with ${r.host}`].filter(Boolean).join(', '));
  }
  if (options.takenByRun !== undefined) shared.set(options.takenByRun, [shared.get(options.takenByRun), 'taken by this run'].filter(Boolean).join(', '));
  const targetCandidates = target.map((b) => ({ id: b.id, complete: isComplete(b), ...(b.storedAt === undefined ? {} : { storedAt: b.storedAt }), ...(b.future === true ? { future: true } : {}) }));
  store(targetHost, 'target', targetCandidates, targetPolicy, shared, targetNow);
  for (const r of remotes) {
    const policy = remotePlans.find((p) => p.host === r.host)?.retention ?? {};
    const newest = r.replicas[r.replicas.length - 1];
    const protectedIds = new Map(newest ? [[newest.id, 'newest replica, shared with the target']] : []);
    store(r.host, 'remote', r.replicas.map((x) => ({ id: x.id, complete: true, ...(x.storedAt === undefined ? {} : { storedAt: x.storedAt }), ...(x.future === true ? { future: true } : {}) })), policy, protectedIds, r.now);
  }
  return out;
}

export async function pruneStep(ctx: Context, dryRun: boolean, options: PruneOptions = {}): Promise<number> {
  const { plan } = ctx;
  const phase = 'prune';
  if (plan.targets.every((t) => policyIsEmpty(t.retention)) && plan.remotes.every((r) => policyIsEmpty(r.retention))) {
    ctx.report.info(phase, 'no retention policy (backup_keep_*, backup_replica_keep_*): nothing is pruned');
    return EXIT.OK;
  }
  try {
    const { stores, rows } = await planPrune(ctx, phase, options);
    ctx.print(
      [
        ...plan.targets.map((t) => `target ${t.host}: ${describePolicy(t.retention)}`),
        ...plan.remotes.map((r) => `remote ${r.host}: ${describePolicy(r.retention)}`),
        '',
        pruneTable(rows, dryRun),
      ].join('\n'),
    );
    let code: number = EXIT.OK;
    for (const s of stores) {
      if (s.future.length > 0) {
        ctx.report.error(phase, futureWarning(s.future, s.store));
        code = EXIT.FUTURE;
      } else if (s.stopped !== undefined && s.rows.some((r) => !r.decision.keep)) {
        ctx.report.error(phase, `${s.store}: ${s.stopped}`);
        if (code === EXIT.OK) code = EXIT.PRUNE_LIMIT;
      }
    }
    const doomed = stores.filter((s) => s.stopped === undefined).flatMap((s) => s.rows.filter((r) => !r.decision.keep));
    if (dryRun) {
      ctx.report.info(phase, `dry run: would delete ${doomed.length} of ${rows.length}`);
      return code;
    }
    const failed = await deleteAll(ctx, phase, doomed);
    ctx.report.info(phase, `deleted ${doomed.length - failed} of ${doomed.length}${failed ? `, ${failed} FAILED` : ''}`);
    return failed === 0 ? code : EXIT.PRUNE;
  } catch (e) {
    const err = asDirectorError(e, phase);
    ctx.report.error(phase, err.message);
    return err.exitCode === EXIT.CONNECT ? EXIT.CONNECT : EXIT.PRUNE;
  }
}

/** The table prune_backups prints before it deletes anything: store, id, keep/delete, why. */
function pruneTable(rows: readonly PruneRow[], dryRun: boolean): string {
  return renderTable(['STORE', 'ID', dryRun ? 'WOULD' : 'ACTION', 'WHY'], rows.map((r) => [r.store, r.id, r.decision.keep ? 'keep' : 'delete', r.decision.reasons.join(', ')]));
}

/** Lists every target and remote and decides, per store, what retention removes. */
async function planPrune(ctx: Context, phase: string, options: PruneOptions): Promise<{ stores: StorePrune[]; rows: PruneRow[] }> {
  const { plan } = ctx;
  await connectAll(ctx, [...plan.targets.map((t) => t.host), ...plan.remotes.map((r) => r.host)], EXIT.CONNECT);
  const { listings: stores, clocks, failures: storeFailures } = await fetchListings(ctx, phase, EXIT.PRUNE);
  throwIfFailed({ phase, exitCode: EXIT.PRUNE }, { values: stores, failures: storeFailures, skipped: [] });
  const { listings, failures } = await listRemotes(ctx, phase, EXIT.PRUNE);
  if (failures.length > 0) {
    // Without a remote's list the shared snapshot is unknown: prune nothing on the targets either.
    throw new DirectorError(`cannot list a remote's replicas, so nothing is pruned: ${failures.map((f) => f.message).join('; ')}`, EXIT.PRUNE, phase);
  }
  // Retention is per target (its backup_keep_*), each with its own remotes; but a backup spans
  // every target, so a part counts as complete only where the whole backup is (one target's part
  // of a backup another target failed to commit must never fill a keep slot and push out the real
  // backup of that day).
  const held = incompleteParts(mergeTargetListings(stores, targetHosts(plan)));
  const planned: StorePrune[] = [];
  for (const t of plan.targets) {
    const own = remotesOfTarget(plan, t.host);
    const ownListings = listings.filter((l) => own.some((r) => r.host === l.host));
    const parts = (stores.get(t.host) ?? []).map((b) => (held.get(t.host)?.has(b.id) === true ? { ...b, complete: false } : b));
    planned.push(...prunePlan(t.host, parts, clocks.get(t.host), ownListings, t.retention, own, options));
  }
  return { stores: planned, rows: planned.flatMap((s) => s.rows) };
}

async function deleteAll(ctx: Context, phase: string, doomed: PruneRow[]): Promise<number> {
  let failed = 0;
  for (const r of doomed) {
    const onTarget = ctx.plan.targets.some((t) => t.host === r.store);
    try {
      await ctx.report.step(phase, r.store, () => runCapsule(ctx, { phase, exitCode: EXIT.PRUNE, host: r.store, capsule: onTarget ? 'delete_backup' : 'delete_replica', arg: r.id }), () => ({ detail: `deleted ${r.id}` }));
    } catch {
      failed++;
    }
  }
  return failed;
}

/**
 * prune_backups --delete-future: removes exactly the backups and replicas dated in the future of
 * their store's clock (printed first), and nothing else; retention runs normally again after it.
 */
async function deleteFuture(ctx: Context, dryRun: boolean): Promise<number> {
  const phase = 'prune';
  try {
    const { stores } = await planPrune(ctx, phase, {});
    const doomed = stores.flatMap((s) => s.future.map((id) => ({ store: s.store, id, decision: { id, keep: false, reasons: ['dated in the future of its clock'] } })));
    if (doomed.length === 0) {
      ctx.report.info(phase, 'no store holds a backup dated in the future: nothing to delete');
      return EXIT.OK;
    }
    ctx.print(pruneTable(doomed, dryRun));
    if (dryRun) {
      ctx.report.info(phase, `dry run: would delete ${doomed.length}`);
      return EXIT.OK;
    }
    const failed = await deleteAll(ctx, phase, doomed);
    ctx.report.info(phase, `deleted ${doomed.length - failed} of ${doomed.length} dated in the future${failed ? `, ${failed} FAILED` : ''}`);
    return failed === 0 ? EXIT.OK : EXIT.PRUNE;
  } catch (e) {
    const err = asDirectorError(e, phase);
    ctx.report.error(phase, err.message);
    return err.exitCode === EXIT.CONNECT ? EXIT.CONNECT : EXIT.PRUNE;
  }
}

export async function pruneBackups(ctx: Context, options: { dryRun: boolean; force?: boolean; deleteFuture?: boolean }): Promise<number> {
  return withLock(ctx, 'prune_backups', async () => {
    const code = options.deleteFuture === true ? await deleteFuture(ctx, options.dryRun) : await pruneStep(ctx, options.dryRun, { force: options.force === true });
    await writeMetricsQuietly(ctx);
    return code;
  });
}

// ---------------------------------------------------------------- verify

export async function verifyBackup(ctx: Context, options: { id?: string; latest?: boolean; restoreTest: boolean }): Promise<number> {
  if (options.id !== undefined && (!BACKUP_ID.test(options.id) || backupIdTime(options.id) === undefined)) throw new UsageError(`not a backup id: ${JSON.stringify(options.id)} (YYYYMMDD_HHMMSS)`);
  return withLock(ctx, 'verify_backup', async () => {
    const phase = 'verify';
    const all = ctx.plan.targets.map((t) => t.host);
    await connectAll(ctx, all, EXIT.CONNECT);
    const backups = await fetchTargetBackups(ctx, phase, EXIT.LIST);
    let id = options.id;
    if (id === undefined) {
      id = backups.filter((b) => isComplete(b) && b.future !== true).map((b) => b.id).sort().pop();
      if (id === undefined) throw new DirectorError(`no complete backup on ${all.length === 1 ? 'the target' : 'every target'}`, EXIT.NO_SUCH_BACKUP, phase);
    }
    const backupId = id;
    // Each target checks its own part; the parts the manifest puts on targets, or every target holding it.
    const found = backups.find((b) => b.id === backupId);
    const missing = (found?.parts ?? []).filter((p) => p.state === 'missing').map((p) => p.host);
    if (found !== undefined && missing.length > 0) {
      throw new DirectorError(`backup ${backupId} is missing on ${missing.join(', ')}: it is not complete (see list_backups)`, EXIT.NO_SUCH_BACKUP, phase);
    }
    const hosts = found?.parts === undefined ? all : found.parts.map((p) => p.host);
    const call = (host: string, capsule: string) =>
      ctx.report.step(phase, host, () => runCapsule(ctx, { phase, exitCode: EXIT.VERIFY, host, capsule, arg: backupId }, { signal: ctx.interrupt }), (r) => ({ detail: summary(capsule, r) }));
    for (const host of hosts) {
      try {
        const v = await call(host, 'verify_backup');
        ctx.print(JSON.stringify({ id: backupId, ...(all.length > 1 ? { target: host } : {}), verification: v.verification }, null, 2));
        if (options.restoreTest) {
          const t = await call(host, 'restore_test_backup');
          ctx.print(JSON.stringify({ id: backupId, ...(all.length > 1 ? { target: host } : {}), restoreTest: t.restoreTest }, null, 2));
        }
      } catch (e) {
        const err = asDirectorError(e, phase);
        if (/exit 21\)/.test(err.message)) throw new DirectorError(err.message, EXIT.NO_SUCH_BACKUP, phase, host);
        throw err;
      }
    }
    ctx.print(`backup ${backupId} verified${options.restoreTest ? ' and restore-tested' : ''}${hosts.length > 1 ? ` on ${hosts.join(', ')}` : ''}`);
    return EXIT.OK;
  });
}

function summary(capsule: string, r: CapsuleResult): string {
  if (capsule === 'verify_backup') {
    const v = (r.verification ?? {}) as { trees?: unknown[]; checksums?: { files?: number; sealed?: string }; pool?: { state?: string } };
    return `${v.trees?.length ?? '?'} trees, ${v.checksums?.files ?? '?'} checksums ${v.checksums?.sealed ?? ''}, store ${v.pool?.state ?? '?'}`;
  }
  const t = (r.restoreTest ?? {}) as { entries?: number };
  return `${t.entries ?? '?'} entries restored and compared`;
}

// ---------------------------------------------------------------- check_backup + metrics

export const NAGIOS = { OK: 0, WARNING: 1, CRITICAL: 2, UNKNOWN: 3 } as const;
const NAGIOS_NAME = ['OK', 'WARNING', 'CRITICAL', 'UNKNOWN'];

export interface Health {
  status: 0 | 1 | 2 | 3;
  text: string;
  perfdata: string[];
  metrics: string[];
}

/** Pure: the check's verdict from what the stores said. */
export function assessHealth(
  now: number,
  target: TargetBackup[] | undefined,
  remotes: RemoteListing[],
  remoteFailures: string[],
  thresholds: Pick<MonitoringPlan, 'warningAgeSeconds' | 'criticalAgeSeconds' | 'replicationLagSeconds' | 'storeWarningPercent' | 'storeCriticalPercent'>,
  lastRunFailed?: { id: string; phase?: string },
  stores: ReadonlyMap<string, StoreUsage> = new Map(),
): Health {
  const w = thresholds.warningAgeSeconds;
  const c = thresholds.criticalAgeSeconds;
  const metrics: string[] = [];
  const perfdata: string[] = [];
  if (target === undefined) {
    return { status: NAGIOS.UNKNOWN, text: 'cannot list the backups on the target', perfdata, metrics: ['sbdi_backup_check_status 3'] };
  }
  // How full each target's store is: a store that fills up ends every backup of its sources.
  let storeStatus: Health['status'] = NAGIOS.OK;
  const storeNotes: string[] = [];
  for (const [host, u] of [...stores].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const total = u.usedBytes + u.freeBytes;
    const percent = total === 0 ? 100 : (100 * u.usedBytes) / total;
    perfdata.push(`store_${host}=${percent.toFixed(1)}%;${thresholds.storeWarningPercent};${thresholds.storeCriticalPercent};0;100`);
    metrics.push(`sbdi_backup_store_used_bytes{store="${host}"} ${u.usedBytes}`, `sbdi_backup_store_free_bytes{store="${host}"} ${u.freeBytes}`);
    const level = percent >= thresholds.storeCriticalPercent ? NAGIOS.CRITICAL : percent >= thresholds.storeWarningPercent ? NAGIOS.WARNING : NAGIOS.OK;
    if (level !== NAGIOS.OK) storeNotes.push(`the store of ${host} is ${percent.toFixed(1)}% full (${formatBytes(u.freeBytes)} free)`);
    if (level > storeStatus) storeStatus = level;
  }
  // A backup dated in the future of its store's clock is no evidence of a recent backup, and its
  // presence stops retention on that store: CRITICAL until an operator removes it.
  const future = [
    { store: 'target', ids: target.filter((b) => b.future === true).map((b) => b.id) },
    ...remotes.map((r) => ({ store: r.host, ids: r.replicas.filter((x) => x.future === true).map((x) => x.id) })),
  ];
  const futureNotes = future.filter((f) => f.ids.length > 0).map((f) => `${f.store} holds backups dated in the future (${f.ids.join(', ')}): nothing is pruned there`);
  for (const f of future) metrics.push(`sbdi_backup_future_backups{store="${f.store}"} ${f.ids.length}`);
  const complete = target.filter((b) => isComplete(b) && b.future !== true).sort((a, b) => (a.id < b.id ? -1 : 1));
  const last = complete[complete.length - 1];
  metrics.push(`sbdi_backup_complete_backups ${complete.length}`);
  if (last === undefined) {
    return { status: NAGIOS.CRITICAL, text: ['no complete backup on the target', ...futureNotes, ...storeNotes].join('; '), perfdata, metrics: [...metrics, 'sbdi_backup_check_status 2'] };
  }
  const taken = backupIdTime(last.id)!;
  const ageS = Math.max(0, Math.round((now - taken) / 1000));
  const m = last.manifest ?? {};
  const durationS = typeof m.createdAt === 'number' && typeof m.startedAt === 'number' ? Math.round((m.createdAt - m.startedAt) / 1000) : undefined;
  const pauseS = typeof m.pause?.durationMs === 'number' ? m.pause.durationMs / 1000 : undefined;
  const freezeS = typeof m.pause?.freezeMs === 'number' ? m.pause.freezeMs / 1000 : undefined;
  const bytes = last.referencedBytes ?? last.usedBytes ?? (Array.isArray(m.sources) ? m.sources.reduce((s, x) => s + (x.bytes ?? 0), 0) : undefined);
  perfdata.push(`age=${ageS}s;${w};${c};0`);
  if (durationS !== undefined) perfdata.push(`duration=${durationS}s;;;0`);
  if (freezeS !== undefined) perfdata.push(`freeze=${freezeS.toFixed(3)}s;;;0`);
  if (pauseS !== undefined) perfdata.push(`pause=${pauseS.toFixed(3)}s;;;0`);
  if (bytes !== undefined) perfdata.push(`bytes=${bytes}B;;;0`);
  metrics.push(`sbdi_backup_last_complete_timestamp_seconds ${Math.round(taken / 1000)}`, `sbdi_backup_last_complete_age_seconds ${ageS}`);
  if (durationS !== undefined) metrics.push(`sbdi_backup_last_duration_seconds ${durationS}`);
  if (freezeS !== undefined) metrics.push(`sbdi_backup_last_freeze_seconds ${freezeS}`);
  if (pauseS !== undefined) metrics.push(`sbdi_backup_last_pause_window_seconds ${pauseS}`);
  if (bytes !== undefined) metrics.push(`sbdi_backup_last_bytes ${bytes}`);

  let status: Health['status'] = NAGIOS.OK;
  const notes: string[] = [];
  if (ageS > c) status = NAGIOS.CRITICAL;
  else if (ageS > w) status = NAGIOS.WARNING;
  for (const r of remotes) {
    const genuine = r.replicas.filter((x) => x.future !== true);
    const newest = genuine[genuine.length - 1];
    const lagS = newest === undefined ? ageS + Math.round((taken - (backupIdTime(complete[0]!.id) ?? taken)) / 1000) : Math.max(0, Math.round((taken - backupIdTime(newest.id)!) / 1000));
    perfdata.push(`replication_lag_${r.host}=${lagS}s;${thresholds.replicationLagSeconds};;0`);
    metrics.push(`sbdi_backup_replication_lag_seconds{remote="${r.host}"} ${lagS}`, `sbdi_backup_replicas{remote="${r.host}"} ${r.replicas.length}`);
    if (newest === undefined) notes.push(`${r.host} holds no replica`);
    else if (lagS > 0) notes.push(`${r.host} ${lagS}s behind (newest ${newest.id})`);
    if (lagS > thresholds.replicationLagSeconds && status < NAGIOS.WARNING) status = NAGIOS.WARNING;
    if (r.health?.state !== undefined && r.health.state !== 'ONLINE') {
      notes.push(`${r.host} store ${r.health.state}`);
      if (status < NAGIOS.WARNING) status = NAGIOS.WARNING;
    }
  }
  for (const f of remoteFailures) {
    notes.push(f);
    if (status < NAGIOS.WARNING) status = NAGIOS.WARNING;
  }
  if (futureNotes.length > 0) {
    notes.unshift(...futureNotes);
    status = NAGIOS.CRITICAL;
  }
  notes.push(...storeNotes);
  if (storeStatus > status) status = storeStatus;
  if (lastRunFailed && lastRunFailed.id > last.id) {
    notes.push(`the last run ${lastRunFailed.id} failed${lastRunFailed.phase ? ` in ${lastRunFailed.phase}` : ''}`);
    if (status < NAGIOS.WARNING) status = NAGIOS.WARNING;
  }
  metrics.push(`sbdi_backup_check_status ${status}`);
  const text = `last complete backup ${last.id} is ${ageS}s old (warning ${w}s, critical ${c}s)${notes.length ? `; ${notes.join('; ')}` : ''}`;
  return { status, text, perfdata, metrics };
}

export function metricsText(h: Health, now: number): string {
  const help: Record<string, string> = {
    sbdi_backup_check_status: 'check_backup verdict: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN',
    sbdi_backup_complete_backups: 'complete backups on the target',
    sbdi_backup_last_complete_timestamp_seconds: 'time of the last complete backup (its id)',
    sbdi_backup_last_complete_age_seconds: 'age of the last complete backup',
    sbdi_backup_last_duration_seconds: 'duration of the last complete backup',
    sbdi_backup_last_freeze_seconds: 'the last complete backup: first container frozen to last one thawed, on any host',
    sbdi_backup_store_used_bytes: 'bytes in use on a target\'s store',
    sbdi_backup_store_free_bytes: 'bytes still free on a target\'s store',
    sbdi_backup_last_pause_window_seconds: 'the last complete backup: how long every container was frozen at once (its consistency window)',
    sbdi_backup_last_bytes: 'bytes of the last complete backup on the target',
    sbdi_backup_replication_lag_seconds: 'how far a remote is behind the newest backup',
    sbdi_backup_replicas: 'replicas on a remote',
    sbdi_backup_future_backups: "backups dated in the future of their store's clock (any: CRITICAL, nothing pruned there)",
  };
  const lines: string[] = [];
  const seen = new Set<string>();
  for (const m of h.metrics) {
    const name = m.split(/[{ ]/)[0]!;
    if (!seen.has(name)) {
      seen.add(name);
      lines.push(`# HELP ${name} ${help[name] ?? name}`, `# TYPE ${name} gauge`);
    }
    lines.push(m);
  }
  lines.push('# HELP sbdi_backup_metrics_timestamp_seconds when these metrics were written', '# TYPE sbdi_backup_metrics_timestamp_seconds gauge', `sbdi_backup_metrics_timestamp_seconds ${Math.round(now / 1000)}`);
  return `${lines.join('\n')}\n`;
}

async function gatherHealth(ctx: Context): Promise<Health> {
  let target: TargetBackup[] | undefined;
  let stores = new Map<string, StoreUsage>();
  let remotes: RemoteListing[] = [];
  const remoteFailures: string[] = [];
  try {
    await connectAll(ctx, ctx.plan.targets.map((t) => t.host), EXIT.CONNECT);
    const fetched = await fetchListings(ctx, 'check', EXIT.LIST);
    throwIfFailed({ phase: 'check', exitCode: EXIT.LIST }, { values: fetched.listings, failures: fetched.failures, skipped: [] });
    target = mergeTargetListings(fetched.listings, targetHosts(ctx.plan));
    stores = fetched.stores;
  } catch {
    target = undefined;
  }
  if (target !== undefined && ctx.plan.remotes.length > 0) {
    const reachable: string[] = [];
    for (const r of ctx.plan.remotes) {
      try {
        await ctx.transport.connect(r.host);
        reachable.push(r.host);
      } catch (e) {
        remoteFailures.push(`${r.host} unreachable: ${(e as Error).message}`);
      }
    }
    const { listings, failures } = await listRemotes(ctx, 'check', EXIT.LIST).catch(() => ({ listings: [] as RemoteListing[], failures: [] as DirectorError[] }));
    remotes = listings.filter((l) => reachable.includes(l.host));
    for (const f of failures) if (!remoteFailures.some((x) => x.startsWith(f.host ?? '?'))) remoteFailures.push(f.message);
  }
  const failed = ctx.state.runs().filter((r) => r.status === 'failed').pop();
  return assessHealth(ctx.now(), target, remotes, remoteFailures, ctx.plan.monitoring, failed ? { id: failed.id, phase: failed.failedPhase } : undefined, stores);
}

export function writeMetrics(ctx: Context, h: Health): void {
  const dir = ctx.metricsDir;
  if (dir === undefined) return;
  mkdirSync(dir, { recursive: true });
  const path = join(dir, 'sbdi_backup.prom');
  writeFileSync(`${path}.${ctx.pid}.tmp`, metricsText(h, ctx.now()), { mode: 0o644 });
  renameSync(`${path}.${ctx.pid}.tmp`, path);
}

export async function writeMetricsQuietly(ctx: Context): Promise<void> {
  if (ctx.metricsDir === undefined) return;
  try {
    writeMetrics(ctx, await gatherHealth(ctx));
  } catch (e) {
    ctx.report.warn('metrics', `cannot write the Prometheus metrics: ${(e as Error).message}`);
  }
}

/** Nagios/Icinga plugin: one status line with perfdata on stdout, exit 0/1/2/3. */
export async function checkBackup(ctx: Context, options: { warningSeconds?: number; criticalSeconds?: number }): Promise<number> {
  const thresholds = { ...ctx.plan.monitoring };
  if (options.warningSeconds !== undefined) thresholds.warningAgeSeconds = options.warningSeconds;
  if (options.criticalSeconds !== undefined) thresholds.criticalAgeSeconds = options.criticalSeconds;
  let h: Health;
  try {
    const planned = { ...ctx, plan: { ...ctx.plan, monitoring: thresholds } };
    h = await gatherHealth(planned);
    try {
      writeMetrics(ctx, h);
    } catch (e) {
      h.text += ` (metrics not written: ${(e as Error).message})`;
    }
  } catch (e) {
    h = { status: NAGIOS.UNKNOWN, text: `check failed: ${(e as Error).message}`, perfdata: [], metrics: [] };
  }
  ctx.print(`BACKUP ${NAGIOS_NAME[h.status]} - ${h.text}${h.perfdata.length ? ` | ${h.perfdata.join(' ')}` : ''}`);
  return h.status;
}

export { formatBytes };

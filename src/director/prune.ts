/**
 * prune_backups: the director decides what retention removes (src/director/retention.ts) and asks
 * the stores' own capsules to remove it, which refuse the newest complete backup and the newest
 * shared one.
 */
import type { RemotePlan, RetentionPolicy } from '../plan/types';
import { runCapsule } from './capsule';
import type { Context } from './context';
import { DirectorError, asDirectorError } from './errors';
import { EXIT } from './exit-codes';
import { renderTable } from './format';
import { withLock } from './guard';
import { fetchListings, futureWarning, incompleteParts, isComplete, mergeTargetListings, type TargetBackup } from './list';
import { connectAll, throwIfFailed } from './phase';
import { remotesOfTarget, targetHosts } from '../plan/lookup';
import { FUTURE_STOPS_PRUNING, describePolicy, policyIsEmpty, selectRetention, tooManyDeletions, type RetentionCandidate, type RetentionDecision } from './retention';
import { writeMetricsQuietly } from './health';
import { listRemotes, type RemoteListing } from './remotes';

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
  const { listings: stores, clocks, failures: storeFailures } = await fetchListings(ctx, phase, EXIT.PRUNE, undefined, { sizes: false });
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

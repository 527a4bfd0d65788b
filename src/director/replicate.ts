/** replicate_backups: the target pushes to its remotes (its replicate_backups capsule). */
import { renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CapsuleResult } from '../ssh/types';
import { runCapsule } from './capsule';
import type { Context } from './context';
import { DirectorError, asDirectorError } from './errors';
import { EXIT } from './exit-codes';
import { withLock } from './guard';
import { fetchTargetBackups, incompleteParts } from './list';
import { writeMetricsQuietly } from './health';
import { connectAll, runOnHosts, throwIfFailed } from './phase';
import { remotesOfTarget, targetHosts } from '../plan/lookup';

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

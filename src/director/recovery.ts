/**
 * Cleaning up after an earlier perform_backup that crashed or was killed: its run record says
 * what may still be in force (a pause, snapshots, commits on some targets). Runs under the lock,
 * before the next backup's own phases, so no earlier run is alive.
 */
import type { Context } from './context';
import { EXIT } from './exit-codes';
import { fetchTargetBackups, isComplete } from './list';
import { capsulePhase } from './phase';
import { targetHosts } from '../plan/lookup';
import { unsettled, type RunRecord } from './state';

/** Runs a crashed or half-cleaned earlier run left behind. The lock is ours, so none is alive. */
export function leftoversOf(records: RunRecord[]): RunRecord[] {
  return records.filter(unsettled);
}

/** Unpauses, removes snapshots, readies the targets and settles half-done commits of LEFTOVERS. */
export async function recoverLeftovers(ctx: Context, runId: string, leftovers: RunRecord[]): Promise<void> {
  const { plan } = ctx;
  ctx.report.warn('cleanup', `cleaning up after ${leftovers.map((r) => `${r.id} (${r.status} in ${r.phase})`).join(', ')}`);
  if (leftovers.some((r) => r.pauseInProgress)) {
    await capsulePhase(ctx, plan.dockerHosts, {
      phase: 'cleanup',
      exitCode: EXIT.CLEANUP,
      capsule: 'unpause_containers',
      summarize: (r) => ({ detail: `unpaused ${String(r.unpaused ?? '?')}` }),
    });
  }
  await capsulePhase(ctx, plan.sources.map((s) => s.host), {
    phase: 'cleanup',
    exitCode: EXIT.CLEANUP,
    capsule: 'remove_source_snapshot',
    summarize: (r) => ({ detail: r.removed === true ? 'removed a leftover snapshot' : 'no leftover snapshot' }),
  });
  await capsulePhase(ctx, targetHosts(plan), { phase: 'cleanup', exitCode: EXIT.CLEANUP, capsule: 'prepare_target' });
  const halfCommitted = leftovers.filter((r) => (r.commitTargets?.length ?? 0) > 0);
  if (halfCommitted.length > 0) await finishCommits(ctx, halfCommitted);
  for (const old of leftovers) {
    if (old.status === 'running') {
      old.status = 'failed';
      old.failedPhase = old.phase;
      old.error = `interrupted: the director stopped during ${old.phase} (cleaned up by ${runId})`;
      old.endedAt ??= old.startedAt;
    }
    old.pauseInProgress = false;
    old.snapshotsMayExist = false;
    ctx.state.saveRun(old);
  }
}

/**
 * Several targets: earlier runs that stopped during (or right after) their commit. A backup every
 * target committed is complete after all; any other has its parts discarded.
 */
async function finishCommits(ctx: Context, runs: RunRecord[]): Promise<void> {
  const merged = await fetchTargetBackups(ctx, 'cleanup', EXIT.CLEANUP);
  for (const old of runs) {
    const found = merged.find((b) => b.id === old.id);
    if (found !== undefined && isComplete(found)) {
      ctx.report.warn('cleanup', `backup ${old.id} was committed on every target before its run stopped: it is complete`);
      old.status = 'complete';
      delete old.failedPhase;
      delete old.error;
    } else {
      const holding = (found?.parts ?? []).filter((p) => p.state !== 'missing').map((p) => p.host);
      if (holding.length > 0) {
        await capsulePhase(ctx, holding, {
          phase: 'cleanup',
          exitCode: EXIT.CLEANUP,
          capsule: 'discard_backup',
          arg: old.id,
          summarize: (r) => ({ detail: r.discarded === true ? `discarded the unfinished backup ${old.id}` : 'nothing to discard' }),
        });
      }
      if (old.status === 'complete') old.status = 'failed';
    }
    delete old.commitTargets;
    ctx.state.saveRun(old);
  }
}

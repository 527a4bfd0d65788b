/**
 * restore_backup ID / restore_latest_backup:
 *   connect → preflight (the backup exists and is complete; docker stopped everywhere)
 *     → activate_backup ID → restore_source per source → deactivate_backup (always)
 * Holding the lock keeps a backup from starting while a restore writes the live trees.
 */
import type { CapsuleResult } from '../ssh/types';
import { num } from './capsule';
import { interruptSignalName, type Context } from './context';
import { DirectorError, InterruptedError, UsageError, asDirectorError } from './errors';
import { EXIT } from './exit-codes';
import { formatDuration } from './format';
import { withLock } from './guard';
import { BACKUP_ID } from './ids';
import { fetchTargetBackups, isComplete, type TargetBackup } from './list';
import { planDigest } from './manifest';
import { capsuleOnHosts, capsulePhase, connectAll, throwIfFailed } from './phase';
import { phaseTable } from './summary';

export type RestoreRequest = { id: string } | { latest: true };

export async function restoreBackup(ctx: Context, request: RestoreRequest): Promise<number> {
  if ('id' in request && !BACKUP_ID.test(request.id)) {
    throw new UsageError(`backup id must look like YYYYMMDD_HHMMSS, got ${JSON.stringify(request.id)}`);
  }
  const command = 'id' in request ? `restore_backup ${request.id}` : 'restore_latest_backup';
  return withLock(ctx, command, () => new RestoreRun(ctx, request).run());
}

/** Picks the backup to restore; refuses unknown, incomplete, or ones lacking a source of this plan. */
export function chooseBackup(backups: TargetBackup[], request: RestoreRequest, treeNames: string[]): TargetBackup {
  let chosen: TargetBackup | undefined;
  if ('id' in request) {
    chosen = backups.find((b) => b.id === request.id);
    if (chosen === undefined) throw new DirectorError(`backup ${request.id} does not exist on the target (see list_backups)`, EXIT.NO_SUCH_BACKUP, 'preflight');
    if (!isComplete(chosen)) throw new DirectorError(`backup ${request.id} is not complete: it cannot be restored`, EXIT.NO_SUCH_BACKUP, 'preflight');
  } else {
    chosen = backups.filter(isComplete).sort((a, b) => (a.id < b.id ? 1 : -1))[0];
    if (chosen === undefined) throw new DirectorError('there is no complete backup on the target', EXIT.NO_SUCH_BACKUP, 'preflight');
  }
  const inBackup = chosen.manifest?.sources?.map((s) => s.treeName);
  if (inBackup !== undefined) {
    const missing = treeNames.filter((t) => !inBackup.includes(t));
    if (missing.length > 0) {
      throw new DirectorError(`backup ${chosen.id} has no tree for ${missing.join(', ')}: refusing a partial restore`, EXIT.NO_SUCH_BACKUP, 'preflight');
    }
  }
  return chosen;
}

class RestoreRun {
  private readonly startedAt: number;
  constructor(
    private readonly ctx: Context,
    private readonly request: RestoreRequest,
  ) {
    this.startedAt = ctx.now();
  }

  private checkInterrupt(phase: string): void {
    if (this.ctx.interrupt.aborted) throw new InterruptedError(phase, interruptSignalName(this.ctx));
  }

  async run(): Promise<number> {
    const { ctx } = this;
    const { plan } = ctx;
    const sources = plan.sources.map((s) => s.host);
    let id: string | undefined;
    let failure: DirectorError | undefined;
    try {
      await connectAll(ctx, [plan.target.host, ...plan.dockerHosts, ...sources], EXIT.CONNECT);
      const backups = await fetchTargetBackups(ctx, 'preflight', EXIT.LIST);
      const chosen = chooseBackup(backups, this.request, plan.sources.map((s) => s.treeName));
      id = chosen.id;
      ctx.report.info('preflight', `restoring backup ${id}`);
      if (chosen.manifest?.planDigest !== undefined && chosen.manifest.planDigest !== planDigest(plan)) {
        ctx.report.warn('preflight', `backup ${id} was taken with a different plan (another deployment, or the inventory changed since)`);
      }
      await this.requireDockerStopped();
      this.checkInterrupt('activate');
      await capsulePhase(ctx, [plan.target.host], { phase: 'activate', exitCode: EXIT.ACTIVATE, capsule: 'activate_backup', arg: id, summarize: (r) => ({ detail: String(r.mount ?? '') }) });
      let restoreFailure: unknown;
      try {
        this.checkInterrupt('restore');
        const outcome = await capsuleOnHosts(ctx, sources, {
          phase: 'restore',
          exitCode: EXIT.RESTORE,
          capsule: 'restore_source',
          exec: { signal: ctx.interrupt, onStderr: ctx.progress },
          concurrency: Math.max(1, plan.settings.syncConcurrency),
          stopOnFailure: true,
          stop: () => ctx.interrupt.aborted,
          announce: true,
          summarize: (r: CapsuleResult) => ({ bytes: num(r, 'bytes'), files: num(r, 'files') }),
        });
        throwIfFailed({ phase: 'restore', exitCode: EXIT.RESTORE }, outcome);
      } catch (e) {
        restoreFailure = e;
      }
      // Always deactivate, so the target does not keep a clone mounted and exported.
      const deactivated = await capsuleOnHosts(ctx, [plan.target.host], { phase: 'deactivate', exitCode: EXIT.DEACTIVATE, capsule: 'deactivate_backup' });
      if (restoreFailure !== undefined) throw restoreFailure;
      throwIfFailed({ phase: 'deactivate', exitCode: EXIT.DEACTIVATE }, deactivated);
    } catch (e) {
      failure = asDirectorError(e, 'restore');
      if (ctx.interrupt.aborted && !(failure instanceof InterruptedError)) failure = new InterruptedError(failure.phase, interruptSignalName(ctx));
    }
    return this.finish(id, failure);
  }

  private async requireDockerStopped(): Promise<void> {
    const { ctx } = this;
    const outcome = await capsuleOnHosts(ctx, ctx.plan.dockerHosts, {
      phase: 'preflight',
      exitCode: EXIT.DOCKER_RUNNING,
      capsule: 'docker_status',
      summarize: (r) => ({ detail: r.running === false ? 'docker stopped' : `docker RUNNING (${String(r.containers ?? '?')} containers)` }),
    });
    const unknown = outcome.failures.map((f) => f.host ?? '?');
    const running = [...outcome.values].filter(([, r]) => r.running !== false).map(([h]) => h);
    if (running.length > 0 || unknown.length > 0) {
      const parts = [];
      if (running.length > 0) parts.push(`docker is running on ${running.join(', ')}`);
      if (unknown.length > 0) parts.push(`cannot tell whether docker runs on ${unknown.join(', ')}`);
      throw new DirectorError(`${parts.join('; ')}: run stop_docker first`, EXIT.DOCKER_RUNNING, 'preflight');
    }
  }

  private finish(id: string | undefined, failure: DirectorError | undefined): number {
    const { ctx } = this;
    const took = formatDuration(ctx.now() - this.startedAt);
    const lines = ['', phaseTable(ctx.report.phases), ''];
    if (failure === undefined) {
      lines.push(`backup ${id} restored in ${took}; start the platform with start_docker`);
      ctx.report.info('done', `backup ${id} restored in ${took}`);
    } else {
      const what = id === undefined ? 'restore' : `restore of backup ${id}`;
      lines.push(`${what} FAILED in phase ${failure.phase} (exit ${failure.exitCode}): ${failure.message}`);
      ctx.report.error('done', `${what} failed in phase ${failure.phase} (exit ${failure.exitCode}): ${failure.message}`);
    }
    ctx.print(lines.join('\n'));
    return failure?.exitCode ?? EXIT.OK;
  }
}

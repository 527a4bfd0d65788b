/**
 * restore_backup ID / restore_latest_backup [--only HOST[:PATH]]... [--dry-run] [--from STORE]:
 *   connect → preflight (the backup exists and is complete and holds what is selected; docker
 *   stopped everywhere, unless a dry run) → activate_backup ID (or attach_foreign_store STORE +
 *   activate_foreign_backup ID) → per selected source: restore_source [PATH] (a partial restore is
 *   checked first by restore_source_dry_run PATH), or restore_source_dry_run [PATH] for a dry run
 *   → deactivate_backup (or detach_foreign_store), always.
 * Holding the lock keeps a backup from starting while a restore writes the live trees.
 */
import { isSubpath } from '../plan/checks';
import type { Plan, SourcePlan } from '../plan/types';
import type { CapsuleResult } from '../ssh/types';
import { num } from './capsule';
import { interruptSignalName, type Context } from './context';
import { DirectorError, InterruptedError, LockHeldError, UsageError, asDirectorError } from './errors';
import { EXIT } from './exit-codes';
import { formatDuration } from './format';
import { withLock } from './guard';
import { BACKUP_ID, backupIdTime } from './ids';
import { fetchTargetBackups, isComplete, mergeTargetListings, parseTargetBackups, type TargetBackup } from './list';
import { targetHosts } from '../plan/lookup';
import { planDigest } from './manifest';
import { capsuleOnHosts, capsulePhase, connectAll, throwIfFailed } from './phase';
import { phaseTable } from './summary';

export interface RestoreOptions {
  /** `--only HOST[:PATH]`: restore only these sources, or one path inside a source. */
  only?: string[];
  /** `--dry-run`: show what would change on each host; change nothing. */
  dryRun?: boolean;
  /** `--from STORE`: restore from a foreign store of the target (backup_foreign_stores). */
  from?: string;
}

export type RestoreRequest = ({ id: string } | { latest: true }) & RestoreOptions;

/** One source to restore: the whole tree (path undefined) or one path relative to its live dir. */
export interface Selection {
  source: SourcePlan;
  path?: string;
}

/**
 * Parses `--only` values against the plan: HOST (a source) or HOST:PATH with PATH inside that
 * source's live dir, absolute (`/docker/wordpress`) or relative to it (`wordpress`). Throws
 * UsageError naming what is allowed. No selector = every source, whole.
 */
export function parseSelections(plan: Plan, only: readonly string[] | undefined): Selection[] {
  if (only === undefined || only.length === 0) return plan.sources.map((source) => ({ source }));
  const chosen = new Map<string, Selection>();
  for (const text of only) {
    const colon = text.indexOf(':');
    const host = colon < 0 ? text : text.slice(0, colon);
    const source = plan.sources.find((s) => s.host === host);
    if (source === undefined) {
      throw new UsageError(`--only ${JSON.stringify(text)}: '${host}' is not a backup source of this plan (one of: ${plan.sources.map((s) => s.host).join(', ')})`);
    }
    let path: string | undefined;
    if (colon >= 0) {
      const raw = text.slice(colon + 1);
      if (raw === '') throw new UsageError(`--only ${JSON.stringify(text)}: empty path after ':'; write just ${host} to restore the whole source`);
      // Trailing slashes are dropped, but a path of slashes only is '/', outside the source dir.
      let p = /^\/+$/.test(raw) ? '/' : raw.replace(/\/+$/, '');
      if (p === source.liveDir) p = '';
      else if (p.startsWith('/')) {
        if (!p.startsWith(`${source.liveDir}/`)) {
          throw new UsageError(`--only ${JSON.stringify(text)}: the path must lie inside ${host}'s source dir ${source.liveDir}`);
        }
        p = p.slice(source.liveDir.length + 1);
      }
      if (p !== '') {
        if (!isSubpath(p)) {
          throw new UsageError(
            `--only ${JSON.stringify(text)}: a path inside ${source.liveDir} is made of letters, digits and '._-', parts separated by single '/', none of them '.' or '..' nor starting with '-'`,
          );
        }
        path = p;
      }
    }
    if (chosen.has(host)) throw new UsageError(`--only names ${host} twice: one selector per source`);
    chosen.set(host, path === undefined ? { source } : { source, path });
  }
  return plan.sources.filter((s) => chosen.has(s.host)).map((s) => chosen.get(s.host)!);
}

/** The targets that have foreign store `name` (backup_foreign_stores). */
export function foreignHolders(plan: Plan, name: string): string[] {
  return plan.targets.filter((t) => (t.foreignStores ?? []).some((f) => f.name === name)).map((t) => t.host);
}

/** The targets the selected sources restore from (each source pulls from its own target). */
export function targetsOf(selections: readonly Selection[]): string[] {
  return [...new Set(selections.map((s) => s.source.target))].sort();
}

export function describeSelection(sel: Selection): string {
  return sel.path === undefined ? `${sel.source.host}:${sel.source.liveDir}` : `${sel.source.host}:${sel.source.liveDir}/${sel.path}`;
}

export async function restoreBackup(ctx: Context, request: RestoreRequest): Promise<number> {
  // A well-formed id that names no real time (month 13) cannot exist: refused here like any
  // malformed one, before any host is contacted (as verify_backup does).
  if ('id' in request && (!BACKUP_ID.test(request.id) || backupIdTime(request.id) === undefined)) {
    throw new UsageError(`backup id must look like YYYYMMDD_HHMMSS (a UTC time, as list_backups shows), got ${JSON.stringify(request.id)}`);
  }
  let selections = parseSelections(ctx.plan, request.only);
  if (request.from !== undefined) {
    const stores = [...new Set(ctx.plan.targets.flatMap((t) => (t.foreignStores ?? []).map((f) => f.name)))].sort();
    if (!stores.includes(request.from)) {
      throw new UsageError(
        stores.length === 0
          ? `--from ${JSON.stringify(request.from)}: ${ctx.plan.targets.length === 1 ? 'this target has no foreign stores' : 'no target has foreign stores'} (set backup_foreign_stores on it and run the playbook)`
          : `--from ${JSON.stringify(request.from)}: no such foreign store (one of: ${stores.join(', ')})`,
      );
    }
    // A foreign store is attached to a target: only that target's sources can restore from it.
    const holders = foreignHolders(ctx.plan, request.from);
    if (request.only === undefined || request.only.length === 0) selections = selections.filter((s) => holders.includes(s.source.target));
    const outside = selections.filter((s) => !holders.includes(s.source.target)).map((s) => s.source.host);
    if (outside.length > 0) {
      throw new UsageError(`--from ${request.from}: that store is attached to ${holders.join(', ')}; ${outside.join(', ')} restore from another target (leave them out of --only)`);
    }
  }
  const base = 'id' in request ? `restore_backup ${request.id}` : 'restore_latest_backup';
  const flags = [...(request.only ?? []).map((o) => `--only ${o}`), ...(request.from ? [`--from ${request.from}`] : []), ...(request.dryRun ? ['--dry-run'] : [])];
  const command = [base, ...flags].join(' ');
  try {
    return await withLock(ctx, command, () => new RestoreRun(ctx, request, selections).run());
  } catch (e) {
    if (e instanceof LockHeldError) {
      throw new DirectorError(
        `${e.message}: a restore never runs beside a backup or another restore; wait until that run ends (list_backups shows a running backup), then run this restore again`,
        EXIT.LOCKED,
        'lock',
      );
    }
    throw e;
  }
}

/** Picks the backup to restore; refuses unknown, incomplete, or ones lacking a selected source. */
export function chooseBackup(backups: TargetBackup[], request: RestoreRequest, trees: ReadonlyArray<{ treeName: string; target: string }>, where = 'the target'): TargetBackup {
  const treeNames = trees.map((t) => t.treeName);
  let chosen: TargetBackup | undefined;
  const list = where === 'the target' ? 'list_backups' : `restore_latest_backup --from … --dry-run`;
  if ('id' in request) {
    chosen = backups.find((b) => b.id === request.id);
    if (chosen === undefined) throw new DirectorError(`backup ${request.id} does not exist on ${where} (see ${list})`, EXIT.NO_SUCH_BACKUP, 'preflight');
    if (!isComplete(chosen)) throw new DirectorError(`backup ${request.id} is not complete: it cannot be restored; pick a complete one (see ${list})`, EXIT.NO_SUCH_BACKUP, 'preflight');
  } else {
    // A backup dated after the store's clock is not the latest, whatever its id says: name it to restore it.
    const complete = backups.filter(isComplete);
    chosen = complete.filter((b) => b.future !== true).sort((a, b) => (a.id < b.id ? 1 : -1))[0];
    if (chosen === undefined) {
      const future = complete.filter((b) => b.future === true).map((b) => b.id);
      throw new DirectorError(`there is no complete backup on ${where}${future.length > 0 ? ` but ${future.join(', ')}, dated in the future of its clock: restore it by id if it is what you want` : ''}`, EXIT.NO_SUCH_BACKUP, 'preflight');
    }
  }
  const inBackup = chosen.manifest?.sources?.map((s) => s.treeName);
  if (inBackup !== undefined) {
    const missing = treeNames.filter((t) => !inBackup.includes(t));
    if (missing.length > 0) {
      throw new DirectorError(
        `backup ${chosen.id} has no tree for ${missing.join(', ')}: refusing; restore the sources it has with --only HOST`,
        EXIT.NO_SUCH_BACKUP,
        'preflight',
      );
    }
  }
  // Each tree is read from the target the backup put it on: a source that moved to another target
  // since would otherwise get that target's stale tree (or nothing) with --delete. (A foreign
  // store's manifests name the other deployment's targets: its own attach decides there.)
  if (where === 'the target') {
    const moved = trees.flatMap((t) => {
      const was = chosen.manifest?.sources?.find((s) => s.treeName === t.treeName)?.target;
      return typeof was === 'string' && was !== t.target ? [`${t.treeName} (on ${was} in the backup, on ${t.target} in the plan)`] : [];
    });
    if (moved.length > 0) {
      throw new DirectorError(
        `backup ${chosen.id} holds ${moved.join(', ')}: the source moved to another target since; refusing to restore it from the wrong one (point backup_target back for the restore, or restore a backup taken since)`,
        EXIT.NO_SUCH_BACKUP,
        'preflight',
      );
    }
  }
  return chosen;
}

/** One host's dry-run answer as printed lines. */
export function dryRunLines(host: string, r: CapsuleResult): string[] {
  const path = typeof r.path === 'string' && r.path !== '.' ? `/${r.path}` : '';
  const lines = [`${host}${path}: ${num(r, 'changes') ?? '?'} changes (${num(r, 'created') ?? '?'} new, ${num(r, 'changed') ?? '?'} changed, ${num(r, 'deleted') ?? '?'} deleted)`];
  const list = Array.isArray(r.list) ? r.list.filter((x): x is string => typeof x === 'string') : [];
  for (const item of list) lines.push(`  ${item}`);
  if (r.listTruncated === true) lines.push(`  … (${(num(r, 'changes') ?? 0) - list.length} more)`);
  return lines;
}

class RestoreRun {
  private readonly startedAt: number;
  private readonly dryRunOutput: string[] = [];
  constructor(
    private readonly ctx: Context,
    private readonly request: RestoreRequest,
    private readonly selections: Selection[],
  ) {
    this.startedAt = ctx.now();
  }

  /** The targets holding the selected sources' trees: activated, read from, deactivated. */
  private get targets(): string[] {
    return targetsOf(this.selections);
  }

  private checkInterrupt(phase: string): void {
    if (this.ctx.interrupt.aborted) throw new InterruptedError(phase, interruptSignalName(this.ctx));
  }

  async run(): Promise<number> {
    const { ctx, request, selections } = this;
    const { plan } = ctx;
    const hosts = selections.map((s) => s.source.host);
    const foreign = request.from;
    const dryRun = request.dryRun === true;
    let id: string | undefined;
    let failure: DirectorError | undefined;
    let attached = false;
    try {
      // A backup spans every target; the restore reads from the targets of the selected sources.
      const listed = foreign === undefined ? targetHosts(plan) : this.targets;
      await connectAll(ctx, [...listed, ...plan.dockerHosts, ...hosts], EXIT.CONNECT);
      // Asked at once, beside the listing; its answer counts only after the backup was found, so a
      // missing backup (exit 21) is reported before a running docker (exit 20), as always.
      const dockerStopped = this.requireDockerStopped(dryRun);
      dockerStopped.catch(() => undefined); // awaited below; this only keeps an early exit from leaving it unhandled
      let backups: TargetBackup[];
      if (foreign === undefined) {
        backups = await fetchTargetBackups(ctx, 'preflight', EXIT.LIST);
      } else {
        attached = true; // detach even if the attach failed half way
        const parse = (x: CapsuleResult): TargetBackup[] => parseTargetBackups(x, ctx.plan.settings.clockSkewSeconds * 1000, ctx.now());
        const r = await capsulePhase(ctx, this.targets, {
          phase: 'attach',
          exitCode: EXIT.ACTIVATE,
          capsule: 'attach_foreign_store',
          arg: foreign,
          summarize: (x) => ({ detail: `${parse(x).length} backups in ${foreign}` }),
        });
        // The foreign manifests name the other deployment's hosts: complete = complete in every attached store.
        const listings = new Map([...r].map(([h, x]) => [h, parse(x)]));
        backups = mergeTargetListings(listings, this.targets, () => this.targets);
      }
      const where = foreign === undefined ? 'the target' : `foreign store ${foreign}`;
      const chosen = chooseBackup(backups, request, selections.map((s) => s.source), where);
      id = chosen.id;
      ctx.report.info('preflight', `${dryRun ? 'dry run of restoring' : 'restoring'} backup ${id}${foreign ? ` of ${foreign}` : ''} into ${selections.map(describeSelection).join(', ')}`);
      if (chosen.manifest?.planDigest !== undefined && chosen.manifest.planDigest !== planDigest(plan)) {
        ctx.report.warn('preflight', `backup ${id} was taken with a different plan (another deployment, or the inventory changed since)`);
      }
      await dockerStopped;
      this.checkInterrupt('activate');
      // With several targets one may activate and another fail: deactivate everywhere then too.
      attached = true;
      await capsulePhase(ctx, this.targets, {
        phase: 'activate',
        exitCode: EXIT.ACTIVATE,
        capsule: foreign === undefined ? 'activate_backup' : 'activate_foreign_backup',
        arg: id,
        summarize: (r) => ({ detail: String(r.mount ?? '') }),
      });
      let restoreFailure: unknown;
      try {
        this.checkInterrupt('restore');
        if (dryRun) await this.dryRun(selections, 'dry-run', EXIT.RESTORE);
        else {
          const partial = selections.filter((s) => s.path !== undefined);
          // The selected paths must be in the backup: checked (and shown) before anything is written.
          if (partial.length > 0) await this.dryRun(partial, 'check', EXIT.NO_SUCH_BACKUP);
          await this.restore(selections);
        }
      } catch (e) {
        restoreFailure = e;
      }
      // Always deactivate, so the target does not keep a clone mounted and exported.
      const deactivated = await this.deactivate(foreign);
      attached = false;
      if (restoreFailure !== undefined) throw restoreFailure;
      throwIfFailed({ phase: 'deactivate', exitCode: EXIT.DEACTIVATE }, deactivated);
    } catch (e) {
      failure = asDirectorError(e, 'restore');
      if (ctx.interrupt.aborted && !(failure instanceof InterruptedError)) failure = new InterruptedError(failure.phase, interruptSignalName(ctx));
      if (attached) await this.deactivate(foreign);
    }
    return this.finish(id, failure);
  }

  private deactivate(foreign: string | undefined) {
    const { ctx } = this;
    return capsuleOnHosts(ctx, this.targets, {
      phase: 'deactivate',
      exitCode: EXIT.DEACTIVATE,
      capsule: foreign === undefined ? 'deactivate_backup' : 'detach_foreign_store',
    });
  }

  private async restore(selections: Selection[]): Promise<void> {
    const { ctx } = this;
    const byHost = new Map(selections.map((s) => [s.source.host, s.path]));
    const outcome = await capsuleOnHosts(ctx, [...byHost.keys()], {
      phase: 'restore',
      exitCode: EXIT.RESTORE,
      capsule: 'restore_source',
      exec: { signal: ctx.interrupt, onStderr: ctx.progress },
      concurrency: Math.max(1, ctx.plan.settings.restoreConcurrency),
      stopOnFailure: true,
      stop: () => ctx.interrupt.aborted,
      announce: true,
      summarize: (r: CapsuleResult) => ({ bytes: num(r, 'bytes'), files: num(r, 'files') }),
      argFor: (host) => byHost.get(host),
      // rsync's progress only for an operator who sees it (it costs the copy time).
      stdinFor: () => (ctx.progress === undefined ? '' : 'progress\n'),
    });
    throwIfFailed({ phase: 'restore', exitCode: EXIT.RESTORE }, outcome);
  }

  private async dryRun(selections: Selection[], phase: string, exitCode: typeof EXIT.RESTORE | typeof EXIT.NO_SUCH_BACKUP): Promise<void> {
    const { ctx } = this;
    const byHost = new Map(selections.map((s) => [s.source.host, s.path]));
    const outcome = await capsuleOnHosts(ctx, [...byHost.keys()], {
      phase,
      exitCode,
      capsule: 'restore_source_dry_run',
      exec: { signal: ctx.interrupt },
      concurrency: Math.max(1, ctx.plan.settings.restoreConcurrency),
      stop: () => ctx.interrupt.aborted,
      summarize: (r: CapsuleResult) => ({ files: num(r, 'changes'), detail: `${num(r, 'changes') ?? '?'} changes` }),
      argFor: (host) => byHost.get(host),
    });
    for (const [host, r] of outcome.values) this.dryRunOutput.push(...dryRunLines(host, r));
    throwIfFailed({ phase, exitCode }, outcome);
  }

  private async requireDockerStopped(dryRun: boolean): Promise<void> {
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
      if (dryRun) {
        ctx.report.warn('preflight', `${parts.join('; ')}: the real restore will be refused until stop_docker has run`);
        return;
      }
      throw new DirectorError(`${parts.join('; ')}: run stop_docker first (every docker host, even for --only), then this restore again`, EXIT.DOCKER_RUNNING, 'preflight');
    }
  }

  private finish(id: string | undefined, failure: DirectorError | undefined): number {
    const { ctx, request } = this;
    const took = formatDuration(ctx.now() - this.startedAt);
    const lines = ['', phaseTable(ctx.report.phases), ''];
    const from = request.from === undefined ? '' : ` of foreign store ${request.from}`;
    const into = this.selections.map(describeSelection).join(', ');
    if (this.dryRunOutput.length > 0) lines.push(request.dryRun ? 'would change (dry run, nothing was changed):' : 'changes:', ...this.dryRunOutput, '');
    if (failure === undefined) {
      if (request.dryRun) {
        lines.push(`dry run of backup ${id}${from} into ${into} in ${took}: nothing was changed`);
        ctx.report.info('done', `dry run of backup ${id}${from} in ${took}`);
      } else {
        lines.push(`backup ${id}${from} restored in ${took} into ${into}; start the platform with start_docker`);
        ctx.report.info('done', `backup ${id}${from} restored in ${took}`);
      }
    } else {
      const what = `${request.dryRun ? 'dry run' : 'restore'}${id === undefined ? '' : ` of backup ${id}${from}`}`;
      lines.push(`${what} FAILED in phase ${failure.phase} (exit ${failure.exitCode}): ${failure.message}`);
      ctx.report.error('done', `${what} failed in phase ${failure.phase} (exit ${failure.exitCode}): ${failure.message}`);
    }
    ctx.print(lines.join('\n'));
    return failure?.exitCode ?? EXIT.OK;
  }
}

/**
 * list_backups: the target's committed backups (its list_backups capsule) merged with the
 * failed runs only the director knows about. Only a committed backup whose manifest says
 * `complete` is restorable; a failed run is shown so the operator sees it, never offered.
 */
import type { CapsuleResult } from '../ssh/types';
import { runCapsule } from './capsule';
import type { Context } from './context';
import { DirectorError, asDirectorError } from './errors';
import { EXIT, type ExitCode } from './exit-codes';
import { formatAge, formatBytes, renderTable } from './format';
import { BACKUP_ID, backupIdTime } from './ids';
import type { Manifest } from './manifest';
import { pidAlive } from './lock';
import { connectAll } from './phase';
import type { RunRecord } from './state';

export interface TargetBackup {
  id: string;
  usedBytes?: number;
  compressRatio?: number;
  manifest?: Partial<Manifest>;
}

export type BackupStatus = 'complete' | 'incomplete' | 'failed' | 'running';

export interface BackupEntry {
  id: string;
  status: BackupStatus;
  restorable: boolean;
  usedBytes?: number;
  compressRatio?: number;
  ageMs?: number;
  failedPhase?: string;
  error?: string;
  manifest?: Partial<Manifest>;
}

/** Reads the capsule's `backups` field defensively: a malformed entry is dropped, not trusted. */
export function parseTargetBackups(result: CapsuleResult): TargetBackup[] {
  const list = Array.isArray(result.backups) ? (result.backups as unknown[]) : [];
  const out: TargetBackup[] = [];
  for (const item of list) {
    if (item === null || typeof item !== 'object') continue;
    const b = item as Record<string, unknown>;
    if (typeof b.id !== 'string' || !BACKUP_ID.test(b.id)) continue;
    out.push({
      id: b.id,
      usedBytes: typeof b.usedBytes === 'number' ? b.usedBytes : undefined,
      compressRatio: typeof b.compressRatio === 'number' ? b.compressRatio : undefined,
      manifest: b.manifest !== null && typeof b.manifest === 'object' ? (b.manifest as Partial<Manifest>) : undefined,
    });
  }
  return out;
}

/** Complete = committed with a manifest that names this id and says complete. */
export function isComplete(b: TargetBackup): boolean {
  return b.manifest?.status === 'complete' && b.manifest.id === b.id;
}

/** `alive` tells a live run from one whose director died (shown as failed before any cleanup). */
export function mergeBackups(target: TargetBackup[], runs: RunRecord[], now: number, alive: (pid: number) => boolean = pidAlive): BackupEntry[] {
  const entries = new Map<string, BackupEntry>();
  for (const r of runs) {
    // Complete runs are listed from the target (the truth: it may have pruned them).
    if (r.status === 'complete') continue;
    const died = r.status === 'running' && !alive(r.pid);
    entries.set(r.id, {
      id: r.id,
      status: died ? 'failed' : r.status,
      restorable: false,
      failedPhase: r.failedPhase ?? (r.status === 'running' ? r.phase : undefined),
      error: died ? `interrupted: the director stopped during ${r.phase}` : r.error,
    });
  }
  for (const b of target) {
    const complete = isComplete(b);
    entries.set(b.id, {
      id: b.id,
      status: complete ? 'complete' : 'incomplete',
      restorable: complete,
      usedBytes: b.usedBytes,
      compressRatio: b.compressRatio,
      manifest: b.manifest,
    });
  }
  return [...entries.values()]
    .map((e) => {
      const t = backupIdTime(e.id);
      return t === undefined ? e : { ...e, ageMs: now - t };
    })
    .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/** Asks the (connected) target for its backups. */
export async function fetchTargetBackups(ctx: Context, phase: string, exitCode: ExitCode): Promise<TargetBackup[]> {
  const host = ctx.plan.target.host;
  const result = await ctx.report.step(phase, host, () => runCapsule(ctx, { phase, exitCode, host, capsule: 'list_backups' }, { signal: ctx.interrupt }), (r) => ({
    detail: `${parseTargetBackups(r).length} backups`,
  }));
  return parseTargetBackups(result);
}

function statusText(e: BackupEntry): string {
  if (e.status === 'failed') return `failed (${e.failedPhase ?? '?'})`;
  if (e.status === 'running') return `running (${e.failedPhase ?? '?'})`;
  return e.status;
}

export function backupsTable(entries: BackupEntry[]): string {
  const rows = entries.map((e) => [
    e.id,
    statusText(e),
    formatBytes(e.usedBytes),
    formatAge(e.ageMs),
    e.compressRatio === undefined ? '-' : `${e.compressRatio.toFixed(2)}x`,
    e.restorable ? 'yes' : 'no',
  ]);
  return renderTable(['ID', 'STATUS', 'SIZE', 'AGE', 'RATIO', 'RESTORABLE'], rows, [2, 3, 4]);
}

export async function listBackups(ctx: Context, options: { json: boolean }): Promise<number> {
  let target: TargetBackup[] = [];
  let failure: DirectorError | undefined;
  try {
    await connectAll(ctx, [ctx.plan.target.host], EXIT.CONNECT);
    target = await fetchTargetBackups(ctx, 'list', EXIT.LIST);
  } catch (e) {
    failure = asDirectorError(e, 'list');
    ctx.report.error('list', `cannot list the target's backups (showing local runs only): ${failure.message}`);
  }
  const entries = mergeBackups(target, ctx.state.runs(), ctx.now(), ctx.alive);
  if (options.json) ctx.print(JSON.stringify(entries, null, 2));
  else ctx.print(entries.length === 0 ? 'no backups' : backupsTable(entries));
  return failure?.exitCode ?? EXIT.OK;
}

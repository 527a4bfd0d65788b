/** verify_backup: each target checks its part of a backup, and can restore it to a scratch place. */
import type { CapsuleResult } from '../ssh/types';
import { runCapsule } from './capsule';
import type { Context } from './context';
import { DirectorError, UsageError, asDirectorError } from './errors';
import { EXIT } from './exit-codes';
import { withLock } from './guard';
import { BACKUP_ID, backupIdTime } from './ids';
import { fetchTargetBackups, isComplete } from './list';
import { connectAll } from './phase';

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

/** check_backup (a Nagios plugin) and the Prometheus textfile metrics, from what the stores say. */
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { MonitoringPlan } from '../plan/types';
import type { Context } from './context';
import { DirectorError } from './errors';
import { EXIT } from './exit-codes';
import { formatBytes } from './format';
import { backupIdTime } from './ids';
import { fetchListings, isComplete, mergeTargetListings, type StoreUsage, type TargetBackup } from './list';
import { connectAll, throwIfFailed } from './phase';
import { targetHosts } from '../plan/lookup';
import { listRemotes, type RemoteListing } from './remotes';

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
  // What was backed up, as the manifest counts it: the same figure on every kind of store.
  const bytes = Array.isArray(m.sources) ? m.sources.reduce((s, x) => s + (x.bytes ?? 0), 0) : undefined;
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
    // The ids alone: a dir store counts each backup's sizes by walking every backup, on every run.
    const fetched = await fetchListings(ctx, 'check', EXIT.LIST, targetHosts(ctx.plan), { sizes: false });
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

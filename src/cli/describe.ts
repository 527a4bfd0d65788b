import type { Plan, TargetPlan } from '../plan/types';
import { remotesOfTarget, sourcesOfTarget, targetNamed } from '../plan/lookup';

function storeText(t: TargetPlan): string {
  return `${t.current} on ${t.backend}${t.zfs ? ` dataset ${t.zfs.dataset} (${t.zfs.compression}, ${t.zfs.package}, pool on ${t.zfs.dataDevice})` : ''}${t.btrfs ? ` (${t.btrfs.compression}, on ${t.btrfs.dataDevice})` : ''}`;
}

/** The plan for a person: hosts and roles, and what each source backs up and on which target it lands. */
export function describePlan(plan: Plan): string {
  const lines: string[] = [];
  const targets = plan.targets.map((t) => `${t.host} (${t.backend})`).join(', ');
  lines.push(`deployment ${plan.deploymentPrefix}: director ${plan.director}, ${plan.targets.length === 1 ? 'target' : 'targets'} ${targets}`);
  lines.push('', 'hosts:');
  const width = Math.max(...plan.hosts.map((h) => h.name.length));
  for (const h of plan.hosts) lines.push(`  ${h.name.padEnd(width)}  ${h.connection}:${h.port}  ${h.roles.join(', ')}`);
  lines.push('', 'sources (live dir → snapshot mount → target:directory in a backup):');
  for (const s of plan.sources) {
    lines.push(`  ${s.host.padEnd(width)}  ${s.backend.padEnd(7)} ${s.liveDir} → ${s.snapshotMount} → ${s.target}:${targetNamed(plan, s.target).current}/${s.treeName}`);
  }
  for (const t of plan.targets) {
    const remotes = remotesOfTarget(plan, t.host).map((r) => r.host);
    lines.push('', `target ${t.host}: ${storeText(t)}`);
    lines.push(`        receives ${sourcesOfTarget(plan, t.host).map((s) => s.host).join(', ')}${remotes.length ? `; replicated to ${remotes.join(', ')}` : ''}`);
    lines.push(`        one snapshot per backup; restores activate one at ${t.restoreMount}`);
  }
  if (plan.targets.length > 1) lines.push('', `every backup spans all ${plan.targets.length} targets under one id; it is complete only when each of them committed it`);
  lines.push(`docker hosts: ${plan.dockerHosts.join(', ') || '(none)'}; pause deadline ${plan.settings.pauseDeadlineSeconds} s; sync concurrency ${plan.settings.syncConcurrency}; restore concurrency ${plan.settings.restoreConcurrency}; full scan every ${plan.settings.fullScanDays === 0 ? '(only --full-scan)' : `${plan.settings.fullScanDays} days`}`);
  return `${lines.join('\n')}\n`;
}

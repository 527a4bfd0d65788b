import type { Plan } from '../plan/types';

/** The plan for a person: hosts and roles, and what each source backs up and where it lands. */
export function describePlan(plan: Plan): string {
  const lines: string[] = [];
  lines.push(`deployment ${plan.deploymentPrefix}: director ${plan.director}, target ${plan.target.host} (${plan.target.backend})`);
  lines.push('', 'hosts:');
  const width = Math.max(...plan.hosts.map((h) => h.name.length));
  for (const h of plan.hosts) lines.push(`  ${h.name.padEnd(width)}  ${h.connection}:${h.port}  ${h.roles.join(', ')}`);
  lines.push('', 'sources (live dir → snapshot mount → directory in a backup):');
  for (const s of plan.sources) {
    lines.push(`  ${s.host.padEnd(width)}  ${s.backend.padEnd(7)} ${s.liveDir} → ${s.snapshotMount} → ${plan.target.current}/${s.treeName}`);
  }
  const t = plan.target;
  lines.push('', `target: ${t.current} on ${t.backend}${t.zfs ? ` dataset ${t.zfs.dataset} (${t.zfs.compression}, ${t.zfs.package}, pool on ${t.zfs.dataDevice})` : ''}${t.btrfs ? ` (${t.btrfs.compression}, on ${t.btrfs.dataDevice})` : ''}`);
  lines.push(`        one snapshot per backup; restores activate one at ${t.restoreMount}`);
  lines.push(`docker hosts: ${plan.dockerHosts.join(', ') || '(none)'}; pause deadline ${plan.settings.pauseDeadlineSeconds} s; sync concurrency ${plan.settings.syncConcurrency}`);
  return `${lines.join('\n')}\n`;
}

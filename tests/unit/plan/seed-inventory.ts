import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { planFromInventory } from '../../../src/plan';
import type { Plan } from '../../../src/plan/types';
/** The production-shaped inventory: the starting point of the plan tests' edits. */
export const SEED = `[all:vars]
deployment_prefix=uat
[backup_director]
backup-director
[backup_targets]
backup-target
[backup_sources]
manager-1   gluster_backup_source=True  lvm_backup_source=False backup_snapshot_storage=0
cassandra-1 gluster_backup_source=False lvm_backup_source=True  backup_snapshot_storage=20
[docker_swarm]
manager-1
cassandra-1
`;

/** The seed with a second target: manager-1 lands on backup-target-2, cassandra-1 on backup-target. */
export const TWO = SEED.replace('[backup_targets]\nbackup-target\n', '[backup_targets]\nbackup-target\nbackup-target-2\n')
  .replace('manager-1   gluster', 'manager-1   backup_target=backup-target-2 gluster')
  .replace('cassandra-1 gluster', 'cassandra-1 backup_target=backup-target gluster');

/** The plan of an inventory given as INI text (written to a temporary file, as Ansible reads one). */
export function planOf(ini: string): Plan {
  const path = join(inventoryDir, `inv${written++}.ini`);
  writeFileSync(path, ini);
  return planFromInventory(path);
}
const inventoryDir = mkdtempSync(join(tmpdir(), 'sbdi-plan-'));
let written = 0;

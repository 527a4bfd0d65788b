import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { InventoryError, InventoryReadError, planFromInventory } from '../../../src/plan';

const SEED = `[all:vars]
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

const dir = mkdtempSync(join(tmpdir(), 'sbdi-inv-'));
let n = 0;
function problemsOf(ini: string): string[] {
  const path = join(dir, `inv${n++}.ini`);
  writeFileSync(path, ini);
  try {
    planFromInventory(path);
  } catch (e) {
    if (e instanceof InventoryError) {
      expect(e.exitCode).toBe(2);
      return e.message.split('\n');
    }
    throw e;
  }
  throw new Error('the inventory was accepted');
}

/** Each case: an edit of the seed inventory, and what the one-line message must name. */
const cases: [string, string, RegExp][] = [
  ['no director', SEED.replace('[backup_director]\nbackup-director\n', ''), /inventory: group \[backup_director\] is missing: expected exactly one host/],
  ['two directors', SEED.replace('[backup_director]\nbackup-director\n', '[backup_director]\nbackup-director\nbackup-director-2\n'), /group \[backup_director\] = \["backup-director","backup-director-2"\]: expected exactly one host/],
  ['no target', SEED.replace('[backup_targets]\nbackup-target\n', ''), /group \[backup_targets\] is missing/],
  ['no source', SEED.replace(/\[backup_sources\]\n.*\n.*\n/, ''), /group \[backup_sources\] is missing: expected at least one host/],
  ['gluster and lvm', SEED.replace('manager-1   gluster_backup_source=True  lvm_backup_source=False', 'manager-1 gluster_backup_source=True lvm_backup_source=True'), /host 'manager-1': gluster_backup_source\/lvm_backup_source\/btrfs_backup_source\/zfs_backup_source = .*only one may be true, but gluster and lvm are/],
  ['neither', SEED.replace('manager-1   gluster_backup_source=True  lvm_backup_source=False', 'manager-1 gluster_backup_source=False'), /host 'manager-1': .* a backup source needs exactly one of these set to true/],
  ['@+ in host name', SEED.replaceAll('manager-1', 'manager@+1'), /host 'manager@\+1': inventory_hostname = "manager@\+1": .*'@\+' separates host and path/],
  ['odd character in host name', SEED.replaceAll('cassandra-1', 'cassandra$1'), /host 'cassandra\$1': inventory_hostname = "cassandra\$1"/],
  ['missing deployment_prefix', SEED.replace('[all:vars]\ndeployment_prefix=uat\n', ''), /host 'backup-director': deployment_prefix is missing: required in \[all:vars\]/],
  ['prefix with a space', SEED.replace('deployment_prefix=uat', 'deployment_prefix="u at"'), /deployment_prefix = "u at"/],
  ['relative path', SEED.replace('lvm_backup_source=True', 'lvm_backup_source=True lvm_backup_source_dir=docker_local'), /host 'cassandra-1': lvm_backup_source_dir = "docker_local": expected an absolute path/],
  ['path with ..', SEED.replace('lvm_backup_source=True', 'lvm_backup_source=True lvm_backup_source_dir=/docker/../etc'), /lvm_backup_source_dir = "\/docker\/..\/etc": expected an absolute path .*without '\.\.'/],
  ['path with $()', SEED.replace('gluster_backup_source=True ', 'gluster_backup_source=True gluster_backup_source_dir="/docker$(reboot)" '), /gluster_backup_source_dir = "\/docker\$\(reboot\)"/],
  ['path with a quote', SEED.replace('gluster_backup_source=True ', `gluster_backup_source=True gluster_backup_source_snapshot_mount_point="/mnt/it's" `), /gluster_backup_source_snapshot_mount_point = "\/mnt\/it's"/],
  ['path /', SEED.replace('gluster_backup_source=True ', 'gluster_backup_source=True gluster_backup_source_dir=/ '), /gluster_backup_source_dir = "\/"/],
  ['snapshot storage negative', SEED.replace('backup_snapshot_storage=20', 'backup_snapshot_storage=-5'), /host 'cassandra-1': backup_snapshot_storage = -5: expected a non-negative whole number/],
  ['snapshot storage text', SEED.replace('backup_snapshot_storage=20', 'backup_snapshot_storage=lots'), /backup_snapshot_storage = "lots"/],
  ['snapshot storage fraction', SEED.replace('backup_snapshot_storage=20', 'backup_snapshot_storage=2.5'), /backup_snapshot_storage = 2.5/],
  ['lvm without snapshot storage', SEED.replace('backup_snapshot_storage=20', 'backup_snapshot_storage=0'), /an LVM source needs a snapshot size of at least 1 GiB/],
  ['not a boolean', SEED.replace('gluster_backup_source=True ', 'gluster_backup_source=maybe '), /host 'manager-1': gluster_backup_source = "maybe": expected a boolean Ansible reads as one/],
  ['boolean typo', SEED.replace('lvm_backup_source=True', 'lvm_backup_source=Ture'), /lvm_backup_source = "Ture"/],
  ['mount inside live dir', SEED.replace('gluster_backup_source=True ', 'gluster_backup_source=True gluster_backup_source_snapshot_mount_point=/docker/snap '), /must lie outside gluster_backup_source_dir/],
  ['bad target backend', SEED.replace('backup-target\n', 'backup-target backup_target_backend=nfs\n'), /host 'backup-target': backup_target_backend = "nfs": expected one of: zfs, btrfs, dir/],
  ['bad compression', SEED.replace('backup-target\n', 'backup-target backup_zfs_compression=gzip-11\n'), /backup_zfs_compression = "gzip-11"/],
  ['bad zfs source package', SEED.replace('gluster_backup_source=True ', 'gluster_backup_source=False zfs_backup_source=true zfs_backup_source_dataset=tank/d zfs_backup_source_package=zfs '), /host 'manager-1': zfs_backup_source_package = "zfs": expected one of: zfsutils-linux, zfs-fuse/],
  ['zstd on zfs-fuse', SEED.replace('backup-target\n', 'backup-target backup_zfs_package=zfs-fuse backup_zfs_compression=zstd\n'), /host 'backup-target': backup_zfs_compression = "zstd": zfs-fuse \(backup_zfs_package\) supports only off, on, lzjb, zle, gzip, gzip-1\.\.9/],
  ['bad pause deadline', SEED.replace('deployment_prefix=uat', 'deployment_prefix=uat\nbackup_pause_deadline=0'), /backup_pause_deadline = 0: expected a whole number from 5 to 3600/],
  ['bad ansible_host', SEED.replace('backup-target\n', 'backup-target ansible_host="a;b"\n'), /host 'backup-target': ansible_host = "a;b"/],
  ['zfs source without dataset', SEED.replace('gluster_backup_source=True ', 'gluster_backup_source=False zfs_backup_source=true '), /zfs_backup_source_dataset is missing/],
  ['bad lvm volume group', SEED.replace('lvm_backup_source=True', 'lvm_backup_source=True lvm_backup_source_volume_group="vg docker"'), /lvm_backup_source_volume_group = "vg docker"/],
];

describe('bad inventories are refused with one line per problem naming host, variable, value and what is allowed', () => {
  it('accepts the seed inventory unchanged', () => {
    const path = join(dir, 'seed.ini');
    writeFileSync(path, SEED);
    const plan = planFromInventory(path);
    expect(plan.sources.map((s) => [s.host, s.backend, s.liveDir, s.snapshotMount, s.treeName])).toEqual([
      ['cassandra-1', 'lvm', '/docker_local', '/local_backupsource', 'cassandra-1@+docker_local'],
      ['manager-1', 'gluster', '/docker', '/gluster_backupsource', 'manager-1@+docker'],
    ]);
  });

  it.each(cases)('%s', (_name, ini, expected) => {
    const lines = problemsOf(ini);
    expect(lines.some((l) => expected.test(l)), lines.join('\n')).toBe(true);
  });

  it('reports every problem at once, not just the first', () => {
    const ini = SEED.replace('deployment_prefix=uat', 'deployment_prefix=uat\nbackup_sync_concurrency=0')
      .replace('backup_snapshot_storage=20', 'backup_snapshot_storage=x')
      .replace('gluster_backup_source=True ', 'gluster_backup_source=perhaps ');
    expect(problemsOf(ini).length).toBeGreaterThanOrEqual(3);
  });

  it('an inventory Ansible cannot parse is an InventoryReadError (exit 2), not an empty plan', () => {
    const path = join(dir, 'broken.yml');
    writeFileSync(path, 'all:\n  children: [unterminated\n');
    expect(() => planFromInventory(path)).toThrow(InventoryReadError);
  });
});

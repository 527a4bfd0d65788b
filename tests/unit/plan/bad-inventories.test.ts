import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { InventoryError, InventoryReadError, planFromInventory } from '../../../src/plan';
import { SEED, TWO } from './seed-inventory';


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
  ['bad full scan days', SEED.replace('deployment_prefix=uat', 'deployment_prefix=uat\nbackup_full_scan_days=weekly'), /backup_full_scan_days = "weekly": expected a whole number from 0 to 3650/],
  ['clock skew too small', SEED.replace('deployment_prefix=uat', 'deployment_prefix=uat\nbackup_clock_skew=10s'), /backup_clock_skew = "10s": expected a duration from 60 to 86400 seconds/],
  ['keep minimum 0', SEED.replace('backup-target\n', 'backup-target backup_keep_minimum=0\n'), /backup_keep_minimum = 0: expected a whole number from 1 to 10000/],
  ['replica keep minimum 0', `${SEED}[backup_remotes]\nbackup-remote backup_replica_keep_minimum=0\n`, /backup_replica_keep_minimum = 0: expected a whole number from 1 to 10000/],
  ['replica min age a word', `${SEED}[backup_remotes]\nbackup-remote backup_replica_min_age=week\n`, /backup_replica_min_age = "week": expected a duration from 0 to/],
  ['bad restore concurrency', SEED.replace('deployment_prefix=uat', 'deployment_prefix=uat\nbackup_restore_concurrency=all'), /backup_restore_concurrency = "all": expected a whole number from 1 to 64/],
  ['bad ansible_host', SEED.replace('backup-target\n', 'backup-target ansible_host="a;b"\n'), /host 'backup-target': ansible_host = "a;b"/],
  ['zfs source without dataset', SEED.replace('gluster_backup_source=True ', 'gluster_backup_source=False zfs_backup_source=true '), /zfs_backup_source_dataset is missing/],
  ['bad lvm volume group', SEED.replace('lvm_backup_source=True', 'lvm_backup_source=True lvm_backup_source_volume_group="vg docker"'), /lvm_backup_source_volume_group = "vg docker"/],
  // remotes, retention, check thresholds, schedule
  ['target as its own remote', `${SEED}[backup_remotes]\nbackup-target\n`, /host 'backup-target': group \[backup_remotes\] = "backup-target": a backup target cannot be an off-site remote/],
  ['remote of a dir target', `${SEED.replace('backup-target\n', 'backup-target backup_target_backend=dir\n')}[backup_remotes]\nbackup-remote\n`, /host 'backup-remote': group \[backup_remotes\] = "backup-remote": off-site replication needs a zfs or btrfs target/],
  ['remote with a bad pool', `${SEED}[backup_remotes]\nbackup-remote backup_zfs_pool="a b"\n`, /host 'backup-remote': backup_zfs_pool = "a b"/],
  ['remote with a bad package', `${SEED}[backup_remotes]\nbackup-remote backup_zfs_package=zfs\n`, /host 'backup-remote': backup_zfs_package = "zfs": expected one of: zfsutils-linux, zfs-fuse/],
  ['keep_last zero', SEED.replace('backup-target\n', 'backup-target backup_keep_last=0\n'), /host 'backup-target': backup_keep_last = 0: expected a whole number from 1 to 10000/],
  ['keep_daily text', SEED.replace('backup-target\n', 'backup-target backup_keep_daily=seven\n'), /host 'backup-target': backup_keep_daily = "seven": expected a whole number from 1 to 10000/],
  ['keep_weekly negative', SEED.replace('backup-target\n', 'backup-target backup_keep_weekly=-1\n'), /backup_keep_weekly = -1/],
  ['replica keep_monthly fraction', `${SEED}[backup_remotes]\nbackup-remote backup_replica_keep_monthly=1.5\n`, /host 'backup-remote': backup_replica_keep_monthly = 1.5: expected a whole number from 1 to 10000/],
  ['warning age with a bad unit', SEED.replace('deployment_prefix=uat', 'deployment_prefix=uat\nbackup_check_warning_age=26y'), /host 'backup-director': backup_check_warning_age = "26y": expected a duration/],
  ['critical not after warning', SEED.replace('deployment_prefix=uat', 'deployment_prefix=uat\nbackup_check_warning_age=2d\nbackup_check_critical_age=1d'), /backup_check_critical_age = "1d": must be longer than backup_check_warning_age \(172800 s\)/],
  ['critical below the default warning', SEED.replace('deployment_prefix=uat', 'deployment_prefix=uat\nbackup_check_critical_age=2h'), /backup_check_critical_age = "2h": must be longer than backup_check_warning_age \(93600 s\)/],
  ['replication lag too short', SEED.replace('deployment_prefix=uat', 'deployment_prefix=uat\nbackup_check_replication_lag=5'), /backup_check_replication_lag = 5: expected a duration from 60/],
  ['schedule not a boolean', SEED.replace('deployment_prefix=uat', 'deployment_prefix=uat\nbackup_schedule_enabled=sometimes'), /backup_schedule_enabled = "sometimes": expected a boolean/],
  ['OnCalendar with a shell character', SEED.replace('deployment_prefix=uat', 'deployment_prefix=uat\nbackup_schedule="daily; reboot"'), /backup_schedule = "daily; reboot": expected a systemd OnCalendar value/],
  ['OnCalendar with a time zone', SEED.replace('deployment_prefix=uat', 'deployment_prefix=uat\nbackup_schedule="*-*-* 02:00:00 Europe/Stockholm"'), /backup_schedule = "\*-\*-\* 02:00:00 Europe\/Stockholm"/],
  ['OnCalendar with a newline', SEED.replace('deployment_prefix=uat', 'deployment_prefix=uat\nbackup_schedule="02:00\\nExecStart=/bin/sh"'), /backup_schedule = .*expected a systemd OnCalendar value/],
  ['bad randomized delay', SEED.replace('deployment_prefix=uat', 'deployment_prefix=uat\nbackup_schedule_randomized_delay=2w'), /backup_schedule_randomized_delay = "2w": expected a duration from 0 to 86400/],
  ['bad cron line', SEED.replace('deployment_prefix=uat', 'deployment_prefix=uat\nbackup_schedule_cron="@daily"'), /backup_schedule_cron = "@daily": expected five cron fields/],
  ['bad metrics dir', SEED.replace('deployment_prefix=uat', 'deployment_prefix=uat\nbackup_metrics_dir=metrics'), /backup_metrics_dir = "metrics": expected an absolute path/],
  // several targets; each source names its target (backup_target), each remote too (backup_remote_target)
  ['backup_target names no target', SEED.replace('manager-1   gluster', 'manager-1 backup_target=backup-tgt gluster'), /host 'manager-1': backup_target = "backup-tgt": expected one host of group \[backup_targets\]: backup-target$/],
  ['backup_target names the director', TWO.replace('backup_target=backup-target-2', 'backup_target=backup-director'), /host 'manager-1': backup_target = "backup-director": expected one host of group \[backup_targets\]: backup-target, backup-target-2$/],
  ['several targets, a source without backup_target', TWO.replace('cassandra-1 backup_target=backup-target ', 'cassandra-1 '), /host 'cassandra-1': backup_target is missing: required when there are several backup targets; expected one host of group \[backup_targets\]: backup-target, backup-target-2/],
  ['a target receiving no source', TWO.replace('backup_target=backup-target-2', 'backup_target=backup-target'), /host 'backup-target-2': group \[backup_targets\] = "backup-target-2": no source has backup_target=backup-target-2: every backup target must receive at least one source/],
  ['several targets, a remote without backup_remote_target', `${TWO}[backup_remotes]\nbackup-remote\n`, /host 'backup-remote': backup_remote_target is missing: required when there are several backup targets; expected one host of group \[backup_targets\]: backup-target, backup-target-2/],
  ['backup_remote_target names no target', `${SEED}[backup_remotes]\nbackup-remote backup_remote_target=elsewhere\n`, /host 'backup-remote': backup_remote_target = "elsewhere": expected one host of group \[backup_targets\]: backup-target$/],
  ['a second target as a remote', `${TWO}[backup_remotes]\nbackup-target-2 backup_remote_target=backup-target\n`, /host 'backup-target-2': group \[backup_remotes\] = "backup-target-2": a backup target cannot be an off-site remote/],
  ['remote of a dir target among several', `${TWO.replace('backup-target-2\n', 'backup-target-2 backup_target_backend=dir\n')}[backup_remotes]\nbackup-remote backup_remote_target=backup-target-2\n`, /host 'backup-remote': group \[backup_remotes\] = "backup-remote": off-site replication needs a zfs or btrfs target/],
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

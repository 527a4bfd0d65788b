/**
 * The inventory contract: every variable the plan reads, where it is set, its default and what it
 * means. docs/inventory.md is generated from this table (tests/unit/plan/settings.test.ts keeps
 * both in step, and this table in step with what src/plan/build.ts reads).
 */
export interface Setting {
  /** The variables of one row (several when they belong together), or an inventory group. */
  names: string[];
  group?: true;
  /** The hosts it is set on: all (group_vars/all), source, target, remote, a group. */
  where: string;
  default: string;
  meaning: string;
}

export const SETTINGS: readonly Setting[] = [
  // The platform.
  { names: ['deployment_prefix'], where: 'all', default: '(required)', meaning: 'host name prefix; connection name is `<prefix>-<host>` unless `ansible_host` is set' },
  { names: ['backup_director'], group: true, where: '–', default: '(required)', meaning: 'the one host the operator runs the commands on' },
  { names: ['backup_sources'], group: true, where: '–', default: '(required)', meaning: 'the hosts whose live dirs are backed up' },
  { names: ['backup_targets'], group: true, where: '–', default: '(required)', meaning: 'one or more backup targets; every backup spans all of them under one id' },
  { names: ['backup_remotes'], group: true, where: '–', default: 'none', meaning: 'off-site remotes receiving every backup incrementally (zfs/btrfs targets); on a remote: `backup_zfs_pool`, `backup_zfs_package`, `backup_data_device`, `backup_data_file_size`, `backup_root` as on a target' },
  // Sources.
  { names: ['gluster_backup_source', 'lvm_backup_source', 'btrfs_backup_source', 'zfs_backup_source'], where: 'source', default: 'false', meaning: "the source's backend: exactly one is true" },
  { names: ['backup_snapshot_storage'], where: 'source', default: '0', meaning: 'GiB reserved for an LVM snapshot (≥ 1 for LVM)' },
  { names: ['gluster_backup_source_volume', 'gluster_backup_source_dir', 'gluster_backup_source_snapshot_mount_point'], where: 'gluster source', default: '`docker`, `/docker`, `/gluster_backupsource`', meaning: '' },
  {
    names: ['lvm_backup_source_volume_group', 'lvm_backup_source_volume', 'lvm_backup_source_dir', 'lvm_backup_source_snapshot_mount_point'],
    where: 'LVM source',
    default: '`vg_docker_local`, `lv_docker_local`, `/docker_local`, `/local_backupsource`',
    meaning: '',
  },
  { names: ['btrfs_backup_source_dir', 'btrfs_backup_source_snapshot_mount_point', 'btrfs_backup_source_snapshot_dir'], where: 'btrfs source', default: '`/docker`, `/btrfs_backupsource`, `<dir>/.sbdi-snapshot`', meaning: 'the live dir must be a subvolume' },
  {
    names: ['zfs_backup_source_dataset', 'zfs_backup_source_dir', 'zfs_backup_source_snapshot_mount_point', 'zfs_backup_source_package'],
    where: 'ZFS source',
    default: '(required), `/docker_local`, `/zfs_backupsource`, `zfsutils-linux`',
    meaning: 'the dataset must be mounted at the dir; `zfs-fuse` where the kernel has no ZFS',
  },
  { names: ['backup_source_exclude'], where: 'source', default: 'none', meaning: 'paths inside the source dir (a list, or comma-separated) never backed up nor touched by a restore: where another filesystem is mounted that is not to be backed up with this source' },
  { names: ['backup_push_limit'], where: 'source', default: '0 (none)', meaning: 'the most one push of this source may send to its target: GiB, or a size with a unit (`500M`, `2T`); a push over it stops and the backup fails (receive_backup exit 13)' },
  { names: ['backup_target'], where: 'source', default: 'the only target', meaning: 'the target this source syncs to; required when there are several targets (each target must receive at least one source)' },
  // Targets and remotes.
  { names: ['backup_target_backend'], where: 'target', default: '`zfs`', meaning: '`zfs`, `btrfs` or `dir`' },
  { names: ['backup_data_device'], where: 'target, remote', default: '`/dev/vdb`', meaning: 'pool device, or a file (created with `backup_data_file_size` GiB)' },
  { names: ['backup_data_file_size'], where: 'target, remote', default: '10', meaning: 'GiB of the file created when `backup_data_device` is not under `/dev`' },
  { names: ['backup_zfs_pool', 'backup_zfs_compression', 'backup_zfs_package'], where: 'target, remote', default: '`backup`, `gzip-7`, `zfsutils-linux`', meaning: '`zfs-fuse` where the kernel has no ZFS (then no `lz4`/`zstd`)' },
  { names: ['backup_btrfs_compression'], where: 'btrfs target', default: '`zstd:3`', meaning: 'mount option `compress=`: `zstd[:N]`, `zlib[:N]`, `lzo`, `no`' },
  { names: ['backup_root'], where: 'target, remote', default: '`/backup`', meaning: 'the store: `current`, `manifests`, `restore` (and `snapshots` for btrfs and dir)' },
  { names: ['backup_foreign_stores'], where: 'target', default: 'none', meaning: "other deployments' pools this target may restore from (`restore_backup --from NAME`): a mapping `NAME: DEVICE` or `NAME: {device: DEVICE, pool: POOL}` (POOL `backup` by default)" },
  { names: ['backup_remote_target'], where: 'remote', default: 'the only target', meaning: 'the target this remote replicates; required when there are several targets' },
  // Retention.
  { names: ['backup_keep_last', 'backup_keep_daily', 'backup_keep_weekly', 'backup_keep_monthly'], where: 'target', default: 'unset', meaning: 'retention of the target (unset everywhere: nothing is pruned)' },
  { names: ['backup_replica_keep_last', 'backup_replica_keep_daily', 'backup_replica_keep_weekly', 'backup_replica_keep_monthly'], where: 'remote', default: 'unset', meaning: 'retention of that remote' },
  { names: ['backup_keep_minimum', 'backup_replica_keep_minimum'], where: 'target, remote', default: '2', meaning: "whatever the policy says, the newest N complete backups by the store's own time stay (≥ 1)" },
  { names: ['backup_replica_min_age'], where: 'remote', default: '`7d`', meaning: 'a remote deletes nothing it received less than this long ago, by its own clock (`0`: off)' },
  { names: ['backup_clock_skew'], where: 'all', default: '`10m`', meaning: 'how far a backup may be dated after a store\'s clock; beyond it, it is "dated in the future": it fills no retention slot, nothing is pruned on that store, `check_backup` is CRITICAL (docs/operations.md)' },
  // The run.
  { names: ['backup_pause_deadline'], where: 'all', default: '60', meaning: 'seconds after which a docker host unpauses by itself' },
  { names: ['backup_connect_timeout'], where: 'all', default: '10', meaning: "seconds the director waits for a host's ssh connection and handshake (1–300)" },
  { names: ['backup_sync_concurrency'], where: 'all', default: '1', meaning: 'sources synced at once' },
  { names: ['backup_restore_concurrency'], where: 'all', default: '4', meaning: 'sources restored at once (a restore is downtime)' },
  { names: ['backup_full_scan_days'], where: 'all', default: '7', meaning: "a source's push compares every entry with the store again when its last such push is this many days old (0: only `perform_backup --full-scan`)" },
  // Monitoring and schedule.
  { names: ['backup_check_warning_age', 'backup_check_critical_age'], where: 'all', default: '`26h`, `50h`', meaning: "`check_backup` thresholds for the last complete backup's age" },
  { names: ['backup_check_replication_lag'], where: 'all', default: '`26h`', meaning: 'a remote further behind → WARNING' },
  { names: ['backup_check_store_warning', 'backup_check_store_critical'], where: 'all', default: '`85`, `95`', meaning: "percent of a target's store in use → WARNING, CRITICAL" },
  { names: ['backup_metrics_dir'], where: 'all', default: '`/var/lib/prometheus/node-exporter`', meaning: 'Prometheus textfile-collector directory' },
  {
    names: ['backup_schedule_enabled', 'backup_schedule', 'backup_schedule_randomized_delay', 'backup_schedule_cron'],
    where: 'all',
    default: 'false, `*-*-* 02:00:00`, 0, derived',
    meaning: '`perform_backup` on a systemd timer (`Persistent=true`), cron without systemd',
  },
];

/** docs/inventory.md: the table of every setting, as the reference for writing an inventory. */
export function settingsMarkdown(): string {
  const cell = (s: string) => s.replace(/\|/g, '\\|');
  const rows = SETTINGS.map((s) => {
    const names = s.group ? `group \`${s.names[0]}\`` : s.names.map((n) => `\`${n}\``).join(', ');
    return `| ${names} | ${cell(s.where)} | ${cell(s.default)} | ${cell(s.meaning)} |`;
  });
  return [
    '# Inventory variables',
    '',
    'Every variable the plan reads (`src/plan/settings.ts`; this file is generated from it). A bad',
    'value is refused before anything is written or installed: exit code 2 and one line per problem',
    'naming the host, the variable, the value and what is allowed. Durations are seconds or',
    '`Ns`/`Nm`/`Nh`/`Nd`.',
    '',
    '| variable | where | default | meaning |',
    '|---|---|---|---|',
    ...rows,
    '',
  ].join('\n');
}

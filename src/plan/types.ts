/**
 * The plan: the single source of truth built from the inventory.
 * Everything downstream (rendering, the roles, the director executable) reads
 * only this structure; nothing else re-reads the inventory.
 * It is plain JSON-serialisable data so it can be compiled into the director.
 */

export type SourceBackend = 'gluster' | 'lvm' | 'btrfs' | 'zfs';
export type TargetBackend = 'zfs' | 'btrfs' | 'dir';
export type Role = 'director' | 'target' | 'source' | 'docker' | 'remote';

/** A host as the backup system addresses it. */
export interface HostPlan {
  /** Inventory name without deployment prefix, e.g. `manager-1`. */
  name: string;
  /** Name the director's ssh connects to: `ansible_host`, else `<prefix>-<name>`. */
  connection: string;
  /** ssh port (`ansible_port`, default 22). */
  port: number;
  /** Sorted roles this host plays. */
  roles: Role[];
}

interface SourceCommon {
  host: string;
  backend: SourceBackend;
  /** Live tree that is backed up and restored into, e.g. `/docker`. */
  liveDir: string;
  /** Where the read-only snapshot is exposed during a backup. */
  snapshotMount: string;
  /** Directory name inside a backup: `<host>@<liveDir with / replaced by +>`. */
  treeName: string;
  /** The target host this source syncs to (`backup_target`, default the only target). */
  target: string;
  /**
   * Paths inside liveDir never backed up nor touched by a restore (`backup_source_exclude`), e.g.
   * `cache` or `db/tmp`: where another filesystem is mounted that is not to be backed up here.
   */
  excludes?: string[];
  /**
   * The most one push of this tree may send to its target, in bytes (`backup_push_limit`): what
   * one backup can add to the store at most. Absent: no limit.
   */
  pushLimitBytes?: number;
}
export interface GlusterSource extends SourceCommon {
  backend: 'gluster';
  volume: string;
}
export interface LvmSource extends SourceCommon {
  backend: 'lvm';
  volumeGroup: string;
  logicalVolume: string;
  /** GiB reserved for the snapshot LV (`backup_snapshot_storage`). */
  snapshotSizeGiB: number;
}
export interface BtrfsSource extends SourceCommon {
  backend: 'btrfs';
  /** Directory holding the read-only snapshot subvolume (on the same filesystem as liveDir). */
  snapshotDir: string;
  /**
   * Where a read-only snapshot of each push's tree is kept as the next push's base (`<snapshotDir>.base`),
   * or absent when `btrfs_backup_source_keep_base` is false.
   */
  baseDir?: string;
}
export interface ZfsSource extends SourceCommon {
  backend: 'zfs';
  /** Dataset mounted at liveDir, e.g. `tank/docker_local`. */
  dataset: string;
  /** Debian package giving `zfs`: OpenZFS (`zfsutils-linux`) or `zfs-fuse` (`zfs_backup_source_package`). */
  package: 'zfsutils-linux' | 'zfs-fuse';
}
export type SourcePlan = GlusterSource | LvmSource | BtrfsSource | ZfsSource;

export interface TargetPlan {
  host: string;
  backend: TargetBackend;
  /** Root of the backup store, `/backup`. */
  root: string;
  /** The live backup tree every source syncs into: `<root>/current`. */
  current: string;
  /** Where an activated (restorable) backup is mounted read-only: `<root>/restore`. */
  restoreMount: string;
  zfs?: {
    pool: string;
    /** Dataset mounted at `current`, e.g. `backup/current`. */
    dataset: string;
    compression: string;
    /** Debian package giving `zpool`/`zfs`: OpenZFS (`zfsutils-linux`) or `zfs-fuse` (`backup_zfs_package`). */
    package: 'zfsutils-linux' | 'zfs-fuse';
    /** Block device for the pool (`backup_data_device`) or a file for a file-backed pool. */
    dataDevice: string;
    /** Size of the file created when dataDevice is not under /dev (`backup_data_file_size`, GiB). */
    dataFileSizeGiB: number;
  };
  /**
   * Other deployments' stores this target may restore from (`backup_foreign_stores`, zfs only):
   * a pool device or file made available to this host, e.g. prod's backup volume attached to uat's target.
   */
  foreignStores?: ForeignStore[];
  btrfs?: {
    /** Block device or image file holding the btrfs filesystem mounted at `root`. */
    dataDevice: string;
    /** Size of the file created when dataDevice is not under /dev (`backup_data_file_size`, GiB). */
    dataFileSizeGiB: number;
    compression: string;
    /**
     * Quota groups on the store (`backup_btrfs_quota`): each backup's own and compressed size in
     * list_backups, for a commit and a deletion that grow slower with every backup kept.
     */
    quota: boolean;
  };
  /** This target's retention (`backup_keep_*` on it). */
  retention: RetentionPolicy;
}

export interface ForeignStore {
  /** Name the operator gives `restore_backup --from`, e.g. `prod`. */
  name: string;
  /** Block device or pool file holding the other deployment's pool. */
  device: string;
  /** That pool's name in the other deployment (its `backup_zfs_pool`). */
  pool: string;
  /** Name it is imported under here, so it never clashes with this target's own pool. */
  localPool: string;
  /** Where its datasets are mounted while attached (zpool import -R). */
  altroot: string;
}

/**
 * How many backups a store keeps (`backup_keep_*` for the target, `backup_replica_keep_*` on a
 * remote). Unset fields keep nothing by that rule; with every field unset nothing is pruned.
 * Whatever the policy says, the newest complete backup and the newest snapshot shared with each
 * remote are never removed (src/director/retention.ts).
 */
export interface RetentionPolicy {
  keepLast?: number;
  keepDaily?: number;
  keepWeekly?: number;
  keepMonthly?: number;
  /**
   * The floor no policy goes below (`backup_keep_minimum` / `backup_replica_keep_minimum`, default 2,
   * at least 1): the newest N complete backups by the store's own creation time always stay.
   */
  keepMinimum?: number;
  /**
   * Nothing younger than this by the store's own clock is removed (`backup_replica_min_age` on a
   * remote, default 7 days; 0 on a target).
   */
  minAgeSeconds?: number;
}

/** An off-site copy of one target (group `backup_remotes`), receiving each backup incrementally. */
export interface RemotePlan {
  host: string;
  /** The target this remote replicates (`backup_remote_target`, default the only target). */
  target: string;
  /** Same kind as the target's: ZFS send/recv or btrfs send/receive. */
  backend: 'zfs' | 'btrfs';
  /** Root of the remote's store (`backup_root` on the remote, default `/backup`). */
  root: string;
  zfs?: {
    pool: string;
    /** Parent with mountpoint=none, setuid=off, exec=off, devices=off, readonly=on: `<pool>/replica`. */
    parent: string;
    /** Dataset receiving the target's snapshots: `<pool>/replica/current`. */
    dataset: string;
    package: 'zfsutils-linux' | 'zfs-fuse';
    dataDevice: string;
    dataFileSizeGiB: number;
  };
  btrfs?: {
    dataDevice: string;
    dataFileSizeGiB: number;
    /** Directory of received read-only snapshots: `<root>/replica` (mounted nosuid,nodev,noexec). */
    replicaDir: string;
  };
  retention: RetentionPolicy;
}

/** Thresholds of `check_backup` and where the Prometheus textfile metrics go. */
export interface MonitoringPlan {
  /** `backup_check_warning_age`: the last complete backup is older → WARNING. */
  warningAgeSeconds: number;
  /** `backup_check_critical_age`: older → CRITICAL. */
  criticalAgeSeconds: number;
  /** `backup_check_replication_lag`: a remote further behind the target → WARNING. */
  replicationLagSeconds: number;
  /** `backup_check_store_warning`: a target's store at least this full (percent) → WARNING. */
  storeWarningPercent: number;
  /** `backup_check_store_critical`: at least this full → CRITICAL. */
  storeCriticalPercent: number;
  /** `backup_metrics_dir`: node_exporter textfile-collector directory. */
  metricsDir: string;
}

/** `perform_backup` on a timer (systemd; cron where systemd is absent). */
export interface SchedulePlan {
  /** `backup_schedule_enabled` (default false). */
  enabled: boolean;
  /** `backup_schedule`: a systemd OnCalendar expression (default `*-*-* 02:00:00`). */
  onCalendar: string;
  /** `backup_schedule_randomized_delay` in seconds (RandomizedDelaySec; a random sleep under cron). */
  randomizedDelaySeconds: number;
  /** `backup_schedule_cron`, or derived from onCalendar when it is simple; undefined: systemd only. */
  cron?: string;
}

export interface Settings {
  /** Seconds after which a docker host unpauses by itself (`backup_pause_deadline`). */
  pauseDeadlineSeconds: number;
  /**
   * Sources synced at once (`backup_sync_concurrency`, default 4): each push's fixed costs (its
   * listing, connections, the kept base) overlap the others'; 1 pushes one after the other.
   */
  syncConcurrency: number;
  /**
   * Sources restored at once (`backup_restore_concurrency`, default 4): a restore runs with the
   * platform stopped, so its time is downtime, unlike a sync's.
   */
  restoreConcurrency: number;
  /** ssh connect timeout in seconds for the director. */
  connectTimeoutSeconds: number;
  /**
   * Days after which a source's push compares every entry on both sides again although its base
   * would allow only the changes (`backup_full_scan_days`, default 7; 0: only `--full-scan`).
   */
  fullScanDays: number;
  /**
   * How far a backup id or manifest time may lie ahead of a store's own clock (`backup_clock_skew`,
   * default 10 minutes). Beyond it the backup is dated in the future: it fills no retention slot,
   * stops pruning on that store and raises an alarm; a remote refuses to receive it.
   */
  clockSkewSeconds: number;
}

export interface OperatorPlan {
  user: string;
  group: string;
  uid: number;
  gid: number;
  home: string;
}

export interface Paths {
  /** Operator commands on the director (seed path, on the operator's PATH): `/opt/sbdi/backup/bin`. */
  bin: string;
  /**
   * Capsules run through sudo on managed hosts: `/opt/sbdi/backup/libexec`. Apart from `bin` so a
   * director that is also a docker host or target has no name clash (one host may hold every role).
   */
  capsules: string;
  /** Where the capsules' runtime library (`backup-runtime`) lives: `/opt/sbdi/lib`. */
  lib: string;
  /** Director bundle and data files: `/opt/sbdi/backup/lib`. */
  share: string;
  /** Root-owned keys used by capsules (source push/pull keys): `/etc/sbdi/backup`. */
  etc: string;
  /** Runtime state (watchdog pids, paused lists, locks): `/run/sbdi-backup`. */
  run: string;
  /**
   * State kept across runs and reboots: `/var/lib/sbdi-backup` (a source's listings of what it
   * pushed, for the next incremental's change list).
   */
  state: string;
}

export interface Plan {
  /** Bumped when the plan's shape changes (2: several targets). */
  schema: 2;
  /** Syslog application tag used by every capsule and the director. */
  application: string;
  deploymentPrefix: string;
  operator: OperatorPlan;
  /** The account the push, pull and replicate keys log in as (targets and remotes). */
  receiver: OperatorPlan;
  paths: Paths;
  settings: Settings;
  /** Every host involved, sorted by name. */
  hosts: HostPlan[];
  director: string;
  /** Every backup target (group `backup_targets`), sorted by host; each receives at least one source. */
  targets: TargetPlan[];
  /** Sorted by host name; each names its target. */
  sources: SourcePlan[];
  /** Hosts running docker (groups `docker_swarm` and `docker`), sorted. */
  dockerHosts: string[];
  /** Off-site copies (group `backup_remotes`), sorted by host; may be empty. */
  remotes: RemotePlan[];
  monitoring: MonitoringPlan;
  schedule: SchedulePlan;
}

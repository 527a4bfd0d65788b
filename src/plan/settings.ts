/**
 * The inventory contract: every variable the plan reads, where it is set, what it accepts, its
 * default and what it means. docs/inventory.md and the render role's meta/argument_specs.yml are
 * generated from this table (tests/unit/plan/settings.test.ts keeps them in step with it, and it in
 * step with what src/plan/build.ts reads and the defaults and ranges build.ts applies).
 */

/** What the plan accepts for a variable (build.ts is the judge; this says it for the documents). */
export type Accepts =
  | { kind: 'boolean' }
  /** A number or a string of digits, from min to max (no max: any safe integer). */
  | { kind: 'integer'; min: number; max?: number }
  /** Seconds, or a number with s, m, h or d; min and max in seconds. */
  | { kind: 'duration'; min: number; max: number }
  | { kind: 'path' }
  | { kind: 'choice'; choices: readonly string[] }
  /** A string held to a pattern, said in words. */
  | { kind: 'text'; rule: string }
  /** A list of strings, or one string of comma-separated items. */
  | { kind: 'list'; rule: string }
  | { kind: 'size' }
  | { kind: 'mapping'; rule: string };

export interface Variable {
  name: string;
  accepts: Accepts;
  /** The value the plan takes when the variable is unset (or null), when it is one fixed value. */
  default?: string | number | boolean;
  /** The default in words, where it is no fixed value or needs a word more (docs/inventory.md). */
  defaultText?: string;
  /** What this one variable of its row is, when the row's meaning does not say it. */
  about?: string;
}

interface Row {
  /** The hosts it is set on: all (group_vars/all), source, target, remote, a group. */
  where: string;
  meaning: string;
}
/** An inventory group the plan reads, or the variables of one row (several that belong together). */
export type Setting = Row & ({ group: string; default: string } | { vars: Variable[] });

/** The names a row lists: its group, or its variables. */
export function namesOf(s: Setting): string[] {
  return 'group' in s ? [s.group] : s.vars.map((v) => v.name);
}

/** Every variable of the table, in its order. */
export function variables(): Variable[] {
  return SETTINGS.flatMap((s) => ('vars' in s ? s.vars : []));
}

const BOOLEAN = { kind: 'boolean' } as const;
const PATH = { kind: 'path' } as const;
const NAME = { kind: 'text', rule: "letters, digits and `._-`, starting with a letter or digit, at most 64 characters" } as const;
const ZFS_PACKAGE = { kind: 'choice', choices: ['zfsutils-linux', 'zfs-fuse'] } as const;
const TARGET_HOST = { kind: 'text', rule: 'a host of group `backup_targets`' } as const;
const integer = (min: number, max?: number): Accepts => (max === undefined ? { kind: 'integer', min } : { kind: 'integer', min, max });
const duration = (min: number, max: number): Accepts => ({ kind: 'duration', min, max });
const v = (name: string, accepts: Accepts, more: Omit<Variable, 'name' | 'accepts'> = {}): Variable => ({ name, accepts, ...more });
const retention = (prefix: string): Variable[] => ['last', 'daily', 'weekly', 'monthly'].map((s) => v(`${prefix}_${s}`, integer(1, 10000), { defaultText: 'unset' }));

export const SETTINGS: readonly Setting[] = [
  // The platform.
  { vars: [v('deployment_prefix', { kind: 'text', rule: "letters, digits and `._-`, starting with a letter or digit, at most 63 characters" }, { defaultText: '(required)' })], where: 'all', meaning: 'host name prefix; connection name is `<prefix>-<host>` unless `ansible_host` is set' },
  { group: 'backup_director', where: '–', default: '(required)', meaning: 'the one host the operator runs the commands on' },
  { group: 'backup_sources', where: '–', default: '(required)', meaning: 'the hosts whose live dirs are backed up' },
  { group: 'backup_targets', where: '–', default: '(required)', meaning: 'one or more backup targets; every backup spans all of them under one id' },
  { group: 'backup_remotes', where: '–', default: 'none', meaning: 'off-site remotes receiving every backup incrementally (zfs/btrfs targets); on a remote: `backup_zfs_pool`, `backup_zfs_package`, `backup_data_device`, `backup_data_file_size`, `backup_root` as on a target' },
  // Sources.
  { vars: ['gluster', 'lvm', 'btrfs', 'zfs'].map((b) => v(`${b}_backup_source`, BOOLEAN, { default: false })), where: 'source', meaning: "the source's backend: exactly one is true" },
  { vars: [v('backup_snapshot_storage', integer(0), { default: 0 })], where: 'source', meaning: 'GiB reserved for an LVM snapshot (≥ 1 for LVM)' },
  {
    vars: [
      v('gluster_backup_source_volume', NAME, { default: 'docker', about: 'the gluster volume' }),
      v('gluster_backup_source_dir', PATH, { default: '/docker', about: 'the live dir' }),
      v('gluster_backup_source_snapshot_mount_point', PATH, { default: '/gluster_backupsource', about: 'where the snapshot is mounted' }),
    ],
    where: 'gluster source',
    meaning: '',
  },
  {
    vars: [
      v('lvm_backup_source_volume_group', NAME, { default: 'vg_docker_local', about: 'the volume group' }),
      v('lvm_backup_source_volume', NAME, { default: 'lv_docker_local', about: 'the logical volume' }),
      v('lvm_backup_source_dir', PATH, { default: '/docker_local', about: 'the live dir' }),
      v('lvm_backup_source_snapshot_mount_point', PATH, { default: '/local_backupsource', about: 'where the snapshot is mounted' }),
    ],
    where: 'LVM source',
    meaning: '',
  },
  {
    vars: [
      v('btrfs_backup_source_dir', PATH, { default: '/docker', about: 'the live dir' }),
      v('btrfs_backup_source_snapshot_mount_point', PATH, { default: '/btrfs_backupsource', about: 'where the snapshot is mounted' }),
      v('btrfs_backup_source_snapshot_dir', PATH, { defaultText: '`<dir>/.sbdi-snapshot`', about: 'where the snapshot subvolume is made' }),
      v('btrfs_backup_source_keep_base', BOOLEAN, {
        default: true,
        about: 'whether a read-only copy of what each backup pushed stays in `<snapshot_dir>.base`, so that the next backup asks btrfs what changed instead of listing the whole tree (it holds the space of what changed since)',
      }),
    ],
    where: 'btrfs source',
    meaning: 'the live dir must be a subvolume',
  },
  {
    vars: [
      v('zfs_backup_source_dataset', { kind: 'text', rule: "a dataset name like `pool/name`, of letters, digits and `._-`" }, { defaultText: '(required)', about: 'the dataset' }),
      v('zfs_backup_source_dir', PATH, { default: '/docker_local', about: 'the live dir' }),
      v('zfs_backup_source_snapshot_mount_point', PATH, { default: '/zfs_backupsource', about: 'where the snapshot is mounted' }),
      v('zfs_backup_source_package', ZFS_PACKAGE, { default: 'zfsutils-linux', about: 'the ZFS package' }),
    ],
    where: 'ZFS source',
    meaning: 'the dataset must be mounted at the dir; `zfs-fuse` where the kernel has no ZFS',
  },
  { vars: [v('backup_source_exclude', { kind: 'list', rule: "paths inside the source dir, each of letters, digits and `._-` parts separated by `/`, none `.` or `..`; at most 100" }, { defaultText: 'none' })], where: 'source', meaning: 'paths inside the source dir (a list, or comma-separated) never backed up nor touched by a restore: where another filesystem is mounted that is not to be backed up with this source' },
  { vars: [v('backup_push_limit', { kind: 'size' }, { default: 0, defaultText: '0 (none)' })], where: 'source', meaning: 'the most one push of this source may send to its target: GiB, or a size with a unit (`500M`, `2T`); a push over it stops and the backup fails (receive_backup exit 13)' },
  { vars: [v('backup_target', TARGET_HOST, { defaultText: 'the only target' })], where: 'source', meaning: 'the target this source syncs to; required when there are several targets (each target must receive at least one source)' },
  // Targets and remotes.
  { vars: [v('backup_target_backend', { kind: 'choice', choices: ['zfs', 'btrfs', 'dir'] }, { default: 'zfs' })], where: 'target', meaning: '`zfs`, `btrfs` or `dir`' },
  { vars: [v('backup_data_device', PATH, { default: '/dev/vdb' })], where: 'target, remote', meaning: 'pool device, or a file (created with `backup_data_file_size` GiB)' },
  { vars: [v('backup_data_file_size', integer(1, 1_000_000), { default: 10 })], where: 'target, remote', meaning: 'GiB of the file created when `backup_data_device` is not under `/dev`' },
  {
    vars: [
      v('backup_zfs_pool', NAME, { default: 'backup', about: 'the pool' }),
      v('backup_zfs_compression', { kind: 'text', rule: '`off`, `on`, `lz4`, `lzjb`, `zle`, `gzip`, `gzip-1`..`gzip-9`, `zstd`, `zstd-1`..`zstd-19`, `zstd-fast`' }, { default: 'gzip-7', about: 'the compression of its datasets' }),
      v('backup_zfs_package', ZFS_PACKAGE, { default: 'zfsutils-linux', about: 'the ZFS package' }),
    ],
    where: 'target, remote',
    meaning: '`zfs-fuse` where the kernel has no ZFS (then no `lz4`/`zstd`)',
  },
  { vars: [v('backup_btrfs_compression', { kind: 'text', rule: '`zstd`, `zlib`, `lzo` or `no`, the first two optionally with `:N`' }, { default: 'zstd:3' })], where: 'btrfs target', meaning: 'mount option `compress=`: `zstd[:N]`, `zlib[:N]`, `lzo`, `no`' },
  { vars: [v('backup_btrfs_quota', BOOLEAN, { default: false })], where: 'btrfs target', meaning: "quota groups on the store, for each backup's own size and compression ratio in `list_backups`; btrfs then accounts them at every commit and deletion, slower with every backup kept (docs/storage.md). Set to false on a store that has them, the playbook switches them off" },
  { vars: [v('backup_root', PATH, { default: '/backup' })], where: 'target, remote', meaning: 'the store: `current`, `manifests`, `restore` (and `snapshots` for btrfs and dir)' },
  { vars: [v('backup_foreign_stores', { kind: 'mapping', rule: 'NAME of lowercase letters, digits and `-` (at most 32, starting with a letter); DEVICE an absolute path' }, { defaultText: 'none' })], where: 'target', meaning: "other deployments' pools this target may restore from (`restore_backup --from NAME`): a mapping `NAME: DEVICE` or `NAME: {device: DEVICE, pool: POOL}` (POOL `backup` by default)" },
  { vars: [v('backup_remote_target', TARGET_HOST, { defaultText: 'the only target' })], where: 'remote', meaning: 'the target this remote replicates; required when there are several targets' },
  // Retention.
  { vars: retention('backup_keep'), where: 'target', meaning: 'retention of the target (unset everywhere: nothing is pruned)' },
  { vars: retention('backup_replica_keep'), where: 'remote', meaning: 'retention of that remote' },
  { vars: ['backup_keep_minimum', 'backup_replica_keep_minimum'].map((n) => v(n, integer(1, 10000), { default: 2 })), where: 'target, remote', meaning: "whatever the policy says, the newest N complete backups by the store's own time stay (≥ 1)" },
  { vars: [v('backup_replica_min_age', duration(0, 3650 * 86400), { default: '7d' })], where: 'remote', meaning: 'a remote deletes nothing it received less than this long ago, by its own clock (`0`: off)' },
  { vars: [v('backup_clock_skew', duration(60, 86400), { default: '10m' })], where: 'all', meaning: 'how far a backup may be dated after a store\'s clock; beyond it, it is "dated in the future": it fills no retention slot, nothing is pruned on that store, `check_backup` is CRITICAL (docs/operations.md)' },
  // The run.
  { vars: [v('backup_pause_deadline', integer(5, 3600), { default: 60 })], where: 'all', meaning: 'seconds after which a docker host unpauses by itself' },
  { vars: [v('backup_connect_timeout', integer(1, 300), { default: 10 })], where: 'all', meaning: "seconds the director waits for a host's ssh connection and handshake (1–300)" },
  { vars: [v('backup_sync_concurrency', integer(1, 64), { default: 4 })], where: 'all', meaning: 'sources synced at once (1: one after the other)' },
  { vars: [v('backup_restore_concurrency', integer(1, 64), { default: 4 })], where: 'all', meaning: 'sources restored at once (a restore is downtime)' },
  { vars: [v('backup_full_scan_days', integer(0, 3650), { default: 7 })], where: 'all', meaning: "a source's push compares every entry with the store again when its last such push is this many days old (0: only `perform_backup --full-scan`)" },
  // Monitoring and schedule.
  {
    vars: [
      v('backup_check_warning_age', duration(60, 366 * 86400), { default: '26h', about: 'WARNING' }),
      v('backup_check_critical_age', duration(60, 366 * 86400), { default: '50h', about: 'CRITICAL; longer than the warning age' }),
    ],
    where: 'all',
    meaning: "`check_backup` thresholds for the last complete backup's age",
  },
  { vars: [v('backup_check_replication_lag', duration(60, 366 * 86400), { default: '26h' })], where: 'all', meaning: 'a remote further behind → WARNING' },
  {
    vars: [
      v('backup_check_store_warning', integer(1, 100), { default: 85, about: 'WARNING' }),
      v('backup_check_store_critical', integer(1, 100), { default: 95, about: 'CRITICAL; above the warning' }),
    ],
    where: 'all',
    meaning: "percent of a target's store in use → WARNING, CRITICAL",
  },
  { vars: [v('backup_metrics_dir', PATH, { default: '/var/lib/prometheus/node-exporter' })], where: 'all', meaning: 'Prometheus textfile-collector directory' },
  {
    vars: [
      v('backup_schedule_enabled', BOOLEAN, { default: false, about: 'whether it runs on a schedule' }),
      v('backup_schedule', { kind: 'text', rule: "a systemd OnCalendar value: `hourly`, `daily`, `weekly`, `monthly`…, or `[Mon..Fri] [Y-M-D] H:M[:S]`, each field `*` or numbers in range joined by `,`, `A..B` or `N/STEP`; no time zone" }, { default: '*-*-* 02:00:00', about: 'when (OnCalendar)' }),
      v('backup_schedule_randomized_delay', duration(0, 86400), { default: 0, about: 'the most a run is delayed at random (RandomizedDelaySec)' }),
      v('backup_schedule_cron', { kind: 'text', rule: "five cron fields of digits, `*`, `,`, `-`, `/`, e.g. `0 2 * * *`" }, { defaultText: 'derived', about: 'the cron line used without systemd; derived from the schedule when it has a simple equivalent' }),
    ],
    where: 'all',
    meaning: '`perform_backup` on a systemd timer (`Persistent=true`), cron without systemd',
  },
];

/** A variable's default as docs/inventory.md shows it. */
function defaultCell(x: Variable): string {
  if (x.defaultText !== undefined) return x.defaultText;
  if (x.default === undefined) return 'unset';
  return typeof x.default === 'string' ? `\`${x.default}\`` : String(x.default);
}

/** docs/inventory.md: the table of every setting, as the reference for writing an inventory. */
export function settingsMarkdown(): string {
  const cell = (s: string) => s.replace(/\|/g, '\\|');
  const rows = SETTINGS.map((s) => {
    const names = 'group' in s ? `group \`${s.group}\`` : s.vars.map((x) => `\`${x.name}\``).join(', ');
    const defaults = 'group' in s ? [s.default] : [...new Set(s.vars.map(defaultCell))];
    return `| ${names} | ${cell(s.where)} | ${cell(defaults.join(', '))} | ${cell(s.meaning)} |`;
  });
  return [
    '# Inventory variables',
    '',
    'Every variable the plan reads (`src/plan/settings.ts`; this file is generated from it). A bad',
    'value is refused before anything is written or installed: exit code 2 and one line per problem',
    'naming the host, the variable, the value and what is allowed. Durations are seconds or',
    '`Ns`/`Nm`/`Nh`/`Nd`.',
    '',
    'The same variables, with the values each accepts, are the options of the `sbdi.backup.render`',
    "role's `main` entry point (`roles/render/meta/argument_specs.yml`, generated as well):",
    '`ansible-doc -t role sbdi.backup.render` shows them, and Ansible checks their types on every',
    'host when the role starts.',
    '',
    '| variable | where | default | meaning |',
    '|---|---|---|---|',
    ...rows,
    '',
  ].join('\n');
}

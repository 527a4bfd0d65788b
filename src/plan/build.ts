import {
  BTRFS_COMPRESSION,
  CONNECTION,
  DATASET_NAME,
  HOST_NAME,
  OBJECT_NAME,
  ZFS_COMPRESSION,
  ZFS_FUSE_COMPRESSION,
  CRON_SCHEDULE,
  ansibleBoolean,
  cronOf,
  durationSeconds,
  isOnCalendar,
  isSubpath,
  isSafePath,
  nonNegativeInteger,
  treeName,
} from './checks';
import { InventoryError, type InventoryProblem } from './errors';
import type { RawInventory } from './inventory';
import type {
  ForeignStore,
  HostPlan,
  MonitoringPlan,
  Plan,
  RemotePlan,
  RetentionPolicy,
  Role,
  SchedulePlan,
  Settings,
  SourceBackend,
  SourcePlan,
  TargetBackend,
  TargetPlan,
} from './types';

/** Inventory groups and the roles they give a host. */
export const GROUPS = {
  director: 'backup_director',
  targets: 'backup_targets',
  sources: 'backup_sources',
  remotes: 'backup_remotes',
  docker: ['docker_swarm', 'docker'],
} as const;

/** Defaults by backend (docs/inventory.md lists them). */
export const SOURCE_DEFAULTS = {
  gluster: { dir: '/docker', mount: '/gluster_backupsource', volume: 'docker' },
  lvm: { dir: '/docker_local', mount: '/local_backupsource', vg: 'vg_docker_local', lv: 'lv_docker_local' },
  btrfs: { dir: '/docker', mount: '/btrfs_backupsource' },
  zfs: { dir: '/docker_local', mount: '/zfs_backupsource' },
} as const;

const SOURCE_BACKENDS: SourceBackend[] = ['gluster', 'lvm', 'btrfs', 'zfs'];
const TARGET_BACKENDS: TargetBackend[] = ['zfs', 'btrfs', 'dir'];

export const OPERATOR = { user: 'backupoperator', group: 'backupoperator', uid: 1901, gid: 1901, home: '/home/backupoperator' };
/**
 * The account the sources' push and pull keys and a target's replicate key log in as, on targets
 * and remotes: no password, and sudo only for the capsules those keys are forced into. The
 * operator cannot run them: where the director is also a target, an operator process would get
 * a root rsync server with options of its choosing.
 */
export const RECEIVER = { user: 'sbdi-receive', group: 'sbdi-receive', uid: 1902, gid: 1902, home: '/var/lib/sbdi-receive' };
export const PATHS = {
  bin: '/opt/sbdi/backup/bin',
  capsules: '/opt/sbdi/backup/libexec',
  lib: '/opt/sbdi/lib',
  share: '/opt/sbdi/backup/lib',
  etc: '/etc/sbdi/backup',
  run: '/run/sbdi-backup',
  state: '/var/lib/sbdi-backup',
};

/** Reads one host's variables, recording every problem instead of stopping at the first. */
class HostVars {
  constructor(
    readonly host: string | undefined,
    private readonly vars: Record<string, unknown>,
    private readonly problems: InventoryProblem[],
  ) {}

  has(name: string): boolean {
    return this.vars[name] !== undefined && this.vars[name] !== null;
  }

  raw(name: string): unknown {
    return this.vars[name];
  }

  problem(variable: string, value: unknown, allowed: string): void {
    this.problems.push({ host: this.host, variable, value, allowed });
  }

  bool(name: string, fallback: boolean): boolean {
    if (!this.has(name)) return fallback;
    const b = ansibleBoolean(this.vars[name]);
    if (b === undefined) {
      this.problem(name, this.vars[name], 'expected a boolean Ansible reads as one: true/false, yes/no, on/off, 1/0');
      return fallback;
    }
    return b;
  }

  integer(name: string, fallback: number, min: number, max: number): number {
    if (!this.has(name)) return fallback;
    const n = nonNegativeInteger(this.vars[name]);
    if (n === undefined || n < min || n > max) {
      this.problem(name, this.vars[name], `expected a whole number from ${min} to ${max}`);
      return fallback;
    }
    return n;
  }

  path(name: string, fallback: string): string {
    if (!this.has(name)) return fallback;
    const v = this.vars[name];
    if (!isSafePath(v)) {
      this.problem(
        name,
        v,
        "expected an absolute path of letters, digits and '._-/', without '..', '//', a trailing '/', or '/' alone",
      );
      return fallback;
    }
    return v;
  }

  matching(name: string, fallback: string, pattern: RegExp, allowed: string): string {
    if (!this.has(name)) return fallback;
    const v = this.vars[name];
    if (typeof v !== 'string' || !pattern.test(v)) {
      this.problem(name, v, allowed);
      return fallback;
    }
    return v;
  }

  duration(name: string, fallback: number, min: number, max: number): number {
    if (!this.has(name)) return fallback;
    const n = durationSeconds(this.vars[name]);
    if (n === undefined || n < min || n > max) {
      this.problem(name, this.vars[name], `expected a duration from ${min} to ${max} seconds: a number of seconds, or with s, m, h or d (e.g. 90m, 26h)`);
      return fallback;
    }
    return n;
  }

  /** A whole number, or undefined when the variable is not set. */
  optionalInteger(name: string, min: number, max: number): number | undefined {
    if (!this.has(name)) return undefined;
    return this.integer(name, min, min, max);
  }

  oneOf<T extends string>(name: string, fallback: T, allowed: readonly T[]): T {
    if (!this.has(name)) return fallback;
    const v = this.vars[name];
    if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) {
      this.problem(name, v, `expected one of: ${allowed.join(', ')}`);
      return fallback;
    }
    return v as T;
  }
}

const NAME_RULE = "expected letters, digits and '._-' (starting with a letter or digit, at most 64 characters)";

/** Builds the validated plan from a read inventory, or throws InventoryError listing every problem. */
export function buildPlan(inv: RawInventory): Plan {
  const problems: InventoryProblem[] = [];
  const varsOf = (host: string | undefined): HostVars =>
    new HostVars(host, host === undefined ? {} : inv.hostvars[host] ?? {}, problems);
  const members = (group: string): string[] => inv.groups[group] ?? [];

  const directors = members(GROUPS.director);
  const targets = members(GROUPS.targets);
  const sourceHosts = members(GROUPS.sources);
  const dockerHosts = [...new Set(GROUPS.docker.flatMap((g) => members(g)))].sort();
  const remoteHosts = members(GROUPS.remotes);

  if (directors.length !== 1) {
    problems.push({
      variable: `group [${GROUPS.director}]`,
      value: directors.length === 0 ? undefined : directors,
      allowed: 'expected exactly one host in this group',
    });
  }
  if (targets.length === 0) {
    problems.push({ variable: `group [${GROUPS.targets}]`, allowed: 'expected at least one host in this group' });
  }
  if (sourceHosts.length === 0) {
    problems.push({ variable: `group [${GROUPS.sources}]`, allowed: 'expected at least one host in this group' });
  }

  const involved = [...new Set([...directors, ...targets, ...sourceHosts, ...dockerHosts, ...remoteHosts])].sort();
  for (const h of involved) {
    if (!HOST_NAME.test(h)) {
      problems.push({
        host: h,
        variable: 'inventory_hostname',
        value: h,
        allowed: `${NAME_RULE}; '@+' separates host and path in backups and may never appear`,
      });
    }
  }

  // Global settings are read from the director's variables ([all:vars] and group_vars reach it).
  const director = directors[0];
  const g = varsOf(director);
  let deploymentPrefix = '';
  if (director !== undefined) {
    if (!g.has('deployment_prefix')) {
      g.problem('deployment_prefix', undefined, "required in [all:vars]: the deployment's host name prefix, e.g. uat or prod");
    } else {
      deploymentPrefix = g.matching('deployment_prefix', '', HOST_NAME, NAME_RULE);
    }
  }
  const settings: Settings = {
    pauseDeadlineSeconds: g.integer('backup_pause_deadline', 60, 5, 3600),
    syncConcurrency: g.integer('backup_sync_concurrency', 4, 1, 64),
    restoreConcurrency: g.integer('backup_restore_concurrency', 4, 1, 64),
    connectTimeoutSeconds: g.integer('backup_connect_timeout', 10, 1, 300),
    fullScanDays: g.integer('backup_full_scan_days', 7, 0, 3650),
    clockSkewSeconds: g.duration('backup_clock_skew', 600, 60, 86400),
  };

  const hosts: HostPlan[] = involved.map((name) => {
    const v = varsOf(name);
    const roles: Role[] = [];
    if (directors.includes(name)) roles.push('director');
    if (dockerHosts.includes(name)) roles.push('docker');
    if (sourceHosts.includes(name)) roles.push('source');
    if (targets.includes(name)) roles.push('target');
    if (remoteHosts.includes(name)) roles.push('remote');
    const connectionDefault = `${deploymentPrefix}-${name}`;
    const connection = v.has('ansible_host')
      ? v.matching('ansible_host', connectionDefault, CONNECTION, "expected a host name or IP address of letters, digits and '._:-'")
      : connectionDefault;
    return { name, connection, port: v.integer('ansible_port', 22, 1, 65535), roles: roles.sort() };
  });

  const sources = sourceHosts.map((h) => buildSource(h, varsOf(h), targets));
  const seenTrees = new Map<string, string>();
  for (const s of sources) {
    if (!s) continue;
    const other = seenTrees.get(s.treeName);
    if (other !== undefined) {
      problems.push({
        host: s.host,
        variable: 'backup directory name',
        value: s.treeName,
        allowed: `already used by host '${other}': each source tree must map to its own directory in a backup`,
      });
    }
    seenTrees.set(s.treeName, s.host);
  }

  const targetPlans = [...targets].sort().map((h) => buildTarget(h, varsOf(h)));
  for (const t of targetPlans) {
    // Only a target left out on purpose could receive nothing: say so rather than install an idle store.
    if (sources.some((s) => s === undefined)) break;
    if (!sources.some((s) => s?.target === t.host)) {
      varsOf(t.host).problem(`group [${GROUPS.targets}]`, t.host, `no source has backup_target=${t.host}: every backup target must receive at least one source (remove it from the group or point a source at it)`);
    }
  }
  const remotes = remoteHosts.map((h) => buildRemote(h, varsOf(h), targetPlans));
  const monitoring = buildMonitoring(g);
  const schedule = buildSchedule(g);

  if (problems.length > 0 || director === undefined || targetPlans.length === 0) throw new InventoryError(problems);
  return {
    schema: 2,
    application: 'sbdi-backup',
    deploymentPrefix,
    operator: { ...OPERATOR },
    receiver: { ...RECEIVER },
    paths: { ...PATHS },
    settings,
    hosts,
    director,
    targets: targetPlans,
    sources: (sources as SourcePlan[]).sort((a, b) => a.host.localeCompare(b.host)),
    dockerHosts,
    remotes: (remotes.filter((r) => r !== undefined) as RemotePlan[]).sort((a, b) => a.host.localeCompare(b.host)),
    monitoring,
    schedule,
  };
}

/**
 * `<prefix>_last`, `_daily`, `_weekly`, `_monthly`: each 1..10000 when set; `<prefix>_minimum`
 * (default 2) is the floor of every store.
 */
function retentionOf(v: HostVars, prefix: string, minAgeSeconds = 0): RetentionPolicy {
  const policy: RetentionPolicy = { keepMinimum: v.integer(`${prefix}_minimum`, 2, 1, 10000), minAgeSeconds };
  const read = (suffix: string): number | undefined => v.optionalInteger(`${prefix}_${suffix}`, 1, 10000);
  const keepLast = read('last');
  const keepDaily = read('daily');
  const keepWeekly = read('weekly');
  const keepMonthly = read('monthly');
  if (keepLast !== undefined) policy.keepLast = keepLast;
  if (keepDaily !== undefined) policy.keepDaily = keepDaily;
  if (keepWeekly !== undefined) policy.keepWeekly = keepWeekly;
  if (keepMonthly !== undefined) policy.keepMonthly = keepMonthly;
  return policy;
}

/**
 * Which target a source (`backup_target`) or a remote (`backup_remote_target`) belongs to: the only
 * target when there is one, else the variable is required and must name a host of backup_targets.
 */
function chooseTarget(v: HostVars, variable: string, targets: readonly string[]): string | undefined {
  const allowed = `expected one host of group [${GROUPS.targets}]: ${targets.join(', ')}`;
  if (!v.has(variable)) {
    if (targets.length === 1) return targets[0];
    if (targets.length > 1) v.problem(variable, undefined, `required when there are several backup targets; ${allowed}`);
    return undefined;
  }
  const value = v.raw(variable);
  if (typeof value !== 'string' || !targets.includes(value)) {
    v.problem(variable, value, targets.length === 0 ? `names no backup target: group [${GROUPS.targets}] is empty` : allowed);
    return undefined;
  }
  return value;
}

function buildRemote(host: string, v: HostVars, targets: TargetPlan[]): RemotePlan | undefined {
  if (targets.some((t) => t.host === host)) {
    v.problem(`group [${GROUPS.remotes}]`, host, 'a backup target cannot be an off-site remote');
    return undefined;
  }
  const targetHost = chooseTarget(v, 'backup_remote_target', targets.map((t) => t.host));
  const target = targets.find((t) => t.host === targetHost);
  if (target === undefined) return undefined;
  if (target.backend === 'dir') {
    v.problem(`group [${GROUPS.remotes}]`, host, 'off-site replication needs a zfs or btrfs target (backup_target_backend), not dir');
    return undefined;
  }
  const root = v.path('backup_root', '/backup');
  const dataDevice = v.path('backup_data_device', '/dev/vdb');
  const dataFileSizeGiB = v.integer('backup_data_file_size', 10, 1, 1_000_000);
  const retention = retentionOf(v, 'backup_replica_keep', v.duration('backup_replica_min_age', 7 * 86400, 0, 3650 * 86400));
  if (target.backend === 'zfs') {
    const pool = v.matching('backup_zfs_pool', 'backup', OBJECT_NAME, NAME_RULE);
    const pkg = v.oneOf('backup_zfs_package', 'zfsutils-linux', ['zfsutils-linux', 'zfs-fuse'] as const);
    return { host, target: target.host, backend: 'zfs', root, zfs: { pool, parent: `${pool}/replica`, dataset: `${pool}/replica/current`, package: pkg, dataDevice, dataFileSizeGiB }, retention };
  }
  return { host, target: target.host, backend: 'btrfs', root, btrfs: { dataDevice, dataFileSizeGiB, replicaDir: `${root}/replica` }, retention };
}

function buildMonitoring(g: HostVars): MonitoringPlan {
  const warningAgeSeconds = g.duration('backup_check_warning_age', 26 * 3600, 60, 366 * 86400);
  const criticalAgeSeconds = g.duration('backup_check_critical_age', 50 * 3600, 60, 366 * 86400);
  if (criticalAgeSeconds <= warningAgeSeconds) {
    g.problem('backup_check_critical_age', g.raw('backup_check_critical_age') ?? `${criticalAgeSeconds}s`, `must be longer than backup_check_warning_age (${warningAgeSeconds} s)`);
  }
  const storeWarningPercent = g.integer('backup_check_store_warning', 85, 1, 100);
  const storeCriticalPercent = g.integer('backup_check_store_critical', 95, 1, 100);
  if (storeCriticalPercent <= storeWarningPercent) {
    g.problem('backup_check_store_critical', g.raw('backup_check_store_critical') ?? storeCriticalPercent, `must be above backup_check_store_warning (${storeWarningPercent})`);
  }
  return {
    warningAgeSeconds,
    criticalAgeSeconds,
    replicationLagSeconds: g.duration('backup_check_replication_lag', 26 * 3600, 60, 366 * 86400),
    storeWarningPercent,
    storeCriticalPercent,
    metricsDir: g.path('backup_metrics_dir', '/var/lib/prometheus/node-exporter'),
  };
}

function buildSchedule(g: HostVars): SchedulePlan {
  const enabled = g.bool('backup_schedule_enabled', false);
  let onCalendar = '*-*-* 02:00:00';
  if (g.has('backup_schedule')) {
    const v = g.raw('backup_schedule');
    if (isOnCalendar(v)) onCalendar = v;
    else g.problem('backup_schedule', v, "expected a systemd OnCalendar value: hourly, daily, weekly, monthly, or '[Mon..Fri] [Y-M-D] H:M[:S]', each field '*' or numbers in range (hours 0-23, minutes and seconds 0-59, month 1-12, day 1-31) joined by ',', 'A..B' or 'N/STEP'; no time zone");
  }
  const randomizedDelaySeconds = g.duration('backup_schedule_randomized_delay', 0, 0, 86400);
  const cron = g.has('backup_schedule_cron')
    ? g.matching('backup_schedule_cron', '', CRON_SCHEDULE, "expected five cron fields of digits, '*', ',', '-', '/', e.g. '0 2 * * *'") || undefined
    : cronOf(onCalendar);
  return { enabled, onCalendar, randomizedDelaySeconds, ...(cron === undefined ? {} : { cron }) };
}

/**
 * `backup_source_exclude`: paths inside the live dir (a list, or one string of comma-separated
 * paths), relative or absolute under it, each made of letters, digits and `._-` parts.
 */
function sourceExcludes(v: HostVars): string[] {
  const name = 'backup_source_exclude';
  if (!v.has(name)) return [];
  const raw = v.raw(name);
  const items = typeof raw === 'string' ? raw.split(',').map((x) => x.trim()).filter((x) => x !== '') : raw;
  if (!Array.isArray(items) || items.length === 0 || items.length > 100 || !items.every((x) => typeof x === 'string' && isSubpath(x.replace(/^\/+/, '')))) {
    v.problem(name, raw, "expected paths inside the source dir (a list, or comma-separated), each of letters, digits and '._-' parts separated by '/', none '.' or '..'");
    return [];
  }
  return [...new Set((items as string[]).map((x) => x.replace(/^\/+/, '')))].sort();
}

const SIZE = /^([0-9]{1,9})([KMGT])$/;
const SIZE_UNITS = { K: 2 ** 10, M: 2 ** 20, G: 2 ** 30, T: 2 ** 40 } as const;

/**
 * `backup_push_limit`: a whole number of GiB, or a size with a binary unit (`500M`, `2T`); 0 or
 * absent: no limit. At least 1 MiB: a push below that would hardly carry its own file list.
 */
function pushLimit(v: HostVars): number | undefined {
  const name = 'backup_push_limit';
  if (!v.has(name)) return undefined;
  const raw = v.raw(name);
  const gib = nonNegativeInteger(raw);
  const m = typeof raw === 'string' ? SIZE.exec(raw) : null;
  const bytes = gib !== undefined ? gib * SIZE_UNITS.G : m ? Number(m[1]) * SIZE_UNITS[m[2] as keyof typeof SIZE_UNITS] : undefined;
  if (bytes === undefined || (bytes !== 0 && bytes < SIZE_UNITS.M) || bytes > Number.MAX_SAFE_INTEGER) {
    v.problem(name, raw, 'expected 0 (no limit), a whole number of GiB, or a size with a unit K, M, G or T (e.g. 500M) of at least 1M');
    return undefined;
  }
  return bytes === 0 ? undefined : bytes;
}

function buildSource(host: string, v: HostVars, targets: readonly string[]): SourcePlan | undefined {
  const target = chooseTarget(v, 'backup_target', targets);
  const chosen = SOURCE_BACKENDS.filter((b) => v.bool(`${b}_backup_source`, false));
  if (chosen.length !== 1) {
    const given = Object.fromEntries(SOURCE_BACKENDS.filter((b) => v.has(`${b}_backup_source`)).map((b) => [`${b}_backup_source`, v.raw(`${b}_backup_source`)]));
    v.problem(
      SOURCE_BACKENDS.map((b) => `${b}_backup_source`).join('/'),
      Object.keys(given).length === 0 ? undefined : given,
      chosen.length === 0
        ? 'a backup source needs exactly one of these set to true'
        : `only one may be true, but ${chosen.join(' and ')} are`,
    );
    return undefined;
  }
  const backend = chosen[0]!;
  const d = SOURCE_DEFAULTS[backend];
  const liveDir = v.path(`${backend}_backup_source_dir`, d.dir);
  const snapshotMount = v.path(`${backend}_backup_source_snapshot_mount_point`, d.mount);
  if (snapshotMount === liveDir || snapshotMount.startsWith(`${liveDir}/`) || liveDir.startsWith(`${snapshotMount}/`)) {
    v.problem(`${backend}_backup_source_snapshot_mount_point`, snapshotMount, `must lie outside ${backend}_backup_source_dir (${liveDir}) and not contain it`);
  }
  const snapshotStorage = v.has('backup_snapshot_storage') ? nonNegativeInteger(v.raw('backup_snapshot_storage')) : 0;
  if (snapshotStorage === undefined) {
    v.problem('backup_snapshot_storage', v.raw('backup_snapshot_storage'), 'expected a non-negative whole number of GiB (0 when not an LVM source)');
  }
  const excludes = sourceExcludes(v);
  const pushLimitBytes = pushLimit(v);
  if (target === undefined) return undefined;
  const common = {
    host, liveDir, snapshotMount, treeName: treeName(host, liveDir), target,
    ...(excludes.length > 0 ? { excludes } : {}),
    ...(pushLimitBytes !== undefined ? { pushLimitBytes } : {}),
  };
  switch (backend) {
    case 'gluster':
      return { ...common, backend, volume: v.matching('gluster_backup_source_volume', SOURCE_DEFAULTS.gluster.volume, OBJECT_NAME, NAME_RULE) };
    case 'lvm': {
      if (snapshotStorage === 0) {
        v.problem('backup_snapshot_storage', v.raw('backup_snapshot_storage'), 'an LVM source needs a snapshot size of at least 1 GiB');
      }
      return {
        ...common,
        backend,
        volumeGroup: v.matching('lvm_backup_source_volume_group', SOURCE_DEFAULTS.lvm.vg, OBJECT_NAME, NAME_RULE),
        logicalVolume: v.matching('lvm_backup_source_volume', SOURCE_DEFAULTS.lvm.lv, OBJECT_NAME, NAME_RULE),
        snapshotSizeGiB: snapshotStorage ?? 0,
      };
    }
    case 'btrfs': {
      const snapshotDir = v.path('btrfs_backup_source_snapshot_dir', `${liveDir}/.sbdi-snapshot`);
      return { ...common, backend, snapshotDir, ...(v.bool('btrfs_backup_source_keep_base', true) ? { baseDir: `${snapshotDir}.base` } : {}) };
    }
    case 'zfs': {
      if (!v.has('zfs_backup_source_dataset')) {
        v.problem('zfs_backup_source_dataset', undefined, 'a zfs source needs the dataset mounted at its source dir, e.g. tank/docker_local');
      }
      return {
        ...common,
        backend,
        dataset: v.matching('zfs_backup_source_dataset', '', DATASET_NAME, "expected a dataset name like pool/name of letters, digits and '._-'"),
        package: v.oneOf('zfs_backup_source_package', 'zfsutils-linux', ['zfsutils-linux', 'zfs-fuse'] as const),
      };
    }
  }
}

const FOREIGN_NAME = /^[a-z][a-z0-9-]{0,31}$/;

/**
 * `backup_foreign_stores`: other deployments' pools this target may restore from, as a mapping
 * `NAME: DEVICE` or `NAME: {device: DEVICE, pool: POOL}` (POOL defaults to `backup`).
 */
function foreignStores(v: HostVars, backend: TargetBackend): ForeignStore[] {
  const variable = 'backup_foreign_stores';
  if (!v.has(variable)) return [];
  const raw = v.raw(variable);
  const shape = "expected a mapping NAME: DEVICE or NAME: {device: DEVICE, pool: POOL}, NAME of lowercase letters, digits and '-'";
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    v.problem(variable, raw, shape);
    return [];
  }
  if (backend !== 'zfs' && Object.keys(raw).length > 0) {
    v.problem(variable, raw, 'foreign stores are other deployments\' ZFS pools: only for backup_target_backend zfs');
    return [];
  }
  const stores: ForeignStore[] = [];
  for (const [name, value] of Object.entries(raw as Record<string, unknown>)) {
    const spec = typeof value === 'string' ? { device: value } : value;
    if (!FOREIGN_NAME.test(name) || typeof spec !== 'object' || spec === null || Array.isArray(spec)) {
      v.problem(`${variable}.${name}`, value, shape);
      continue;
    }
    const { device, pool = 'backup', ...rest } = spec as Record<string, unknown>;
    if (Object.keys(rest).length > 0) {
      v.problem(`${variable}.${name}`, value, `unknown key(s) ${Object.keys(rest).join(', ')}: only device and pool`);
      continue;
    }
    if (!isSafePath(device)) {
      v.problem(`${variable}.${name}.device`, device, "expected an absolute path of letters, digits and '._-/' (a block device or a pool file)");
      continue;
    }
    if (typeof pool !== 'string' || !OBJECT_NAME.test(pool)) {
      v.problem(`${variable}.${name}.pool`, pool, NAME_RULE);
      continue;
    }
    stores.push({ name, device, pool, localPool: `sbdi_from_${name.replace(/-/g, '_')}`, altroot: `${PATHS.run}/foreign/${name}` });
  }
  return stores.sort((a, b) => a.name.localeCompare(b.name));
}

function buildTarget(host: string, v: HostVars): TargetPlan {
  const backend = v.oneOf('backup_target_backend', 'zfs', TARGET_BACKENDS);
  const root = v.path('backup_root', '/backup');
  const dataDevice = v.path('backup_data_device', '/dev/vdb');
  const dataFileSizeGiB = v.integer('backup_data_file_size', 10, 1, 1_000_000);
  const target: TargetPlan = {
    host,
    backend,
    root,
    current: `${root}/current`,
    restoreMount: `${root}/restore`,
    foreignStores: foreignStores(v, backend),
    retention: retentionOf(v, 'backup_keep'),
  };
  if (backend === 'zfs') {
    const pool = v.matching('backup_zfs_pool', 'backup', OBJECT_NAME, NAME_RULE);
    const pkg = v.oneOf('backup_zfs_package', 'zfsutils-linux', ['zfsutils-linux', 'zfs-fuse'] as const);
    const compression = v.matching('backup_zfs_compression', 'gzip-7', ZFS_COMPRESSION, 'expected a ZFS compression: off, lz4, gzip, gzip-1..9, zstd, zstd-1..19');
    // zfs-fuse is pool version 23: no feature flags, so neither lz4 nor zstd.
    if (pkg === 'zfs-fuse' && ZFS_COMPRESSION.test(compression) && !ZFS_FUSE_COMPRESSION.test(compression)) {
      v.problem('backup_zfs_compression', compression, 'zfs-fuse (backup_zfs_package) supports only off, on, lzjb, zle, gzip, gzip-1..9');
    }
    target.zfs = { pool, dataset: `${pool}/current`, package: pkg, compression, dataDevice, dataFileSizeGiB };
  } else if (backend === 'btrfs') {
    target.btrfs = {
      dataDevice,
      dataFileSizeGiB,
      compression: v.matching('backup_btrfs_compression', 'zstd:3', BTRFS_COMPRESSION, 'expected a btrfs compression: zstd, zstd:N, zlib, zlib:N, lzo, no'),
      quota: v.bool('backup_btrfs_quota', false),
    };
  }
  return target;
}

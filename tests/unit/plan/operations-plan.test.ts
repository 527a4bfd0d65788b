import { describe, expect, it } from 'vitest';
import { cronOf, durationSeconds, isOnCalendar } from '../../../src/plan/checks';
import { SEED, planOf } from './seed-inventory';



describe('settings', () => {
  it('syncs and restores up to four sources at once unless the inventory says otherwise', () => {
    expect(planOf(SEED).settings).toMatchObject({ syncConcurrency: 4, restoreConcurrency: 4 });
    const plan = planOf(SEED.replace('deployment_prefix=uat', 'deployment_prefix=uat\nbackup_sync_concurrency=2\nbackup_restore_concurrency=1'));
    expect(plan.settings).toMatchObject({ syncConcurrency: 2, restoreConcurrency: 1 });
  });

  it('compares every entry again weekly unless backup_full_scan_days says otherwise (0: never by itself)', () => {
    expect(planOf(SEED).settings.fullScanDays).toBe(7);
    expect(planOf(SEED.replace('deployment_prefix=uat', 'deployment_prefix=uat\nbackup_full_scan_days=0')).settings.fullScanDays).toBe(0);
    expect(planOf(SEED.replace('deployment_prefix=uat', 'deployment_prefix=uat\nbackup_full_scan_days=30')).settings.fullScanDays).toBe(30);
  });
});

describe('replication, retention and schedule plan fields', () => {
  it('the seed inventory: no remotes, no retention, default thresholds, schedule off', () => {
    const plan = planOf(SEED);
    expect(plan.remotes).toEqual([]);
    expect(plan.targets[0]!.retention).toEqual({ keepMinimum: 2, minAgeSeconds: 0 });
    expect(plan.settings.clockSkewSeconds).toBe(600);
    expect(plan.monitoring).toEqual({ warningAgeSeconds: 93600, criticalAgeSeconds: 180000, replicationLagSeconds: 93600, storeWarningPercent: 85, storeCriticalPercent: 95, metricsDir: '/var/lib/prometheus/node-exporter' });
    expect(plan.schedule).toEqual({ enabled: false, onCalendar: '*-*-* 02:00:00', randomizedDelaySeconds: 0, cron: '0 2 * * *' });
  });

  it('remotes, retention for target and remote separately, thresholds and schedule', () => {
    const plan = planOf(
      SEED.replace('deployment_prefix=uat', 'deployment_prefix=uat\nbackup_check_warning_age=90m\nbackup_check_critical_age=3h\nbackup_schedule_enabled=yes\nbackup_schedule="Mon..Fri *-*-* 01:30"\nbackup_schedule_randomized_delay=15m')
        .replace('backup-target\n', 'backup-target backup_keep_last=3 backup_keep_daily=7 backup_keep_weekly=4\n') +
        '[backup_remotes]\nremote-b backup_zfs_package=zfs-fuse backup_replica_keep_monthly=12\nremote-a backup_zfs_pool=offsite backup_data_device=/var/lib/pool.img\n',
    );
    expect(plan.targets[0]!.retention).toEqual({ keepLast: 3, keepDaily: 7, keepWeekly: 4, keepMinimum: 2, minAgeSeconds: 0 });
    expect(plan.remotes.map((r) => r.host)).toEqual(['remote-a', 'remote-b']);
    expect(plan.remotes[0]).toMatchObject({ backend: 'zfs', root: '/backup', retention: { keepMinimum: 2, minAgeSeconds: 604800 }, zfs: { pool: 'offsite', parent: 'offsite/replica', dataset: 'offsite/replica/current', package: 'zfsutils-linux', dataDevice: '/var/lib/pool.img' } });
    expect(plan.remotes[1]).toMatchObject({ retention: { keepMonthly: 12, keepMinimum: 2, minAgeSeconds: 604800 }, zfs: { package: 'zfs-fuse', dataset: 'backup/replica/current' } });
    expect(plan.hosts.find((h) => h.name === 'remote-a')?.roles).toEqual(['remote']);
    expect(plan.hosts.find((h) => h.name === 'remote-a')?.connection).toBe('uat-remote-a');
    expect(plan.monitoring).toMatchObject({ warningAgeSeconds: 5400, criticalAgeSeconds: 10800 });
    // A weekday list has no cron equivalent derived automatically: systemd only unless backup_schedule_cron is set.
    expect(plan.schedule).toEqual({ enabled: true, onCalendar: 'Mon..Fri *-*-* 01:30', randomizedDelaySeconds: 900 });
  });

  it('the retention floor: keep minimum, a remote\'s minimum age, the clock skew', () => {
    const plan = planOf(
      SEED.replace('deployment_prefix=uat', 'deployment_prefix=uat\nbackup_clock_skew=2m').replace('backup-target\n', 'backup-target backup_keep_last=3 backup_keep_minimum=5\n') +
        '[backup_remotes]\nbackup-remote backup_replica_keep_minimum=1 backup_replica_min_age=36h\n',
    );
    expect(plan.settings.clockSkewSeconds).toBe(120);
    expect(plan.targets[0]!.retention).toEqual({ keepLast: 3, keepMinimum: 5, minAgeSeconds: 0 });
    expect(plan.remotes[0]!.retention).toEqual({ keepMinimum: 1, minAgeSeconds: 129600 });
    expect(planOf(SEED + '[backup_remotes]\nbackup-remote backup_replica_min_age=0\n').remotes[0]!.retention.minAgeSeconds).toBe(0);
  });

  it('a btrfs target gets btrfs remotes', () => {
    const plan = planOf(SEED.replace('backup-target\n', 'backup-target backup_target_backend=btrfs\n') + '[backup_remotes]\nbackup-remote\n');
    expect(plan.remotes[0]).toMatchObject({ backend: 'btrfs', btrfs: { replicaDir: '/backup/replica' } });
  });

  it('durations', () => {
    expect([durationSeconds('90'), durationSeconds(90), durationSeconds('90s'), durationSeconds('2m'), durationSeconds('26h'), durationSeconds('7d')]).toEqual([90, 90, 90, 120, 93600, 604800]);
    for (const bad of ['', '1.5h', '-1', '2w', '1 h', null, true]) expect(durationSeconds(bad)).toBeUndefined();
  });

  it('OnCalendar values', () => {
    for (const ok of ['daily', 'hourly', '*-*-* 02:00:00', '02:00', '*:0/15', 'Mon..Fri *-*-* 01:30', 'Sat,Sun 03:00', '*-*-01 04:00:00', '2024-*-* 00,12:00']) expect(isOnCalendar(ok), ok).toBe(true);
    for (const bad of ['', 'every day', 'daily\nExecStart=x', '02:00 UTC', '$(reboot)', 'Mon;Tue 02:00', 'x'.repeat(100)]) expect(isOnCalendar(bad), bad).toBe(false);
  });

  it('cron equivalents of simple OnCalendar values only', () => {
    expect(cronOf('daily')).toBe('0 0 * * *');
    expect(cronOf('hourly')).toBe('0 * * * *');
    expect(cronOf('*-*-* 02:00:00')).toBe('0 2 * * *');
    expect(cronOf('02:30')).toBe('30 2 * * *');
    expect(cronOf('*-*-* 00,12:05')).toBe('5 0,12 * * *');
    expect(cronOf('*-*-* 25:00')).toBeUndefined();
    expect(cronOf('Mon *-*-* 02:00')).toBeUndefined();
    expect(cronOf('*:0/15')).toBeUndefined();
  });
});

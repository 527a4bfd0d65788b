import type { Plan } from '../../../src/plan/types';

/**
 * The seed's inventory as a plan: two sources (gluster, lvm) that are also the docker hosts.
 * `twoTargets`: cassandra-1 lands on backup-target, manager-1 on backup-target-2.
 */
export function testPlan(overrides: { settings?: Partial<Plan['settings']>; dockerHosts?: string[]; port?: number; connection?: string; twoTargets?: boolean } = {}): Plan {
  const second = overrides.twoTargets === true;
  const zfs = (host: string): Plan['targets'][number] => ({
    host,
    backend: 'zfs',
    root: '/backup',
    current: '/backup/current',
    restoreMount: '/backup/restore',
    zfs: { pool: 'backup', dataset: 'backup/current', compression: 'gzip-7', package: 'zfs-fuse', dataDevice: '/dev/vdb', dataFileSizeGiB: 10 },
    retention: { keepMinimum: 2, minAgeSeconds: 0 },
  });
  const port = overrides.port ?? 22;
  const connection = (name: string) => overrides.connection ?? `uat-${name}`;
  const dockerHosts = overrides.dockerHosts ?? ['cassandra-1', 'manager-1'];
  return {
    schema: 2,
    application: 'sbdi-backup',
    deploymentPrefix: 'uat',
    operator: { user: 'backupoperator', group: 'backupoperator', uid: 1901, gid: 1901, home: '/home/backupoperator' },
    receiver: { user: 'sbdi-receive', group: 'sbdi-receive', uid: 1902, gid: 1902, home: '/var/lib/sbdi-receive' },
    paths: {
      bin: '/opt/sbdi/backup/bin',
      capsules: '/opt/sbdi/backup/libexec',
      lib: '/opt/sbdi/lib',
      share: '/opt/sbdi/backup/lib',
      etc: '/etc/sbdi/backup',
      run: '/run/sbdi-backup',
      state: '/var/lib/sbdi-backup',
    },
    settings: { pauseDeadlineSeconds: 60, syncConcurrency: 1, restoreConcurrency: 1, connectTimeoutSeconds: 10, fullScanDays: 0, clockSkewSeconds: 600, ...overrides.settings },
    hosts: [
      { name: 'backup-director', connection: connection('backup-director'), port, roles: ['director'] },
      { name: 'backup-target', connection: connection('backup-target'), port, roles: ['target'] },
      ...(second ? [{ name: 'backup-target-2', connection: connection('backup-target-2'), port, roles: ['target' as const] }] : []),
      { name: 'cassandra-1', connection: connection('cassandra-1'), port, roles: ['docker', 'source'] },
      { name: 'manager-1', connection: connection('manager-1'), port, roles: ['docker', 'source'] },
    ],
    director: 'backup-director',
    targets: second ? [zfs('backup-target'), zfs('backup-target-2')] : [zfs('backup-target')],
    sources: [
      {
        host: 'cassandra-1',
        backend: 'lvm',
        liveDir: '/docker_local',
        snapshotMount: '/local_backupsource',
        treeName: 'cassandra-1@+docker_local',
        target: 'backup-target',
        volumeGroup: 'vg_docker_local',
        logicalVolume: 'lv_docker_local',
        snapshotSizeGiB: 20,
      },
      {
        host: 'manager-1',
        backend: 'gluster',
        liveDir: '/docker',
        snapshotMount: '/gluster_backupsource',
        treeName: 'manager-1@+docker',
        target: second ? 'backup-target-2' : 'backup-target',
        volume: 'docker',
      },
    ],
    dockerHosts,
    remotes: [],
    monitoring: { warningAgeSeconds: 26 * 3600, criticalAgeSeconds: 50 * 3600, replicationLagSeconds: 26 * 3600, storeWarningPercent: 85, storeCriticalPercent: 95, metricsDir: '/var/lib/prometheus/node-exporter' },
    schedule: { enabled: false, onCalendar: '*-*-* 02:00:00', randomizedDelaySeconds: 0, cron: '0 2 * * *' },
  };
}

import type { Plan } from '../../../src/plan/types';

/** The seed's inventory as a plan: two sources (gluster, lvm) that are also the docker hosts. */
export function testPlan(overrides: { settings?: Partial<Plan['settings']>; dockerHosts?: string[]; port?: number; connection?: string } = {}): Plan {
  const port = overrides.port ?? 22;
  const connection = (name: string) => overrides.connection ?? `uat-${name}`;
  const dockerHosts = overrides.dockerHosts ?? ['cassandra-1', 'manager-1'];
  return {
    schema: 1,
    application: 'sbdi-backup',
    deploymentPrefix: 'uat',
    operator: { user: 'backupoperator', group: 'backupoperator', uid: 1901, gid: 1901, home: '/home/backupoperator' },
    paths: {
      bin: '/opt/sbdi/backup/bin',
      capsules: '/opt/sbdi/backup/libexec',
      lib: '/opt/sbdi/lib',
      share: '/opt/sbdi/backup/lib',
      etc: '/etc/sbdi/backup',
      run: '/run/sbdi-backup',
    },
    settings: { pauseDeadlineSeconds: 60, syncConcurrency: 1, connectTimeoutSeconds: 10, ...overrides.settings },
    hosts: [
      { name: 'backup-director', connection: connection('backup-director'), port, roles: ['director'] },
      { name: 'backup-target', connection: connection('backup-target'), port, roles: ['target'] },
      { name: 'cassandra-1', connection: connection('cassandra-1'), port, roles: ['docker', 'source'] },
      { name: 'manager-1', connection: connection('manager-1'), port, roles: ['docker', 'source'] },
    ],
    director: 'backup-director',
    target: {
      host: 'backup-target',
      backend: 'zfs',
      root: '/backup',
      current: '/backup/current',
      restoreMount: '/backup/restore',
      zfs: { pool: 'backup', dataset: 'backup/current', compression: 'gzip-7', package: 'zfs-fuse', dataDevice: '/dev/vdb', dataFileSizeGiB: 10 },
    },
    sources: [
      {
        host: 'cassandra-1',
        backend: 'lvm',
        liveDir: '/docker_local',
        snapshotMount: '/local_backupsource',
        treeName: 'cassandra-1@+docker_local',
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
        volume: 'docker',
      },
    ],
    dockerHosts,
    remotes: [],
    retention: {},
    monitoring: { warningAgeSeconds: 26 * 3600, criticalAgeSeconds: 50 * 3600, replicationLagSeconds: 26 * 3600, metricsDir: '/var/lib/prometheus/node-exporter' },
    schedule: { enabled: false, onCalendar: '*-*-* 02:00:00', randomizedDelaySeconds: 0, cron: '0 2 * * *' },
  };
}

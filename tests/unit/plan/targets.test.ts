import { describe, expect, it } from 'vitest';
import { remotesOfTarget, sourcesOfTarget } from '../../../src/plan';
import { describePlan } from '../../../src/cli/describe';
import { SEED, TWO, planOf } from './seed-inventory';


describe('several backup targets', () => {
  it('one target: every source and remote defaults to it', () => {
    const plan = planOf(`${SEED}[backup_remotes]\nbackup-remote\n`);
    expect(plan.schema).toBe(2);
    expect(plan.targets.map((t) => t.host)).toEqual(['backup-target']);
    expect(plan.sources.map((s) => [s.host, s.target])).toEqual([
      ['cassandra-1', 'backup-target'],
      ['manager-1', 'backup-target'],
    ]);
    expect(plan.remotes.map((r) => [r.host, r.target])).toEqual([['backup-remote', 'backup-target']]);
  });

  it('two targets: each source on the target it names, targets sorted, settings per target', () => {
    const plan = planOf(
      `${TWO.replace('backup-target-2\n', 'backup-target-2 backup_target_backend=btrfs backup_keep_last=5\n').replace('[backup_targets]\nbackup-target\n', '[backup_targets]\nbackup-target backup_keep_daily=7\n')}[backup_remotes]\nremote-2 backup_remote_target=backup-target-2\n`,
    );
    expect(plan.targets.map((t) => [t.host, t.backend, t.retention])).toEqual([
      ['backup-target', 'zfs', { keepDaily: 7, keepMinimum: 2, minAgeSeconds: 0 }],
      ['backup-target-2', 'btrfs', { keepLast: 5, keepMinimum: 2, minAgeSeconds: 0 }],
    ]);
    expect(sourcesOfTarget(plan, 'backup-target').map((s) => s.host)).toEqual(['cassandra-1']);
    expect(sourcesOfTarget(plan, 'backup-target-2').map((s) => s.host)).toEqual(['manager-1']);
    expect(remotesOfTarget(plan, 'backup-target-2').map((r) => [r.host, r.backend])).toEqual([['remote-2', 'btrfs']]);
    expect(remotesOfTarget(plan, 'backup-target')).toEqual([]);
    expect(plan.hosts.find((h) => h.name === 'backup-target-2')?.roles).toEqual(['target']);
  });

  it('sbdi-backup plan shows which target each source lands on', () => {
    const text = describePlan(planOf(TWO));
    expect(text).toContain('targets backup-target (zfs), backup-target-2 (zfs)');
    expect(text).toMatch(/manager-1 +gluster +\/docker → \/gluster_backupsource → backup-target-2:\/backup\/current\/manager-1@\+docker/);
    expect(text).toMatch(/cassandra-1 +lvm +\/docker_local → \/local_backupsource → backup-target:\/backup\/current\/cassandra-1@\+docker_local/);
    expect(text).toContain('target backup-target-2: /backup/current on zfs');
    expect(text).toMatch(/receives manager-1\n/);
  });
});

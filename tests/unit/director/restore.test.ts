import { writeFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { performBackup } from '../../../src/director/backup';
import { runCommand } from '../../../src/director/commands';
import { EXIT } from '../../../src/director/exit-codes';
import { restoreBackup } from '../../../src/director/restore';
import { cleanupHarnesses, harness } from './harness';
import { testPlan } from './plan-fixture';

afterEach(cleanupHarnesses);

function completeBackup(id: string, treeNames = ['cassandra-1@+docker_local', 'manager-1@+docker']) {
  return { id, usedBytes: 1000, compressRatio: 2, manifest: { id, status: 'complete', sources: treeNames.map((treeName) => ({ treeName })) } };
}

describe('restore_backup', () => {
  it('activates, restores each source in sequence, deactivates', async () => {
    const h = harness();
    h.transport.backups.push(completeBackup('20240101_000000'));
    expect(await restoreBackup(h.ctx, { id: '20240101_000000' })).toBe(EXIT.OK);
    const order = h.transport.calls.map((c) => `${c.capsule}@${c.host}`);
    // The listing and the docker checks are asked at once; then everything in sequence.
    expect(order.slice(0, 3).sort()).toEqual(['docker_status@cassandra-1', 'docker_status@manager-1', 'list_backups@backup-target']);
    const list = h.transport.calledCapsules('list_backups')[0]!;
    expect(h.transport.calledCapsules('docker_status').every((c) => c.start < list.end!)).toBe(true);
    // A restore needs which backups there are, not their sizes (a dir store walks every backup for those).
    expect(list.stdin).toBe('ids\n');
    expect(order.slice(3)).toEqual([
      'activate_backup@backup-target',
      'restore_source@cassandra-1',
      'restore_source@manager-1',
      'deactivate_backup@backup-target',
    ]);
    expect(h.transport.calledCapsules('activate_backup')[0]!.arg).toBe('20240101_000000');
    const restores = h.transport.calledCapsules('restore_source');
    expect(restores[1]!.start).toBeGreaterThan(restores[0]!.end!);
    expect(h.printed.join('\n')).toMatch(/backup 20240101_000000 restored in .*start_docker/);
  });

  it('asks for rsync\'s progress only when the operator sees it', async () => {
    const h = harness();
    h.transport.backups.push(completeBackup('20240101_000000'));
    expect(await restoreBackup(h.ctx, { id: '20240101_000000' })).toBe(EXIT.OK);
    expect(h.transport.calledCapsules('restore_source').map((c) => c.stdin)).toEqual(['', '']);
    h.ctx.progress = () => undefined;
    expect(await restoreBackup(h.ctx, { id: '20240101_000000' })).toBe(EXIT.OK);
    expect(h.transport.calledCapsules('restore_source').slice(2).map((c) => c.stdin)).toEqual(['progress\n', 'progress\n']);
  });

  it('refuses while docker runs anywhere: "run stop_docker first" (exit 20)', async () => {
    const h = harness();
    h.transport.backups.push(completeBackup('20240101_000000'));
    h.transport.dockerRunning.add('manager-1');
    expect(await restoreBackup(h.ctx, { id: '20240101_000000' })).toBe(EXIT.DOCKER_RUNNING);
    expect(h.transport.calledCapsules('activate_backup')).toHaveLength(0);
    expect(h.printed.join('\n')).toMatch(/docker is running on manager-1: run stop_docker first/);
  });

  it('refuses when docker_status cannot answer (exit 20)', async () => {
    const h = harness();
    h.transport.backups.push(completeBackup('20240101_000000'));
    h.transport.fail('docker_status', 'cassandra-1');
    expect(await restoreBackup(h.ctx, { id: '20240101_000000' })).toBe(EXIT.DOCKER_RUNNING);
    expect(h.transport.calledCapsules('activate_backup')).toHaveLength(0);
  });

  it('refuses an unknown or incomplete backup (exit 21) and a malformed id (exit 2)', async () => {
    const h = harness();
    h.transport.backups.push({ id: '20240102_000000', usedBytes: 1, compressRatio: 1, manifest: null });
    expect(await restoreBackup(h.ctx, { id: '20240101_000000' })).toBe(EXIT.NO_SUCH_BACKUP);
    expect(await restoreBackup(h.ctx, { id: '20240102_000000' })).toBe(EXIT.NO_SUCH_BACKUP);
    expect(await runCommand(h.ctx, ['restore_backup', '2024-01-01'])).toBe(EXIT.USAGE);
    expect(await runCommand(h.ctx, ['restore_backup', '20240101_000000; rm -rf /'])).toBe(EXIT.USAGE);
    expect(h.transport.calledCapsules('activate_backup')).toHaveLength(0);
  });

  it('refuses a backup lacking a tree of this plan (exit 21)', async () => {
    const h = harness();
    h.transport.backups.push(completeBackup('20240101_000000', ['manager-1@+docker']));
    expect(await restoreBackup(h.ctx, { id: '20240101_000000' })).toBe(EXIT.NO_SUCH_BACKUP);
    expect(h.printed.join('\n')).toMatch(/no tree for cassandra-1@\+docker_local/);
  });

  it('always deactivates, also when a restore fails (exit 23)', async () => {
    const h = harness();
    h.transport.backups.push(completeBackup('20240101_000000'));
    h.transport.fail('restore_source', 'cassandra-1');
    expect(await restoreBackup(h.ctx, { id: '20240101_000000' })).toBe(EXIT.RESTORE);
    expect(h.transport.calledCapsules('restore_source').map((c) => c.host)).toEqual(['cassandra-1']);
    expect(h.transport.calledCapsules('deactivate_backup')).toHaveLength(1);
  });

  it('deactivates after an interrupt too (exit 130)', async () => {
    const h = harness();
    h.transport.backups.push(completeBackup('20240101_000000'));
    h.transport.on('restore_source', () => {
      setTimeout(() => h.interrupt.abort('SIGINT'), 10);
      return 'hang';
    });
    expect(await restoreBackup(h.ctx, { id: '20240101_000000' })).toBe(EXIT.SIGINT);
    expect(h.transport.calledCapsules('deactivate_backup')).toHaveLength(1);
  });

  it('a failed deactivate after a good restore says so (exit 24)', async () => {
    const h = harness();
    h.transport.backups.push(completeBackup('20240101_000000'));
    h.transport.fail('deactivate_backup');
    expect(await restoreBackup(h.ctx, { id: '20240101_000000' })).toBe(EXIT.DEACTIVATE);
  });

  it('is refused while another run holds the lock (exit 3)', async () => {
    const h = harness();
    h.state.ensure();
    writeFileSync(h.state.lockPath, JSON.stringify({ pid: process.ppid, command: 'perform_backup', startedAt: 'then' }));
    expect(await runCommand(h.ctx, ['restore_latest_backup'])).toBe(EXIT.LOCKED);
    expect(h.lines.join('\n')).toMatch(/another sbdi-backup run holds the lock: pid \d+, command perform_backup, started then/);
  });
});

describe('restore_latest_backup', () => {
  it('picks the newest complete backup', async () => {
    const h = harness();
    h.transport.backups.push(completeBackup('20240101_000000'), completeBackup('20240103_000000'), {
      id: '20240105_000000',
      usedBytes: 1,
      compressRatio: 1,
      manifest: { id: '20240105_000000', status: 'failed' },
    });
    expect(await restoreBackup(h.ctx, { latest: true })).toBe(EXIT.OK);
    expect(h.transport.calledCapsules('activate_backup')[0]!.arg).toBe('20240103_000000');
  });

  it('says when there is none (exit 21)', async () => {
    const h = harness();
    expect(await restoreBackup(h.ctx, { latest: true })).toBe(EXIT.NO_SUCH_BACKUP);
  });

  it('restores what perform_backup committed (round trip through the fake target)', async () => {
    const h = harness(testPlan({ settings: { syncConcurrency: 1, restoreConcurrency: 2 } }));
    expect(await performBackup(h.ctx)).toBe(EXIT.OK);
    expect(await restoreBackup(h.ctx, { latest: true })).toBe(EXIT.OK);
    expect(h.transport.calledCapsules('activate_backup')[0]!.arg).toBe(h.transport.backups[0]!.id);
    // backup_restore_concurrency, not the sync's: the syncs went one after the other, the restores at once.
    const syncs = h.transport.calledCapsules('perform_rsync');
    expect(syncs[1]!.start).toBeGreaterThanOrEqual(syncs[0]!.end!);
    const restores = h.transport.calledCapsules('restore_source');
    expect(restores[1]!.start).toBeLessThan(restores[0]!.end!);
  });

  it('restores one source after the other with backup_restore_concurrency 1', async () => {
    const h = harness(testPlan({ settings: { syncConcurrency: 2, restoreConcurrency: 1 } }));
    expect(await performBackup(h.ctx)).toBe(EXIT.OK);
    expect(await restoreBackup(h.ctx, { latest: true })).toBe(EXIT.OK);
    const restores = h.transport.calledCapsules('restore_source');
    expect(restores).toHaveLength(2);
    for (let i = 1; i < restores.length; i++) expect(restores[i]!.start).toBeGreaterThanOrEqual(restores[i - 1]!.end!);
  });
});

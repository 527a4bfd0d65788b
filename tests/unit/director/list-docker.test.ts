import { afterEach, describe, expect, it } from 'vitest';
import { runCommand } from '../../../src/director/commands';
import { EXIT } from '../../../src/director/exit-codes';
import type { BackupEntry } from '../../../src/director/list';
import { cleanupHarnesses, harness } from './harness';

afterEach(cleanupHarnesses);

describe('list_backups', () => {
  it('lists committed backups and failed runs with status, size and age', async () => {
    const h = harness();
    h.transport.backups.push({ id: '20240101_000000', usedBytes: 0, referencedBytes: 3 * 1024 ** 3, compressRatio: 2.04, manifest: { id: '20240101_000000', status: 'complete' } });
    h.transport.fail('perform_rsync', 'manager-1');
    expect(await runCommand(h.ctx, ['perform_backup'])).toBe(EXIT.SYNC);
    h.printed.length = 0;
    expect(await runCommand(h.ctx, ['list_backups'])).toBe(EXIT.OK);
    const out = h.printed.join('\n');
    // SIZE: what the backup references; ONLY IT: what deleting it frees (nothing, for the newest on ZFS).
    expect(out).toMatch(/ID\s+STATUS\s+SIZE\s+ONLY IT\s+AGE\s+RATIO\s+RESTORABLE/);
    expect(out).toMatch(/20240101_000000\s+complete\s+3\.00 GiB\s+0 B\s+\d+d\d\dh\s+2\.04x\s+yes/);
    expect(out).toMatch(/\d{8}_\d{6}\s+failed \(sync\)\s+-\s+-\s+\S+\s+-\s+no/);
    // Only the target is contacted.
    expect(new Set(h.transport.calls.slice(-1).map((c) => c.host))).toEqual(new Set(['backup-target']));
    // With the sizes: nothing on the capsule's stdin.
    expect(h.transport.calledCapsules('list_backups').at(-1)!.stdin).toBeUndefined();
  });

  it('--json gives the same entries as data', async () => {
    const h = harness();
    h.transport.backups.push({ id: '20240101_000000', usedBytes: 10, compressRatio: 1.5, manifest: { id: '20240101_000000', status: 'complete' } });
    h.transport.backups.push({ id: '20240102_000000', usedBytes: 10, compressRatio: 1.5, manifest: null });
    expect(await runCommand(h.ctx, ['list_backups', '--json'])).toBe(EXIT.OK);
    const entries = JSON.parse(h.printed.join('')) as BackupEntry[];
    expect(entries.map((e) => [e.id, e.status, e.restorable])).toEqual([
      ['20240101_000000', 'complete', true],
      ['20240102_000000', 'incomplete', false],
    ]);
    expect(entries[0]!.ageMs).toBeGreaterThan(0);
  });

  it('still shows local runs when the target is unreachable (exit 4)', async () => {
    const h = harness();
    h.state.saveRun({ id: '20240101_000000', command: 'perform_backup', pid: 1, director: 'd', status: 'failed', phase: 'sync', failedPhase: 'sync', startedAt: 0, pauseInProgress: false, snapshotsMayExist: false, phases: [] });
    h.transport.unreachable.add('backup-target');
    expect(await runCommand(h.ctx, ['list_backups'])).toBe(EXIT.CONNECT);
    expect(h.printed.join('\n')).toMatch(/20240101_000000\s+failed \(sync\)/);
  });

  it('rejects unknown options and arguments (exit 2) with usage', async () => {
    const h = harness();
    expect(await runCommand(h.ctx, ['list_backups', '--jsn'])).toBe(EXIT.USAGE);
    expect(await runCommand(h.ctx, ['list_backups', 'x'])).toBe(EXIT.USAGE);
    expect(await runCommand(h.ctx, ['perform_backup', '--force'])).toBe(EXIT.USAGE);
    expect(await runCommand(h.ctx, ['bogus'])).toBe(EXIT.USAGE);
    expect(h.usage).toHaveLength(4);
    expect(h.transport.connects).toHaveLength(0);
  });
});

describe('docker commands', () => {
  for (const command of ['stop_docker', 'start_docker', 'pause_containers', 'unpause_containers']) {
    it(`${command} runs on every docker host in parallel and reports per host`, async () => {
      const h = harness();
      expect(await runCommand(h.ctx, [command])).toBe(EXIT.OK);
      const cs = h.transport.calledCapsules(command);
      expect(cs.map((c) => c.host).sort()).toEqual(['cassandra-1', 'manager-1']);
      expect(cs[1]!.start).toBeLessThan(cs[0]!.end!);
      expect(h.printed.join('\n')).toMatch(/HOST\s+RESULT\s+DETAIL\n-+  -+  -+\ncassandra-1\s+ok/);
      expect(h.transport.connects.sort()).toEqual(['cassandra-1', 'manager-1']);
    });
  }

  it('a failure on one host is reported and exits 30', async () => {
    const h = harness();
    h.transport.fail('stop_docker', 'manager-1', 'docker.service did not stop');
    expect(await runCommand(h.ctx, ['stop_docker'])).toBe(EXIT.DOCKER_COMMAND);
    const out = h.printed.join('\n');
    expect(out).toMatch(/cassandra-1\s+ok\s+docker stopped/);
    expect(out).toMatch(/manager-1\s+FAILED\s+.*docker.service did not stop/);
  });

  it('stop_docker and pause_containers do nothing unless every host is reachable (exit 4)', async () => {
    for (const command of ['stop_docker', 'pause_containers']) {
      const h = harness();
      h.transport.unreachable.add('manager-1');
      expect(await runCommand(h.ctx, [command])).toBe(EXIT.CONNECT);
      expect(h.transport.calls).toHaveLength(0);
      expect(h.printed.join('\n')).toMatch(/manager-1\s+UNREACHABLE/);
    }
  });

  it('start_docker and unpause_containers act on the hosts they can reach (exit 4)', async () => {
    for (const command of ['start_docker', 'unpause_containers']) {
      const h = harness();
      h.transport.unreachable.add('manager-1');
      expect(await runCommand(h.ctx, [command])).toBe(EXIT.CONNECT);
      expect(h.transport.calls.map((c) => c.host)).toEqual(['cassandra-1']);
    }
  });

  it('pause_containers says the pause ends by itself', async () => {
    const h = harness();
    await runCommand(h.ctx, ['pause_containers']);
    expect(h.printed.join('\n')).toMatch(/unpause by themselves after 60s/);
  });
});

describe('mergeBackups', () => {
  it('shows a run whose director died as failed, a live one as running, and lets the target win', async () => {
    const { mergeBackups } = await import('../../../src/director/list');
    const base = { command: 'perform_backup' as const, director: 'd', startedAt: 0, pauseInProgress: false, snapshotsMayExist: false, phases: [] };
    const entries = mergeBackups(
      [{ id: '20240103_000000', usedBytes: 1, manifest: { id: '20240103_000000', status: 'complete' } }],
      [
        { ...base, id: '20240101_000000', pid: 4_194_304 + 3, status: 'running', phase: 'sync' },
        { ...base, id: '20240102_000000', pid: process.pid, status: 'running', phase: 'pause' },
        // A commit that reached the target although the director recorded a failure.
        { ...base, id: '20240103_000000', pid: 1, status: 'failed', phase: 'commit', failedPhase: 'commit' },
      ],
      Date.UTC(2024, 0, 4),
    );
    expect(entries.map((e) => [e.id, e.status, e.failedPhase, e.restorable])).toEqual([
      ['20240101_000000', 'failed', 'sync', false],
      ['20240102_000000', 'running', 'pause', false],
      ['20240103_000000', 'complete', undefined, true],
    ]);
    expect(entries[2]!.ageMs).toBe(86_400_000);
  });
});

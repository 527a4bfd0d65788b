// Retention on stores that hold backups dated in the future of their clock (a director whose clock
// was set wrong once, or ids forged on a target): the director's side, over a scripted transport.
// The same cases run on real hosts in tests/sandbox/operations.test.ts.
import { afterEach, describe, expect, it } from 'vitest';
import { performBackup } from '../../../src/director/backup';
import { prunePlan } from '../../../src/director/prune';
import { runCommand } from '../../../src/director/commands';
import { EXIT } from '../../../src/director/exit-codes';
import { backupIdAt } from '../../../src/director/ids';
import type { TargetBackup } from '../../../src/director/list';
import type { Manifest } from '../../../src/director/manifest';
import type { Plan } from '../../../src/plan/types';
import type { StoredBackup } from './fake-transport';
import { cleanupHarnesses, harness } from './harness';
import { testPlan } from './plan-fixture';

afterEach(cleanupHarnesses);

const DAY = 86_400_000;
const FUTURE = ['20990101_000000', '20990201_000000'];

function manifestOf(id: string): Record<string, unknown> {
  return {
    id,
    status: 'complete',
    targets: [{ host: 'backup-target', backend: 'zfs' }],
    sources: [
      { host: 'cassandra-1', target: 'backup-target', treeName: 'cassandra-1@+docker_local' },
      { host: 'manager-1', target: 'backup-target', treeName: 'manager-1@+docker' },
    ],
  };
}

/** A backup the store committed at `storedAt` under `id`. */
const stored = (id: string, storedAt: number): StoredBackup => ({ id, usedBytes: 1000, compressRatio: 2, manifest: manifestOf(id), storedAt });
const genuine = (daysAgo: number): StoredBackup => {
  const t = Date.now() - daysAgo * DAY;
  return stored(backupIdAt(t), t);
};

/** keep_last 2 on the target and on an off-site remote (the case as an operator found it). */
function withRemote(): Plan {
  const plan = testPlan();
  plan.targets[0]!.retention = { keepLast: 2, keepMinimum: 2, minAgeSeconds: 0 };
  plan.hosts.push({ name: 'backup-remote', connection: 'uat-backup-remote', port: 22, roles: ['remote'] });
  plan.remotes = [
    {
      host: 'backup-remote',
      target: 'backup-target',
      backend: 'zfs',
      root: '/backup',
      retention: { keepLast: 2, keepMinimum: 2, minAgeSeconds: 0 },
      zfs: { pool: 'backup', parent: 'backup/replica', dataset: 'backup/replica/current', package: 'zfs-fuse', dataDevice: '/dev/vdb', dataFileSizeGiB: 10 },
    },
  ];
  return plan;
}

/** Two genuine backups on both stores, and two from 2099 copied onto both a day ago. */
function poisoned() {
  const h = harness(withRemote());
  const t = h.transport;
  t.clocks.set('backup-target', Date.now);
  t.clocks.set('backup-remote', Date.now);
  const real = [genuine(3), genuine(2)];
  const fake = FUTURE.map((id) => stored(id, Date.now() - DAY));
  t.backups.push(...real, ...fake);
  t.replicas.set('backup-remote', [...real, ...fake].map((b) => ({ ...b })));
  t.on('replicate_backups', { result: { remotes: [{ remote: 'backup-remote', ok: true, code: 0, sent: 0, newest: FUTURE[1], diverged: false, error: '' }] } });
  return { h, t, real };
}

const deletions = (h: ReturnType<typeof harness>) => h.transport.calledCapsules().filter((c) => c.capsule === 'delete_backup' || c.capsule === 'delete_replica').map((c) => `${c.host} ${c.arg}`);
const output = (h: ReturnType<typeof harness>) => [...h.lines, ...h.printed].join('\n');

describe('backups dated in the future', () => {
  it('an honest perform_backup deletes nothing genuine, exits non-zero and names the stores and the ids', async () => {
    const { h, t, real } = poisoned();
    const code = await performBackup(h.ctx);
    expect(code).toBe(EXIT.POST_BACKUP);
    expect(deletions(h)).toEqual([]);
    expect(output(h)).toMatch(/backup complete, but pruning \(exit \d+\) failed/);
    const taken = t.backups.find((b) => ![...real.map((r) => r.id), ...FUTURE].includes(b.id));
    expect(taken).toBeDefined();
    expect(t.backups.map((b) => b.id).sort()).toEqual([...real.map((r) => r.id), taken!.id, ...FUTURE].sort());
    expect(output(h)).toMatch(/backup-target holds 2 backups dated in the future of its clock \(20990101_000000, 20990201_000000\)/);
    expect(output(h)).toMatch(/backup-remote holds 2 backups dated in the future of its clock \(20990101_000000, 20990201_000000\)/);
    expect(output(h)).toMatch(/pruning \(exit 44\) failed/);
  });

  it('prune_backups exits 44 and deletes nothing; the table says why', async () => {
    const { h } = poisoned();
    expect(await runCommand(h.ctx, ['prune_backups'])).toBe(EXIT.FUTURE);
    expect(deletions(h)).toEqual([]);
    expect(output(h)).toMatch(/20990101_000000\s+keep\s+DATED IN THE FUTURE: fills no slot/);
    expect(output(h)).toMatch(/keep\s+pruning stopped: this store holds backups dated in the future/);
  });

  it('the future is judged by the store\'s clock, not the director\'s: a director ahead by a day takes a backup the target sees as future', async () => {
    const h = harness(withRemote());
    const t = h.transport;
    t.clocks.set('backup-target', Date.now);
    t.clocks.set('backup-remote', Date.now);
    t.on('replicate_backups', { result: { remotes: [] } });
    t.backups.push(genuine(3), genuine(2), genuine(1));
    t.replicas.set('backup-remote', []);
    h.ctx.now = () => Date.now() + DAY;
    expect(await performBackup(h.ctx)).toBe(EXIT.POST_BACKUP);
    expect(deletions(h)).toEqual([]);
    expect(output(h)).toMatch(/backup-target holds a backup dated in the future of its clock \(\d{8}_\d{6}\)/);
    // The clock is right again: the alarm stays until an operator removes that backup.
    h.ctx.now = Date.now;
    expect(await runCommand(h.ctx, ['prune_backups'])).toBe(EXIT.FUTURE);
    expect(deletions(h)).toEqual([]);
  });

  it('--delete-future removes exactly those, on every store; retention then resumes', async () => {
    const { h, t, real } = poisoned();
    expect(await runCommand(h.ctx, ['prune_backups', '--delete-future', '--dry-run'])).toBe(EXIT.OK);
    expect(deletions(h)).toEqual([]);
    expect(await runCommand(h.ctx, ['prune_backups', '--delete-future'])).toBe(EXIT.OK);
    expect(deletions(h).sort()).toEqual(['backup-remote 20990101_000000', 'backup-remote 20990201_000000', 'backup-target 20990101_000000', 'backup-target 20990201_000000']);
    expect(t.backups.map((b) => b.id)).toEqual(real.map((r) => r.id));
    // Normal retention again: a third genuine backup pushes the oldest out.
    t.backups.push(genuine(1));
    t.replicas.get('backup-remote')!.push(genuine(1));
    expect(await runCommand(h.ctx, ['prune_backups'])).toBe(EXIT.OK);
    expect(deletions(h).slice(4).sort()).toEqual([`backup-remote ${real[0]!.id}`, `backup-target ${real[0]!.id}`]);
  });

  it('restore_latest_backup takes the newest genuine backup; check_backup is CRITICAL; list_backups marks them', async () => {
    const { h, t, real } = poisoned();
    t.dockerRunning.clear();
    expect(await runCommand(h.ctx, ['restore_latest_backup'])).toBe(EXIT.OK);
    expect(t.calledCapsules('activate_backup').map((c) => c.arg)).toEqual([real[1]!.id]);

    const check = harness(withRemote(), t);
    expect(await runCommand(check.ctx, ['check_backup'])).toBe(2);
    expect(check.printed.join('\n')).toMatch(new RegExp(`^BACKUP CRITICAL - last complete backup ${real[1]!.id} is \\d+s old .*target holds backups dated in the future \\(20990101_000000, 20990201_000000\\)`));

    const list = harness(withRemote(), t);
    expect(await runCommand(list.ctx, ['list_backups'])).toBe(EXIT.OK);
    expect(list.printed.join('\n')).toMatch(/20990201_000000\s+complete, DATED IN THE FUTURE/);
    expect(list.lines.join('\n')).toMatch(/2 backups dated in the future/);
    expect(await runCommand(list.ctx, ['list_backups', '--json'])).toBe(EXIT.OK);
    const json = JSON.parse(list.printed.at(-1)!) as { id: string; future?: boolean }[];
    expect(json.filter((b) => b.future === true).map((b) => b.id)).toEqual(FUTURE);
  });

  it('a run that would delete more than half of a store stops with 45; --force deletes', async () => {
    const h = harness(withRemote());
    const t = h.transport;
    h.ctx.plan.remotes = [];
    t.clocks.set('backup-target', Date.now);
    t.backups.push(...[9, 8, 7, 6, 5, 4].map(genuine));
    expect(await runCommand(h.ctx, ['prune_backups'])).toBe(EXIT.PRUNE_LIMIT);
    expect(deletions(h)).toEqual([]);
    expect(output(h)).toMatch(/backup-target: would delete 4 of its 6 complete backups \(more than half\)/);
    expect(await runCommand(h.ctx, ['prune_backups', '--force'])).toBe(EXIT.OK);
    expect(deletions(h)).toHaveLength(4);
    expect(t.backups).toHaveLength(2);
  });

  it('never deletes the backup the run took, even when retention would rank it last', () => {
    // Pure: a run's backup whose id sorts before the others (a store's records that disagree).
    const target = [genuine(2), genuine(1), stored(backupIdAt(Date.now() + 120_000), Date.now() + 120_000), stored(backupIdAt(Date.now() + 240_000), Date.now() + 240_000)];
    const taken = genuine(3);
    const asListed = (b: StoredBackup): TargetBackup => ({ id: b.id, manifest: b.manifest as Partial<Manifest>, ...(b.storedAt === undefined ? {} : { storedAt: b.storedAt }) });
    const stores = prunePlan('backup-target', [taken, ...target].map(asListed), Date.now(), [], { keepLast: 2, keepMinimum: 1 }, [], { takenByRun: taken.id });
    const row = stores[0]!.rows.find((r) => r.id === taken.id)!;
    expect(row.decision).toEqual({ id: taken.id, keep: true, reasons: ['taken by this run'] });
    expect(stores[0]!.rows.filter((r) => !r.decision.keep).map((r) => r.id)).toEqual(target.slice(0, 2).map((b) => b.id));
  });

  it("a director whose clock is behind the target's newest backup stops before anything is paused", async () => {
    const h = harness(withRemote());
    const t = h.transport;
    t.clocks.set('backup-target', Date.now);
    t.backups.push(genuine(2), stored(backupIdAt(Date.now() - 60_000), Date.now() - 60_000));
    h.ctx.now = () => Date.now() - 3_600_000;
    expect(await performBackup(h.ctx)).toBe(EXIT.PREPARE_TARGET);
    expect(output(h)).toMatch(/this backup's id \d{8}_\d{6} \(the director's clock\) is not after the newest backup on backup-target \(\d{8}_\d{6}\): the director's clock is behind/);
    expect(t.calledCapsules('pause_containers')).toEqual([]);
    expect(t.calledCapsules('commit_backup')).toEqual([]);
    // Backups dated in the future do not count: with only those ahead, the backup goes on.
    const h2 = harness(withRemote());
    h2.transport.clocks.set('backup-target', Date.now);
    h2.transport.backups.push(genuine(2), ...FUTURE.map((id) => stored(id, Date.now() - DAY)));
    h2.ctx.plan.remotes = [];
    expect(await performBackup(h2.ctx)).toBe(EXIT.POST_BACKUP);
    expect(h2.transport.calledCapsules('commit_backup')).toHaveLength(1);
  });
});

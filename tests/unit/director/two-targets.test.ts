/**
 * One backup id spans several targets. Phase logic over the fake transport: each source
 * syncs to its own target, the commit happens on every target only after every source synced,
 * a commit that fails anywhere leaves no complete-looking backup on any target (and what cannot be
 * discarded at once, the next run discards), and restores activate on every target involved.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { performBackup } from '../../../src/director/backup';
import { runCommand } from '../../../src/director/commands';
import { EXIT } from '../../../src/director/exit-codes';
import { mergeTargetListings, type TargetBackup } from '../../../src/director/list';
import type { Manifest } from '../../../src/director/manifest';
import { restoreBackup } from '../../../src/director/restore';
import type { RunRecord } from '../../../src/director/state';
import { TransportError } from '../../../src/ssh/types';
import type { FakeCall, FakeTransport } from './fake-transport';
import { cleanupHarnesses, harness } from './harness';
import { testPlan } from './plan-fixture';

afterEach(cleanupHarnesses);

const T1 = 'backup-target';
const T2 = 'backup-target-2';
const two = () => harness(testPlan({ twoTargets: true }));
const hostsOf = (cs: FakeCall[]) => cs.map((c) => c.host).sort();
const lastEnd = (cs: FakeCall[]) => Math.max(...cs.map((c) => c.end ?? Infinity));
const firstStart = (cs: FakeCall[]) => Math.min(...cs.map((c) => c.start));
const ids = (t: FakeTransport, host: string) => t.store(host).map((b) => b.id);

function manifestOf(id: string): Record<string, unknown> {
  return {
    id,
    status: 'complete',
    targets: [{ host: T1, backend: 'zfs' }, { host: T2, backend: 'zfs' }],
    sources: [
      { host: 'cassandra-1', target: T1, treeName: 'cassandra-1@+docker_local' },
      { host: 'manager-1', target: T2, treeName: 'manager-1@+docker' },
    ],
  };
}
/** The record of a director that died during its commits (its pid is gone). */
function stoppedInCommit(id: string): RunRecord {
  return {
    id,
    command: 'perform_backup',
    pid: 999_999_999,
    director: 'backup-director',
    status: 'running',
    phase: 'commit',
    startedAt: Date.parse('2024-01-01T00:00:00Z'),
    pauseInProgress: false,
    snapshotsMayExist: true,
    phases: [],
    commitTargets: [T1, T2],
  };
}
const stored = (id: string) => ({ id, usedBytes: 1000, compressRatio: 2, manifest: manifestOf(id) });

describe('perform_backup with two targets', () => {
  it('prepares every target, commits the same manifest on each only after every source synced', async () => {
    const h = two();
    const t = h.transport;
    expect(await performBackup(h.ctx)).toBe(EXIT.OK);
    expect(new Set(t.connects)).toEqual(new Set([T1, T2, 'cassandra-1', 'manager-1']));
    expect(hostsOf(t.calledCapsules('prepare_target'))).toEqual([T1, T2]);
    const commits = t.calledCapsules('commit_backup');
    expect(hostsOf(commits)).toEqual([T1, T2]);
    expect(firstStart(commits)).toBeGreaterThan(lastEnd(t.calledCapsules('perform_rsync')));
    expect(commits[0]!.id).toBe(commits[1]!.id);
    expect(commits[0]!.stdin).toBe(commits[1]!.stdin);
    const manifest = JSON.parse(commits[0]!.stdin!) as Manifest;
    expect(manifest.targets).toEqual([{ host: T1, backend: 'zfs' }, { host: T2, backend: 'zfs' }]);
    expect(manifest.sources.map((s) => [s.host, s.target])).toEqual([
      ['cassandra-1', T1],
      ['manager-1', T2],
    ]);
    const id = commits[0]!.id!;
    expect(ids(t, T1)).toEqual([id]);
    expect(ids(t, T2)).toEqual([id]);
    const run = h.state.runs()[0]!;
    expect(run).toMatchObject({ id, status: 'complete', exitCode: 0 });
    expect(run.commitTargets).toBeUndefined();
    expect(t.calledCapsules('discard_backup')).toHaveLength(0);
  });

  it('a failed sync commits on no target', async () => {
    const h = two();
    h.transport.fail('perform_rsync', 'manager-1');
    expect(await performBackup(h.ctx)).toBe(EXIT.SYNC);
    expect(h.transport.calledCapsules('commit_backup')).toHaveLength(0);
    expect(ids(h.transport, T1)).toEqual([]);
    expect(ids(h.transport, T2)).toEqual([]);
  });

  it('a commit failing on one target is discarded on the other: no target keeps a complete-looking part', async () => {
    const h = two();
    h.transport.fail('commit_backup', T2);
    expect(await performBackup(h.ctx)).toBe(EXIT.COMMIT);
    const id = h.transport.calledCapsules('commit_backup')[0]!.id!;
    expect(hostsOf(h.transport.calledCapsules('commit_backup'))).toEqual([T1, T2]);
    // Every target is asked: the one whose commit failed may have committed all the same.
    const discards = h.transport.calledCapsules('discard_backup');
    expect(discards.map((c) => [c.host, c.arg]).sort()).toEqual([
      [T1, id],
      [T2, id],
    ]);
    expect(discards[0]!.start).toBeGreaterThan(lastEnd(h.transport.calledCapsules('commit_backup')));
    expect(ids(h.transport, T1)).toEqual([]);
    expect(ids(h.transport, T2)).toEqual([]);
    const run = h.state.runs()[0]!;
    expect(run).toMatchObject({ status: 'failed', failedPhase: 'commit' });
    expect(run.commitTargets).toBeUndefined();
    expect(h.printed.join('\n')).toMatch(/what backup-target had committed was discarded: no target holds it/);
  });

  it('a commit whose reply was lost is discarded too: no complete-looking part stays behind', async () => {
    const h = two();
    // T2 commits, then the connection drops before its reply: the director cannot tell it happened.
    h.transport.on('commit_backup', (c) => {
      h.transport.store(T2).push(stored(c.id!));
      throw new TransportError(T2, 'channel', 'commit_backup: connection reset by peer');
    }, T2);
    h.transport.fail('commit_backup', T1);
    expect(await performBackup(h.ctx)).toBe(EXIT.COMMIT);
    const id = h.transport.calledCapsules('commit_backup')[0]!.id!;
    expect(h.transport.calledCapsules('discard_backup').map((c) => [c.host, c.arg]).sort()).toEqual([
      [T1, id],
      [T2, id],
    ]);
    expect(ids(h.transport, T1)).toEqual([]);
    expect(ids(h.transport, T2)).toEqual([]);
    const run = h.state.runs()[0]!;
    expect(run).toMatchObject({ status: 'failed', failedPhase: 'commit' });
    expect(run.commitTargets).toBeUndefined();
    expect(h.printed.join('\n')).toMatch(/what backup-target-2 had committed was discarded: no target holds it/);
  });

  it('a lost commit reply on an unreachable target is recorded, and the next run settles it', async () => {
    const h = two();
    let cut = true;
    h.transport.on('commit_backup', (c) => {
      if (!cut) return undefined;
      h.transport.store(T2).push(stored(c.id!));
      throw new TransportError(T2, 'channel', 'commit_backup: connection reset by peer');
    }, T2);
    h.transport.on('discard_backup', () => (cut ? { code: 255, result: null } : undefined), T2);
    expect(await performBackup(h.ctx)).toBe(EXIT.COMMIT);
    const id = h.transport.calledCapsules('commit_backup')[0]!.id!;
    expect(h.state.runs()[0]!.commitTargets).toEqual([T2]);
    cut = false;
    expect(await performBackup(h.ctx)).toBe(EXIT.OK);
    expect(ids(h.transport, T2)).not.toContain(id);
    expect(h.state.runs().find((r) => r.id === id)).toMatchObject({ status: 'failed' });
    expect(h.state.runs().find((r) => r.id === id)!.commitTargets).toBeUndefined();
  });

  it('a part that cannot be discarded shows incomplete, is never restored, and the next run discards it', async () => {
    const h = two();
    let broken = true;
    const failure = (capsule: string) => ({ code: 7, result: { ok: false, code: 7, error: `${capsule} failed on purpose` } });
    h.transport.on('commit_backup', (c) => (broken && c.host === T2 ? failure('commit_backup') : undefined));
    h.transport.on('discard_backup', (c) => (broken && c.host === T1 ? failure('discard_backup') : undefined));
    expect(await performBackup(h.ctx)).toBe(EXIT.COMMIT);
    const id = h.transport.calledCapsules('commit_backup')[0]!.id!;
    expect(ids(h.transport, T1)).toEqual([id]);
    expect(h.state.runs()[0]!.commitTargets).toEqual([T1]);

    // list_backups: incomplete, with the targets' states where they differ.
    h.printed.length = 0;
    expect(await runCommand(h.ctx, ['list_backups', '--json'])).toBe(EXIT.OK);
    const entries = JSON.parse(h.printed.join('\n')) as Array<{ id: string; status: string; restorable: boolean; parts: unknown }>;
    expect(entries.find((e) => e.id === id)).toMatchObject({ status: 'incomplete', restorable: false, parts: [{ host: T1, state: 'complete' }, { host: T2, state: 'missing' }] });
    h.printed.length = 0;
    expect(await runCommand(h.ctx, ['list_backups'])).toBe(EXIT.OK);
    expect(h.printed.join('\n')).toMatch(new RegExp(`${id}\\s+incomplete \\(backup-target: complete, backup-target-2: missing\\)`));

    // restore_latest_backup refuses it.
    expect(await restoreBackup(h.ctx, { latest: true })).toBe(EXIT.NO_SUCH_BACKUP);
    expect(h.transport.calledCapsules('activate_backup')).toHaveLength(0);

    // The next run's cleanup discards it, then takes a complete backup.
    broken = false;
    expect(await performBackup(h.ctx)).toBe(EXIT.OK);
    const cleanupDiscard = h.transport.calledCapsules('discard_backup').filter((c) => c.arg === id).pop()!;
    expect(cleanupDiscard.host).toBe(T1);
    expect(cleanupDiscard.outcome).toBe('ok');
    const old = h.state.runs().find((r) => r.id === id)!;
    expect(old.status).toBe('failed');
    expect(old.commitTargets).toBeUndefined();
    expect(ids(h.transport, T1)).not.toContain(id);
    expect(ids(h.transport, T1)).toHaveLength(1);
    expect(ids(h.transport, T1)).toEqual(ids(h.transport, T2));
  });

  it('a run that stopped after every target committed is found complete by the next run, not discarded', async () => {
    const h = two();
    const id = '20240101_000000';
    h.transport.store(T1).push(stored(id));
    h.transport.store(T2).push(stored(id));
    h.state.saveRun(stoppedInCommit(id));
    expect(await performBackup(h.ctx)).toBe(EXIT.OK);
    expect(h.transport.calledCapsules('discard_backup')).toHaveLength(0);
    expect(h.state.runs().find((r) => r.id === id)).toMatchObject({ status: 'complete' });
    expect(ids(h.transport, T1)).toContain(id);
  });

  it('a run that stopped half way through its commits has its parts discarded by the next run', async () => {
    const h = two();
    const id = '20240101_000000';
    h.transport.store(T2).push(stored(id));
    h.state.saveRun(stoppedInCommit(id));
    expect(await performBackup(h.ctx)).toBe(EXIT.OK);
    expect(h.transport.calledCapsules('discard_backup').map((c) => [c.host, c.arg])).toEqual([[T2, id]]);
    expect(ids(h.transport, T2)).not.toContain(id);
    expect(h.state.runs().find((r) => r.id === id)).toMatchObject({ status: 'failed' });
  });
});

describe('list_backups over two targets', () => {
  const listing = (entries: Array<[string, TargetBackup[]]>) => mergeTargetListings(new Map(entries), [T1, T2]);

  it('complete only when complete on every target its sources landed on', () => {
    const [both] = listing([
      [T1, [stored('20240101_000000')]],
      [T2, [stored('20240101_000000')]],
    ]);
    expect(both).toMatchObject({ id: '20240101_000000', complete: true, usedBytes: 2000, compressRatio: 2 });
    const [one] = listing([
      [T1, [stored('20240101_000000')]],
      [T2, []],
    ]);
    expect(one).toMatchObject({ complete: false, parts: [{ host: T1, state: 'complete' }, { host: T2, state: 'missing' }] });
    const [broken] = listing([
      [T1, [stored('20240101_000000')]],
      [T2, [{ id: '20240101_000000', manifest: undefined }]],
    ]);
    expect(broken).toMatchObject({ complete: false, parts: [{ host: T1, state: 'complete' }, { host: T2, state: 'incomplete' }] });
    const [unknown] = listing([[T1, [stored('20240101_000000')]]]);
    expect(unknown).toMatchObject({ complete: false, parts: [{ host: T1, state: 'complete' }, { host: T2, state: 'unknown' }] });
  });

  it('a backup of sources on one target only needs that target', () => {
    const m = { id: '20240101_000000', status: 'complete', sources: [{ host: 'cassandra-1', target: T1, treeName: 'cassandra-1@+docker_local' }] } as unknown as Manifest;
    const [b] = listing([
      [T1, [{ id: m.id, manifest: m }]],
      [T2, []],
    ]);
    expect(b).toMatchObject({ complete: true, parts: [{ host: T1, state: 'complete' }] });
  });

  it('an unreachable target: the others are listed, nothing shows complete, exit CONNECT', async () => {
    const h = two();
    h.transport.store(T1).push(stored('20240101_000000'));
    h.transport.store(T2).push(stored('20240101_000000'));
    h.transport.unreachable.add(T2);
    expect(await runCommand(h.ctx, ['list_backups'])).toBe(EXIT.CONNECT);
    expect(h.printed.join('\n')).toMatch(/20240101_000000\s+incomplete \(backup-target: complete, backup-target-2: unknown\)/);
    expect(h.lines.join('\n')).toMatch(/cannot list the backups of backup-target-2/);
  });
});

describe('restore with two targets', () => {
  it('activates on every target, each source pulls from its own, deactivates everywhere', async () => {
    const h = two();
    h.transport.store(T1).push(stored('20240101_000000'));
    h.transport.store(T2).push(stored('20240101_000000'));
    expect(await restoreBackup(h.ctx, { latest: true })).toBe(EXIT.OK);
    const t = h.transport;
    expect(hostsOf(t.calledCapsules('list_backups'))).toEqual([T1, T2]);
    expect(hostsOf(t.calledCapsules('activate_backup'))).toEqual([T1, T2]);
    expect(t.calledCapsules('activate_backup').every((c) => c.arg === '20240101_000000')).toBe(true);
    expect(hostsOf(t.calledCapsules('restore_source'))).toEqual(['cassandra-1', 'manager-1']);
    expect(firstStart(t.calledCapsules('restore_source'))).toBeGreaterThan(lastEnd(t.calledCapsules('activate_backup')));
    expect(hostsOf(t.calledCapsules('deactivate_backup'))).toEqual([T1, T2]);
    expect(firstStart(t.calledCapsules('deactivate_backup'))).toBeGreaterThan(lastEnd(t.calledCapsules('restore_source')));
  });

  it('refuses a backup missing on one target', async () => {
    const h = two();
    h.transport.store(T1).push(stored('20240101_000000'));
    expect(await restoreBackup(h.ctx, { id: '20240101_000000' })).toBe(EXIT.NO_SUCH_BACKUP);
    expect(h.transport.calledCapsules('activate_backup')).toHaveLength(0);
  });

  it('refuses a source that moved to another target since the backup: its tree is read from where the backup put it, or not at all', async () => {
    const h = two();
    // The backup put manager-1 on T1 and cassandra-1 on T2; the plan now has it the other way round.
    const swapped = manifestOf('20240101_000000') as { sources: { host: string; target: string }[] };
    for (const s of swapped.sources) s.target = s.target === T1 ? T2 : T1;
    for (const t of [T1, T2]) h.transport.store(t).push({ id: '20240101_000000', usedBytes: 1, compressRatio: 1, manifest: swapped as unknown as Record<string, unknown> });
    expect(await restoreBackup(h.ctx, { latest: true, only: ['manager-1'] })).toBe(EXIT.NO_SUCH_BACKUP);
    expect(h.lines.join('\n')).toMatch(/holds manager-1@\+docker \(on backup-target in the backup, on backup-target-2 in the plan\): the source moved to another target since/);
    expect(h.transport.calledCapsules('activate_backup')).toHaveLength(0);
    expect(h.transport.calledCapsules('restore_source')).toHaveLength(0);
  });

  it('an activation failing on one target still deactivates on every target', async () => {
    const h = two();
    h.transport.store(T1).push(stored('20240101_000000'));
    h.transport.store(T2).push(stored('20240101_000000'));
    h.transport.fail('activate_backup', T2);
    expect(await restoreBackup(h.ctx, { latest: true })).toBe(EXIT.ACTIVATE);
    expect(h.transport.calledCapsules('restore_source')).toHaveLength(0);
    expect(hostsOf(h.transport.calledCapsules('deactivate_backup'))).toEqual([T1, T2]);
  });

  it('a failed restore on one source still deactivates on every target', async () => {
    const h = two();
    h.transport.store(T1).push(stored('20240101_000000'));
    h.transport.store(T2).push(stored('20240101_000000'));
    h.transport.fail('restore_source', 'cassandra-1');
    expect(await restoreBackup(h.ctx, { latest: true })).toBe(EXIT.RESTORE);
    expect(hostsOf(h.transport.calledCapsules('deactivate_backup'))).toEqual([T1, T2]);
  });

  it('--only a source of one target activates only that target', async () => {
    const h = two();
    h.transport.store(T1).push(stored('20240101_000000'));
    h.transport.store(T2).push(stored('20240101_000000'));
    expect(await restoreBackup(h.ctx, { latest: true, only: ['manager-1'] })).toBe(EXIT.OK);
    expect(hostsOf(h.transport.calledCapsules('activate_backup'))).toEqual([T2]);
    expect(hostsOf(h.transport.calledCapsules('restore_source'))).toEqual(['manager-1']);
    expect(hostsOf(h.transport.calledCapsules('deactivate_backup'))).toEqual([T2]);
  });
});

describe('prune and verify per target', () => {
  it('each target applies its own retention to its own backups', async () => {
    const plan = testPlan({ twoTargets: true });
    plan.targets[0]!.retention = { keepLast: 1 };
    const h = harness(plan);
    for (const id of ['20240101_000000', '20240102_000000']) {
      h.transport.store(T1).push(stored(id));
      h.transport.store(T2).push(stored(id));
    }
    expect(await runCommand(h.ctx, ['prune_backups'])).toBe(EXIT.OK);
    expect(h.transport.calledCapsules('delete_backup').map((c) => [c.host, c.arg])).toEqual([[T1, '20240101_000000']]);
    expect(h.printed.join('\n')).toMatch(/target backup-target: keep last 1; never fewer than the newest 1\ntarget backup-target-2: keep everything/);
  });

  it('a part complete on one target only fills no keep slot there: the real backup of that day stays', async () => {
    const plan = testPlan({ twoTargets: true });
    plan.targets[0]!.retention = { keepLast: 1, keepMinimum: 1 };
    const h = harness(plan);
    h.transport.store(T1).push(stored('20240101_000000'), stored('20240102_000000'));
    // The second backup's part on T2 was never committed: only T1 holds it.
    h.transport.store(T2).push(stored('20240101_000000'));
    expect(await runCommand(h.ctx, ['prune_backups'])).toBe(EXIT.OK);
    expect(h.transport.calledCapsules('delete_backup')).toEqual([]);
    expect(h.printed.join('\n')).toMatch(/backup-target +20240102_000000 +keep +not complete: never pruned automatically/);
    expect(h.printed.join('\n')).toMatch(/backup-target +20240101_000000 +keep +newest complete/);
  });

  it('replicate_backups runs on the targets that have remotes, each to its own', async () => {
    const plan = testPlan({ twoTargets: true });
    plan.hosts.push({ name: 'remote-2', connection: 'uat-remote-2', port: 22, roles: ['remote'] });
    plan.remotes = [{ host: 'remote-2', target: T2, backend: 'zfs', root: '/backup', retention: {}, zfs: { pool: 'backup', parent: 'backup/replica', dataset: 'backup/replica/current', package: 'zfs-fuse', dataDevice: '/dev/vdb', dataFileSizeGiB: 10 } }];
    const h = harness(plan);
    h.transport.on('replicate_backups', { result: { remotes: [{ remote: 'remote-2', ok: true, code: 0, sent: 1, newest: '20240101_000000', diverged: false, error: '' }] } });
    expect(await runCommand(h.ctx, ['replicate_backups'])).toBe(EXIT.OK);
    expect(h.transport.calledCapsules('replicate_backups').map((c) => c.host)).toEqual([T2]);
  });

  it('replicate_backups never sends a part that is not complete on every target', async () => {
    const plan = testPlan({ twoTargets: true });
    plan.hosts.push({ name: 'remote-2', connection: 'uat-remote-2', port: 22, roles: ['remote'] });
    plan.remotes = [{ host: 'remote-2', target: T2, backend: 'zfs', root: '/backup', retention: {}, zfs: { pool: 'backup', parent: 'backup/replica', dataset: 'backup/replica/current', package: 'zfs-fuse', dataDevice: '/dev/vdb', dataFileSizeGiB: 10 } }];
    const h = harness(plan);
    h.transport.store(T1).push(stored('20240101_000000'));
    h.transport.store(T2).push(stored('20240101_000000'), stored('20240102_000000'));
    h.transport.on('replicate_backups', { result: { remotes: [{ remote: 'remote-2', ok: true, code: 0, sent: 1, newest: '20240101_000000', diverged: false, error: '' }] } });
    expect(await runCommand(h.ctx, ['replicate_backups'])).toBe(EXIT.OK);
    expect(h.transport.calledCapsules('replicate_backups').map((c) => [c.host, c.stdin])).toEqual([[T2, 'skip 20240102_000000\n']]);
    // A target that cannot be listed: nothing is sent, rather than a part of unknown standing.
    h.transport.unreachable.add(T1);
    h.transport.calledCapsules().length = 0;
    expect(await runCommand(h.ctx, ['replicate_backups'])).not.toBe(EXIT.OK);
    expect(h.transport.calledCapsules('replicate_backups').length).toBe(1);
  });

  it('verify_backup checks the part on every target', async () => {
    const h = two();
    h.transport.store(T1).push(stored('20240101_000000'));
    h.transport.store(T2).push(stored('20240101_000000'));
    expect(await runCommand(h.ctx, ['verify_backup', '--latest'])).toBe(EXIT.OK);
    expect(h.transport.calledCapsules('verify_backup').map((c) => [c.host, c.arg])).toEqual([
      [T1, '20240101_000000'],
      [T2, '20240101_000000'],
    ]);
  });
});

import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { performBackup } from '../../../src/director/backup';
import { EXIT } from '../../../src/director/exit-codes';
import { canonicalJson, type Manifest } from '../../../src/director/manifest';
import type { RunRecord } from '../../../src/director/state';
import type { FakeCall, FakeTransport } from './fake-transport';
import { cleanupHarnesses, harness } from './harness';
import { testPlan } from './plan-fixture';

afterEach(cleanupHarnesses);

const DOCKER = ['cassandra-1', 'manager-1'];
const SOURCES = ['cassandra-1', 'manager-1'];

function calls(t: FakeTransport, capsule: string): FakeCall[] {
  return t.calledCapsules(capsule);
}
function lastEnd(cs: FakeCall[]): number {
  return Math.max(...cs.map((c) => c.end ?? Infinity));
}
function firstStart(cs: FakeCall[]): number {
  return Math.min(...cs.map((c) => c.start));
}
function hostsOf(cs: FakeCall[]): string[] {
  return cs.map((c) => c.host).sort();
}
/** The unpause ran on every docker host, after every pause attempt had ended. */
function expectUnpausedEverywhere(t: FakeTransport): void {
  const unpauses = calls(t, 'unpause_containers');
  expect(hostsOf(unpauses)).toEqual(DOCKER);
  expect(firstStart(unpauses)).toBeGreaterThan(lastEnd(calls(t, 'pause_containers')));
}
function onlyRun(h: ReturnType<typeof harness>): RunRecord {
  const runs = h.state.runs();
  expect(runs).toHaveLength(1);
  return runs[0]!;
}

describe('perform_backup, all well', () => {
  it('runs the seed phases in order and commits a manifest proving consistency', async () => {
    const h = harness();
    const t = h.transport;
    const started = Date.now();
    const code = await performBackup(h.ctx);
    expect(code).toBe(EXIT.OK);

    // Every host connected before anything ran.
    expect(new Set(t.connects)).toEqual(new Set(['backup-target', ...SOURCES, ...DOCKER]));
    const order = t.calls.map((c) => c.capsule);
    expect(order[0]).toBe('prepare_target');
    // pause (all, in parallel) → snapshot (all) → unpause (all) → sync → commit → remove.
    const pause = calls(t, 'pause_containers');
    const snap = calls(t, 'prepare_source_snapshot');
    const unpause = calls(t, 'unpause_containers');
    const sync = calls(t, 'perform_rsync');
    const commit = calls(t, 'commit_backup');
    const remove = calls(t, 'remove_source_snapshot');
    expect(hostsOf(pause)).toEqual(DOCKER);
    expect(hostsOf(snap)).toEqual(SOURCES);
    expect(hostsOf(sync)).toEqual(SOURCES);
    expect(hostsOf(remove)).toEqual(SOURCES);
    expect(commit.map((c) => c.host)).toEqual(['backup-target']);
    // Parallel: the second pause started before the first ended; same for snapshots.
    expect(pause[1]!.start).toBeLessThan(pause[0]!.end!);
    expect(snap[1]!.start).toBeLessThan(snap[0]!.end!);
    expect(firstStart(snap)).toBeGreaterThan(lastEnd(pause));
    expect(firstStart(unpause)).toBeGreaterThan(lastEnd(snap));
    expect(firstStart(sync)).toBeGreaterThan(lastEnd(unpause));
    // Sequential sync by default (seed): the second starts after the first ended.
    expect(sync[1]!.start).toBeGreaterThan(sync[0]!.end!);
    expect(commit[0]!.start).toBeGreaterThan(lastEnd(sync));
    // Started as the syncs started ("gated"), it acted only at its go, after the last one.
    expect(commit[0]!.arg).toBe('gated');
    expect(commit[0]!.openedAt).toBeLessThan(sync[0]!.end!);
    // Each snapshot is removed once its own sync has ended, beside the next sync and the commit.
    for (const r of remove) expect(r.start).toBeGreaterThan(sync.find((s) => s.host === r.host)!.end!);
    const firstRemoved = remove.find((r) => r.host === sync[0]!.host)!;
    expect(firstRemoved.start).toBeLessThan(sync[1]!.end!);

    // The manifest went on stdin after the go; the id is the manifest's.
    const id = commit[0]!.id!;
    expect(id).toMatch(/^[0-9]{8}_[0-9]{6}$/);
    const manifest = JSON.parse(commit[0]!.stdin!) as Manifest;
    expect(manifest.id).toBe(id);
    expect(manifest.status).toBe('complete');
    expect(manifest.planDigest).toBe(`sha256:${createHash('sha256').update(canonicalJson(h.ctx.plan)).digest('hex')}`);
    expect(manifest.sources.map((s) => [s.host, s.backend, s.treeName, s.bytes, s.files, s.exitStatus])).toEqual([
      ['cassandra-1', 'lvm', 'cassandra-1@+docker_local', 5_000_000, 50, 0],
      ['manager-1', 'gluster', 'manager-1@+docker', 2_000_000, 200, 0],
    ]);
    for (const s of manifest.sources) {
      expect(s.snapshotAt).toBeGreaterThanOrEqual(manifest.pause.start);
      expect(s.snapshotAt).toBeLessThanOrEqual(manifest.pause.end);
      expect(s.syncDurationMs).toBeGreaterThanOrEqual(0);
    }
    expect(manifest.snapshotsInsidePauseWindow).toBe(true);
    expect(manifest.pause.hosts.map((p) => p.host)).toEqual(DOCKER);
    for (const p of manifest.pause.hosts) {
      expect(p.pausedAt).toBeLessThanOrEqual(manifest.pause.start);
      expect(p.unpausedAt).toBeGreaterThanOrEqual(manifest.pause.end);
      expect(p.watchdogFired).toBe(false);
    }
    expect(manifest.pause.start).toBeGreaterThanOrEqual(started);
    expect(manifest.pause.durationMs).toBe(manifest.pause.end - manifest.pause.start);

    // Recorded locally with every phase's start and end per host.
    const run = onlyRun(h);
    expect(run).toMatchObject({ id, status: 'complete', exitCode: 0, pauseInProgress: false, snapshotsMayExist: false });
    const phases = new Set(run.phases.map((p) => p.phase));
    expect(phases).toEqual(new Set(['connect', 'prepare_target', 'pause', 'snapshot', 'unpause', 'sync', 'commit', 'remove_snapshots']));
    expect(run.phases.every((p) => p.endedAt! >= p.startedAt && p.ok === true)).toBe(true);

    // Output: final table and pause window; syslog in the uniform format.
    const out = h.printed.join('\n');
    expect(out).toMatch(/PHASE\s+HOST\s+DURATION\s+BYTES\s+FILES/);
    expect(out).toMatch(/sync\s+cassandra-1\s+\S+( \S+)?\s+4\.77 MiB\s+50\s+ok/);
    expect(out).toMatch(/pause window: \d+ ms/);
    expect(out).toContain(`backup ${id} complete`);
    expect(h.syslog.length).toBeGreaterThan(5);
    for (const s of h.syslog) expect(s.line).toMatch(/^sbdi-backup host=backup-director phase=\S+ level=(info|warn|error) msg=\S/);
  });

  it('syncs in parallel up to syncConcurrency and streams the capsule stderr', async () => {
    const h = harness(testPlan({ settings: { syncConcurrency: 2 } }));
    const chunks: string[] = [];
    h.ctx.progress = (c) => chunks.push(c.toString());
    h.transport.on('perform_rsync', { delayMs: 30, stderr: '  1,000 100%  progress\r', result: { bytes: 1, files: 1, rsyncExit: 0 } });
    expect(await performBackup(h.ctx)).toBe(EXIT.OK);
    const sync = calls(h.transport, 'perform_rsync');
    expect(sync[1]!.start).toBeLessThan(sync[0]!.end!);
    expect(chunks).toHaveLength(2);
  });

  it("shows a capsule's warnings as its phase's, progress and info lines not, at most ten per capsule", async () => {
    const h = harness();
    const warn = (m: string) => `sbdi-backup host=cassandra-1 phase=pause_containers level=warn msg=${m}\n`;
    h.transport.on('pause_containers', {
      stderr: `sbdi-backup host=cassandra-1 phase=pause_containers level=info msg=paused 3\n  1,000 100%\r${warn('docker pause failed (Error: x is not running): trying again\u001b[2J')}`,
      result: { paused: 2, deadline: 60, armedAt: 1, pausedAt: 2 },
    }, 'cassandra-1');
    h.transport.on('perform_rsync', { stderr: Array.from({ length: 12 }, (_, i) => warn(`w${i}`)).join(''), result: { bytes: 1, files: 1, rsyncExit: 0 } }, 'manager-1');
    expect(await performBackup(h.ctx)).toBe(EXIT.OK);
    const out = h.lines.join('\n');
    expect(out).toMatch(/WARN pause +cassandra-1: docker pause failed \(Error: x is not running\): trying again\?\[2J$/m);
    expect(out).not.toMatch(/paused 3/);
    expect(out).toMatch(/WARN sync +manager-1: w9$/m);
    expect(out).not.toMatch(/w10|w11/);
    expect(out).toMatch(/WARN sync +manager-1: more warnings in manager-1's syslog$/m);
  });
});

describe('perform_backup: pushes of only the changes', () => {
  const stdinOf = (t: FakeTransport, host: string): string[] => calls(t, 'perform_rsync').filter((c) => c.host === host).map((c) => c.stdin ?? '');
  const sourcesOf = (h: ReturnType<typeof harness>): Manifest['sources'] => {
    const commits = calls(h.transport, 'commit_backup');
    return (JSON.parse(commits.at(-1)!.stdin!) as Manifest).sources;
  };

  it('the first backup pushes whole trees; the next gives each push the base its target was set back to', async () => {
    const h = harness();
    expect(await performBackup(h.ctx)).toBe(EXIT.OK);
    const first = onlyRun(h).id;
    for (const host of SOURCES) expect(stdinOf(h.transport, host)).toEqual([`- ${first}\n`]);
    expect(sourcesOf(h).map((s) => s.scan)).toEqual(['full', 'full']);
    expect(await performBackup(h.ctx)).toBe(EXIT.OK);
    const second = h.state.runs().map((r) => r.id).find((id) => id !== first)!;
    for (const host of SOURCES) expect(stdinOf(h.transport, host)[1]).toBe(`${first} ${second}\n`);
    expect(sourcesOf(h).map((s) => [s.scan, s.base, s.changedEntries])).toEqual([['changes', first, 7], ['changes', first, 7]]);
  });

  it('asks the pushes for rsync\'s progress only when the operator sees it', async () => {
    const h = harness();
    expect(await performBackup(h.ctx)).toBe(EXIT.OK);
    for (const host of SOURCES) expect(stdinOf(h.transport, host)[0]).toMatch(/^- \d{8}_\d{6}\n$/);
    const shown: Buffer[] = [];
    h.ctx.progress = (chunk) => shown.push(chunk);
    expect(await performBackup(h.ctx)).toBe(EXIT.OK);
    for (const host of SOURCES) expect(stdinOf(h.transport, host)[1]).toMatch(/^\d{8}_\d{6} \d{8}_\d{6} progress\n$/);
  });

  it('--full-scan pushes whole trees although the target gives a base', async () => {
    const h = harness();
    expect(await performBackup(h.ctx)).toBe(EXIT.OK);
    expect(await performBackup(h.ctx, { fullScan: true })).toBe(EXIT.OK);
    for (const host of SOURCES) expect(stdinOf(h.transport, host)[1]).toMatch(/^- \d{8}_\d{6}\n$/);
    expect(sourcesOf(h).map((s) => s.scan)).toEqual(['full', 'full']);
    expect(sourcesOf(h).every((s) => s.base === undefined)).toBe(true);
  });

  it('a full scan asks the store for the names it holds as one file and hands each source its tree\'s list', async () => {
    const h = harness();
    expect(await performBackup(h.ctx)).toBe(EXIT.OK);
    // The store lists a tree's shared files when it has no base (every tree) or when asked (stdin).
    const listed = { 'manager-1@+docker': 'MTIzCWEAMTIzCWIA', 'cassandra-1@+docker_local': '' };
    h.transport.on('prepare_target', (call) => ({ result: { backend: 'zfs', freeBytes: 1, base: h.transport.backups.at(-1)!.id, linked: call.stdin === '' ? {} : listed } }));
    expect(await performBackup(h.ctx)).toBe(EXIT.OK);
    expect(calls(h.transport, 'prepare_target')[1]!.stdin).toBe('');
    for (const host of SOURCES) expect(stdinOf(h.transport, host)[1]).toMatch(/^\d{8}_\d{6} \d{8}_\d{6}\n$/);
    expect(await performBackup(h.ctx, { fullScan: true })).toBe(EXIT.OK);
    expect(calls(h.transport, 'prepare_target')[2]!.stdin).toBe('cassandra-1@+docker_local\nmanager-1@+docker\n');
    expect(stdinOf(h.transport, 'manager-1')[2]).toMatch(/^- \d{8}_\d{6}\nlinked MTIzCWEAMTIzCWIA\n$/);
    expect(stdinOf(h.transport, 'cassandra-1')[2]).toMatch(/^- \d{8}_\d{6}\nlinked \n$/);
    // Anything but base64 from the store is dropped, not passed on.
    h.transport.on('prepare_target', { result: { backend: 'zfs', freeBytes: 1, base: null, linked: { 'manager-1@+docker': 'a b\nrm -rf /' } } });
    expect(await performBackup(h.ctx)).toBe(EXIT.OK);
    expect(stdinOf(h.transport, 'manager-1')[3]).toMatch(/^- \d{8}_\d{6}\n$/);
  });

  it('compares every entry again once the last full scan is backup_full_scan_days old, then sends changes again', async () => {
    const h = harness(testPlan({ settings: { fullScanDays: 7 } }));
    expect(await performBackup(h.ctx)).toBe(EXIT.OK);
    const first = onlyRun(h);
    expect(await performBackup(h.ctx)).toBe(EXIT.OK);
    expect(sourcesOf(h).map((s) => s.scan)).toEqual(['changes', 'changes']);
    // Eight days later, as far as the run records tell: the first backup is the last full scan.
    h.state.saveRun({ ...h.state.runs().find((r) => r.id === first.id)!, startedAt: Date.now() - 8 * 86_400_000 });
    expect(await performBackup(h.ctx)).toBe(EXIT.OK);
    for (const host of SOURCES) expect(stdinOf(h.transport, host)[2]).toMatch(/^- \d{8}_\d{6}\n$/);
    expect(sourcesOf(h).map((s) => s.scan)).toEqual(['full', 'full']);
    expect(h.lines.join('\n')).toMatch(new RegExp(`sync +cassandra-1: comparing every entry with the store \\(its last full scan was 8 days ago, in backup ${first.id}; backup_full_scan_days 7\\)`));
    expect(await performBackup(h.ctx)).toBe(EXIT.OK);
    expect(sourcesOf(h).map((s) => s.scan)).toEqual(['changes', 'changes']);
  });
});

describe('perform_backup failures', () => {
  it('an unreachable host fails the run before anything is paused (exit 4)', async () => {
    const h = harness();
    h.transport.unreachable.add('cassandra-1');
    expect(await performBackup(h.ctx)).toBe(EXIT.CONNECT);
    expect(h.transport.calls).toHaveLength(0);
    expect(onlyRun(h)).toMatchObject({ status: 'failed', failedPhase: 'connect', exitCode: EXIT.CONNECT });
    expect(h.printed.join('\n')).toMatch(/FAILED in phase connect \(exit 4\): cassandra-1/);
  });

  it('a pause that ends without saying its containers are frozen takes no snapshot and thaws every host (exit 10)', async () => {
    const h = harness();
    const t = h.transport;
    t.on('pause_containers', { result: { ok: true, paused: 3 }, marks: [] }, 'manager-1');
    expect(await performBackup(h.ctx)).toBe(EXIT.PAUSE);
    expect(t.calledCapsules('prepare_source_snapshot')).toHaveLength(0);
    expect(calls(t, 'unpause_containers').map((c) => c.host).sort()).toEqual([...DOCKER].sort());
    expect(h.lines.join('\n')).toMatch(/the pause ended without saying its containers are frozen/);
  });

  it('a failed prepare_target stops before the pause (exit 6)', async () => {
    const h = harness();
    h.transport.fail('prepare_target');
    expect(await performBackup(h.ctx)).toBe(EXIT.PREPARE_TARGET);
    expect(calls(h.transport, 'pause_containers')).toHaveLength(0);
  });

  it('a slow prepare_target that fails calls off the sessions opened beside it and pauses nothing (exit 6)', async () => {
    const h = harness();
    const t = h.transport;
    t.on('prepare_target', { code: 7, result: { ok: false, code: 7, error: 'pool gone' }, delayMs: 100 });
    expect(await performBackup(h.ctx)).toBe(EXIT.PREPARE_TARGET);
    expect(t.calledCapsules('pause_containers')).toHaveLength(0);
    expect(t.calledCapsules('prepare_source_snapshot')).toHaveLength(0);
    expect(t.calledCapsules('unpause_containers')).toHaveLength(0);
    // Opened while the target was prepared (gated), then every one of them called off.
    const opened = t.calls.filter((c) => c.openedAt !== undefined);
    expect(opened.length).toBe(DOCKER.length * 2 + SOURCES.length);
    expect(opened.every((c) => c.outcome === 'calledOff')).toBe(true);
    expect(onlyRun(h)).toMatchObject({ status: 'failed', failedPhase: 'prepare_target', pauseInProgress: false, snapshotsMayExist: false });
  });

  it('a prepare_target slower than the pause deadline still backs up: the sessions opened beside it wait', async () => {
    const h = harness(testPlan({ settings: { pauseDeadlineSeconds: 1 } }));
    h.transport.on('prepare_target', { result: { ok: true, backend: 'zfs', freeBytes: 1 }, delayMs: 1_300 });
    expect(await performBackup(h.ctx)).toBe(EXIT.OK);
    expect(hostsOf(calls(h.transport, 'pause_containers'))).toEqual(DOCKER);
  });

  it('opens the window\'s sessions while the target is prepared, and pauses only after both', async () => {
    const h = harness();
    const t = h.transport;
    t.on('prepare_target', { result: { ok: true, backend: 'zfs', freeBytes: 1 }, delayMs: 80 });
    expect(await performBackup(h.ctx)).toBe(EXIT.OK);
    const prepare = calls(t, 'prepare_target')[0]!;
    const opened = t.calls.filter((c) => c.openedAt !== undefined);
    expect(opened.length).toBeGreaterThan(0);
    expect(Math.min(...opened.map((c) => c.openedAt!))).toBeLessThan(prepare.end!);
    expect(firstStart(calls(t, 'pause_containers'))).toBeGreaterThanOrEqual(prepare.end!);
  });

  it('a failed pause unpauses every docker host, takes no snapshot (exit 10)', async () => {
    const h = harness();
    h.transport.fail('pause_containers', 'manager-1');
    expect(await performBackup(h.ctx)).toBe(EXIT.PAUSE);
    expectUnpausedEverywhere(h.transport);
    expect(calls(h.transport, 'prepare_source_snapshot')).toHaveLength(0);
    expect(calls(h.transport, 'commit_backup')).toHaveLength(0);
    expect(onlyRun(h)).toMatchObject({ status: 'failed', failedPhase: 'pause', pauseInProgress: false });
  });

  it('opens every session of the window before pausing: one that cannot be opened fails the run with nothing paused (exit 10)', async () => {
    const h = harness();
    h.transport.unopenable.add('cassandra-1 unpause_containers');
    expect(await performBackup(h.ctx)).toBe(EXIT.PAUSE);
    // Nothing acted: every opened session was called off, no container was paused.
    for (const capsule of ['pause_containers', 'prepare_source_snapshot', 'perform_rsync']) expect(calls(h.transport, capsule)).toHaveLength(0);
    expect(calls(h.transport, 'unpause_containers').map((c) => `${c.host} ${c.outcome}`)).toEqual(['cassandra-1 error']);
    const opened = h.transport.calls.filter((c) => c.outcome === 'calledOff').map((c) => `${c.host} ${c.capsule}`);
    expect(opened.sort()).toEqual(['cassandra-1 pause_containers', 'cassandra-1 prepare_source_snapshot', 'manager-1 pause_containers', 'manager-1 prepare_source_snapshot', 'manager-1 unpause_containers']);
    const run = onlyRun(h);
    expect(run).toMatchObject({ status: 'failed', failedPhase: 'pause', pauseInProgress: false });
    expect(run.error).toMatch(/cassandra-1: unpause_containers: .*administratively prohibited \(nothing was paused\)/);
  });

  it('opens the window sessions before the pause and unpauses as soon as every snapshot is taken, before the snapshots are mounted', async () => {
    const h = harness();
    // The snapshot is taken at once (mark), its mount takes 300 ms more.
    h.transport.on('prepare_source_snapshot', { marks: ['taken'], delayMs: 300 });
    expect(await performBackup(h.ctx)).toBe(EXIT.OK);
    const t = h.transport;
    const opened = t.calls.filter((c) => ['pause_containers', 'prepare_source_snapshot', 'unpause_containers'].includes(c.capsule));
    expect(opened).toHaveLength(DOCKER.length * 2 + SOURCES.length);
    // Every one was opened before the first pause acted.
    expect(Math.max(...opened.map((c) => c.openedAt!))).toBeLessThan(firstStart(calls(t, 'pause_containers')));
    // The unpause went before the snapshot capsules ended, and after all of them started.
    expect(firstStart(calls(t, 'unpause_containers'))).toBeGreaterThan(Math.max(...calls(t, 'prepare_source_snapshot').map((c) => c.start)));
    expect(lastEnd(calls(t, 'unpause_containers'))).toBeLessThan(Math.min(...calls(t, 'prepare_source_snapshot').map((c) => c.end!)));
    // The sync waited for the mounts.
    expect(firstStart(calls(t, 'perform_rsync'))).toBeGreaterThan(lastEnd(calls(t, 'prepare_source_snapshot')));
  });

  it('a failed snapshot unpauses everywhere, removes snapshots, never commits (exit 11)', async () => {
    const h = harness();
    h.transport.fail('prepare_source_snapshot', 'cassandra-1', 'lvcreate: insufficient free space');
    expect(await performBackup(h.ctx)).toBe(EXIT.SNAPSHOT);
    expectUnpausedEverywhere(h.transport);
    expect(firstStart(calls(h.transport, 'unpause_containers'))).toBeGreaterThan(lastEnd(calls(h.transport, 'prepare_source_snapshot')));
    expect(calls(h.transport, 'perform_rsync')).toHaveLength(0);
    expect(calls(h.transport, 'commit_backup')).toHaveLength(0);
    expect(hostsOf(calls(h.transport, 'remove_source_snapshot'))).toEqual(SOURCES);
    const run = onlyRun(h);
    expect(run).toMatchObject({ status: 'failed', failedPhase: 'snapshot', exitCode: EXIT.SNAPSHOT, snapshotsMayExist: false });
    expect(run.error).toContain('lvcreate: insufficient free space');
  });

  it('a snapshot that hangs is abandoned at the pause deadline, then unpaused (exit 11)', async () => {
    const h = harness(testPlan({ settings: { pauseDeadlineSeconds: 1 } }));
    h.transport.on('prepare_source_snapshot', 'hang', 'manager-1');
    const started = Date.now();
    expect(await performBackup(h.ctx)).toBe(EXIT.SNAPSHOT);
    expect(Date.now() - started).toBeLessThan(3_000);
    expectUnpausedEverywhere(h.transport);
    expect(calls(h.transport, 'prepare_source_snapshot').find((c) => c.host === 'manager-1')?.outcome).toBe('aborted');
    expect(onlyRun(h).error).toMatch(/did not finish before the deadline/);
  });

  it('a pause that hangs on one host is abandoned at the deadline; all hosts unpaused (exit 10)', async () => {
    const h = harness(testPlan({ settings: { pauseDeadlineSeconds: 1 } }));
    h.transport.on('pause_containers', 'hang', 'cassandra-1');
    expect(await performBackup(h.ctx)).toBe(EXIT.PAUSE);
    expect(hostsOf(calls(h.transport, 'unpause_containers'))).toEqual(DOCKER);
    expect(calls(h.transport, 'prepare_source_snapshot')).toHaveLength(0);
  });

  it('a fired watchdog fails the backup: never synced or committed (exit 12)', async () => {
    const h = harness();
    h.transport.on('unpause_containers', { result: { unpaused: 0, watchdogFired: true, unpausedAt: Date.now() } }, 'manager-1');
    expect(await performBackup(h.ctx)).toBe(EXIT.UNPAUSE);
    expect(calls(h.transport, 'perform_rsync')).toHaveLength(0);
    expect(calls(h.transport, 'commit_backup')).toHaveLength(0);
    expect(hostsOf(calls(h.transport, 'remove_source_snapshot'))).toEqual(SOURCES);
    const run = onlyRun(h);
    expect(run).toMatchObject({ status: 'failed', failedPhase: 'unpause', exitCode: EXIT.UNPAUSE });
    expect(run.error).toMatch(/manager-1: the 60s pause deadline unpaused containers before the director did/);
  });

  it('a failed unpause fails the run and leaves the pause flagged for the next run (exit 12)', async () => {
    const h = harness();
    h.transport.fail('unpause_containers', 'cassandra-1');
    expect(await performBackup(h.ctx)).toBe(EXIT.UNPAUSE);
    expect(onlyRun(h)).toMatchObject({ status: 'failed', pauseInProgress: true });
    expect(h.lines.join('\n')).toMatch(/unpause_containers/);
  });

  it('a failed sync stops the sequence, never commits, and is listed as failed (exit 13)', async () => {
    const h = harness();
    h.transport.on('perform_rsync', { code: 8, result: { ok: false, code: 8, error: 'rsync failed with exit code 23', rsyncExit: 23 } }, 'cassandra-1');
    expect(await performBackup(h.ctx)).toBe(EXIT.SYNC);
    expect(calls(h.transport, 'perform_rsync').map((c) => c.host)).toEqual(['cassandra-1']);
    expect(calls(h.transport, 'commit_backup')).toHaveLength(0);
    expectUnpausedEverywhere(h.transport);
    expect(hostsOf(calls(h.transport, 'remove_source_snapshot'))).toEqual(SOURCES);
    expect(onlyRun(h)).toMatchObject({ status: 'failed', failedPhase: 'sync', exitCode: EXIT.SYNC });
    expect(h.printed.join('\n')).toMatch(/FAILED in phase sync \(exit 13\): cassandra-1: perform_rsync failed \(exit 8\): rsync failed with exit code 23/);
  });

  it('with parallel syncs, a failure lets the running one finish but commits nothing', async () => {
    const h = harness(testPlan({ settings: { syncConcurrency: 2 } }));
    h.transport.fail('perform_rsync', 'manager-1');
    expect(await performBackup(h.ctx)).toBe(EXIT.SYNC);
    expect(calls(h.transport, 'perform_rsync')).toHaveLength(2);
    expect(calls(h.transport, 'commit_backup')).toHaveLength(0);
  });

  it('a capsule without a result line counts as failed', async () => {
    const h = harness();
    h.transport.on('prepare_source_snapshot', { code: 0, result: null, stderr: 'bash: line 3: oops\n' }, 'manager-1');
    expect(await performBackup(h.ctx)).toBe(EXIT.SNAPSHOT);
    expect(onlyRun(h).error).toMatch(/manager-1: prepare_source_snapshot failed \(exit 0\): bash: line 3: oops/);
  });

  it('a failed commit leaves no complete backup (exit 14)', async () => {
    const h = harness();
    h.transport.fail('commit_backup');
    expect(await performBackup(h.ctx)).toBe(EXIT.COMMIT);
    expect(h.transport.backups).toHaveLength(0);
    expect(onlyRun(h)).toMatchObject({ status: 'failed', failedPhase: 'commit' });
  });

  it('a failed sync calls the commit\'s session off: it never acts', async () => {
    const h = harness();
    h.transport.fail('perform_rsync', 'manager-1');
    expect(await performBackup(h.ctx)).toBe(EXIT.SYNC);
    const sessions = h.transport.calls.filter((c) => c.capsule === 'commit_backup');
    expect(sessions.map((c) => [c.host, c.arg, c.outcome])).toEqual([['backup-target', 'gated', 'calledOff']]);
    expect(h.transport.backups).toHaveLength(0);
  });

  it('a failed run waits a few seconds at most for a commit session that does not end when called off', async () => {
    const h = harness();
    h.transport.fail('perform_rsync', 'manager-1');
    h.transport.deafToOff.add('backup-target commit_backup');
    const t0 = Date.now();
    expect(await performBackup(h.ctx)).toBe(EXIT.SYNC);
    expect(Date.now() - t0).toBeLessThan(15_000);
    // The snapshots were removed meanwhile, not after it.
    expect(hostsOf(calls(h.transport, 'remove_source_snapshot'))).toEqual(SOURCES);
    expect(onlyRun(h)).toMatchObject({ status: 'failed', failedPhase: 'sync', snapshotsMayExist: false });
  }, 30_000);

  it('a commit answer that does not name this backup is not taken for its commit', async () => {
    for (const answer of [{ calledOff: true }, { id: '20200101_000000', usedBytes: 1 }, {}]) {
      const h = harness();
      h.transport.on('commit_backup', { result: answer });
      expect(await performBackup(h.ctx), JSON.stringify(answer)).toBe(EXIT.COMMIT);
      expect(onlyRun(h)).toMatchObject({ status: 'failed', failedPhase: 'commit' });
      expect(onlyRun(h).error).toMatch(/commit_backup answered without committing/);
    }
  });

  it('a commit whose session ended before its go (its channel could not be opened) goes through a new one', async () => {
    const h = harness();
    h.transport.unopenable.add('backup-target commit_backup');
    // The syncs run once that session has been tried: the next channel opens.
    h.transport.on('perform_rsync', () => {
      h.transport.unopenable.delete('backup-target commit_backup');
      return undefined;
    });
    expect(await performBackup(h.ctx)).toBe(EXIT.OK);
    const sessions = h.transport.calls.filter((c) => c.capsule === 'commit_backup');
    expect(sessions.map((c) => [c.arg, c.outcome])).toEqual([['gated', 'error'], [sessions[1]!.id, 'ok']]);
    expect(sessions[1]!.arg).toMatch(/^[0-9]{8}_[0-9]{6}$/);
    expect(h.transport.backups.map((b) => b.id)).toEqual([sessions[1]!.arg]);
    expect(onlyRun(h)).toMatchObject({ status: 'complete', exitCode: 0 });
    expect(h.lines.join('\n')).toMatch(/the commit's session opened during the syncs had ended \(backup-target: commit_backup: .*administratively prohibited\): committing through a new one/);
  });

  it('a sync that fails after another source\'s snapshot was removed removes each snapshot once (exit 13)', async () => {
    const h = harness();
    h.transport.fail('perform_rsync', 'manager-1');
    expect(await performBackup(h.ctx)).toBe(EXIT.SYNC);
    const remove = calls(h.transport, 'remove_source_snapshot');
    expect(hostsOf(remove)).toEqual(SOURCES);
    // cassandra-1's went as its sync ended, before manager-1's sync failed.
    expect(remove.find((r) => r.host === 'cassandra-1')!.start).toBeLessThan(calls(h.transport, 'perform_rsync').find((c) => c.host === 'manager-1')!.end!);
    expect(onlyRun(h)).toMatchObject({ status: 'failed', failedPhase: 'sync', snapshotsMayExist: false });
  });

  it('a snapshot removal that failed beside the syncs is tried once more after the commit', async () => {
    const h = harness();
    let tries = 0;
    h.transport.on('remove_source_snapshot', () => (tries++ === 0 ? { code: 1, result: { ok: false, code: 1, error: 'target is busy' } } : undefined), 'manager-1');
    expect(await performBackup(h.ctx)).toBe(EXIT.OK);
    const remove = calls(h.transport, 'remove_source_snapshot');
    expect(remove.filter((r) => r.host === 'manager-1')).toHaveLength(2);
    expect(remove.filter((r) => r.host === 'cassandra-1')).toHaveLength(1);
    expect(remove.find((r) => r.host === 'manager-1' && r.outcome === 'ok')!.start).toBeGreaterThan(calls(h.transport, 'commit_backup')[0]!.end!);
    expect(onlyRun(h)).toMatchObject({ status: 'complete', exitCode: 0, snapshotsMayExist: false });
  });

  it('a failed snapshot removal after commit keeps the backup complete (exit 15)', async () => {
    const h = harness();
    h.transport.fail('remove_source_snapshot', 'manager-1');
    expect(await performBackup(h.ctx)).toBe(EXIT.REMOVE_SNAPSHOTS);
    expect(h.transport.backups).toHaveLength(1);
    expect(onlyRun(h)).toMatchObject({ status: 'complete', failedPhase: 'remove_snapshots', snapshotsMayExist: true });
  });
});

describe('perform_backup interrupted', () => {
  it('SIGINT during the snapshot aborts it and still unpauses everywhere (exit 130)', async () => {
    const h = harness();
    h.transport.on('prepare_source_snapshot', (call) => {
      if (call.host === 'manager-1') setTimeout(() => h.interrupt.abort('SIGINT'), 20);
      return 'hang';
    });
    expect(await performBackup(h.ctx)).toBe(EXIT.SIGINT);
    expectUnpausedEverywhere(h.transport);
    expect(calls(h.transport, 'perform_rsync')).toHaveLength(0);
    expect(hostsOf(calls(h.transport, 'remove_source_snapshot'))).toEqual(SOURCES);
    expect(onlyRun(h)).toMatchObject({ status: 'failed', failedPhase: 'snapshot', exitCode: EXIT.SIGINT, pauseInProgress: false });
  });

  it('SIGTERM during the sync stops it without committing (exit 143)', async () => {
    const h = harness();
    h.transport.on('perform_rsync', () => {
      setTimeout(() => h.interrupt.abort('SIGTERM'), 20);
      return 'hang';
    });
    expect(await performBackup(h.ctx)).toBe(EXIT.SIGTERM);
    expect(calls(h.transport, 'perform_rsync')).toHaveLength(1);
    expect(calls(h.transport, 'commit_backup')).toHaveLength(0);
    expect(onlyRun(h)).toMatchObject({ status: 'failed', failedPhase: 'sync', exitCode: EXIT.SIGTERM });
  });

  it('an unpause that hangs is given up on after its timeout', async () => {
    const h = harness();
    h.ctx.unpauseTimeoutMs = 200;
    h.transport.on('unpause_containers', 'hang', 'manager-1');
    expect(await performBackup(h.ctx)).toBe(EXIT.UNPAUSE);
    expect(onlyRun(h).pauseInProgress).toBe(true);
  });
});

describe('locks and crash recovery', () => {
  it('refuses a concurrent run, naming the holder (exit 3)', async () => {
    const h = harness();
    h.state.ensure();
    writeFileSync(h.state.lockPath, JSON.stringify({ pid: process.ppid, command: 'restore_backup 20240101_000000', startedAt: '2024-01-01T00:00:00.000Z' }));
    expect(await performBackup(h.ctx).catch((e: { exitCode: number; message: string }) => {
      expect(e.message).toContain(`pid ${process.ppid}`);
      expect(e.message).toContain('restore_backup 20240101_000000');
      expect(e.message).toContain('2024-01-01T00:00:00.000Z');
      return e.exitCode;
    })).toBe(EXIT.LOCKED);
    expect(h.transport.connects).toHaveLength(0);
    expect(h.state.runs()).toHaveLength(0);
  });

  it('takes over a stale lock of a dead pid with a warning', async () => {
    const h = harness();
    h.state.ensure();
    writeFileSync(h.state.lockPath, JSON.stringify({ pid: 4_194_304 + 17, command: 'perform_backup', startedAt: '2024-01-01T00:00:00.000Z' }));
    expect(await performBackup(h.ctx)).toBe(EXIT.OK);
    expect(h.lines.join('\n')).toMatch(/WARN lock .*took over a stale lock: pid 4194321 \(perform_backup/);
  });

  it('after a crash mid-sync, first removes leftovers, then backs up normally', async () => {
    const h = harness();
    const crashed: RunRecord = {
      id: '20240101_000000',
      command: 'perform_backup',
      pid: 4_194_304 + 5,
      director: 'backup-director',
      status: 'running',
      phase: 'sync',
      startedAt: Date.now() - 3_600_000,
      pauseInProgress: false,
      snapshotsMayExist: true,
      phases: [],
    };
    h.state.saveRun(crashed);
    expect(await performBackup(h.ctx)).toBe(EXIT.OK);
    const t = h.transport;
    const cleanupRemoves = calls(t, 'remove_source_snapshot').filter((c) => c.start < firstStart(calls(t, 'pause_containers')));
    expect(hostsOf(cleanupRemoves)).toEqual(SOURCES);
    expect(calls(t, 'prepare_target')[0]!.start).toBeLessThan(firstStart(calls(t, 'pause_containers')));
    // No pause was in progress: no extra unpause before the run's own pause.
    expect(calls(t, 'unpause_containers').every((c) => c.start > firstStart(calls(t, 'pause_containers')))).toBe(true);
    const old = h.state.runs().find((r) => r.id === crashed.id)!;
    expect(old).toMatchObject({ status: 'failed', failedPhase: 'sync', snapshotsMayExist: false });
    expect(old.error).toMatch(/interrupted/);
  });

  it('after a crash inside the pause window, unpauses every docker host first', async () => {
    const h = harness();
    h.state.saveRun({
      id: '20240101_000000',
      command: 'perform_backup',
      pid: 4_194_304 + 5,
      director: 'backup-director',
      status: 'running',
      phase: 'snapshot',
      startedAt: Date.now() - 1000,
      pauseInProgress: true,
      snapshotsMayExist: true,
      phases: [],
    });
    expect(await performBackup(h.ctx)).toBe(EXIT.OK);
    const t = h.transport;
    expect(t.calls.slice(0, 2).map((c) => c.capsule)).toEqual(['unpause_containers', 'unpause_containers']);
    expect(hostsOf(t.calls.slice(0, 2))).toEqual(DOCKER);
  });

  it('a failed cleanup stops before pausing (exit 5)', async () => {
    const h = harness();
    h.state.saveRun({
      id: '20240101_000000', command: 'perform_backup', pid: 4_194_304 + 5, director: 'backup-director',
      status: 'running', phase: 'sync', startedAt: 0, pauseInProgress: false, snapshotsMayExist: true, phases: [],
    });
    h.transport.fail('remove_source_snapshot', 'manager-1');
    expect(await performBackup(h.ctx)).toBe(EXIT.CLEANUP);
    expect(calls(h.transport, 'pause_containers')).toHaveLength(0);
  });

  it('the lock is released after every run, failed or not', async () => {
    const h = harness();
    h.transport.fail('perform_rsync');
    expect(await performBackup(h.ctx)).toBe(EXIT.SYNC);
    h.transport.on('perform_rsync', { result: { bytes: 1, files: 1 } });
    // Same second would collide: the run waits for a fresh id.
    expect(await performBackup(h.ctx)).toBe(EXIT.OK);
    expect(h.state.runs().map((r) => r.status).sort()).toEqual(['complete', 'failed']);
  });
});

describe('perform_backup when the state dir breaks mid-run', () => {
  it('still unpauses every docker host when the run record cannot be written', async () => {
    const h = harness();
    h.transport.on('pause_containers', (call) => {
      // The disk "fills up" while the containers are paused (root ignores modes, so swap the store).
      if (call.host === 'manager-1') h.ctx.state.saveRun = () => {
        throw new Error('ENOSPC: no space left on device');
      };
      return undefined;
    });
    const code = await performBackup(h.ctx);
    expect(code).not.toBe(EXIT.OK);
    expectUnpausedEverywhere(h.transport);
    expect(h.lines.join('\n')).toMatch(/cannot write the run record: ENOSPC/);
  });
});

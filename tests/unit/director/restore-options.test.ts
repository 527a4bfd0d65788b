// Partial restore (--only HOST[:PATH]), --dry-run, --from STORE, preflight refusals.
import { afterEach, describe, expect, it } from 'vitest';
import { isSubpath } from '../../../src/plan/checks';
import { runCommand } from '../../../src/director/commands';
import { EXIT } from '../../../src/director/exit-codes';
import { parseSelections } from '../../../src/director/restore';
import { acquireLock } from '../../../src/director/lock';
import { commandLine } from '../../../src/ssh/types';
import { cleanupHarnesses, harness } from './harness';
import { testPlan } from './plan-fixture';

afterEach(cleanupHarnesses);

const ID = '20240101_000000';
const TREES = ['cassandra-1@+docker_local', 'manager-1@+docker'];

function completeBackup(id: string, treeNames = TREES) {
  return { id, usedBytes: 1000, compressRatio: 2, manifest: { id, status: 'complete', sources: treeNames.map((treeName) => ({ treeName })) } };
}

function dryRunAnswer(arg: string | undefined) {
  return {
    result: { ok: true, dryRun: true, path: arg ?? '.', changes: 3, created: 1, changed: 1, deleted: 1, list: ['>f+++++++++ a/new', '>f.st...... a/changed', '*deleting   a/gone'], listTruncated: false },
  };
}

function foreignPlan() {
  const plan = testPlan();
  plan.targets[0]!.foreignStores = [{ name: 'prod', device: '/dev/vdc', pool: 'backup', localPool: 'sbdi_from_prod', altroot: '/run/sbdi-backup/foreign/prod' }];
  return plan;
}

describe('--only selectors', () => {
  const plan = testPlan();
  it('takes a host, an absolute or relative path inside its source dir, and normalises it', () => {
    expect(parseSelections(plan, ['manager-1']).map((s) => [s.source.host, s.path])).toEqual([['manager-1', undefined]]);
    expect(parseSelections(plan, ['manager-1:/docker/wordpress']).map((s) => s.path)).toEqual(['wordpress']);
    expect(parseSelections(plan, ['manager-1:/docker/wordpress/']).map((s) => s.path)).toEqual(['wordpress']);
    expect(parseSelections(plan, ['manager-1:wordpress/uploads']).map((s) => s.path)).toEqual(['wordpress/uploads']);
    expect(parseSelections(plan, ['manager-1:/docker']).map((s) => s.path)).toEqual([undefined]);
    expect(parseSelections(plan, ['manager-1:.config']).map((s) => s.path)).toEqual(['.config']);
    expect(parseSelections(plan, undefined).map((s) => s.source.host)).toEqual(['cassandra-1', 'manager-1']);
    expect(parseSelections(plan, ['manager-1', 'cassandra-1:/docker_local/x']).map((s) => `${s.source.host}:${s.path}`)).toEqual(['cassandra-1:x', 'manager-1:undefined']);
  });

  it.each([
    ['solr-1', /not a backup source/],
    ['backup-target', /not a backup source/],
    ['manager-1:/etc/passwd', /inside manager-1's source dir/],
    ['manager-1:/dockerx/a', /inside manager-1's source dir/],
    ['manager-1:../etc', /none of them '.' or '..'/],
    ['manager-1:/docker/../etc', /none of them '.' or '..'/],
    ['manager-1:a/./b', /none of them '.' or '..'/],
    ['manager-1:a//b', /single '\/'/],
    ['manager-1:a b', /letters, digits/],
    ['manager-1:a;rm -rf /', /letters, digits/],
    ['manager-1:$(id)', /letters, digits/],
  ])('refuses %s', (sel, why) => {
    expect(() => parseSelections(plan, [sel])).toThrow(why);
  });

  it('the ssh transport sends a subpath and refuses what dispatch would refuse', () => {
    expect(commandLine('h', 'restore_source', 'wordpress/wp-content')).toBe('restore_source wordpress/wp-content');
    expect(commandLine('h', 'restore_source', '.config/x..y')).toBe('restore_source .config/x..y');
    for (const bad of ['../x', 'a/../b', 'a//b', '/a', 'a/', '.', 'a b', 'a;b']) expect(() => commandLine('h', 'restore_source', bad), bad).toThrow(/refusing argument/);
  });

  it('refuses two selectors for one host', () => {
    expect(() => parseSelections(plan, ['manager-1:a', 'manager-1:b'])).toThrow(/twice/);
  });

  it('isSubpath matches the dispatch and sudoers grammar', () => {
    for (const ok of ['a', 'a/b', '.config', '..x', 'x..', 'a-b_c.d/e']) expect(isSubpath(ok), ok).toBe(true);
    for (const bad of ['', '.', '..', 'a/..', '../a', '/a', 'a/', 'a//b', 'a b', 'a\nb', 'ä', 'a'.repeat(1025)]) expect(isSubpath(bad), JSON.stringify(bad)).toBe(false);
  });
});

describe('restore_backup --only', () => {
  it('restores one source only, whole', async () => {
    const h = harness();
    h.transport.backups.push(completeBackup(ID));
    expect(await runCommand(h.ctx, ['restore_backup', ID, '--only', 'manager-1'])).toBe(EXIT.OK);
    const calls = h.transport.calls.map((c) => `${c.capsule}@${c.host}${c.arg === undefined ? '' : ` ${c.arg}`}`);
    expect(calls.slice(0, 3).sort()).toEqual(['docker_status@cassandra-1', 'docker_status@manager-1', 'list_backups@backup-target']);
    expect(calls.slice(3)).toEqual([
      `activate_backup@backup-target ${ID}`,
      'restore_source@manager-1',
      'deactivate_backup@backup-target',
    ]);
  });

  it('restores one path: checked by a dry run first, then restore_source PATH; nothing else', async () => {
    const h = harness();
    h.transport.backups.push(completeBackup(ID));
    h.transport.on('restore_source_dry_run', (c) => dryRunAnswer(c.arg));
    expect(await runCommand(h.ctx, ['restore_backup', ID, '--only', 'manager-1:/docker/wordpress'])).toBe(EXIT.OK);
    const calls = h.transport.calls.map((c) => `${c.capsule}@${c.host}${c.arg === undefined ? '' : ` ${c.arg}`}`);
    expect(calls.slice(3)).toEqual([`activate_backup@backup-target ${ID}`, 'restore_source_dry_run@manager-1 wordpress', 'restore_source@manager-1 wordpress', 'deactivate_backup@backup-target']);
    expect(h.printed.join('\n')).toMatch(/manager-1\/wordpress: 3 changes \(1 new, 1 changed, 1 deleted\)/);
    expect(h.printed.join('\n')).toMatch(/restored in .* into manager-1:\/docker\/wordpress; start the platform/);
  });

  it('a path missing from the backup is refused before anything is written (exit 21)', async () => {
    const h = harness();
    h.transport.backups.push(completeBackup(ID));
    h.transport.on('restore_source_dry_run', { code: 12, result: { ok: false, code: 12, error: "the activated backup has no 'nope' in /docker" } });
    expect(await runCommand(h.ctx, ['restore_backup', ID, '--only', 'manager-1:nope'])).toBe(EXIT.NO_SUCH_BACKUP);
    expect(h.transport.calledCapsules('restore_source')).toHaveLength(0);
    expect(h.transport.calledCapsules('deactivate_backup')).toHaveLength(1);
  });

  it('a selected source missing from the manifest is refused; other sources missing are fine', async () => {
    const h = harness();
    h.transport.backups.push(completeBackup(ID, ['manager-1@+docker']));
    expect(await runCommand(h.ctx, ['restore_backup', ID, '--only', 'cassandra-1'])).toBe(EXIT.NO_SUCH_BACKUP);
    expect(await runCommand(h.ctx, ['restore_backup', ID, '--only', 'manager-1'])).toBe(EXIT.OK);
  });

  it('bad selectors are usage errors (exit 2), before any connection', async () => {
    const h = harness();
    for (const sel of ['nohost', 'manager-1:../x', 'manager-1:/etc', 'manager-1:a b']) {
      expect(await runCommand(h.ctx, ['restore_backup', ID, '--only', sel]), sel).toBe(EXIT.USAGE);
    }
    expect(await runCommand(h.ctx, ['restore_backup', ID, '--only'])).toBe(EXIT.USAGE);
    expect(h.transport.calls).toHaveLength(0);
  });
});

describe('--dry-run', () => {
  it('runs restore_source_dry_run on every selected source, never restore_source, and says nothing changed', async () => {
    const h = harness();
    h.transport.backups.push(completeBackup(ID));
    h.transport.on('restore_source_dry_run', (c) => dryRunAnswer(c.arg));
    expect(await runCommand(h.ctx, ['restore_latest_backup', '--dry-run'])).toBe(EXIT.OK);
    expect(h.transport.calledCapsules('restore_source')).toHaveLength(0);
    expect(h.transport.calledCapsules('restore_source_dry_run').map((c) => c.host)).toEqual(['cassandra-1', 'manager-1']);
    expect(h.transport.calledCapsules('deactivate_backup')).toHaveLength(1);
    const out = h.printed.join('\n');
    expect(out).toMatch(/would change \(dry run, nothing was changed\)/);
    expect(out).toMatch(/cassandra-1: 3 changes/);
    expect(out).toMatch(/\*deleting   a\/gone/);
    expect(out).toMatch(/dry run of backup 20240101_000000 .*nothing was changed/);
  });

  it('is allowed while docker runs (with a warning); the real restore is not', async () => {
    const h = harness();
    h.transport.backups.push(completeBackup(ID));
    h.transport.dockerRunning.add('manager-1');
    h.transport.on('restore_source_dry_run', (c) => dryRunAnswer(c.arg));
    expect(await runCommand(h.ctx, ['restore_backup', ID, '--dry-run', '--only', 'manager-1:a'])).toBe(EXIT.OK);
    expect(h.lines.join('\n')).toMatch(/the real restore will be refused until stop_docker/);
    expect(await runCommand(h.ctx, ['restore_backup', ID, '--only', 'manager-1:a'])).toBe(EXIT.DOCKER_RUNNING);
    expect(h.transport.calledCapsules('restore_source')).toHaveLength(0);
  });
});

describe('--from STORE (restore into another deployment)', () => {
  it('attaches, activates the foreign backup, restores, detaches', async () => {
    const h = harness(foreignPlan());
    h.transport.on('attach_foreign_store', { result: { ok: true, store: 'prod', backups: [completeBackup(ID)] } });
    h.transport.on('activate_foreign_backup', { result: { ok: true, id: ID, mount: '/backup/restore' } });
    h.transport.on('detach_foreign_store', { result: { ok: true, detached: true } });
    expect(await runCommand(h.ctx, ['restore_latest_backup', '--from', 'prod'])).toBe(EXIT.OK);
    const calls = h.transport.calls.map((c) => `${c.capsule}${c.arg === undefined ? '' : ` ${c.arg}`}`);
    expect(calls.slice(0, 3).sort()).toEqual(['attach_foreign_store prod', 'docker_status', 'docker_status']);
    expect(calls.slice(3)).toEqual([
      `activate_foreign_backup ${ID}`,
      'restore_source',
      'restore_source',
      'detach_foreign_store',
    ]);
    expect(h.printed.join('\n')).toMatch(/backup 20240101_000000 of foreign store prod restored in/);
  });

  it('detaches when the backup is refused, and when attaching fails', async () => {
    const h = harness(foreignPlan());
    h.transport.on('attach_foreign_store', { result: { ok: true, store: 'prod', backups: [{ id: ID, manifest: null }] } });
    h.transport.on('detach_foreign_store', { result: { ok: true, detached: true } });
    expect(await runCommand(h.ctx, ['restore_backup', ID, '--from', 'prod'])).toBe(EXIT.NO_SUCH_BACKUP);
    expect(h.transport.calledCapsules('detach_foreign_store')).toHaveLength(1);
    h.transport.fail('attach_foreign_store', undefined, 'no importable pool', 12);
    expect(await runCommand(h.ctx, ['restore_backup', ID, '--from', 'prod'])).toBe(EXIT.ACTIVATE);
    expect(h.transport.calledCapsules('detach_foreign_store')).toHaveLength(2);
    expect(h.transport.calledCapsules('restore_source')).toHaveLength(0);
  });

  it('an unknown store is a usage error naming the known ones', async () => {
    const h = harness(foreignPlan());
    expect(await runCommand(h.ctx, ['restore_latest_backup', '--from', 'staging'])).toBe(EXIT.USAGE);
    expect(h.lines.join('\n')).toMatch(/no such foreign store \(one of: prod\)/);
    const plain = harness();
    expect(await runCommand(plain.ctx, ['restore_latest_backup', '--from', 'prod'])).toBe(EXIT.USAGE);
    expect(plain.lines.join('\n')).toMatch(/backup_foreign_stores/);
  });
});

describe('preflight: a running backup', () => {
  it('is refused with what to do instead (exit 3)', async () => {
    const h = harness();
    h.transport.backups.push(completeBackup(ID));
    const held = acquireLock(h.ctx.state, { pid: process.pid, command: 'perform_backup', startedAt: 'now', director: 'backup-director' }, () => true);
    try {
      expect(await runCommand(h.ctx, ['restore_backup', ID])).toBe(EXIT.LOCKED);
    } finally {
      held.release();
    }
    expect(h.lines.join('\n')).toMatch(/perform_backup.*wait until that run ends/);
    expect(h.transport.calls).toHaveLength(0);
  });
});

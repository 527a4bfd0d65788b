// Replication, retention and checks on real hosts: one sandbox deployment `ops` with the off-site remote `backup-remote`
// (zfs-fuse on a file-backed pool), installed by the playbook (a second converge changes nothing).
//  - two perform_backup runs, each replicated to the remote (listed there with zfs);
//  - a missed replication (the remote off the network during a backup) catching up with replicate_backups;
//  - a remote that diverged (a snapshot of its own) refused with exit 41, nothing destroyed;
//  - pruning by policy (backup_keep_last 2 / backup_replica_keep_last 2): --dry-run changes nothing,
//    the real run deletes only what the table says; the newest complete and the shared snapshot stay,
//    the remote keeps what it received within backup_replica_min_age, and the capsules refuse the same;
//  - verify_backup --latest; check_backup CRITICAL (exit 2) with tight thresholds, OK (0) after a new backup;
//  - backups dated in the future (ids from 2099 on the target; a director clock a day ahead for one
//    backup): nothing genuine is deleted, exit 16 names the store and ids, check_backup CRITICAL,
//    the remote refuses such an id, prune_backups --delete-future removes them and retention resumes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REMOTE_HOST, hostAddress } from '../../tools/sandbox/config';
import { DOCKER, run } from '../../tools/sandbox/exec';
import { converge, create, deploymentNames, destroy, idempotence } from '../../tools/sandbox/steps';
import { deploymentKit } from './deployment-kit';

const PREFIX = 'ops';
const kit = deploymentKit(PREFIX, { remote: true });
const { opts, timings, sh, must, op, opOk } = kit;
const REMOTE = `${PREFIX}-${REMOTE_HOST.name}`;
const REPLICA = 'backup/replica/current';

/** The complete backups, without those dated in the future of the target's clock unless asked. */
async function completeIds(withFuture = false): Promise<string[]> {
  const r = await opOk('list_backups', '--json');
  return (JSON.parse(r.stdout) as { id: string; status: string; future?: boolean }[])
    .filter((b) => b.status === 'complete' && (withFuture || b.future !== true))
    .map((b) => b.id)
    .sort();
}

async function replicaIds(): Promise<string[]> {
  const out = await must(REMOTE_HOST.name, `zfs list -H -t snapshot -o name -r ${REPLICA}`);
  return out.split('\n').map((l) => l.trim()).filter(Boolean).map((l) => l.slice(l.indexOf('@') + 1)).sort();
}

async function targetSnapshots(): Promise<string[]> {
  const out = await must('backup-target', 'zfs list -H -t snapshot -o name -r backup/current');
  return out.split('\n').map((l) => l.trim()).filter(Boolean).map((l) => l.slice(l.indexOf('@') + 1)).sort();
}

async function backup(): Promise<string> {
  const before = await completeIds();
  const r = await opOk('perform_backup');
  const after = await completeIds();
  const fresh = after.filter((x) => !before.includes(x));
  expect(fresh, r.stdout + r.stderr).toHaveLength(1);
  return fresh[0]!;
}

describe('operations on real hosts (sandbox ops, with an off-site remote)', () => {
  const ids: string[] = [];

  beforeAll(async () => {
    kit.takeBuild();
    await create(opts);
  }, 900_000);

  afterAll(async () => {
    // The remote may still be off the network when a test failed: destroy removes it either way.
    try {
      await destroy(opts);
    } finally {
      kit.finish();
    }
  }, 900_000);

  it('converges with the remote; a second converge changes nothing on any host', async () => {
    let t0 = Date.now();
    await converge(opts);
    timings.converge = (Date.now() - t0) / 1000;
    t0 = Date.now();
    const res = await idempotence(opts);
    timings.idempotence = (Date.now() - t0) / 1000;
    expect(res.recap.map((l) => l.host).sort()).toContain(REMOTE_HOST.name);
    for (const l of res.recap) expect(l.changed, `${l.host} changed`).toBe(0);
    // The remote's store, the metrics dir and the schedule are in place.
    await must(REMOTE_HOST.name, `zfs list -H -o name ${REPLICA.replace('/current', '')}`);
    expect((await must('backup-director', 'stat -c "%U:%G %a" /var/lib/prometheus/node-exporter')).trim()).toBe('root:backupoperator 2775');
    await must('backup-director', 'test -f /etc/cron.d/sbdi-backup || test -f /etc/systemd/system/sbdi-backup.timer');
  }, 1_800_000);

  it('two backups, both replicated to the remote', async () => {
    ids.push(await backup());
    expect(await replicaIds()).toEqual([ids[0]]);
    ids.push(await backup());
    expect(await replicaIds()).toEqual([ids[0], ids[1]]);
  }, 1_800_000);

  it('a missed replication catches up with replicate_backups', async () => {
    const n = deploymentNames(opts);
    await run(DOCKER, ['network', 'disconnect', n.network, REMOTE], { timeoutMs: 60_000 });
    try {
      const before = await completeIds();
      const r = await op('perform_backup');
      // The backup itself is complete; the replication to the missing remote failed (and nothing was pruned).
      expect(r.code, r.stdout + r.stderr).not.toBe(0);
      const after = await completeIds();
      const fresh = after.filter((x) => !before.includes(x));
      expect(fresh).toHaveLength(1);
      ids.push(fresh[0]!);
      expect(await replicaIds()).toEqual([ids[0], ids[1]]);
    } finally {
      const c = await run(DOCKER, ['network', 'connect', '--ip', hostAddress(n.subnet, REMOTE_HOST.octet), '--alias', REMOTE, n.network, REMOTE], { timeoutMs: 60_000 });
      if (c.code !== 0 && !/already exists/.test(c.stderr)) throw new Error(`reconnecting ${REMOTE}: ${c.stderr}`);
    }
    await opOk('replicate_backups');
    expect(await replicaIds()).toEqual([ids[0], ids[1], ids[2]]);
    expect(await completeIds()).toEqual([ids[0], ids[1], ids[2]]);
  }, 1_800_000);

  it('a remote that diverged (a newer snapshot of its own) is reported with exit 41 and nothing is destroyed', async () => {
    // Someone took a snapshot on the remote: it now holds data the target never sent. Receiving with
    // -F would roll it back silently; we refuse and say so.
    const stray = '29991231_235959';
    await must(REMOTE_HOST.name, `zfs snapshot ${REPLICA}@${stray}`);
    try {
      const r = await op('replicate_backups');
      expect(r.code, r.stdout + r.stderr).toBe(41);
      expect(r.stdout + r.stderr).toMatch(/DIVERGED: backup-remote holds 29991231_235959, newer than the newest snapshot both share \(\d{8}_\d{6}\)/);
      expect(r.stdout + r.stderr).toMatch(/nothing was destroyed/);
      expect(await replicaIds()).toEqual([ids[0], ids[1], ids[2], stray]);
      expect(await completeIds()).toEqual([ids[0], ids[1], ids[2]]);
    } finally {
      await must(REMOTE_HOST.name, `zfs destroy ${REPLICA}@${stray}`);
    }
    // Resolved by hand: the next replication is clean again.
    await opOk('replicate_backups');
    expect(await replicaIds()).toEqual([ids[0], ids[1], ids[2]]);
  }, 900_000);

  it('prunes by policy: --dry-run changes nothing, then the oldest goes on the target; the remote keeps what it received within a week', async () => {
    const dry = await opOk('prune_backups', '--dry-run');
    const rows = dry.stdout.split('\n').filter((l) => /^\S+\s+\d{8}_\d{6}\s+(keep|delete)\b/.test(l.trim()));
    const row = (store: string, id: string): string | undefined => rows.find((l) => l.trim().startsWith(`${store} `) && l.includes(id));
    expect(row('backup-target', ids[0]!), dry.stdout).toMatch(/\bdelete\b/);
    // backup_replica_min_age (default 7 days) by the remote's own clock: nothing there is old enough.
    expect(row('backup-remote', ids[0]!), dry.stdout).toMatch(/\bkeep\b.*stored less than 7d ago/);
    expect(row('backup-target', ids[2]!), dry.stdout).toMatch(/\bkeep\b.*newest/);
    expect(row('backup-target', ids[2]!), dry.stdout).toMatch(/shared with backup-remote/);
    expect(await completeIds()).toEqual([ids[0], ids[1], ids[2]]);
    expect(await replicaIds()).toEqual([ids[0], ids[1], ids[2]]);

    await opOk('prune_backups');
    expect(await completeIds()).toEqual([ids[1], ids[2]]);
    expect(await targetSnapshots()).toEqual([ids[1], ids[2]]);
    expect(await replicaIds()).toEqual([ids[0], ids[1], ids[2]]);
    // The capsules hold the same floors, whatever the director asks: the newest complete (and
    // shared) backup, the backup_keep_minimum committed last, a replica received this week.
    const refused = await sh('backup-target', `/opt/sbdi/backup/libexec/delete_backup ${ids[1]}`);
    expect(refused.code).toBe(42);
    expect(refused.stderr).toMatch(/one of the 2 backups committed last \(backup_keep_minimum\)/);
    expect((await sh('backup-target', `/opt/sbdi/backup/libexec/delete_backup ${ids[2]}`)).code).toBe(42);
    const young = await sh(REMOTE_HOST.name, `/opt/sbdi/backup/libexec/delete_replica ${ids[0]}`);
    expect(young.code).toBe(42);
    expect(young.stderr).toMatch(/received \d+ s ago, less than backup_replica_min_age \(604800 s\)/);
    expect(await completeIds()).toEqual([ids[1], ids[2]]);
    expect(await replicaIds()).toEqual([ids[0], ids[1], ids[2]]);
  }, 1_800_000);

  it('verify_backup --latest --restore-test', async () => {
    const r = await opOk('verify_backup', '--latest', '--restore-test');
    expect(r.stdout).toContain(`backup ${ids[2]} verified and restore-tested`);
  }, 1_800_000);

  it('check_backup: CRITICAL when the last complete backup is too old, OK after a new one', async () => {
    const ageNow = async (): Promise<number> => {
      const r = await op('check_backup');
      expect(r.code, r.stdout).toBe(0);
      return Number(/\bage=(\d+)s/.exec(r.stdout)?.[1]);
    };
    // The last backup must be older than a new backup will be at its check, with room to spare.
    let age = await ageNow();
    if (age < 90) {
      await new Promise((r) => setTimeout(r, (91 - age) * 1000));
      age = await ageNow();
    }
    // Thresholds just below the current age: CRITICAL now, OK once a fresh backup exists.
    const c = age - 1;
    const w = Math.floor(c / 2);
    const crit = await op('check_backup', '-w', `${w}s`, '-c', `${c}s`);
    expect(crit.code, crit.stdout).toBe(2);
    expect(crit.stdout).toMatch(/^BACKUP CRITICAL - last complete backup \d{8}_\d{6} is \d+s old/);
    const prom = await must('backup-director', 'cat /var/lib/prometheus/node-exporter/sbdi_backup.prom');
    expect(prom).toMatch(/^sbdi_backup_check_status 2$/m);

    ids.push(await backup());
    expect(await replicaIds()).toContain(ids[3]);
    const ok = await op('check_backup', '-w', `${w}s`, '-c', `${c}s`);
    expect(ok.code, ok.stdout).toBe(0);
    // A Nagios plugin's output is its first line: nothing on stderr when all is well.
    expect(ok.stderr).toBe('');
    expect(ok.stdout).toMatch(new RegExp(`^BACKUP OK - last complete backup ${ids[3]} is \\d+s old .*replication_lag_backup-remote=0s`));
    // How full the store is, from the target's own count.
    expect(ok.stdout).toMatch(/ store_backup-target=\d+\.\d%;85;95;0;100( |$)/m);
    expect(await must('backup-director', 'cat /var/lib/prometheus/node-exporter/sbdi_backup.prom')).toMatch(/^sbdi_backup_check_status 0$/m);
  }, 1_800_000);

  it('backups dated in the future: nothing genuine is deleted, the operator is told, the remote refuses them', async () => {
    // What a compromised target, or a director whose clock was once wrong, leaves behind: backups
    // with ids from 2099 and manifests to match, complete in every other respect.
    const future = ['20990101_000000', '20990201_000000'];
    for (const f of future) {
      await must('backup-target', `zfs snapshot backup/current@${f} && sed 's/${ids[3]}/${f}/g' /backup/manifests/${ids[3]}.json >/backup/manifests/${f}.json`);
    }
    const genuineBefore = await completeIds();
    const listed = await op('list_backups');
    expect(listed.stdout).toMatch(/20990201_000000\s+complete, DATED IN THE FUTURE/);
    expect(listed.stderr).toMatch(/2 backups dated in the future/);

    // An honest backup: complete, replicated, but its prune deletes nothing and the run says why.
    const before = await completeIds();
    const r = await op('perform_backup');
    expect(r.code, r.stdout + r.stderr).toBe(16);
    expect(r.stderr).toMatch(/backup-target holds 2 backups dated in the future of its clock \(20990101_000000, 20990201_000000\)/);
    const fresh = (await completeIds()).filter((x) => !before.includes(x));
    expect(fresh).toHaveLength(1);
    ids.push(fresh[0]!);
    expect(await completeIds()).toEqual([...genuineBefore, ids[4]].sort());
    // Replication skips them (with a warning) and goes on with the genuine ones.
    expect(r.stderr).toMatch(/not replicating 20990101_000000: dated after this host's clock/);
    expect(await replicaIds()).toEqual([ids[0], ids[1], ids[2], ids[3], ids[4]]);

    const check = await op('check_backup');
    expect(check.code, check.stdout).toBe(2);
    expect(check.stdout).toMatch(new RegExp(`^BACKUP CRITICAL - last complete backup ${ids[4]} is \\d+s old .*target holds backups dated in the future \\(20990101_000000, 20990201_000000\\)`));
    expect(await must('backup-director', 'cat /var/lib/prometheus/node-exporter/sbdi_backup.prom')).toMatch(/^sbdi_backup_future_backups\{store="target"\} 2$/m);

    // A compromised target sending such an id on its own replicate key: the remote refuses it.
    const line = await must('backup-target', "grep -m1 '^replicate_one ' /opt/sbdi/backup/libexec/replicate_backups");
    const [, , login, port] = line.trim().split(/\s+/).map((x) => x.replace(/^'|'$/g, ''));
    const forged = await sh(
      'backup-target',
      `zfs send -i backup/current@${ids[4]} backup/current@${future[1]} | ssh -i /etc/sbdi/backup/replicate_ed25519 -p ${port} -o IdentitiesOnly=yes -o BatchMode=yes -o UserKnownHostsFile=/etc/sbdi/backup/known_hosts_remotes ${login} receive ${future[1]} ${ids[4]}`,
    );
    expect(forged.code, forged.stderr).not.toBe(0);
    expect(forged.stderr).toMatch(/refusing 20990201_000000: dated after this host's clock/);
    expect(await replicaIds()).toEqual([ids[0], ids[1], ids[2], ids[3], ids[4]]);

    // Removed by the explicit command (shown first with --dry-run); retention resumes.
    const dry = await opOk('prune_backups', '--delete-future', '--dry-run');
    expect(dry.stdout).toMatch(/backup-target\s+20990101_000000\s+delete/);
    expect(await targetSnapshots()).toEqual(expect.arrayContaining(future));
    await opOk('prune_backups', '--delete-future');
    expect(await targetSnapshots()).not.toEqual(expect.arrayContaining([future[0]]));
    expect((await targetSnapshots()).filter((x) => future.includes(x))).toEqual([]);
    expect(await completeIds()).toEqual([...genuineBefore, ids[4]].sort());
    await opOk('prune_backups');
    expect(await completeIds()).toEqual([ids[3], ids[4]]);
    expect((await op('check_backup')).code).toBe(0);
  }, 1_800_000);

  it('a director whose clock jumps a day ahead for one backup and back: nothing genuine is deleted', async () => {
    // Only the director's clock moves: node's Date.now, shifted by a preloaded module.
    await must('backup-director', `printf '%s\\n' 'const real = Date.now; Date.now = () => real() + 86400000;' >/tmp/sbdi-clock-ahead.cjs && chmod 0644 /tmp/sbdi-clock-ahead.cjs`);
    const before = await completeIds();
    const ahead = await run(
      DOCKER,
      ['exec', '-u', 'backupoperator', '-w', '/home/backupoperator', '-e', 'SBDI_NO_SYSLOG=1', '-e', 'NODE_OPTIONS=--require=/tmp/sbdi-clock-ahead.cjs', `${PREFIX}-backup-director`, '/opt/sbdi/backup/bin/perform_backup'],
      { timeoutMs: 900_000 },
    );
    kit.logs.push(`[${PREFIX}] $ perform_backup (clock +1 day) → ${ahead.code}\n${ahead.stdout}${ahead.stderr}`);
    expect(ahead.code, ahead.stdout + ahead.stderr).toBe(16);
    const jumped = (await completeIds(true)).filter((x) => !before.includes(x));
    expect(jumped).toHaveLength(1);
    expect(ahead.stderr).toMatch(new RegExp(`backup-target holds a backup dated in the future of its clock \\(${jumped[0]}\\)`));
    expect(await completeIds()).toEqual(before);
    expect(await completeIds(true)).toEqual([...before, jumped[0]].sort());

    // The clock is right again: the next backup sorts before the jumped one; nothing genuine goes.
    const back = await op('perform_backup');
    expect(back.code, back.stdout + back.stderr).toBe(16);
    const all = await completeIds(true);
    const after = all.filter((x) => !before.includes(x) && x !== jumped[0]);
    expect(after).toHaveLength(1);
    expect(all).toEqual([...before, after[0], jumped[0]].sort());
    expect(after[0]! < jumped[0]!).toBe(true);
    // restore_latest_backup's choice is the newest genuine one, not the jumped one.
    const dry = await op('restore_latest_backup', '--dry-run');
    expect(dry.stdout + dry.stderr).toContain(after[0]!);
    expect(dry.stdout + dry.stderr).not.toContain(`backup ${jumped[0]}`);

    await opOk('prune_backups', '--delete-future');
    await opOk('prune_backups');
    expect(await completeIds()).toEqual([before[before.length - 1], after[0]].sort());
    ids.push(after[0]!);
  }, 1_800_000);

  it('after all of it, a converge still changes nothing on any host', async () => {
    const t0 = Date.now();
    const res = await idempotence(opts);
    timings.idempotenceAfterUse = (Date.now() - t0) / 1000;
    for (const l of res.recap) expect(l.changed, `${l.host} changed`).toBe(0);
  }, 1_800_000);
});

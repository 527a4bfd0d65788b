// The seed's Gluster source backend in a real kernel: manager-1's rendered capsules run as root in
// a VM with a one-node volume `docker` on a thin-provisioned LVM brick (gluster snapshots need
// thin LVs), mounted at /docker. The VM is its own backup target here (rrsync -wo).
import { existsSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, TREE_SUM, TestVm, render } from './harness';

const vm = new TestVm('sbdi-test-gluster', 'uat-manager-1');
const LIVE = '/docker';
const SNAP = '/gluster_backupsource';
const TARGET = '/backup/current/manager-1@+docker';
const SNAPSHOT = 'sbdi_backup_docker';
let cleanup = (): void => {};

const snapshotExists = async (): Promise<boolean> => (await vm.run(`gluster --mode=script snapshot info ${SNAPSHOT}`)).code === 0;
const mounted = async (): Promise<boolean> => (await vm.run(`mountpoint -q ${SNAP}`)).code === 0;
/** Thin LVs of gluster snapshots: named by a uuid, their origin is the brick LV. */
const snapshotLvs = async (): Promise<string> =>
  (await vm.sh(`lvs --noheadings -o lv_name,origin vg_gluster | awk '$2 == "lv_brick_docker" {print $1}'`)).trim();

beforeAll(async () => {
  if (!existsSync(join(ROOT, 'dist', 'sbdi-backup.cjs'))) execFileSync('npm', ['run', 'build', '--silent'], { cwd: ROOT, stdio: 'inherit' });
  const r = render(join(ROOT, 'tests/fixtures/inventories/seed/hosts'));
  cleanup = r.cleanup;
  await vm.up('8G');
  console.log(`gluster VM booted in ${(vm.bootMs / 1000).toFixed(1)} s`);
  await vm.installRendered(r.dir, 'manager-1');
  const t0 = Date.now();
  await vm.provision('gluster', 'uat-manager-1', '3G', '2G');
  console.log(`gluster volume up in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  await vm.provision('self-target', 'manager-1@+docker');
  await vm.sh(`mkdir -p ${LIVE}/config ${LIVE}/volumes/db; cp -a /etc/ssh ${LIVE}/config/;
    head -c 524288 /dev/urandom >${LIVE}/volumes/db/data.bin; echo before >${LIVE}/volumes/state; sync`);
}, 900_000);

afterAll(async () => {
  vm.down();
  cleanup();
});

// Under emulation a gluster snapshot command takes 5–20 s: generous per-test timeouts.
describe('Gluster source backend in a VM', { timeout: 400_000 }, () => {
  it('prepare_source_snapshot creates and activates a gluster snapshot and mounts it read-only at /gluster_backupsource', async () => {
    const before = await vm.sh(TREE_SUM(LIVE));
    const r = await vm.capsule('prepare_source_snapshot');
    expect(r.code, r.stderr).toBe(0);
    expect(r.result).toMatchObject({ ok: true, backend: 'gluster' });
    expect(await vm.sh(`gluster --mode=script snapshot info ${SNAPSHOT}`)).toMatch(/Status\s*:\s*Started/);
    expect(await snapshotLvs()).not.toBe('');
    expect(await vm.sh(`findmnt -n -o FSTYPE,SOURCE,OPTIONS ${SNAP}`)).toMatch(/^fuse\.glusterfs\s+localhost:\/snaps\/sbdi_backup_docker\/docker\s+ro,/);
    expect(await vm.sh(TREE_SUM(SNAP))).toBe(before);
    expect((await vm.run(`touch ${SNAP}/x`)).code).not.toBe(0);
  });

  it('ACLs and xattrs read back from the snapshot mount and reach the store', async () => {
    expect((await vm.capsule('remove_source_snapshot')).result.ok).toBe(true);
    await vm.sh(`mkdir -p ${LIVE}/acl; echo shared >${LIVE}/acl/f; setfacl -m u:daemon:rw,g:adm:r ${LIVE}/acl/f; setfacl -d -m u:daemon:rwx ${LIVE}/acl;
      setfattr -n user.sbdi -v kept ${LIVE}/acl/f; sync`);
    const acls = await vm.sh(`cd ${LIVE} && getfacl -p acl acl/f`);
    expect(acls).toMatch(/user:daemon:rw-/);
    const r = await vm.capsule('prepare_source_snapshot');
    expect(r.code, r.stderr).toBe(0);
    // Mounted without acl, the glusterfs client reports basic permissions only: ACLs lost silently.
    expect(await vm.sh(`cd ${SNAP} && getfacl -p acl acl/f`)).toBe(acls);
    expect(await vm.sh(`getfattr --only-values -n user.sbdi ${SNAP}/acl/f`)).toBe('kept');
    const push = await vm.capsule('perform_rsync');
    expect(push.code, push.stderr).toBe(0);
    // The self-target receives as sbdi-receive here (rrsync, no root): owners differ, the ACL entries may not.
    expect(await vm.sh(`cd ${TARGET} && getfacl -p --omit-header acl acl/f`)).toBe(await vm.sh(`cd ${LIVE} && getfacl -p --omit-header acl acl/f`));
    expect(await vm.sh(`getfattr --only-values -n user.sbdi ${TARGET}/acl/f`)).toBe('kept');
  });

  it('data written after the snapshot is not in it', async () => {
    await vm.sh(`echo after >${LIVE}/volumes/state; echo new >${LIVE}/volumes/new-file; sync`);
    expect(await vm.sh(`cat ${SNAP}/volumes/state`)).toBe('before\n');
    expect((await vm.run(`test -e ${SNAP}/volumes/new-file`)).code).not.toBe(0);
  });

  it('perform_rsync pushes the snapshot and reports the fill level of the thin pool behind the brick', async () => {
    const snap = await vm.sh(TREE_SUM(SNAP));
    const r = await vm.capsule('perform_rsync');
    expect(r.code, r.stderr).toBe(0);
    expect(r.result).toMatchObject({ ok: true, rsyncExit: 0 });
    expect(r.result.snapshotFillPercent as number).toBeGreaterThan(0);
    expect(r.result.snapshotFillPercent as number).toBeLessThan(90);
    expect(r.stderr).toMatch(/level=info msg=snapshot fill [0-9.]+% after the sync/);
    expect(await vm.sh(TREE_SUM(TARGET))).toBe(snap);
  });

  it('remove_source_snapshot unmounts, deactivates and deletes it, and is idempotent', async () => {
    const r = await vm.capsule('remove_source_snapshot');
    expect(r.code, r.stderr).toBe(0);
    expect(r.result).toMatchObject({ ok: true, removed: true });
    expect(await mounted()).toBe(false);
    expect(await snapshotExists()).toBe(false);
    expect(await snapshotLvs()).toBe('');
    expect((await vm.capsule('remove_source_snapshot')).result).toMatchObject({ ok: true, removed: false });
  });

  it('a stale snapshot left by a crash is cleaned by the next run', async () => {
    // crash after the snapshot was exposed: the next prepare replaces it
    expect((await vm.capsule('prepare_source_snapshot')).result.ok).toBe(true);
    const next = await vm.capsule('prepare_source_snapshot');
    expect(next.code, next.stderr).toBe(0);
    expect(next.stderr).toContain('removing a snapshot left by an earlier run');
    expect(await vm.sh(`cat ${SNAP}/volumes/state`)).toBe('after\n');
    expect((await vm.capsule('remove_source_snapshot')).result).toMatchObject({ ok: true, removed: true });
    // crash between `snapshot create` and `snapshot activate`: an inactive snapshot, no mount
    await vm.sh(`gluster --mode=script snapshot create ${SNAPSHOT} docker no-timestamp`);
    expect(await vm.sh(`gluster --mode=script snapshot info ${SNAPSHOT}`)).toMatch(/Status\s*:\s*Stopped/);
    const after = await vm.capsule('prepare_source_snapshot');
    expect(after.code, after.stderr).toBe(0);
    expect(after.stderr).toContain('removing a snapshot left by an earlier run');
    expect(await mounted()).toBe(true);
    expect((await vm.capsule('remove_source_snapshot')).result).toMatchObject({ ok: true, removed: true });
    expect(await snapshotExists()).toBe(false);
    expect(await snapshotLvs()).toBe('');
  });

  it('a thin pool past the fill limit fails the sync with a message naming the pool (limit lowered for the test)', async () => {
    expect((await vm.capsule('prepare_source_snapshot')).result.ok).toBe(true);
    // The pool is a few percent full; the limit is lowered in the installed copy instead of filling 3 GiB.
    await vm.sh(`sed 's/^snapshot_fill_limit=90$/snapshot_fill_limit=1/' /opt/sbdi/backup/libexec/perform_rsync >/root/perform_rsync_low; chmod 0700 /root/perform_rsync_low`);
    const r = await vm.run('/root/perform_rsync_low');
    expect(r.code).toBe(13);
    expect(r.stdout).toMatch(/SBDI-RESULT \{"ok":false,"code":13,"error":"thin pool vg_gluster\/tp_docker behind gluster volume docker is [0-9.]+% full \(limit 1%\)/);
    expect((await vm.capsule('remove_source_snapshot')).result).toMatchObject({ ok: true, removed: true });
  });
});

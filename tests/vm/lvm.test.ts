// The seed's LVM source backend in a real kernel (device-mapper; this machine's kernel has none):
// cassandra-1's rendered capsules run as root in a VM with vg_docker_local/lv_docker_local at
// /docker_local. The VM is its own backup target here (rrsync -wo, as receive_backup does).
import { existsSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, TREE_SUM, TestVm, render } from './harness';

const vm = new TestVm('sbdi-test-lvm', 'uat-cassandra-1');
const LIVE = '/docker_local';
const SNAP = '/local_backupsource';
const TARGET = '/backup/current/cassandra-1@+docker_local';
const SNAPSHOT_LV = 'vg_docker_local/lv_docker_local_sbdi_snapshot';
let cleanup = (): void => {};

const snapshotLvExists = async (): Promise<boolean> => (await vm.run(`lvs ${SNAPSHOT_LV}`)).code === 0;
const mounted = async (): Promise<boolean> => (await vm.run(`mountpoint -q ${SNAP}`)).code === 0;

beforeAll(async () => {
  if (!existsSync(join(ROOT, 'dist', 'sbdi-backup.cjs'))) execFileSync('npm', ['run', 'build', '--silent'], { cwd: ROOT, stdio: 'inherit' });
  const r = render(join(ROOT, 'tests/fixtures/inventories/seed/hosts'));
  cleanup = r.cleanup;
  // 32G sparse: room for the seed's 20 GiB backup_snapshot_storage (LVM caps it at the origin's size).
  await vm.up('32G');
  console.log(`lvm VM booted in ${(vm.bootMs / 1000).toFixed(1)} s`);
  await vm.installRendered(r.dir, 'cassandra-1');
  await vm.provision('lvm', '2G');
  await vm.provision('self-target', 'cassandra-1@+docker_local');
  await vm.sh(`mkdir -p ${LIVE}/cassandra/data ${LIVE}/solr; cp -a /etc/ssh /etc/lvm ${LIVE}/cassandra/data/;
    head -c 1048576 /dev/urandom >${LIVE}/solr/index.bin; echo before >${LIVE}/cassandra/state; sync`);
}, 900_000);

afterAll(async () => {
  vm.down();
  cleanup();
});

// Under emulation an LVM command takes 1–3 s: generous per-test timeouts.
describe('LVM source backend in a VM', { timeout: 300_000 }, () => {
  it('prepare_source_snapshot creates the snapshot LV and mounts it read-only at /local_backupsource', async () => {
    const before = await vm.sh(TREE_SUM(LIVE));
    const r = await vm.capsule('prepare_source_snapshot');
    expect(r.code, r.stderr).toBe(0);
    expect(r.result).toMatchObject({ ok: true, backend: 'lvm' });
    expect(r.result.snapshotAt as number).toBeGreaterThanOrEqual(r.result.snapshotStartedAt as number);
    expect(await snapshotLvExists()).toBe(true);
    expect(await vm.sh(`findmnt -n -o OPTIONS ${SNAP}`)).toMatch(/^ro,/);
    expect((await vm.sh(`findmnt -n -o SOURCE ${SNAP}`)).trim()).toBe('/dev/mapper/vg_docker_local-lv_docker_local_sbdi_snapshot');
    expect(await vm.sh(TREE_SUM(SNAP))).toBe(before);
    expect((await vm.run(`touch ${SNAP}/x`)).code).not.toBe(0);
  });

  it('data written after the snapshot is not in it', async () => {
    await vm.sh(`echo after >${LIVE}/cassandra/state; echo new >${LIVE}/cassandra/new-file; sync`);
    expect(await vm.sh(`cat ${SNAP}/cassandra/state`)).toBe('before\n');
    expect((await vm.run(`test -e ${SNAP}/cassandra/new-file`)).code).not.toBe(0);
  });

  it('perform_rsync pushes the snapshot, not the live tree, and reports the snapshot fill level', async () => {
    const snap = await vm.sh(TREE_SUM(SNAP));
    const r = await vm.capsule('perform_rsync');
    expect(r.code, r.stderr).toBe(0);
    expect(r.result).toMatchObject({ ok: true, rsyncExit: 0 });
    expect(r.result.files as number).toBeGreaterThan(10);
    expect(typeof r.result.snapshotFillPercent).toBe('number');
    expect(r.result.snapshotFillPercent as number).toBeLessThan(90);
    expect(r.stderr).toMatch(/level=info msg=snapshot fill [0-9.]+% before the sync/);
    expect(r.stderr).toMatch(/level=info msg=snapshot fill [0-9.]+% after the sync/);
    expect(await vm.sh(TREE_SUM(TARGET))).toBe(snap);
    expect(await vm.sh(`cat ${TARGET}/cassandra/state`)).toBe('before\n');
  });

  it('remove_source_snapshot unmounts and removes it, and is idempotent', async () => {
    const r = await vm.capsule('remove_source_snapshot');
    expect(r.code, r.stderr).toBe(0);
    expect(r.result).toMatchObject({ ok: true, removed: true });
    expect(await mounted()).toBe(false);
    expect(await snapshotLvExists()).toBe(false);
    const again = await vm.capsule('remove_source_snapshot');
    expect(again.result).toMatchObject({ ok: true, removed: false });
  });

  it('a snapshot left by a crash (mounted, or only the LV) is cleaned by the next run', async () => {
    expect((await vm.capsule('prepare_source_snapshot')).result.ok).toBe(true);
    // crash after the snapshot was taken: the next prepare replaces it
    const next = await vm.capsule('prepare_source_snapshot');
    expect(next.code, next.stderr).toBe(0);
    expect(next.stderr).toContain('removing a snapshot left by an earlier run');
    expect(await vm.sh(`cat ${SNAP}/cassandra/state`)).toBe('after\n');
    // crash between lvcreate and mount: only the LV is left
    await vm.sh(`umount ${SNAP}`);
    expect((await vm.capsule('remove_source_snapshot')).result).toMatchObject({ ok: true, removed: true });
    expect(await snapshotLvExists()).toBe(false);
    expect(await mounted()).toBe(false);
  });

  describe('a snapshot too small for the writes during a backup (backup_snapshot_storage scaled down to 64 MiB)', () => {
    beforeAll(async () => {
      // Scaled down for the test: the rendered capsules hard-code the seed's 20 GiB.
      await vm.sh(`sed -i 's/^snapshot_size=20G$/snapshot_size=64M/' /opt/sbdi/backup/libexec/*_source* /opt/sbdi/backup/libexec/perform_rsync;
        grep -q '^snapshot_size=64M$' /opt/sbdi/backup/libexec/prepare_source_snapshot`);
    });
    afterAll(async () => {
      await vm.run('/opt/sbdi/backup/libexec/remove_source_snapshot');
      await vm.sh(`sed -i 's/^snapshot_size=64M$/snapshot_size=20G/' /opt/sbdi/backup/libexec/*_source* /opt/sbdi/backup/libexec/perform_rsync`);
    });

    it('refuses to sync from a snapshot that is about to overflow', async () => {
      expect((await vm.capsule('prepare_source_snapshot')).result.ok).toBe(true);
      await vm.provision('fill', `${LIVE}/import-1`, '60');
      const fill = Number((await vm.sh(`lvs --noheadings --nosuffix -o snap_percent ${SNAPSHOT_LV}`)).trim());
      expect(fill).toBeGreaterThanOrEqual(90);
      const r = await vm.capsule('perform_rsync');
      expect(r.code).toBe(13);
      expect(r.result).toMatchObject({ ok: false, code: 13 });
      expect(r.result.error as string).toMatch(/is [0-9.]+% full \(limit 90% of 64M backup_snapshot_storage\): it is about to overflow/);
      expect((await vm.capsule('remove_source_snapshot')).result).toMatchObject({ ok: true, removed: true });
      await vm.sh(`rm -rf ${LIVE}/import-1`);
    });

    it('fails the run with a clear message when the snapshot overflows during the sync', async () => {
      // enough new data that the sync runs for several seconds (about 1 MB/s over ssh under emulation)
      await vm.provision('fill', `${LIVE}/bulk`, '12');
      expect((await vm.capsule('prepare_source_snapshot')).result.ok).toBe(true);
      const sync = vm.capsule('perform_rsync');
      // The sync's rsync processes (sender and, the VM being its own target, receiver) are frozen
      // while the live volume takes more writes than the snapshot can hold, then go on: the
      // overflow happens during the sync however slow the machine is (a plain delay raced it).
      await vm.sh(`for i in $(seq 300); do pgrep -x rsync >/dev/null && break; sleep 0.1; done; pkill -STOP -x rsync`);
      try {
        await vm.provision('fill', `${LIVE}/import-2`, '96');
        expect(await vm.sh(`lvs --noheadings -o lv_attr ${SNAPSHOT_LV}`)).toMatch(/^\s*.{4}I/);
      } finally {
        await vm.sh('pkill -CONT -x rsync || true');
      }
      const r = await sync;
      expect(r.code, r.stderr).toBe(13);
      expect(r.result).toMatchObject({ ok: false, code: 13 });
      expect(r.result.error as string).toMatch(/overflowed its 64M|it is about to overflow/);
      expect(r.stderr).toMatch(/level=error msg=(stopping the sync: )?snapshot vg_docker_local\/lv_docker_local_sbdi_snapshot/);
      // the invalid snapshot is removed like any other
      expect((await vm.capsule('remove_source_snapshot')).result).toMatchObject({ ok: true, removed: true });
      expect(await snapshotLvExists()).toBe(false);
      await vm.sh(`rm -rf ${LIVE}/import-2`);
    });
  });
});

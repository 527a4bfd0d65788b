// The target role on a host of each store backend: a container of the sandbox's base image with the
// host's rendered files installed (as the common role installs them), then the role alone run by
// ansible-playbook. Asserted: the role makes the store through sbdi-target-setup (zfs-fuse on a
// sparse file, btrfs on a sparse file, plain directories); a second run reports its one store task
// unchanged and changed=0; a store that exists but is not mounted (as after a reboot) is imported
// or mounted again, never made anew; a device that holds another filesystem is never formatted.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../tools/sandbox/exec';
import { parseRecap } from '../../tools/sandbox/recap';
import { baseImage, docker, dockerAvailable, install, inventory, removeContainer, render, startContainer } from '../storage/harness';

const ROOT = join(__dirname, '..', '..');
const HOST = 'storage-1';
const ENV = { ...process.env, ANSIBLE_NOCOLOR: '1', ANSIBLE_FORCE_COLOR: '0', ANSIBLE_RETRY_FILES_ENABLED: '0', ANSIBLE_ROLES_PATH: join(ROOT, 'roles') };
const SETUP_TASK = String.raw`TASK \[(?:sbdi\.backup\.)?target : Create or import the backup store\] \**\n`;
const SETUP_CHANGED = new RegExp(`${SETUP_TASK}changed: \\[${HOST}\\]`);
const SETUP_UNCHANGED = new RegExp(`${SETUP_TASK}ok: \\[${HOST}\\]`);
const SOURCE = { btrfs_backup_source: true, btrfs_backup_source_dir: '/srv/data' };

const CASES = [
  {
    backend: 'zfs',
    target: { backup_target_backend: 'zfs', backup_zfs_package: 'zfs-fuse', backup_data_device: '/var/lib/sbdi/pool.img', backup_data_file_size: 1 },
    // The store's identity (its root dataset's guid), which a store made anew would not keep.
    identity: 'zfs get -H -o value guid backup',
    // What a reboot leaves: the pool not imported, the daemon gone.
    down: 'zpool export backup && pkill -x zfs-fuse && while pgrep -x zfs-fuse >/dev/null; do sleep 0.2; done',
  },
  {
    backend: 'btrfs',
    target: { backup_target_backend: 'btrfs', backup_data_device: '/var/lib/sbdi/backup.img', backup_data_file_size: 1 },
    identity: 'blkid -o value -s UUID /var/lib/sbdi/backup.img',
    down: 'umount /backup',
  },
  {
    backend: 'dir',
    target: { backup_target_backend: 'dir' },
    identity: 'stat -c %i /backup/current',
    down: 'true',
  },
] as const;

beforeAll(() => {
  if (!dockerAvailable()) throw new Error('these tests need a running docker engine (scripts/setup-host.sh starts dockerd)');
});

describe.each(CASES)('the target role on a $backend store', { timeout: 900_000 }, (c) => {
  const container = `targetrole-${c.backend}-${process.pid}`;
  let work: string;
  let rendered: string;
  const sh = (script: string) => docker(['exec', container, 'bash', '-euo', 'pipefail', '-c', script]);
  const must = (script: string): string => {
    const r = sh(script);
    if (r.code !== 0) throw new Error(`${container}: ${script}\nexit ${r.code}: ${r.stdout}${r.stderr}`);
    return r.stdout.trim();
  };

  async function role(): Promise<{ code: number; changed: number; out: string }> {
    const inv = join(work, 'inventory.yml');
    writeFileSync(inv, `all:\n  hosts:\n    ${HOST}:\n      ansible_connection: community.docker.docker\n      ansible_host: ${container}\n      ansible_python_interpreter: /usr/bin/python3\n`);
    const r = await run('ansible-playbook', ['-i', inv, '-e', `sbdi_backup_render_dir=${rendered}`, join(ROOT, 'tests', 'ansible', 'target.yml')], { cwd: ROOT, env: ENV, timeoutMs: 600_000 });
    const recap = parseRecap(r.stdout).find((l) => l.host === HOST);
    return { code: r.code, changed: recap?.changed ?? -1, out: r.stdout + r.stderr };
  }

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'sbdi-targetrole-'));
    startContainer(container, HOST, await baseImage());
    rendered = render(inventory(c.target, SOURCE));
    install(container, rendered, HOST, { keep: true });
  }, 900_000);

  afterAll(() => {
    removeContainer(container);
    if (rendered) rmSync(join(rendered, '..'), { recursive: true, force: true });
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('makes the store through sbdi-target-setup; a second run changes nothing', async () => {
    const first = await role();
    expect(first.code, first.out.slice(-4000)).toBe(0);
    expect(first.out).toMatch(SETUP_CHANGED);
    expect(must('stat -c "%a %U" /backup /backup/current /backup/manifests').split('\n')).toEqual(['755 root', '700 root', '700 root']);
    if (c.backend === 'zfs') {
      expect(must('zfs get -H -o value mounted,atime,setuid,devices,exec backup').split('\n')).toEqual(['yes', 'off', 'off', 'off', 'off']);
      expect(must('zfs get -H -o value mounted,mountpoint,compression backup/current').split('\n')).toEqual(['yes', '/backup/current', 'gzip-7']);
      expect(must('grep -cx enable-xattr /etc/zfs/zfsrc')).toBe('1');
      // zfs-fuse keeps xattrs from its first start: no restart is left to the first backup.
      expect(must('setfattr -n user.probe -v 1 /backup/current && getfattr --only-values -n user.probe /backup/current && setfattr -x user.probe /backup/current')).toBe('1');
      // The data file's directory, made by the setup, is root's alone.
      expect(must('stat -c %a /var/lib/sbdi')).toBe('700');
    }
    if (c.backend === 'btrfs') {
      expect(must('findmnt -n -o FSTYPE --mountpoint /backup')).toBe('btrfs');
      expect(must('findmnt -n -o OPTIONS --mountpoint /backup').split(',')).toEqual(expect.arrayContaining(['nosuid', 'nodev', 'noexec', 'compress=zstd:3']));
      expect(must('btrfs subvolume show /backup/current >/dev/null && stat -c %a /backup/snapshots')).toBe('700');
      // No quota groups unless backup_btrfs_quota asks for them: btrfs would account them at every commit.
      expect(must('btrfs qgroup show /backup >/dev/null 2>&1 && echo on || echo off')).toBe('off');
    }
    if (c.backend === 'dir') expect(must('stat -c %a /backup/snapshots')).toBe('700');
    const second = await role();
    expect(second.code, second.out.slice(-4000)).toBe(0);
    expect(second.out).toMatch(SETUP_UNCHANGED);
    expect(second.changed, second.out.slice(-4000)).toBe(0);
  });

  it('finds the store it made after a reboot and makes no new one over it', async () => {
    const identity = must(c.identity);
    must('echo kept >/backup/manifests/store-marker');
    must(c.down);
    const r = await role();
    expect(r.code, r.out.slice(-4000)).toBe(0);
    if (c.backend !== 'dir') expect(r.out).toMatch(SETUP_CHANGED);
    expect(must(c.identity)).toBe(identity);
    expect(must('cat /backup/manifests/store-marker')).toBe('kept');
    expect((await role()).changed).toBe(0);
  });

  // The btrfs setup alone runs mkfs (a zfs pool is made by zpool create without -f; a dir store has
  // no device).
  if (c.backend === 'btrfs') {
    it('never formats a device that holds another filesystem', async () => {
      must('umount /backup && mkswap -q /var/lib/sbdi/backup.img >/dev/null');
      const r = await role();
      expect(r.code).not.toBe(0);
      expect(r.out).toMatch(/could not mount \/var\/lib\/sbdi\/backup\.img at \/backup/);
      expect(must('blkid -o value -s TYPE /var/lib/sbdi/backup.img')).toBe('swap');
    });
  }
});

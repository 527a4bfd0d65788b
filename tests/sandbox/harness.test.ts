// The sandbox platform for real: create -> checks -> destroy, with a prefix of its own so it never touches
// a `uat` or `prod` deployment someone else has up on this machine.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { APP_LABEL, WRITER_FILE } from '../../tools/sandbox/apps';
import { HOSTS, LABEL, SWARM_MANAGER, subnetFor } from '../../tools/sandbox/config';
import { DOCKER, run, sleep, waitFor } from '../../tools/sandbox/exec';
import { create, destroy, deploymentPaths, status, verify, type CreateResult } from '../../tools/sandbox/steps';
import { loadState } from '../../tools/sandbox/state';

const ROOT = join(__dirname, '..', '..');
const PREFIX = 'sbxt';
const logs: string[] = [];
const opts = { prefix: PREFIX, root: ROOT, log: (m: string) => logs.push(m) };

function sh(host: string, script: string): string {
  return execFileSync(DOCKER, ['exec', `${PREFIX}-${host}`, 'bash', '-euo', 'pipefail', '-c', script], { encoding: 'utf8', timeout: 60_000 });
}

/** Everything on this machine that carries a deployment's name: containers, networks, volumes, mounts. */
async function leftovers(prefix: string): Promise<string[]> {
  const ls = async (args: string[]): Promise<string[]> =>
    (await run(DOCKER, args)).stdout.split('\n').map((s) => s.trim()).filter((s) => s.startsWith(`${prefix}-`) || s.includes(`${LABEL}=${prefix}`));
  const containers = await ls(['ps', '-a', '--format', '{{.Names}}']);
  const networks = await ls(['network', 'ls', '--format', '{{.Name}}']);
  const volumes = await ls(['volume', 'ls', '--format', '{{.Name}}']);
  const dir = deploymentPaths({ prefix, root: ROOT }).dir;
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => l.includes(`${dir}/`) || l.includes(` /${prefix}-`));
  const loops = execFileSync('losetup', ['-a'], { encoding: 'utf8' }).split('\n').filter((l) => l.includes(`${dir}/`));
  return [...containers, ...networks, ...volumes, ...mounts, ...loops];
}

let up: CreateResult;

beforeAll(async () => {
  await destroy(opts); // a previous run killed half way must not make this one fail
  up = await create(opts);
}, 900_000);

afterAll(async () => {
  await destroy(opts);
}, 300_000);

describe('sandbox platform', () => {
  it('created every host from the hashed base image on an explicit-subnet network', async () => {
    expect(up.created).toBe(true);
    expect(up.names.subnet).toBe(subnetFor(PREFIX));
    const net = JSON.parse((await run(DOCKER, ['network', 'inspect', `${PREFIX}-sbdi-sandbox`])).stdout) as Array<{ IPAM: { Config: Array<{ Subnet: string }> } }>;
    expect(net[0]!.IPAM.Config[0]!.Subnet).toBe(subnetFor(PREFIX));
    for (const h of HOSTS) {
      const info = JSON.parse((await run(DOCKER, ['inspect', `${PREFIX}-${h.name}`])).stdout)[0] as {
        Config: { Hostname: string; Image: string };
        State: { Running: boolean };
        HostConfig: { Privileged: boolean };
      };
      expect(info.State.Running, h.name).toBe(true);
      expect(info.Config.Hostname).toBe(h.name);
      expect(info.Config.Image).toBe(up.images.base);
      expect(info.HostConfig.Privileged).toBe(false);
      expect(sh(h.name, 'ps -o comm= -p 1').trim()).toBe('tini');
    }
  });

  it('ssh from the director answers on port 22 of every other host, each with its own host key', () => {
    const keys = new Set<string>();
    for (const h of HOSTS.filter((x) => x.name !== 'backup-director')) {
      const scanned = sh('backup-director', `ssh-keyscan -T 5 -t ed25519 -p 22 ${PREFIX}-${h.name} 2>/dev/null`).trim();
      const own = sh(h.name, 'cat /etc/ssh/ssh_host_ed25519_key.pub').trim().split(' ').slice(0, 2).join(' ');
      expect(scanned, h.name).toContain(own);
      keys.add(own);
    }
    expect(keys.size).toBe(HOSTS.length - 1);
  });

  it('every host has sudo, rsync, python3-apt, logger to syslog; the director has node >= 18', () => {
    for (const h of HOSTS) {
      sh(h.name, 'sudo -n true && rsync --version >/dev/null && python3 -c "import apt" && test -x /etc/init.d/docker');
      sh(h.name, `logger -t sbdi-test "hello from ${h.name}" && sleep 0.3 && grep -q "hello from ${h.name}" /var/log/messages`);
    }
    expect(sh('backup-director', 'node --version').trim()).toMatch(/^v(1[89]|[2-9]\d)\./);
  });

  it('docker info inside manager-1 shows an active swarm of 2 nodes', () => {
    const info = JSON.parse(sh(SWARM_MANAGER, "docker info --format '{{json .Swarm}}'")) as { LocalNodeState: string; Nodes: number; ControlAvailable: boolean };
    expect(info.LocalNodeState).toBe('active');
    expect(info.ControlAvailable).toBe(true);
    expect(info.Nodes).toBe(2);
    const worker = JSON.parse(sh('cassandra-1', "docker info --format '{{json .Swarm}}'")) as { LocalNodeState: string };
    expect(worker.LocalNodeState).toBe('active');
  });

  it('each docker host runs >= 3 writer apps whose files grow with consecutive counters', async () => {
    for (const h of HOSTS.filter((x) => x.docker)) {
      const running = sh(h.name, `docker ps --filter label=${APP_LABEL} --format '{{.Names}}'`).split('\n').filter(Boolean);
      expect(running.sort()).toEqual([...h.apps].sort());
      expect(h.apps.length).toBeGreaterThanOrEqual(3);
      const policy = sh(h.name, `docker inspect -f '{{.HostConfig.RestartPolicy.Name}}' ${h.apps[0]}`).trim();
      expect(policy).toBe('unless-stopped');
    }
    const file = `/docker/${HOSTS.find((h) => h.name === 'manager-1')!.apps[0]}/${WRITER_FILE}`;
    const lines = (): string[] => sh('manager-1', `cat ${file}`).split('\n').filter(Boolean);
    const before = lines().length;
    await sleep(1500);
    const after = lines();
    expect(after.length).toBeGreaterThan(before + 3);
    const counters = after.map((l) => Number(l.split(' ')[0]));
    counters.forEach((c, i) => expect(c).toBe(i + 1));
    // cassandra-1 writes under /docker_local
    const cass = HOSTS.find((h) => h.name === 'cassandra-1')!;
    expect(Number(sh('cassandra-1', `wc -l < /docker_local/${cass.apps[0]}/${WRITER_FILE}`))).toBeGreaterThan(0);
  });

  it('a btrfs read-only snapshot of a live dir can be bind-mounted read-only at /btrfs_backupsource and is frozen', async () => {
    const app = HOSTS.find((h) => h.name === 'manager-1')!.apps[0]!;
    const out = sh(
      'manager-1',
      `stat -f -c %T /docker
       btrfs subvolume snapshot -r /docker /docker/.sbdi-snapshot >/dev/null
       mkdir -p /btrfs_backupsource
       mount --bind -o ro /docker/.sbdi-snapshot /btrfs_backupsource
       findmnt -n -o OPTIONS /btrfs_backupsource | tr , '\\n' | grep -x ro
       cmp '/docker/seed/dir with spaces/file with spaces.txt' '/btrfs_backupsource/seed/dir with spaces/file with spaces.txt' && echo same
       test "$(stat -c %i /btrfs_backupsource/seed/data/blob.bin)" = "$(stat -c %i /btrfs_backupsource/seed/data/blob.hardlink)" && echo hardlink
       test "$(readlink /btrfs_backupsource/seed/data/app.conf.symlink)" = ../config/app.conf && echo symlink
       if touch /btrfs_backupsource/x 2>/dev/null; then echo writable; else echo readonly; fi
       stat -c %s /btrfs_backupsource/${app}/${WRITER_FILE}`,
    );
    const [fs, ro, same, hard, sym, writable, frozenSize] = out.trim().split('\n');
    expect([fs, ro, same, hard, sym, writable]).toEqual(['btrfs', 'ro', 'same', 'hardlink', 'symlink', 'readonly']);
    await sleep(800);
    const later = sh('manager-1', `stat -c %s /btrfs_backupsource/${app}/${WRITER_FILE}; stat -c %s /docker/${app}/${WRITER_FILE}`).trim().split('\n');
    expect(later[0]).toBe(frozenSize);
    expect(Number(later[1])).toBeGreaterThan(Number(frozenSize));
    sh('manager-1', 'umount /btrfs_backupsource && btrfs subvolume delete /docker/.sbdi-snapshot >/dev/null && test ! -e /docker/.sbdi-snapshot');
  });

  it('zfs-fuse runs on the target: file pool, gzip-7 dataset, snapshot, clone, mount', () => {
    const out = sh(
      'backup-target',
      `zfs-fuse; for i in $(seq 50); do zpool list >/dev/null 2>&1 && break; sleep 0.1; done
       truncate -s 1G /var/lib/sbdi/test-pool.img
       zpool create -m /test-pool sbxtest /var/lib/sbdi/test-pool.img
       zfs create -o compression=gzip-7 sbxtest/current
       seq 1 20000 > /test-pool/current/numbers
       zfs snapshot sbxtest/current@20250101_000000
       zfs clone sbxtest/current@20250101_000000 sbxtest/restore
       zfs get -H -o value compression sbxtest/current
       cmp /test-pool/current/numbers /test-pool/restore/numbers && echo clone-ok
       zfs list -H -o name -t snapshot
       for i in $(seq 30); do zpool destroy -f sbxtest 2>/dev/null && break; sleep 0.3; done
       rm -f /var/lib/sbdi/test-pool.img; pkill -x zfs-fuse || true`,
    );
    expect(out.trim().split('\n')).toEqual(['gzip-7', 'clone-ok', 'sbxtest/current@20250101_000000']);
  });

  it('service docker stop|start works inside a docker host, quickly, and the writers resume their counters', async () => {
    const cass = HOSTS.find((h) => h.name === 'cassandra-1')!;
    const log = `/docker_local/${cass.apps[0]}/${WRITER_FILE}`;
    const t0 = Date.now();
    sh('cassandra-1', 'service docker stop >/dev/null && ! docker info >/dev/null 2>&1');
    expect(Date.now() - t0).toBeLessThan(8_000); // writers end on SIGTERM: no start-stop-daemon kill
    const stopped = sh('cassandra-1', `wc -l < ${log}`).trim();
    await sleep(500);
    expect(sh('cassandra-1', `wc -l < ${log}`).trim()).toBe(stopped);
    sh('cassandra-1', 'service docker start >/dev/null');
    const back = await waitFor(async () => {
      const r = await run(DOCKER, ['exec', `${PREFIX}-cassandra-1`, 'docker', 'ps', '-q', '--filter', `label=${APP_LABEL}`]);
      return r.code === 0 && r.stdout.split('\n').filter(Boolean).length === cass.apps.length;
    }, 60_000, 500);
    expect(back).toBe(true);
    await sleep(1000);
    const counters = sh('cassandra-1', `cut -d ' ' -f 1 ${log}`).split('\n').filter(Boolean).map(Number);
    expect(counters.length).toBeGreaterThan(Number(stopped));
    counters.forEach((c, i) => expect(c).toBe(i + 1));
  });

  it('the generated inventory drives ansible through the docker connection to every host', () => {
    const inv = deploymentPaths(opts).inventory;
    expect(existsSync(inv)).toBe(true);
    const out = execFileSync('ansible', ['all', '-i', inv, '-m', 'ansible.builtin.command', '-a', 'hostname', '-o'], {
      encoding: 'utf8',
      env: { ...process.env, PATH: `/usr/bin:${process.env.PATH}`, ANSIBLE_NOCOLOR: '1' },
      timeout: 120_000,
    });
    for (const h of HOSTS) expect(out).toMatch(new RegExp(`^${h.name} \\| CHANGED \\| rc=0 \\| \\(stdout\\) ${h.name}$`, 'm'));
  });

  it('verify passes, and a second create is a no-op', async () => {
    const results = await verify(opts);
    expect(results.every((r) => r.ok)).toBe(true);
    expect(results.length).toBeGreaterThan(HOSTS.length * 2);
    const again = await create(opts);
    expect(again.created).toBe(false);
  });

  it('verify fails and names the host when a writer stops', async () => {
    const app = HOSTS.find((h) => h.name === 'manager-1')!.apps[1]!;
    sh('manager-1', `docker stop -t 1 ${app} >/dev/null`);
    try {
      await expect(verify(opts)).rejects.toThrow(/sandbox verify \[manager-1\].*\n.*not running: .*/);
    } finally {
      sh('manager-1', `docker start ${app} >/dev/null`);
    }
  });

  it('destroy removes every container, network, volume, mount and loop device, even with paused apps and a mounted snapshot', async () => {
    // What a backup killed mid-way leaves: inner containers frozen, a snapshot bind-mounted, a zfs pool mounted.
    const m1 = HOSTS.find((h) => h.name === 'manager-1')!;
    sh('manager-1', `docker pause ${m1.apps.join(' ')} >/dev/null
      btrfs subvolume snapshot -r /docker /docker/.sbdi-snapshot >/dev/null
      mkdir -p /btrfs_backupsource && mount --bind -o ro /docker/.sbdi-snapshot /btrfs_backupsource`);
    sh('backup-target', `zfs-fuse; for i in $(seq 50); do zpool list >/dev/null 2>&1 && break; sleep 0.1; done
      truncate -s 256M /var/lib/sbdi/p.img && zpool create -m /backup sbxleft /var/lib/sbdi/p.img`);
    expect(sh('manager-1', `docker ps --filter status=paused -q | wc -l`).trim()).toBe(String(m1.apps.length));
    await destroy(opts);
    expect(await leftovers(PREFIX)).toEqual([]);
    expect(loadState(deploymentPaths(opts).state)).toBeUndefined();
    expect((await status(opts)).containers).toEqual([]);
    expect(existsSync(deploymentPaths(opts).dir)).toBe(false);
  });
});

describe('sandbox cleanup after failures', () => {
  it('a create that fails (subnet clash) leaves nothing behind', async () => {
    const clash = { prefix: 'sbxf', root: ROOT, subnet: '172.17.5.0/24', log: (m: string) => logs.push(m) };
    // 172.17.0.0/16 is the default bridge of the machine's dockerd: the overlap check refuses it.
    await expect(create(clash)).rejects.toThrow(/sandbox create: subnet 172\.17\.5\.0\/24 overlaps/);
    expect(await leftovers('sbxf')).toEqual([]);
    expect(existsSync(deploymentPaths({ prefix: 'sbxf', root: ROOT }).dir)).toBe(false);
  });

  it('down from a fresh process cleans up after create was killed with SIGKILL half way', async () => {
    const bundle = join(ROOT, '.cache', 'sandbox', 'test-sandbox.cjs');
    await build({ entryPoints: [join(ROOT, 'tools/sandbox/main.ts')], outfile: bundle, bundle: true, platform: 'node', format: 'cjs', logLevel: 'warning' });
    const prefix = 'sbxk';
    const p = deploymentPaths({ prefix, root: ROOT });
    const child = spawn('node', [bundle, 'up', '--prefix', prefix], { cwd: ROOT, stdio: 'ignore' });
    try {
      const started = await waitFor(async () => (loadState(p.state)?.containers.length ?? 0) >= 2, 120_000, 100);
      expect(started).toBe(true);
    } finally {
      child.kill('SIGKILL');
    }
    await new Promise((r) => child.once('exit', r));
    expect(loadState(p.state)?.complete).toBe(false);
    const r = await run('node', [bundle, 'down', '--prefix', prefix], { cwd: ROOT, timeoutMs: 300_000 });
    rmSync(bundle, { force: true });
    expect(r.code, r.stderr).toBe(0);
    expect(await leftovers(prefix)).toEqual([]);
    expect(existsSync(p.dir)).toBe(false);
  });
});

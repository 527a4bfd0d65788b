// Pure parts of the sandbox harness: recap parsing, inventory, subnets, image hash. No containers.
import { execFileSync } from 'node:child_process';
import { appendFileSync, cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { changedHosts } from '../../tools/sandbox/ansible';
import { mountsUnder } from '../../tools/sandbox/btrfs';
import { HOSTS, checkScale, extraDockerHosts, idleContainers, names, paths, subnetFor } from '../../tools/sandbox/config';
import { imageHash } from '../../tools/sandbox/image';
import { inventoryYaml } from '../../tools/sandbox/inventory';
import { cidrsOverlap } from '../../tools/sandbox/network';
import { parseRecap } from '../../tools/sandbox/recap';

const ROOT = join(__dirname, '..', '..');

const RECAP = `
PLAY [all] *********

TASK [x] ***********
changed: [manager-1]

PLAY RECAP *********************************************************************
backup-director            : ok=5    changed=0    unreachable=0    failed=0    skipped=1    rescued=0    ignored=0
manager-1                  : ok=7    changed=2    unreachable=0    failed=0    skipped=0    rescued=0    ignored=0
solr-1                     : ok=0    changed=0    unreachable=1    failed=0    skipped=0    rescued=0    ignored=0

`;

describe('recap', () => {
  it('parses every host line of the last PLAY RECAP', () => {
    const r = parseRecap(RECAP);
    expect(r.map((l) => l.host)).toEqual(['backup-director', 'manager-1', 'solr-1']);
    expect(r[1]).toMatchObject({ ok: 7, changed: 2, failed: 0 });
    expect(r[2]).toMatchObject({ unreachable: 1 });
  });
  it('flags a host with changed > 0 and only that one', () => {
    expect(changedHosts(parseRecap(RECAP)).map((l) => l.host)).toEqual(['manager-1']);
    expect(changedHosts(parseRecap(RECAP.replace('changed=2', 'changed=0')))).toEqual([]);
  });
  it('tolerates colour codes and returns nothing without a recap', () => {
    expect(parseRecap(`PLAY RECAP\n\x1b[0;33mmanager-1\x1b[0m : ok=1 \x1b[0;33mchanged=3\x1b[0m failed=0\n`)[0]?.changed).toBe(3);
    expect(parseRecap('ERROR! the playbook could not be found')).toEqual([]);
  });
});

describe('inventory', () => {
  it('the committed uat inventory is what the generator writes', () => {
    expect(readFileSync(join(ROOT, 'tests/sandbox/inventory/uat/hosts.yml'), 'utf8')).toBe(inventoryYaml('uat'));
  });
  it('no host variable is written twice (YAML would silently keep the last)', () => {
    const lines = inventoryYaml('uat').split('\n');
    let host = '';
    const seen = new Set<string>();
    for (const l of lines) {
      const hostLine = /^ {8}([\w-]+):$/.exec(l);
      if (hostLine) host = hostLine[1]!;
      const v = /^ {10}(\w+):/.exec(l);
      if (v) {
        const key = `${host}.${v[1]}`;
        expect(seen.has(key), key).toBe(false);
        seen.add(key);
      }
    }
    expect(seen.size).toBeGreaterThan(10);
  });
  it('ansible reads the prod inventory with the groups, hosts and vars of the contract', () => {
    const file = join(ROOT, '.cache', 'sandbox', 'unit-inventory-prod.yml');
    mkdirSync(join(ROOT, '.cache', 'sandbox'), { recursive: true });
    writeFileSync(file, inventoryYaml('prod'));
    const inv = JSON.parse(execFileSync('ansible-inventory', ['-i', file, '--list'], { encoding: 'utf8' })) as Record<string, any>;
    expect(inv.backup_director.hosts).toEqual(['backup-director']);
    expect(inv.backup_targets.hosts).toEqual(['backup-target']);
    expect(inv.backup_sources.hosts).toEqual(['manager-1', 'cassandra-1', 'solr-1']);
    expect(inv.docker_swarm.hosts).toEqual(['manager-1', 'cassandra-1']);
    const hv = inv._meta.hostvars;
    for (const h of ['backup-director', 'backup-target', 'manager-1', 'cassandra-1', 'solr-1']) {
      expect(hv[h].ansible_host).toBe(`prod-${h}`);
      expect(hv[h].deployment_prefix).toBe('prod');
      expect(hv[h].ansible_connection).toBe('community.docker.docker');
      expect(hv[h].backup_pause_deadline).toBe(30);
    }
    expect(hv['manager-1']).toMatchObject({ btrfs_backup_source: true, btrfs_backup_source_dir: '/docker', backup_snapshot_storage: 0 });
    expect(hv['solr-1']).toMatchObject({ btrfs_backup_source: true, btrfs_backup_source_dir: '/docker_local' });
    expect(hv['backup-target']).toMatchObject({ backup_data_device: '/var/lib/sbdi/backup-pool.img', backup_data_file_size: 4, backup_zfs_package: 'zfs-fuse' });
    rmSync(file);
  });
  it('only a deployment asking for it gets the off-site remote (group backup_remotes, retention, schedule)', () => {
    expect(inventoryYaml('uat')).not.toMatch(/backup_remotes|backup-remote|backup_keep_|backup_schedule/);
    const file = join(ROOT, '.cache', 'sandbox', 'unit-inventory-ops.yml');
    mkdirSync(join(ROOT, '.cache', 'sandbox'), { recursive: true });
    writeFileSync(file, inventoryYaml('ops', { remote: true }));
    const inv = JSON.parse(execFileSync('ansible-inventory', ['-i', file, '--list'], { encoding: 'utf8' })) as Record<string, any>;
    rmSync(file);
    expect(inv.backup_remotes.hosts).toEqual(['backup-remote']);
    const hv = inv._meta.hostvars;
    expect(hv['backup-remote']).toMatchObject({ ansible_host: 'ops-backup-remote', backup_data_device: '/var/lib/sbdi/backup-pool.img', backup_zfs_package: 'zfs-fuse', backup_replica_keep_last: 2 });
    expect(hv['backup-target']).toMatchObject({ backup_keep_last: 2 });
    expect(hv['backup-director']).toMatchObject({ backup_schedule_enabled: true });
  });
  it('a scaled deployment lists its light docker hosts in group docker (not the swarm) and sizes the pool', () => {
    expect(inventoryYaml('uat')).not.toMatch(/docker-3|\n {4}docker:/);
    const extra = extraDockerHosts({ dockerHosts: 5, containersPerHost: 20 });
    expect(extra.map((h) => [h.name, h.octet])).toEqual([['docker-3', 33], ['docker-4', 34], ['docker-5', 35]]);
    expect(idleContainers(HOSTS.find((h) => h.name === 'manager-1')!, { dockerHosts: 5, containersPerHost: 20 })).toBe(17);
    expect(idleContainers(extra[0]!, { dockerHosts: 5, containersPerHost: 20 })).toBe(20);
    expect(idleContainers(extra[0]!, undefined)).toBe(0);
    expect(() => checkScale({ dockerHosts: 21, containersPerHost: 20 })).toThrow(/dockerHosts 21: must be a whole number from 2 to 20/);
    expect(() => checkScale({ dockerHosts: 5, containersPerHost: 2.5 })).toThrow(/containersPerHost 2.5/);
    const file = join(ROOT, '.cache', 'sandbox', 'unit-inventory-scaled.yml');
    mkdirSync(join(ROOT, '.cache', 'sandbox'), { recursive: true });
    writeFileSync(file, inventoryYaml('bnx', { extraDockerHosts: extra.map((h) => h.name), targetPoolGiB: 6 }));
    const inv = JSON.parse(execFileSync('ansible-inventory', ['-i', file, '--list'], { encoding: 'utf8' })) as Record<string, any>;
    rmSync(file);
    expect(inv.docker.hosts).toEqual(['docker-3', 'docker-4', 'docker-5']);
    expect(inv.docker_swarm.hosts).toEqual(['manager-1', 'cassandra-1']);
    expect(inv._meta.hostvars['docker-4']).toMatchObject({ ansible_host: 'bnx-docker-4' });
    expect(inv._meta.hostvars['backup-target']).toMatchObject({ backup_data_file_size: 6 });
  });
  it('a deployment with VMs adds lvm-1 and gluster-1, reached over ssh at their addresses, and the plan takes them as LVM and Gluster sources', () => {
    expect(inventoryYaml('uat')).not.toMatch(/lvm|gluster/);
    expect(() => inventoryYaml('vmu', { vms: {} })).toThrow(/no address for VM host lvm-1/);
    const vms = { 'lvm-1': { addr: '10.231.9.31', key: '/k/id_ed25519' }, 'gluster-1': { addr: '10.231.9.32', key: '/k/id_ed25519' } };
    const dir = mkdtempSync(join(tmpdir(), 'sbdi-vm-inventory-'));
    try {
      const file = join(dir, 'hosts.yml');
      writeFileSync(file, inventoryYaml('vmu', { vms }));
      const inv = JSON.parse(execFileSync('ansible-inventory', ['-i', file, '--list'], { encoding: 'utf8' })) as Record<string, any>;
      expect(inv.backup_sources.hosts).toEqual(['manager-1', 'cassandra-1', 'solr-1', 'lvm-1', 'gluster-1']);
      expect(inv.docker_swarm.hosts).toEqual(['manager-1', 'cassandra-1']);
      const hv = inv._meta.hostvars;
      expect(hv['lvm-1']).toMatchObject({ ansible_host: '10.231.9.31', ansible_connection: 'ssh', ansible_user: 'root', ansible_ssh_private_key_file: '/k/id_ed25519', lvm_backup_source: true, backup_snapshot_storage: 1 });
      expect(hv['gluster-1']).toMatchObject({ ansible_host: '10.231.9.32', ansible_connection: 'ssh', gluster_backup_source: true, backup_snapshot_storage: 0 });
      expect(hv['manager-1']).toMatchObject({ ansible_connection: 'community.docker.docker', backup_pause_deadline: 240 });
      execFileSync(process.execPath, [join(ROOT, 'dist', 'sbdi-backup.cjs'), 'render', '-i', file, '--out', join(dir, 'out'), '--director-bundle', '/dev/null'], { stdio: 'pipe' });
      const host = (h: string): any => JSON.parse(readFileSync(join(dir, 'out', h, 'host.json'), 'utf8'));
      expect(host('lvm-1').source).toMatchObject({ backend: 'lvm', liveDir: '/docker_local' });
      expect(host('gluster-1').source).toMatchObject({ backend: 'gluster', liveDir: '/docker' });
      const known = host('backup-director').knownHosts.hosts as Array<{ host: string; connection: string; port: number }>;
      expect(known.find((k) => k.host === 'lvm-1')).toMatchObject({ connection: '10.231.9.31', port: 22 });
      expect(known.find((k) => k.host === 'gluster-1')).toMatchObject({ connection: '10.231.9.32', port: 22 });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('mounts', () => {
  it('a mount is found through a symlinked path (a worktree .cache links to the main checkout)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sbdi-mounts-'));
    try {
      symlinkSync('/', join(dir, 'root'));
      expect(mountsUnder(join(dir, 'root', 'proc'))).toContain('/proc');
      expect(mountsUnder(join(dir, 'absent'))).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('config', () => {
  it('uat and prod get fixed, disjoint subnets; other prefixes a stable derived one', () => {
    expect(subnetFor('uat')).toBe('10.231.1.0/24');
    expect(subnetFor('prod')).toBe('10.231.2.0/24');
    expect(cidrsOverlap(subnetFor('uat'), subnetFor('prod'))).toBe(false);
    expect(subnetFor('sbxt')).toBe(subnetFor('sbxt'));
    expect(subnetFor('sbxt')).toMatch(/^10\.231\.(\d+)\.0\/24$/);
    expect(cidrsOverlap('10.231.0.0/16', '10.231.7.0/24')).toBe(true);
    expect(cidrsOverlap('172.17.0.0/16', '10.231.7.0/24')).toBe(false);
  });
  it('names carry the prefix; bad prefixes are refused', () => {
    const n = names('prod');
    expect(n.container('manager-1')).toBe('prod-manager-1');
    expect(n.network).toBe('prod-sbdi-sandbox');
    expect(() => names('Prod')).toThrow(/prefix "Prod"/);
    expect(() => names('a-b')).toThrow(/prefix/);
  });
  it('the image tag changes with the package list', () => {
    const h = imageHash(paths('uat', ROOT).assets);
    expect(h).toMatch(/^[0-9a-f]{12}$/);
    expect(imageHash(paths('uat', ROOT).assets)).toBe(h);
    const copy = mkdtempSync(join(tmpdir(), 'sbdi-assets-'));
    try {
      cpSync(paths('uat', ROOT).assets, copy, { recursive: true });
      expect(imageHash(copy)).toBe(h);
      appendFileSync(join(copy, 'packages.txt'), 'jq\n');
      expect(imageHash(copy)).not.toBe(h);
    } finally {
      rmSync(copy, { recursive: true, force: true });
    }
  });
});

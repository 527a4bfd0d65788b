// playbooks/backup.yml on real hosts (a sandbox deployment of its own, prefix `ansr`): converge, a
// second run with changed=0, the installed operator works over ssh, and a changed inventory
// reconfigures every affected host and removes what no longer belongs (a source that becomes a
// plain docker host; a host that leaves every backup group but stays in the inventory); then back.
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import yaml from 'js-yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DOCKER, debianFirstPath, run } from '../../tools/sandbox/exec';
import { linkCollection } from '../../tools/sandbox/ansible';
import { parseRecap, type RecapLine } from '../../tools/sandbox/recap';
import { create, deploymentPaths, destroy } from '../../tools/sandbox/steps';

const ROOT = join(__dirname, '..', '..');
const PREFIX = 'ansr';
const opts = { prefix: PREFIX, root: ROOT, log: () => undefined };
const PLAY_TIMEOUT = 900_000;

let work: string;
let inventory: string;
/** The CLI, director bundle and templates, copied once: others rebuilding dist/ meanwhile must not change the rendering between runs. */
let frozen: string;

async function playbook(inv: string): Promise<{ code: number; out: string; recap: RecapLine[] }> {
  const r = await run('ansible-playbook', [
    '-i', inv, 'playbooks/backup.yml',
    '-e', `sbdi_backup_cli=${join(frozen, 'dist', 'sbdi-backup.cjs')}`,
    '-e', `sbdi_backup_director_bundle=${join(frozen, 'dist', 'director.cjs')}`,
  ], {
    cwd: ROOT,
    timeoutMs: PLAY_TIMEOUT,
    env: {
      ...process.env,
      PATH: debianFirstPath(),
      ANSIBLE_NOCOLOR: '1',
      ANSIBLE_FORCE_COLOR: '0',
      ANSIBLE_RETRY_FILES_ENABLED: 'False',
      ANSIBLE_PIPELINING: 'True',
    },
  });
  return { code: r.code, out: r.stdout + r.stderr, recap: parseRecap(r.stdout) };
}

function expectConverged(r: { code: number; out: string; recap: RecapLine[] }, hosts: string[]): void {
  expect(r.code, r.out.slice(-6000)).toBe(0);
  expect(r.recap.map((l) => l.host).sort()).toEqual([...hosts].sort());
  for (const l of r.recap) expect(l.failed + l.unreachable, l.host).toBe(0);
}

function expectNoChange(r: { code: number; out: string; recap: RecapLine[] }): void {
  expect(r.code, r.out.slice(-6000)).toBe(0);
  const changed = r.recap.filter((l) => l.changed > 0).map((l) => `${l.host}: changed=${l.changed}`);
  expect(changed, r.out.split('\n').filter((l) => /^changed:/.test(l)).join('\n')).toEqual([]);
}

function sh(host: string, script: string): string {
  return execFileSync(DOCKER, ['exec', `${PREFIX}-${host}`, 'bash', '-euo', 'pipefail', '-c', script], { encoding: 'utf8', timeout: 60_000 });
}

/** The target role's one store task, as ansible-playbook reports it for the target. */
const SETUP_TASK = String.raw`TASK \[(?:sbdi\.backup\.)?target : Create or import the backup store\] \**\n`;
const SETUP_CHANGED = new RegExp(`${SETUP_TASK}changed: \\[backup-target\\]`);
const SETUP_UNCHANGED = new RegExp(`${SETUP_TASK}ok: \\[backup-target\\]`);

const exists = (host: string, path: string): boolean => sh(host, `test -e ${path} && echo yes || echo no`).trim() === 'yes';

type Inv = { all: { children: Record<string, { hosts: Record<string, Record<string, unknown> | null> }> } };

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'sbdi-ansible-reconfigure-'));
  // `npm test` builds first; rebuilding here could rewrite dist/ under a test running beside this one.
  if (!existsSync(join(ROOT, 'dist', 'director.cjs'))) {
    const build = await run('npm', ['run', 'build', '--silent'], { cwd: ROOT, timeoutMs: 300_000 });
    if (build.code !== 0) throw new Error(`npm run build failed: ${build.stderr}`);
  }
  linkCollection(ROOT);
  frozen = join(work, 'frozen');
  mkdirSync(join(frozen, 'dist'), { recursive: true });
  for (const f of ['sbdi-backup.cjs', 'director.cjs']) cpSync(join(ROOT, 'dist', f), join(frozen, 'dist', f));
  cpSync(join(ROOT, 'templates'), join(frozen, 'templates'), { recursive: true });
  await destroy(opts);
  await create(opts);
  inventory = deploymentPaths(opts).inventory;
}, 900_000);

afterAll(async () => {
  await destroy(opts);
  if (work) rmSync(work, { recursive: true, force: true });
}, 300_000);

describe('playbooks/backup.yml on real hosts', () => {
  const all = ['backup-director', 'backup-target', 'cassandra-1', 'manager-1', 'solr-1'];

  it('converges, then a second run changes nothing', async () => {
    const first = await playbook(inventory);
    expectConverged(first, all);
    expect(first.out).toMatch(SETUP_CHANGED);
    // The role made the store (zfs-fuse, on a sparse file): root 0755, current and manifests root's alone.
    expect(sh('backup-target', 'zpool list -H -o name backup; stat -c "%a %U" /backup /backup/current /backup/manifests').trim().split('\n'))
      .toEqual(['backup', '755 root', '700 root', '700 root']);
    expect(sh('backup-target', 'zfs get -H -o value atime,setuid,devices,exec backup').trim().split('\n')).toEqual(['off', 'off', 'off', 'off']);
    expect(sh('backup-target', 'grep -cx enable-xattr /etc/zfs/zfsrc').trim()).toBe('1');
    const again = await playbook(inventory);
    expectNoChange(again);
    expect(again.out).toMatch(SETUP_UNCHANGED);
  }, 2 * PLAY_TIMEOUT);

  it('imports the pool it finds, never making a new one over it (as after a reboot)', async () => {
    const guid = sh('backup-target', 'zfs get -H -o value guid backup').trim();
    sh('backup-target', 'echo kept >/backup/manifests/store-marker && zpool export backup');
    const r = await playbook(inventory);
    expectConverged(r, all);
    expect(r.out).toMatch(SETUP_CHANGED);
    expect(sh('backup-target', 'zfs get -H -o value guid backup').trim()).toBe(guid);
    expect(sh('backup-target', 'cat /backup/manifests/store-marker && rm /backup/manifests/store-marker').trim()).toBe('kept');
    // The next run leaves the imported store alone: the reconfiguration below checks it, first.
  }, 3 * PLAY_TIMEOUT);

  it('installs an operator that can only run capsules, through keys and host keys the roles put in place', () => {
    for (const h of all) {
      expect(sh(h, 'getent passwd backupoperator').trim()).toBe('backupoperator:x:1901:1901::/home/backupoperator:/bin/bash');
      expect(sh(h, 'getent shadow backupoperator').split(':')[1]).toBe('!');
    }
    for (const h of all.filter((x) => x !== 'backup-director')) {
      expect(sh(h, 'stat -c "%U %G %a" /etc/sudoers.d/43-sbdi-backup').trim()).toBe('root root 440');
      expect(sh(h, 'stat -c "%U %G %a" /home/backupoperator/.ssh/authorized_keys').trim()).toBe('root root 644');
      // Its .ssh is root's: the operator cannot put keys of its own in place of the file.
      expect(sh(h, 'stat -c "%U %G %a" /home/backupoperator/.ssh').trim()).toBe('root root 755');
      expect(sh(h, "su - backupoperator -c 'mv ~/.ssh/authorized_keys ~/.ssh/x || touch ~/.ssh/authorized_keys2 || echo REFUSED' 2>/dev/null").trim()).toBe('REFUSED');
      expect(sh(h, 'cat /home/backupoperator/.ssh/authorized_keys')).not.toContain('@@KEY:');
      expect(sh(h, 'find /opt/sbdi -type f ! -user root -o -type f -perm /022 | wc -l').trim()).toBe('0');
    }
    const asOperator = (cmd: string) => run(DOCKER, ['exec', `${PREFIX}-backup-director`, 'su', '-', 'backupoperator', '-c', cmd]);
    return Promise.all([
      asOperator(`ssh -o BatchMode=yes -o StrictHostKeyChecking=yes ${PREFIX}-manager-1 docker_status`).then((r) => {
        expect(r.stdout, r.stderr).toMatch(/SBDI-RESULT \{"ok":true/);
      }),
      asOperator(`ssh -o BatchMode=yes -o StrictHostKeyChecking=yes ${PREFIX}-solr-1 id`).then((r) => {
        expect(r.code).toBe(126);
      }),
      run(DOCKER, ['exec', `${PREFIX}-cassandra-1`, 'ssh', '-i', '/etc/sbdi/backup/push_ed25519', '-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=yes',
        '-o', 'UserKnownHostsFile=/etc/sbdi/backup/known_hosts', `sbdi-receive@${PREFIX}-backup-target`, 'id']).then((r) => {
        // The push key is confined to rrsync into its own tree: a plain command is refused.
        expect(r.code).not.toBe(0);
        expect(r.stderr).not.toMatch(/Host key verification failed|Permission denied/);
      }),
    ]);
  });

  it('reconfigures on an inventory change and removes what no longer belongs, then restores it', async () => {
    const inv = yaml.load(readFileSync(inventory, 'utf8')) as Inv;
    const groups = inv.all.children;
    const solr = groups.backup_sources!.hosts['solr-1']!;
    const cassandra = groups.backup_sources!.hosts['cassandra-1']!;
    // cassandra-1 stops being a source but stays a docker host; solr-1 leaves every backup group
    // and stays in the inventory.
    delete groups.backup_sources!.hosts['solr-1'];
    delete groups.backup_sources!.hosts['cassandra-1'];
    groups.docker_swarm!.hosts['cassandra-1'] = { ansible_host: cassandra.ansible_host };
    groups.platform = { hosts: { 'solr-1': { ansible_host: solr.ansible_host } } };
    const smaller = join(work, 'smaller.yml');
    writeFileSync(smaller, yaml.dump(inv));

    const first = await playbook(smaller);
    expectConverged(first, all);
    // The first run after the import above: the store it imported is left as it is.
    expect(first.out).toMatch(SETUP_UNCHANGED);
    expect(exists('solr-1', '/etc/sudoers.d/43-sbdi-backup')).toBe(false);
    expect(exists('solr-1', '/home/backupoperator/.ssh/authorized_keys')).toBe(false);
    expect(exists('solr-1', '/opt/sbdi/backup/libexec')).toBe(false);
    expect(exists('solr-1', '/etc/sbdi/backup/push_ed25519')).toBe(false);
    expect(exists('cassandra-1', '/opt/sbdi/backup/libexec/prepare_source_snapshot')).toBe(false);
    expect(exists('cassandra-1', '/opt/sbdi/backup/libexec/pause_containers')).toBe(true);
    expect(exists('cassandra-1', '/etc/sbdi/backup')).toBe(false);
    expect(sh('cassandra-1', 'cat /etc/sudoers.d/43-sbdi-backup')).not.toContain('prepare_source_snapshot');
    const targetKeys = sh('backup-target', 'cat /var/lib/sbdi-receive/.ssh/authorized_keys');
    expect(targetKeys).toContain('push manager-1');
    expect(targetKeys).not.toMatch(/cassandra-1|solr-1/);
    expect(sh('backup-director', 'cat /home/backupoperator/.ssh/known_hosts')).not.toContain(`${PREFIX}-solr-1`);
    expectNoChange(await playbook(smaller));

    // Back to the full inventory: everything returns, and a second run is again a no-op.
    expectConverged(await playbook(inventory), all);
    expect(exists('solr-1', '/etc/sudoers.d/43-sbdi-backup')).toBe(true);
    expect(exists('cassandra-1', '/etc/sbdi/backup/push_ed25519')).toBe(true);
    expect(sh('backup-target', 'cat /var/lib/sbdi-receive/.ssh/authorized_keys')).toMatch(/push solr-1/);
    expectNoChange(await playbook(inventory));
  }, 6 * PLAY_TIMEOUT);
});

// Restores on real hosts: two sandbox deployments (`rst` and `prd`), installed by the playbook.
//  - preflight refusals; --dry-run changes nothing; --only HOST:PATH restores one path exactly and
//    nothing else; a full restore gives back the fidelity matrix (tests/storage/make-tree.sh);
//  - a backup taken in prd restores into rst with --from prod (prd's pool file copied to rst's
//    target, no network between the deployments), trees equal;
//  - least privilege: every key misused from its own host is refused, committed backups stay
//    unchanged; `sudo -l -U backupoperator` lists only the host's capsules.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HOSTS } from '../../tools/sandbox/config';
import { DOCKER, run, type RunResult } from '../../tools/sandbox/exec';
import { converge, create, deploymentPaths, destroy } from '../../tools/sandbox/steps';

const ROOT = join(__dirname, '..', '..');
const RST = 'rst';
const PRD = 'prd';
const logs: string[] = [];
const opts = (prefix: string) => ({ prefix, root: ROOT, log: (m: string) => logs.push(`[${prefix}] ${m}`) });
const TREELIST = readFileSync(join(ROOT, 'tests', 'storage', 'treelist.py'), 'utf8');
const MAKE_TREE = readFileSync(join(ROOT, 'tests', 'storage', 'make-tree.sh'), 'utf8');
const SOURCES = HOSTS.filter((h) => h.sourceDir !== undefined).map((h) => ({ host: h.name, dir: h.sourceDir!, tree: `${h.name}@${h.sourceDir!.replace(/\//g, '+')}` }));
const LIBEXEC = '/opt/sbdi/backup/libexec';
const FOREIGN_FILE = '/var/lib/sbdi/foreign/prod/backup-pool.img';

/** Runs bash in a container (as root unless user is given); never throws. */
function sh(prefix: string, host: string, script: string, o: { user?: string; input?: string; timeoutMs?: number } = {}): Promise<RunResult> {
  const args = ['exec', '-i', ...(o.user ? ['-u', o.user, '-w', `/home/${o.user}`] : []), `${prefix}-${host}`, 'bash', '-o', 'pipefail', '-c', script];
  return run(DOCKER, args, { input: o.input ?? '', timeoutMs: o.timeoutMs ?? 300_000 });
}

async function must(prefix: string, host: string, script: string, input?: string): Promise<string> {
  const r = await sh(prefix, host, `set -eu; ${script}`, { input });
  if (r.code !== 0) throw new Error(`${prefix}-${host}: ${script} exited ${r.code}: ${r.stderr}${r.stdout}`);
  return r.stdout;
}

/** An operator command on the director, as backupoperator. */
async function op(prefix: string, command: string, ...args: string[]): Promise<RunResult> {
  const r = await run(DOCKER, ['exec', '-u', 'backupoperator', '-w', '/home/backupoperator', '-e', 'SBDI_NO_SYSLOG=1', `${prefix}-backup-director`, `/opt/sbdi/backup/bin/${command}`, ...args], {
    timeoutMs: 900_000,
  });
  logs.push(`[${prefix}] $ ${command} ${args.join(' ')} → ${r.code}\n${r.stdout}${r.stderr}`);
  return r;
}

async function opOk(prefix: string, command: string, ...args: string[]): Promise<RunResult> {
  const r = await op(prefix, command, ...args);
  if (r.code !== 0) throw new Error(`${command} ${args.join(' ')} exited ${r.code}:\n${r.stdout}\n${r.stderr}`);
  return r;
}

/** Canonical listing; zfs-fuse keeps whole-second mtimes and reports no holes. */
function listing(prefix: string, host: string, dir: string): Promise<string> {
  // The store keeps symlinks munged (receive_backup: rrsync -munge); restores un-munge them.
  return must(prefix, host, `python3 - --no-holes --mtime-seconds --unmunge --exclude .sbdi-snapshot --exclude .sbdi-snapshot.base ${dir}`, TREELIST);
}

/** Listings of a backup's trees (or one path in them), read through the target's own activation. */
async function backupListings(prefix: string, id: string, sub: Record<string, string> = {}): Promise<Map<string, string>> {
  await must(prefix, 'backup-target', `${LIBEXEC}/activate_backup ${id} >/dev/null`);
  try {
    const out = new Map<string, string>();
    for (const s of SOURCES) out.set(s.host, await listing(prefix, 'backup-target', `/backup/restore/${s.tree}${sub[s.host] ? `/${sub[s.host]}` : ''}`));
    return out;
  } finally {
    await must(prefix, 'backup-target', `${LIBEXEC}/deactivate_backup >/dev/null`);
  }
}

async function latestId(prefix: string): Promise<string> {
  const r = await opOk(prefix, 'list_backups', '--json');
  const id = (JSON.parse(r.stdout) as { id: string; status: string }[]).filter((b) => b.status === 'complete').map((b) => b.id).sort().pop();
  if (!id) throw new Error(`no complete backup in ${prefix}`);
  return id;
}

function firstDiff(a: string, b: string): string {
  const la = a.split('\n');
  const lb = b.split('\n');
  for (let i = 0; i < Math.max(la.length, lb.length); i++) if (la[i] !== lb[i]) return `line ${i + 1}:\n- ${la[i]}\n+ ${lb[i]}`;
  return '';
}

async function snapshots(prefix: string): Promise<string> {
  return must(prefix, 'backup-target', 'zfs list -H -t snapshot -o name,guid,referenced');
}

let id1 = '';

beforeAll(async () => {
  await Promise.all([destroy(opts(RST)), destroy(opts(PRD))]);
  // On a loaded machine a host can miss sandbox-init's 30 s: try again (create cleans up first).
  const createRetrying = async (prefix: string): Promise<void> => {
    for (let attempt = 1; ; attempt++) {
      try {
        await create(opts(prefix));
        return;
      } catch (e) {
        if (attempt >= 3 || !/did not finish within/.test((e as Error).message)) throw e;
        logs.push(`[${prefix}] create attempt ${attempt} failed, retrying: ${(e as Error).message}`);
      }
    }
  };
  await createRetrying(RST);
  await createRetrying(PRD);
  // rst's target may restore from prd's store once it is made available at FOREIGN_FILE.
  const inv = deploymentPaths(opts(RST)).inventory;
  mkdirSync(join(inv, '..', 'host_vars'), { recursive: true });
  writeFileSync(join(inv, '..', 'host_vars', 'backup-target.yml'), `backup_foreign_stores:\n  prod: ${FOREIGN_FILE}\n`);
  await converge(opts(RST));
  await converge(opts(PRD));
  // The fidelity matrix in a service directory of manager-1 in both deployments (seed 1 / 2).
  for (const [prefix, seed] of [[RST, 1], [PRD, 2]] as const) {
    await must(prefix, 'manager-1', `mkdir -p /docker/fidelity && bash -s /docker/fidelity ${seed}`, MAKE_TREE);
  }
  await new Promise((r) => setTimeout(r, 1100)); // rsync compares whole seconds (docs/storage.md)
}, 1_800_000);

afterAll(async () => {
  if (process.env.SBDI_KEEP_SANDBOX !== '1') await Promise.all([destroy(opts(RST)), destroy(opts(PRD))]);
  if (process.env.SBDI_TEST_LOG) writeFileSync(process.env.SBDI_TEST_LOG, logs.join('\n'));
}, 600_000);

describe('restore as operators need it (rst)', () => {
  it('refuses while docker runs, for unknown backups, paths not in the backup and bad selectors', async () => {
    await opOk(RST, 'perform_backup');
    id1 = await latestId(RST);
    const running = await op(RST, 'restore_backup', id1);
    expect(running.code).toBe(20);
    expect(running.stdout + running.stderr).toMatch(/docker is running on .*run stop_docker first/);
    expect((await op(RST, 'restore_backup', '20000101_000000')).code).toBe(21);
    await opOk(RST, 'stop_docker');
    const missing = await op(RST, 'restore_backup', id1, '--only', 'manager-1:/docker/no-such-service');
    expect(missing.code).toBe(21);
    expect(missing.stdout + missing.stderr).toMatch(/has no 'no-such-service'/);
    for (const bad of ['manager-1:../etc', 'manager-1:/etc', 'manager-1:/docker/../etc', 'backup-target', 'manager-1:a b']) {
      expect((await op(RST, 'restore_backup', id1, '--only', bad)).code, bad).toBe(2);
    }
    expect((await op(RST, 'restore_backup', id1, '--from', 'nowhere')).code).toBe(2);
  }, 900_000);

  it('--dry-run lists per host what would change and changes nothing', async () => {
    await must(RST, 'manager-1', 'echo changed >/docker/fidelity/data/text/file-1.txt; rm -rf /docker/fidelity/links; chmod 0700 /docker/fidelity/data; echo new >/docker/portal/after-backup.txt');
    await must(RST, 'cassandra-1', 'echo new >/docker_local/added-after-backup.txt');
    const before = await Promise.all(SOURCES.map((s) => listing(RST, s.host, s.dir)));
    const r = await opOk(RST, 'restore_backup', id1, '--dry-run');
    expect(r.stdout).toMatch(/would change \(dry run, nothing was changed\)/);
    expect(r.stdout).toMatch(/manager-1: \d+ changes \(\d+ new, \d+ changed, \d+ deleted\)/);
    expect(r.stdout).toMatch(/cassandra-1: \d+ changes/);
    expect(r.stdout).toMatch(/\*deleting +added-after-backup\.txt/);
    expect(r.stdout).toMatch(/fidelity\/links\/pair-1/);
    const partial = await opOk(RST, 'restore_backup', id1, '--dry-run', '--only', 'manager-1:/docker/fidelity');
    expect(partial.stdout).toMatch(/manager-1\/fidelity: \d+ changes/);
    expect(partial.stdout).not.toMatch(/after-backup|cassandra-1:/);
    const after = await Promise.all(SOURCES.map((s) => listing(RST, s.host, s.dir)));
    expect(after).toEqual(before);
  }, 900_000);

  it('--only HOST:PATH restores that path exactly (fidelity matrix) and touches nothing else', async () => {
    const otherBefore = await listing(RST, 'cassandra-1', '/docker_local');
    const portalBefore = await listing(RST, 'manager-1', '/docker/portal');
    await opOk(RST, 'restore_backup', id1, '--only', 'manager-1:/docker/fidelity');
    const expected = (await backupListings(RST, id1, { 'manager-1': 'fidelity' })).get('manager-1')!;
    const actual = await listing(RST, 'manager-1', '/docker/fidelity');
    expect(firstDiff(expected, actual)).toBe('');
    expect(expected.split('\n').length).toBeGreaterThan(100);
    expect(await listing(RST, 'cassandra-1', '/docker_local')).toBe(otherBefore);
    expect(await listing(RST, 'manager-1', '/docker/portal')).toBe(portalBefore);
    // A single file, and a whole source.
    await must(RST, 'manager-1', 'echo again >/docker/fidelity/data/text/file-2.txt');
    await opOk(RST, 'restore_backup', id1, '--only', 'manager-1:fidelity/data/text/file-2.txt');
    expect(await listing(RST, 'manager-1', '/docker/fidelity')).toBe(expected);
    await opOk(RST, 'restore_backup', id1, '--only', 'cassandra-1');
    expect(await listing(RST, 'manager-1', '/docker/portal')).toBe(portalBefore);
  }, 900_000);

  it('a full restore gives every tree back exactly', async () => {
    await must(RST, 'solr-1', 'rm -rf /docker_local/seed');
    await opOk(RST, 'restore_latest_backup');
    const expected = await backupListings(RST, id1);
    for (const s of SOURCES) expect(firstDiff(expected.get(s.host)!, await listing(RST, s.host, s.dir)), s.host).toBe('');
  }, 900_000);

  it('a full restore into emptied live dirs (a new disk) copies without checksums and gives every tree back exactly', async () => {
    // A btrfs source's snapshot directory and its bases stay (never backed up or restored): they
    // must not count as something to compare with.
    for (const s of SOURCES) await must(RST, s.host, `find ${s.dir} -mindepth 1 -maxdepth 1 ! -name .sbdi-snapshot ! -name .sbdi-snapshot.base -exec rm -rf {} +; [ -z "$(ls -A ${s.dir} | grep -vx -e .sbdi-snapshot -e .sbdi-snapshot.base)" ]`);
    await opOk(RST, 'restore_latest_backup');
    const expected = await backupListings(RST, id1);
    for (const s of SOURCES) {
      expect(firstDiff(expected.get(s.host)!, await listing(RST, s.host, s.dir)), s.host).toBe('');
      // restore_source said why it left out --checksum (grep exits 1 on no match: must throws).
      await must(RST, s.host, `grep -F '${s.dir} holds no files: nothing to compare, restoring without checksums' /var/log/messages`);
    }
  }, 900_000);
});

describe('restore into another deployment: a prd backup into rst (--from prod)', () => {
  it('restores prd’s backup from its pool made available to rst’s target; trees equal', async () => {
    await opOk(PRD, 'perform_backup');
    const prdId = await latestId(PRD);
    const expected = await backupListings(PRD, prdId);
    // "Attach prod's backup volume to uat's target": a copy of the pool file, exported first so
    // it is consistent (prd's next capsule imports its pool again).
    await must(PRD, 'backup-target', 'zpool export backup');
    const dir = FOREIGN_FILE.replace(/\/[^/]+$/, '');
    await must(RST, 'backup-target', `mkdir -p ${dir}`);
    execFileSync('bash', ['-o', 'pipefail', '-c', `${DOCKER} exec ${PRD}-backup-target tar -C /var/lib/sbdi -cSf - backup-pool.img | ${DOCKER} exec -i ${RST}-backup-target tar -C ${dir} -xSf -`], { timeout: 600_000 });
    const dry = await opOk(RST, 'restore_latest_backup', '--from', 'prod', '--dry-run');
    expect(dry.stdout).toMatch(new RegExp(`dry run of backup ${prdId} of foreign store prod`));
    const r = await opOk(RST, 'restore_latest_backup', '--from', 'prod');
    expect(r.stdout).toMatch(new RegExp(`backup ${prdId} of foreign store prod restored in`));
    for (const s of SOURCES) expect(firstDiff(expected.get(s.host)!, await listing(RST, s.host, s.dir)), s.host).toBe('');
    // Detached again; rst's own store and backups are untouched and prd's pool still works.
    expect(await must(RST, 'backup-target', 'zpool list -H -o name')).toBe('backup\n');
    expect(await latestId(RST)).toBe(id1);
    expect(await latestId(PRD)).toBe(prdId);
    // A partial restore from the foreign store too.
    await must(RST, 'manager-1', 'rm -rf /docker/fidelity/symlinks');
    await opOk(RST, 'restore_latest_backup', '--from', 'prod', '--only', 'manager-1:/docker/fidelity');
    expect(firstDiff(expected.get('manager-1')!, await listing(RST, 'manager-1', '/docker'))).toBe('');
  }, 1_200_000);
});

describe('least privilege (rst)', () => {
  const sshOpts = '-p 22 -o IdentitiesOnly=yes -o BatchMode=yes -o StrictHostKeyChecking=yes -o UserKnownHostsFile=/etc/sbdi/backup/known_hosts';
  const target = `sbdi-receive@${RST}-backup-target`;

  it('every misuse of a source key is refused and committed backups stay unchanged', async () => {
    const before = await snapshots(RST);
    const tmp = await must(RST, 'backup-target', 'ls -la /tmp /root; ls /backup');
    for (const s of SOURCES) {
      const push = `ssh -i /etc/sbdi/backup/push_ed25519 ${sshOpts}`;
      const pull = `ssh -i /etc/sbdi/backup/pull_ed25519 ${sshOpts}`;
      const other = SOURCES.find((o) => o.host !== s.host)!;
      const attempts: Record<string, string> = {
        'push: plain command': `${push} ${target} id`,
        'push: a shell': `${push} ${target} bash -c true`,
        'push: zfs destroy': `${push} ${target} zfs destroy -r backup/current@${id1}`,
        'push: read its own tree': `rsync -a -e "${push}" ${target}: /tmp/stolen/`,
        'push: write outside its tree (..)': `mkdir -p /tmp/x && echo x >/tmp/x/f && rsync -a -e "${push}" /tmp/x/ ${target}:../escaped/`,
        'push: write into another source tree': `rsync -a -e "${push}" /tmp/x/ ${target}:../${other.tree}/`,
        'push: write to an absolute path': `rsync -a -e "${push}" /tmp/x/ ${target}:/tmp/escaped/`,
        'push: rsync server with a foreign command': `${push} ${target} 'rsync --server -e.LsfxCIvu . /etc'`,
        'pull: write': `rsync -a -e "${pull}" /tmp/x/ ${target}:`,
        'pull: read outside (..)': `rsync -a -e "${pull}" ${target}:../ /tmp/stolen/`,
        'pull: plain command': `${pull} ${target} id`,
        'pull: delete snapshots': `${pull} ${target} zfs destroy backup/current@${id1}`,
        'pull: agent forwarding': `${pull} -A ${target} 'echo $SSH_AUTH_SOCK'`,
        // The source keys log in as the receiving account only, never as the operator.
        'push: as the operator': `${push} backupoperator@${RST}-backup-target id`,
        'pull: as the operator': `${pull} backupoperator@${RST}-backup-target id`,
      };
      for (const [what, cmd] of Object.entries(attempts)) {
        const r = await sh(RST, s.host, cmd, { timeoutMs: 60_000 });
        expect(r.code, `${s.host} ${what}: ${r.stdout}${r.stderr}`).not.toBe(0);
      }
      // A symlink pushed into its own tree cannot carry a later write out of it: without
      // rrsync -munge, `rsync -R --no-implied-dirs evil/pwned` wrote /root/pwned on the target.
      await must(RST, s.host, `rm -rf /tmp/ln /tmp/ln2 && mkdir -p /tmp/ln /tmp/ln2/evil && ln -s /root /tmp/ln/evil && echo pwned >/tmp/ln2/evil/pwned`);
      expect((await sh(RST, s.host, `rsync -a -e "${push}" /tmp/ln/evil ${target}:`, { timeoutMs: 60_000 })).code).toBe(0);
      expect(await must(RST, 'backup-target', `readlink /backup/current/${s.tree}/evil`)).toBe('/rsyncd-munged//root\n');
      const escape = await sh(RST, s.host, `cd /tmp/ln2 && rsync -aR --no-implied-dirs -e "${push}" evil/pwned ${target}:`, { timeoutMs: 60_000 });
      expect(escape.code, escape.stderr).not.toBe(0);
      await sh(RST, s.host, `rsync -a -e "${push}" /tmp/ln2/evil/ ${target}:evil/`, { timeoutMs: 60_000 });
      await must(RST, 'backup-target', `rm -f /backup/current/${s.tree}/evil`);
    }
    expect(await must(RST, 'backup-target', 'ls -la /tmp /root; ls /backup')).toBe(tmp);
    expect(await must(RST, 'backup-target', 'find / -xdev -name pwned -o -name escaped -o -name stolen 2>/dev/null | grep -v "^/backup/current/" || true')).toBe('');
    expect(await snapshots(RST)).toBe(before);
  }, 900_000);

  it("the director's key runs only this host's capsules with checked arguments", async () => {
    const d = (host: string, cmd: string) =>
      sh(RST, 'backup-director', `ssh -i ~/.ssh/id_ed25519 -o BatchMode=yes -o IdentitiesOnly=yes ${RST}-${host} ${JSON.stringify(cmd)}`, { user: 'backupoperator', timeoutMs: 60_000 });
    const refused = {
      'manager-1': ['bash', 'id', 'sudo -l', 'rsync --server --sender -logDtpre.iLsfxCIvu . /', 'restore_source ../etc', 'restore_source /etc', 'restore_source a//b', 'restore_source_dry_run ..', 'restore_source a;id', 'restore_source $(id)', 'list_backups', 'perform_rsync x', 'pause_containers now'],
      'backup-target': ['bash', 'restore_source', 'receive_backup manager-1@+docker', 'send_restore manager-1@+docker', 'sbdi-target-setup', 'attach_foreign_store staging', 'attach_foreign_store ../prod', 'activate_backup 1', 'activate_foreign_backup x', 'commit_backup 20240101_000000 x'],
    } as const;
    for (const [host, cmds] of Object.entries(refused)) {
      for (const cmd of cmds) {
        const r = await d(host, cmd);
        expect(r.code, `${host}: ${cmd}: ${r.stdout}${r.stderr}`).not.toBe(0);
        expect(r.stdout, `${host}: ${cmd}`).toMatch(/"ok":false/);
      }
    }
    const ok = await d('manager-1', 'docker_status');
    expect(ok.code).toBe(0);
    // The operator may not even run a capsule with an argument sudoers does not allow.
    const direct = await sh(RST, 'manager-1', `sudo -n ${LIBEXEC}/restore_source ../etc; sudo -n ${LIBEXEC}/restore_source_dry_run /etc; sudo -n /usr/bin/rsync --version`, { user: 'backupoperator' });
    expect(direct.stderr).toMatch(/password is required|not allowed|may not run/);
    expect(direct.stdout).not.toMatch(/rsync +version/);
  }, 300_000);

  it('sudo -l lists only the host’s own capsules; no root login key, no agent use', async () => {
    const files = new Map<string, string[]>();
    for (const h of HOSTS) {
      const r = await must(RST, h.name, 'sudo -l -U backupoperator || true');
      const commands = [...r.matchAll(/NOPASSWD: (\S+)/g)].map((m) => m[1]!);
      const installed = (await must(RST, h.name, `ls ${LIBEXEC} 2>/dev/null || true`)).split('\n').filter(Boolean);
      files.set(h.name, commands);
      for (const c of commands) {
        expect(c.startsWith(`${LIBEXEC}/`), `${h.name}: ${c}`).toBe(true);
        expect(installed, `${h.name}: ${c}`).toContain(c.slice(LIBEXEC.length + 1));
      }
      expect(r).not.toMatch(/\/rsync\b|NOPASSWD: ALL|\(ALL/);
      expect(await must(RST, h.name, 'cat /root/.ssh/authorized_keys 2>/dev/null | grep -c sbdi-backup || true')).toBe('0\n');
      const keys = await must(RST, h.name, 'cat /home/backupoperator/.ssh/authorized_keys 2>/dev/null || true');
      for (const line of keys.split('\n').filter((l) => l && !l.startsWith('#'))) expect(line, h.name).toMatch(/^restrict,command="/);
      // Key forwarding is an ssh option (ssh_config, the forwarded socket's variable, or ssh's -A
      // flag); bash's own `local -A` is no ssh command.
      const forwarding = await must(RST, h.name, `grep -rlE 'Forward[A]gent +yes|Forward[A]gent=yes|SSH_AUTH_SOCK|ssh( [^ ]+)* -A\\b' ${LIBEXEC} /etc/sudoers.d /etc/ssh/ssh_config 2>/dev/null || true`);
      expect(forwarding, h.name).toBe('');
    }
    expect(files.get('manager-1')).toContain(`${LIBEXEC}/restore_source_dry_run`);
    expect(files.get('backup-target')).toContain(`${LIBEXEC}/attach_foreign_store`);
    // The capsules the source keys are forced into are the receiving account's alone: the operator
    // cannot start a root rsync server with options of its own.
    for (const c of ['receive_backup', 'send_restore']) expect(files.get('backup-target')).not.toContain(`${LIBEXEC}/${c}`);
    const receiver = await must(RST, 'backup-target', 'sudo -l -U sbdi-receive || true');
    expect([...new Set([...receiver.matchAll(/NOPASSWD: (\S+)/g)].map((m) => m[1]!))].sort()).toEqual([`${LIBEXEC}/receive_backup`, `${LIBEXEC}/send_restore`]);
    const asOperator = await sh(RST, 'backup-target', `SSH_ORIGINAL_COMMAND='rsync --server -logDtpre.iLsfxCIvu --usermap=*:0 . /' sudo -n ${LIBEXEC}/receive_backup manager-1@+docker`, { user: 'backupoperator' });
    expect(asOperator.code).not.toBe(0);
    expect(asOperator.stderr).toMatch(/password is required|not allowed|may not run/);
    expect(await must(RST, 'backup-target', 'stat -c "%U %G %a" /var/lib/sbdi-receive/.ssh/authorized_keys /var/lib/sbdi-receive/.ssh /var/lib/sbdi-receive')).toBe('root root 644\nroot root 755\nroot root 755\n');
    expect(await must(RST, 'backup-target', 'getent shadow sbdi-receive | cut -d: -f2')).toMatch(/^[!*]/);
    expect(files.get('backup-target')).not.toContain(`${LIBEXEC}/restore_source`);
    expect(files.get('solr-1')).not.toContain(`${LIBEXEC}/pause_containers`);
  }, 300_000);
});

// Last: it takes a backup of its own in rst, which the tests above must not see.
describe('live dirs and the filesystems in them (rst)', () => {
  it('the backup stops before the pause and names it; a restore leaves it alone and refuses to write into it', async () => {
    await opOk(RST, 'start_docker');
    // A tmpfs inside manager-1's live dir, and a nested btrfs subvolume: neither is in a snapshot of /docker.
    await must(RST, 'manager-1', 'mkdir -p /docker/nested && mount -t tmpfs tmpfs /docker/nested && printf precious >/docker/nested/db.dat');
    try {
      const refused = await op(RST, 'perform_backup');
      expect(refused.code, refused.stdout + refused.stderr).toBe(10);
      expect(refused.stdout + refused.stderr).toMatch(/another filesystem lies inside \/docker, at \/docker\/nested: .*backup_source_exclude of manager-1.*nothing was paused/);
      await must(RST, 'manager-1', 'umount /docker/nested && btrfs subvolume create /docker/subvol >/dev/null');
      const sub = await op(RST, 'perform_backup');
      expect(sub.code, sub.stdout + sub.stderr).toBe(10);
      expect(sub.stdout + sub.stderr).toMatch(/another filesystem lies inside \/docker, at \/docker\/subvol/);
      await must(RST, 'manager-1', 'btrfs subvolume delete /docker/subvol >/dev/null');
      // Nothing was left frozen by either attempt (read from the kernel: `docker ps` does not see the pause's freeze).
      for (const h of ['manager-1', 'cassandra-1']) expect((await must(RST, h, "cat /sys/fs/cgroup/freezer/docker/*/freezer.state | grep -cv '^THAWED$' || true")).trim(), h).toBe('0');

      // Backed up without the mount (nested is an empty directory in the backup), then mounted
      // again with data: a restore of the whole source, and of that very path, must not touch it.
      await opOk(RST, 'perform_backup');
      await must(RST, 'manager-1', 'mount -t tmpfs tmpfs /docker/nested && printf precious >/docker/nested/db.dat');
      const before = await must(RST, 'manager-1', "stat -c '%A %U %Y' /docker/nested");
      await opOk(RST, 'stop_docker');
      await opOk(RST, 'restore_latest_backup', '--only', 'manager-1');
      expect(await must(RST, 'manager-1', 'cat /docker/nested/db.dat')).toBe('precious');
      // Not even the mount point's own mode, owner or mtime changed (the tmpfs root's 1777 stays).
      expect(await must(RST, 'manager-1', "stat -c '%A %U %Y' /docker/nested")).toBe(before);
      // A restore into that very path is refused before anything is written.
      const into = await op(RST, 'restore_latest_backup', '--only', 'manager-1:nested');
      expect(into.code, into.stdout + into.stderr).toBe(21);
      expect(into.stdout + into.stderr).toMatch(/\/docker\/nested is another filesystem mounted inside \/docker: a restore does not write into it/);
      expect(await must(RST, 'manager-1', 'cat /docker/nested/db.dat')).toBe('precious');
    } finally {
      await sh(RST, 'manager-1', 'umount /docker/nested; btrfs subvolume delete /docker/subvol; rmdir /docker/nested');
      await op(RST, 'stop_docker');
    }
  }, 900_000);

  it('a restore into a live dir whose filesystem is not mounted (after a disk swap) is refused and writes nothing', async () => {
    // solr-1 has no docker; the docker hosts are stopped (above).
    const source = (await must(RST, 'solr-1', 'findmnt -n -o SOURCE /docker_local')).trim();
    const device = source.replace(/\[.*$/, '');
    await must(RST, 'solr-1', 'umount /docker_local && [ -z "$(ls -A /docker_local)" ]');
    try {
      const r = await op(RST, 'restore_latest_backup', '--only', 'solr-1');
      expect(r.code, r.stdout + r.stderr).toBe(23);
      expect(r.stdout + r.stderr).toMatch(/\/docker_local is not a btrfs subvolume \(its filesystem: \w+\): mount it \(or make it\) first; nothing was restored/);
      expect((await must(RST, 'solr-1', 'ls -A /docker_local | wc -l')).trim()).toBe('0');
    } finally {
      await sh(RST, 'solr-1', `mountpoint -q /docker_local || mount -o subvol=/live ${device} /docker_local`);
    }
    expect((await must(RST, 'solr-1', 'findmnt -n -o FSTYPE /docker_local')).trim()).toBe('btrfs');
  }, 300_000);
});

// The main job, end to end on real hosts: a sandbox platform is created, installed by the
// playbook (twice: the second run must change nothing), backed up by the operator, damaged,
// restored and verified tree by tree against the backup, then started again.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { HOSTS, VM_HOSTS, type HostSpec, type Names, type Paths } from './config';
import { SandboxError } from './errors';
import { DOCKER, dockerBash, run, type RunResult } from './exec';
import { converge, create, deploymentNames, deploymentPaths, destroy, idempotence, verify, type SandboxOptions } from './steps';
import { vmBash } from './vms';

export interface DemoOptions extends SandboxOptions {
  /** Leave the sandbox running at the end (default: destroy it). */
  keep?: boolean;
}

const sourcesOf = (vms: boolean | undefined): HostSpec[] => [...HOSTS, ...(vms ? VM_HOSTS : [])].filter((h) => h.sourceDir !== undefined);
const isVm = (host: string): boolean => VM_HOSTS.some((h) => h.name === host);

/** A bash script as root on a host of the deployment: `docker exec` into a container, ssh into a VM. */
function hostBash(p: Paths, n: Names, host: string, script: string, opts: { input?: string; stream?: boolean } = {}): Promise<string> {
  return isVm(host) ? vmBash(p, n, 'demo', host, script, opts) : dockerBash('demo', host, n.container(host), script, opts);
}
const DIRECTOR = 'backup-director';
const TARGET = 'backup-target';

function banner(text: string): void {
  process.stdout.write(`\n=== ${text}\n`);
}

/** Runs an operator command on the director as the unprivileged operator, output shown live. */
async function operator(n: Names, command: string, args: string[] = [], expectCode = 0): Promise<RunResult> {
  process.stdout.write(`\n$ ${command}${args.length ? ` ${args.join(' ')}` : ''}    (as backupoperator on ${DIRECTOR})\n`);
  const r = await run(
    DOCKER,
    ['exec', '-u', 'backupoperator', '-w', '/home/backupoperator', n.container(DIRECTOR), `/opt/sbdi/backup/bin/${command}`, ...args],
    { stream: true, timeoutMs: 900_000 },
  );
  if (r.code !== expectCode) {
    throw new SandboxError('demo', DIRECTOR, `${command} exited ${r.code}, expected ${expectCode}`);
  }
  return r;
}

/** Canonical listing (content and metadata) of a tree inside a container. */
async function listing(p: Paths, n: Names, host: string, dir: string, treelist: string): Promise<string> {
  // zfs-fuse keeps whole-second mtimes and reports no holes: compare at that precision. The store
  // keeps symlinks munged (receive_backup: rrsync -munge); restores un-munge them. An LVM live
  // volume (ext4) has its lost+found, which the snapshot has too (so the backup as well).
  return hostBash(p, n, host, `python3 - --no-holes --mtime-seconds --unmunge --exclude .sbdi-snapshot --exclude .sbdi-snapshot.base ${dir}`, { input: treelist });
}

export interface ListedBackup {
  id: string;
  status: string;
  usedBytes?: number;
  referencedBytes?: number;
  compressRatio?: number;
  manifest?: {
    pause?: { durationMs?: number; freezeMs?: number };
    snapshotsInsidePauseWindow?: boolean;
    sources?: { host: string; backend: string; bytes?: number; files?: number; syncDurationMs?: number }[];
  };
}

/** The short summary the demo ends with: what was backed up, how long the platform was paused. */
function summary(b: ListedBackup): string {
  const m = b.manifest ?? {};
  const lines = [`backup ${b.id}: containers frozen ${m.pause?.freezeMs ?? '?'} ms (all at once ${m.pause?.durationMs ?? '?'} ms), snapshots inside that window: ${m.snapshotsInsidePauseWindow ? 'yes' : 'NO'}`];
  for (const s of m.sources ?? []) {
    lines.push(`  ${s.host.padEnd(12)} ${s.backend.padEnd(6)} ${String(s.files ?? '?').padStart(6)} files ${String(s.bytes ?? '?').padStart(10)} bytes  synced in ${s.syncDurationMs ?? '?'} ms`);
  }
  // referencedBytes is the backup's size on the target; usedBytes what it alone holds (what deleting
  // it would free): 0 for the newest ZFS snapshot while the live tree still matches it.
  lines.push(`  on the target: ${b.referencedBytes ?? '?'} bytes, ${b.usedBytes ?? '?'} of them this backup's alone, compression ratio ${b.compressRatio ?? '?'}`);
  lines.push('restore verified');
  return `${lines.join('\n')}\n`;
}

function firstDifference(a: string, b: string): string {
  const la = a.split('\n');
  const lb = b.split('\n');
  for (let i = 0; i < Math.max(la.length, lb.length); i++) {
    if (la[i] !== lb[i]) return `line ${i + 1}:\n  backup:   ${la[i] ?? '(none)'}\n  restored: ${lb[i] ?? '(none)'}`;
  }
  return '(identical)';
}

/** What the demo backed up and verified, for a caller (tests) to check further. */
export interface DemoResult {
  backup: ListedBackup;
  /** Source trees found identical to the backup after the restore: host → entries compared. */
  verified: Record<string, number>;
}

export async function demo(o: DemoOptions = {}): Promise<DemoResult> {
  const p = deploymentPaths(o);
  const SOURCES = sourcesOf(o.vms);
  const verified: Record<string, number> = {};
  const treelist = readFileSync(join(p.root, 'tests', 'storage', 'treelist.py'), 'utf8');
  let ok = false;
  try {
    banner(
      `1. a sandbox platform of real hosts: director, target, 3 btrfs sources, 2 docker hosts in a swarm with writing apps${
        o.vms ? ', an LVM source and a Gluster source in qemu VMs' : ''
      }`,
    );
    await create(o);
    const n = deploymentNames(o);

    banner('2. install with ansible-playbook playbooks/backup.yml, then again: the second run must change nothing');
    await converge(o);
    await idempotence(o);
    await verify(o);

    banner('3. back up: pause everything, snapshot every source, unpause, sync, commit');
    await operator(n, 'perform_backup');
    const listed = await operator(n, 'list_backups', ['--json']);
    const backups = JSON.parse(listed.stdout) as ListedBackup[];
    const complete = backups.filter((b) => b.status === 'complete').sort((a, b) => a.id.localeCompare(b.id));
    const backup = complete[complete.length - 1];
    if (!backup) throw new SandboxError('demo', DIRECTOR, 'no complete backup listed after perform_backup');
    const latest = backup.id;
    await operator(n, 'list_backups');

    banner(`4. damage the platform after backup ${latest}`);
    await dockerBash('demo', 'manager-1', n.container('manager-1'), 'echo "written after the backup" >/docker/portal/after-backup.txt; rm -rf /docker/registry; echo "  manager-1: removed /docker/registry, added /docker/portal/after-backup.txt"', { stream: true });
    await dockerBash('demo', 'cassandra-1', n.container('cassandra-1'), 'find /docker_local/seed -type f | head -n 3 | while read -r f; do echo corrupted >"$f"; done; chmod 0777 /docker_local/seed; echo "  cassandra-1: corrupted 3 files, chmod 0777 /docker_local/seed"', { stream: true });
    await dockerBash('demo', 'solr-1', n.container('solr-1'), 'rm -rf /docker_local/seed; echo "  solr-1: removed /docker_local/seed"', { stream: true });
    if (o.vms) {
      await hostBash(p, n, 'lvm-1', 'rm -rf /docker_local/seed/data; echo new >/docker_local/after-backup.txt; echo "  lvm-1: removed /docker_local/seed/data, added /docker_local/after-backup.txt"', { stream: true });
      await hostBash(p, n, 'gluster-1', 'rm -rf /docker/seed/config; echo corrupted >"/docker/seed/dir with spaces/file with spaces.txt"; echo "  gluster-1: removed /docker/seed/config, corrupted a file"', { stream: true });
    }

    banner('5. a restore is refused while docker runs; stop docker everywhere, then restore the latest backup');
    await operator(n, 'restore_latest_backup', [], 20);
    await operator(n, 'stop_docker');
    await operator(n, 'restore_latest_backup');

    banner(`6. verify: every source tree equals backup ${latest}, byte for byte and in its metadata`);
    // The backup is read through the target's own activation (as root, beside the product's path).
    const capsules = '/opt/sbdi/backup/libexec';
    await dockerBash('demo', TARGET, n.container(TARGET), `${capsules}/activate_backup ${latest} >/dev/null`);
    try {
      for (const s of SOURCES) {
        const tree = `${s.name}@${s.sourceDir!.replace(/\//g, '+')}`;
        const expected = await listing(p, n, TARGET, `/backup/restore/${tree}`, treelist);
        const actual = await listing(p, n, s.name, s.sourceDir!, treelist);
        const entries = expected.split('\n').filter(Boolean).length;
        if (expected !== actual) {
          throw new SandboxError('demo', s.name, `restored ${s.sourceDir} differs from backup ${latest}: ${firstDifference(expected, actual)}`);
        }
        verified[s.name] = entries;
        process.stdout.write(`  ${s.name}:${s.sourceDir}: ${entries} entries identical to the backup\n`);
      }
    } finally {
      await dockerBash('demo', TARGET, n.container(TARGET), `${capsules}/deactivate_backup >/dev/null`);
    }
    const after = await run(DOCKER, ['exec', n.container('manager-1'), 'test', '-e', '/docker/portal/after-backup.txt']);
    if (after.code === 0) throw new SandboxError('demo', 'manager-1', 'a file written after the backup survived the restore');
    process.stdout.write('  the file written after the backup is gone\n');

    banner('7. start docker again: the apps resume from the restored state');
    await operator(n, 'start_docker');
    await verify(o);
    ok = true;
    banner('demo passed: installed, backed up, damaged, restored and verified');
    process.stdout.write(summary(backup));
    return { backup, verified };
  } finally {
    if (!o.keep) {
      banner(ok ? 'removing the sandbox' : 'demo failed: removing the sandbox');
      await destroy(o);
    } else {
      process.stdout.write('\nsandbox kept: remove it with `npm run sandbox -- down`\n');
    }
  }
}

import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { HOSTS, TARGET_DATA_DIR, VM_HOSTS } from './config';
import { LVM_SNAPSHOT_STORAGE_GIB, type VmAccess } from './vms';

/** The pool file the playbook creates on the target (a docker volume is mounted at its directory). */
export const TARGET_POOL_FILE = `${TARGET_DATA_DIR}/backup-pool.img`;

/**
 * The YAML inventory of a sandbox deployment. `ansible_host` is the container name, which the docker
 * connection plugin execs into and the director reaches over ssh on the sandbox network.
 */
export interface InventoryOptions {
  /** Adds the off-site remote `backup-remote` (group backup_remotes) and retention on both stores. */
  remote?: boolean;
  /** Adds the second target `backup-target-2` (a dir store); solr-1 lands on it, the others on backup-target. */
  secondTarget?: boolean;
  /**
   * Adds the VM sources (config VM_HOSTS, keyed by host name): reached over ssh as root with the VM
   * image's key at the placeholder container's address, by Ansible on this machine and by the director.
   */
  vms?: Readonly<Record<string, VmAccess>>;
  /**
   * Light docker hosts (a scaled deployment, config.ts extraDockerHosts) listed in group `docker`: they are
   * paused and unpaused with the platform but are no backup sources and not in the swarm.
   */
  extraDockerHosts?: readonly string[];
  /** GiB of the target's pool file (`backup_data_file_size`); default 4. */
  targetPoolGiB?: number;
  /**
   * The backend of `backup-target` (`backup_target_backend`); default zfs (zfs-fuse, pool on a file). btrfs
   * lives on a loop file at the same path, mounted by the target itself; a dir store sits on the data volume.
   */
  targetBackend?: TargetBackend;
}

export type TargetBackend = 'zfs' | 'btrfs' | 'dir';
export const TARGET_BACKENDS: readonly TargetBackend[] = ['zfs', 'btrfs', 'dir'];

/** The main target's store (`backup_root`): the default, except for a dir store (on the data volume). */
export function targetRoot(backend: TargetBackend = 'zfs'): string {
  return backend === 'dir' ? `${TARGET_DATA_DIR}/backup` : '/backup';
}

function targetVars(o: InventoryOptions): string {
  const backend = o.targetBackend ?? 'zfs';
  const lines =
    backend === 'dir'
      ? ['backup_target_backend: dir', `backup_root: ${targetRoot('dir')}`]
      : [
          ...(backend === 'btrfs' ? ['backup_target_backend: btrfs'] : []),
          `backup_data_device: ${TARGET_POOL_FILE}`,
          `backup_data_file_size: ${o.targetPoolGiB ?? 4}`,
          ...(backend === 'zfs' ? ['backup_zfs_package: zfs-fuse'] : []),
        ];
  return lines.map((l) => `          ${l}\n`).join('');
}

/** With a second target: the source that lands on it. */
export const SECOND_TARGET_SOURCES = ['solr-1'] as const;
/** The second target's store: a plain-directory backend on the data volume. */
export const SECOND_TARGET_ROOT = `${TARGET_DATA_DIR}/backup`;

/** Under emulation a gluster snapshot alone takes 10–25 s: the pause deadline of a deployment with VMs. */
export const VM_PAUSE_DEADLINE = 240;

/** Retention of a deployment with a remote: small numbers, so a test reaches pruning in a few backups. */
export const SANDBOX_RETENTION = { targetKeepLast: 2, remoteKeepLast: 2 } as const;

export function inventoryYaml(prefix: string, o: InventoryOptions = {}): string {
  const h = (name: string): string => `${prefix}-${name}`;
  const source = (name: string): string => {
    const spec = HOSTS.find((x) => x.name === name)!;
    return [
      `        ${name}:`,
      `          ansible_host: ${h(name)}`,
      `          btrfs_backup_source: true`,
      `          btrfs_backup_source_dir: ${spec.sourceDir}`,
      `          backup_snapshot_storage: 0`,
      ...(o.secondTarget ? [`          backup_target: ${(SECOND_TARGET_SOURCES as readonly string[]).includes(name) ? 'backup-target-2' : 'backup-target'}`] : []),
    ].join('\n');
  };
  const vmSource = (spec: (typeof VM_HOSTS)[number]): string => {
    const a = o.vms?.[spec.name];
    if (!a) throw new Error(`inventory: no address for VM host ${spec.name}`);
    return [
      `        ${spec.name}:`,
      `          ansible_host: ${a.addr}`,
      `          ansible_connection: ssh`,
      `          ansible_user: root`,
      `          ansible_ssh_private_key_file: ${a.key}`,
      // Every VM of an image has that image's host key; the director's known_hosts pins it.
      `          ansible_ssh_common_args: -o UserKnownHostsFile=/dev/null`,
      `          ${spec.backend}_backup_source: true`,
      `          backup_snapshot_storage: ${spec.backend === 'lvm' ? LVM_SNAPSHOT_STORAGE_GIB : 0}`,
    ].join('\n');
  };
  const vms = o.vms ? VM_HOSTS.map(vmSource).join('\n') + '\n' : '';
  return `# Sandbox inventory of deployment '${prefix}' (tools/sandbox/inventory.ts writes this shape).
# Hosts are docker containers named <prefix>-<host> on the sandbox network. No ZFS kernel module on this
# machine: the target uses zfs-fuse (baked into the sandbox image).
all:
  vars:
    deployment_prefix: ${prefix}
    ansible_connection: community.docker.docker
    ansible_python_interpreter: /usr/bin/python3
    backup_pause_deadline: ${o.vms ? VM_PAUSE_DEADLINE : 30}
${o.remote ? `    backup_schedule_enabled: true
` : ''}  children:
    backup_director:
      hosts:
        backup-director:
          ansible_host: ${h('backup-director')}
    backup_targets:
      hosts:
        backup-target:
          ansible_host: ${h('backup-target')}
${targetVars(o)}${o.remote ? `          backup_keep_last: ${SANDBOX_RETENTION.targetKeepLast}
` : ''}${o.secondTarget ? `        backup-target-2:
          ansible_host: ${h('backup-target-2')}
          backup_target_backend: dir
          backup_root: ${SECOND_TARGET_ROOT}
` : ''}    backup_sources:
      hosts:
${source('manager-1')}
${source('cassandra-1')}
${source('solr-1')}
${vms}    docker_swarm:
      hosts:
        manager-1:
        cassandra-1:
${extraDocker(o.extraDockerHosts ?? [], h)}${o.remote ? `    backup_remotes:
      hosts:
        backup-remote:
          ansible_host: ${h('backup-remote')}
          backup_data_device: ${TARGET_POOL_FILE}
          backup_data_file_size: 4
          backup_zfs_package: zfs-fuse
          backup_replica_keep_last: ${SANDBOX_RETENTION.remoteKeepLast}
` : ''}`;
}

function extraDocker(hosts: readonly string[], h: (name: string) => string): string {
  if (hosts.length === 0) return '';
  return `    docker:
      hosts:
${hosts.map((name) => `        ${name}:
          ansible_host: ${h(name)}
`).join('')}`;
}

export function writeInventory(file: string, prefix: string, o: InventoryOptions = {}): void {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, inventoryYaml(prefix, o));
}

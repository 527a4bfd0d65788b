// The LVM and Gluster sources of a sandbox deployment, each a qemu VM (Debian's own kernel, built by
// scripts/vm-build.sh) standing in for a placeholder container: qemu runs in that container's network
// namespace with user mode networking, the VM's sshd forwarded on the container's address. So the
// director and Ansible reach the VM at the container's fixed address, and the VM's own connections
// (the push to the target, the pull of a restore) leave from it. No tap, no bridge, no privileges in
// the path beyond entering the namespace.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { hostAddress, type Names, type Paths, type VmHostSpec } from './config';
import { sandboxContainerArgs } from './hosts';
import { SandboxError } from './errors';
import { shellQuote as shq } from '../../src/render/quote';
import { docker, must, run, type RunOptions } from './exec';
import { seedScript } from './seed';

const VM_CTL = (p: Paths): string => join(p.root, 'scripts', 'vm-ctl.sh');
const PROVISION = (p: Paths): string => join(p.root, 'tests', 'vm', 'provision.sh');

/** Sizes under emulation: enough for the seed tree and the snapshot reservation, small to lay out. */
export const VM_DATA_DISK = '8G';
export const LVM_LIVE_SIZE = '2G';
/** `backup_snapshot_storage` (GiB) of the LVM VM: the volume group keeps it free (8G disk - 2G live). */
export const LVM_SNAPSHOT_STORAGE_GIB = 1;
export const GLUSTER_POOL = '3G';
export const GLUSTER_BRICK = '2G';

/** The placeholder: the base image running only tini and sleep (no sshd: port 22 is the VM's). */
export function placeholderRunArgs(n: Names, spec: VmHostSpec, image: string): string[] {
  return [
    ...sandboxContainerArgs(n, spec),
    '--label', `sbdi.sandbox.vm=${n.vm(spec.name)}`,
    '--entrypoint', '/usr/bin/tini',
    image, '--', 'sleep', 'infinity',
  ];
}

/** What the inventory needs to reach a VM from the machine: its address and root's key. */
export interface VmAccess {
  addr: string;
  key: string;
}

/** Boots the VM of `spec` in its placeholder's network namespace; resolves once ssh answers. */
export async function bootVm(p: Paths, n: Names, spec: VmHostSpec): Promise<VmAccess> {
  const pid = (await docker('create', spec.name, ['inspect', '-f', '{{.State.Pid}}', n.container(spec.name)])).trim();
  if (!/^[1-9][0-9]*$/.test(pid)) throw new SandboxError('create', spec.name, `placeholder ${n.container(spec.name)} is not running`);
  const addr = hostAddress(n.subnet, spec.octet);
  await must('create', spec.name, 'bash', [
    VM_CTL(p), 'up', n.vm(spec.name), '--hostname', spec.name, '--data-size', VM_DATA_DISK, '--netns', pid, '--addr', addr,
  ], { timeoutMs: 900_000 });
  return vmAccess(p, n, spec);
}

export async function vmAccess(p: Paths, n: Names, spec: VmHostSpec): Promise<VmAccess> {
  const env = await must('create', spec.name, 'bash', [VM_CTL(p), 'env', n.vm(spec.name)]);
  const v = (k: string): string => {
    const m = new RegExp(`^${k}=(.*)$`, 'm').exec(env);
    if (!m?.[1]) throw new SandboxError('create', spec.name, `scripts/vm-ctl.sh env: no ${k}`);
    return m[1];
  };
  return { addr: v('VM_ADDR'), key: v('VM_KEY') };
}

/** Runs a bash script as root in a VM host (the counterpart of dockerBash). */
export function vmBash(p: Paths, n: Names, step: string, host: string, script: string, opts: RunOptions = {}): Promise<string> {
  return must(step, host, 'bash', [VM_CTL(p), 'ssh', n.vm(host), `bash -euo pipefail -c ${shq(script)}`], { timeoutMs: 600_000, ...opts });
}

/**
 * Lays out the host's production storage on the VM's data disk (tests/vm/provision.sh), makes the
 * target's name resolve to its address, and seeds the live tree like the btrfs sources'. Gluster's
 * FUSE mount takes no ACLs (not mounted with -o acl), so its seed has none.
 */
export async function provisionVm(p: Paths, n: Names, spec: VmHostSpec, targetAddr: string): Promise<void> {
  const script = readFileSync(PROVISION(p), 'utf8');
  const step = async (...args: string[]): Promise<void> => {
    await must('create', spec.name, 'bash', [VM_CTL(p), 'ssh', n.vm(spec.name), `bash -s -- ${args.map(shq).join(' ')}`], {
      input: script,
      timeoutMs: 600_000,
    });
  };
  if (spec.backend === 'lvm') await step('lvm', LVM_LIVE_SIZE);
  else await step('gluster', spec.name, GLUSTER_POOL, GLUSTER_BRICK);
  await step('target-at', n.container('backup-target'), targetAddr);
  await vmBash(p, n, 'create', spec.name, seedScript(spec.sourceDir, { acl: spec.backend !== 'gluster' }));
}

/** Stops a VM and deletes its disks; a VM that is not up is fine. */
export async function stopVm(p: Paths, name: string): Promise<void> {
  if (!existsSync(VM_CTL(p))) return;
  const r = await run('bash', [VM_CTL(p), 'down', name], { timeoutMs: 60_000 });
  if (r.code !== 0) throw new SandboxError('destroy', name, `scripts/vm-ctl.sh down ${name}: ${r.stderr.trim()}`);
}

/** Is the VM of a VM host running (its qemu alive)? */
export async function vmRunning(p: Paths, name: string): Promise<boolean> {
  const r = await run('bash', [VM_CTL(p), 'status']);
  return r.stdout.split('\n').some((l) => l.startsWith(`${name} pid=`));
}

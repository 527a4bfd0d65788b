import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LABEL, REMOTE_HOST, SECOND_TARGET_HOST, TARGET_DATA_DIR, hostAddress, type HostSpec, type Names } from './config';
import { SandboxError } from './errors';
import { DOCKER, docker, run, waitFor } from './exec';

/**
 * What replaces --privileged here (it fails: the machine lacks CAP_SYS_RESOURCE and docker ignores
 * --cap-drop with --privileged). Enough for sshd, mount, btrfs, an inner dockerd and zfs-fuse.
 */
export const HOST_RUN_FLAGS: readonly string[] = [
  '--cap-add', 'ALL',
  '--cap-drop', 'SYS_RESOURCE',
  '--security-opt', 'seccomp=unconfined',
  '--security-opt', 'systempaths=unconfined',
  '--device-cgroup-rule', 'a *:* rwm',
  '--device', '/dev/fuse',
  '--device', '/dev/loop-control',
];

/** What every container of a deployment starts with: its name, fixed address and labels (cleanup finds it by them). */
export function sandboxContainerArgs(n: Names, spec: HostSpec): string[] {
  const c = n.container(spec.name);
  return [
    'run', '-d',
    '--name', c,
    '--hostname', spec.name,
    '--network', n.network,
    '--network-alias', c,
    '--ip', hostAddress(n.subnet, spec.octet),
    '--label', `${LABEL}=${n.prefix}`,
    '--label', `sbdi.sandbox.host=${spec.name}`,
  ];
}

export function dockerRunArgs(n: Names, spec: HostSpec, image: string, liveSubvolume: string | undefined): string[] {
  const args = [
    ...sandboxContainerArgs(n, spec),
    '--stop-timeout', '10',
    ...HOST_RUN_FLAGS,
  ];
  if (spec.docker) args.push('-e', 'SBDI_SANDBOX_DOCKER=1', '-v', `${n.dockerVolume(spec.name)}:/var/lib/docker`);
  if (spec.name === 'backup-target') args.push('-v', `${n.targetVolume}:${TARGET_DATA_DIR}`);
  if (spec.name === REMOTE_HOST.name) args.push('-v', `${n.remoteVolume}:${TARGET_DATA_DIR}`);
  if (spec.name === SECOND_TARGET_HOST.name) args.push('-v', `${n.secondTargetVolume}:${TARGET_DATA_DIR}`);
  if (spec.sourceDir !== undefined) {
    if (liveSubvolume === undefined) throw new SandboxError('create', spec.name, 'a source host needs its btrfs subvolume');
    args.push('--mount', `type=bind,source=${liveSubvolume},target=${spec.sourceDir},bind-propagation=rprivate`);
  }
  args.push(image);
  return args;
}

/**
 * Volumes a deployment needs: inner /var/lib/docker per docker host (overlay2 needs a real fs), the
 * target's data dir and, with an off-site remote, the remote's.
 */
export function volumesFor(n: Names, hosts: readonly HostSpec[]): string[] {
  return [
    ...hosts.filter((h) => h.docker).map((h) => n.dockerVolume(h.name)),
    n.targetVolume,
    ...(hosts.some((h) => h.name === REMOTE_HOST.name) ? [n.remoteVolume] : []),
    ...(hosts.some((h) => h.name === SECOND_TARGET_HOST.name) ? [n.secondTargetVolume] : []),
  ];
}

/** Waits until sandbox-init is through and sshd runs; on docker hosts also until the inner dockerd answers. */
export async function waitHostReady(n: Names, spec: HostSpec): Promise<void> {
  const c = n.container(spec.name);
  // Generous limits: on a loaded 2-core machine (CI runs two test files at once) a host can take
  // far longer than the usual few seconds; a limit only has to catch a host that will never come up.
  const upOk = await waitFor(
    async () => (await run(DOCKER, ['exec', c, 'sh', '-c', 'test -e /run/sandbox-init.ready && pgrep -x sshd >/dev/null'])).code === 0,
    180_000,
  );
  if (!upOk) throw new SandboxError('create', spec.name, `${c}: sandbox-init did not finish within 180 s (docker logs ${c})`);
  if (!spec.docker) return;
  const dockerOk = await waitFor(async () => (await run(DOCKER, ['exec', c, 'docker', 'info', '--format', '{{.ServerVersion}}'])).code === 0, 180_000, 500);
  if (!dockerOk) {
    const log = await run(DOCKER, ['exec', c, 'tail', '-n', '20', '/var/log/docker.log']);
    throw new SandboxError('create', spec.name, `inner dockerd did not answer within 180 s:\n${log.stdout}`);
  }
}

export async function containerRunning(name: string): Promise<boolean> {
  const r = await run(DOCKER, ['inspect', '-f', '{{.State.Running}}', name]);
  return r.code === 0 && r.stdout.trim() === 'true';
}

/**
 * Thaws every frozen cgroup below a container's freezer cgroup. A `docker pause` inside a host (the backup's
 * pause phase, left paused by a crash) freezes processes that SIGKILL cannot end, and `docker rm -f` of the
 * host then fails with "did not receive an exit event". Returns how many cgroups were thawed.
 */
export async function thawContainer(name: string): Promise<number> {
  const r = await run(DOCKER, ['inspect', '-f', '{{.State.Pid}}', name]);
  const pid = Number(r.stdout.trim());
  if (r.code !== 0 || !(pid > 0)) return 0;
  let rel: string | undefined;
  try {
    rel = readFileSync(`/proc/${pid}/cgroup`, 'utf8')
      .split('\n')
      .map((l) => l.split(':'))
      .find((f) => f[1]?.split(',').includes('freezer'))?.[2];
  } catch {
    return 0; // exited meanwhile
  }
  if (rel === undefined) return 0;
  const top = join('/sys/fs/cgroup/freezer', rel);
  let thawed = 0;
  const walk = (dir: string): void => {
    const state = join(dir, 'freezer.state');
    if (existsSync(state) && readFileSync(state, 'utf8').trim() !== 'THAWED') {
      writeFileSync(state, 'THAWED');
      thawed++;
    }
    for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) walk(join(dir, e.name));
  };
  if (existsSync(top)) walk(top);
  return thawed;
}

/** Removes a container (and its inner mounts with it), thawing paused inner containers first; absent is fine. */
export async function removeContainer(name: string): Promise<void> {
  await thawContainer(name).catch(() => 0);
  const r = await run(DOCKER, ['rm', '-f', '-v', name], { timeoutMs: 120_000 });
  if (r.code !== 0 && !/No such container/i.test(r.stderr)) {
    throw new SandboxError('destroy', name, `docker rm -f ${name}: ${r.stderr.trim()}`);
  }
}

export async function labelled(kind: 'container' | 'network' | 'volume', prefix: string): Promise<string[]> {
  const filter = `label=${LABEL}=${prefix}`;
  const args =
    kind === 'container'
      ? ['ps', '-a', '--filter', filter, '--format', '{{.Names}}']
      : [kind, 'ls', '--filter', filter, '--format', '{{.Name}}'];
  const out = await docker('destroy', undefined, args);
  return out.split('\n').map((s) => s.trim()).filter(Boolean);
}

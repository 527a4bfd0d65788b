import { createHash } from 'node:crypto';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { converge as convergeRun, idempotence as idempotenceRun, type PlaybookRun } from './ansible';
import { WRITER_SCRIPT, loadAppImage, startApps, startIdleContainers } from './apps';
import { makeBtrfsSource, mountsUnder, unmount } from './btrfs';
import { HOSTS, VM_HOSTS, checkPrefix, checkScale, extraDockerHosts, hostAddress, hostsFor, idleContainers, names, paths, subnetFor, withScale, type DockerScale, type HostSpec, type Names, type Paths } from './config';
import { SandboxCleanupError, SandboxError } from './errors';
import { docker } from './exec';
import { HOST_RUN_FLAGS, containerRunning, dockerRunArgs, labelled, removeContainer, volumesFor, waitHostReady } from './hosts';
import { ensureImages, type Images } from './image';
import { writeInventory, type TargetBackend } from './inventory';
import { withLock } from './lock';
import { createNetwork, createVolume, removeNetwork, removeVolume } from './network';
import { seedScript, seedSource } from './seed';
import { emptyState, loadState, removeState, saveState, track, type SandboxState } from './state';
import { formSwarm } from './swarm';
import { bootVm, placeholderRunArgs, provisionVm, stopVm, vmRunning, type VmAccess } from './vms';
import { baseChecks, extraChecks, runChecks, verifyContext, type VerifyCheck, type VerifyResult } from './verify';

export interface SandboxOptions {
  /** Deployment prefix; default `uat`. */
  prefix?: string;
  /** Explicit /24 for the deployment's network (default: fixed per prefix, see subnetFor). */
  subnet?: string;
  /** Progress lines; default stderr. */
  log?: (msg: string) => void;
  /** create: leave what was made when a step fails (default: destroy it). */
  keepOnFailure?: boolean;
  /** Repository root (default: found from this module). */
  root?: string;
  /**
   * create: add the off-site remote `backup-remote` (zfs-fuse on a file-backed pool, inventory group
   * `backup_remotes` and retention variables). Other deployments keep their hosts.
   */
  remote?: boolean;
  /**
   * create: add a second backup target `backup-target-2` (a dir store; solr-1 lands on it, the other
   * sources on backup-target).
   */
  secondTarget?: boolean;
  /**
   * create: add the seed's production source backends as qemu VMs, `lvm-1` (LVM) and `gluster-1`
   * (Gluster) (config VM_HOSTS, tools/sandbox/vms.ts; docs/vm.md). Slow: software emulation.
   */
  vms?: boolean;
  /**
   * create: scale the docker hosts (light extra hosts `docker-3`… in group `docker`, idle containers up to
   * `containersPerHost` on every docker host). For the bench's pause window; default: no scaling.
   */
  scale?: DockerScale;
  /** create: size of each source's sparse btrfs image (`truncate -s`, e.g. `4G`); default BTRFS_IMAGE_SIZE. */
  sourceImageSize?: string;
  /** create: GiB of the target's pool file (inventory `backup_data_file_size`); default 4. */
  targetPoolGiB?: number;
  /** create: the backend of `backup-target` in the written inventory (`backup_target_backend`); default zfs. */
  targetBackend?: TargetBackend;
  /**
   * converge/idempotence: more ansible-playbook arguments, e.g. `-e sbdi_backup_cli=...` to install
   * a private copy of dist/ (the shared checkout's dist/ may be rebuilt by others between two runs).
   */
  playbookArgs?: readonly string[];
}

interface Ctx {
  prefix: string;
  p: Paths;
  log: (msg: string) => void;
}

function ctxOf(o: SandboxOptions): Ctx {
  const prefix = checkPrefix(o.prefix ?? 'uat');
  return { prefix, p: paths(prefix, o.root), log: o.log ?? ((m) => process.stderr.write(`[sandbox ${prefix}] ${m}\n`)) };
}

/** Names of a running deployment (its subnet read from its state). */
export function deploymentNames(o: SandboxOptions = {}): Names {
  const { prefix, p } = ctxOf(o);
  const st = loadState(p.state);
  return names(prefix, st?.subnet ?? o.subnet ?? subnetFor(prefix));
}

export function deploymentPaths(o: SandboxOptions = {}): Paths {
  return ctxOf(o).p;
}

/** Waits for every promise (so nothing still runs when cleanup starts), then throws the first failure. */
async function all<T>(jobs: Array<Promise<T>>): Promise<T[]> {
  const settled = await Promise.allSettled(jobs);
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) throw failed.reason;
  return settled.map((s) => (s as PromiseFulfilledResult<T>).value);
}

async function timed<T>(c: Ctx, what: string, body: () => Promise<T>): Promise<T> {
  const t0 = Date.now();
  const r = await body();
  c.log(`${what} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  return r;
}

/** What a running deployment was made from besides the images; a change makes create rebuild it. */
export function layoutHash(): string {
  return createHash('sha256')
    .update(JSON.stringify({ HOSTS, WRITER_SCRIPT, HOST_RUN_FLAGS, seed: seedScript('/x') }))
    .digest('hex')
    .slice(0, 12);
}

export interface CreateResult {
  names: Names;
  images: Images;
  inventory: string;
  /** False when the deployment was already up and nothing was done. */
  created: boolean;
  seconds: number;
}

/** molecule `create`: images, network, volumes, btrfs sources, containers, swarm, apps, inventory. */
export async function create(o: SandboxOptions = {}): Promise<CreateResult> {
  const c = ctxOf(o);
  try {
    return await createLocked(c, o);
  } finally {
    removeDirIfEmpty(c.p.dir);
  }
}

/** The deployment directory goes once nothing (state, lock, images, mounts) is left in it. */
function removeDirIfEmpty(dir: string): void {
  try {
    if (existsSync(dir) && readdirSync(dir).length === 0) rmSync(dir, { recursive: true });
  } catch {
    /* another command took the lock meanwhile */
  }
}

async function createLocked(c: Ctx, o: SandboxOptions): Promise<CreateResult> {
  const t0 = Date.now();
  return withLock(c.p.lock, 'create', 900_000, async (): Promise<CreateResult> => {
    const images = await timed(c, 'images ready', () => ensureImages(c.p, c.log));
    const prev = loadState(c.p.state);
    if (o.scale) checkScale(o.scale);
    const hosts = withScale(hostsFor(o.remote, o.secondTarget), o.scale);
    if (
      prev?.complete &&
      prev.baseImage === images.base &&
      prev.layout === layoutHash() &&
      Boolean(prev.remote) === Boolean(o.remote) &&
      Boolean(prev.secondTarget) === Boolean(o.secondTarget) &&
      Boolean(prev.withVms) === Boolean(o.vms) &&
      sameScale(prev.scale, o.scale)
    ) {
      const n = names(c.prefix, prev.subnet);
      const up = await Promise.all([
        ...hosts.map((h) => containerRunning(n.container(h.name))),
        ...(o.vms ? VM_HOSTS.map((h) => vmRunning(c.p, n.vm(h.name))) : []),
      ]);
      if (up.every(Boolean)) {
        c.log('already up');
        return { names: n, images, inventory: c.p.inventory, created: false, seconds: (Date.now() - t0) / 1000 };
      }
    }
    if (prev) {
      c.log('removing an earlier, incomplete or stale deployment first');
      await destroyResources(c, prev);
    }
    const n = names(c.prefix, o.subnet ?? subnetFor(c.prefix));
    const st = emptyState(c.prefix, n.subnet);
    st.baseImage = images.base;
    st.appImage = images.app;
    st.layout = layoutHash();
    if (o.remote) st.remote = true;
    if (o.secondTarget) st.secondTarget = true;
    if (o.vms) st.withVms = true;
    if (o.scale) st.scale = o.scale;
    saveState(c.p.state, st);
    try {
      await build(c, n, st, images, hosts, o);
    } catch (e) {
      if (!o.keepOnFailure) {
        c.log(`create failed, destroying what it made: ${(e as Error).message}`);
        await destroyResources(c, st).catch((d: Error) => c.log(`destroy after failed create: ${d.message}`));
      }
      throw e;
    }
    st.complete = true;
    saveState(c.p.state, st);
    const seconds = (Date.now() - t0) / 1000;
    c.log(`up in ${seconds.toFixed(1)} s; inventory ${c.p.inventory}`);
    return { names: n, images, inventory: c.p.inventory, created: true, seconds };
  });
}

async function build(c: Ctx, n: Names, st: SandboxState, images: Images, hosts: readonly HostSpec[], o: SandboxOptions): Promise<void> {
  await timed(c, `network ${n.network} ${n.subnet}`, async () => {
    st.network = n.network;
    saveState(c.p.state, st);
    await createNetwork(n);
    for (const v of volumesFor(n, hosts)) {
      track(c.p.state, st, 'volumes', v);
      await createVolume(n, v);
    }
  });
  const live = new Map<string, string>();
  await timed(c, 'btrfs sources on loop files', async () => {
    for (const h of HOSTS.filter((x) => x.sourceDir !== undefined)) live.set(h.name, await makeBtrfsSource(c.p, st, h.name, o.sourceImageSize));
  });
  await timed(c, 'containers started', async () => {
    for (const h of hosts) {
      track(c.p.state, st, 'containers', n.container(h.name));
      await docker('create', h.name, dockerRunArgs(n, h, images.base, live.get(h.name)));
    }
    await all(hosts.map((h) => waitHostReady(n, h)));
  });
  await timed(c, 'sources seeded, app image loaded', () =>
    all(hosts.flatMap((h) => [seedSource(n, h), ...(h.docker ? [loadAppImage(n, h, images)] : [])])),
  );
  await timed(c, 'swarm formed', () => formSwarm(n));
  await timed(c, 'writer apps started', () => all(HOSTS.filter((h) => h.docker).map((h) => startApps(n, h, images))));
  if (st.scale) {
    const scale = st.scale;
    await timed(c, `idle containers started (${scale.containersPerHost} per docker host)`, () =>
      all(hosts.map((h) => startIdleContainers(n, h, images, idleContainers(h, scale)))),
    );
  }
  const vms = st.withVms ? await buildVms(c, n, st, images) : undefined;
  if (c.p.inventory !== c.p.committedInventory) {
    writeInventory(c.p.inventory, c.prefix, {
      remote: st.remote === true,
      secondTarget: st.secondTarget === true,
      ...(vms ? { vms } : {}),
      extraDockerHosts: extraDockerHosts(st.scale).map((h) => h.name),
      ...(o.targetPoolGiB !== undefined ? { targetPoolGiB: o.targetPoolGiB } : {}),
      ...(o.targetBackend !== undefined ? { targetBackend: o.targetBackend } : {}),
    });
  } else if (vms) {
    throw new SandboxError('create', undefined, `prefix ${c.prefix} has a committed inventory without VM hosts: use another prefix with vms`);
  }
}

/** The VM sources: placeholder containers, their VMs (booted together), storage laid out, trees seeded. */
async function buildVms(c: Ctx, n: Names, st: SandboxState, images: Images): Promise<Record<string, VmAccess>> {
  await timed(c, 'VM placeholders started', async () => {
    for (const h of VM_HOSTS) {
      track(c.p.state, st, 'containers', n.container(h.name));
      await docker('create', h.name, placeholderRunArgs(n, h, images.base));
    }
  });
  const access = await timed(c, 'VMs booted', () =>
    all(
      VM_HOSTS.map(async (h) => {
        st.vms = [...new Set([...(st.vms ?? []), n.vm(h.name)])];
        saveState(c.p.state, st);
        return [h.name, await bootVm(c.p, n, h)] as const;
      }),
    ),
  );
  const target = hostAddress(n.subnet, HOSTS.find((h) => h.name === 'backup-target')!.octet);
  await timed(c, 'VM storage laid out (LVM volume, Gluster volume on a thin pool), trees seeded', () =>
    all(VM_HOSTS.map((h) => provisionVm(c.p, n, h, target))),
  );
  return Object.fromEntries(access);
}

function sameScale(a: DockerScale | undefined, b: DockerScale | undefined): boolean {
  return a?.dockerHosts === b?.dockerHosts && a?.containersPerHost === b?.containersPerHost;
}

/**
 * Removes everything of the deployment: what its state lists, plus anything labelled with its prefix and
 * any mount under its directory (a crash between making and recording still gets cleaned). Every removal
 * is attempted; failures are collected and reported together, and the state keeps what is left.
 */
async function destroyResources(c: Ctx, st: SandboxState): Promise<void> {
  const failures: SandboxError[] = [];
  const attempt = async (what: () => Promise<void>): Promise<boolean> => {
    try {
      await what();
      return true;
    } catch (e) {
      failures.push(e instanceof SandboxError ? e : new SandboxError('destroy', undefined, (e as Error).message));
      return false;
    }
  };
  const uniq = (xs: string[]): string[] => [...new Set(xs)];

  const left: SandboxState = { ...st, containers: [], volumes: [], mounts: [], files: [], vms: [] };
  // VMs first: each runs in a placeholder container's network namespace.
  const vms = uniq([...(st.vms ?? []), ...VM_HOSTS.map((h) => names(c.prefix, st.subnet).vm(h.name))]);
  for (const x of vms) if (!(await attempt(() => stopVm(c.p, x)))) left.vms!.push(x);
  const containers = uniq([...st.containers, ...(await labelled('container', c.prefix).catch(() => []))]);
  await all(containers.map(async (x) => void ((await attempt(() => removeContainer(x))) || left.containers.push(x))));
  const networks = uniq([...(st.network ? [st.network] : []), ...(await labelled('network', c.prefix).catch(() => []))]);
  for (const x of networks) if (!(await attempt(() => removeNetwork(x)))) left.network = x;
  if (!networks.includes(left.network ?? '')) delete left.network;
  const volumes = uniq([...st.volumes, ...(await labelled('volume', c.prefix).catch(() => []))]);
  for (const x of volumes) if (!(await attempt(() => removeVolume(x)))) left.volumes.push(x);
  const mounts = uniq([...st.mounts, ...mountsUnder(c.p.dir)]).sort().reverse();
  if (left.containers.length > 0) {
    // A container still alive holds its btrfs filesystem in its own mount namespace: unmounting here and
    // deleting the image would leave an attached loop device on a deleted file. Keep them for the next down.
    left.mounts.push(...mounts);
    left.files.push(...st.files);
  } else {
    for (const x of mounts) if (!(await attempt(() => unmount(x)))) left.mounts.push(x);
    for (const f of st.files) {
      if (!(await attempt(async () => rmSync(f, { force: true })))) left.files.push(f);
    }
  }
  // Leftover directories of ours, only when nothing is mounted below them any more.
  for (const d of ['btrfs', 'mnt', 'inventory']) {
    const dir = join(c.p.dir, d);
    if (left.containers.length === 0 && existsSync(dir) && mountsUnder(dir).length === 0) {
      await attempt(async () => rmSync(dir, { recursive: true, force: true }));
    }
  }
  if (failures.length > 0) {
    saveState(c.p.state, left);
    throw new SandboxCleanupError(failures);
  }
  removeState(c.p.state);
}

/** molecule `destroy`: works from a fresh process (reads the state file), and when nothing is there. */
export async function destroy(o: SandboxOptions = {}): Promise<void> {
  const c = ctxOf(o);
  const t0 = Date.now();
  await withLock(c.p.lock, 'destroy', 900_000, async () => {
    const st = loadState(c.p.state) ?? emptyState(c.prefix, o.subnet ?? subnetFor(c.prefix));
    await destroyResources(c, st);
  });
  removeDirIfEmpty(c.p.dir);
  c.log(`destroyed in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
}

function requireUp(c: Ctx, step: string): SandboxState {
  const st = loadState(c.p.state);
  if (!st?.complete) throw new SandboxError(step, undefined, `deployment '${c.prefix}' is not up: run create first`);
  return st;
}

/** molecule `converge`: ansible-playbook playbooks/backup.yml against the deployment's inventory. */
export async function converge(o: SandboxOptions = {}): Promise<PlaybookRun> {
  const c = ctxOf(o);
  requireUp(c, 'converge');
  return convergeRun(c.p, o.playbookArgs);
}

/** molecule `idempotence`: converge again; fails when any host reports changed > 0. */
export async function idempotence(o: SandboxOptions = {}): Promise<PlaybookRun> {
  const c = ctxOf(o);
  requireUp(c, 'idempotence');
  return idempotenceRun(c.p, o.playbookArgs);
}

/** molecule `verify`: the base platform checks plus any registered ones (and `extra`). */
export async function verify(o: SandboxOptions = {}, extra: readonly VerifyCheck[] = []): Promise<VerifyResult[]> {
  const c = ctxOf(o);
  const st = requireUp(c, 'verify');
  const n = names(c.prefix, st.subnet);
  return runChecks(verifyContext(n, c.p), [...baseChecks(), ...extraChecks, ...extra], c.log);
}

export interface StatusReport {
  prefix: string;
  state?: SandboxState;
  containers: Array<{ name: string; running: boolean }>;
  mounts: string[];
}

export async function status(o: SandboxOptions = {}): Promise<StatusReport> {
  const c = ctxOf(o);
  const st = loadState(c.p.state);
  const listed = [...new Set([...(st?.containers ?? []), ...(await labelled('container', c.prefix))])];
  const containers = await Promise.all(listed.map(async (name) => ({ name, running: await containerRunning(name) })));
  return { prefix: c.prefix, ...(st ? { state: st } : {}), containers, mounts: mountsUnder(c.p.dir) };
}

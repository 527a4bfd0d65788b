import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { SandboxError } from './errors';

/** One host of the sandbox platform. `name` is the inventory name and the container's hostname. */
export interface HostSpec {
  name: string;
  /** Last octet of its fixed address on the sandbox network. */
  octet: number;
  /** Runs an inner dockerd (and joins the swarm). */
  docker: boolean;
  /** Live directory of a btrfs backup source, if it is one. */
  sourceDir?: '/docker' | '/docker_local';
  /** Busybox writer containers run by its inner dockerd (docker hosts only). */
  apps: string[];
}

export const HOSTS: readonly HostSpec[] = [
  { name: 'backup-director', octet: 10, docker: false, apps: [] },
  { name: 'backup-target', octet: 11, docker: false, apps: [] },
  { name: 'manager-1', octet: 21, docker: true, sourceDir: '/docker', apps: ['portal', 'registry', 'proxy'] },
  { name: 'cassandra-1', octet: 22, docker: true, sourceDir: '/docker_local', apps: ['cassandra', 'indexer', 'metrics'] },
  { name: 'solr-1', octet: 23, docker: false, sourceDir: '/docker_local', apps: [] },
];

/** The off-site remote: only in deployments created with `remote: true` (zfs-fuse on a file-backed pool). */
export const REMOTE_HOST: HostSpec = { name: 'backup-remote', octet: 12, docker: false, apps: [] };

/** A second backup target: only in deployments created with `secondTarget: true` (a plain-directory store). */
export const SECOND_TARGET_HOST: HostSpec = { name: 'backup-target-2', octet: 13, docker: false, apps: [] };

/** The hosts of a deployment: HOSTS, plus the off-site remote and the second target when it asks for them. */
export function hostsFor(remote: boolean | undefined, secondTarget?: boolean): readonly HostSpec[] {
  return [...HOSTS, ...(remote ? [REMOTE_HOST] : []), ...(secondTarget ? [SECOND_TARGET_HOST] : [])];
}

/**
 * The seed's production source backends, each in a qemu VM (tests/vm: this machine's kernel has no
 * device-mapper). Only in deployments created with `vms: true`. A VM stands in for a placeholder
 * container at its fixed address: qemu runs in that container's network namespace (user mode
 * networking), so the director, Ansible and the target see the VM as a host on the sandbox network.
 */
export interface VmHostSpec extends HostSpec {
  backend: 'lvm' | 'gluster';
  sourceDir: '/docker' | '/docker_local';
}

export const VM_HOSTS: readonly VmHostSpec[] = [
  { name: 'lvm-1', octet: 31, docker: false, sourceDir: '/docker_local', apps: [], backend: 'lvm' },
  { name: 'gluster-1', octet: 32, docker: false, sourceDir: '/docker', apps: [], backend: 'gluster' },
];

/**
 * Opt-in scale of the docker hosts (the bench's pause-window measurement): `dockerHosts` docker hosts in
 * all, each running `containersPerHost` containers. The hosts beyond HOSTS' own two are light: an inner
 * dockerd with idle busybox containers, no backup source, not in the swarm (inventory group `docker`).
 */
export interface DockerScale {
  dockerHosts: number;
  containersPerHost: number;
}

export const SCALE_LIMITS = { dockerHosts: { min: 2, max: 20 }, containersPerHost: { min: 3, max: 50 } } as const;

/** Refuses a scale outside SCALE_LIMITS, naming the value and what is allowed. */
export function checkScale(scale: DockerScale): DockerScale {
  for (const key of ['dockerHosts', 'containersPerHost'] as const) {
    const v = scale[key];
    const { min, max } = SCALE_LIMITS[key];
    if (!Number.isInteger(v) || v < min || v > max) {
      throw new SandboxError('config', undefined, `${key} ${JSON.stringify(v)}: must be a whole number from ${min} to ${max}`);
    }
  }
  return scale;
}

/** The light docker hosts a scale adds: `docker-3` … `docker-N`, at octets 33 … 30+N. */
export function extraDockerHosts(scale: DockerScale | undefined): HostSpec[] {
  if (!scale) return [];
  checkScale(scale);
  const base = HOSTS.filter((h) => h.docker).length;
  const extra: HostSpec[] = [];
  for (let i = base + 1; i <= scale.dockerHosts; i++) extra.push({ name: `docker-${i}`, octet: 30 + i, docker: true, apps: [] });
  return extra;
}

/** `hosts` plus the light docker hosts of `scale` (none without one). */
export function withScale(hosts: readonly HostSpec[], scale: DockerScale | undefined): readonly HostSpec[] {
  return scale ? [...hosts, ...extraDockerHosts(scale)] : hosts;
}

/** Idle containers a docker host runs besides its writer apps, so that it runs `containersPerHost` in all. */
export function idleContainers(spec: HostSpec, scale: DockerScale | undefined): number {
  return spec.docker && scale ? Math.max(0, scale.containersPerHost - spec.apps.length) : 0;
}

/** Swarm manager and worker, in join order. */
export const SWARM_MANAGER = 'manager-1';

/** Every sandbox object carries this label with the prefix as value, so cleanup can also find strays. */
export const LABEL = 'sbdi.sandbox.prefix';

/** Where the backup system's target keeps its file-backed pool (a docker volume is mounted here). */
export const TARGET_DATA_DIR = '/var/lib/sbdi';

const PREFIX_RE = /^[a-z][a-z0-9]{0,11}$/;

export function checkPrefix(prefix: string): string {
  if (!PREFIX_RE.test(prefix)) {
    throw new SandboxError('config', undefined, `prefix ${JSON.stringify(prefix)}: must match ${PREFIX_RE.source}`);
  }
  return prefix;
}

/** Fixed subnets for the two named deployments; any other prefix gets one derived from its name. */
const KNOWN_SUBNETS: Record<string, number> = { uat: 1, prod: 2 };

export function subnetFor(prefix: string): string {
  const known = KNOWN_SUBNETS[prefix];
  const third = known ?? 16 + (createHash('sha256').update(prefix).digest()[0]! % 224);
  return `10.231.${third}.0/24`;
}

export function hostAddress(subnet: string, octet: number): string {
  const m = /^(\d+\.\d+\.\d+)\.0\/24$/.exec(subnet);
  if (!m) throw new SandboxError('config', undefined, `subnet ${subnet}: only a /24 ending in .0 is supported`);
  return `${m[1]}.${octet}`;
}

export function gatewayAddress(subnet: string): string {
  return hostAddress(subnet, 1);
}

/** The repository root: nearest ancestor of this module (or its bundle) holding package.json. */
export function repoRoot(): string {
  for (let d = __dirname; ; d = dirname(d)) {
    if (existsSync(join(d, 'package.json')) && existsSync(join(d, 'tools', 'sandbox'))) return d;
    if (dirname(d) === d) break;
  }
  return process.cwd();
}

export interface Names {
  prefix: string;
  network: string;
  subnet: string;
  container(host: string): string;
  dockerVolume(host: string): string;
  targetVolume: string;
  /** The off-site remote's pool file directory (deployments with a remote only). */
  remoteVolume: string;
  /** The second target's store (deployments with a second target only). */
  secondTargetVolume: string;
  /** scripts/vm-ctl.sh name of a VM host's VM (deployments with VMs only). */
  vm(host: string): string;
}

export function names(prefix: string, subnet = subnetFor(prefix)): Names {
  checkPrefix(prefix);
  return {
    prefix,
    subnet,
    network: `${prefix}-sbdi-sandbox`,
    container: (h) => `${prefix}-${h}`,
    dockerVolume: (h) => `${prefix}-${h}-var-lib-docker`,
    targetVolume: `${prefix}-backup-target-var-lib-sbdi`,
    remoteVolume: `${prefix}-backup-remote-var-lib-sbdi`,
    secondTargetVolume: `${prefix}-backup-target-2-var-lib-sbdi`,
    vm: (h) => `sbdi-${prefix}-${h}`,
  };
}

export interface Paths {
  root: string;
  assets: string;
  cache: string;
  debs: string;
  images: string;
  /** Per-deployment directory: state.json, loop image files, host mount points. */
  dir: string;
  state: string;
  lock: string;
  btrfsImage(host: string): string;
  btrfsMount(host: string): string;
  /** The committed inventory if there is one for this prefix, else the generated one in `dir`. */
  inventory: string;
  committedInventory: string;
}

export function paths(prefix: string, root = repoRoot()): Paths {
  const cache = resolve(root, '.cache', 'sandbox');
  const dir = join(cache, prefix);
  const committedInventory = join(root, 'tests', 'sandbox', 'inventory', prefix, 'hosts.yml');
  return {
    root,
    assets: join(root, 'tools', 'sandbox', 'assets'),
    cache,
    debs: join(cache, 'debs'),
    images: join(cache, 'images'),
    dir,
    state: join(dir, 'state.json'),
    lock: join(dir, 'lock'),
    btrfsImage: (h) => join(dir, 'btrfs', `${h}.img`),
    btrfsMount: (h) => join(dir, 'mnt', h),
    inventory: existsSync(committedInventory) ? committedInventory : join(dir, 'inventory', 'hosts.yml'),
    committedInventory,
  };
}

/** The Debian mirror of this machine's own apt sources (never a name written into the project). */
export function aptMirror(): string {
  const candidates: string[] = [];
  const sourcesDir = '/etc/apt/sources.list.d';
  try {
    for (const f of readdirSync(sourcesDir).sort()) {
      if (!f.endsWith('.sources')) continue;
      const text = readFileSync(join(sourcesDir, f), 'utf8');
      for (const block of text.split(/\n\s*\n/)) {
        const uris = /^URIs:\s*(.+)$/m.exec(block)?.[1];
        const suites = /^Suites:\s*(.+)$/m.exec(block)?.[1] ?? '';
        if (uris && /\bbookworm\b/.test(suites)) candidates.push(...uris.trim().split(/\s+/));
      }
    }
  } catch {
    /* no deb822 sources */
  }
  if (existsSync('/etc/apt/sources.list')) {
    for (const line of readFileSync('/etc/apt/sources.list', 'utf8').split('\n')) {
      const m = /^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+bookworm\s/.exec(line.trim());
      if (m?.[1]) candidates.push(m[1]);
    }
  }
  const main = candidates.find((u) => !/security/.test(u));
  if (!main) throw new SandboxError('create', undefined, 'no Debian bookworm mirror found in /etc/apt/sources.list{,.d/*.sources}');
  return main;
}

import type { Plan, TargetPlan } from '../plan/types';
import { remotesOfTarget, sourcesOfTarget } from '../plan/lookup';
import { lookupName } from '../ssh/known-hosts';

/** A directory a role creates. */
export interface DirectorySpec {
  path: string;
  owner: string;
  group: string;
  mode: string;
}

/** A key pair a role generates on this host (ed25519). */
export interface KeySpec {
  name: 'director' | 'push' | 'pull' | 'replicate';
  path: string;
  owner: string;
  group: string;
}

/** This host's slice of the plan: what the roles need beyond the files themselves. */
export interface HostSlice {
  name: string;
  connection: string;
  roles: string[];
  operator: Plan['operator'];
  /** The account the push, pull and replicate keys log in as: on a target with sources and on a remote. */
  receiver?: Plan['receiver'];
  paths: Plan['paths'];
  packages: string[];
  directories: DirectorySpec[];
  keys: KeySpec[];
  /** Hosts whose ssh host key this host must know, with the file it goes into. */
  knownHosts: { file: string; owner: string; hosts: KnownHost[] };
  source?: Plan['sources'][number];
  target?: TargetPlan;
  /** This host is an off-site remote. */
  remote?: Plan['remotes'][number];
  /** Target with remotes: their ssh host keys, for the replicate key (root-only file). */
  remoteKnownHosts?: { file: string; owner: string; hosts: { host: string; connection: string; port: number }[] };
  /** Director: the perform_backup timer and the monitoring settings. */
  schedule?: Plan['schedule'];
  monitoring?: Plan['monitoring'];
  /**
   * What sbdi.backup keeps on this host: every file it installs or generates (MANIFEST.yml, key
   * pairs, known_hosts) and the directories it creates. The roles remove what is ours and not here.
   */
  expected: { files: string[]; dirs: string[] };
}

const ROOT_DIR = { owner: 'root', group: 'root', mode: '0755' };

/** A host another one connects to, with the name its key goes under in known_hosts. */
export interface KnownHost {
  host: string;
  connection: string;
  port: number;
  /** `connection`, or `[connection]:port` off port 22, as OpenSSH looks it up. */
  pattern: string;
}


/** `installed`: the paths of this host's MANIFEST.yml entries. */
export function hostSlice(plan: Plan, name: string, installed: readonly string[]): HostSlice {
  const host = plan.hosts.find((h) => h.name === name)!;
  const source = plan.sources.find((s) => s.host === name);
  const target = plan.targets.find((t) => t.host === name);
  const ownRemotes = target ? remotesOfTarget(plan, target.host) : [];
  const isDirector = plan.director === name;
  const managed = host.roles.some((r) => r !== 'director');
  const packages = new Set(['sudo', 'rsync', 'openssh-client', 'python3']);
  const directories: DirectorySpec[] = [{ path: plan.paths.lib, ...ROOT_DIR }];
  const keys: KeySpec[] = [];
  const hostsOf = (names: string[]): KnownHost[] =>
    plan.hosts.filter((h) => names.includes(h.name)).map((h) => ({ host: h.name, connection: h.connection, port: h.port, pattern: lookupName(h.connection, h.port) }));

  if (managed) {
    packages.add('openssh-server');
    directories.push({ path: plan.paths.capsules, ...ROOT_DIR });
  }
  if (isDirector) {
    packages.add('nodejs');
    directories.push({ path: plan.paths.bin, ...ROOT_DIR }, { path: plan.paths.share, ...ROOT_DIR });
    keys.push({ name: 'director', path: `${plan.operator.home}/.ssh/id_ed25519`, owner: plan.operator.user, group: plan.operator.group });
  }
  if (source) {
    directories.push({ path: plan.paths.etc, owner: 'root', group: 'root', mode: '0700' });
    directories.push({ path: source.snapshotMount, ...ROOT_DIR });
    keys.push(
      { name: 'push', path: `${plan.paths.etc}/push_ed25519`, owner: 'root', group: 'root' },
      { name: 'pull', path: `${plan.paths.etc}/pull_ed25519`, owner: 'root', group: 'root' },
    );
    const tools: Record<string, string> = { gluster: 'glusterfs-server', lvm: 'lvm2', btrfs: 'btrfs-progs', zfs: 'zfsutils-linux' };
    packages.add(source.backend === 'zfs' ? source.package : tools[source.backend]!);
  }
  if (target) {
    directories.push({ path: target.root, ...ROOT_DIR });
    if (target.backend === 'zfs') packages.add(target.zfs!.package);
    if (target.backend === 'btrfs') packages.add('btrfs-progs');
  }
  const remote = plan.remotes.find((r) => r.host === name);
  if (target && ownRemotes.length > 0) {
    if (!directories.some((d) => d.path === plan.paths.etc)) directories.push({ path: plan.paths.etc, owner: 'root', group: 'root', mode: '0700' });
    keys.push({ name: 'replicate', path: `${plan.paths.etc}/replicate_ed25519`, owner: 'root', group: 'root' });
    packages.add('openssh-client');
  }
  if (remote) {
    directories.push({ path: remote.root, ...ROOT_DIR });
    packages.add(remote.backend === 'zfs' ? remote.zfs!.package : 'btrfs-progs');
  }
  // Its home and .ssh are root's: the account cannot change the keys that may log in as it.
  const receives = (target !== undefined && sourcesOfTarget(plan, name).length > 0) || remote !== undefined;
  if (receives) directories.push({ path: plan.receiver.home, ...ROOT_DIR }, { path: `${plan.receiver.home}/.ssh`, ...ROOT_DIR });
  const knownHosts = isDirector
    ? { file: `${plan.operator.home}/.ssh/known_hosts`, owner: plan.operator.user, hosts: hostsOf(plan.hosts.filter((h) => h.roles.some((r) => r !== 'director')).map((h) => h.name)) }
    : source
      ? { file: `${plan.paths.etc}/known_hosts`, owner: 'root', hosts: hostsOf([source.target]) }
      : { file: '', owner: 'root', hosts: [] };
  const remoteKnownHosts = target && ownRemotes.length > 0
    ? { file: `${plan.paths.etc}/known_hosts_remotes`, owner: 'root', hosts: hostsOf(ownRemotes.map((r) => r.host)) }
    : undefined;
  // A source writes its target's host key into its own known_hosts even where knownHosts is the
  // operator's (a source that is also the director).
  const expectedFiles = new Set([
    ...installed,
    ...keys.flatMap((k) => [k.path, `${k.path}.pub`]),
    ...(knownHosts.file ? [knownHosts.file] : []),
    ...(source ? [`${plan.paths.etc}/known_hosts`] : []),
    ...(remoteKnownHosts ? [remoteKnownHosts.file] : []),
  ]);

  return {
    name,
    connection: host.connection,
    roles: host.roles,
    operator: plan.operator,
    ...(receives ? { receiver: plan.receiver } : {}),
    paths: plan.paths,
    packages: [...packages].sort(),
    directories,
    keys,
    knownHosts,
    ...(source ? { source } : {}),
    ...(target ? { target } : {}),
    ...(remote ? { remote } : {}),
    ...(remoteKnownHosts ? { remoteKnownHosts } : {}),
    ...(isDirector ? { schedule: plan.schedule, monitoring: plan.monitoring } : {}),
    expected: { files: [...expectedFiles].sort(), dirs: directories.map((d) => d.path) },
  };
}

import { HOSTS, SWARM_MANAGER, hostAddress, type Names } from './config';
import { SandboxError } from './errors';
import { DOCKER, docker, run, waitFor } from './exec';

/** Docker hosts in the order they enter the swarm: the manager first, then the workers. */
export function swarmHosts(): string[] {
  const dockerHosts = HOSTS.filter((h) => h.docker).map((h) => h.name);
  return [SWARM_MANAGER, ...dockerHosts.filter((h) => h !== SWARM_MANAGER)];
}

/**
 * `docker swarm init` on the manager, advertising its sandbox address; every other docker host joins
 * as a worker. No IPVS in this kernel: services must use --endpoint-mode dnsrr (none are created here).
 */
export async function formSwarm(n: Names): Promise<void> {
  const manager = HOSTS.find((h) => h.name === SWARM_MANAGER)!;
  const managerAddr = hostAddress(n.subnet, manager.octet);
  const mc = n.container(SWARM_MANAGER);
  await docker('create', SWARM_MANAGER, ['exec', mc, 'docker', 'swarm', 'init', '--advertise-addr', managerAddr]);
  const token = (await docker('create', SWARM_MANAGER, ['exec', mc, 'docker', 'swarm', 'join-token', '-q', 'worker'])).trim();
  for (const name of swarmHosts().slice(1)) {
    const spec = HOSTS.find((h) => h.name === name)!;
    await docker('create', name, [
      'exec', n.container(name), 'docker', 'swarm', 'join',
      '--advertise-addr', hostAddress(n.subnet, spec.octet),
      '--token', token, `${managerAddr}:2377`,
    ]);
  }
  const want = swarmHosts().length;
  const ok = await waitFor(async () => (await readyNodes(n)) === want, 120_000, 500);
  if (!ok) throw new SandboxError('create', SWARM_MANAGER, `swarm has ${await readyNodes(n)} ready node(s), want ${want}`);
}

/** Nodes the swarm manager reports Ready. */
export async function readyNodes(n: Names): Promise<number> {
  const r = await run(DOCKER, ['exec', n.container(SWARM_MANAGER), 'docker', 'node', 'ls', '--format', '{{.Status}}']);
  if (r.code !== 0) return 0;
  return r.stdout.split('\n').filter((s) => s.trim() === 'Ready').length;
}

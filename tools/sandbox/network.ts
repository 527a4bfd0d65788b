import { LABEL, gatewayAddress, type Names } from './config';
import { SandboxError } from './errors';
import { DOCKER, docker, run } from './exec';

function parseCidr(cidr: string): [number, number] | undefined {
  const m = /^(\d+)\.(\d+)\.(\d+)\.(\d+)\/(\d+)$/.exec(cidr.trim());
  if (!m) return undefined; // IPv6 or malformed: not ours to compare
  const ip = ((Number(m[1]) << 24) | (Number(m[2]) << 16) | (Number(m[3]) << 8) | Number(m[4])) >>> 0;
  const bits = Number(m[5]);
  const mask = bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0;
  return [(ip & mask) >>> 0, mask];
}

export function cidrsOverlap(a: string, b: string): boolean {
  const x = parseCidr(a);
  const y = parseCidr(b);
  if (!x || !y) return false;
  const mask = (x[1] & y[1]) >>> 0;
  return ((x[0] & mask) >>> 0) === ((y[0] & mask) >>> 0);
}

/** Every (network, subnet) docker knows on this machine. */
export async function dockerSubnets(): Promise<Array<{ network: string; subnet: string }>> {
  const ids = (await docker('create', undefined, ['network', 'ls', '-q'])).split('\n').filter(Boolean);
  if (ids.length === 0) return [];
  const out = await docker('create', undefined, ['network', 'inspect', '-f', '{{.Name}}{{range .IPAM.Config}} {{.Subnet}}{{end}}', ...ids]);
  return out
    .split('\n')
    .filter(Boolean)
    .flatMap((line) => {
      const [network, ...subnets] = line.trim().split(/\s+/);
      return subnets.map((subnet) => ({ network: network!, subnet }));
    });
}

/** Creates the deployment's bridge network with its explicit subnet, refusing one that overlaps another network. */
export async function createNetwork(n: Names): Promise<void> {
  const clash = (await dockerSubnets()).find((s) => s.network !== n.network && cidrsOverlap(s.subnet, n.subnet));
  if (clash) {
    throw new SandboxError('create', undefined, `subnet ${n.subnet} overlaps ${clash.subnet} of docker network ${clash.network}; pass --subnet`);
  }
  await docker('create', undefined, [
    'network', 'create', '--driver', 'bridge',
    '--subnet', n.subnet, '--gateway', gatewayAddress(n.subnet),
    '--label', `${LABEL}=${n.prefix}`,
    n.network,
  ]);
}

export async function removeNetwork(name: string): Promise<void> {
  const r = await run(DOCKER, ['network', 'rm', name]);
  if (r.code !== 0 && !/not found|No such network/i.test(r.stderr)) {
    throw new SandboxError('destroy', undefined, `docker network rm ${name}: ${r.stderr.trim()}`);
  }
}

export async function createVolume(n: Names, name: string): Promise<void> {
  await docker('create', undefined, ['volume', 'create', '--label', `${LABEL}=${n.prefix}`, name]);
}

export async function removeVolume(name: string): Promise<void> {
  const r = await run(DOCKER, ['volume', 'rm', '-f', name]);
  if (r.code !== 0 && !/No such volume|not found/i.test(r.stderr)) {
    throw new SandboxError('destroy', undefined, `docker volume rm ${name}: ${r.stderr.trim()}`);
  }
}

import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { planFromInventory } from '../../src/plan';
import { renderPlan, writeRendered } from '../../src/render';
import { paths } from '../../tools/sandbox/config';
import { DOCKER, run } from '../../tools/sandbox/exec';
import { ensureImages } from '../../tools/sandbox/image';
import { HOST_RUN_FLAGS } from '../../tools/sandbox/hosts';

/**
 * Storage tests run the rendered capsules for real, as root, inside throwaway containers of the
 * sandbox's base image (btrfs-progs, zfs-fuse, rsync, openssh, sudo, acl, attr), started with the
 * capability set that works on this machine instead of --privileged. Containers are named
 * `storagetest-*` and always removed; loop devices are only ever used through `mount -o loop`
 * (autoclear), never detached wholesale.
 */
/** The sandbox's own capability set (--privileged fails on these hosts). */
export const RUN_FLAGS = HOST_RUN_FLAGS;

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

export function docker(args: string[], input?: string, timeoutMs = 600_000): Run {
  const r = spawnSync('docker', args, { encoding: 'utf8', input, timeout: timeoutMs, maxBuffer: 64 << 20 });
  return { code: r.status ?? -1, stdout: r.stdout ?? '', stderr: (r.stderr ?? '') + (r.error ? String(r.error) : '') };
}

/**
 * The same, without blocking: for what runs longer than a few seconds (a scenario, a torture run),
 * so that the test worker's event loop keeps answering vitest (a blocked worker misses its RPC
 * deadline, and vitest then fails the whole run with "Timeout calling onTaskUpdate").
 */
export async function dockerAsync(args: string[], input?: string, timeoutMs = 600_000): Promise<Run> {
  return run(DOCKER, args, { input: input ?? '', timeoutMs });
}

export function dockerAvailable(): boolean {
  return docker(['info', '--format', '{{.ServerVersion}}'], undefined, 20_000).code === 0;
}

/** The sandbox's base image, built if this machine has none yet (minutes when cold). */
export async function baseImage(): Promise<string> {
  const images = await ensureImages(paths('uat'), (m) => process.stderr.write(`storage tests: ${m}\n`));
  return images.base;
}

/** Starts a container that stays up (tini + sleep), its hostname the rendered host's name. */
export function startContainer(name: string, hostname: string, image: string): void {
  removeContainer(name);
  const r = docker(['run', '-d', '--name', name, '--hostname', hostname, '--label', 'sbdi.storagetest=1', ...RUN_FLAGS,
    '--entrypoint', '/usr/bin/tini', image, '--', 'sleep', 'infinity']);
  if (r.code !== 0) throw new Error(`docker run ${name}: ${r.stderr}`);
}

/**
 * Removes a container after unmounting what its tests mounted inside it (a loop mount's loop
 * device is released by its unmount), deepest first.
 */
export function removeContainer(name: string): void {
  if (docker(['inspect', name], undefined, 30_000).code !== 0) return;
  docker(['exec', name, 'bash', '-c',
    'pkill -x rsync; for m in $(awk \'$2 ~ "^/(backup|docker|docker_local|mnt|srv)" {print $2}\' /proc/mounts | sort -r); do umount -l "$m"; done; ' +
    'for p in $(zpool list -H -o name 2>/dev/null); do zpool export -f "$p"; done; pkill -x zfs-fuse; sleep 1; true'], undefined, 120_000);
  docker(['rm', '-f', '-v', name], undefined, 120_000);
}

export function exec(name: string, script: string, timeoutMs = 600_000): Run {
  return docker(['exec', name, 'bash', '-c', script], undefined, timeoutMs);
}

/** Renders an inventory (YAML text) and returns the directory holding DIR/<host>/…. */
export function render(inventoryYaml: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'sbdi-storagetest-'));
  const inv = join(dir, 'hosts.yml');
  writeFileSync(inv, inventoryYaml);
  const out = join(dir, 'rendered');
  writeRendered(renderPlan(planFromInventory(inv), '// director bundle stand-in\n'), out);
  return out;
}

/**
 * Copies a host's rendering and tests/storage into the container and installs the host there.
 * `tokens`: lines `@@KEY:<host>:<name>@@ <public key>` for keys of other hosts in its authorized_keys.
 * The rendering is deleted afterwards unless `keep` (another host of it is installed next).
 */
export function install(name: string, rendered: string, host: string, opts: { tokens?: string; keep?: boolean } = {}): void {
  // docker cp puts a directory into one already there: a second install would copy beside the first.
  const clean = docker(['exec', name, 'rm', '-rf', '/tmp/rendered', '/tmp/storage']);
  if (clean.code !== 0) throw new Error(`clearing an earlier install in ${name}: ${clean.stderr}`);
  for (const [from, to] of [[join(rendered, host), '/tmp/rendered'], [__dirname, '/tmp/storage']] as const) {
    const r = docker(['cp', from, `${name}:${to}`]);
    if (r.code !== 0) throw new Error(`docker cp ${from}: ${r.stderr}`);
  }
  if (opts.tokens !== undefined) {
    const r = docker(['exec', '-i', name, 'bash', '-c', 'cat >/tmp/key-tokens'], opts.tokens);
    if (r.code !== 0) throw new Error(`writing the key tokens in ${name}: ${r.stderr}`);
  }
  const r = exec(name, `bash /tmp/storage/install-host.sh /tmp/rendered${opts.tokens !== undefined ? ' /tmp/key-tokens' : ''}`);
  if (r.code !== 0) throw new Error(`install-host.sh in ${name}: ${r.stdout}\n${r.stderr}`);
  if (!opts.keep) rmSync(join(rendered, '..'), { recursive: true, force: true });
}

/** An inventory of one host that is both target and source, plus the director the plan needs. */
export function inventory(
  target: Record<string, string | number | boolean>,
  source: Record<string, string | number | boolean>,
  remote?: { host: string; vars: Record<string, string | number> },
): string {
  const vars = (o: Record<string, unknown>) => Object.entries(o).map(([k, v]) => `          ${k}: ${JSON.stringify(v)}`).join('\n');
  return `all:
  vars:
    deployment_prefix: storagetest
  children:
    backup_director:
      hosts:
        backup-director:
    backup_targets:
      hosts:
        storage-1:
          ansible_host: 127.0.0.1
${vars(target)}
    backup_sources:
      hosts:
        storage-1:
${vars(source)}
${remote ? `    backup_remotes:
      hosts:
        ${remote.host}:
${vars(remote.vars)}
` : ''}`;
}

/** `FIGURE name value` lines of a scenario's output. */
export function figures(stdout: string): Record<string, string> {
  return Object.fromEntries([...stdout.matchAll(/^FIGURE (\S+) (.*)$/gm)].map((m) => [m[1]!, m[2]!]));
}

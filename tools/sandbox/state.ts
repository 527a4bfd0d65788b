import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { DockerScale } from './config';

/**
 * What a deployment's `create` made, written BEFORE each resource is made (intent), so that `destroy`
 * from a fresh process after a crash still finds everything. Destroy tolerates entries that never came to be.
 */
export interface SandboxState {
  prefix: string;
  subnet: string;
  network?: string;
  containers: string[];
  volumes: string[];
  /** Host mount points (btrfs loop mounts, autoclear loop devices). */
  mounts: string[];
  /** Files created on the host (loop image files). */
  files: string[];
  baseImage?: string;
  appImage?: string;
  /** layoutHash() of the harness that made it (hosts, writer, seed, run flags). */
  layout?: string;
  /** Made with the off-site remote host (SandboxOptions.remote). */
  remote?: boolean;
  /** Made with the second target host (SandboxOptions.secondTarget). */
  secondTarget?: boolean;
  /** Made with the LVM and Gluster VM sources (SandboxOptions.vms). */
  withVms?: boolean;
  /** scripts/vm-ctl.sh names of the VMs started (recorded before each is started). */
  vms?: string[];
  /** Made with extra docker hosts and idle containers (SandboxOptions.scale). */
  scale?: DockerScale;
  /** True once create finished every step. */
  complete: boolean;
  createdAt: string;
}

export function emptyState(prefix: string, subnet: string): SandboxState {
  return { prefix, subnet, containers: [], volumes: [], mounts: [], files: [], complete: false, createdAt: new Date().toISOString() };
}

export function loadState(file: string): SandboxState | undefined {
  if (!existsSync(file)) return undefined;
  return JSON.parse(readFileSync(file, 'utf8')) as SandboxState;
}

export function saveState(file: string, state: SandboxState): void {
  mkdirSync(dirname(file), { recursive: true });
  const tmp = `${file}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(state, null, 2)}\n`);
  renameSync(tmp, file);
}

export function removeState(file: string): void {
  rmSync(file, { force: true });
}

/** Appends `value` to a list in the state (once) and persists it immediately. */
export function track(file: string, state: SandboxState, key: 'containers' | 'volumes' | 'mounts' | 'files', value: string): void {
  if (!state[key].includes(value)) state[key].push(value);
  saveState(file, state);
}

/**
 * Where the director's ssh credentials live: the operator's own `~/.ssh`. Env overrides exist
 * for tests only (the installed director runs with the operator's real home).
 */
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { Plan } from '../plan/types';
import { Ssh2Transport } from './ssh2-transport';
import { TransportError } from './types';

export interface SshFiles {
  keyPath: string;
  knownHostsPath: string;
}

export function sshFiles(env: NodeJS.ProcessEnv = process.env, home: string = homedir()): SshFiles {
  return {
    keyPath: env.SBDI_SSH_KEY ?? join(home, '.ssh', 'id_ed25519'),
    knownHostsPath: env.SBDI_KNOWN_HOSTS ?? join(home, '.ssh', 'known_hosts'),
  };
}

/** Builds the real transport for a plan. A missing key or known_hosts is a connect failure, not a crash. */
export function transportForPlan(plan: Plan, files: SshFiles): Ssh2Transport {
  let privateKey: Buffer;
  try {
    privateKey = readFileSync(files.keyPath);
  } catch (e) {
    throw new TransportError(plan.director, 'auth', `cannot read the operator key ${files.keyPath}: ${(e as Error).message}`);
  }
  let knownHosts = '';
  try {
    knownHosts = readFileSync(files.knownHostsPath, 'utf8');
  } catch {
    // No known_hosts: every host is unknown and refused at connect, with that message.
  }
  return new Ssh2Transport({
    hosts: plan.hosts.map((h) => ({ name: h.name, connection: h.connection, port: h.port })),
    username: plan.operator.user,
    privateKey,
    knownHosts,
    connectTimeoutMs: plan.settings.connectTimeoutSeconds * 1000,
  });
}

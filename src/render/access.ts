/**
 * Who may do what on a host: its sudoers fragment (the capsules each account may run as root, with
 * their argument patterns) and the authorized_keys of its two accounts (each key forced into one
 * command). Everything least privilege rests on is rendered here.
 */
import type { Plan } from '../plan/types';
import { sourcesOfTarget } from '../plan/lookup';
import { BACKUP_ID, SUBPATH_ERE } from '../plan/checks';
import { CAPSULES, capsulesFor } from './capsules';
import { renderTemplate } from './engine';
import { forcedCommand, sudoersArg } from './quote';

export function renderSudoers(plan: Plan, hostName: string): string {
  const capsules = capsulesFor(plan, hostName);
  const target = plan.targets.find((t) => t.host === hostName);
  const lines: Array<{ user: string; command: string }> = [];
  for (const c of capsules) {
    const path = `${plan.paths.capsules}/${c.name}`;
    // The capsules a key is forced into belong to the receiving account, every other one to the operator.
    const user = c.keepsSshCommand ? plan.receiver.user : plan.operator.user;
    const commands = { push: (...cs: string[]) => lines.push(...cs.map((command) => ({ user, command }))) };
    if (c.arg === 'none') commands.push(`${path} ""`);
    if (c.arg === 'gate') commands.push(`${path} ""`, `${path} gated`);
    // sudo ≥ 1.9.10 matches arguments against ^…$ as a regular expression.
    if (c.arg === 'backup-id') commands.push(`${path} ${BACKUP_ID.source}`);
    if (c.arg === 'backup-id-or-gate') commands.push(`${path} ${BACKUP_ID.source}`, `${path} gated`);
    if (c.arg === 'tree') for (const s of sourcesOfTarget(plan, hostName)) commands.push(`${path} ${sudoersArg(s.treeName)}`);
    // No argument, or one path inside the source ('.' and '..' components excluded by the ERE).
    if (c.arg === 'optional-subpath') commands.push(`${path} ""`, `${path} ${SUBPATH_ERE}`);
    if (c.arg === 'foreign') for (const f of target?.foreignStores ?? []) commands.push(`${path} ${sudoersArg(f.name)}`);
  }
  const env = capsules.filter((c) => c.keepsSshCommand).map((c) => `${plan.paths.capsules}/${c.name}`);
  // Set here for both accounts rather than trusting the host's own sudoers: a host with
  // `Defaults !env_reset` or `setenv` would otherwise hand the caller's environment to root.
  const users = [...new Set(lines.map((l) => l.user))];
  return renderTemplate('sudoers.hbs', { host: hostName, operator: plan.operator, receiver: plan.receiver, lines, env, users });
}

/** Placeholder the role replaces with a public key read from that host. */
export function keyToken(host: string, key: 'director' | 'push' | 'pull' | 'replicate'): string {
  return `@@KEY:${host}:${key}@@`;
}

export function renderOperatorKeys(plan: Plan, hostName: string): string {
  return [
    `# sbdi-backup: generated for ${hostName}; every key is confined by a forced command and restrict.`,
    `restrict,command="${forcedCommand(`${plan.paths.capsules}/sbdi-dispatch`)}" ${keyToken(plan.director, 'director')} sbdi-backup director`,
    '',
  ].join('\n');
}

/** The push, pull and replicate keys that log in to this host, if any: the receiving account's. */
export function renderReceiverKeys(plan: Plan, hostName: string): string | undefined {
  const lines = [`# sbdi-backup: generated for ${hostName}; every key is confined by a forced command and restrict.`];
  if (plan.targets.some((t) => t.host === hostName)) {
    // Only this target's own sources may push to it or pull from it.
    for (const s of sourcesOfTarget(plan, hostName)) {
      const receive = CAPSULES.find((c) => c.name === 'receive_backup')!;
      const send = CAPSULES.find((c) => c.name === 'send_restore')!;
      lines.push(
        `restrict,command="${forcedCommand(`/usr/bin/sudo -n ${plan.paths.capsules}/${receive.name} ${s.treeName}`)}" ${keyToken(s.host, 'push')} sbdi-backup push ${s.host}`,
        `restrict,command="${forcedCommand(`/usr/bin/sudo -n ${plan.paths.capsules}/${send.name} ${s.treeName}`)}" ${keyToken(s.host, 'pull')} sbdi-backup pull ${s.host}`,
      );
    }
  }
  const remote = plan.remotes.find((r) => r.host === hostName);
  if (remote) {
    // Its target's root-only replicate key: only list replicas or receive one stream into this remote's store.
    lines.push(`restrict,command="${forcedCommand(`/usr/bin/sudo -n ${plan.paths.capsules}/receive_replica`)}" ${keyToken(remote.target, 'replicate')} sbdi-backup replicate ${remote.target}`);
  }
  return lines.length > 1 ? `${lines.join('\n')}\n` : undefined;
}

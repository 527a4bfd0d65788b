/**
 * stop_docker, start_docker, pause_containers, unpause_containers: one capsule on every docker
 * host in parallel, reported per host. Commands that stop or freeze things refuse to start
 * unless every host is reachable (no half-stopped platform); commands that bring things back
 * act on every host they can reach.
 */
import type { CapsuleResult } from '../ssh/types';
import type { Context } from './context';
import { EXIT } from './exit-codes';
import { renderTable } from './format';
import { withLock } from './guard';
import { capsuleOnHosts, runOnHosts } from './phase';

export type DockerCommand = 'stop_docker' | 'start_docker' | 'pause_containers' | 'unpause_containers';

const RESTORING: ReadonlySet<DockerCommand> = new Set(['start_docker', 'unpause_containers']);

function describe(command: DockerCommand, r: CapsuleResult): string {
  switch (command) {
    case 'stop_docker':
    case 'start_docker':
      return r.running === true ? 'docker running' : 'docker stopped';
    case 'pause_containers':
      return `${String(r.paused ?? '?')} containers frozen${typeof r.pausedBefore === 'number' && r.pausedBefore > 0 ? ` (${r.pausedBefore} paused before, left alone)` : ''} (deadline ${String(r.deadline ?? '?')}s)`;
    case 'unpause_containers':
      return `${String(r.unpaused ?? '?')} containers thawed${r.stoppedPause === true ? ' (a pause still in progress was stopped first)' : ''}${r.watchdogFired === true ? ' (the deadline had already thawed them)' : ''}`;
  }
}

export async function dockerCommand(ctx: Context, command: DockerCommand): Promise<number> {
  // All four hold the lock: an operator's unpause in the middle of a backup's pause window
  // would silently make its snapshots inconsistent. (Interrupting the backup unpauses.)
  return withLock(ctx, command, async () => {
    const hosts = ctx.plan.dockerHosts;
    const connected = await runOnHosts(ctx, hosts, { phase: 'connect', exitCode: EXIT.CONNECT }, (host) => ctx.transport.connect(host));
    const unreachable = connected.failures.map((f) => f.host ?? '?');
    const rows: string[][] = unreachable.map((h) => [h, 'UNREACHABLE', connected.failures.find((f) => f.host === h)?.message ?? '']);
    let reachable = hosts.filter((h) => !unreachable.includes(h));
    if (unreachable.length > 0 && !RESTORING.has(command)) {
      reachable = [];
      ctx.report.error(command, `not run on any host: ${unreachable.join(', ')} cannot be reached`);
    }
    const outcome = await capsuleOnHosts(ctx, reachable, {
      phase: command,
      exitCode: EXIT.DOCKER_COMMAND,
      capsule: command,
      exec: RESTORING.has(command) ? {} : { signal: ctx.interrupt },
      summarize: (r) => ({ detail: describe(command, r) }),
    });
    for (const [host, r] of outcome.values) rows.push([host, 'ok', describe(command, r)]);
    for (const f of outcome.failures) rows.push([f.host ?? '?', 'FAILED', f.message]);
    rows.sort((a, b) => (a[0]! < b[0]! ? -1 : 1));
    const lines = [renderTable(['HOST', 'RESULT', 'DETAIL'], rows)];
    if (command === 'pause_containers' && outcome.values.size > 0) {
      lines.push('', `containers unpause by themselves after ${ctx.plan.settings.pauseDeadlineSeconds}s unless unpause_containers runs first`);
    }
    ctx.print(lines.join('\n'));
    if (unreachable.length > 0) return EXIT.CONNECT;
    if (outcome.failures.length > 0) {
      ctx.report.error(command, `failed on ${outcome.failures.map((f) => f.host ?? '?').join(', ')}`);
      return EXIT.DOCKER_COMMAND;
    }
    return EXIT.OK;
  });
}

// What a sandbox test file that installs its own deployment needs around it: the options the
// playbook runs with (a private copy of the built CLI, bundle and templates: others may rebuild
// dist/ or edit templates/ between the converge and a later idempotence run, which would show up as
// changed files on the hosts), commands on its hosts and operator commands on its director, with a
// log and the timings printed when the file ends.
import { copyFileSync, cpSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { DOCKER, run, type RunResult } from '../../tools/sandbox/exec';
import type { SandboxOptions } from '../../tools/sandbox/steps';

export const ROOT = join(__dirname, '..', '..');

export interface DeploymentKit {
  opts: SandboxOptions & { prefix: string; playbookArgs: string[] };
  logs: string[];
  timings: Record<string, number>;
  /** A script as root on one of the deployment's hosts. */
  sh(host: string, script: string, input?: string): Promise<RunResult>;
  /** The same, failing the test on a non-zero exit; returns stdout. */
  must(host: string, script: string, input?: string): Promise<string>;
  /** An operator command on the director, as backupoperator. */
  op(command: string, ...args: string[]): Promise<RunResult>;
  /** op, failing the test on a non-zero exit. */
  opOk(command: string, ...args: string[]): Promise<RunResult>;
  /** Copies dist/ and templates/ to the private build the playbook renders from (call in beforeAll). */
  takeBuild(): void;
  /** Removes the private build and prints the log and timings (call last in afterAll). */
  finish(): void;
}

export function deploymentKit(prefix: string, extra: SandboxOptions = {}): DeploymentKit {
  const logs: string[] = [];
  const timings: Record<string, number> = {};
  const build = join(ROOT, '.cache', 'sandbox', `${prefix}-build`);
  const dist = join(build, 'dist');
  const opts = {
    ...extra,
    prefix,
    root: ROOT,
    log: (m: string) => logs.push(`[${prefix}] ${m}`),
    playbookArgs: ['-e', `sbdi_backup_cli=${join(dist, 'sbdi-backup.cjs')}`, '-e', `sbdi_backup_director_bundle=${join(dist, 'director.cjs')}`],
  };
  const sh = (host: string, script: string, input = ''): Promise<RunResult> =>
    run(DOCKER, ['exec', '-i', `${prefix}-${host}`, 'bash', '-o', 'pipefail', '-c', script], { input, timeoutMs: 300_000 });
  const must = async (host: string, script: string, input?: string): Promise<string> => {
    const r = await sh(host, `set -eu; ${script}`, input);
    if (r.code !== 0) throw new Error(`${prefix}-${host}: ${script} exited ${r.code}: ${r.stderr}${r.stdout}`);
    return r.stdout;
  };
  const op = async (command: string, ...args: string[]): Promise<RunResult> => {
    const t0 = Date.now();
    const r = await run(DOCKER, ['exec', '-u', 'backupoperator', '-w', '/home/backupoperator', '-e', 'SBDI_NO_SYSLOG=1', `${prefix}-backup-director`, `/opt/sbdi/backup/bin/${command}`, ...args], {
      timeoutMs: 900_000,
    });
    const s = (Date.now() - t0) / 1000;
    logs.push(`[${prefix}] $ ${command} ${args.join(' ')} → ${r.code} (${s.toFixed(1)} s)\n${r.stdout}${r.stderr}`);
    timings[`${command} ${args.join(' ')}`.trim()] = s;
    return r;
  };
  const opOk = async (command: string, ...args: string[]): Promise<RunResult> => {
    const r = await op(command, ...args);
    if (r.code !== 0) throw new Error(`${command} ${args.join(' ')} exited ${r.code}:\n${r.stdout}\n${r.stderr}`);
    return r;
  };
  const takeBuild = (): void => {
    rmSync(build, { recursive: true, force: true });
    mkdirSync(dist, { recursive: true });
    for (const f of ['sbdi-backup.cjs', 'director.cjs']) copyFileSync(join(ROOT, 'dist', f), join(dist, f));
    cpSync(join(ROOT, 'templates'), join(build, 'templates'), { recursive: true });
  };
  const finish = (): void => {
    try {
      rmSync(build, { recursive: true, force: true });
    } finally {
      process.stderr.write(`${logs.join('\n')}\ntimings (s): ${JSON.stringify(timings)}\n`);
    }
  };
  return { opts, logs, timings, sh, must, op, opOk, takeBuild, finish };
}

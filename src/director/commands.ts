/** Operator command names → their implementations, with argument parsing. */
import { parseArgs } from 'node:util';
import { performBackup } from './backup';
import type { Context } from './context';
import { dockerCommand } from './docker';
import { DirectorError, UsageError, asDirectorError } from './errors';
import { EXIT, EXIT_MEANING } from './exit-codes';
import { listBackups } from './list';
import { NAGIOS, checkBackup } from './health';
import { pruneBackups } from './prune';
import { replicateBackups } from './replicate';
import { verifyBackup } from './verify';
import { durationSeconds } from '../plan/checks';
import { restoreBackup, type RestoreOptions } from './restore';

export const COMMANDS = [
  'perform_backup',
  'list_backups',
  'restore_backup',
  'restore_latest_backup',
  'stop_docker',
  'start_docker',
  'pause_containers',
  'unpause_containers',
  'replicate_backups',
  'prune_backups',
  'verify_backup',
  'check_backup',
] as const;
export type CommandName = (typeof COMMANDS)[number];

export function isCommand(name: string | undefined): name is CommandName {
  return (COMMANDS as readonly string[]).includes(name ?? '');
}

export function usage(): string {
  return [
    'usage: <command> [arguments]   (sbdi-backup director; run as the backup operator)',
    '',
    '  perform_backup [--full-scan]  pause all containers, snapshot every source, unpause, sync, commit',
    '      --full-scan             compare every entry on both sides instead of sending only what changed since the last backup',
    '  list_backups [--json]       backups on the target and failed runs (id, status, size, age)',
    '  restore_backup ID [OPTIONS] restore backup ID (YYYYMMDD_HHMMSS); run stop_docker first',
    '  restore_latest_backup [OPTIONS]  restore the newest complete backup; run stop_docker first',
    '      --only HOST[:PATH]      only this source, or one path inside its source dir (repeatable, one per host)',
    '      --dry-run               show per host what would change; change nothing (docker may run)',
    '      --from STORE            restore from a foreign store of the target (backup_foreign_stores)',
    '  stop_docker | start_docker  stop / start docker on every docker host',
    '  pause_containers            pause every container on every docker host (ends by itself at the deadline)',
    '  unpause_containers          unpause every container on every docker host',
    '  replicate_backups           send new backups to the off-site remotes (also after every perform_backup)',
    '  prune_backups [--dry-run]   remove what the retention policy no longer keeps (also after every perform_backup)',
    '      --force                 delete even when more than half of a store\'s complete backups would go',
    '      --delete-future         delete only the backups and replicas dated in the future of their store\'s clock',
    '  verify_backup ID|--latest [--restore-test]  check a backup against its manifest, checksums and the store',
    '  check_backup [-w AGE] [-c AGE]  Nagios/Icinga check (exit 0/1/2/3, perfdata); writes Prometheus metrics',
    '',
    'exit codes:',
    ...Object.entries(EXIT_MEANING).map(([code, meaning]) => `  ${code.padStart(3)}  ${meaning}`),
  ].join('\n');
}

/** One command's part of the usage: its own line and the option lines under it. */
export function commandUsage(command: CommandName): string {
  const lines = usage().split('\n');
  const out: string[] = [];
  let mine = false;
  for (const line of lines) {
    if (/^ {2}\S/.test(line)) mine = line.slice(2).split(/[ |]+/).slice(0, 3).includes(command) || (mine && command.startsWith('restore_') && /^ {2}restore_/.test(line));
    else if (!/^ {6}/.test(line)) mine = false;
    if (mine) out.push(line);
  }
  const codes = lines.slice(lines.indexOf('exit codes:'));
  return [`usage: ${command} [arguments]   (sbdi-backup director; run as the backup operator)`, '', ...out, '', ...codes].join('\n');
}

const RESTORE_OPTIONS = {
  only: { type: 'string', multiple: true },
  'dry-run': { type: 'boolean' },
  from: { type: 'string' },
} as const;

function restoreOptions(values: Record<string, unknown>): RestoreOptions {
  const o: RestoreOptions = {};
  if (Array.isArray(values.only)) o.only = values.only as string[];
  if (values['dry-run'] === true) o.dryRun = true;
  if (typeof values.from === 'string') o.from = values.from;
  return o;
}

function parse(args: string[], options: Record<string, { type: 'boolean' | 'string'; multiple?: boolean }>, positionals: number): { values: Record<string, unknown>; positionals: string[] } {
  try {
    const parsed = parseArgs({ args, options, allowPositionals: true, strict: true });
    if (parsed.positionals.length !== positionals) {
      throw new UsageError(positionals === 0 ? 'this command takes no arguments' : `expected ${positionals} argument(s)`);
    }
    return { values: parsed.values as Record<string, unknown>, positionals: parsed.positionals };
  } catch (e) {
    if (e instanceof UsageError) throw e;
    throw new UsageError((e as Error).message);
  }
}

/** Runs argv = [command, ...args]; returns the exit code. Never throws. */
export async function runCommand(ctx: Context, argv: string[]): Promise<number> {
  const [command, ...args] = argv;
  try {
    if (!isCommand(command)) throw new UsageError(`unknown command ${JSON.stringify(command ?? '')}`);
    // Before anything else: help contacts no host and takes no lock.
    if (args.includes('--help') || args.includes('-h')) {
      ctx.print(commandUsage(command));
      return EXIT.OK;
    }
    switch (command) {
      case 'perform_backup': {
        const { values } = parse(args, { 'full-scan': { type: 'boolean' } }, 0);
        return await performBackup(ctx, { fullScan: values['full-scan'] === true });
      }
      case 'list_backups': {
        const { values } = parse(args, { json: { type: 'boolean' } }, 0);
        return await listBackups(ctx, { json: values.json === true });
      }
      case 'restore_backup': {
        const { positionals, values } = parse(args, RESTORE_OPTIONS, 1);
        return await restoreBackup(ctx, { id: positionals[0] as string, ...restoreOptions(values) });
      }
      case 'restore_latest_backup': {
        const { values } = parse(args, RESTORE_OPTIONS, 0);
        return await restoreBackup(ctx, { latest: true, ...restoreOptions(values) });
      }
      case 'stop_docker':
      case 'start_docker':
      case 'pause_containers':
      case 'unpause_containers':
        parse(args, {}, 0);
        return await dockerCommand(ctx, command);
      case 'replicate_backups':
        parse(args, {}, 0);
        return await replicateBackups(ctx);
      case 'prune_backups': {
        const { values } = parse(args, { 'dry-run': { type: 'boolean' }, force: { type: 'boolean' }, 'delete-future': { type: 'boolean' } }, 0);
        if (values.force === true && values['delete-future'] === true) throw new UsageError('prune_backups: --force and --delete-future are separate steps');
        return await pruneBackups(ctx, { dryRun: values['dry-run'] === true, force: values.force === true, deleteFuture: values['delete-future'] === true });
      }
      case 'verify_backup': {
        const latest = args.includes('--latest');
        const { values, positionals } = parse(args, { latest: { type: 'boolean' }, 'restore-test': { type: 'boolean' } }, latest ? 0 : 1);
        return await verifyBackup(ctx, { ...(latest ? { latest: true } : { id: positionals[0] as string }), restoreTest: values['restore-test'] === true });
      }
      case 'check_backup': {
        // A Nagios plugin: a bad argument is UNKNOWN (3), never a code with another meaning.
        try {
          const { values } = parse(args, { warning: { type: 'string' }, critical: { type: 'string' }, w: { type: 'string' }, c: { type: 'string' } } as never, 0);
          const age = (v: unknown, name: string): number | undefined => {
            if (v === undefined) return undefined;
            const s = durationSeconds(v);
            if (s === undefined) throw new UsageError(`${name}: expected a duration like 90m, 26h, 2d`);
            return s;
          };
          const warningSeconds = age(values.warning ?? values.w, '--warning');
          const criticalSeconds = age(values.critical ?? values.c, '--critical');
          return await checkBackup(ctx, { warningSeconds, criticalSeconds });
        } catch (e) {
          ctx.print(`BACKUP UNKNOWN - ${(e as Error).message}`);
          return NAGIOS.UNKNOWN;
        }
      }
    }
  } catch (e) {
    const error: DirectorError = asDirectorError(e, command ?? 'usage');
    if (error instanceof UsageError) {
      ctx.report.error('usage', error.message);
      ctx.usage?.(usage());
      return EXIT.USAGE;
    }
    ctx.report.error(error.phase, error.message);
    return error.exitCode;
  }
}

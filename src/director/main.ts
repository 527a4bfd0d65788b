/**
 * The director executable: `node director.cjs <command> [args]`. Installed with the plan
 * compiled in; every operator command in /opt/sbdi/backup/bin is a two-line wrapper around it.
 * Runs on Node 18 with no node_modules (esbuild bundles ssh2 in).
 */
import { transportForPlan, sshFiles } from '../ssh/config';
import { TransportError, type Transport } from '../ssh/types';
import { COMMANDS, isCommand, runCommand, usage } from './commands';
import type { Context } from './context';
import { DirectorError } from './errors';
import { EXIT } from './exit-codes';
import { loadPlan } from './plan-source';
import { Reporter, syslogViaLogger, type ReporterSinks } from './reporter';
import { StateStore, defaultStateDir } from './state';

function writeErr(text: string): void {
  process.stderr.write(text.endsWith('\n') ? text : `${text}\n`);
}

async function main(argv: string[]): Promise<number> {
  const command = argv[0];
  if (!isCommand(command)) {
    writeErr(command === undefined ? 'no command given' : `unknown command ${JSON.stringify(command)} (one of: ${COMMANDS.join(', ')})`);
    writeErr(usage());
    return EXIT.USAGE;
  }
  let plan;
  try {
    plan = loadPlan();
  } catch (e) {
    writeErr(`sbdi-backup: ${(e as Error).message}`);
    return EXIT.USAGE;
  }

  const logger = process.env.SBDI_NO_SYSLOG === '1' ? undefined : syslogViaLogger(plan.application);
  const syslog: ReporterSinks['syslog'] = logger === undefined ? () => undefined : logger.send;
  // A Nagios plugin's output is its first line on stdout: check_backup shows its progress lines
  // only when the check is not OK (they still go to syslog).
  const held: string[] = [];
  const line = command === 'check_backup' ? (text: string) => void held.push(text) : writeErr;
  const report = new Reporter(plan.director, { line, syslog }, Date.now);

  // Interrupts abort the run; its cleanup (unpause first of all) still runs to the end.
  const interrupt = new AbortController();
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    signals++;
    if (signals === 1) {
      report.warn('interrupt', `${signal}: stopping; cleanup (unpause, snapshot removal) still runs`);
      interrupt.abort(signal);
    } else if (signals === 2) {
      report.warn('interrupt', `${signal} again: still cleaning up; once more exits at once (the pause deadline then unpauses by itself)`);
    } else {
      process.exit(signal === 'SIGTERM' ? EXIT.SIGTERM : EXIT.SIGINT);
    }
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  let transport: Transport;
  try {
    transport = transportForPlan(plan, sshFiles());
  } catch (e) {
    if (e instanceof TransportError) {
      report.error('connect', e.message);
      await logger?.close();
      return EXIT.CONNECT;
    }
    throw e;
  }

  const ctx: Context = {
    plan,
    transport,
    report,
    state: new StateStore(defaultStateDir()),
    now: Date.now,
    interrupt: interrupt.signal,
    pid: process.pid,
    print: (text) => process.stdout.write(text.endsWith('\n') ? text : `${text}\n`),
    usage: writeErr,
    metricsDir: process.env.SBDI_METRICS_DIR ?? plan.monitoring.metricsDir,
    // rsync progress only makes sense on a terminal; in cron mail it would be noise.
    progress: process.stderr.isTTY ? (chunk) => process.stderr.write(chunk) : undefined,
  };
  try {
    const code = await runCommand(ctx, argv);
    if (code !== EXIT.OK) for (const text of held) writeErr(text);
    return code;
  } finally {
    await transport.close();
    await logger?.close();
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    // Flush stdout before exiting (pipes are async); open ssh handles must not keep us alive.
    process.stdout.write('', () => process.exit(code));
  },
  (e: unknown) => {
    const code = e instanceof DirectorError ? e.exitCode : EXIT.INTERNAL;
    writeErr(`sbdi-backup: internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    process.exit(code);
  },
);

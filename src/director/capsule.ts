/**
 * Runs one capsule on one host and turns every way it can go wrong into a DirectorError
 * naming the host, the phase and the capsule. The director trusts a capsule's answer only when
 * it exited 0 AND printed a result line with ok !== false.
 */
import { TransportError, type CapsuleResult, type ExecOptions } from '../ssh/types';
import type { Context } from './context';
import { CapsuleError, DirectorError } from './errors';
import type { ExitCode } from './exit-codes';

export interface CapsuleCall {
  phase: string;
  /** Exit code of the command if this call fails. */
  exitCode: ExitCode;
  host: string;
  capsule: string;
  arg?: string;
}

function lastLine(text: string): string | undefined {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '')
    .pop();
}

/** The uniform log line of a capsule's warning (templates/lib/runtime.sh.hbs: sbdi_log). */
const CAPSULE_WARNING = /^sbdi-backup host=\S+ phase=\S+ level=warn msg=(.*)$/;
/** More would be a flood (a capsule warning per file); the rest stay in the host's syslog. */
const MAX_RELAYED_WARNINGS = 10;

/**
 * A capsule's warnings (a snapshot left behind removed, a pause that needed a second try) are
 * the operator's to see, not only the host's syslog: each becomes a warning of the phase and host.
 * rsync's progress separates its updates with \r, so only \n-ended lines are looked at.
 */
function relayWarnings(ctx: Context, phase: string, host: string, stderr: string): void {
  let relayed = 0;
  for (const line of stderr.split('\n')) {
    const m = CAPSULE_WARNING.exec(line.replace(/^.*\r/, ''));
    if (m === null) continue;
    if (++relayed > MAX_RELAYED_WARNINGS) {
      ctx.report.warn(phase, `more warnings in ${host}'s syslog`, host);
      return;
    }
    ctx.report.warn(phase, m[1]!.replace(/[\u0000-\u001f\u007f]/g, '?'), host);
  }
}

export async function runCapsule(ctx: Context, call: CapsuleCall, options: ExecOptions = {}): Promise<CapsuleResult> {
  const { phase, exitCode, host, capsule, arg } = call;
  let outcome;
  try {
    outcome = await ctx.transport.exec(host, capsule, arg, options);
  } catch (e) {
    if (e instanceof TransportError) {
      const why =
        e.kind === 'aborted' && options.signal?.reason === 'deadline'
          ? `${capsule} did not finish before the deadline`
          : e.kind === 'aborted'
            ? `${capsule} aborted (${String(options.signal?.reason ?? 'interrupt')})`
            : `${capsule}: ${e.message}`;
      throw new DirectorError(`${host}: ${why}`, exitCode, phase, host);
    }
    throw e;
  }
  const { code, result, stderr } = outcome;
  relayWarnings(ctx, phase, host, stderr);
  if (code !== 0 || result === undefined || result.ok === false) {
    const detail =
      (typeof result?.error === 'string' && result.error) ||
      lastLine(stderr) ||
      (result === undefined ? 'no SBDI-RESULT line on stdout' : 'ok:false without a reason');
    throw new CapsuleError(host, phase, exitCode, capsule, code, detail);
  }
  return result;
}

/** Reads a numeric result field, tolerating its absence. */
export function num(result: CapsuleResult, field: string): number | undefined {
  const v = result[field];
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

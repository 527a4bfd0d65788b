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

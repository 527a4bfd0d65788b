/**
 * A phase = one capsule call per host, in parallel (or with a concurrency limit), recorded per
 * host. A phase finishes only when every call it started has settled, then fails with all the
 * hosts that failed — never leaves a call running behind the next phase's back.
 */
import type { CapsuleResult, ExecOptions } from '../ssh/types';
import { runCapsule } from './capsule';
import type { Context } from './context';
import { mapLimit } from './concurrency';
import { DirectorError, PhaseError, asDirectorError } from './errors';
import type { ExitCode } from './exit-codes';
import type { StepSummary } from './reporter';

export interface PhaseOptions<T> {
  phase: string;
  exitCode: ExitCode;
  /** Parallel calls; default: all at once. */
  concurrency?: number;
  /** Stop starting new hosts after the first failure (sync: a failed backup is not committed anyway). */
  stopOnFailure?: boolean;
  /** Also stop starting new hosts when this returns true (operator interrupt). */
  stop?: () => boolean;
  summarize?: (value: T) => StepSummary;
  /** Print a line when each host's step starts (long phases). */
  announce?: boolean;
}

export interface PhaseOutcome<T> {
  values: Map<string, T>;
  failures: DirectorError[];
  skipped: string[];
}

/** Runs fn on every host; never throws (the caller decides what a failure means). */
export async function runOnHosts<T>(ctx: Context, hosts: readonly string[], options: PhaseOptions<T>, fn: (host: string) => Promise<T>): Promise<PhaseOutcome<T>> {
  let failed = false;
  const settled = await mapLimit(
    hosts,
    options.concurrency ?? hosts.length,
    async (host) => {
      try {
        return await ctx.report.step(options.phase, host, () => fn(host), options.summarize, options.announce);
      } catch (e) {
        failed = true;
        throw e;
      }
    },
    () => (options.stopOnFailure === true && failed) || options.stop?.() === true,
  );
  const outcome: PhaseOutcome<T> = { values: new Map(), failures: [], skipped: [] };
  settled.forEach((s, i) => {
    const host = hosts[i] as string;
    if (s === undefined) {
      outcome.skipped.push(host);
      ctx.report.warn(options.phase, 'skipped', host);
    } else if (s.ok) outcome.values.set(host, s.value);
    else {
      const e = asDirectorError(s.error, options.phase);
      // Failures keep the phase's exit code even when the transport raised them.
      outcome.failures.push(e.exitCode === options.exitCode ? e : new DirectorError(e.message, options.exitCode, options.phase, host));
    }
  });
  return outcome;
}

/** runOnHosts that throws one PhaseError naming every failed host. */
export async function runPhase<T>(ctx: Context, hosts: readonly string[], options: PhaseOptions<T>, fn: (host: string) => Promise<T>): Promise<Map<string, T>> {
  const outcome = await runOnHosts(ctx, hosts, options, fn);
  throwIfFailed(options, outcome);
  return outcome.values;
}

export function throwIfFailed(options: { phase: string; exitCode: ExitCode }, outcome: PhaseOutcome<unknown>): void {
  if (outcome.failures.length > 0) {
    throw new PhaseError(
      options.phase,
      options.exitCode,
      outcome.failures.map((f) => ({ host: f.host ?? '?', message: f.message })),
    );
  }
  if (outcome.skipped.length > 0) {
    throw new PhaseError(options.phase, options.exitCode, outcome.skipped.map((host) => ({ host, message: `${host}: skipped` })));
  }
}

/** Connects to every host before anything is touched; one unreachable host fails the command. */
export async function connectAll(ctx: Context, hosts: readonly string[], exitCode: ExitCode): Promise<void> {
  await runPhase(ctx, [...new Set(hosts)], { phase: 'connect', exitCode }, (host) => ctx.transport.connect(host));
}

export interface CapsulePhaseOptions extends PhaseOptions<CapsuleResult> {
  capsule: string;
  arg?: string;
  /** A per-host argument instead of `arg` (undefined: none). */
  argFor?: (host: string) => string | undefined;
  /** Per-call exec options (abort signal, stdin, stderr streaming). */
  exec?: ExecOptions;
  /** A per-host stdin instead of exec.stdin. */
  stdinFor?: (host: string) => string;
  /** Called as each host's capsule succeeds, before the others end (perform_backup starts that source's snapshot removal). */
  onDone?: (host: string, result: CapsuleResult) => void;
}

/** Runs one capsule on every host as one phase; never throws. */
export function capsuleOnHosts(ctx: Context, hosts: readonly string[], options: CapsulePhaseOptions): Promise<PhaseOutcome<CapsuleResult>> {
  const { phase, exitCode, capsule, arg } = options;
  return runOnHosts<CapsuleResult>(ctx, hosts, options, async (host) => {
    const exec = options.stdinFor === undefined ? options.exec : { ...options.exec, stdin: options.stdinFor(host) };
    const result = await runCapsule(ctx, { phase, exitCode, host, capsule, arg: options.argFor === undefined ? arg : options.argFor(host) }, exec);
    options.onDone?.(host, result);
    return result;
  });
}

/** capsuleOnHosts that throws one PhaseError naming every failed host. */
export async function capsulePhase(ctx: Context, hosts: readonly string[], options: CapsulePhaseOptions): Promise<Map<string, CapsuleResult>> {
  const outcome = await capsuleOnHosts(ctx, hosts, options);
  throwIfFailed(options, outcome);
  return outcome.values;
}

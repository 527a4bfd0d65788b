/**
 * Typed failures. Every error that ends a command carries the exit code it maps to and, where
 * it applies, the phase and the host, so the final report and the run record can name them.
 */
import { EXIT, type ExitCode } from './exit-codes';

export class DirectorError extends Error {
  constructor(
    message: string,
    readonly exitCode: ExitCode,
    readonly phase: string,
    readonly host?: string,
  ) {
    super(message);
    this.name = 'DirectorError';
  }
}

export class UsageError extends DirectorError {
  constructor(message: string) {
    super(message, EXIT.USAGE, 'usage');
    this.name = 'UsageError';
  }
}

/** A capsule ran and said no: non-zero exit, `ok:false`, or no result line at all. */
export class CapsuleError extends DirectorError {
  constructor(
    host: string,
    phase: string,
    exitCode: ExitCode,
    readonly capsule: string,
    readonly capsuleExit: number,
    detail: string,
  ) {
    super(`${host}: ${capsule} failed (exit ${capsuleExit}): ${detail}`, exitCode, phase, host);
    this.name = 'CapsuleError';
  }
}

/** A phase failed on one or more hosts; every host's failure is kept, not just the first. */
export class PhaseError extends DirectorError {
  constructor(
    phase: string,
    exitCode: ExitCode,
    readonly failures: Array<{ host: string; message: string }>,
  ) {
    super(failures.map((f) => f.message).join('; '), exitCode, phase, failures[0]?.host);
    this.name = 'PhaseError';
  }
}

export interface LockHolder {
  pid: number;
  command: string;
  startedAt: string;
  director?: string;
}

export class LockHeldError extends DirectorError {
  constructor(
    readonly holder: LockHolder,
    lockPath: string,
  ) {
    super(
      `another sbdi-backup run holds the lock: pid ${holder.pid}, command ${holder.command}, started ${holder.startedAt} (${lockPath})`,
      EXIT.LOCKED,
      'lock',
    );
    this.name = 'LockHeldError';
  }
}

export class InterruptedError extends DirectorError {
  constructor(phase: string, signal: string) {
    super(`interrupted by ${signal} during ${phase}`, signal === 'SIGTERM' ? EXIT.SIGTERM : EXIT.SIGINT, phase);
    this.name = 'InterruptedError';
  }
}

/** Anything else becomes an internal error, keeping its message. */
export function asDirectorError(e: unknown, phase: string): DirectorError {
  if (e instanceof DirectorError) return e;
  const message = e instanceof Error ? e.message : String(e);
  return new DirectorError(message, EXIT.INTERNAL, phase);
}

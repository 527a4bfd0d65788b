/** A sandbox step failed. Names the step (create, converge, ...), the host when one is involved, and what happened. */
export class SandboxError extends Error {
  constructor(
    readonly step: string,
    readonly host: string | undefined,
    readonly detail: string,
    options?: { cause?: unknown },
  ) {
    super(`sandbox ${step}${host === undefined ? '' : ` [${host}]`}: ${detail}`, options);
    this.name = 'SandboxError';
  }
}

/** Several independent cleanups failed; every one is reported, none hides another. */
export class SandboxCleanupError extends SandboxError {
  constructor(readonly failures: SandboxError[]) {
    super('destroy', undefined, `${failures.length} resource(s) could not be removed:\n  ${failures.map((f) => f.message).join('\n  ')}`);
    this.name = 'SandboxCleanupError';
  }
}

import type { Plan } from '../plan/types';
import type { Transport } from '../ssh/types';
import type { Reporter } from './reporter';
import type { StateStore } from './state';

/** Everything a command needs, passed explicitly so tests can script each part. */
export interface Context {
  plan: Plan;
  transport: Transport;
  report: Reporter;
  state: StateStore;
  now(): number;
  /** Aborted (reason `'SIGINT'` or `'SIGTERM'`) when the operator interrupts. */
  interrupt: AbortSignal;
  pid: number;
  /** Results (tables, JSON) go to stdout through this. */
  print(text: string): void;
  /** Where the usage text goes after a usage error (stderr). */
  usage?(text: string): void;
  /** Set when stderr is a terminal: capsule stderr (rsync progress) is streamed here. */
  progress?: (chunk: Buffer) => void;
  /** Liveness test for lock holders (tests replace it). */
  alive?: (pid: number) => boolean;
  /** How long an unpause may take before we give up on it (the watchdog ends the pause anyway). */
  unpauseTimeoutMs?: number;
  /** Where the Prometheus textfile goes (main: the plan's monitoring.metricsDir); unset: none is written (tests). */
  metricsDir?: string;
}

export function interruptSignalName(ctx: Context): string {
  const reason: unknown = ctx.interrupt.reason;
  return typeof reason === 'string' ? reason : 'SIGINT';
}

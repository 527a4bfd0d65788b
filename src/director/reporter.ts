/**
 * Everything the director says goes through here: one progress line per phase and host on
 * stderr (stdout stays for results: tables, JSON), the same event to syslog in the uniform
 * format every capsule uses, and a record of each phase's start and end per host for the
 * final table and the run record.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { Writable } from 'node:stream';
import { formatBytes, formatDuration } from './format';

export type Level = 'info' | 'warn' | 'error';

export interface PhaseRecord {
  phase: string;
  host: string;
  startedAt: number;
  endedAt?: number;
  ok?: boolean;
  bytes?: number;
  files?: number;
  detail?: string;
  error?: string;
}

export interface ReporterSinks {
  /** A human line (progress, warnings); the CLI writes it to stderr. */
  line(text: string): void;
  /** A uniform-format syslog line. */
  syslog(line: string, level: Level): void;
}

/** What a finished step reports about itself. */
export interface StepSummary {
  bytes?: number;
  files?: number;
  detail?: string;
}

/** One line, no control characters: syslog and terminals both get exactly one event per line. */
function oneLine(text: string): string {
  return text.replace(/[\r\n\t]+/g, ' ').replace(/[\x00-\x1f\x7f]/g, '').trim();
}

export class Reporter {
  readonly phases: PhaseRecord[] = [];

  constructor(
    private readonly director: string,
    private readonly sinks: ReporterSinks,
    private readonly now: () => number,
  ) {}

  event(level: Level, phase: string, message: string, host?: string): void {
    const msg = oneLine(host === undefined ? message : `${host}: ${message}`);
    const clock = new Date(this.now()).toISOString().slice(11, 19);
    const tag = level === 'info' ? '' : `${level.toUpperCase()} `;
    this.sinks.line(`[${clock}] ${tag}${phase.padEnd(16)} ${msg}`);
    this.sinks.syslog(`sbdi-backup host=${this.director} phase=${phase} level=${level} msg=${msg}`, level);
  }

  info(phase: string, message: string, host?: string): void {
    this.event('info', phase, message, host);
  }
  warn(phase: string, message: string, host?: string): void {
    this.event('warn', phase, message, host);
  }
  error(phase: string, message: string, host?: string): void {
    this.event('error', phase, message, host);
  }

  /** Runs one phase's work on one host, recording its start, end and outcome. */
  async step<T>(phase: string, host: string, fn: () => Promise<T>, summarize?: (value: T) => StepSummary, announce = false): Promise<T> {
    const record: PhaseRecord = { phase, host, startedAt: this.now() };
    this.phases.push(record);
    // Long steps (sync, restore) say when they start; short ones only report their outcome.
    if (announce) this.info(phase, 'started', host);
    try {
      const value = await fn();
      const summary = summarize?.(value) ?? {};
      Object.assign(record, { endedAt: this.now(), ok: true }, summary);
      const parts = [`ok in ${formatDuration(record.endedAt! - record.startedAt)}`];
      if (summary.bytes !== undefined) parts.push(formatBytes(summary.bytes));
      if (summary.files !== undefined) parts.push(`${summary.files} files`);
      if (summary.detail) parts.push(summary.detail);
      this.info(phase, parts.join(', '), host);
      return value;
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      Object.assign(record, { endedAt: this.now(), ok: false, error: message });
      this.error(phase, `failed after ${formatDuration(record.endedAt! - record.startedAt)}: ${message}`, host);
      throw e;
    }
  }
}

/**
 * The longest line given to logger, in bytes: logger splits a line of its input longer than its
 * message size (1 KiB) and reads a priority again at the head of each piece, so that text from a
 * host (a file name in a warning) could choose its own. Longer lines are cut on a character.
 */
const SYSLOG_LINE_BYTES = 990;

function syslogLine(line: string): string {
  const flat = line.replace(/[\r\n]+/g, ' ');
  const bytes = Buffer.from(flat, 'utf8');
  if (bytes.length <= SYSLOG_LINE_BYTES) return flat;
  let end = SYSLOG_LINE_BYTES - 3;
  while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end--;
  return `${bytes.subarray(0, end).toString('utf8')}...`;
}

/** Syslog's priority of each level, facility user: 8 × 1 + the severity (info 6, warning 4, err 3). */
const PRIORITY: Record<Level, number> = { info: 14, warn: 12, error: 11 };

export interface SyslogSink {
  /** Sends one line (Reporter's syslog sink). */
  send: ReporterSinks['syslog'];
  /** Resolves once every line sent is with logger (or `waitMs` passed); ends its input. */
  close(waitMs?: number): Promise<void>;
}

/**
 * Sends lines to syslog through one `logger` for the whole run, with the tag and priorities the
 * capsules' runtime library uses: each line on its input, its priority in front (--prio-prefix).
 * One process and not one per line: a backup logs ~40 lines, and starting a process from node
 * for each cost the director ~90 ms of CPU, their starts as much again. Fire and forget: a host
 * without a syslog socket (or without logger) must not fail a run over it. `args`: more of
 * logger's options (a test's socket).
 */
export function syslogViaLogger(tag: string, args: readonly string[] = []): SyslogSink {
  let child: ChildProcess | undefined;
  let broken = false;
  const start = (): ChildProcess | undefined => {
    if (child !== undefined || broken) return child;
    try {
      child = spawn('logger', ['-t', tag, '--prio-prefix', ...args], { stdio: ['pipe', 'ignore', 'ignore'] });
    } catch {
      broken = true;
      return undefined;
    }
    child.on('error', () => (broken = true));
    child.stdin?.on('error', () => (broken = true));
    // Neither logger nor its input keeps the director running.
    child.unref();
    (child.stdin as (Writable & { unref?: () => void }) | null)?.unref?.();
    return child;
  };
  return {
    send: (line, level) => {
      const input = start()?.stdin;
      if (broken || input == null) return;
      input.write(`<${PRIORITY[level]}>${syslogLine(line)}\n`);
    },
    close: (waitMs = 1000) => {
      const input = child?.stdin;
      if (input == null || broken || input.writableFinished) return Promise.resolve();
      return new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, waitMs);
        timer.unref();
        input.end(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    },
  };
}

import { spawn } from 'node:child_process';
import { createReadStream, existsSync } from 'node:fs';
import { SandboxError } from './errors';

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  /** Text written to stdin. */
  input?: string;
  /** A file streamed to stdin (e.g. an image tar for `docker load`). */
  inputFile?: string;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Milliseconds before the process is killed; default 120 s. */
  timeoutMs?: number;
  /** Copy the child's output to ours while it runs (long steps like converge). */
  stream?: boolean;
}

/** Runs a program (no shell) and collects its output. Never throws for a non-zero exit; see `must`. */
export function run(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, opts.timeoutMs ?? 120_000);
    child.stdout.on('data', (b: Buffer) => {
      out.push(b);
      if (opts.stream) process.stdout.write(b);
    });
    child.stderr.on('data', (b: Buffer) => {
      err.push(b);
      if (opts.stream) process.stderr.write(b);
    });
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const stderr = Buffer.concat(err).toString('utf8');
      resolve({
        code: code ?? (signal ? 128 + 9 : 1),
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: timedOut ? `${stderr}\n(killed after ${opts.timeoutMs ?? 120_000} ms)` : stderr,
      });
    });
    child.stdin.on('error', () => undefined); // the child may exit before reading everything
    if (opts.inputFile !== undefined) {
      createReadStream(opts.inputFile).pipe(child.stdin);
    } else {
      child.stdin.end(opts.input ?? '');
    }
  });
}

/** Like `run` but a non-zero exit becomes a SandboxError naming the step and host. */
export async function must(
  step: string,
  host: string | undefined,
  cmd: string,
  args: readonly string[],
  opts: RunOptions = {},
): Promise<string> {
  let r: RunResult;
  try {
    r = await run(cmd, args, opts);
  } catch (e) {
    throw new SandboxError(step, host, `cannot run ${cmd}: ${(e as Error).message}`, { cause: e });
  }
  if (r.code !== 0) {
    const shown = [cmd, ...args].join(' ');
    const brief = shown.length > 200 ? `${shown.slice(0, 197)}...` : shown;
    throw new SandboxError(step, host, `\`${brief}\` exited ${r.code}: ${(r.stderr.trim() || r.stdout.trim()).slice(-2000)}`);
  }
  return r.stdout;
}

/** Debian's docker client talks the engine's own API version; a newer client may sit earlier in PATH. */
export const DOCKER: string = existsSync('/usr/bin/docker') ? '/usr/bin/docker' : 'docker';

/** PATH with /usr/bin first, so child tools (ansible's docker connection) pick Debian's docker client too. */
export function debianFirstPath(): string {
  const rest = (process.env.PATH ?? '').split(':').filter((p) => p && p !== '/usr/bin' && p !== '/bin');
  return ['/usr/bin', '/bin', ...rest].join(':');
}

export function docker(step: string, host: string | undefined, args: readonly string[], opts: RunOptions = {}): Promise<string> {
  return must(step, host, DOCKER, args, opts);
}

/** Runs a bash script as root inside a sandbox container. */
export function dockerBash(
  step: string,
  host: string,
  container: string,
  script: string,
  opts: RunOptions = {},
): Promise<string> {
  const interactive = opts.input !== undefined || opts.inputFile !== undefined;
  return docker(step, host, ['exec', ...(interactive ? ['-i'] : []), container, 'bash', '-euo', 'pipefail', '-c', script], opts);
}

/** Polls `check` until it returns true or `timeoutMs` passes. */
export async function waitFor(what: () => Promise<boolean>, timeoutMs: number, intervalMs = 250): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (await what().catch(() => false)) return true;
    if (Date.now() >= end) return false;
    await sleep(intervalMs);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** The facts of the machine a bench ran on, and its load while it ran (shared machines: say how busy). */
import { cpus, loadavg, totalmem } from 'node:os';
import { readFileSync, writeFileSync } from 'node:fs';
import { DOCKER, run } from '../sandbox/exec';

export interface MachineFacts {
  cpus: number;
  cpuModel: string;
  memGiB: number;
  kernel: string;
  os: string;
  disk: string;
  node: string;
  docker: string;
  rsyncHost: string;
}

async function first(cmd: string, args: string[]): Promise<string> {
  const r = await run(cmd, args).catch(() => undefined);
  return r && r.code === 0 ? r.stdout.trim().split('\n')[0] ?? '' : '?';
}

export async function machineFacts(): Promise<MachineFacts> {
  const osRelease = (() => {
    try {
      return /^PRETTY_NAME="?([^"\n]*)"?/m.exec(readFileSync('/etc/os-release', 'utf8'))?.[1] ?? '?';
    } catch {
      return '?';
    }
  })();
  const dockerRoot = await first(DOCKER, ['info', '--format', '{{.DockerRootDir}}']);
  const df = await run('df', ['-hT', dockerRoot === '?' ? '/' : dockerRoot]).catch(() => undefined);
  const dfLine = df?.stdout.trim().split('\n')[1]?.split(/\s+/) ?? [];
  return {
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? '?',
    memGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    kernel: await first('uname', ['-r']),
    os: osRelease,
    disk: dfLine.length >= 7 ? `${dfLine[0]} (${dfLine[1]}) ${dfLine[2]} size, ${dfLine[4]} free, holds ${dockerRoot}` : '?',
    node: process.version,
    docker: `client ${await first(DOCKER, ['version', '--format', '{{.Client.Version}}'])}, engine ${await first(DOCKER, ['version', '--format', '{{.Server.Version}}'])}`,
    rsyncHost: await first('rsync', ['--version']),
  };
}

export interface LoadSample {
  at: number;
  load1: number;
}

/** Samples the 1-minute load average every `everyMs` until stopped. */
export function sampleLoad(everyMs = 15_000): { stop(): LoadSample[] } {
  const samples: LoadSample[] = [{ at: Date.now(), load1: loadavg()[0]! }];
  const t = setInterval(() => samples.push({ at: Date.now(), load1: loadavg()[0]! }), everyMs);
  t.unref();
  return {
    stop() {
      clearInterval(t);
      samples.push({ at: Date.now(), load1: loadavg()[0]! });
      return samples;
    },
  };
}

/**
 * Writes dirty pages out and drops the host's page, dentry and inode caches, so that no side of a
 * measurement reads from memory what the side before it wrote or read (the target's copies of
 * ours and of bare rsync are different files, and a warm cache would favour whichever ran last).
 * zfs-fuse's own cache (its ARC, max-arc-size in /etc/zfs/zfsrc, 100 MiB) lives in the daemon and
 * stays. Needs root on the host running the bench.
 */
export async function dropCaches(): Promise<void> {
  const r = await run('sync', []);
  if (r.code !== 0) throw new Error(`sync failed (exit ${r.code}): ${r.stderr.trim()}`);
  try {
    writeFileSync('/proc/sys/vm/drop_caches', '3\n');
  } catch (e) {
    throw new Error(`cannot drop the page cache (${(e as Error).message}): run the bench as root, or pass --warm-caches`);
  }
}

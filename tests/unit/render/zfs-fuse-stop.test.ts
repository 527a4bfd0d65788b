// A zfs-fuse store restarts its daemon when the daemon keeps no xattrs. The stop must end: a
// daemon that ignores SIGTERM, or two daemons started at once by two restarters, once held a
// push (and the backup waiting for it) until the machine was torn down. Real processes named
// zfs-fuse, in a private PID namespace so that no other zfs-fuse of this machine is touched.
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { renderedFunction } from './rendered';

let fn: string;
let dir: string;

beforeAll(() => {
  fn = renderedFunction('backup-target', 'prepare_target', 'zfs_fuse_stop').fn;
  dir = mkdtempSync(join(tmpdir(), 'sbdi-zfs-fuse-stop-'));
  // The kernel names a script's process after the script: pgrep -x zfs-fuse finds these.
  const daemon = (kind: string, body: string) => {
    mkdirSync(join(dir, kind));
    writeFileSync(join(dir, kind, 'zfs-fuse'), `#!/bin/bash\n${body}\nwhile :; do sleep 0.05; done\n`);
    chmodSync(join(dir, kind, 'zfs-fuse'), 0o755);
  };
  daemon('obeys', '');
  daemon('deaf', "trap '' TERM");
});

/** Starts the given daemons in a PID namespace of their own, then stops them with zfs_fuse_stop SECONDS. */
function stop(daemons: string[], seconds: number): { code: number | null; out: string; ms: number } {
  const script = [
    'set -euo pipefail',
    'log_warn() { echo "WARN $*"; }',
    'log_fatal() { echo "FATAL $2"; exit "$1"; }',
    fn,
    ...daemons.map((d) => `${join(dir, d, 'zfs-fuse')} & `),
    // Each is running as zfs-fuse before the stop begins.
    `until [ "$(pgrep -cx zfs-fuse)" = ${daemons.length} ]; do sleep 0.02; done`,
    `zfs_fuse_stop ${seconds}`,
    'echo "left: $(pgrep -cx zfs-fuse || true)"',
  ].join('\n');
  const t0 = Date.now();
  const r = spawnSync('unshare', ['--pid', '--fork', '--mount-proc', 'bash', '-c', script], { encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, out: `${r.stdout}${r.stderr}`, ms: Date.now() - t0 };
}

describe('zfs_fuse_stop', () => {
  it('stops a daemon that obeys SIGTERM without waiting for the bound', () => {
    const r = stop(['obeys'], 20);
    expect(r.code, r.out).toBe(0);
    expect(r.out).toContain('left: 0');
    expect(r.out).not.toContain('WARN');
    expect(r.ms).toBeLessThan(10_000);
  });

  it('kills a daemon that ignores SIGTERM once the bound has passed', () => {
    const r = stop(['deaf'], 1);
    expect(r.code, r.out).toBe(0);
    expect(r.out).toContain('WARN zfs-fuse did not stop within 1 s of SIGTERM: killing it');
    expect(r.out).toContain('left: 0');
  });

  it('stops two daemons started at once, each of them', () => {
    const r = stop(['obeys', 'deaf'], 1);
    expect(r.code, r.out).toBe(0);
    expect(r.out).toContain('left: 0');
  });
});

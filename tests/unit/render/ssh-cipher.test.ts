// The ssh connections that carry backup data (a source's pushes and pulls, the target's
// replication to its remotes) ask for AES-GCM first where the CPU has AES instructions, and leave
// OpenSSH's own order elsewhere. Checked with the capsules' own functions, as rendered, and
// OpenSSH's own reading of the options (`ssh -G`); the CPU without AES is this machine's
// /proc/cpuinfo with the flag taken out, bound over it in a mount namespace of its own.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { renderedFunction } from './rendered';

/** The rendered lines from `from` to the end of the function `fn` that follows it. */
function block(text: string, from: string, fn: string): string {
  const m = new RegExp(`^${from}.*\\n${fn}\\(\\) \\{\\n[\\s\\S]*?\\n\\}$`, 'm').exec(text);
  if (m === null) throw new Error(`no ${from} … ${fn}() in the capsule`);
  return m[0];
}

// ssh stands in for itself: the options a capsule gives it, read by OpenSSH (-G), without connecting.
const SSH_SHIM = `ssh() {
  local a=()
  while [ $# -gt 0 ]; do case $1 in -i | -p | -o) a+=("$1" "$2"); shift 2 ;; *) break ;; esac; done
  command ssh -G "\${a[@]}" "$1" | sed -n 's/^ciphers //p'
}`;

let push: string;
let replicate: string;
let runtimeLib: string;
let fakeCpuinfo: string;
const hasAes = /^(flags|Features)\s*:.*\baes\b/m.test(readFileSync('/proc/cpuinfo', 'utf8'));

beforeAll(() => {
  const target = renderedFunction('backup-target', 'replicate_backups', 'remote_ssh');
  replicate = block(target.capsule, 'read -ra remote_cipher ', 'remote_ssh');
  const lib = /^\. '?([^'\n]+?)'?\/backup-runtime$/m.exec(target.capsule);
  if (lib === null) throw new Error('the capsule does not source the runtime library');
  runtimeLib = readFileSync(join(target.root, lib[1]!, 'backup-runtime'), 'utf8');
  push = block(renderedFunction('solr-1', 'perform_rsync', 'rsync_ssh').capsule, 'rsync_cipher=', 'rsync_ssh');
  const dir = mkdtempSync(join(tmpdir(), 'sbdi-cipher-'));
  fakeCpuinfo = join(dir, 'cpuinfo');
  writeFileSync(fakeCpuinfo, readFileSync('/proc/cpuinfo', 'utf8').replace(/\baes\b/g, 'no_aes_here'));
});

/** The ciphers ssh would offer, in order, for the connection the script makes. */
function ciphers(script: string, withoutAes = false): string {
  const body = `set -euo pipefail\n${runtimeLib}\n${SSH_SHIM}\n${script}`;
  const r = withoutAes
    ? spawnSync('unshare', ['-m', 'bash', '-c', 'mount --bind "$1" /proc/cpuinfo && exec bash -c "$0"', body, fakeCpuinfo], { encoding: 'utf8' })
    : spawnSync('bash', ['-c', body], { encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
  return r.stdout.trim();
}

const DEFAULT = spawnSync('ssh', ['-G', 'x'], { encoding: 'utf8' }).stdout.match(/^ciphers (.*)$/m)?.[1] ?? '';

describe('the cipher of the connections that carry backup data', () => {
  it('a push or a pull asks for AES-GCM first where the CPU has AES, OpenSSH\'s order elsewhere', () => {
    const script = `${push}\nrsync_share_dir=''\nread -ra c <<<"$(rsync_ssh push)"\nssh "\${c[@]:1}" target`;
    const got = ciphers(script);
    if (hasAes) expect(got.split(',').slice(0, 2)).toEqual(['aes256-gcm@openssh.com', 'aes128-gcm@openssh.com']);
    else expect(got).toBe(DEFAULT);
    expect(ciphers(script, true)).toBe(DEFAULT);
  });

  it('so does the replication to a remote', () => {
    const script = `${replicate}\nremote_ssh login 22 list`;
    const got = ciphers(script);
    if (hasAes) expect(got.split(',')[0]).toBe('aes256-gcm@openssh.com');
    else expect(got).toBe(DEFAULT);
    expect(ciphers(script, true)).toBe(DEFAULT);
    // Every cipher OpenSSH would offer is still offered: only the order changes.
    expect(got.split(',').sort()).toEqual(DEFAULT.split(',').sort());
  });
});

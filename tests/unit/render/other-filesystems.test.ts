// A source finds every other filesystem mounted inside its live dir from the mount table, whose
// mount points carry a space, tab, newline or backslash escaped (\040, \011, \012, \134). Checked
// with the capsule's own function, as rendered, in a mount namespace of its own holding tmpfs
// mounts at such names, beside and at the live dir.
import { execFile, spawnSync } from 'node:child_process';
import { beforeAll, describe, expect, it } from 'vitest';
import { renderedFunction } from './rendered';

let fn: string;

beforeAll(() => {
  fn = renderedFunction('solr-1', 'prepare_source_snapshot', 'source_other_filesystems').fn;
});

/** Runs the function in a new mount namespace after SETUP (bash, as root); its output, NUL-separated for the test. */
function other(live: string, setup: string): string[] {
  const script = `set -euo pipefail
${setup}
live_dir=$1
${fn}
source_other_filesystems | tr '\\n' '\\0'`;
  const r = spawnSync('unshare', ['-m', '--propagation', 'private', 'bash', '-c', script, 'bash', live], { encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
  return r.stdout.split('\0').filter((x) => x !== '');
}

describe('source: other filesystems inside the live dir', () => {
  it('lists each mount below the live dir by its real name, and nothing at it or beside it', () => {
    const names = ['plain', 'sp ace', 'tab\there', 'back\\slash', 'lit\\040eral', 'per%cent', 'nested/deeper', 'ünï'];
    const setup = `
base=$(mktemp -d)
live="$base/live"
mkdir -p "$live" "$base/live-beside"
mount -t tmpfs t "$live"
mount -t tmpfs t "$base/live-beside"
while IFS= read -r -d '' n; do mkdir -p "$live/$n"; mount -t tmpfs t "$live/$n"; done < <(printf '%s\\0' ${names.map((n) => `$'${n.replace(/\\/g, '\\\\').replace(/\t/g, '\\t').replace(/'/g, "\\'")}'`).join(' ')})
set -- "$live/"`;
    // The live dir is made inside the namespace: its path is the script's own.
    const script = `set -euo pipefail
${setup}
live_dir=$1
${fn}
source_other_filesystems | tr '\\n' '\\0'; printf 'LIVE=%s\\0' "$live"`;
    const r = spawnSync('unshare', ['-m', '--propagation', 'private', 'bash', '-c', script], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const out = r.stdout.split('\0').filter((x) => x !== '');
    const live = out.pop()!.replace(/^LIVE=/, '');
    expect(out.sort()).toEqual(names.map((n) => `${live}/${n}`).sort());
  });

  it('misses none while mounts before them in the table go (containers stopping)', async () => {
    // 400 mounts before the live dir's own in the table, unmounted one after the other while the
    // function reads the table again and again: each shifts every line after it.
    const script = `set -euo pipefail
base=$(mktemp -d)
live="$base/live"
mkdir -p "$live"
for i in $(seq 1 400); do mkdir -p "$base/early/$i"; mount -t tmpfs t "$base/early/$i"; done
for n in one two three; do mkdir -p "$live/$n"; mount -t tmpfs t "$live/$n"; done
live_dir=$live
${fn}
( for i in $(seq 1 400); do umount "$base/early/$i"; sleep 0.002; done ) &
churn=$!
missed=0 calls=0
while kill -0 "$churn" 2>/dev/null; do
  calls=$((calls + 1))
  [ "$(source_other_filesystems | wc -l)" -eq 3 ] || missed=$((missed + 1))
done
echo "MISSED $missed"
echo "CALLS $calls" >&2`;
    // Seconds long: run beside the test's worker, whose event loop must stay free to report.
    const r = await new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
      execFile('unshare', ['-m', '--propagation', 'private', 'bash', '-c', script], { encoding: 'utf8', timeout: 120_000 }, (error, stdout, stderr) =>
        resolve({ status: error === null ? 0 : typeof error.code === 'number' ? error.code : 1, stdout, stderr }),
      );
    });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe('MISSED 0');
  }, 150_000);

  it('lists nothing where nothing is mounted inside', () => {
    expect(other('/nonexistent-live-dir', '')).toEqual([]);
  });
});

// The pause's cgroup freezer functions (templates/docker/pause.sh.hbs), rendered, run against the
// kernel's own freezer: cgroup v1 (freezer.state) in this machine's hierarchy, and cgroup v2
// (cgroup.freeze, cgroup.events) in a private mount namespace where /sys/fs/cgroup is replaced by
// a cgroup2 mount, as on a host that runs only v2 (Debian 12 under systemd). Real processes are
// frozen and thawed; whether one ran is read from a counter it writes. Needs root and a kernel
// that lets it make cgroups; skipped elsewhere (and said so).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { planFromInventory } from '../../../src/plan';
import { renderPlan, writeRendered } from '../../../src/render';
import { renderTemplate } from '../../../src/render/engine';

const FULL = join(__dirname, '..', '..', 'fixtures', 'inventories', 'full', 'hosts.yml');
const V1 = '/sys/fs/cgroup/freezer';
const root = process.getuid?.() === 0;
const canUnshare = root && spawnSync('unshare', ['-m', 'true']).status === 0;

let dir: string;
let lib: string;
let logUtils: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'sbdi-freezer-'));
  writeRendered(renderPlan(planFromInventory(FULL), '#!/usr/bin/env node\n'), join(dir, 'r'));
  logUtils = join(dir, 'r', 'manager-1', 'opt/sbdi/lib/backup-runtime');
  lib = join(dir, 'pause.sh');
  writeFileSync(lib, renderTemplate('docker/pause.sh.hbs', {}));
});

/**
 * A bash script with the library loaded and three "containers" in cgroups under $top: a, b, c,
 * each a process appending a line to its counter file every ~2 ms; c frozen beforehand ("paused by an
 * operator"). `setup` makes the cgroups (kind-specific), the rest is the same for v1 and v2.
 */
function scenario(kind: 'v1' | 'v2', top: string, setup: string, freeze: string, thaw: string): string {
  return `set -euo pipefail
export SBDI_NO_SYSLOG=1 SBDI_PHASE=test
. ${logUtils}
. ${lib}
run_dir=${dir}/run-${kind}
rm -rf "$run_dir"; mkdir -p "$run_dir"
top=${top}
${setup}
pids=()
for n in a b c; do
  mkdir -p "$top/$n"
  ( echo "$BASHPID" >"$top/$n/cgroup.procs"; while :; do echo >>"$run_dir/count.$n"; sleep 0.002; done ) &
  pids+=("$!")
done
cleanup() {
  for n in a b c; do ${thaw.replace(/\$D/g, '"$top/$n"')} 2>/dev/null || true; done
  kill "\${pids[@]}" 2>/dev/null || true
  wait 2>/dev/null || true
  for n in a b c; do rmdir "$top/$n" 2>/dev/null || true; done
  rmdir "$top" 2>/dev/null || true
}
trap cleanup EXIT
sleep 0.3
${freeze.replace(/\$D/g, '"$top/c"')}
sleep 0.1
: >"$run_dir/plan"
for i in 0 1 2; do freezer_of "\${pids[$i]}"; printf 'id%s %s %s\\n' "$i" "$freezer_kind" "$freezer_found" >>"$run_dir/plan"; done
echo "PLAN"; cat "$run_dir/plan"
# A container stopped since its cgroup was found: its cgroup is gone.
echo "id9 ${kind} $top/gone" >>"$run_dir/plan"
# Lines appended, never rewritten: a process frozen mid-write leaves no empty file behind.
counts() { local n; for n in a b c; do printf '%s ' "$(wc -l <"$run_dir/count.$n")"; done; }
freezer_freeze "$run_dir/plan" 2000
echo "FROZE frozen=$frozen before=$frozen_before gone=$gone took=$((frozen_at - freeze_started_at))"
echo "LIST"; cat "$run_dir/frozen.list"
c1=$(counts); sleep 0.3; c2=$(counts)
echo "WHILE-FROZEN $c1 | $c2"
docker_thaw 1
echo "THAWED thawed=$thawed still=$still list=$([ -e "$run_dir/frozen.list" ] && echo left || echo removed)"
c3=$(counts); sleep 0.3; c4=$(counts)
echo "AFTER $c3 | $c4"
`;
}

/** Counters of a, b, c: which advanced between two readings. */
function advanced(line: string): boolean[] {
  const [before, after] = line.split('|').map((s) => s.trim().split(/\s+/).map(Number));
  return [0, 1, 2].map((i) => after![i]! > before![i]!);
}

function check(out: string, kind: 'v1' | 'v2', top: string): void {
  const plan = out.split('PLAN\n')[1]!.split('\nFROZE')[0]!;
  expect(plan.trim().split('\n')).toEqual(['a', 'b', 'c'].map((n, i) => `id${i} ${kind} ${top}/${n}`));
  expect(out).toMatch(/^FROZE frozen=2 before=1 gone=1 took=\d+$/m);
  // Only what we froze is listed: not c (frozen before), not the gone one.
  const list = out.split('LIST\n')[1]!.split('\nWHILE-FROZEN')[0]!;
  expect(list.trim().split('\n')).toEqual([`id0 ${kind} ${top}/a`, `id1 ${kind} ${top}/b`]);
  expect(advanced(/^WHILE-FROZEN (.*)$/m.exec(out)![1]!)).toEqual([false, false, false]);
  expect(out).toMatch(/^THAWED thawed=2 still=0 list=removed$/m);
  // a and b run again; c, paused by someone else, stays frozen.
  expect(advanced(/^AFTER (.*)$/m.exec(out)![1]!)).toEqual([true, true, false]);
}

describe.skipIf(!root || !existsSync(`${V1}/cgroup.procs`))('the cgroup v1 freezer (freezer.state), on this machine', () => {
  it('freezes every listed container at once, leaves one frozen before alone, thaws only its own', () => {
    const top = `${V1}/sbdi-test-${process.pid}`;
    const script = scenario('v1', top, 'mkdir -p "$top"', 'echo FROZEN >$D/freezer.state', 'echo THAWED >$D/freezer.state');
    const r = spawnSync('bash', ['-c', script], { encoding: 'utf8', timeout: 60_000 });
    expect(r.status, r.stderr + r.stdout).toBe(0);
    check(r.stdout, 'v1', top);
  });
});

describe.skipIf(!canUnshare)('the cgroup v2 freezer (cgroup.freeze), /sys/fs/cgroup a cgroup2 mount in a private mount namespace', () => {
  it('freezes every listed container at once, leaves one frozen before alone, thaws only its own (systemd driver layout)', () => {
    // A pure v2 view: the v1 hierarchies unmounted, cgroup2 mounted on /sys/fs/cgroup (this
    // namespace only). The containers sit where docker's systemd driver puts them.
    const top = `/sys/fs/cgroup/sbdi-test-${process.pid}.slice`;
    const setup = `umount -R /sys/fs/cgroup
mount -t cgroup2 none /sys/fs/cgroup
[ "$(stat -fc %T /sys/fs/cgroup)" = cgroup2fs ]
mkdir -p "$top"`;
    const script = scenario('v2', top, setup, 'echo 1 >$D/cgroup.freeze', 'echo 0 >$D/cgroup.freeze');
    const r = spawnSync('unshare', ['-m', '--propagation', 'private', 'bash', '-c', script], { encoding: 'utf8', timeout: 60_000 });
    expect(r.status, r.stderr + r.stdout).toBe(0);
    check(r.stdout, 'v2', top);
  });
});

describe.skipIf(!canUnshare || !existsSync(`${V1}/cgroup.procs`))('a docker host in a container: its cgroup tree mounted from a subdirectory', () => {
  it('finds the cgroup through the mount root, not the path /proc shows', () => {
    // As inside the sandbox's docker hosts: /proc/PID/cgroup says /<outer>/<inner> while
    // /sys/fs/cgroup/freezer is the mount of /<outer> only.
    const outer = `sbdi-test-outer-${process.pid}`;
    const script = `set -euo pipefail
. ${lib}
mkdir -p ${V1}/${outer}/docker/inner
sleep 30 & p=$!
echo "$p" >${V1}/${outer}/docker/inner/cgroup.procs
mount --bind ${V1}/${outer} ${V1}
freezer_of "$p"
echo "$freezer_kind $freezer_found"
kill "$p"; wait 2>/dev/null || true
umount ${V1}
rmdir ${V1}/${outer}/docker/inner ${V1}/${outer}/docker ${V1}/${outer}`;
    const r = spawnSync('unshare', ['-m', '--propagation', 'private', 'bash', '-c', script], { encoding: 'utf8', timeout: 60_000 });
    expect(r.status, r.stderr + r.stdout).toBe(0);
    expect(r.stdout.trim()).toBe(`v1 ${V1}/docker/inner`);
  });
});

/** Runs bash with the runtime and pause libraries loaded; run_dir is a fresh directory. */
function withLib(body: string): ReturnType<typeof spawnSync> {
  const script = `set -euo pipefail
export SBDI_NO_SYSLOG=1 SBDI_PHASE=test
. ${logUtils}
. ${lib}
run_dir=$(mktemp -d ${dir}/run-XXXXXX)
${body}`;
  return spawnSync('bash', ['-c', script], { encoding: 'utf8', timeout: 60_000 });
}

const ID = 'ab'.repeat(32);

describe("a container's own cgroup, from the path of its main process", () => {
  it('cuts the path at the component naming the container; refuses a path that names none', () => {
    const r = withLib(`for d in /c/system.slice/docker-${ID}.scope/init /c/system.slice/docker-${ID}.scope /c/docker/${ID}/init/x /c/docker/${ID} /c/docker/other /c/docker/${ID}x; do
  if freezer_container_dir ${ID} "$d"; then r=$freezer_cdir; else r=REFUSED; fi
  printf '%s -> %s\\n' "$d" "$r"
done`);
    expect(r.status, String(r.stderr)).toBe(0);
    expect(String(r.stdout).trim().split('\n')).toEqual([
      `/c/system.slice/docker-${ID}.scope/init -> /c/system.slice/docker-${ID}.scope`,
      `/c/system.slice/docker-${ID}.scope -> /c/system.slice/docker-${ID}.scope`,
      `/c/docker/${ID}/init/x -> /c/docker/${ID}`,
      `/c/docker/${ID} -> /c/docker/${ID}`,
      '/c/docker/other -> REFUSED',
      `/c/docker/${ID}x -> REFUSED`,
    ]);
  });
});

describe.skipIf(!root || !existsSync(`${V1}/cgroup.procs`))('the freeze, against what happens between the plan and the go (cgroup v1, this machine)', () => {
  /** A "docker" cgroup directory with container cgroups named by id, each with a busy process. */
  const containers = (top: string) => `top=${top}
mkdir -p "$top"
pids=()
start() { mkdir -p "$top/$1"; ( echo "$BASHPID" >"$top/$1/cgroup.procs"; while :; do sleep 0.01; done ) & pids+=("$!"); }
cleanup() {
  for d in "$top"/*/; do echo THAWED >"$d/freezer.state" 2>/dev/null || true; done
  kill "\${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true
  for d in "$top"/*/; do rmdir "$d" 2>/dev/null || true; done; rmdir "$top" 2>/dev/null || true
}
trap cleanup EXIT`;

  it('freezes a container started after the plan was made, and lists it first', () => {
    const top = `${V1}/sbdi-test-started-${process.pid}`;
    const late = 'cd'.repeat(32);
    const r = withLib(`${containers(top)}
start ${ID}
printf '%s v1 %s\\n' ${ID.slice(0, 12)} "$top/${ID}" >"$run_dir/plan"
printf 'v1 %s\\n' "$top" >"$run_dir/freeze.parents"
start ${late}
freezer_freeze "$run_dir/plan" 2000
echo "FROZE frozen=$frozen started=$started"
cat "$run_dir/frozen.list"
cat "$top/${late}/freezer.state"
docker_thaw 1
cat "$top/${late}/freezer.state"`);
    expect(r.status, String(r.stderr) + String(r.stdout)).toBe(0);
    expect(String(r.stdout).trim().split('\n')).toEqual([
      'FROZE frozen=2 started=1',
      `${ID.slice(0, 12)} v1 ${top}/${ID}`,
      `${late.slice(0, 12)} v1 ${top}/${late}`,
      'FROZEN',
      'THAWED',
    ]);
  });

  it('freezes nothing when the list of what it freezes cannot be written', () => {
    const top = `${V1}/sbdi-test-nolist-${process.pid}`;
    const r = withLib(`${containers(top)}
start ${ID}
printf '%s v1 %s\\n' ${ID.slice(0, 12)} "$top/${ID}" >"$run_dir/plan"
ln -s /dev/full "$run_dir/frozen.list"
if freezer_freeze "$run_dir/plan" 2000; then echo FROZE; else echo "REFUSED $freeze_error"; fi
cat "$top/${ID}/freezer.state"`);
    expect(r.status, String(r.stderr) + String(r.stdout)).toBe(0);
    expect(String(r.stdout).trim().split('\n')).toEqual([expect.stringMatching(/^REFUSED could not write .*frozen\.list$/), 'THAWED']);
  });
});

describe('disarming the deadline', () => {
  it('stops the watchdog named in watchdog.pid, never a process that got its pid since', () => {
    const r = withLib(`sleep 30 & other=$!
( exec -a sbdi-pause-watchdog sleep 30 ) & wd=$!
sleep 0.2
echo "$other" >"$run_dir/watchdog.pid"
docker_disarm
sleep 0.1
kill -0 "$other" && echo "other alive"
echo "$wd" >"$run_dir/watchdog.pid"
docker_disarm
sleep 0.1
kill -0 "$wd" 2>/dev/null || echo "watchdog stopped"
[ -e "$run_dir/watchdog.pid" ] || echo "pid file removed"
kill "$other"`);
    expect(r.status, String(r.stderr)).toBe(0);
    expect(String(r.stdout).trim().split('\n')).toEqual(['other alive', 'watchdog stopped', 'pid file removed']);
  });
});

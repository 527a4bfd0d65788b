/**
 * The director as shipped: one esbuild cjs file, copied to a directory with no node_modules,
 * run as a process against a real loopback sshd whose forced command plays every capsule.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { bundleOptions } from '../../../scripts/bundle-options.mjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT } from '../../../src/director/exit-codes';
import type { BackupEntry } from '../../../src/director/list';
import { startSshd, type Sshd } from '../ssh/sshd-harness';
import { testPlan } from './plan-fixture';

const CAPSULES = `#!/bin/bash
set -u
state=@DIR@/state
mkdir -p "$state/backups"
cmd="\${SSH_ORIGINAL_COMMAND:-}"
now() { date +%s%3N; }
read -r capsule arg <<<"$cmd"
# The capsules' gate protocol (sbdi_gate in the runtime library): a session opened ahead (argument "gated")
# waits for its go and is logged when it acts; called off, it does nothing; called plainly, it acts.
gate() {
  local l=''
  if [ "$arg" = gated ]; then
    IFS= read -r l || true
    if [ "$l" = wait ]; then
      echo "SBDI-MARK ready"
      l=''
      IFS= read -r l || true
    fi
    if [ "$l" != go ]; then echo "$capsule called-off" >>"$state/opened.log"; echo 'SBDI-RESULT {"ok":true,"calledOff":true}'; exit 0; fi
  fi
  echo "$capsule" >>"$state/calls.log"
}
case "$capsule" in
  pause_containers | unpause_containers | prepare_source_snapshot | commit_backup) gate ;;
  *) echo "$cmd" >>"$state/calls.log" ;;
esac
case "$capsule" in
  pause_containers) t=$(now); echo "SBDI-MARK frozen"; echo "SBDI-RESULT {\\"ok\\":true,\\"paused\\":2,\\"deadline\\":60,\\"armedAt\\":$t,\\"pausedAt\\":$t}" ;;
  unpause_containers) echo "SBDI-RESULT {\\"ok\\":true,\\"unpaused\\":2,\\"watchdogFired\\":false,\\"unpausedAt\\":$(now)}" ;;
  prepare_source_snapshot) [ -e "$state/hang_snapshot" ] && sleep 20; t=$(now); echo "SBDI-MARK taken"; echo "SBDI-RESULT {\\"ok\\":true,\\"backend\\":\\"lvm\\",\\"snapshotStartedAt\\":$t,\\"snapshotAt\\":$t}" ;;
  perform_rsync) echo "      1,234 100%  progress" >&2; echo 'SBDI-RESULT {"ok":true,"bytes":1234,"files":5,"seconds":0,"rsyncExit":0}' ;;
  remove_source_snapshot) echo 'SBDI-RESULT {"ok":true,"removed":true}' ;;
  prepare_target) echo 'SBDI-RESULT {"ok":true,"backend":"zfs","freeBytes":1000000}' ;;
  commit_backup)
    m=$(cat)
    # A gated commit's id is its manifest's.
    [ "$arg" != gated ] || arg=$(grep -o '"id":"[0-9_]*"' <<<"$m" | head -1 | cut -d'"' -f4)
    printf '%s\\n' "$m" >"$state/backups/$arg.json"; echo "SBDI-RESULT {\\"ok\\":true,\\"id\\":\\"$arg\\"}" ;;
  list_backups)
    json="["; sep=""
    for f in "$state"/backups/*.json; do
      [ -e "$f" ] || continue
      id=$(basename "$f" .json)
      json+="$sep{\\"id\\":\\"$id\\",\\"usedBytes\\":4096,\\"compressRatio\\":2.0,\\"manifest\\":$(cat "$f")}"; sep=","
    done
    echo "SBDI-RESULT {\\"ok\\":true,\\"backups\\":$json]}" ;;
  docker_status) echo 'SBDI-RESULT {"ok":true,"running":true,"containers":3,"paused":0}' ;;
  *) echo "refused: $cmd" >&2; echo 'SBDI-RESULT {"ok":false,"code":126,"error":"refused"}'; exit 126 ;;
esac
`;

let sshd: Sshd;
let dir: string;
let bundle: string;

beforeAll(async () => {
  sshd = await startSshd(CAPSULES);
  dir = mkdtempSync(join(tmpdir(), 'sbdi-bundle-'));
  // The options scripts/build.mjs uses, so this is the file that ships.
  await build(bundleOptions(join(__dirname, '../../../src/director/main.ts'), join(dir, 'director.cjs')));
  bundle = join(dir, 'director.cjs');
  writeFileSync(join(dir, 'known_hosts'), `${sshd.knownHostsLine}\n`);
  writeFileSync(join(dir, 'plan.json'), JSON.stringify(plan()));
}, 60_000);

afterAll(async () => {
  await sshd?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function plan() {
  const p = testPlan({ connection: '127.0.0.1', port: sshd.port });
  p.operator.user = sshd.user;
  return p;
}

function run(file: string, args: string[], env: Record<string, string> = {}, onStart?: (pid: number) => void): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(
      // SBDI_TEST_NODE runs the bundle under another node (e.g. 18, the director's Debian 12 node).
      process.env.SBDI_TEST_NODE ?? process.execPath,
      [file, ...args],
      {
        cwd: dir,
        env: {
          PATH: process.env.PATH ?? '/usr/bin:/bin',
          HOME: dir,
          SBDI_SSH_KEY: join(sshd.dir, 'client_ed25519'),
          SBDI_KNOWN_HOSTS: join(dir, 'known_hosts'),
          SBDI_STATE_DIR: join(dir, 'state'),
          SBDI_METRICS_DIR: join(dir, 'metrics'),
          SBDI_NO_SYSLOG: '1',
          ...env,
        },
        timeout: 60_000,
      },
      (error, stdout, stderr) => {
        const code = error && typeof (error as { code?: unknown }).code === 'number' ? ((error as { code: number }).code) : error ? -1 : 0;
        resolve({ code, stdout, stderr });
      },
    );
    if (child.pid !== undefined) onStart?.(child.pid);
  });
}

describe('the director bundle', () => {
  it('is one file that runs with no node_modules: a bad command prints usage and exits 2', async () => {
    expect(readdirSync(dir).some((f) => f === 'node_modules')).toBe(false);
    const r = await run(bundle, ['bogus'], { SBDI_PLAN_FILE: join(dir, 'plan.json') });
    expect(r.code).toBe(EXIT.USAGE);
    expect(r.stderr).toMatch(/unknown command "bogus"/);
    expect(r.stderr).toMatch(/usage: <command>/);
    expect((await run(bundle, [])).code).toBe(EXIT.USAGE);
  });

  it('refuses to run without a plan (exit 2)', async () => {
    const r = await run(bundle, ['list_backups']);
    expect(r.code).toBe(EXIT.USAGE);
    expect(r.stderr).toMatch(/no plan compiled into this director/);
  });

  it('performs a backup over real ssh, then lists it as complete', async () => {
    const r = await run(bundle, ['perform_backup'], { SBDI_PLAN_FILE: join(dir, 'plan.json') });
    if (process.env.SHOW) console.log(r.stderr, r.stdout);
    expect(r.stderr + r.stdout).toContain('complete');
    expect(r.code).toBe(EXIT.OK);
    expect(r.stdout).toMatch(/PHASE\s+HOST\s+DURATION\s+BYTES\s+FILES\s+STATUS/);
    expect(r.stdout).toMatch(/pause window: \d+ ms/);
    const calls = readFileSync(join(sshd.dir, 'state', 'calls.log'), 'utf8').trim().split('\n').map((l) => l.split(' ')[0]);
    expect(calls.slice(0, 7)).toEqual([
      'prepare_target',
      'pause_containers',
      'pause_containers',
      'prepare_source_snapshot',
      'prepare_source_snapshot',
      'unpause_containers',
      'unpause_containers',
    ]);
    // Each snapshot is removed as its sync ends, beside the next sync and the commit: their order
    // over ssh varies, but the syncs come first, the commit after both, the metrics last.
    const after = calls.slice(7);
    expect([...after].sort()).toEqual(['commit_backup', 'list_backups', 'perform_rsync', 'perform_rsync', 'remove_source_snapshot', 'remove_source_snapshot']);
    expect(after[0]).toBe('perform_rsync');
    expect(after.indexOf('commit_backup')).toBeGreaterThan(after.lastIndexOf('perform_rsync'));
    // The Prometheus metrics are gathered after every run.
    expect(after.at(-1)).toBe('list_backups');
    expect(readFileSync(join(dir, 'metrics', 'sbdi_backup.prom'), 'utf8')).toMatch(/^sbdi_backup_check_status [0-3]$/m);

    const list = await run(bundle, ['list_backups', '--json'], { SBDI_PLAN_FILE: join(dir, 'plan.json') });
    expect(list.code).toBe(EXIT.OK);
    const entries = JSON.parse(list.stdout) as BackupEntry[];
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({ status: 'complete', restorable: true, usedBytes: 4096 });
    expect(entries[0]!.manifest?.sources?.map((s) => s.treeName)).toEqual(['cassandra-1@+docker_local', 'manager-1@+docker']);

    // A Nagios plugin: on success one status line on stdout and nothing on stderr.
    const check = await run(bundle, ['check_backup'], { SBDI_PLAN_FILE: join(dir, 'plan.json') });
    expect(check.stdout, check.stderr).toMatch(/^BACKUP OK - /);
    expect(check.code).toBe(0);
    expect(check.stderr).toBe('');
  });

  it('runs with the plan compiled in as render installs it, and refuses a restore while docker runs (exit 20)', async () => {
    const installed = join(dir, 'installed.cjs');
    writeFileSync(installed, `globalThis.__SBDI_PLAN__ = ${JSON.stringify(plan())};\n${readFileSync(bundle, 'utf8').replace(/^#!.*\n/, '')}`);
    const r = await run(installed, ['restore_latest_backup']);
    expect(r.code).toBe(EXIT.DOCKER_RUNNING);
    expect(r.stderr + r.stdout).toMatch(/run stop_docker first/);
  });

  it('fails closed on an unknown host key before touching anything (exit 4)', async () => {
    writeFileSync(join(dir, 'other_known_hosts'), `${sshd.otherKnownHostsLine}\n`);
    const before = readFileSync(join(sshd.dir, 'state', 'calls.log'), 'utf8');
    const r = await run(bundle, ['perform_backup'], { SBDI_PLAN_FILE: join(dir, 'plan.json'), SBDI_KNOWN_HOSTS: join(dir, 'other_known_hosts') });
    expect(r.code).toBe(EXIT.CONNECT);
    expect(r.stderr).toMatch(/HOST KEY MISMATCH/);
    expect(readFileSync(join(sshd.dir, 'state', 'calls.log'), 'utf8')).toBe(before);
    const list = await run(bundle, ['list_backups'], { SBDI_PLAN_FILE: join(dir, 'plan.json') });
    expect(list.stdout).toMatch(/failed \(connect\)/);
  });

  it('on SIGINT during the snapshot, still unpauses every docker host and exits 130', async () => {
    const state = join(sshd.dir, 'state');
    writeFileSync(join(state, 'hang_snapshot'), '');
    writeFileSync(join(state, 'calls.log'), '');
    try {
      const r = await run(bundle, ['perform_backup'], { SBDI_PLAN_FILE: join(dir, 'plan.json') }, (pid) => {
        // Interrupt once both snapshots are running.
        const poll = setInterval(() => {
          const log = readFileSync(join(state, 'calls.log'), 'utf8');
          if ((log.match(/prepare_source_snapshot/g) ?? []).length === 2) {
            clearInterval(poll);
            process.kill(pid, 'SIGINT');
          }
        }, 50);
      });
      expect(r.code).toBe(EXIT.SIGINT);
      expect(r.stderr).toMatch(/SIGINT: stopping/);
      const calls = readFileSync(join(state, 'calls.log'), 'utf8').trim().split('\n');
      expect(calls.filter((c) => c === 'unpause_containers')).toHaveLength(2);
      expect(calls).not.toContain('perform_rsync');
      expect(calls).not.toContain('commit_backup');
      const runs = readdirSync(join(dir, 'state', 'runs')).map((f) => JSON.parse(readFileSync(join(dir, 'state', 'runs', f), 'utf8')) as { status: string; failedPhase?: string; exitCode?: number });
      expect(runs.some((x) => x.status === 'failed' && x.failedPhase === 'snapshot' && x.exitCode === 130)).toBe(true);
    } finally {
      rmSync(join(state, 'hang_snapshot'), { force: true });
    }
  });
});

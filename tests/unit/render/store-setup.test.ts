// The store of a target is set up in one place, the rendered sbdi-target-setup that the target role
// runs (as the remote role runs sbdi-remote-setup), and a ZFS pool (daemon, import, creation,
// root-dataset properties) by one partial that targets and remotes share. The pool functions are
// also run here against stand-ins for zpool, zfs and the daemon: what they create, import or leave.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import yaml from 'js-yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { planFromInventory } from '../../../src/plan';
import { renderPlan, writeRendered } from '../../../src/render';

const ROOT = join(__dirname, '..', '..', '..');
const FIXTURES = join(ROOT, 'tests', 'fixtures', 'inventories');
const LIBEXEC = 'opt/sbdi/backup/libexec';
const POOL_FUNCTIONS = ['zfs_daemon', 'zfs_import', 'store_data_device', 'zfs_pool_setup', 'zfs_want'];

type Task = Record<string, unknown> & { name?: string };
const tasksOf = (file: string): Task[] => (yaml.load(readFileSync(join(ROOT, 'roles', 'target', 'tasks', file), 'utf8')) as Task[] | null) ?? [];

/** The text of a top-level bash function `name() {` … `}` in a rendered script. */
function fn(script: string, name: string): string {
  const m = new RegExp(`^${name}\\(\\) \\{\\n[\\s\\S]*?^\\}$`, 'm').exec(script);
  if (!m) throw new Error(`no function ${name}`);
  return m[0];
}

let out: string;
const rendered = (fixture: string, host: string, capsule: string) => readFileSync(join(out, fixture, host, LIBEXEC, capsule), 'utf8');

beforeAll(() => {
  out = mkdtempSync(join(tmpdir(), 'sbdi-store-setup-'));
  writeRendered(renderPlan(planFromInventory(join(FIXTURES, 'full', 'hosts.yml')), '// bundle\n'), join(out, 'full'));
  writeRendered(renderPlan(planFromInventory(join(FIXTURES, 'seed', 'hosts')), '// bundle\n'), join(out, 'seed'));
});
afterAll(() => rmSync(out, { recursive: true, force: true }));

describe('the target role', () => {
  it('sets up the store only by running sbdi-target-setup, changed when it prints "changed"', () => {
    expect(readdirSync(join(ROOT, 'roles', 'target', 'tasks')).sort()).toEqual(['check.yml', 'main.yml', 'replication.yml']);
    const setup = tasksOf('main.yml').filter((t) => JSON.stringify(t).includes('sbdi-target-setup'));
    expect(setup).toHaveLength(1);
    expect(setup[0]!['ansible.builtin.command']).toEqual({ argv: ['{{ sbdi_backup_host.paths.capsules }}/sbdi-target-setup'] });
    expect(setup[0]!.changed_when).toBe("'changed' in __target_setup.stdout_lines");
    const modules = ['main.yml', 'replication.yml'].flatMap(tasksOf).flatMap((t) => Object.keys(t));
    for (const m of ['community.general.zfs', 'community.general.filesystem', 'ansible.posix.mount', 'ansible.builtin.service']) expect(modules).not.toContain(m);
  });

  it('has no option that no longer means anything: defaults and argument specs name the same ones', () => {
    const defaults = Object.keys(yaml.load(readFileSync(join(ROOT, 'roles', 'target', 'defaults', 'main.yml'), 'utf8')) as object);
    const specs = yaml.load(readFileSync(join(ROOT, 'roles', 'target', 'meta', 'argument_specs.yml'), 'utf8')) as { argument_specs: { main: { options: object } } };
    expect(Object.keys(specs.argument_specs.main.options)).toEqual(defaults);
    for (const f of ['roles/README.md', 'docs/inventory.md', 'README.md']) expect(readFileSync(join(ROOT, f), 'utf8')).not.toContain('zfs_fuse_wait');
  });
});

describe('one ZFS pool partial for targets and remotes', () => {
  it('neither backend module defines the pool functions itself', () => {
    for (const m of ['target/zfs.sh.hbs', 'remote/zfs.sh.hbs']) {
      const text = readFileSync(join(ROOT, 'templates', m), 'utf8');
      for (const f of POOL_FUNCTIONS) expect(text, `${m}: ${f}`).not.toMatch(new RegExp(`^${f}\\(\\)`, 'm'));
      expect(text).toMatch(/^\{\{> lib\/zfs-pool package=\w+\.zfs\.package\}\}$/m);
    }
  });

  it('renders the same functions into the target and the remote setup (zfs-fuse: enable-xattr, one wait)', () => {
    const target = rendered('full', 'backup-target', 'sbdi-target-setup');
    const remote = rendered('full', 'offsite-1', 'sbdi-remote-setup');
    for (const f of POOL_FUNCTIONS) expect(fn(remote, f), f).toBe(fn(target, f));
    expect(fn(target, 'zfs_daemon')).toContain('enable-xattr');
    for (const script of [target, remote]) expect(script.match(/zfs-fuse --pidfile/g)).toHaveLength(1);
  });

  it('a kernel ZFS target creates its pool with acltype=posixacl xattr=sa, a zfs-fuse one without', () => {
    expect(fn(rendered('seed', 'backup-target', 'sbdi-target-setup'), 'target_setup')).toMatch(/^ {2}zfs_pool_setup -O acltype=posixacl -O xattr=sa$/m);
    expect(fn(rendered('full', 'backup-target', 'sbdi-target-setup'), 'target_setup')).toMatch(/^ {2}zfs_pool_setup$/m);
    expect(fn(rendered('seed', 'backup-target', 'sbdi-target-setup'), 'zfs_daemon')).toContain('modprobe zfs');
  });
});

describe('zfs_pool_setup, against stand-ins for zpool, zfs and the daemon', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'sbdi-pool-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /**
   * Runs zfs_pool_setup as rendered for the full fixture's remote (zfs-fuse) in a sandbox of stand-ins.
   * `state`: pool imported, importable (an exported pool on the file), or none; daemon running.
   * Returns its stdout and the commands it ran.
   */
  function setup(state: { pool: 'imported' | 'exported' | 'none'; daemon: boolean; zfsrc: string }, args = ''): { stdout: string; calls: string[]; code: number } {
    const case_ = mkdtempSync(join(dir, 'case-'));
    const script = rendered('full', 'offsite-1', 'sbdi-remote-setup');
    const defs = POOL_FUNCTIONS.map((f) => fn(script, f)).join('\n');
    const bash = `set -euo pipefail
shopt -s inherit_errexit
calls=${case_}/calls; pool_state=${state.pool}; daemon=${state.daemon}
pool=backup data_device=${case_}/data/pool.img data_file_size=1M root=${case_}/backup
zfsrc=${case_}/zfsrc zfs_wait_seconds=1 zfs_daemon_changed=false
printf '%s' "${Buffer.from(state.zfsrc).toString('base64')}" | base64 -d >"$zfsrc"
[ "$pool_state" = none ] || { mkdir -p "$(dirname "$data_device")"; echo pool >"$data_device"; }
log_fatal() { echo "FATAL $*" >&2; exit "$1"; }
rec() { echo "$*" >>"$calls"; }
pgrep() { [ "$daemon" = true ]; }
rm() { rec rm "$@"; }
cat() { return 1; }
sleep() { :; }
zfs-fuse() { rec zfs-fuse "$@"; daemon=true; }
zpool() {
  case "$1" in
    list) if [ "$#" -eq 1 ] || [ "$pool_state" = imported ]; then return 0; fi; return 1 ;;
    import) rec zpool "$@"; [ "$pool_state" = exported ] && pool_state=imported ;;
    create) rec zpool "$@"; pool_state=imported ;;
  esac
}
zfs() { if [ "$1" = get ]; then echo off; else rec zfs "$@"; fi; }
${defs}
zfs_pool_setup ${args}
`;
    const r = spawnSync('bash', ['-c', bash], { encoding: 'utf8' });
    let calls: string[] = [];
    try {
      calls = readFileSync(join(case_, 'calls'), 'utf8').trim().split('\n');
    } catch {
      /* none */
    }
    return { stdout: r.stdout, calls: calls.map((c) => c.replaceAll(case_, 'CASE')), code: r.status ?? -1 };
  }

  it('leaves an imported pool and a running daemon alone, and says nothing changed', () => {
    const r = setup({ pool: 'imported', daemon: true, zfsrc: 'enable-xattr\n' });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('');
    expect(r.calls).toEqual([]);
  });

  it('imports a pool it finds on the data file and never creates one over it', () => {
    const r = setup({ pool: 'exported', daemon: true, zfsrc: 'enable-xattr\n' });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('changed\n');
    expect(r.calls).toEqual(['zpool import -d CASE/data backup']);
  });

  it('creates the pool only when there is none, on a new sparse file in a directory of root\'s alone, never with -f', () => {
    const r = setup({ pool: 'none', daemon: true, zfsrc: 'enable-xattr\n' }, '-O acltype=posixacl');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('changed\n');
    expect(r.calls).toEqual(['zpool create -m CASE/backup -O atime=off -O setuid=off -O devices=off -O exec=off -O acltype=posixacl backup CASE/data/pool.img']);
    const made = readdirSync(dir).map((d) => join(dir, d, 'data')).find((d) => { try { return statSync(join(d, 'pool.img')).size === 2 ** 20; } catch { return false; } });
    expect(made).toBeDefined();
    expect((statSync(made!).mode & 0o777).toString(8)).toBe('700');
  });

  it('starts a daemon that is gone, after its stale pid file, with enable-xattr in zfsrc first', () => {
    const r = setup({ pool: 'imported', daemon: false, zfsrc: 'max-arc-size = 100\n' });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('changed\n');
    expect(r.calls).toEqual(['rm -f /run/zfs-fuse.pid', 'zfs-fuse --pidfile /run/zfs-fuse.pid']);
    const zfsrc = readdirSync(dir).map((d) => join(dir, d, 'zfsrc')).map((f) => readFileSync(f, 'utf8')).find((t) => t.startsWith('max-arc'));
    expect(zfsrc?.split('\n')).toContain('enable-xattr');
  });
});

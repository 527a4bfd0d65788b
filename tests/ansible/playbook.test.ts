// Checks of the Ansible side that need no managed host: lint, syntax, and that a bad inventory stops
// the playbook on the controller before any host is contacted or anything is rendered.
// Real-host convergence and idempotence are exercised by the sandbox (npm run sandbox -- test).
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run as runAsync } from '../../tools/sandbox/exec';
import { linkCollection } from '../../tools/sandbox/ansible';

const ROOT = join(__dirname, '..', '..');
const PLAYBOOK = join(ROOT, 'playbooks', 'backup.yml');
const SEED = join(ROOT, 'tests', 'fixtures', 'inventories', 'seed', 'hosts');
const CLI = join(ROOT, 'dist', 'sbdi-backup.cjs');

const ENV = {
  ...process.env,
  ANSIBLE_NOCOLOR: '1',
  ANSIBLE_FORCE_COLOR: '0',
  ANSIBLE_RETRY_FILES_ENABLED: '0',
  // Never use anything from the invoking user's ssh setup.
  ANSIBLE_HOST_KEY_CHECKING: 'False',
};

/**
 * Runs a command without blocking the worker (a worker stuck in spawnSync for a minute on a loaded
 * machine misses vitest's RPC deadline); `status` as spawnSync names it.
 */
async function run(cmd: string, args: string[], timeoutMs = 300_000): Promise<{ status: number; stdout: string; stderr: string }> {
  const r = await runAsync(cmd, args, { cwd: ROOT, env: ENV, timeoutMs });
  return { status: r.code, stdout: r.stdout, stderr: r.stderr };
}

let work: string;
let bundle: string;

beforeAll(async () => {
  if (!existsSync(CLI)) {
    const b = await run('npm', ['run', 'build', '--silent']);
    if (b.status !== 0) throw new Error(`npm run build failed:\n${b.stdout}\n${b.stderr}`);
  }
  linkCollection(ROOT);
  work = mkdtempSync(join(tmpdir(), 'sbdi-ansible-test-'));
  bundle = join(work, 'director.cjs');
  writeFileSync(bundle, '// stand-in director bundle for tests\n');
});

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

/**
 * An inventory whose hosts cannot be reached: any task that tried to contact one would come back
 * UNREACHABLE (ssh to 127.0.0.1 port 1), so "nothing touched a host" is observable.
 */
function unreachableInventory(sourceName: string): string {
  return `all:
  vars:
    deployment_prefix: uat
    ansible_connection: ssh
    ansible_host: 127.0.0.1
    ansible_port: 1
  children:
    backup_director:
      hosts:
        backup-director:
    backup_targets:
      hosts:
        backup-target:
    backup_sources:
      hosts:
        ${sourceName}:
          gluster_backup_source: true
    docker_swarm:
      hosts:
        ${sourceName}:
`;
}

describe('ansible-lint', () => {
  it('passes with the production profile (exceptions explained in .ansible-lint)', async () => {
    const r = await run('ansible-lint', ['--nocolor']);
    const out = `${r.stdout}\n${r.stderr}`;
    expect(r.status, out).toBe(0);
    expect(out).toMatch(/Passed with production profile: 0 failure\(s\), 0 warning\(s\)/);
    expect(readFileSync(join(ROOT, '.ansible-lint'), 'utf8')).toMatch(/^profile: production$/m);
  });
});

describe('the Galaxy artifact', () => {
  it('holds the product: roles, playbook, templates, the CLI and director bundles; no harness', async () => {
    const out = mkdtempSync(join(tmpdir(), 'sbdi-galaxy-'));
    try {
      const r = await run('ansible-galaxy', ['collection', 'build', '--output-path', out, ROOT]);
      expect(r.status, r.stdout + r.stderr).toBe(0);
      const tar = readdirSync(out).find((f) => f.endsWith('.tar.gz'))!;
      const list = (await run('tar', ['tzf', join(out, tar)])).stdout.split('\n');
      for (const kept of ['roles/common/tasks/main.yml', 'plugins/filter/sbdi.py', 'playbooks/backup.yml', 'dist/sbdi-backup.cjs', 'dist/director.cjs', 'templates/sudoers.hbs', 'MANIFEST.json', 'CHANGELOG.md']) {
        expect(list, kept).toContain(kept);
      }
      expect(list.filter((f) => /^(src|tools|tests|scripts|node_modules|docs\/bench)\/|^dist\/(sandbox|bench)\.cjs$/.test(f))).toEqual([]);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});

describe('playbooks/backup.yml', () => {
  it('passes --syntax-check against the production-shaped inventory', async () => {
    const r = await run('ansible-playbook', ['--syntax-check', '-i', SEED, PLAYBOOK]);
    expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(r.stdout).toContain('playbook: ');
  });

  it('wires every role to the inventory groups and validates role arguments', async () => {
    const hosts = await run('ansible-playbook', ['--list-hosts', '-i', SEED, PLAYBOOK]);
    expect(hosts.status, `${hosts.stdout}\n${hosts.stderr}`).toBe(0);
    const plays = hosts.stdout.split(/\n\s*play #\d+ /).slice(1).map((p) => ({
      pattern: /^\(([^)]*)\)/.exec(p)?.[1],
      hosts: [...p.matchAll(/^\s{6}(\S+)\s*$/gm)].map((m) => m[1]).sort(),
    }));
    expect(plays.map((p) => p.pattern)).toEqual([
      'all',
      'backup_director:backup_targets:backup_sources:docker_swarm:docker:backup_remotes',
      'backup_director',
      'backup_targets',
      'docker_swarm:docker',
      'backup_sources',
      'backup_remotes',
      'backup_director:backup_targets:backup_sources:docker_swarm:docker:backup_remotes',
      'all:!backup_director:!backup_targets:!backup_sources:!docker_swarm:!docker:!backup_remotes',
    ]);
    expect(plays[1]!.hosts).toEqual(['backup-director', 'backup-target', 'cassandra-1', 'manager-1']);
    expect(plays[4]!.hosts).toEqual(['cassandra-1', 'manager-1']);
    const tasks = await run('ansible-playbook', ['--list-tasks', '-i', SEED, PLAYBOOK]);
    expect(tasks.status, `${tasks.stdout}\n${tasks.stderr}`).toBe(0);
    // The target's store is set up by the rendered sbdi-target-setup alone, as the remote's by
    // sbdi-remote-setup: no second way of doing it in tasks.
    expect(tasks.stdout).toContain('target : Create or import the backup store');
    expect(tasks.stdout).not.toMatch(/target : (Start zfs-fuse|Create the pool|Create the btrfs filesystem|Mount the filesystem|Create the sparse)/);
    for (const role of ['render', 'common', 'director', 'target', 'docker_control', 'source', 'remote']) {
      expect(existsSync(join(ROOT, 'roles', role, 'meta', 'argument_specs.yml')), role).toBe(true);
      expect(tasks.stdout).toContain(`${role} : Validating arguments against arg spec 'main'`);
    }
  });

  it('regenerates keys with --tags regenerate_keys: render, keys and authorized_keys only', async () => {
    const r = await run('ansible-playbook', ['--list-tasks', '--tags', 'regenerate_keys', '-i', SEED, PLAYBOOK]);
    expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(r.stdout).toContain("render : Validate the inventory and render every host's files");
    expect(r.stdout).toContain("director : Generate the operator's ed25519 key pair");
    expect(r.stdout).toContain('source : Generate the push and pull ed25519 key pairs');
    expect(r.stdout).toContain('Install authorized_keys with the real public keys');
    expect(r.stdout).not.toContain('common : Install the rendered files');
    expect(r.stdout).not.toContain('target : Create or import the backup store');
    expect(r.stdout).not.toContain('common : Create the operator user');
  });

  it('fails on a bad inventory before touching any host, with the validation message, rendering nothing', async () => {
    const inv = join(work, 'bad.yml');
    writeFileSync(inv, unreachableInventory('manager@+1'));
    const renderDir = join(work, 'render-bad');
    const r = await run('ansible-playbook', ['-i', inv, PLAYBOOK, '-e', `sbdi_backup_render_dir=${renderDir}`, '-e', `sbdi_backup_director_bundle=${bundle}`]);
    const out = `${r.stdout}\n${r.stderr}`;
    expect(r.status, out).not.toBe(0);
    expect(out).toContain("host 'manager@+1': inventory_hostname");
    expect(out).toContain("'@+' separates host and path");
    expect(out).toContain('nothing was written');
    // Only the render play ran; no host was contacted and no later play started.
    expect(out).not.toMatch(/UNREACHABLE/);
    expect(out).not.toContain('PLAY [Set up the backup operator');
    expect(out).toMatch(/backup-director\s+: ok=\d+\s+changed=0\s+unreachable=0\s+failed=1/);
    expect(existsSync(renderDir)).toBe(false);
    expect(readdirSync(work).filter((f) => f.startsWith('render-bad'))).toEqual([]);
  });

  it('fails clearly when started with more than one inventory', async () => {
    const inv = join(work, 'good.yml');
    writeFileSync(inv, unreachableInventory('manager-1'));
    const r = await run('ansible-playbook', ['-i', inv, '-i', SEED, PLAYBOOK, '-e', `sbdi_backup_render_dir=${join(work, 'render-two')}`]);
    const out = `${r.stdout}\n${r.stderr}`;
    expect(r.status, out).not.toBe(0);
    expect(out).toContain('renders from one inventory');
    expect(out).not.toMatch(/UNREACHABLE/);
  });
});

describe('role render', () => {
  it('renders every host from the whole inventory and replaces the previous rendering as a whole', async () => {
    const renderDir = join(work, 'render-seed');
    const args = (inv: string) => [
      '-i', inv, join(__dirname, 'render-only.yml'),
      '-e', `sbdi_backup_render_dir=${renderDir}`, '-e', `sbdi_backup_director_bundle=${bundle}`, '-e', `sbdi_backup_cli=${CLI}`,
    ];
    const first = await run('ansible-playbook', args(SEED));
    expect(first.status, `${first.stdout}\n${first.stderr}`).toBe(0);
    expect(first.stdout).toMatch(/changed=0/);
    expect(readdirSync(renderDir).sort()).toEqual(['_plan.json', 'backup-director', 'backup-target', 'cassandra-1', 'manager-1']);
    expect(JSON.parse(readFileSync(join(renderDir, '_plan.json'), 'utf8')).hosts).toEqual(['backup-director', 'backup-target', 'cassandra-1', 'manager-1']);
    for (const h of readdirSync(renderDir).filter((f) => f !== '_plan.json')) {
      expect(existsSync(join(renderDir, h, 'MANIFEST.yml'))).toBe(true);
      expect(JSON.parse(readFileSync(join(renderDir, h, 'host.json'), 'utf8')).name).toBe(h);
    }
    // cassandra-1 leaves the inventory: its rendering must not survive.
    const smaller = join(work, 'smaller');
    writeFileSync(smaller, readFileSync(SEED, 'utf8').replace(/^cassandra-1.*$/gm, ''));
    const second = await run('ansible-playbook', args(smaller));
    expect(second.status, `${second.stdout}\n${second.stderr}`).toBe(0);
    expect(readdirSync(renderDir).sort()).toEqual(['_plan.json', 'backup-director', 'backup-target', 'manager-1']);
  });

  it('gives every host its plan as facts, and each role refuses a host without its part of the plan, saying why', async () => {
    const inv = join(work, 'facts.yml');
    writeFileSync(inv, unreachableInventory('manager-1'));
    const play = join(work, 'facts-play.yml');
    writeFileSync(play, `---
- hosts: all
  gather_facts: false
  roles: [sbdi.backup.render]
  tasks:
    - ansible.builtin.debug:
        msg: "FACTS {{ inventory_hostname }} {{ sbdi_backup_host.name }} {{ sbdi_backup_manifest | length > 0 }} {{ sbdi_backup_plan.hosts | length }}"
- hosts: manager-1
  gather_facts: false
  roles: [sbdi.backup.target]
`);
    const noRender = join(work, 'no-render.yml');
    writeFileSync(noRender, '---\n- hosts: backup-target\n  gather_facts: false\n  roles: [sbdi.backup.target]\n');
    const common = ['-e', `sbdi_backup_render_dir=${join(work, 'render-facts')}`, '-e', `sbdi_backup_director_bundle=${bundle}`, '-e', `sbdi_backup_cli=${CLI}`];
    const [withPlan, without] = await Promise.all([run('ansible-playbook', ['-i', inv, play, ...common]), run('ansible-playbook', ['-i', inv, noRender, ...common])]);
    const out = `${withPlan.stdout}\n${withPlan.stderr}`;
    for (const h of ['backup-director', 'backup-target', 'manager-1']) expect(out).toContain(`FACTS ${h} ${h} True 3`);
    expect(out).toContain('manager-1 is not a backup target of the rendered plan (roles: docker, source)');
    expect(out).not.toMatch(/UNREACHABLE/);
    expect(`${without.stdout}\n${without.stderr}`).toContain('backup-target has no rendered plan: run the render role');
    expect(without.stdout).not.toMatch(/UNREACHABLE/);
  });
});

// The render role's argument specs (generated from src/plan/settings.ts) as Ansible applies them:
// on each host, as the role starts, before the plan is built. They must take every inventory the
// plan takes (the committed ones, the sandbox's and values written in every shape the plan reads),
// and refuse a wrongly typed value with a message naming the variable.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { planFromInventory } from '../../src/plan';
import { linkCollection } from '../../tools/sandbox/ansible';
import { run } from '../../tools/sandbox/exec';
import { inventoryYaml } from '../../tools/sandbox/inventory';

const ROOT = join(__dirname, '..', '..');
const FIXTURES = join(ROOT, 'tests', 'fixtures', 'inventories');
const VALIDATING = "Validating arguments against arg spec 'main'";

let work: string;

beforeAll(() => {
  linkCollection(ROOT);
  work = mkdtempSync(join(tmpdir(), 'sbdi-argspecs-'));
  // Only the role's entry: a stand-in CLI, so what is checked here is Ansible's validation alone.
  // It renders a plan of no hosts, which the role's loading step then reads.
  writeFileSync(
    join(work, 'cli.cjs'),
    "const out = process.argv[process.argv.indexOf('--out') + 1];\nrequire('node:fs').writeFileSync(out + '/_plan.json', JSON.stringify({ hosts: [] }));\n",
  );
  writeFileSync(join(work, 'director.cjs'), '// stand-in director bundle\n');
});

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

/** The render role on every host of the inventory (no managed host is contacted). */
async function renderRole(inventory: string): Promise<{ code: number; out: string }> {
  const r = await run(
    'ansible-playbook',
    ['-i', inventory, join(__dirname, 'render-only.yml'),
      '-e', `sbdi_backup_render_dir=${join(work, 'render')}`, '-e', `sbdi_backup_cli=${join(work, 'cli.cjs')}`, '-e', `sbdi_backup_director_bundle=${join(work, 'director.cjs')}`],
    { cwd: ROOT, timeoutMs: 300_000, env: { ...process.env, ANSIBLE_NOCOLOR: '1', ANSIBLE_RETRY_FILES_ENABLED: '0' } },
  );
  return { code: r.code, out: r.stdout + r.stderr };
}

function written(name: string, text: string): string {
  const file = join(work, `${name}.yml`);
  writeFileSync(file, text);
  return file;
}

const sandbox = (name: string, o: Parameters<typeof inventoryYaml>[1]) => [`sandbox ${name}`, () => written(`sandbox-${name}`, inventoryYaml('argspec', o))] as const;
const INVENTORIES: readonly (readonly [string, () => string])[] = [
  ...['full', 'seed', 'single-host', 'two-target', 'uat'].map((f) => [`fixture ${f}`, () => join(FIXTURES, f)] as const),
  ['tests/sandbox/inventory/uat (the demo)', () => join(ROOT, 'tests', 'sandbox', 'inventory', 'uat', 'hosts.yml')],
  sandbox('with an off-site remote', { remote: true }),
  sandbox('with a second target', { secondTarget: true }),
  sandbox('with light docker hosts', { extraDockerHosts: ['light-1', 'light-2'], targetPoolGiB: 8 }),
];

describe("the render role's argument validation", { timeout: 300_000 }, () => {
  it.each(INVENTORIES)('takes %s, an inventory the plan takes', async (_name, inventory) => {
    const inv = inventory();
    expect(() => planFromInventory(inv)).not.toThrow();
    const r = await renderRole(inv);
    expect(r.code, r.out).toBe(0);
    expect(r.out).toContain(VALIDATING);
  });

  it('takes every shape the plan reads: numbers as strings or floats, comma lists, sizes, durations, null', async () => {
    const inv = written(
      'shapes',
      `all:
  vars:
    deployment_prefix: uat
    backup_pause_deadline: "90"
    backup_sync_concurrency: 2.0
    backup_connect_timeout: " 15 "
    backup_clock_skew: 600
    backup_check_warning_age: 26h
    backup_check_critical_age: "3d"
    backup_check_store_warning: "80"
    backup_schedule_enabled: "yes"
    backup_schedule_randomized_delay: 10m
    backup_full_scan_days: 0
  children:
    backup_director:
      hosts:
        backup-director:
    backup_targets:
      hosts:
        backup-target:
          backup_target_backend: null
          backup_zfs_package: ~
          backup_keep_last: "7"
          backup_keep_minimum: 3.0
          backup_data_file_size: "20"
          backup_foreign_stores:
            old: /dev/vdc
            older: {device: /srv/older.img, pool: tank}
    backup_sources:
      hosts:
        manager-1:
          gluster_backup_source: "True"
          lvm_backup_source: 0
          backup_source_exclude: "cache, tmp/spool"
          backup_push_limit: 500M
        cassandra-1:
          lvm_backup_source: on
          backup_snapshot_storage: "20"
          backup_source_exclude: [cache, /tmp/spool]
          backup_push_limit: 2
    docker_swarm:
      hosts:
        manager-1:
        cassandra-1:
`,
    );
    const plan = planFromInventory(inv);
    expect(plan.settings).toMatchObject({ pauseDeadlineSeconds: 90, syncConcurrency: 2, connectTimeoutSeconds: 15, clockSkewSeconds: 600 });
    expect(plan.targets[0]).toMatchObject({ backend: 'zfs', retention: { keepLast: 7, keepMinimum: 3 } });
    expect(plan.sources.find((s) => s.host === 'manager-1')).toMatchObject({ excludes: ['cache', 'tmp/spool'], pushLimitBytes: 500 * 2 ** 20 });
    const r = await renderRole(inv);
    expect(r.code, r.out).toBe(0);
    expect(r.out).toMatch(new RegExp(`TASK \\[sbdi\\.backup\\.render : ${VALIDATING}[^\\n]*\\n(ok: \\[[a-z0-9-]+\\]\\n){4}`));
  });

  it('refuses a wrongly typed value on the host that has it, naming the variable, before rendering', async () => {
    const inv = written(
      'wrong',
      `all:
  vars:
    deployment_prefix: uat
  children:
    backup_director:
      hosts:
        backup-director:
          backup_schedule_enabled: maybe
    backup_targets:
      hosts:
        backup-target:
          backup_target_backend: lvm
          backup_foreign_stores: [old]
    backup_sources:
      hosts:
        manager-1:
          gluster_backup_source: true
`,
    );
    const r = await renderRole(inv);
    expect(r.code).not.toBe(0);
    expect(r.out).toMatch(/fatal: \[backup-director\]: FAILED!.*argument 'backup_schedule_enabled' is of type [^"]* unable to convert to bool: The value 'maybe' is not a valid boolean/);
    expect(r.out).toMatch(/fatal: \[backup-target\]: FAILED!.*value of backup_target_backend must be one of: zfs, btrfs, dir, None, got: lvm/);
    expect(r.out).toMatch(/fatal: \[backup-target\]: FAILED!.*argument 'backup_foreign_stores' is of type <class 'list'> and we were unable to convert to dict/);
    expect(r.out).toMatch(/ok: \[manager-1\]/);
    expect(r.out).not.toContain('Validate the inventory and render');
  });
});

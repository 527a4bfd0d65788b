// backup_foreign_stores (restore into another deployment) and the partial-restore path grammar,
// as the plan, sbdi-dispatch and sudoers check them.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { InventoryError, planFromInventory } from '../../../src/plan';
import { SUBPATH_ERE, isSubpath } from '../../../src/plan/checks';
import { renderTemplate } from '../../../src/render/engine';
import { filesForHost } from '../../../src/render/host-files';

const dir = mkdtempSync(join(tmpdir(), 'sbdi-foreign-'));
let n = 0;

function inventory(targetVars: string, backend = ''): string {
  const d = join(dir, `inv${n++}`);
  mkdirSync(join(d, 'host_vars'), { recursive: true });
  writeFileSync(
    join(d, 'hosts.ini'),
    `[all:vars]\ndeployment_prefix=uat\n[backup_director]\nbackup-director\n[backup_targets]\nbackup-target ${backend}\n[backup_sources]\nmanager-1 gluster_backup_source=True\n[docker_swarm]\nmanager-1\n`,
  );
  writeFileSync(join(d, 'host_vars', 'backup-target.yml'), targetVars);
  return join(d, 'hosts.ini');
}

function problems(path: string): string {
  try {
    planFromInventory(path);
  } catch (e) {
    if (e instanceof InventoryError) return e.message;
    throw e;
  }
  throw new Error('accepted');
}

describe('backup_foreign_stores', () => {
  it('takes NAME: DEVICE and NAME: {device, pool}; names a local pool and an altroot for each', () => {
    const plan = planFromInventory(inventory('backup_foreign_stores:\n  prod: /dev/vdc\n  old-prod: {device: /var/lib/sbdi/old.img, pool: tank}\n'));
    expect(plan.targets[0]!.foreignStores).toEqual([
      { name: 'old-prod', device: '/var/lib/sbdi/old.img', pool: 'tank', localPool: 'sbdi_from_old_prod', altroot: '/run/sbdi-backup/foreign/old-prod' },
      { name: 'prod', device: '/dev/vdc', pool: 'backup', localPool: 'sbdi_from_prod', altroot: '/run/sbdi-backup/foreign/prod' },
    ]);
    expect(planFromInventory(inventory('x: 1\n')).targets[0]!.foreignStores).toEqual([]);
  });

  it.each([
    ['a list', 'backup_foreign_stores: [/dev/vdc]\n', /backup_foreign_stores.*expected a mapping/],
    ['a bad name', 'backup_foreign_stores:\n  "Prod;rm": /dev/vdc\n', /expected a mapping/],
    ['a relative device', 'backup_foreign_stores:\n  prod: vdc\n', /prod\.device.*absolute path/],
    ['a device with ..', 'backup_foreign_stores:\n  prod: /dev/../etc/shadow\n', /prod\.device/],
    ['a bad pool', 'backup_foreign_stores:\n  prod: {device: /dev/vdc, pool: "a b"}\n', /prod\.pool/],
    ['an unknown key', 'backup_foreign_stores:\n  prod: {device: /dev/vdc, readonly: false}\n', /unknown key/],
  ])('refuses %s', (_what, vars, why) => {
    expect(problems(inventory(vars))).toMatch(why);
  });

  it('refuses foreign stores on a non-ZFS target', () => {
    expect(problems(inventory('backup_foreign_stores:\n  prod: /dev/vdc\n', 'backup_target_backend=dir'))).toMatch(/only for backup_target_backend zfs/);
  });

  it('renders the foreign capsules, their dispatch cases and sudoers lines only when stores exist', () => {
    const withStores = planFromInventory(inventory('backup_foreign_stores:\n  prod: /dev/vdc\n'));
    const files = filesForHost(withStores, 'backup-target', '// bundle');
    const names = files.map((f) => f.path.split('/').pop());
    expect(names).toEqual(expect.arrayContaining(['attach_foreign_store', 'activate_foreign_backup', 'detach_foreign_store']));
    const sudoers = files.find((f) => f.kind === 'sudoers')!.content;
    expect(sudoers).toMatch(/attach_foreign_store prod$/m);
    expect(sudoers).toMatch(/detach_foreign_store ""$/m);
    const without = filesForHost(planFromInventory(inventory('x: 1\n')), 'backup-target', '// bundle').map((f) => f.path);
    expect(without.some((p) => p.includes('foreign'))).toBe(false);
    const source = filesForHost(withStores, 'manager-1', '// bundle');
    const srcSudoers = source.find((f) => f.kind === 'sudoers')!.content;
    expect(srcSudoers).toContain(`restore_source ${SUBPATH_ERE}`);
    expect(srcSudoers).toContain('restore_source ""');
    expect(srcSudoers).toContain(`restore_source_dry_run ${SUBPATH_ERE}`);
  });
});

describe('the partial-restore path grammar agrees in TypeScript, bash (dispatch, capsule) and the sudoers ERE', () => {
  const bash = renderTemplate('source/subpath.sh.hbs', {});
  const cases = ['a', 'a/b', 'wordpress/wp-content/uploads', '.config', '..x', 'x..', '...', 'a.b', '-a', '.', '..', 'a/..', '../a', 'a/./b', '/a', 'a/', 'a//b', '', 'a b', 'a;b', '$(id)', 'a\nb', '*', 'ä', 'a'.repeat(1025)];
  it.each(cases.map((c) => [JSON.stringify(c), c]))('%s', (_label, path) => {
    const ts = isSubpath(path);
    const sh = spawnSync('bash', ['-c', `${bash}\nsbdi_valid_subpath "$1"`, 'x', path]).status === 0;
    // sudo matches with POSIX extended regexes; grep -E is the same engine family.
    const ere = path.length <= 1024 && !path.includes('\n') && spawnSync('grep', ['-qxE', SUBPATH_ERE.slice(1, -1)], { input: path }).status === 0;
    expect(sh, 'bash').toBe(ts);
    // The ERE is the third fence: it may be looser on length (the capsule bounds it) but never on '..'.
    if (path.length <= 1024) expect(ere, 'sudoers ERE').toBe(ts);
  });

  it('the rendered dispatch refuses bad arguments before sudo', () => {
    const plan = planFromInventory(inventory('backup_foreign_stores:\n  prod: /dev/vdc\n'));
    const dispatch = filesForHost(plan, 'manager-1', '// b').find((f) => f.path.endsWith('/sbdi-dispatch'))!.content;
    const script = join(dir, 'dispatch');
    // Run it against a stub log library and without sudo: a refusal exits 126 before exec.
    const lib = join(dir, 'lib');
    mkdirSync(lib, { recursive: true });
    writeFileSync(join(lib, 'backup-runtime'), 'log_error() { :; }\nsbdi_json_string() { printf "\\"%s\\"" "$1"; }\n');
    writeFileSync(script, dispatch.replace(/^\. .*backup-runtime$/m, `. ${lib}/backup-runtime`).replace(/^exec \/usr\/bin\/sudo -n .*$/m, 'echo "ALLOWED $capsule ${arg}"; exit 0'));
    const run = (cmd: string) => spawnSync('bash', [script], { env: { SSH_ORIGINAL_COMMAND: cmd }, encoding: 'utf8' });
    for (const bad of ['restore_source ../etc', 'restore_source /etc', 'restore_source a//b', 'restore_source a/./b', 'restore_source_dry_run ..', 'restore_source a b', 'perform_rsync x', 'attach_foreign_store prod', 'bash', 'restore_source $(id)']) {
      const r = run(bad);
      expect(r.status, bad).toBe(126);
      expect(r.stdout, bad).toMatch(/"ok":false/);
    }
    for (const good of ['restore_source', 'restore_source wordpress', 'restore_source_dry_run wordpress/uploads', 'restore_source .config']) {
      expect(run(good).stdout, good).toMatch(/^ALLOWED/);
    }
    expect(readFileSync(script, 'utf8')).toMatch(/sbdi_valid_subpath/);
    const target = filesForHost(plan, 'backup-target', '// b').find((f) => f.path.endsWith('/sbdi-dispatch'))!.content;
    writeFileSync(script, target.replace(/^\. .*backup-runtime$/m, `. ${lib}/backup-runtime`).replace(/^exec \/usr\/bin\/sudo -n .*$/m, 'echo "ALLOWED $capsule ${arg}"; exit 0'));
    expect(run('attach_foreign_store prod').stdout).toMatch(/^ALLOWED attach_foreign_store prod/);
    for (const bad of ['attach_foreign_store staging', 'attach_foreign_store', 'attach_foreign_store prod/x', 'detach_foreign_store prod', 'activate_foreign_backup prod']) {
      expect(run(bad).status, bad).toBe(126);
    }
  });
});

import { describe, expect, it } from 'vitest';
import { InventoryError, buildPlan, type RawInventory } from '../../../src/plan';

/** Values an attacker or a typo could put into an inventory; none may reach a script or sudoers. */
const HOSTILE = [
  `it's`,
  'a"b',
  '$(reboot)',
  '`id`',
  '${HOME}',
  'a;rm -rf /',
  'a|b',
  'a&&b',
  'line\nbreak',
  'cr\rreturn',
  'tab\there',
  'nul\u0000byte',
  '../../etc',
  '/docker/../etc',
  '/docker//x',
  '/docker/',
  'x'.repeat(300),
  '/' + 'd/'.repeat(200) + 'x',
  'ünïcödé',
  '/docker/\u202Egnp.exe',
  'a b',
  '*',
  '~root',
  'ALL',
  'a,b',
  'a=b',
  'a:b',
  'a\\b',
  '-rf',
  '@+',
];

const baseVars = { deployment_prefix: 'uat' };
function inventoryWith(host: string, vars: Record<string, unknown>): RawInventory {
  return {
    hostvars: {
      'backup-director': { ...baseVars },
      'backup-target': { ...baseVars },
      'manager-1': { ...baseVars, gluster_backup_source: true, backup_snapshot_storage: 0 },
      [host]: { ...baseVars, ...(host === 'manager-1' ? { gluster_backup_source: true } : {}), ...vars },
    },
    groups: {
      backup_director: ['backup-director'],
      backup_targets: ['backup-target'],
      backup_sources: ['manager-1'],
      docker_swarm: ['manager-1'],
    },
  };
}

/** Variables that end up in scripts, sudoers or ssh options, and the host that carries them. */
const SLOTS: [string, string][] = [
  ['manager-1', 'gluster_backup_source_dir'],
  ['manager-1', 'gluster_backup_source_snapshot_mount_point'],
  ['manager-1', 'gluster_backup_source_volume'],
  ['backup-director', 'deployment_prefix'],
  ['backup-target', 'ansible_host'],
  ['backup-target', 'backup_data_device'],
  ['backup-target', 'backup_zfs_pool'],
  ['backup-target', 'backup_zfs_compression'],
  ['backup-target', 'backup_root'],
];

describe('hostile values are refused wherever they could reach a script', () => {
  it('accepts the clean inventory these cases start from', () => {
    expect(buildPlan(inventoryWith('manager-1', {})).sources).toHaveLength(1);
  });

  for (const [host, variable] of SLOTS) {
    it.each(HOSTILE)(`${host} ${variable} = %j`, (value) => {
      let error: unknown;
      try {
        buildPlan(inventoryWith(host, { [variable]: value }));
      } catch (e) {
        error = e;
      }
      // A few values are legal in some slots (e.g. 'ALL' as a volume name); they must then come
      // through unchanged and harmless, never altered into something else.
      if (error === undefined) {
        expect(/^[A-Za-z0-9][A-Za-z0-9._:-]*$|^\/[A-Za-z0-9._/-]+$/.test(value), `${variable} accepted ${JSON.stringify(value)}`).toBe(true);
        return;
      }
      expect(error).toBeInstanceOf(InventoryError);
      const message = (error as InventoryError).message;
      expect(message).toContain(variable);
      expect(message).toContain(`host '${host}'`);
      // The message shows the value JSON-quoted: a newline in it cannot forge another line.
      expect(message.split('\n').length).toBe((error as InventoryError).problems.length);
    });
  }

  it.each(HOSTILE.filter((v) => !/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(v)))('host name %j is refused', (name) => {
    const inv = inventoryWith('manager-1', {});
    inv.groups.docker_swarm = ['manager-1', name];
    inv.hostvars[name] = { ...baseVars };
    expect(() => buildPlan(inv)).toThrow(InventoryError);
  });
});

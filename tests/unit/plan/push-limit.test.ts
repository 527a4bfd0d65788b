// backup_push_limit: the most one push of a source's tree may send to its target; the target's
// receive_backup holds it, so a source cannot fill the store in one backup.
import { describe, expect, it } from 'vitest';
import { InventoryError } from '../../../src/plan';
import { filesForHost } from '../../../src/render/host-files';
import { SEED, planOf } from './seed-inventory';

const withLimit = (value: string) => SEED.replace('manager-1   gluster_backup_source=True', `manager-1   backup_push_limit=${value} gluster_backup_source=True`);
const limitOf = (value: string) => planOf(withLimit(value)).sources.find((s) => s.host === 'manager-1')!.pushLimitBytes;

describe('backup_push_limit', () => {
  it.each([
    ['50', 50 * 2 ** 30],
    ['500M', 500 * 2 ** 20],
    ['1M', 2 ** 20],
    ['2T', 2 * 2 ** 40],
    ['4096K', 4 * 2 ** 20],
    ['0', undefined],
  ])('reads %s as %s bytes', (value, bytes) => {
    expect(limitOf(value)).toBe(bytes);
  });

  it('is absent unless set, and reaches the receiving end of that tree only', () => {
    expect(planOf(SEED).sources.every((s) => s.pushLimitBytes === undefined)).toBe(true);
    const plan = planOf(withLimit('500M'));
    const receive = filesForHost(plan, 'backup-target', '// bundle').find((f) => f.path.endsWith('/receive_backup'))!.content;
    expect(receive).toContain(`[ "$1" != manager-1@+docker ] || push_limit=${500 * 2 ** 20}`);
    expect(receive).not.toContain('cassandra-1@+docker_local ] || push_limit');
  });

  it.each(['-1', '512K', '1.5G', '10 G', '10g', '10GB', '$(reboot)', '1e9', 'none', '""', '99999999999G'])('refuses %s naming the host and the variable', (bad) => {
    expect(() => planOf(withLimit(JSON.stringify(bad)))).toThrow(InventoryError);
    try {
      planOf(withLimit(JSON.stringify(bad)));
    } catch (e) {
      expect((e as Error).message).toMatch(/manager-1.*backup_push_limit.*expected 0 \(no limit\)/s);
    }
  });
});

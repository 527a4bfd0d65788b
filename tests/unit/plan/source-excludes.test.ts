// backup_source_exclude: paths inside a source's live dir that are never backed up nor touched by
// a restore (where another filesystem is mounted on purpose), checked before anything is rendered.
import { describe, expect, it } from 'vitest';
import { InventoryError } from '../../../src/plan';
import { filesForHost } from '../../../src/render/host-files';
import { SEED, planOf } from './seed-inventory';

const withExclude = (value: string) => SEED.replace('manager-1   gluster_backup_source=True', `manager-1   backup_source_exclude=${value} gluster_backup_source=True`);

describe('backup_source_exclude', () => {
  it('takes comma-separated paths, relative or absolute under the live dir; sorted, once each', () => {
    const plan = planOf(withExclude('"db/tmp,/cache, db/tmp"'));
    expect(plan.sources.find((s) => s.host === 'manager-1')!.excludes).toEqual(['cache', 'db/tmp']);
    expect(plan.sources.find((s) => s.host === 'cassandra-1')!.excludes).toBeUndefined();
  });

  it('reaches the push, the restore and the one-filesystem check of that source only', () => {
    const plan = planOf(withExclude('cache'));
    const files = filesForHost(plan, 'manager-1', '// bundle');
    const text = (name: string) => files.find((f) => f.path.endsWith(`/${name}`))!.content;
    expect(text('perform_rsync')).toContain('common+=(--exclude=/cache)');
    expect(text('restore_source')).toContain('restore_args+=(--exclude=/cache)');
    expect(text('restore_source')).toContain('x=/cache');
    expect(text('prepare_source_snapshot')).toContain('local excludes=(/cache )');
    expect(filesForHost(plan, 'cassandra-1', '// bundle').find((f) => f.path.endsWith('/prepare_source_snapshot'))!.content).toContain('local excludes=()');
  });

  it.each(['..', 'a/../b', './a', 'a//b', 'a b', '$(reboot)', 'a*', '[x]', '""'])('refuses %s naming the host and the variable', (bad) => {
    expect(() => planOf(withExclude(JSON.stringify(bad)))).toThrow(InventoryError);
    try {
      planOf(withExclude(JSON.stringify(bad)));
    } catch (e) {
      expect((e as Error).message).toMatch(/manager-1.*backup_source_exclude.*expected paths inside the source dir/s);
    }
  });
});

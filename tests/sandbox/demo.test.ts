import { describe, expect, it } from 'vitest';
import { demo } from '../../src/sandbox/demo';
import { status } from '../../src/sandbox/steps';

// The README's main job, end to end on real containers: install (twice, the second changing
// nothing), back up, damage, refuse a restore while docker runs, restore, compare every source
// tree with the backup, restart. demo() throws on any deviation and always destroys the sandbox.
describe('the demo: a sandbox platform installed, backed up, damaged, restored and verified', () => {
  it('passes and leaves nothing behind', async () => {
    const prefix = 'e2e';
    await demo({ prefix, log: () => undefined });
    const left = await status({ prefix });
    expect(left.containers).toEqual([]);
    expect(left.mounts).toEqual([]);
  }, 1_800_000);
});

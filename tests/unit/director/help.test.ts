import { afterEach, describe, expect, it } from 'vitest';
import { COMMANDS, runCommand } from '../../../src/director/commands';
import { EXIT } from '../../../src/director/exit-codes';
import { cleanupHarnesses, harness } from './harness';
import { testPlan } from './plan-fixture';

afterEach(cleanupHarnesses);

describe('--help on every operator command', () => {
  it.each(COMMANDS)('%s --help prints its own usage and the exit codes, exit 0, touching no host', async (command) => {
    for (const flag of ['--help', '-h']) {
      const h = harness(testPlan());
      expect(await runCommand(h.ctx, [command, flag])).toBe(EXIT.OK);
      const text = h.printed.join('\n');
      expect(text).toMatch(new RegExp(`^usage: ${command} `));
      expect(text.split('\n').filter((l) => /^ {2}\S/.test(l) && l.includes(command)).length, text).toBeGreaterThan(0);
      expect(text).toMatch(/^exit codes:$/m);
      expect(h.transport.connects).toEqual([]);
      expect(h.state.runs()).toEqual([]);
    }
  });

  it('shows the options of its own command only', async () => {
    const h = harness(testPlan());
    await runCommand(h.ctx, ['prune_backups', '--help']);
    const text = h.printed.join('\n');
    expect(text).toMatch(/--delete-future/);
    expect(text).not.toMatch(/--full-scan|--only HOST/);
    const r = harness(testPlan());
    await runCommand(r.ctx, ['restore_latest_backup', '--help']);
    expect(r.printed.join('\n')).toMatch(/--only HOST\[:PATH\]/);
  });
});

import { afterEach, describe, expect, it } from 'vitest';
import { performBackup } from '../../../src/director/backup';
import { runCommand } from '../../../src/director/commands';
import { EXIT } from '../../../src/director/exit-codes';
import { pauseWindow } from '../../../src/director/manifest';
import { cleanupHarnesses, harness } from './harness';
import { testPlan } from './plan-fixture';

afterEach(cleanupHarnesses);

describe('the freeze, as the platform feels it', () => {
  it('runs from the first container frozen anywhere to the last one thawed anywhere; the window is only when all were', () => {
    const w = pauseWindow(
      [
        { host: 'a', paused: 3, pauseStartedAt: 1000, pausedAt: 1300, unpausedAt: 2000 },
        { host: 'b', paused: 5, pauseStartedAt: 1100, pausedAt: 1500, unpausedAt: 2300 },
        // Nothing to freeze there: it does not stretch the freeze.
        { host: 'c', paused: 0, pauseStartedAt: 900, pausedAt: 900, unpausedAt: 2600 },
      ],
      950,
      1900,
      60,
    );
    expect(w).toMatchObject({ start: 1500, end: 2000, durationMs: 500, freezeMs: 1300, longestHostFreezeMs: 1200 });
  });

  it('a capsule of an older release (no pauseStartedAt) counts from its deadline being armed', () => {
    const w = pauseWindow([{ host: 'a', paused: 2, armedAt: 1000, pausedAt: 1200, unpausedAt: 1500 }], 900, 1400, 60);
    expect(w.freezeMs).toBe(500);
  });

  it('perform_backup reports it first, the manifest records it, check_backup gives it as perfdata and a metric', async () => {
    const h = harness(testPlan());
    let t = 10_000;
    h.transport.on('pause_containers', (c) => ({ result: { paused: 3, deadline: 60, armedAt: t, pauseStartedAt: t + (c.host === 'manager-1' ? 0 : 40), pausedAt: t + 200 } }));
    h.transport.on('unpause_containers', (c) => ({ result: { unpaused: 3, watchdogFired: false, unpausedAt: t + (c.host === 'manager-1' ? 500 : 650) } }));
    expect(await performBackup(h.ctx)).toBe(EXIT.OK);
    const out = h.printed.join('\n');
    expect(out).toMatch(/^freeze: 650 ms from the first container frozen to the last one thawed \(one host at most 610 ms\)$/m);
    expect(out).toMatch(/^pause window: 300 ms /m);
    const commit = h.transport.calledCapsules('commit_backup')[0]!;
    expect(JSON.parse(commit.stdin!).pause).toMatchObject({ freezeMs: 650, longestHostFreezeMs: 610, durationMs: 300 });
    h.printed.length = 0;
    t = 0;
    await runCommand(h.ctx, ['check_backup']);
    expect(h.printed.join('\n')).toMatch(/freeze=0\.650s;;;0 pause=0\.300s;;;0/);
  });
});

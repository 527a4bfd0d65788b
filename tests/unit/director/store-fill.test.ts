// check_backup says how full each target's store is: a store that fills up ends every backup of
// its sources, and one source may fill it (docs/security.md).
import { afterEach, describe, expect, it } from 'vitest';
import { performBackup } from '../../../src/director/backup';
import { runCommand } from '../../../src/director/commands';
import { EXIT } from '../../../src/director/exit-codes';
import { NAGIOS, metricsText } from '../../../src/director/health';
import { InventoryError } from '../../../src/plan';
import { cleanupHarnesses, harness } from './harness';
import { testPlan } from './plan-fixture';
import { SEED, planOf } from '../plan/seed-inventory';

afterEach(cleanupHarnesses);

const GiB = 2 ** 30;

async function checkWith(usedGiB: number, freeGiB: number): Promise<{ code: number; line: string }> {
  const h = harness(testPlan());
  expect(await performBackup(h.ctx)).toBe(EXIT.OK);
  h.transport.storeUsage.set('backup-target', { usedBytes: usedGiB * GiB, freeBytes: freeGiB * GiB });
  h.printed.length = 0;
  const code = await runCommand(h.ctx, ['check_backup']);
  return { code, line: h.printed.join('\n') };
}

describe('check_backup and the store fill level', () => {
  it('is OK below the warning level and gives the level as perfdata', async () => {
    const r = await checkWith(50, 50);
    expect(r.code).toBe(NAGIOS.OK);
    expect(r.line).toMatch(/^BACKUP OK - /);
    expect(r.line).toContain('store_backup-target=50.0%;85;95;0;100');
    expect(r.line).not.toMatch(/full/);
  });

  it('warns from 85 % and names the store and what is free', async () => {
    const r = await checkWith(90, 10);
    expect(r.code).toBe(NAGIOS.WARNING);
    expect(r.line).toMatch(/^BACKUP WARNING - .*the store of backup-target is 90\.0% full \(10(\.0)? GiB free\)/);
  });

  it('is CRITICAL from 95 %, even with a fresh backup', async () => {
    const r = await checkWith(97, 3);
    expect(r.code).toBe(NAGIOS.CRITICAL);
    expect(r.line).toMatch(/the store of backup-target is 97\.0% full/);
  });

  it('a listing without the store (an older capsule) gives no verdict on it', async () => {
    const h = harness(testPlan());
    expect(await performBackup(h.ctx)).toBe(EXIT.OK);
    h.printed.length = 0;
    expect(await runCommand(h.ctx, ['check_backup'])).toBe(NAGIOS.OK);
    expect(h.printed.join('\n')).not.toContain('store_');
  });

  it('asks each store for its ids alone, and gives the bytes the manifest counts', async () => {
    // A dir store counts a backup's sizes by walking every backup it holds: after each run, for
    // the metrics, that grew with every backup kept.
    const h = harness(testPlan());
    expect(await performBackup(h.ctx)).toBe(EXIT.OK);
    h.printed.length = 0;
    expect(await runCommand(h.ctx, ['check_backup'])).toBe(NAGIOS.OK);
    const lists = h.transport.calledCapsules('list_backups');
    expect(lists.length).toBeGreaterThanOrEqual(1);
    expect(lists.map((c) => c.stdin)).toEqual(lists.map(() => 'ids\n'));
    const manifest = h.transport.backups[0]!.manifest as { sources: Array<{ bytes?: number }> };
    const bytes = manifest.sources.reduce((a, s) => a + (s.bytes ?? 0), 0);
    expect(bytes).toBeGreaterThan(0);
    expect(h.printed.join('\n')).toContain(` bytes=${bytes}B;;;0`);
  });

  it('exports used and free bytes per store as metrics', () => {
    const text = metricsText({ status: 0, text: '', perfdata: [], metrics: ['sbdi_backup_store_used_bytes{store="t"} 5', 'sbdi_backup_store_free_bytes{store="t"} 7'] }, 0);
    expect(text).toMatch(/# HELP sbdi_backup_store_used_bytes .*\n# TYPE sbdi_backup_store_used_bytes gauge\nsbdi_backup_store_used_bytes\{store="t"\} 5/);
    expect(text).toMatch(/sbdi_backup_store_free_bytes\{store="t"\} 7/);
  });

  it('the thresholds are settings; critical must lie above warning', () => {
    const with_ = (vars: string) => SEED.replace('[all:vars]\n', `[all:vars]\n${vars}\n`);
    expect(planOf(with_('backup_check_store_warning=70\nbackup_check_store_critical=80')).monitoring).toMatchObject({ storeWarningPercent: 70, storeCriticalPercent: 80 });
    expect(planOf(SEED).monitoring).toMatchObject({ storeWarningPercent: 85, storeCriticalPercent: 95 });
    expect(() => planOf(with_('backup_check_store_warning=90\nbackup_check_store_critical=90'))).toThrow(InventoryError);
    expect(() => planOf(with_('backup_check_store_warning=0'))).toThrow(InventoryError);
    expect(() => planOf(with_('backup_check_store_critical=101'))).toThrow(InventoryError);
  });
});

// The director's schedule checked by systemd itself, since the sandbox hosts run no
// systemd: every OnCalendar value the plan accepts is one systemd accepts (a value systemd ignores
// would install a timer that never fires: "Timer unit lacks value setting. Refusing."), and the
// rendered sbdi-backup.timer / .service pass `systemd-analyze verify`.
import { mkdtempSync, readFileSync, readdirSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { planFromInventory } from '../../../src/plan';
import { isOnCalendar } from '../../../src/plan/checks';
import { PLAN_FILE, renderPlan, writeRendered } from '../../../src/render';
import { run } from '../../../tools/sandbox/exec';
import { rng } from '../../../tools/util/rng';

const FIXTURE = join(__dirname, '..', '..', 'fixtures', 'inventories', 'full', 'hosts.yml');
const UNITS = 'etc/systemd/system';

async function systemdAccepts(value: string): Promise<boolean> {
  return (await run('systemd-analyze', ['calendar', value], { timeoutMs: 60_000 })).code === 0;
}

/** Calendar-looking values, in and out of range: single numbers, steps, ranges, lists. */
function calendarValues(count: number): string[] {
  const r = rng('systemd-units:20261128');
  const pick = <T,>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  // mostly in range, sometimes just past either end or far out
  const num = (hi: number) => String(r() < 0.9 ? Math.floor(r() * (hi + 1)) : pick([0, hi, hi + 1, hi * 2, 1969, 0o777]));
  const field = (hi: number): string => {
    const kinds = [() => '*', () => num(hi), () => num(hi), () => `${num(hi)}..${num(hi)}`, () => `${num(hi)}/${num(Math.ceil(hi / 4))}`, () => `${num(hi)},${num(hi)}`];
    return pick(kinds)();
  };
  const out = new Set<string>();
  while (out.size < count) {
    const time = [field(23), field(59), ...(r() < 0.5 ? [field(59)] : [])].join(':');
    const date = r() < 0.5 ? '' : `${pick(['*', '2026', '1969', '2200'])}-${field(12)}-${field(31)} `;
    const days = r() < 0.3 ? `${pick(['Mon', 'Sat,Sun', 'Mon..Fri', 'Fri..Mon'])} ` : '';
    out.add(`${days}${date}${time}`);
  }
  return [...out];
}

describe('the schedule as systemd reads it', () => {
  // SBDI_CALENDAR_CASES widens the search (3000 once found `47..47`, an empty seconds range systemd refuses).
  const cases = Number(process.env.SBDI_CALENDAR_CASES ?? 300);
  it(`every OnCalendar value the plan accepts, systemd accepts (${cases} generated values)`, async () => {
    const values = calendarValues(cases);
    const accepted = values.filter((v) => isOnCalendar(v));
    // Both sides are well represented, so the property says something.
    expect(accepted.length).toBeGreaterThan(cases / 8);
    expect(values.length - accepted.length).toBeGreaterThan(cases / 8);
    const refusedBySystemd: string[] = [];
    for (const v of accepted) if (!(await systemdAccepts(v))) refusedBySystemd.push(v);
    expect(refusedBySystemd).toEqual([]);
  }, 300_000);

  it('out-of-range values that the plan once let through are refused, and systemd refuses them too', async () => {
    for (const v of ['*-*-* 24:00', '*-*-* 23:60', '*-*-* 00:00:60', '*-13-* 00:00', '*-*-32 00:00', '*-*-00 00:00', '1969-*-* 00:00', '*:0/0', '*-*-* 3..1:00', '*-*-* 23/23:00', '*-*-1/31 00:00', '*-*-* ,1:00', '3:17:47..47']) {
      expect(isOnCalendar(v), v).toBe(false);
      expect(await systemdAccepts(v), v).toBe(false);
    }
  }, 120_000);

  it('the rendered sbdi-backup.timer and .service pass systemd-analyze verify', async () => {
    const out = mkdtempSync(join(tmpdir(), 'sbdi-units-'));
    writeRendered(renderPlan(planFromInventory(FIXTURE), '// director bundle stand-in\n'), out);
    const director = readdirSync(out).filter((h) => h !== PLAN_FILE).find((h) => existsSync(join(out, h, UNITS, 'sbdi-backup.timer')));
    expect(director, 'the full fixture enables the schedule').toBeDefined();
    const units = join(out, director!, UNITS);
    const service = readFileSync(join(units, 'sbdi-backup.service'), 'utf8');
    const exec = /^ExecStart=(\S+)$/m.exec(service)?.[1];
    expect(exec).toMatch(/^\/opt\/sbdi\/backup\/bin\/perform_backup$/);
    expect(readFileSync(join(units, 'sbdi-backup.timer'), 'utf8')).toMatch(/^Persistent=true$/m);
    // verify also checks that ExecStart is executable: a private mount namespace gets a tmpfs /opt
    // holding a stand-in, so nothing on this machine changes.
    const script = join(out, 'verify.sh');
    writeFileSync(script, `set -euo pipefail
mount -t tmpfs sbdi-verify /opt
mkdir -p "$(dirname '${exec}')"
printf '#!/bin/sh\\n' >'${exec}'
chmod 0755 '${exec}'
cd '${units}'
systemd-analyze verify --man=no ./sbdi-backup.timer ./sbdi-backup.service
`);
    const r = await run('unshare', ['-m', 'bash', script], { timeoutMs: 120_000 });
    expect(r.stdout + r.stderr).toBe('');
    expect(r.code).toBe(0);
    // and the check bites: a unit with a calendar systemd refuses fails it
    writeFileSync(join(units, 'sbdi-backup.timer'), readFileSync(join(units, 'sbdi-backup.timer'), 'utf8').replace(/^OnCalendar=.*$/m, 'OnCalendar=*-*-* 25:00'));
    const bad = await run('unshare', ['-m', 'bash', script], { timeoutMs: 120_000 });
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/Failed to parse calendar specification/);
  }, 120_000);
});

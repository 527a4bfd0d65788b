import { describe, expect, it } from 'vitest';
import { FUTURE_STOPS_PRUNING, dayOf, isoWeekOf, monthOf, selectRetention, tooManyDeletions, type RetentionCandidate } from '../../../src/director/retention';
import { backupIdAt, datedInFuture } from '../../../src/director/ids';

/** One complete backup per listed UTC time. */
const at = (...times: string[]): RetentionCandidate[] => times.map((t) => ({ id: backupIdAt(Date.parse(`${t}Z`)), complete: true }));
const kept = (decisions: { id: string; keep: boolean }[]) => decisions.filter((d) => d.keep).map((d) => d.id);
const removed = (decisions: { id: string; keep: boolean }[]) => decisions.filter((d) => !d.keep).map((d) => d.id);

/** Every 6 hours for 70 days from 2024-01-01. */
function sixHourly(): RetentionCandidate[] {
  const out: RetentionCandidate[] = [];
  for (let t = Date.UTC(2024, 0, 1, 2); t < Date.UTC(2024, 2, 11); t += 6 * 3600_000) out.push({ id: backupIdAt(t), complete: true });
  return out;
}

describe('retention selection', () => {
  it('an empty policy removes nothing', () => {
    const d = selectRetention(sixHourly(), {});
    expect(removed(d)).toEqual([]);
    expect(d[0]!.reasons).toContain('no retention policy');
  });

  it('keep_last keeps the N newest complete backups', () => {
    const c = at('2024-01-01T01:00:00', '2024-01-01T02:00:00', '2024-01-01T03:00:00', '2024-01-01T04:00:00');
    expect(kept(selectRetention(c, { keepLast: 2 }))).toEqual(['20240101_030000', '20240101_040000']);
  });

  it('keep_daily keeps the newest backup of each of the N newest days that have one', () => {
    const c = at('2024-01-01T01:00:00', '2024-01-01T23:59:59', '2024-01-03T00:00:00', '2024-01-03T12:00:00', '2024-01-04T06:00:00');
    // Days with backups: 04, 03, 01 (02 has none and is not counted).
    expect(kept(selectRetention(c, { keepDaily: 3 }))).toEqual(['20240101_235959', '20240103_120000', '20240104_060000']);
    expect(kept(selectRetention(c, { keepDaily: 2 }))).toEqual(['20240103_120000', '20240104_060000']);
  });

  it('days, ISO weeks and months are UTC buckets', () => {
    expect(dayOf(Date.UTC(2024, 0, 31, 23, 59, 59))).toBe('2024-01-31');
    expect(isoWeekOf(Date.UTC(2024, 0, 1))).toBe('2024-W01'); // a Monday
    expect(isoWeekOf(Date.UTC(2023, 0, 1))).toBe('2022-W52'); // a Sunday belongs to the previous ISO year
    expect(isoWeekOf(Date.UTC(2020, 11, 31))).toBe('2020-W53');
    expect(isoWeekOf(Date.UTC(2021, 0, 3))).toBe('2020-W53');
    expect(isoWeekOf(Date.UTC(2021, 0, 4))).toBe('2021-W01');
    expect(monthOf(Date.UTC(2024, 1, 29, 12))).toBe('2024-02');
  });

  it('keep_weekly keeps the newest backup of each ISO week, across a year boundary', () => {
    const c = at('2020-12-28T02:00:00', '2021-01-03T02:00:00', '2021-01-04T02:00:00', '2021-01-10T02:00:00', '2021-01-11T02:00:00');
    // Weeks: 2021-W02 (01-11), 2021-W01 (01-04, 01-10 → newest 01-10), 2020-W53 (12-28, 01-03 → 01-03).
    expect(kept(selectRetention(c, { keepWeekly: 3 }))).toEqual(['20210103_020000', '20210110_020000', '20210111_020000']);
  });

  it('keep_monthly keeps the newest backup of each month', () => {
    const c = at('2024-01-15T00:00:00', '2024-01-31T23:00:00', '2024-02-29T00:00:00', '2024-03-01T00:00:00', '2024-03-02T00:00:00');
    expect(kept(selectRetention(c, { keepMonthly: 2 }))).toEqual(['20240229_000000', '20240302_000000']);
  });

  it('combined rules keep the union, each backup saying why', () => {
    const d = selectRetention(sixHourly(), { keepLast: 4, keepDaily: 7, keepWeekly: 4, keepMonthly: 3 });
    const keep = kept(d);
    // 4 last (all on 2024-03-10), 7 daily (03-04..03-10, the last of them already kept), weekly W10..W07, monthly.
    expect(keep.filter((id) => id.startsWith('20240310'))).toEqual(['20240310_020000', '20240310_080000', '20240310_140000', '20240310_200000']);
    for (const day of ['04', '05', '06', '07', '08', '09']) expect(keep).toContain(`202403${day}_200000`);
    expect(keep).toContain('20240131_200000'); // monthly January
    expect(keep).toContain('20240229_200000'); // monthly February
    expect(keep).toContain('20240303_200000'); // weekly 2024-W09 (Sunday)
    expect(keep).toContain('20240225_200000'); // weekly 2024-W08
    expect(keep).toContain('20240218_200000'); // weekly 2024-W07
    // 4 last + 6 more daily + 3 more weekly + 2 more monthly.
    expect(keep.length).toBe(4 + 6 + 3 + 2);
    const newest = d.find((x) => x.id === '20240310_200000')!;
    expect(newest.reasons).toEqual(expect.arrayContaining(['newest complete', 'last', 'daily 2024-03-10', 'weekly 2024-W10', 'monthly 2024-03']));
    expect(d.filter((x) => !x.keep).every((x) => x.reasons.length === 0)).toBe(true);
  });

  it('never removes the newest complete backup, even with a policy that would', () => {
    const c = [...at('2024-01-01T00:00:00', '2024-01-02T00:00:00'), { id: '20240103_000000', complete: false }];
    // keep_monthly 1 picks the newest complete of January = 01-02; the incomplete one is not a candidate.
    const d = selectRetention(c, { keepMonthly: 1 });
    expect(kept(d)).toEqual(['20240102_000000', '20240103_000000']);
    expect(d.find((x) => x.id === '20240102_000000')!.reasons).toContain('newest complete');
  });

  it('never removes incomplete backups (an operator decides)', () => {
    const c = [{ id: '20240101_000000', complete: false }, ...at('2024-01-02T00:00:00', '2024-01-03T00:00:00', '2024-01-04T00:00:00')];
    const d = selectRetention(c, { keepLast: 1 });
    expect(kept(d)).toEqual(['20240101_000000', '20240104_000000']);
    expect(d[0]!.reasons).toEqual(['not complete: never pruned automatically']);
  });

  it('never removes the last snapshot shared with a remote', () => {
    const c = at('2024-01-01T00:00:00', '2024-01-02T00:00:00', '2024-01-03T00:00:00', '2024-01-04T00:00:00');
    const d = selectRetention(c, { keepLast: 1 }, new Map([['20240102_000000', 'shared with backup-remote']]));
    expect(kept(d)).toEqual(['20240102_000000', '20240104_000000']);
    expect(d[1]!.reasons).toEqual(['shared with backup-remote']);
    expect(removed(d)).toEqual(['20240101_000000', '20240103_000000']);
  });

  it('a protected id that is not a candidate changes nothing', () => {
    const c = at('2024-01-01T00:00:00', '2024-01-02T00:00:00');
    expect(kept(selectRetention(c, { keepLast: 1 }, new Map([['20200101_000000', 'shared with x']])))).toEqual(['20240102_000000']);
  });

  it('keeps its input order oldest first and handles no backups', () => {
    expect(selectRetention([], { keepLast: 3 })).toEqual([]);
    const c = at('2024-01-02T00:00:00', '2024-01-01T00:00:00');
    expect(selectRetention(c, { keepLast: 5 }).map((d) => d.id)).toEqual(['20240101_000000', '20240102_000000']);
  });

  it('more rules than backups keeps them all', () => {
    const c = at('2024-01-01T00:00:00', '2024-02-01T00:00:00');
    expect(removed(selectRetention(c, { keepDaily: 30, keepWeekly: 10, keepMonthly: 12 }))).toEqual([]);
  });
});

describe('retention against the store clock', () => {
  const T = (iso: string): number => Date.parse(`${iso}Z`);
  const c = (iso: string, extra: Partial<RetentionCandidate> = {}): RetentionCandidate => ({ id: backupIdAt(T(iso)), complete: true, storedAt: T(iso), ...extra });

  it('an id up to the skew ahead is genuine; beyond it, or a manifest or store time beyond it, is dated in the future', () => {
    const now = T('2026-12-04T12:00:00');
    const skew = 600_000;
    expect(datedInFuture('20261204_120959', now, skew)).toBe(false);
    expect(datedInFuture('20261204_121001', now, skew)).toBe(true);
    expect(datedInFuture('20990101_000000', now, skew)).toBe(true);
    expect(datedInFuture('20261204_110000', now, skew, [T('2026-12-04T11:00:05'), undefined])).toBe(false);
    expect(datedInFuture('20261204_110000', now, skew, [T('2027-01-01T00:00:00')])).toBe(true);
    expect(datedInFuture('20261204_110000', now, skew, [Number.NaN])).toBe(false);
  });

  it('backups dated in the future fill no slot and stop every deletion on the store', () => {
    // The reproduced case: keep_last 2, two genuine backups, two from 2099, then an honest one.
    const list = [c('2026-12-01T02:00:00'), c('2026-12-02T02:00:00'), c('2026-12-04T11:00:00'), { id: '20990101_000000', complete: true, storedAt: T('2026-12-03T00:00:00'), future: true }, { id: '20990201_000000', complete: true, storedAt: T('2026-12-03T00:00:01'), future: true }];
    const d = selectRetention(list, { keepLast: 2, keepMinimum: 1 }, new Map(), T('2026-12-04T12:00:00'));
    expect(removed(d)).toEqual([]);
    expect(d.find((x) => x.id === '20990101_000000')!.reasons).toEqual(['DATED IN THE FUTURE: fills no slot']);
    expect(d.find((x) => x.id === '20261201_020000')!.reasons).toEqual([FUTURE_STOPS_PRUNING]);
  });

  it('never fewer than keepMinimum complete backups stay, by the store\'s own time, even when their ids sort first', () => {
    // The director's clock stepped back: the backup committed last has the older id.
    const list = [c('2026-12-01T00:00:00'), c('2026-12-05T00:00:00'), { id: '20261203_000000', complete: true, storedAt: T('2026-12-06T00:00:00') }];
    const one = selectRetention(list, { keepLast: 1, keepMinimum: 1 });
    expect(kept(one).sort()).toEqual(['20261203_000000', '20261205_000000']);
    expect(one.find((x) => x.id === '20261203_000000')!.reasons).toEqual(['newest 1 stored (minimum)']);
    expect(kept(selectRetention(list, { keepLast: 1, keepMinimum: 3 }))).toHaveLength(3);
    // Without a keepMinimum the floor is still one.
    expect(kept(selectRetention(list, { keepLast: 1 }))).toContain('20261203_000000');
  });

  it('an id never counts as newer than the store got it', () => {
    // Stored at 12-02 although its id says 12-04: for keep_daily it belongs to 12-02.
    const list = [c('2026-12-01T00:00:00'), c('2026-12-02T00:00:00'), { id: '20261204_000000', complete: true, storedAt: T('2026-12-02T01:00:00') }, c('2026-12-03T00:00:00')];
    const d = selectRetention(list, { keepDaily: 2, keepMinimum: 1 });
    expect(d.find((x) => x.id === '20261204_000000')!.reasons).toContain('daily 2026-12-02');
    expect(removed(d)).toEqual(['20261201_000000', '20261202_000000']);
  });

  it('a minimum age keeps what the store got recently, and what it cannot date', () => {
    const now = T('2026-12-10T00:00:00');
    const list = [c('2026-12-01T00:00:00'), c('2026-12-02T00:00:00'), c('2026-12-05T00:00:00'), c('2026-12-09T00:00:00'), { id: '20261201_120000', complete: true }];
    const d = selectRetention(list, { keepLast: 1, keepMinimum: 1, minAgeSeconds: 7 * 86400 }, new Map(), now);
    expect(removed(d)).toEqual(['20261201_000000', '20261202_000000']);
    expect(d.find((x) => x.id === '20261205_000000')!.reasons).toEqual(['stored less than 7d ago']);
    expect(d.find((x) => x.id === '20261201_120000')!.reasons).toEqual(['time stored unknown (minimum age)']);
    // Without the store's clock nothing can be shown old enough.
    expect(removed(selectRetention(list, { keepLast: 1, minAgeSeconds: 60 }))).toEqual([]);
  });

  it('more than half of the complete backups is too many unless forced', () => {
    const list = [1, 2, 3, 4, 5, 6].map((d) => c(`2026-12-0${d}T00:00:00`));
    const d = selectRetention(list, { keepLast: 2, keepMinimum: 1 });
    expect(removed(d)).toHaveLength(4);
    expect(tooManyDeletions(list, d, false)).toMatch(/would delete 4 of its 6 complete backups \(more than half\).*prune_backups --force/);
    expect(tooManyDeletions(list, d, true)).toBeUndefined();
    const d2 = selectRetention(list, { keepLast: 3, keepMinimum: 1 });
    expect(tooManyDeletions(list, d2, false)).toBeUndefined();
  });
});

/** Backup identifiers: `YYYYMMDD_HHMMSS`, in UTC so ids sort in time order across DST changes. */
export { BACKUP_ID } from '../plan/checks';

export function backupIdAt(epochMs: number): string {
  const d = new Date(epochMs);
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${p(d.getUTCFullYear(), 4)}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}_${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}`;
}

/** The time an id names, or undefined for a malformed id. */
export function backupIdTime(id: string): number | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})_(\d{2})(\d{2})(\d{2})$/.exec(id);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s] = m.map(Number) as number[];
  const t = Date.UTC(y!, mo! - 1, d!, h!, mi!, s!);
  return backupIdAt(t) === id ? t : undefined;
}

/**
 * Whether a backup is dated after a store's clock by more than the allowed skew: its id, or any time
 * its manifest claims (director clock), or the store's own record of it. Such a backup is not
 * genuine: a clock that was set wrong made it, or someone who can write to the store.
 */
export function datedInFuture(id: string, storeNow: number, skewMs: number, otherTimes: readonly (number | undefined)[] = []): boolean {
  const limit = storeNow + skewMs;
  const t = backupIdTime(id);
  if (t !== undefined && t > limit) return true;
  return otherTimes.some((x) => typeof x === 'number' && Number.isFinite(x) && x > limit);
}

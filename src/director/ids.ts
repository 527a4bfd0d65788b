/** Backup identifiers: `YYYYMMDD_HHMMSS`, in UTC so ids sort in time order across DST changes. */
export const BACKUP_ID = /^[0-9]{8}_[0-9]{6}$/;

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

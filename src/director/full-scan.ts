/**
 * When a push compares every entry on both sides again although its base would allow sending only
 * the changes. A push of only the changes trusts the source's ctime listing (no program can set a
 * ctime) and a store set back to exactly the base; a full compare now and then bounds how long a
 * fault in either — a filesystem whose ctimes do not move as they should (zfs-fuse sources are
 * already always compared in full), a bug in the listing's comparison — can go unnoticed. restic
 * (`backup --force`) and borg (`--files-cache=disabled`) leave that re-read to the operator; the
 * a full compare of every entry every time costs ~3× the incremental on the large corpus.
 */
import type { RunRecord } from './state';

const DAY_MS = 86_400_000;

/**
 * The sources whose push this run makes a full scan, each with the reason: asked for
 * (`--full-scan`), or the newest complete backup in which the source's push compared every entry is
 * `days` or more old by the director's run records — none on record counts as due (a new director,
 * records of a version that did not note the scan). `days` 0: only when asked.
 */
export function fullScansDue(records: readonly RunRecord[], hosts: readonly string[], now: number, days: number, asked: boolean): Map<string, string> {
  const due = new Map<string, string>();
  if (asked) {
    for (const host of hosts) due.set(host, '--full-scan');
    return due;
  }
  if (days <= 0) return due;
  const last = new Map<string, RunRecord>();
  for (const r of records) {
    if (r.status !== 'complete') continue;
    for (const s of r.manifest?.sources ?? []) {
      if (s.scan !== 'full') continue;
      const seen = last.get(s.host);
      if (seen === undefined || r.startedAt > seen.startedAt) last.set(s.host, r);
    }
  }
  const setting = `backup_full_scan_days ${days}`;
  for (const host of hosts) {
    const r = last.get(host);
    if (r === undefined) due.set(host, `no full scan of it on record; ${setting}`);
    else if (now - r.startedAt >= days * DAY_MS) {
      due.set(host, `its last full scan was ${Math.floor((now - r.startedAt) / DAY_MS)} days ago, in backup ${r.id}; ${setting}`);
    }
  }
  return due;
}

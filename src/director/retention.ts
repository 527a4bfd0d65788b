/**
 * Retention: which backups a store keeps under a policy. Pure: no I/O, no clock of its own.
 *
 * Rules (the usual grandfather-father-son scheme, counted in UTC like backup ids):
 * - keepLast N: the N newest complete backups;
 * - keepDaily / keepWeekly / keepMonthly N: the newest backup of each of the N newest days /
 *   ISO weeks / months that have a complete backup;
 * - a backup counts at its id's time, but never later than the store's own record of it (commit on
 *   a target, receive on a remote): no id can claim to be newer than the store got it;
 * - whatever the policy says, these stay: the newest complete backup; the newest `keepMinimum`
 *   (at least 1) complete backups by the store's own time; every backup the store got less than
 *   `minAgeSeconds` ago; every `protected` id (the newest snapshot shared with each remote, the
 *   backup the current run took);
 * - a backup dated in the future of the store's clock (ids.ts datedInFuture) fills no slot, and
 *   while a store holds one nothing at all is removed from it: a wrong clock or a forged id must
 *   never push genuine backups out of their slots;
 * - backups that are not complete (a snapshot without a valid manifest) are never removed by
 *   retention: they are reported, and an operator decides;
 * - an empty policy removes nothing.
 */
import type { RetentionPolicy } from '../plan/types';
import { backupIdTime } from './ids';

export interface RetentionCandidate {
  id: string;
  complete: boolean;
  /** The store's own time of this backup (commit on a target, receive on a remote), epoch ms. */
  storedAt?: number;
  /** Dated after the store's clock beyond the allowed skew (ids.ts datedInFuture). */
  future?: boolean;
}

export interface RetentionDecision {
  id: string;
  keep: boolean;
  /** Why it is kept (`last`, `daily 2024-01-31`, `newest complete`, `shared with backup-remote`, ...); empty when removed. */
  reasons: string[];
}

/** The floor of a policy: never fewer than this many complete backups stay (at least 1). */
export function keepMinimumOf(p: RetentionPolicy): number {
  return Math.max(1, p.keepMinimum ?? 1);
}

export function policyIsEmpty(p: RetentionPolicy): boolean {
  return p.keepLast === undefined && p.keepDaily === undefined && p.keepWeekly === undefined && p.keepMonthly === undefined;
}

export function describePolicy(p: RetentionPolicy): string {
  const parts: string[] = [];
  if (p.keepLast !== undefined) parts.push(`last ${p.keepLast}`);
  if (p.keepDaily !== undefined) parts.push(`daily ${p.keepDaily}`);
  if (p.keepWeekly !== undefined) parts.push(`weekly ${p.keepWeekly}`);
  if (p.keepMonthly !== undefined) parts.push(`monthly ${p.keepMonthly}`);
  if (parts.length === 0) return 'keep everything (no policy)';
  const floor = [`never fewer than the newest ${keepMinimumOf(p)}`];
  if ((p.minAgeSeconds ?? 0) > 0) floor.push(`nothing younger than ${formatDays(p.minAgeSeconds!)}`);
  return `keep ${parts.join(', ')}; ${floor.join(', ')}`;
}

function formatDays(seconds: number): string {
  return seconds % 86400 === 0 ? `${seconds / 86400}d` : seconds % 3600 === 0 ? `${seconds / 3600}h` : `${seconds}s`;
}

const pad = (n: number, w = 2): string => String(n).padStart(w, '0');

export function dayOf(t: number): string {
  const d = new Date(t);
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`;
}

/** ISO 8601 week, e.g. `2024-W01` (the week of its Thursday). */
export function isoWeekOf(t: number): string {
  const d = new Date(t);
  const day = (d.getUTCDay() + 6) % 7; // Monday 0
  const thursday = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() - day + 3);
  const year = new Date(thursday).getUTCFullYear();
  const week = 1 + Math.floor((thursday - Date.UTC(year, 0, 1)) / (7 * 86400_000));
  return `${year}-W${pad(week)}`;
}

export function monthOf(t: number): string {
  const d = new Date(t);
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}`;
}

/** Why everything stays on a store that holds backups dated in the future. */
export const FUTURE_STOPS_PRUNING = 'pruning stopped: this store holds backups dated in the future';

/**
 * Decides for every candidate whether it stays. `protectedIds` maps an id to why it must stay
 * (e.g. `shared with backup-remote`); `storeNow` is the store's clock (for `minAgeSeconds`).
 * Output is in the input's id order, oldest first.
 */
export function selectRetention(
  candidates: readonly RetentionCandidate[],
  policy: RetentionPolicy,
  protectedIds: ReadonlyMap<string, string> = new Map(),
  storeNow?: number,
): RetentionDecision[] {
  const sorted = [...candidates].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const reasons = new Map<string, string[]>(sorted.map((c) => [c.id, []]));
  const add = (id: string, why: string): void => void reasons.get(id)?.push(why);
  const decide = (): RetentionDecision[] =>
    sorted.map((c) => {
      const why = [...new Set(reasons.get(c.id) ?? [])];
      return { id: c.id, keep: why.length > 0, reasons: why };
    });

  if (sorted.some((c) => c.future === true)) {
    for (const c of sorted) add(c.id, c.future === true ? 'DATED IN THE FUTURE: fills no slot' : FUTURE_STOPS_PRUNING);
    return decide();
  }
  // A backup counts at its id's time, but never after the store got it.
  const timeOf = (c: RetentionCandidate): number => Math.min(backupIdTime(c.id)!, c.storedAt ?? Number.POSITIVE_INFINITY);
  const storedOf = (c: RetentionCandidate): number => c.storedAt ?? timeOf(c);
  const byTime = (t: (c: RetentionCandidate) => number) => (a: RetentionCandidate, b: RetentionCandidate) => t(b) - t(a) || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0);
  const complete = sorted.filter((c) => c.complete && backupIdTime(c.id) !== undefined);
  const newestFirst = [...complete].sort(byTime(timeOf));

  for (const c of sorted) {
    if (!c.complete || backupIdTime(c.id) === undefined) add(c.id, 'not complete: never pruned automatically');
  }
  if (policyIsEmpty(policy)) {
    for (const c of sorted) add(c.id, 'no retention policy');
  }
  if (newestFirst[0] !== undefined) add(newestFirst[0].id, 'newest complete');
  const minimum = keepMinimumOf(policy);
  [...complete].sort(byTime(storedOf)).slice(0, minimum).forEach((c) => add(c.id, `newest ${minimum} stored (minimum)`));
  const minAgeMs = (policy.minAgeSeconds ?? 0) * 1000;
  if (minAgeMs > 0) {
    for (const c of complete) {
      if (c.storedAt === undefined || storeNow === undefined) add(c.id, 'time stored unknown (minimum age)');
      else if (storeNow - c.storedAt < minAgeMs) add(c.id, `stored less than ${formatDays(policy.minAgeSeconds!)} ago`);
    }
  }
  for (const [id, why] of protectedIds) add(id, why);

  if (policy.keepLast !== undefined) newestFirst.slice(0, policy.keepLast).forEach((c) => add(c.id, 'last'));
  const buckets = (n: number | undefined, label: string, bucketOf: (t: number) => string): void => {
    if (n === undefined) return;
    const seen = new Set<string>();
    for (const c of newestFirst) {
      if (seen.size >= n) break;
      const bucket = bucketOf(timeOf(c));
      if (seen.has(bucket)) continue;
      seen.add(bucket);
      add(c.id, `${label} ${bucket}`);
    }
  };
  buckets(policy.keepDaily, 'daily', dayOf);
  buckets(policy.keepWeekly, 'weekly', isoWeekOf);
  buckets(policy.keepMonthly, 'monthly', monthOf);
  return decide();
}

/**
 * The last guard before deleting: a run that would remove more than half of a store's complete
 * backups stops unless the operator said `--force` (a policy just tightened, or a listing that
 * lies). Returns why it stops, or undefined.
 */
export function tooManyDeletions(candidates: readonly RetentionCandidate[], decisions: readonly RetentionDecision[], force: boolean): string | undefined {
  if (force) return undefined;
  const complete = new Set(candidates.filter((c) => c.complete && c.future !== true).map((c) => c.id));
  const doomed = decisions.filter((d) => !d.keep && complete.has(d.id)).length;
  if (doomed * 2 <= complete.size) return undefined;
  return `would delete ${doomed} of its ${complete.size} complete backups (more than half): nothing deleted there; check the policy with prune_backups --dry-run, then run prune_backups --force`;
}

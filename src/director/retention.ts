/**
 * Retention: which backups a store keeps under a policy. Pure: no I/O, no clock.
 *
 * Rules (the usual grandfather-father-son scheme, counted in UTC like backup ids):
 * - keepLast N: the N newest complete backups;
 * - keepDaily / keepWeekly / keepMonthly N: the newest backup of each of the N newest days /
 *   ISO weeks / months that have a complete backup;
 * - whatever the policy says, the newest complete backup and every `protected` id (the newest
 *   snapshot shared with each remote: the base of the next incremental send) are kept;
 * - backups that are not complete (a snapshot without a valid manifest) are never removed by
 *   retention: they are reported, and an operator decides;
 * - an empty policy removes nothing.
 */
import type { RetentionPolicy } from '../plan/types';
import { backupIdTime } from './ids';

export interface RetentionCandidate {
  id: string;
  complete: boolean;
}

export interface RetentionDecision {
  id: string;
  keep: boolean;
  /** Why it is kept (`last`, `daily 2024-01-31`, `newest complete`, `shared with backup-remote`, ...); empty when removed. */
  reasons: string[];
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
  return parts.length === 0 ? 'keep everything (no policy)' : `keep ${parts.join(', ')}`;
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

/**
 * Decides for every candidate whether it stays. `protectedIds` maps an id to why it must stay
 * (e.g. `shared with backup-remote`). Output is in the input's id order, oldest first.
 */
export function selectRetention(
  candidates: readonly RetentionCandidate[],
  policy: RetentionPolicy,
  protectedIds: ReadonlyMap<string, string> = new Map(),
): RetentionDecision[] {
  const sorted = [...candidates].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const reasons = new Map<string, string[]>(sorted.map((c) => [c.id, []]));
  const add = (id: string, why: string): void => void reasons.get(id)?.push(why);

  const complete = sorted.filter((c) => c.complete && backupIdTime(c.id) !== undefined);
  const newestFirst = [...complete].reverse();

  for (const c of sorted) {
    if (!c.complete || backupIdTime(c.id) === undefined) add(c.id, 'not complete: never pruned automatically');
  }
  if (policyIsEmpty(policy)) {
    for (const c of sorted) add(c.id, 'no retention policy');
  }
  if (newestFirst[0] !== undefined) add(newestFirst[0].id, 'newest complete');
  for (const [id, why] of protectedIds) add(id, why);

  if (policy.keepLast !== undefined) newestFirst.slice(0, policy.keepLast).forEach((c) => add(c.id, 'last'));
  const buckets = (n: number | undefined, label: string, bucketOf: (t: number) => string): void => {
    if (n === undefined) return;
    const seen = new Set<string>();
    for (const c of newestFirst) {
      if (seen.size >= n) break;
      const bucket = bucketOf(backupIdTime(c.id)!);
      if (seen.has(bucket)) continue;
      seen.add(bucket);
      add(c.id, `${label} ${bucket}`);
    }
  };
  buckets(policy.keepDaily, 'daily', dayOf);
  buckets(policy.keepWeekly, 'weekly', isoWeekOf);
  buckets(policy.keepMonthly, 'monthly', monthOf);

  return sorted.map((c) => {
    const why = [...new Set(reasons.get(c.id) ?? [])];
    return { id: c.id, keep: why.length > 0, reasons: why };
  });
}

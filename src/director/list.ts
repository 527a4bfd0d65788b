/**
 * list_backups: the target's committed backups (its list_backups capsule) merged with the
 * failed runs only the director knows about. Only a committed backup whose manifest says
 * `complete` is restorable; a failed run is shown so the operator sees it, never offered.
 */
import type { CapsuleResult } from '../ssh/types';
import { runCapsule } from './capsule';
import type { Context } from './context';
import { DirectorError, asDirectorError } from './errors';
import { EXIT, type ExitCode } from './exit-codes';
import { formatAge, formatBytes, renderTable } from './format';
import { BACKUP_ID, backupIdTime, datedInFuture } from './ids';
import type { Manifest } from './manifest';
import { pidAlive } from './lock';
import { connectAll, runOnHosts, throwIfFailed } from './phase';
import { targetHosts } from '../plan/lookup';
import type { RunRecord } from './state';

/** How one target holds a backup: `unknown` when that target could not be listed. */
export type PartState = 'complete' | 'incomplete' | 'missing' | 'unknown';
export interface TargetPart {
  host: string;
  state: PartState;
}

export interface TargetBackup {
  id: string;
  /** What the backup alone holds on disk: freed by deleting it (0 for the newest on ZFS). */
  usedBytes?: number;
  /** What the backup references on disk, shared with other backups included: its size. */
  referencedBytes?: number;
  compressRatio?: number;
  manifest?: Partial<Manifest>;
  /** Merged over several targets: complete on every target holding its sources (isComplete reads it). */
  complete?: boolean;
  /** Merged: the state on each target it needs (and any other target holding it). */
  parts?: TargetPart[];
  /** The target's own time of the commit (its manifest file's mtime), epoch ms. */
  storedAt?: number;
  /** Dated after the target's clock (its id, its manifest's times, or its commit): not genuine. */
  future?: boolean;
}

export type BackupStatus = 'complete' | 'incomplete' | 'failed' | 'running';

export interface BackupEntry {
  id: string;
  status: BackupStatus;
  restorable: boolean;
  usedBytes?: number;
  referencedBytes?: number;
  compressRatio?: number;
  ageMs?: number;
  failedPhase?: string;
  error?: string;
  manifest?: Partial<Manifest>;
  /** Per-target state, shown where the targets disagree. */
  parts?: TargetPart[];
  /** Dated after the target's clock: never restored as the latest, never counted by retention. */
  future?: boolean;
}

/** The store's clock from a listing capsule's result (`now`, epoch ms), else the fallback. */
/** How full a store is, as its list capsule says (bytes in use and still free). */
export interface StoreUsage {
  usedBytes: number;
  freeBytes: number;
}

/** The `store` field of a listing, or undefined when it is missing or malformed. */
export function storeUsage(result: CapsuleResult): StoreUsage | undefined {
  const s = result.store as { usedBytes?: unknown; freeBytes?: unknown } | undefined;
  const used = finite(s?.usedBytes);
  const free = finite(s?.freeBytes);
  return used !== undefined && free !== undefined && used >= 0 && free >= 0 ? { usedBytes: used, freeBytes: free } : undefined;
}

export function storeClock(result: CapsuleResult, fallback: number): number {
  return typeof result.now === 'number' && Number.isFinite(result.now) ? result.now : fallback;
}

/** A number from a capsule's result, or undefined when it is none (or not finite). */
export const finite = (x: unknown): number | undefined => (typeof x === 'number' && Number.isFinite(x) ? x : undefined);

/**
 * Reads the capsule's `backups` field defensively: a malformed entry is dropped, not trusted. Each
 * backup is judged against the target's own clock (`now` in the result; `directorNow` when the
 * capsule gave none): one dated later than it by more than `skewMs` is marked `future`.
 */
export function parseTargetBackups(result: CapsuleResult, skewMs: number, directorNow: number): TargetBackup[] {
  const list = Array.isArray(result.backups) ? (result.backups as unknown[]) : [];
  const now = storeClock(result, directorNow);
  const out: TargetBackup[] = [];
  for (const item of list) {
    if (item === null || typeof item !== 'object') continue;
    const b = item as Record<string, unknown>;
    if (typeof b.id !== 'string' || !BACKUP_ID.test(b.id)) continue;
    const manifest = b.manifest !== null && typeof b.manifest === 'object' ? (b.manifest as Partial<Manifest>) : undefined;
    const storedAt = finite(b.storedAt);
    out.push({
      id: b.id,
      usedBytes: typeof b.usedBytes === 'number' ? b.usedBytes : undefined,
      referencedBytes: finite(b.referencedBytes),
      compressRatio: typeof b.compressRatio === 'number' ? b.compressRatio : undefined,
      manifest,
      ...(storedAt === undefined ? {} : { storedAt }),
      ...(datedInFuture(b.id, now, skewMs, [finite(manifest?.startedAt), finite(manifest?.createdAt), storedAt]) ? { future: true } : {}),
    });
  }
  return out;
}

/** Complete = committed with a manifest that names this id and says complete (merged: on every target it needs). */
export function isComplete(b: TargetBackup): boolean {
  return b.complete ?? (b.manifest?.status === 'complete' && b.manifest.id === b.id);
}

/**
 * The targets a backup must be complete on: those its manifest puts sources on (or lists), an
 * older one-target manifest's target, else wherever it was found.
 */
export function requiredTargets(manifest: Partial<Manifest> | undefined, present: readonly string[]): string[] {
  const fromSources = (manifest?.sources ?? []).map((s) => s.target).filter((t): t is string => typeof t === 'string');
  if (fromSources.length > 0) return [...new Set(fromSources)].sort();
  const listed = (manifest?.targets ?? []).map((t) => t.host).filter((t): t is string => typeof t === 'string');
  if (listed.length > 0) return [...new Set(listed)].sort();
  const legacy = (manifest as { target?: { host?: unknown } } | undefined)?.target?.host;
  if (typeof legacy === 'string') return [legacy];
  return [...present].sort();
}

/**
 * One backup id spans every target: merges each target's listing by id. A backup is complete only
 * when it is complete on every target its sources landed on (`required` overrides which, e.g. for
 * foreign stores whose manifests name another deployment's hosts). A target missing from
 * `listings` could not be listed: its part is `unknown`, which is not complete.
 */
export function mergeTargetListings(
  listings: ReadonlyMap<string, TargetBackup[]>,
  allTargets: readonly string[],
  required: (manifest: Partial<Manifest> | undefined, present: string[]) => string[] = requiredTargets,
): TargetBackup[] {
  const byId = new Map<string, Map<string, TargetBackup>>();
  for (const [host, list] of listings) {
    for (const b of list) {
      if (!byId.has(b.id)) byId.set(b.id, new Map());
      byId.get(b.id)!.set(host, b);
    }
  }
  const merged: TargetBackup[] = [];
  for (const [id, held] of byId) {
    const present = [...held.keys()].sort();
    const manifest = present.map((h) => held.get(h)!).find(isComplete)?.manifest ?? present.map((h) => held.get(h)!.manifest).find((m) => m !== undefined);
    const needed = required(manifest, present);
    const hosts = [...new Set([...needed, ...present])].filter((h) => allTargets.includes(h) || present.includes(h)).sort();
    const parts: TargetPart[] = hosts.map((host) => {
      const b = held.get(host);
      if (b !== undefined) return { host, state: isComplete(b) ? 'complete' : 'incomplete' };
      return { host, state: listings.has(host) ? 'missing' : 'unknown' };
    });
    const complete = needed.length > 0 && needed.every((h) => parts.find((p) => p.host === h)?.state === 'complete');
    const sizes = present.map((h) => held.get(h)!);
    const used = sizes.every((b) => b.usedBytes !== undefined) ? sizes.reduce((a, b) => a + b.usedBytes!, 0) : undefined;
    const referenced = sizes.every((b) => b.referencedBytes !== undefined) ? sizes.reduce((a, b) => a + b.referencedBytes!, 0) : undefined;
    const ratio =
      sizes.length === 1
        ? sizes[0]!.compressRatio
        : used !== undefined && used > 0 && sizes.every((b) => b.compressRatio !== undefined)
          ? sizes.reduce((a, b) => a + b.usedBytes! * b.compressRatio!, 0) / used
          : undefined;
    const future = sizes.some((b) => b.future === true);
    const stored = sizes.map((b) => b.storedAt).filter((t): t is number => t !== undefined);
    merged.push({ id, usedBytes: used, referencedBytes: referenced, compressRatio: ratio, manifest, complete, parts, ...(stored.length > 0 ? { storedAt: Math.max(...stored) } : {}), ...(future ? { future } : {}) });
  }
  return merged.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/**
 * Per target, the ids of the parts complete there whose backup is not complete on every target (a
 * commit that failed elsewhere, not discarded yet): they fill no keep slot and are never replicated.
 */
export function incompleteParts(merged: readonly TargetBackup[]): Map<string, Set<string>> {
  const held = new Map<string, Set<string>>();
  for (const b of merged) {
    if (isComplete(b)) continue;
    for (const p of b.parts ?? []) if (p.state === 'complete') held.set(p.host, (held.get(p.host) ?? new Set<string>()).add(b.id));
  }
  return held;
}

/** `alive` tells a live run from one whose director died (shown as failed before any cleanup). */
export function mergeBackups(target: TargetBackup[], runs: RunRecord[], now: number, alive: (pid: number) => boolean = pidAlive): BackupEntry[] {
  const entries = new Map<string, BackupEntry>();
  for (const r of runs) {
    // Complete runs are listed from the target (the truth: it may have pruned them).
    if (r.status === 'complete') continue;
    const died = r.status === 'running' && !alive(r.pid);
    entries.set(r.id, {
      id: r.id,
      status: died ? 'failed' : r.status,
      restorable: false,
      failedPhase: r.failedPhase ?? (r.status === 'running' ? r.phase : undefined),
      error: died ? `interrupted: the director stopped during ${r.phase}` : r.error,
    });
  }
  for (const b of target) {
    const complete = isComplete(b);
    entries.set(b.id, {
      id: b.id,
      status: complete ? 'complete' : 'incomplete',
      restorable: complete,
      usedBytes: b.usedBytes,
      referencedBytes: b.referencedBytes,
      compressRatio: b.compressRatio,
      manifest: b.manifest,
      ...(b.parts === undefined ? {} : { parts: b.parts }),
      ...(b.future === true ? { future: true } : {}),
    });
  }
  return [...entries.values()]
    .map((e) => {
      const t = backupIdTime(e.id);
      return t === undefined ? e : { ...e, ageMs: now - t };
    })
    .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/**
 * Asks each (connected) target for its own backups; the listings of those that answered, and the
 * failures. `sizes: false` leaves each backup's sizes out, which a dir store counts by walking
 * every backup: for the callers that need only which backups there are.
 */
export async function fetchListings(
  ctx: Context,
  phase: string,
  exitCode: ExitCode,
  hosts: readonly string[] = targetHosts(ctx.plan),
  { sizes = true }: { sizes?: boolean } = {},
): Promise<{ listings: Map<string, TargetBackup[]>; clocks: Map<string, number>; stores: Map<string, StoreUsage>; failures: DirectorError[] }> {
  const parse = (r: CapsuleResult): TargetBackup[] => parseTargetBackups(r, ctx.plan.settings.clockSkewSeconds * 1000, ctx.now());
  const outcome = await runOnHosts(ctx, hosts, { phase, exitCode, summarize: (r: CapsuleResult) => ({ detail: `${parse(r).length} backups` }) }, (host) =>
    runCapsule(ctx, { phase, exitCode, host, capsule: 'list_backups' }, { signal: ctx.interrupt, ...(sizes ? {} : { stdin: 'ids\n' }) }),
  );
  const listings = new Map<string, TargetBackup[]>();
  const clocks = new Map<string, number>();
  const stores = new Map<string, StoreUsage>();
  for (const [host, r] of outcome.values) {
    listings.set(host, parse(r));
    clocks.set(host, storeClock(r, ctx.now()));
    const usage = storeUsage(r);
    if (usage !== undefined) stores.set(host, usage);
  }
  return { listings, clocks, stores, failures: outcome.failures };
}

/** Every target's backups merged by id (one backup spans all targets), without their sizes; throws when a target cannot be listed. */
export async function fetchTargetBackups(ctx: Context, phase: string, exitCode: ExitCode): Promise<TargetBackup[]> {
  const { listings, failures } = await fetchListings(ctx, phase, exitCode, targetHosts(ctx.plan), { sizes: false });
  throwIfFailed({ phase, exitCode }, { values: listings, failures, skipped: [] });
  return mergeTargetListings(listings, targetHosts(ctx.plan));
}

/** What an operator is told about backups dated after a store's clock, wherever they show. */
export function futureWarning(ids: readonly string[], store?: string): string {
  return `${store === undefined ? '' : `${store} holds `}${ids.length === 1 ? 'a backup' : `${ids.length} backups`} dated in the future of ${store === undefined ? 'its store' : 'its'} clock (${ids.join(', ')}): ${ids.length === 1 ? 'it is' : 'they are'} never taken as the latest nor counted by retention, and nothing is pruned there until ${ids.length === 1 ? 'it is' : 'they are'} removed (prune_backups --delete-future, after checking them); see docs/operations.md "Backups dated in the future"`;
}

/** `a: complete, b: missing` when the targets disagree about a backup, else undefined. */
export function partsText(parts: readonly TargetPart[] | undefined): string | undefined {
  if (parts === undefined || parts.length < 2 || parts.every((p) => p.state === parts[0]!.state)) return undefined;
  return parts.map((p) => `${p.host}: ${p.state}`).join(', ');
}

function statusText(e: BackupEntry): string {
  if (e.future === true) return `${e.status}, DATED IN THE FUTURE`;
  if (e.status === 'failed') return `failed (${e.failedPhase ?? '?'})`;
  if (e.status === 'running') return `running (${e.failedPhase ?? '?'})`;
  const parts = partsText(e.parts);
  return parts === undefined ? e.status : `${e.status} (${parts})`;
}

export function backupsTable(entries: BackupEntry[]): string {
  const rows = entries.map((e) => [
    e.id,
    statusText(e),
    formatBytes(e.referencedBytes),
    formatBytes(e.usedBytes),
    formatAge(e.ageMs),
    e.compressRatio === undefined ? '-' : `${e.compressRatio.toFixed(2)}x`,
    e.restorable ? 'yes' : 'no',
  ]);
  // SIZE: what the backup references on disk; ONLY IT: what deleting it would free.
  return renderTable(['ID', 'STATUS', 'SIZE', 'ONLY IT', 'AGE', 'RATIO', 'RESTORABLE'], rows, [2, 3, 4, 5]);
}

export async function listBackups(ctx: Context, options: { json: boolean }): Promise<number> {
  let target: TargetBackup[] = [];
  let failure: DirectorError | undefined;
  const hosts = targetHosts(ctx.plan);
  // Each target is reached on its own: one unreachable target leaves the others' backups listed
  // (its parts `unknown`, so nothing it holds shows as complete).
  const reachable: string[] = [];
  for (const host of hosts) {
    try {
      await connectAll(ctx, [host], EXIT.CONNECT);
      reachable.push(host);
    } catch (e) {
      failure ??= asDirectorError(e, 'list');
    }
  }
  const { listings, failures } = await fetchListings(ctx, 'list', EXIT.LIST, reachable);
  failure ??= failures[0];
  if (failure !== undefined) {
    const missing = hosts.filter((h) => !listings.has(h));
    ctx.report.error('list', `cannot list the backups of ${missing.join(', ')}${listings.size === 0 ? ' (showing local runs only)' : ' (their parts are unknown: nothing they hold shows as complete)'}: ${failure.message}`);
  }
  target = mergeTargetListings(listings, hosts);
  const entries = mergeBackups(target, ctx.state.runs(), ctx.now(), ctx.alive);
  const future = entries.filter((e) => e.future === true).map((e) => e.id);
  if (future.length > 0) ctx.report.warn('list', futureWarning(future));
  if (options.json) ctx.print(JSON.stringify(entries, null, 2));
  else ctx.print(entries.length === 0 ? 'no backups' : backupsTable(entries));
  return failure?.exitCode ?? EXIT.OK;
}

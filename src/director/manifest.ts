/**
 * The manifest committed with every backup (sent on stdin to `commit_backup`, after its go). It is the
 * backup's proof of consistency: every source's snapshot time lies inside the window in which
 * all containers on all docker hosts were paused.
 */
import { createHash } from 'node:crypto';
import type { Plan, SourceBackend } from '../plan/types';

/** JSON with object keys sorted at every level, no whitespace: equal plans give equal text. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map((v) => canonicalJson(v === undefined ? null : v)).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

export function planDigest(plan: Plan): string {
  return `sha256:${createHash('sha256').update(canonicalJson(plan)).digest('hex')}`;
}

export interface PauseHostRecord {
  host: string;
  paused?: number;
  armedAt?: number;
  /** Host clock, epoch ms: just before its first container was frozen. */
  pauseStartedAt?: number;
  /** Host clock, epoch ms: all containers of this host paused. */
  pausedAt?: number;
  /** Host clock, epoch ms: containers unpaused (director's request time if the capsule did not say). */
  unpausedAt?: number;
  watchdogFired?: boolean;
}

export interface PauseWindow {
  /** Latest pausedAt of any docker host: from here on every container everywhere was paused. */
  start: number;
  /** Earliest unpausedAt of any docker host: until here every container everywhere was paused. */
  end: number;
  durationMs: number;
  /**
   * What the platform feels: from the first container frozen anywhere to the last one thawed
   * anywhere (the hosts' pauseStartedAt and unpausedAt). durationMs above is only the
   * consistency window, when every container everywhere was frozen at once.
   */
  freezeMs?: number;
  /** The longest any one host's containers were frozen (its pauseStartedAt to its unpausedAt). */
  longestHostFreezeMs?: number;
  deadlineSeconds: number;
  /** Director clock: pausing ordered / unpausing ordered. */
  requestedAt: number;
  unpauseRequestedAt: number;
  hosts: PauseHostRecord[];
}

export interface SourceRecord {
  host: string;
  /** The target this source's tree lies on. */
  target: string;
  treeName: string;
  backend: SourceBackend;
  snapshotStartedAt?: number;
  snapshotAt: number;
  bytes?: number;
  files?: number;
  transferredBytes?: number;
  syncSeconds?: number;
  syncDurationMs?: number;
  /** Exit status of perform_rsync (0: synced). */
  exitStatus: number;
  rsyncExit?: number;
  /**
   * How the push found what to send: 'full' compared every entry on both sides, 'changes' sent
   * only the entries that differ from the base backup's listing (`base`, `changedEntries` of them).
   */
  scan?: 'full' | 'changes';
  base?: string;
  changedEntries?: number;
}

export interface Manifest {
  schema: 1;
  id: string;
  status: 'complete';
  planDigest: string;
  application: string;
  deploymentPrefix: string;
  director: string;
  /**
   * Every target of the backup (the same manifest is committed on each): the backup is complete
   * only when each target holding sources committed it.
   */
  targets: { host: string; backend: string }[];
  startedAt: number;
  /** Director clock when every source had synced and the manifest was written. */
  createdAt: number;
  pause: PauseWindow;
  /** True when every snapshotAt lies in [pause.start, pause.end]; false hints at clock skew. */
  snapshotsInsidePauseWindow: boolean;
  sources: SourceRecord[];
}

/** The window in which everything was paused; with no docker host, the director's own times. */
export function pauseWindow(
  hosts: PauseHostRecord[],
  requestedAt: number,
  unpauseRequestedAt: number,
  deadlineSeconds: number,
): PauseWindow {
  const starts = hosts.map((h) => h.pausedAt ?? requestedAt);
  const ends = hosts.map((h) => h.unpausedAt ?? unpauseRequestedAt);
  const start = starts.length ? Math.max(...starts) : requestedAt;
  const end = ends.length ? Math.min(...ends) : unpauseRequestedAt;
  // Hosts that froze something: from before their first freeze to after their thaw.
  const frozen = hosts.filter((h) => (h.paused ?? 1) > 0).map((h) => ({ from: h.pauseStartedAt ?? h.armedAt ?? h.pausedAt ?? requestedAt, to: h.unpausedAt ?? unpauseRequestedAt }));
  const freeze = frozen.length ? { freezeMs: Math.max(...frozen.map((f) => f.to)) - Math.min(...frozen.map((f) => f.from)), longestHostFreezeMs: Math.max(...frozen.map((f) => f.to - f.from)) } : {};
  return { start, end, durationMs: end - start, ...freeze, deadlineSeconds, requestedAt, unpauseRequestedAt, hosts };
}

export function snapshotsInside(window: PauseWindow, sources: Array<{ snapshotAt: number }>): boolean {
  return sources.every((s) => s.snapshotAt >= window.start && s.snapshotAt <= window.end);
}

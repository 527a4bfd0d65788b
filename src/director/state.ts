/**
 * The director's local state, under the operator's home: the lock and one record per backup
 * run. A record is rewritten at every phase change (atomically: write + rename), so after a
 * crash it says how far the run got, whether a pause may still be in force, and it lets
 * list_backups show failed runs (which never exist on the target).
 */
import { mkdirSync, readFileSync, readdirSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import type { PhaseRecord } from './reporter';
import type { Manifest } from './manifest';
import { BACKUP_ID } from './ids';

/** `~/.local/state/sbdi-backup` from the passwd entry, not $HOME: cron and `su -` must agree on one lock. */
export function defaultStateDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.SBDI_STATE_DIR ?? join(userInfo().homedir, '.local', 'state', 'sbdi-backup');
}

export type RunStatus = 'running' | 'failed' | 'complete';

export interface RunRecord {
  id: string;
  command: 'perform_backup';
  pid: number;
  director: string;
  status: RunStatus;
  /** The phase in progress, or the last one reached. */
  phase: string;
  startedAt: number;
  endedAt?: number;
  /** Set before the first pause_containers and cleared once every docker host unpaused. */
  pauseInProgress: boolean;
  /** Source snapshots may exist (set before prepare, cleared once all were removed). */
  snapshotsMayExist: boolean;
  failedPhase?: string;
  exitCode?: number;
  error?: string;
  phases: PhaseRecord[];
  manifest?: Manifest;
  /**
   * Several targets: the targets that may hold a part of this backup while it is not known to be
   * complete on all of them (set before the commit; cleared once every target committed or every
   * part was discarded). The next run's cleanup finishes what this one could not.
   */
  commitTargets?: string[];
}

export class StateStore {
  constructor(readonly dir: string) {}

  get runsDir(): string {
    return join(this.dir, 'runs');
  }

  get lockPath(): string {
    return join(this.dir, 'lock');
  }

  ensure(): void {
    mkdirSync(this.runsDir, { recursive: true, mode: 0o700 });
  }

  runPath(id: string): string {
    if (!BACKUP_ID.test(id)) throw new Error(`not a backup id: ${id}`);
    return join(this.runsDir, `${id}.json`);
  }

  saveRun(record: RunRecord): void {
    this.ensure();
    const path = this.runPath(record.id);
    const tmp = `${path}.${process.pid}.tmp`;
    writeFileSync(tmp, `${JSON.stringify(record, null, 2)}\n`, { mode: 0o600 });
    renameSync(tmp, path);
  }

  hasRun(id: string): boolean {
    try {
      readFileSync(this.runPath(id));
      return true;
    } catch {
      return false;
    }
  }

  /** Deletes the record of run `id` (gone already: nothing to do). */
  forgetRun(id: string): void {
    try {
      unlinkSync(this.runPath(id));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
  }

  /** Every readable run record, oldest first. Unreadable files are skipped: state must never block a backup. */
  runs(): RunRecord[] {
    let names: string[];
    try {
      names = readdirSync(this.runsDir);
    } catch {
      return [];
    }
    const records: RunRecord[] = [];
    for (const name of names.sort()) {
      if (!name.endsWith('.json') || !BACKUP_ID.test(name.slice(0, -'.json'.length))) continue;
      try {
        const value = JSON.parse(readFileSync(join(this.runsDir, name), 'utf8')) as RunRecord;
        if (value && typeof value.id === 'string' && typeof value.status === 'string') records.push(value);
      } catch {
        // a half-written or foreign file: ignore
      }
    }
    return records;
  }
}

/**
 * Whether a later run must still settle what this one may have left: a pause, source snapshots, a
 * commit on some targets only (recovery.ts).
 */
export function unsettled(r: RunRecord): boolean {
  return r.status === 'running' || r.pauseInProgress || r.snapshotsMayExist || (r.commitTargets?.length ?? 0) > 0;
}

/** How many of the newest run records are kept whatever they say (runsToForget). */
export const RUNS_KEPT = 100;

/**
 * The runs whose records may go: all but the newest `kept`, every unsettled run, and for each source the
 * newest complete run that compared its every entry (backup_full_scan_days counts from that
 * one). Every run reads every record kept: without a bound, a director taking a backup an hour
 * would read ~9 000 records (~60 MB) at each start after a year.
 */
export function runsToForget(records: readonly RunRecord[], kept = RUNS_KEPT): string[] {
  const sorted = [...records].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const keep = new Set(sorted.slice(-kept).map((r) => r.id));
  const lastFullScan = new Map<string, string>();
  for (const r of sorted) {
    if (unsettled(r)) keep.add(r.id);
    if (r.status !== 'complete') continue;
    for (const s of r.manifest?.sources ?? []) if (s.scan === 'full') lastFullScan.set(s.host, r.id);
  }
  for (const id of lastFullScan.values()) keep.add(id);
  return sorted.filter((r) => !keep.has(r.id)).map((r) => r.id);
}

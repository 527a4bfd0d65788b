/**
 * A scripted Transport: answers every capsule like the real ones would (result fields as in
 * docs/ARCHITECTURE.md §4) and lets a test replace any answer by a failure, a hang, an
 * unreachable host or a fired watchdog. It keeps a log of calls with start and end order.
 */
import { backupIdTime } from '../../../src/director/ids';
import { TransportError, type CapsuleResult, type ExecOptions, type ExecResult, type Transport } from '../../../src/ssh/types';

export interface FakeCall {
  seq: number;
  host: string;
  capsule: string;
  arg?: string;
  stdin?: string;
  /** Position in the global event order when the call started / ended. */
  start: number;
  end?: number;
  outcome?: 'ok' | 'failed' | 'aborted' | 'error' | 'calledOff';
  /** For a session opened ahead (ExecOptions.release): when it was opened; `start` is its go. */
  openedAt?: number;
  /** commit_backup's backup id: its argument, or for a gated commit, its manifest's. */
  id?: string;
}

/** What a scripted capsule does. */
export type Answer =
  | { code?: number; result?: Record<string, unknown> | null; stderr?: string; delayMs?: number; marks?: string[] }
  | 'hang'
  | Error;
export type Script = (call: FakeCall) => Answer | undefined | Promise<Answer | undefined>;

export interface StoredBackup {
  id: string;
  usedBytes?: number;
  referencedBytes?: number;
  compressRatio?: number;
  manifest: Record<string, unknown> | null;
  /** The store's own time of the commit (or receive), epoch ms. */
  storedAt?: number;
}

export class FakeTransport implements Transport {
  readonly calls: FakeCall[] = [];
  readonly connects: string[] = [];
  readonly unreachable = new Set<string>();
  readonly dockerRunning = new Set<string>();
  /** `host capsule` pairs whose channel cannot be opened (the exec fails at once). */
  readonly unopenable = new Set<string>();
  /** `host capsule` pairs whose session opened ahead does not end when called off (a connection gone quiet). */
  readonly deafToOff = new Set<string>();
  /** backup-target's committed backups (commit_backup adds to it, list_backups reads it). */
  readonly backups: StoredBackup[] = [];
  /** Every target's committed backups, by host (backup-target's is `backups`). */
  private readonly stores = new Map<string, StoredBackup[]>([['backup-target', this.backups]]);
  /** Off-site remotes' replicas, by host (list_replicas reads them, delete_replica removes). */
  readonly replicas = new Map<string, StoredBackup[]>();
  /** A store's clock, by host: list_backups / list_replicas report it as `now` (unset: none reported). */
  readonly clocks = new Map<string, () => number>();
  /** How full a target's store is, by host: list_backups reports it as `store` (unset: none reported). */
  readonly storeUsage = new Map<string, { usedBytes: number; freeBytes: number }>();
  closed = false;
  private events = 0;
  private readonly connected = new Set<string>();
  private readonly scripts: Array<{ capsule: string; host?: string; script: Script }> = [];

  /** Scripts a capsule (on one host, or all); later scripts win; returning undefined falls through. */
  on(capsule: string, answer: Answer | Script, host?: string): this {
    const script: Script = typeof answer === 'function' ? answer : () => answer;
    this.scripts.unshift({ capsule, host, script });
    return this;
  }

  fail(capsule: string, host?: string, error = `${capsule} failed on purpose`, code = 7): this {
    return this.on(capsule, { code, result: { ok: false, code, error } }, host);
  }

  /** The committed backups of one target. */
  store(host: string): StoredBackup[] {
    if (!this.stores.has(host)) this.stores.set(host, []);
    return this.stores.get(host)!;
  }

  /** The calls that acted (a session opened ahead and called off did nothing: not listed). */
  calledCapsules(capsule?: string): FakeCall[] {
    const acted = this.calls.filter((c) => c.outcome !== 'calledOff');
    return capsule === undefined ? acted : acted.filter((c) => c.capsule === capsule);
  }

  async connect(host: string): Promise<void> {
    this.connects.push(host);
    await Promise.resolve();
    if (this.unreachable.has(host)) throw new TransportError(host, 'unreachable', `${host}:22: connect ECONNREFUSED`);
    this.connected.add(host);
  }

  async exec(host: string, capsule: string, arg?: string, options: ExecOptions = {}): Promise<ExecResult> {
    if (!this.connected.has(host)) throw new TransportError(host, 'not-connected', `not connected (exec ${capsule})`);
    const call: FakeCall = { seq: this.calls.length, host, capsule, arg, stdin: options.stdin?.toString(), start: this.events++, ...(capsule === 'commit_backup' && arg !== 'gated' ? { id: arg } : {}) };
    this.calls.push(call);
    // Let every parallel call start before any answers, as over a network.
    await new Promise((r) => setImmediate(r));
    if (this.unopenable.has(`${host} ${capsule}`)) {
      call.end = this.events++;
      call.outcome = 'error';
      throw new TransportError(host, 'channel', `${capsule}: open failed: administratively prohibited`);
    }
    if (options.release !== undefined) {
      // A session opened ahead (sbdi_gate): ready at once, acting only from its go, which is
      // when it counts as started; called off, it ends having done nothing.
      call.openedAt = call.start;
      options.onMark?.('ready');
      // As over ssh: the call's signal aborts a session also while it waits for its go.
      const aborted = new Promise<'aborted'>((resolve) => {
        if (options.signal?.aborted) resolve('aborted');
        else options.signal?.addEventListener('abort', () => resolve('aborted'), { once: true });
      });
      const go = await Promise.race([options.release.catch(() => false), aborted]);
      if (go === 'aborted') {
        // The director sees an aborted call; the capsule reads end-of-file and does nothing.
        call.end = this.events++;
        call.outcome = 'calledOff';
        throw new TransportError(host, 'aborted', `${capsule}: aborted`);
      }
      if (!go && this.deafToOff.has(`${host} ${capsule}`)) await new Promise(() => undefined);
      if (!go) {
        call.end = this.events++;
        call.outcome = 'calledOff';
        const result = { ok: true, calledOff: true };
        return { code: 0, stdout: `SBDI-RESULT ${JSON.stringify(result)}\n`, stderr: '', result };
      }
      call.start = this.events++;
      // A go may carry the capsule's input (commit_backup's manifest); a gated commit takes its id from it.
      if (typeof go === 'object') call.stdin = go.stdin.toString();
      if (capsule === 'commit_backup' && arg === 'gated') call.id = arg = (JSON.parse(call.stdin ?? '{}') as { id?: string }).id;
      await new Promise((r) => setImmediate(r));
    }
    let answer: Answer | undefined;
    for (const s of this.scripts) {
      if (s.capsule !== capsule || (s.host !== undefined && s.host !== host)) continue;
      answer = await s.script(call);
      if (answer !== undefined) break;
    }
    answer ??= { result: this.defaultResult(host, capsule, arg, call.stdin) };
    const done = (outcome: FakeCall['outcome']) => {
      call.end = this.events++;
      call.outcome = outcome;
    };
    if (answer === 'hang') {
      return new Promise<ExecResult>((_, reject) => {
        const abort = () => {
          done('aborted');
          reject(new TransportError(host, 'aborted', `${capsule}: aborted`));
        };
        if (options.signal?.aborted) abort();
        else options.signal?.addEventListener('abort', abort, { once: true });
      });
    }
    if (answer instanceof Error) {
      done('error');
      throw answer;
    }
    // A pause that succeeds says so (SBDI-MARK frozen) as the real capsule does, unless the script
    // gives its own marks.
    const marks = answer.marks ?? (capsule === 'pause_containers' && (answer.code ?? 0) === 0 && answer.result !== null && answer.result?.ok !== false && answer.result?.calledOff !== true ? ['go', 'frozen'] : []);
    for (const mark of marks) options.onMark?.(mark);
    if (answer.delayMs) {
      const signal = options.signal;
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(resolve, answer.delayMs);
        signal?.addEventListener('abort', () => {
          clearTimeout(timer);
          reject(new TransportError(host, 'aborted', `${capsule}: aborted`));
        });
      }).catch((e) => {
        done('aborted');
        throw e;
      });
    }
    const code = answer.code ?? 0;
    const result: CapsuleResult | undefined =
      answer.result === null ? undefined : { ok: code === 0, ...(answer.result ?? this.defaultResult(host, capsule, arg, call.stdin)) };
    if (answer.stderr) options.onStderr?.(Buffer.from(answer.stderr));
    if (code === 0 && result?.ok !== false && capsule === 'commit_backup' && arg) {
      this.store(host).push({ id: arg, usedBytes: 5000, compressRatio: 2.1, manifest: JSON.parse(call.stdin ?? 'null') as Record<string, unknown>, storedAt: (this.clocks.get(host) ?? Date.now)() });
    }
    if (code === 0 && result?.ok !== false && (capsule === 'delete_backup' || capsule === 'delete_replica') && arg) {
      const store = capsule === 'delete_backup' ? this.store(host) : (this.replicas.get(host) ?? []);
      const at = store.findIndex((b) => b.id === arg);
      if (at >= 0) store.splice(at, 1);
    }
    if (code === 0 && result?.ok !== false && capsule === 'discard_backup' && arg) {
      const store = this.store(host);
      const at = store.findIndex((b) => b.id === arg);
      if (at >= 0) store.splice(at, 1);
    }
    done(code === 0 && result?.ok !== false ? 'ok' : 'failed');
    return {
      code,
      stdout: result === undefined ? 'no result\n' : `SBDI-RESULT ${JSON.stringify(result)}\n`,
      stderr: answer.stderr ?? '',
      result,
    };
  }

  defaultResult(host: string, capsule: string, arg: string | undefined, stdin: string | undefined): Record<string, unknown> {
    const now = Date.now();
    switch (capsule) {
      case 'pause_containers':
        return { paused: 3, deadline: 60, armedAt: now, pauseStartedAt: now, pausedAt: now };
      case 'unpause_containers':
        return { unpaused: 3, watchdogFired: false, unpausedAt: now };
      case 'prepare_source_snapshot':
        return { backend: host === 'manager-1' ? 'gluster' : 'lvm', snapshotStartedAt: now, snapshotAt: now };
      case 'perform_rsync': {
        // As the capsule: a base on stdin ("BASE ID") makes a push of only the changes.
        const base = stdin?.split(' ')[0];
        const scan = base !== undefined && base !== '-' ? { scan: 'changes', changedEntries: 7 } : { scan: 'full' };
        return { bytes: host === 'manager-1' ? 2_000_000 : 5_000_000, files: host === 'manager-1' ? 200 : 50, transferredBytes: 1000, seconds: 1, durationMs: 1000, rsyncExit: 0, ...scan };
      }
      case 'remove_source_snapshot':
        return { removed: true };
      case 'prepare_target':
        // The newest committed backup is the base the store was set back to.
        return { backend: 'zfs', freeBytes: 10 * 1024 ** 3, base: this.store(host).at(-1)?.id ?? null, newest: this.newestGenuine(host) };
      case 'commit_backup':
        return { id: arg, usedBytes: 5000, stdinBytes: stdin?.length ?? 0 };
      case 'list_backups':
        return { ...this.clockOf(host), ...(this.storeUsage.has(host) ? { store: this.storeUsage.get(host) } : {}), backups: [...this.store(host)] };
      case 'list_replicas':
        return { ...this.clockOf(host), replicas: (this.replicas.get(host) ?? []).map((r) => ({ id: r.id, guid: `g${r.id}`, storedAt: r.storedAt })), health: { state: 'ONLINE', errors: 'No known data errors' } };
      case 'discard_backup':
        return { id: arg, discarded: this.store(host).some((b) => b.id === arg) };
      case 'docker_status':
        return { running: this.dockerRunning.has(host), containers: this.dockerRunning.has(host) ? 4 : 0, paused: 0 };
      case 'stop_docker':
        this.dockerRunning.delete(host);
        return { running: false };
      case 'start_docker':
        this.dockerRunning.add(host);
        return { running: true };
      case 'activate_backup':
        return { id: arg, mount: '/backup/restore' };
      case 'deactivate_backup':
        return { deactivated: true };
      case 'restore_source':
        return { bytes: 1000, files: 10, seconds: 1, rsyncExit: 0 };
      default:
        return {};
    }
  }

  /** As prepare_target: the newest id not dated after the store's clock (plus 10 minutes). */
  private newestGenuine(host: string): string | null {
    const limit = (this.clocks.get(host) ?? Date.now)() + 600_000;
    const ids = this.store(host).map((b) => b.id).filter((id) => (backupIdTime(id) ?? Infinity) <= limit).sort();
    return ids.at(-1) ?? null;
  }

  private clockOf(host: string): { now?: number } {
    const clock = this.clocks.get(host);
    return clock === undefined ? {} : { now: clock() };
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}

/**
 * Capsules started before their moment and released at it. perform_backup opens its pause,
 * snapshot and unpause sessions on every host before it pauses anything: the ssh channel, sudo,
 * bash and the capsule's own preparations (a leftover snapshot removed, say) then happen outside
 * the pause window, which holds only the acts themselves (docs/performance.md); its commit sessions
 * are opened as the syncs start, and given the manifest with their go. A session is
 * released with a go (it acts, its result comes back as from runCapsule) or called off (it ends
 * having done nothing). A session the director abandons — killed, cut off — also ends having done
 * nothing: the capsule reads end-of-file instead of its go (sbdi_gate). Such a capsule is called
 * with the argument `gated`, so that end-of-file even before its "wait" arrived (a director killed
 * while the session was being opened) calls it off, while the same capsule called plainly acts.
 */
import type { CapsuleResult, ExecOptions, Release } from '../ssh/types';
import { runCapsule, type CapsuleCall } from './capsule';
import type { Context } from './context';

interface Session {
  release: (go: Release) => void;
  /** Settles with the capsule's result or its DirectorError; a handler is attached at once. */
  result: Promise<CapsuleResult>;
  ended: boolean;
  released: boolean;
  marks: Set<string>;
  waiters: Map<string, Array<() => void>>;
}

/** The argument that makes a capsule wait for its go (sbdi_gate; sudoers and dispatch allow it). */
const GATED = 'gated';

export class PreOpened {
  private readonly sessions = new Map<string, Session>();

  /** Starts `call.capsule` on every host, each waiting for its go. */
  constructor(
    ctx: Context,
    readonly call: Omit<CapsuleCall, 'host'>,
    hosts: readonly string[],
    options: Pick<ExecOptions, 'signal'> = {},
  ) {
    for (const host of new Set(hosts)) {
      let release: (go: Release) => void = () => undefined;
      const gate = new Promise<Release>((resolve) => (release = resolve));
      const session: Session = { release, ended: false, released: false, marks: new Set(), waiters: new Map(), result: Promise.resolve({}) };
      const onMark = (mark: string) => {
        session.marks.add(mark);
        for (const wake of session.waiters.get(mark) ?? []) wake();
        session.waiters.delete(mark);
      };
      session.result = runCapsule(ctx, { ...call, host, arg: GATED }, { ...options, release: gate, onMark });
      const end = () => {
        session.ended = true;
        for (const list of session.waiters.values()) for (const wake of list) wake();
        session.waiters.clear();
      };
      session.result.then(end, end);
      this.sessions.set(host, session);
    }
  }

  /** Resolves once `host`'s capsule printed `mark`, or ended (whatever its outcome). */
  reached(host: string, mark: string): Promise<void> {
    const s = this.session(host);
    if (s.ended || s.marks.has(mark)) return Promise.resolve();
    return new Promise((resolve) => {
      const list = s.waiters.get(mark) ?? [];
      list.push(resolve);
      s.waiters.set(mark, list);
    });
  }

  /** Whether `host`'s capsule has printed `mark`. */
  hasMark(host: string, mark: string): boolean {
    return this.session(host).marks.has(mark);
  }

  /** Resolves once every session waits for its go or has ended (one that failed to start reports it on release). */
  allReady(): Promise<void> {
    return Promise.all([...this.sessions.keys()].map((h) => this.reached(h, 'ready'))).then(() => undefined);
  }

  /** Hosts whose session ended before its go (it could not be opened, or was cut off). */
  endedEarly(): string[] {
    return [...this.sessions].filter(([, s]) => s.ended && !s.released).map(([h]) => h);
  }

  /** Gives `host` its go (and `stdin` after it) and waits for its result (rejects like runCapsule). */
  run(host: string, stdin?: string): Promise<CapsuleResult> {
    const s = this.session(host);
    s.released = true;
    s.release(stdin === undefined ? true : { stdin });
    return s.result;
  }

  /** Calls off every session not released yet and waits until all have ended; never throws. */
  async callOff(): Promise<void> {
    for (const s of this.sessions.values()) {
      if (!s.released) s.release(false);
      s.released = true;
    }
    await Promise.all([...this.sessions.values()].map((s) => s.result.catch(() => undefined)));
  }

  private session(host: string): Session {
    const s = this.sessions.get(host);
    if (s === undefined) throw new Error(`no ${this.call.capsule} session was opened on ${host}`);
    return s;
  }
}

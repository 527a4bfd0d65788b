/**
 * The director's only way to reach other hosts: exec a capsule by name over one persistent
 * connection per host. Nothing here knows about phases; the director layers meaning on top.
 */

export interface ExecOptions {
  /** Bytes sent on the capsule's stdin (then EOF). Without it stdin is closed at once. */
  stdin?: string | Buffer;
  /** Called with every stderr chunk as it arrives (rsync progress on a terminal). */
  onStderr?: (chunk: Buffer) => void;
  /** Aborting closes the channel and rejects with a TransportError of kind `aborted`. */
  signal?: AbortSignal;
  /**
   * Start now, act later (not with `stdin`): the capsule is sent `wait` at once and, its channel,
   * sudo and bash already started, waits until this settles: true sends `go`, `{ stdin }` sends
   * `go` and then those bytes, false (or a rejection) ends stdin and the capsule ends without
   * acting. Only capsules calling sbdi_gate wait; a capsule started without it goes on at once.
   */
  release?: Promise<Release>;
  /** Called with the word of each `SBDI-MARK <word>` line the capsule prints on stdout (`ready`, `taken`). */
  onMark?: (mark: string) => void;
}

/** How a session opened ahead is let go: its go (with bytes for its stdin after it), or off. */
export type Release = boolean | { stdin: string | Buffer };

/** The parsed `SBDI-RESULT {json}` line every capsule prints last. */
export type CapsuleResult = Record<string, unknown> & { ok?: boolean; error?: string };

export interface ExecResult {
  /** Exit status of the remote command (the capsule behind `sbdi-dispatch`); -1 if killed by a signal. */
  code: number;
  stdout: string;
  stderr: string;
  /** The last line's JSON when it is `SBDI-RESULT {...}`, else undefined. */
  result: CapsuleResult | undefined;
}

export interface Transport {
  /** Opens (once) the connection to a plan host; rejects with a TransportError. */
  connect(host: string): Promise<void>;
  /** Runs `<capsule> [arg]` on a connected host. Resolves with any exit code; rejects only on transport trouble. */
  exec(host: string, capsule: string, arg?: string, options?: ExecOptions): Promise<ExecResult>;
  /** Ends every connection. */
  close(): Promise<void>;
}

export type TransportErrorKind =
  /** TCP connect failed, timed out, or the handshake did not complete in time. */
  | 'unreachable'
  /** The host's key is not in known_hosts, does not match, or is revoked. */
  | 'hostkey'
  /** The server refused our key. */
  | 'auth'
  /** A channel could not be opened or the connection dropped while it was open. */
  | 'channel'
  /** The caller aborted (operator interrupt or a phase deadline). */
  | 'aborted'
  /** exec on a host never connected, or after close(). */
  | 'not-connected'
  /** A capsule name or argument that must never be sent (defence in depth before sbdi-dispatch). */
  | 'bad-command';

export class TransportError extends Error {
  constructor(
    readonly host: string,
    readonly kind: TransportErrorKind,
    message: string,
  ) {
    super(`${host}: ${message}`);
    this.name = 'TransportError';
  }
}

/**
 * Capsule names are plain words; arguments are backup ids, rendered names, or a partial-restore
 * path (components joined by single '/', none of them '.' or '..'). No spaces, no shell.
 */
export const CAPSULE_NAME = /^[a-z][a-z0-9_]*$/;
export const CAPSULE_ARG = /^[A-Za-z0-9_.][A-Za-z0-9_@+.-]*(\/[A-Za-z0-9_@+.-]+)*$/;

/** The command line sent over ssh (sbdi-dispatch reads it from SSH_ORIGINAL_COMMAND). */
export function commandLine(host: string, capsule: string, arg?: string): string {
  if (!CAPSULE_NAME.test(capsule)) throw new TransportError(host, 'bad-command', `refusing capsule name ${JSON.stringify(capsule)}`);
  if (arg === undefined) return capsule;
  if (!CAPSULE_ARG.test(arg) || arg.split('/').some((part) => part === '.' || part === '..')) throw new TransportError(host, 'bad-command', `refusing argument ${JSON.stringify(arg)} for ${capsule}`);
  return `${capsule} ${arg}`;
}

/**
 * Transport over ssh2: one persistent connection per host, opened on demand by connect(),
 * reused by every exec. Host keys are checked against known_hosts and refused unless listed
 * (ssh2 without a hostVerifier accepts any key). Channels per connection are capped below
 * OpenSSH's MaxSessions so a burst of parallel execs queues instead of failing.
 */
import type { Client as Ssh2Client, ClientChannel, ConnectConfig, ServerHostKeyAlgorithm } from 'ssh2';

// ssh2's client alone: its index also loads its HTTP tunnelling classes, and with them node's
// http, https and tls, which the director never uses (~20 ms of every start on the sandbox's hosts).
// eslint-disable-next-line @typescript-eslint/no-require-imports
const Client = require('ssh2/lib/client.js') as typeof Ssh2Client;
import { hostKeyAlgorithms, keysFor, parseKnownHosts, verifyHostKey, type KnownHostEntry, type VerifyOutcome } from './known-hosts';
import { markScanner, parseResultLine } from './result';
import { Semaphore } from './semaphore';
import { TransportError, commandLine, type ExecOptions, type ExecResult, type Release, type Transport } from './types';

export interface SshHost {
  /** Plan name (what callers pass to connect/exec). */
  name: string;
  /** Address or DNS name to connect to. */
  connection: string;
  port: number;
}

export interface Ssh2TransportOptions {
  hosts: SshHost[];
  username: string;
  privateKey: Buffer | string;
  /** Text of the known_hosts file. */
  knownHosts: string;
  connectTimeoutMs: number;
  /** Keepalives detect a dead peer during an hours-long rsync whose channel is otherwise silent. */
  keepaliveIntervalMs?: number;
  keepaliveCountMax?: number;
  /** OpenSSH's default MaxSessions is 10; 8 leaves room for the server's own accounting. */
  maxChannels?: number;
  /**
   * A host must not run the director out of memory: more than this on a capsule's stdout ends the
   * channel and fails the call (default 64 MiB; a listing of thousands of backups is a few MiB).
   */
  maxStdoutBytes?: number;
  /** Of a capsule's stderr only the last this many bytes are kept for its result (default 1 MiB). */
  maxStderrBytes?: number;
}

interface Connection {
  host: SshHost;
  client: Ssh2Client;
  channels: Semaphore;
  ready: Promise<void>;
  isReady: boolean;
  closed: boolean;
  /** Rejecters of execs in flight, called when the connection drops under them. */
  inFlight: Set<(e: Error) => void>;
}

const VERIFY_MESSAGES: Record<Exclude<VerifyOutcome, 'trusted'>, string> = {
  unknown: 'host key not in known_hosts (refusing: add it with the install playbook, never by hand-accepting)',
  mismatch: 'HOST KEY MISMATCH with known_hosts (refusing: possible man-in-the-middle, or the host was reinstalled)',
  revoked: 'host key is marked @revoked in known_hosts (refusing)',
};

export class Ssh2Transport implements Transport {
  private readonly conns = new Map<string, Connection>();
  private readonly knownHosts: KnownHostEntry[];
  private closing = false;

  constructor(private readonly options: Ssh2TransportOptions) {
    this.knownHosts = parseKnownHosts(options.knownHosts);
  }

  /** Highest number of channels open at once on a host's connection (for tests and diagnostics). */
  peakChannels(host: string): number {
    return this.conns.get(host)?.channels.peak ?? 0;
  }

  connect(name: string): Promise<void> {
    const existing = this.conns.get(name);
    if (existing && !existing.closed) return existing.ready;
    const host = this.options.hosts.find((h) => h.name === name);
    if (!host) return Promise.reject(new TransportError(name, 'not-connected', 'not a host of this plan'));
    if (this.closing) return Promise.reject(new TransportError(name, 'not-connected', 'transport is closed'));

    const keys = keysFor(this.knownHosts, host.connection, host.port);
    const client = new Client();
    const conn: Connection = {
      host,
      client,
      channels: new Semaphore(this.options.maxChannels ?? 8),
      ready: Promise.resolve(),
      isReady: false,
      closed: false,
      inFlight: new Set(),
    };
    let verdict: VerifyOutcome | undefined;
    const where = `${host.connection}:${host.port}`;

    conn.ready = new Promise<void>((resolve, reject) => {
      if (keys.trusted.length === 0) {
        // Fail before dialling: nothing the server could present would be accepted.
        conn.closed = true;
        reject(new TransportError(name, 'hostkey', `${where}: ${VERIFY_MESSAGES.unknown}`));
        return;
      }
      client.on('ready', () => {
        conn.isReady = true;
        resolve();
      });
      client.on('error', (err: Error & { level?: string }) => {
        const error = this.classify(name, where, err, verdict);
        if (!conn.isReady) reject(error);
        this.dropConnection(conn, error);
      });
      client.on('close', () => {
        const error = new TransportError(name, 'channel', `${where}: connection closed`);
        if (!conn.isReady) reject(error);
        this.dropConnection(conn, error);
      });
      const config: ConnectConfig = {
        host: host.connection,
        port: host.port,
        username: this.options.username,
        privateKey: this.options.privateKey,
        readyTimeout: this.options.connectTimeoutMs,
        keepaliveInterval: this.options.keepaliveIntervalMs ?? 15_000,
        keepaliveCountMax: this.options.keepaliveCountMax ?? 4,
        // Never fall back to an agent or passwords: the operator key is the only credential. Naming
        // it alone also skips ssh2's default first attempt with method "none" (one round trip).
        agent: undefined,
        tryKeyboard: false,
        authHandler: ['publickey'],
        algorithms: { serverHostKey: hostKeyAlgorithms(keys) as ServerHostKeyAlgorithm[] },
        hostVerifier: (key: Buffer) => {
          verdict = verifyHostKey(keys, key);
          return verdict === 'trusted';
        },
      };
      client.connect(config);
      // Every message on this connection is small (capsule calls, results, progress lines): with
      // Nagle's algorithm on, each one written before the last was acknowledged waited for the
      // peer's delayed ACK (~40 ms). Measured: connecting to 4 hosts at once 290 ms → 100 ms.
      client.setNoDelay(true);
    });
    this.conns.set(name, conn);
    return conn.ready;
  }

  private classify(name: string, where: string, err: Error & { level?: string }, verdict: VerifyOutcome | undefined): TransportError {
    if (verdict !== undefined && verdict !== 'trusted') return new TransportError(name, 'hostkey', `${where}: ${VERIFY_MESSAGES[verdict]}`);
    if (err.level === 'client-authentication') return new TransportError(name, 'auth', `${where}: the operator key was refused`);
    if (err.level === 'client-timeout') return new TransportError(name, 'unreachable', `${where}: no ssh handshake within ${this.options.connectTimeoutMs} ms`);
    return new TransportError(name, 'unreachable', `${where}: ${err.message}`);
  }

  private dropConnection(conn: Connection, error: Error): void {
    conn.closed = true;
    for (const reject of conn.inFlight) reject(error);
    conn.inFlight.clear();
  }

  async exec(name: string, capsule: string, arg?: string, options: ExecOptions = {}): Promise<ExecResult> {
    const command = commandLine(name, capsule, arg);
    const conn = this.conns.get(name);
    if (!conn || !conn.isReady || conn.closed) throw new TransportError(name, 'not-connected', `not connected (exec ${command})`);
    const release = await conn.channels.acquire();
    try {
      if (options.signal?.aborted) throw new TransportError(name, 'aborted', `${command}: aborted`);
      if (conn.closed) throw new TransportError(name, 'channel', `${command}: connection closed`);
      return await this.runChannel(conn, command, options);
    } finally {
      release();
    }
  }

  private runChannel(conn: Connection, command: string, options: ExecOptions): Promise<ExecResult> {
    const name = conn.host.name;
    return new Promise<ExecResult>((resolve, reject) => {
      let settled = false;
      let channel: ClientChannel | undefined;
      const finish = (fn: () => void) => {
        if (settled) return;
        settled = true;
        conn.inFlight.delete(onDrop);
        options.signal?.removeEventListener('abort', onAbort);
        fn();
      };
      const onDrop = (e: Error) => finish(() => reject(new TransportError(name, 'channel', `${command}: ${e.message}`)));
      const onAbort = () => {
        // Closing the channel makes sshd hang up the remote command; its leftovers are the
        // capsule's to clean (remove_source_snapshot is idempotent, the pause has its deadline).
        channel?.close();
        finish(() => reject(new TransportError(name, 'aborted', `${command}: aborted`)));
      };
      conn.inFlight.add(onDrop);
      options.signal?.addEventListener('abort', onAbort, { once: true });

      conn.client.exec(command, (err, stream) => {
        if (err) {
          finish(() => reject(new TransportError(name, 'channel', `${command}: ${err.message}`)));
          return;
        }
        channel = stream;
        if (settled) {
          stream.close();
          return;
        }
        const out: Buffer[] = [];
        const errs: Buffer[] = [];
        const maxOut = this.options.maxStdoutBytes ?? 64 * 2 ** 20;
        const maxErr = this.options.maxStderrBytes ?? 2 ** 20;
        let outBytes = 0;
        let errBytes = 0;
        let code = -1;
        // Both streams must be drained or the channel never emits close.
        const scan = options.onMark === undefined ? undefined : markScanner(options.onMark);
        stream.on('data', (chunk: Buffer) => {
          if (settled) return;
          outBytes += chunk.length;
          if (outBytes > maxOut) {
            stream.close();
            finish(() => reject(new TransportError(name, 'channel', `${command}: more than ${maxOut} bytes on stdout: ended`)));
            return;
          }
          out.push(chunk);
          scan?.(chunk);
        });
        stream.stderr.on('data', (chunk: Buffer) => {
          errs.push(chunk);
          errBytes += chunk.length;
          while (errBytes > maxErr && errs.length > 1) errBytes -= errs.shift()!.length;
          options.onStderr?.(chunk);
        });
        stream.on('exit', (exitCode: number | null) => {
          code = typeof exitCode === 'number' ? exitCode : -1;
        });
        stream.on('close', () => {
          const stdout = Buffer.concat(out).toString('utf8');
          finish(() => resolve({ code, stdout, stderr: Buffer.concat(errs).toString('utf8'), result: parseResultLine(stdout) }));
        });
        if (options.release !== undefined) {
          stream.write('wait\n');
          // "off" calls a session off; a stream that merely ends means a lost director (sbdi_gate).
          const release = (go: Release) => {
            if (settled) return;
            if (go === false) stream.end('off\n');
            else if (go === true) stream.end('go\n');
            else {
              stream.write('go\n');
              stream.end(go.stdin);
            }
          };
          options.release.then(release, () => release(false));
        } else if (options.stdin !== undefined) stream.end(options.stdin);
        else stream.end();
      });
    });
  }

  async close(): Promise<void> {
    this.closing = true;
    const waits: Promise<void>[] = [];
    for (const conn of this.conns.values()) {
      if (conn.closed) continue;
      waits.push(
        new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, 2_000);
          conn.client.once('close', () => {
            clearTimeout(timer);
            resolve();
          });
          conn.client.end();
        }),
      );
    }
    await Promise.all(waits);
  }
}

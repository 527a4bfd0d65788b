/**
 * A real OpenSSH server on a loopback port, with throwaway keys and a forced command that
 * mimics sbdi-dispatch closely enough to exercise the transport: it reads
 * SSH_ORIGINAL_COMMAND and prints `SBDI-RESULT {...}` last.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect as tcpConnect, type Server } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';

export interface Sshd {
  dir: string;
  port: number;
  user: string;
  clientKey: Buffer;
  /** `[127.0.0.1]:port ssh-ed25519 AAAA...` for the server's real host key. */
  knownHostsLine: string;
  /** The same line for a different key (a mismatch). */
  otherKnownHostsLine: string;
  stop(): Promise<void>;
}

const DISPATCH = `#!/bin/bash
set -u
cmd="\${SSH_ORIGINAL_COMMAND:-}"
echo "dispatch: $cmd" >&2
case "$cmd" in
  sleep_a_bit) sleep 0.3; echo 'SBDI-RESULT {"ok":true,"slept":true}' ;;
  count_stdin) n=$(wc -c | tr -d ' '); echo "SBDI-RESULT {\\"ok\\":true,\\"bytes\\":$n}" ;;
  gate_stdin) IFS= read -r a; [ "$a" != wait ] || echo "SBDI-MARK ready"; IFS= read -r b; n=$(wc -c | tr -d ' '); echo "SBDI-RESULT {\\"ok\\":true,\\"first\\":\\"$a\\",\\"second\\":\\"$b\\",\\"rest\\":$n}" ;;
  fail_capsule) echo "failing on purpose" >&2; echo 'SBDI-RESULT {"ok":false,"error":"asked to fail"}'; exit 3 ;;
  flood) yes SBDI-FLOOD ;;
  noisy) head -c 2000000 /dev/zero | tr '\\0' 'x' >&2; head -c 500000 /dev/zero | tr '\\0' 'y'; echo; echo 'SBDI-RESULT {"ok":true}' ;;
  hang) sleep 30; echo 'SBDI-RESULT {"ok":true}' ;;
  "echo_arg "*) echo "some output before"; echo "SBDI-RESULT {\\"ok\\":true,\\"arg\\":\\"\${cmd#echo_arg }\\"}" ;;
  *) echo "SBDI-RESULT {\\"ok\\":true,\\"cmd\\":\\"$cmd\\"}" ;;
esac
`;

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const address = server.address();
  await new Promise<void>((r) => server.close(() => r()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

function keygen(path: string): string {
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'test', '-f', path]);
  return readFileSync(`${path}.pub`, 'utf8').trim();
}

async function waitForPort(port: number, deadlineMs: number): Promise<void> {
  const until = Date.now() + deadlineMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = tcpConnect(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > until) throw new Error(`sshd did not listen on ${port}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Starts sshd; `dispatch` replaces the forced command script (`@DIR@` is replaced by the server's dir). */
export async function startSshd(dispatchScript: string = DISPATCH): Promise<Sshd> {
  const dir = mkdtempSync(join(tmpdir(), 'sbdi-sshd-'));
  chmodSync(dir, 0o755);
  const port = await freePort();
  const hostPub = keygen(join(dir, 'host_ed25519'));
  const otherPub = keygen(join(dir, 'other_ed25519'));
  const clientPub = keygen(join(dir, 'client_ed25519'));
  const dispatch = join(dir, 'dispatch.sh');
  writeFileSync(dispatch, dispatchScript.split('@DIR@').join(dir), { mode: 0o755 });
  writeFileSync(join(dir, 'authorized_keys'), `restrict,command="${dispatch}" ${clientPub}\n`, { mode: 0o644 });
  writeFileSync(
    join(dir, 'sshd_config'),
    [
      `Port ${port}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${join(dir, 'host_ed25519')}`,
      `PidFile ${join(dir, 'sshd.pid')}`,
      `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
      'StrictModes no',
      'UsePAM no',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'PermitRootLogin prohibit-password',
      // OpenSSH's default, written out. (With MaxSessions 8 our 8-channel cap is NOT enough:
      // sshd frees a session slot a little after the client sees the channel close, so a
      // freshly reopened channel can be refused. Hence the cap of 8 under the default 10.)
      'MaxSessions 10',
      'MaxStartups 50:30:100',
      'LogLevel ERROR',
      '',
    ].join('\n'),
  );
  mkdirSync('/run/sshd', { recursive: true });
  const child: ChildProcess = spawn('/usr/sbin/sshd', ['-D', '-e', '-f', join(dir, 'sshd_config')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr?.on('data', (c: Buffer) => (log += c.toString()));
  try {
    await waitForPort(port, 10_000);
  } catch (e) {
    child.kill('SIGTERM');
    throw new Error(`${(e as Error).message}\n${log}`);
  }
  const keyPart = (pub: string) => pub.split(' ').slice(0, 2).join(' ');
  return {
    dir,
    port,
    user: userInfo().username,
    clientKey: readFileSync(join(dir, 'client_ed25519')),
    knownHostsLine: `[127.0.0.1]:${port} ${keyPart(hostPub)}`,
    otherKnownHostsLine: `[127.0.0.1]:${port} ${keyPart(otherPub)}`,
    stop: async () => {
      if (child.exitCode === null) {
        const exited = new Promise<void>((r) => child.once('exit', () => r()));
        child.kill('SIGTERM');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A TCP server that accepts and never speaks: a host whose sshd hangs before the banner. */
export async function startSilentServer(): Promise<{ port: number; stop(): Promise<void> }> {
  const sockets = new Set<import('node:net').Socket>();
  const server: Server = createServer((s) => {
    sockets.add(s);
    s.on('error', () => undefined);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return {
    port: address.port,
    stop: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** Hashes a known_hosts file with OpenSSH's own ssh-keygen -H, returns the hashed text. */
export function hashWithSshKeygen(dir: string, text: string): string {
  const file = join(dir, `kh-${Math.random().toString(36).slice(2)}`);
  writeFileSync(file, text);
  execFileSync('ssh-keygen', ['-q', '-H', '-f', file], { stdio: 'ignore' });
  return readFileSync(file, 'utf8');
}

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Ssh2Transport, TransportError, type Ssh2TransportOptions } from '../../../src/ssh';
import { freePort, hashWithSshKeygen, startSilentServer, startSshd, type Sshd } from './sshd-harness';

let sshd: Sshd;

beforeAll(async () => {
  sshd = await startSshd();
});
afterAll(async () => {
  await sshd?.stop();
});

function transport(knownHosts: string, extra: Partial<Ssh2TransportOptions> = {}, port = sshd.port): Ssh2Transport {
  return new Ssh2Transport({
    hosts: [{ name: 'h1', connection: '127.0.0.1', port }],
    username: sshd.user,
    privateKey: sshd.clientKey,
    knownHosts,
    connectTimeoutMs: 5_000,
    ...extra,
  });
}

async function failure(p: Promise<unknown>): Promise<TransportError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(TransportError);
    return e as TransportError;
  }
  throw new Error('expected a rejection');
}

describe('Ssh2Transport against a real sshd', () => {
  it('connects and execs a capsule, parsing the SBDI-RESULT line', async () => {
    const t = transport(sshd.knownHostsLine + '\n');
    try {
      await t.connect('h1');
      const r = await t.exec('h1', 'docker_status');
      expect(r.code).toBe(0);
      expect(r.result).toEqual({ ok: true, cmd: 'docker_status' });
      expect(r.stderr).toContain('dispatch: docker_status');
      const withArg = await t.exec('h1', 'echo_arg', '20240102_030405');
      expect(withArg.result).toEqual({ ok: true, arg: '20240102_030405' });
      expect(withArg.stdout).toContain('some output before');
    } finally {
      await t.close();
    }
  });

  it('a host that floods stdout cannot run the director out of memory: the call fails, the connection stays', async () => {
    const t = transport(sshd.knownHostsLine + '\n', { maxStdoutBytes: 4 * 2 ** 20 });
    try {
      await t.connect('h1');
      const heap = process.memoryUsage().rss;
      const e = await failure(t.exec('h1', 'flood'));
      expect(e.message).toMatch(/flood: more than 4194304 bytes on stdout: ended/);
      expect(process.memoryUsage().rss - heap).toBeLessThan(64 * 2 ** 20);
      const r = await t.exec('h1', 'docker_status');
      expect(r.result).toEqual({ ok: true, cmd: 'docker_status' });
    } finally {
      await t.close();
    }
  });

  it('keeps only the tail of a long stderr, and streams all of it', async () => {
    const t = transport(sshd.knownHostsLine + '\n', { maxStderrBytes: 2 ** 16 });
    try {
      await t.connect('h1');
      let streamed = 0;
      const r = await t.exec('h1', 'noisy', undefined, { onStderr: (c) => (streamed += c.length) });
      expect(r.result).toEqual({ ok: true });
      expect(streamed).toBeGreaterThanOrEqual(2_000_000);
      expect(r.stderr.length).toBeLessThan(2 ** 16 + 2 ** 16);
      expect(r.stderr).toMatch(/x+$/);
    } finally {
      await t.close();
    }
  });

  it('sends stdin, reports non-zero exits, drains large stderr and streams it', async () => {
    const t = transport(sshd.knownHostsLine + '\n');
    try {
      await t.connect('h1');
      const body = JSON.stringify({ id: 'x', pad: 'p'.repeat(100_000) });
      const r = await t.exec('h1', 'count_stdin', undefined, { stdin: body });
      expect(r.result).toEqual({ ok: true, bytes: Buffer.byteLength(body) });

      const f = await t.exec('h1', 'fail_capsule');
      expect(f.code).toBe(3);
      expect(f.result).toEqual({ ok: false, error: 'asked to fail' });

      let streamed = 0;
      const n = await t.exec('h1', 'noisy', undefined, { onStderr: (c) => (streamed += c.length) });
      expect(n.code).toBe(0);
      expect(n.result).toEqual({ ok: true });
      expect(streamed).toBeGreaterThanOrEqual(2_000_000);
    } finally {
      await t.close();
    }
  });

  it('a session opened ahead gets "wait" at once, then "go" and the bytes its go carries, or "off" alone', async () => {
    const t = transport(sshd.knownHostsLine + '\n');
    try {
      await t.connect('h1');
      const body = JSON.stringify({ id: 'x', pad: 'p'.repeat(100_000) });
      let go: (r: { stdin: string } | false) => void = () => undefined;
      let ready: () => void = () => undefined;
      const isReady = new Promise<void>((resolve) => (ready = resolve));
      const released = t.exec('h1', 'gate_stdin', undefined, { release: new Promise((resolve) => (go = resolve)), onMark: (m) => m === 'ready' && ready() });
      await isReady;
      go({ stdin: body });
      expect((await released).result).toEqual({ ok: true, first: 'wait', second: 'go', rest: Buffer.byteLength(body) });
      const off = await t.exec('h1', 'gate_stdin', undefined, { release: Promise.resolve(false) });
      expect(off.result).toEqual({ ok: true, first: 'wait', second: 'off', rest: 0 });
    } finally {
      await t.close();
    }
  });

  it('runs 20 execs at once over one connection with at most 8 channels open', async () => {
    const t = transport(sshd.knownHostsLine + '\n');
    try {
      await t.connect('h1');
      const results = await Promise.all(Array.from({ length: 20 }, () => t.exec('h1', 'sleep_a_bit')));
      expect(results.every((r) => r.code === 0 && r.result?.slept === true)).toBe(true);
      expect(t.peakChannels('h1')).toBe(8);
    } finally {
      await t.close();
    }
  });

  it('accepts a host listed only in hashed form (hashed by ssh-keygen -H)', async () => {
    const hashed = hashWithSshKeygen(sshd.dir, sshd.knownHostsLine + '\n');
    expect(hashed.startsWith('|1|')).toBe(true);
    const t = transport(hashed);
    try {
      await t.connect('h1');
      expect((await t.exec('h1', 'x')).code).toBe(0);
    } finally {
      await t.close();
    }
  });

  it('refuses a mismatching host key (fails closed)', async () => {
    const t = transport(sshd.otherKnownHostsLine + '\n');
    const e = await failure(t.connect('h1'));
    expect(e.kind).toBe('hostkey');
    expect(e.message).toMatch(/MISMATCH/);
    await expect(t.exec('h1', 'x')).rejects.toMatchObject({ kind: 'not-connected' });
    await t.close();
  });

  it('refuses a host not in known_hosts, also when the key is listed for another port', async () => {
    const wrongPort = sshd.knownHostsLine.replace(`]:${sshd.port} `, `]:${sshd.port + 1} `);
    for (const kh of ['', wrongPort, `@revoked ${sshd.knownHostsLine}\n${sshd.knownHostsLine}`]) {
      const t = transport(kh);
      const e = await failure(t.connect('h1'));
      expect(e.kind).toBe('hostkey');
      await t.close();
    }
  });

  it('fails fast on a closed port', async () => {
    const port = await freePort();
    const t = transport(`[127.0.0.1]:${port} ${sshd.knownHostsLine.split(' ').slice(1).join(' ')}\n`, {}, port);
    const started = Date.now();
    const e = await failure(t.connect('h1'));
    expect(e.kind).toBe('unreachable');
    expect(Date.now() - started).toBeLessThan(2_000);
    await t.close();
  });

  it('gives up on a server that never speaks after the connect timeout', async () => {
    const silent = await startSilentServer();
    const t = transport(`[127.0.0.1]:${silent.port} ${sshd.knownHostsLine.split(' ').slice(1).join(' ')}\n`, { connectTimeoutMs: 800 }, silent.port);
    const started = Date.now();
    try {
      const e = await failure(t.connect('h1'));
      expect(e.kind).toBe('unreachable');
      expect(Date.now() - started).toBeLessThan(3_000);
    } finally {
      await t.close();
      await silent.stop();
    }
  });

  it('aborts a hanging exec on signal and refuses unsafe command words', async () => {
    const t = transport(sshd.knownHostsLine + '\n');
    try {
      await t.connect('h1');
      const ac = new AbortController();
      const started = Date.now();
      setTimeout(() => ac.abort(), 300);
      const e = await failure(t.exec('h1', 'hang', undefined, { signal: ac.signal }));
      expect(e.kind).toBe('aborted');
      expect(Date.now() - started).toBeLessThan(2_000);
      // The connection is still usable afterwards.
      expect((await t.exec('h1', 'x')).code).toBe(0);
      await expect(t.exec('h1', 'rm -rf /')).rejects.toMatchObject({ kind: 'bad-command' });
      await expect(t.exec('h1', 'activate_backup', '1; reboot')).rejects.toMatchObject({ kind: 'bad-command' });
    } finally {
      await t.close();
    }
  });
});

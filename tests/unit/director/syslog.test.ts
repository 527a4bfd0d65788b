import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { syslogViaLogger } from '../../../src/director/reporter';

/**
 * The director's syslog lines go through the real `logger` to a syslog socket: here one the test
 * listens on (python's AF_UNIX datagram socket, as /dev/log is), with a `logger` on PATH in front
 * of the real one that counts its starts.
 */
describe('director: syslog through one logger', () => {
  let dir: string;
  let listener: ChildProcess;
  let received = '';
  const path = process.env.PATH;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sbdi-syslog-'));
    const real = ['/usr/bin/logger', '/bin/logger'].find((p) => existsSync(p));
    if (real === undefined) throw new Error('util-linux logger is not installed');
    writeFileSync(join(dir, 'logger'), `#!/bin/sh\necho started >>${dir}/starts\nexec ${real} "$@"\n`);
    chmodSync(join(dir, 'logger'), 0o755);
    process.env.PATH = `${dir}:${path}`;
    received = '';
    listener = spawn('python3', ['-c', [
      'import socket, sys',
      's = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)',
      's.bind(sys.argv[1])',
      'print("ready", flush=True)',
      'while True:',
      '    sys.stdout.write(s.recv(65536).decode() + "\\n"); sys.stdout.flush()',
    ].join('\n'), join(dir, 'log')], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve) => {
      listener.stdout!.on('data', (chunk: Buffer) => {
        received += chunk.toString();
        if (received.startsWith('ready\n')) resolve();
      });
    });
  });

  afterEach(() => {
    process.env.PATH = path;
    listener.kill();
    rmSync(dir, { recursive: true, force: true });
  });

  /** The datagrams received after `ready`, waiting up to `waitMs` for `count` of them. */
  const datagrams = async (count: number, waitMs = 2000) => {
    for (let i = 0; i < waitMs / 50; i++) {
      const lines = received.split('\n').slice(1).filter((l) => l !== '');
      if (lines.length >= count) return lines;
      await new Promise((r) => setTimeout(r, 50));
    }
    return received.split('\n').slice(1).filter((l) => l !== '');
  };

  it('starts logger once, and every line arrives in order with its priority and tag', async () => {
    const sink = syslogViaLogger('sbdi-test', ['-u', join(dir, 'log')]);
    const sent = Array.from({ length: 40 }, (_, i) => `sbdi-backup host=h phase=p${i} level=info msg=line ${i}`);
    sent.forEach((l, i) => sink.send(l, i === 7 ? 'warn' : i === 9 ? 'error' : 'info'));
    // A line with a line break stays one message.
    sink.send('two\nlines', 'info');
    await sink.close();
    const got = await datagrams(41);
    expect(readFileSync(join(dir, 'starts'), 'utf8')).toBe('started\n');
    expect(got).toHaveLength(41);
    got.forEach((d, i) => {
      // RFC 3164 on a local socket: <PRI>timestamp tag: message
      const pri = i === 7 ? 12 : i === 9 ? 11 : 14;
      expect(d).toMatch(new RegExp(`^<${pri}>.* sbdi-test(\\[\\d+\\])?: `));
      expect(d.endsWith(i < 40 ? sent[i]! : 'two lines')).toBe(true);
    });
  });

  it('a long line stays one message with its own priority: no text in it chooses one', async () => {
    const sink = syslogViaLogger('sbdi-test', ['-u', join(dir, 'log')]);
    // logger reads 1 KiB a message: what follows would be a line of its own, read for a priority.
    const head = 'sbdi-backup host=h phase=sync level=warn msg=rsync: ' + 'ä'.repeat(200);
    const line = `${head}${'x'.repeat(1024 - Buffer.byteLength(head) - 4)}<80>FORGED root login${'y'.repeat(2000)}`;
    sink.send(line, 'warn');
    sink.send('after', 'info');
    await sink.close();
    const got = await datagrams(2);
    await new Promise((r) => setTimeout(r, 200));
    expect(await datagrams(3, 100)).toHaveLength(2);
    expect(got[0]).toMatch(/^<12>.* sbdi-test(\[\d+\])?: sbdi-backup host=h phase=sync level=warn msg=rsync: ä+x+\.\.\.$/);
    expect(got[0]).not.toContain('FORGED');
    expect(got[1]).toMatch(/^<14>.*: after$/);
  });

  it('without logger, sending and closing do nothing and do not throw', async () => {
    process.env.PATH = join(dir, 'nothing-here');
    const sink = syslogViaLogger('sbdi-test', ['-u', join(dir, 'log')]);
    sink.send('lost', 'info');
    await new Promise((r) => setTimeout(r, 100));
    sink.send('lost too', 'error');
    await expect(sink.close(200)).resolves.toBeUndefined();
    expect(await datagrams(1, 300)).toEqual([]);
  });
});

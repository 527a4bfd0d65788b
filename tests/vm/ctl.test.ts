// scripts/vm-ctl.sh refuses bad network options before it builds or boots anything.
import { spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from './harness';

const up = (...args: string[]): { code: number | null; stderr: string } => {
  const r = spawnSync('bash', [join(ROOT, 'scripts', 'vm-ctl.sh'), 'up', 'sbdi-vms-ctl', ...args], { encoding: 'utf8' });
  return { code: r.status, stderr: r.stderr };
};

describe('vm-ctl.sh up: network options', () => {
  it('--addr needs --netns (without a namespace ssh stays on loopback)', () => {
    expect(up('--addr', '10.231.9.31')).toMatchObject({ code: 1, stderr: expect.stringMatching(/--addr needs --netns/) });
  });
  it('--netns needs --addr, and a pid of a running process', () => {
    expect(up('--netns', String(process.pid))).toMatchObject({ code: 1, stderr: expect.stringMatching(/--netns needs --addr/) });
    expect(up('--netns', '1x', '--addr', '10.231.9.31')).toMatchObject({ code: 1, stderr: expect.stringMatching(/bad --netns '1x'/) });
    expect(up('--netns', '999999999', '--addr', '10.231.9.31')).toMatchObject({ code: 1, stderr: expect.stringMatching(/bad --netns/) });
  });
  it('an --addr that is not an IPv4 address, or a bad --port, is refused', () => {
    expect(up('--netns', String(process.pid), '--addr', 'a;b')).toMatchObject({ code: 1, stderr: expect.stringMatching(/bad --addr 'a;b'/) });
    expect(up('--port', '22x')).toMatchObject({ code: 1, stderr: expect.stringMatching(/bad --port '22x'/) });
  });
  it('a port already taken: qemu cannot forward ssh on it, the message says so and no VM is left', async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    try {
      const r = spawnSync('bash', [join(ROOT, 'scripts', 'vm-ctl.sh'), 'up', 'sbdi-vms-ctl', '--port', String(port)], { encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(1);
      expect(r.stderr).toMatch(new RegExp(`qemu did not start VM 'sbdi-vms-ctl' with ssh forwarded on 127\\.0\\.0\\.1:${port} \\(is the port taken\\?\\)`));
    } finally {
      server.close();
    }
  }, 900_000);
  it('nothing was left behind by the refusals', () => {
    const r = spawnSync('bash', [join(ROOT, 'scripts', 'vm-ctl.sh'), 'status'], { encoding: 'utf8' });
    expect(r.stdout).not.toMatch(/sbdi-vms-ctl/);
  });
});

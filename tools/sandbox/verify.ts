import { HOSTS, type HostSpec, type Names, type Paths } from './config';
import { APP_LABEL, WRITER_FILE, appDir } from './apps';
import { SandboxError } from './errors';
import { DOCKER, run, sleep } from './exec';
import { SEED_DIR } from './seed';
import { readyNodes, swarmHosts } from './swarm';

export interface VerifyContext {
  names: Names;
  paths: Paths;
  /** Runs a bash script as root in a host's container; resolves with its stdout, rejects with a SandboxError. */
  sh(host: string, script: string): Promise<string>;
}

/** One check of `verify`. Throws (preferably a SandboxError naming its host) when the platform is not as it should be. */
export interface VerifyCheck {
  name: string;
  host?: string;
  run(ctx: VerifyContext): Promise<void>;
}

export interface VerifyResult {
  name: string;
  host?: string;
  ok: boolean;
  detail?: string;
}

export function verifyContext(names: Names, paths: Paths): VerifyContext {
  return {
    names,
    paths,
    async sh(host, script) {
      const r = await run(DOCKER, ['exec', names.container(host), 'bash', '-euo', 'pipefail', '-c', script], { timeoutMs: 60_000 });
      if (r.code !== 0) throw new SandboxError('verify', host, `${script.split('\n')[0]} -> exit ${r.code}: ${(r.stderr || r.stdout).trim()}`);
      return r.stdout;
    },
  };
}

function hostChecks(spec: HostSpec): VerifyCheck[] {
  const h = spec.name;
  const checks: VerifyCheck[] = [
    {
      name: 'sshd, syslogd running; sudo, rsync, python3 installed',
      host: h,
      run: async (ctx) => {
        await ctx.sh(h, 'pgrep -x sshd >/dev/null && pgrep -x syslogd >/dev/null && sudo -V >/dev/null && rsync --version >/dev/null && python3 -c "import apt"');
      },
    },
    {
      name: 'ssh from the director answers on port 22',
      host: h,
      run: async (ctx) => {
        const out = await ctx.sh('backup-director', `ssh-keyscan -T 5 -p 22 -t ed25519 ${ctx.names.container(h)} 2>/dev/null`);
        if (!/ssh-ed25519 /.test(out)) throw new SandboxError('verify', h, `no ssh host key from ${ctx.names.container(h)}:22`);
      },
    },
  ];
  if (spec.sourceDir !== undefined) {
    const dir = spec.sourceDir;
    checks.push({
      name: `${dir} is a btrfs subvolume with the seed tree`,
      host: h,
      run: async (ctx) => {
        const fs = (await ctx.sh(h, `stat -f -c %T ${dir}`)).trim();
        if (fs !== 'btrfs') throw new SandboxError('verify', h, `${dir} is on ${fs}, not btrfs`);
        await ctx.sh(h, `btrfs subvolume show ${dir} >/dev/null && test -f '${dir}/${SEED_DIR}/dir with spaces/file with spaces.txt'`);
      },
    });
  }
  if (spec.docker) {
    checks.push({
      name: 'writer containers running and writing',
      host: h,
      run: async (ctx) => {
        const names = (await ctx.sh(h, `docker ps --filter label=${APP_LABEL} --filter status=running --format '{{.Names}}'`))
          .split('\n').filter(Boolean);
        const missing = spec.apps.filter((a) => !names.includes(a));
        if (missing.length > 0) throw new SandboxError('verify', h, `writer container(s) not running: ${missing.join(', ')}`);
        const sizes = async (): Promise<number[]> =>
          (await ctx.sh(h, spec.apps.map((a) => `stat -c %s '${appDir(spec, a)}/${WRITER_FILE}'`).join('; '))).split('\n').filter(Boolean).map(Number);
        const before = await sizes();
        await sleep(1200);
        const after = await sizes();
        const stuck = spec.apps.filter((_, i) => !((after[i] ?? 0) > (before[i] ?? 0)));
        if (stuck.length > 0) throw new SandboxError('verify', h, `writer file(s) not growing: ${stuck.join(', ')}`);
      },
    });
  }
  if (h === 'backup-target') {
    checks.push({
      name: 'zfs-fuse available (/dev/fuse, zpool, zfs)',
      host: h,
      run: async (ctx) => {
        await ctx.sh(h, 'test -c /dev/fuse && command -v zfs-fuse zpool zfs >/dev/null');
      },
    });
  }
  if (h === 'backup-director') {
    checks.push({
      name: 'node >= 18',
      host: h,
      run: async (ctx) => {
        const v = (await ctx.sh(h, 'node --version')).trim();
        if (!/^v(1[89]|[2-9]\d)\./.test(v)) throw new SandboxError('verify', h, `node ${v} < 18`);
      },
    });
  }
  return checks;
}

/** The platform checks: every host up with its services, the swarm formed, the writers writing. */
export function baseChecks(): VerifyCheck[] {
  const checks = HOSTS.flatMap(hostChecks);
  checks.push({
    name: `swarm has ${swarmHosts().length} ready nodes`,
    host: swarmHosts()[0],
    run: async (ctx) => {
      const n = await readyNodes(ctx.names);
      if (n !== swarmHosts().length) throw new SandboxError('verify', swarmHosts()[0], `swarm has ${n} ready node(s), want ${swarmHosts().length}`);
    },
  });
  return checks;
}

/** Checks other parts add (backup checks); run after the base checks. */
export const extraChecks: VerifyCheck[] = [];

export function registerCheck(check: VerifyCheck): void {
  extraChecks.push(check);
}

/** Runs every check (none stops the others) and throws one SandboxError listing all failures. */
export async function runChecks(ctx: VerifyContext, checks: readonly VerifyCheck[], log: (m: string) => void): Promise<VerifyResult[]> {
  const results: VerifyResult[] = [];
  for (const c of checks) {
    try {
      await c.run(ctx);
      results.push({ name: c.name, host: c.host, ok: true });
      log(`ok    ${c.host ?? '-'}: ${c.name}`);
    } catch (e) {
      const detail = (e as Error).message;
      results.push({ name: c.name, host: c.host, ok: false, detail });
      log(`FAIL  ${c.host ?? '-'}: ${c.name}: ${detail}`);
    }
  }
  const failed = results.filter((r) => !r.ok);
  if (failed.length > 0) {
    throw new SandboxError('verify', failed[0]!.host, `${failed.length} of ${results.length} check(s) failed:\n  ${failed.map((f) => f.detail).join('\n  ')}`);
  }
  return results;
}

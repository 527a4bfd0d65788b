// Test VMs for the production source backends (LVM, Gluster): Debian's own kernel under qemu
// software emulation, booted by scripts/vm-ctl.sh from the image scripts/vm-build.sh caches. A test
// file boots one VM in beforeAll and reuses it for all its tests.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const ROOT = join(__dirname, '..', '..');
const VM = join(ROOT, 'scripts', 'vm-ctl.sh');
const PROVISION = readFileSync(join(__dirname, 'provision.sh'), 'utf8');

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** One capsule run: exit code, the parsed `SBDI-RESULT` line (last stdout line), stderr. */
export interface CapsuleRun extends Run {
  result: Record<string, unknown> & { ok: boolean };
}

export function parseResult(stdout: string): CapsuleRun['result'] {
  const last = stdout.trimEnd().split('\n').pop() ?? '';
  const m = /^SBDI-RESULT (\{.*\})$/.exec(last);
  if (!m) throw new Error(`no SBDI-RESULT as the last line of stdout:\n${stdout}`);
  return JSON.parse(m[1]!) as CapsuleRun['result'];
}

export class TestVm {
  /** Milliseconds from `vm.sh up` to a working ssh. */
  bootMs = 0;
  private sshBase: string[] = [];

  constructor(
    readonly name: string,
    readonly hostname: string,
  ) {}

  /** Boots a fresh VM (a stale one of the same name is stopped first); builds the image if absent. */
  async up(dataSize = '8G'): Promise<this> {
    spawnSync('bash', [VM, 'down', this.name], { stdio: 'ignore' });
    const boot = (): Promise<void> =>
      new Promise<void>((resolve, reject) => {
        const p = spawn('bash', [VM, 'up', this.name, '--hostname', this.hostname, '--data-size', dataSize], { stdio: ['ignore', 'inherit', 'inherit'] });
        p.on('error', reject);
        p.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`scripts/vm-ctl.sh up ${this.name} failed (${code})`))));
      });
    const t0 = Date.now();
    try {
      await boot();
    } catch (e) {
      // Booting an emulated machine is the harness's business, not the product's: on a loaded
      // CI machine one boot may fail (vm-ctl printed why above); one more, from scratch.
      console.log(`${(e as Error).message}: booting ${this.name} once more`);
      spawnSync('bash', [VM, 'down', this.name], { stdio: 'ignore' });
      await boot();
    }
    this.bootMs = Date.now() - t0;
    const env = Object.fromEntries(
      execFileSync('bash', [VM, 'env', this.name], { encoding: 'utf8' })
        .trim()
        .split('\n')
        .map((l) => l.split(/=(.*)/s).slice(0, 2) as [string, string]),
    );
    this.sshBase = [
      '-p', env.VM_PORT!, '-i', env.VM_KEY!, '-o', 'IdentitiesOnly=yes', '-o', 'BatchMode=yes',
      '-o', 'HostKeyAlias=sbdi-vm', '-o', 'StrictHostKeyChecking=yes', '-o', `UserKnownHostsFile=${env.VM_KNOWN_HOSTS}`,
      '-o', 'ControlMaster=auto', '-o', `ControlPath=${env.VM_DIR}/ssh.sock`, '-o', 'ControlPersist=300',
      '-o', 'LogLevel=ERROR', `root@${env.VM_ADDR}`,
    ];
    return this;
  }

  down(): void {
    spawnSync('bash', [VM, 'down', this.name], { stdio: 'ignore' });
  }

  /** Runs a bash script as root in the VM; never throws on a non-zero exit. Asynchronous, so the
   *  test worker stays responsive while the emulated machine works. */
  run(script: string, input?: string | Buffer, timeoutMs = 300_000): Promise<Run> {
    return this.ssh(['bash', '-c', shq(`set -euo pipefail; ${script}`)], input, timeoutMs);
  }

  /** Like run, but the script must succeed; resolves to its stdout. */
  async sh(script: string, input?: string | Buffer): Promise<string> {
    const r = await this.run(script, input);
    if (r.code !== 0) throw new Error(`VM ${this.name}: exit ${r.code} from: ${script}\n${r.stderr}${r.stdout}`);
    return r.stdout;
  }

  /** One step of tests/vm/provision.sh in the VM. */
  async provision(...args: string[]): Promise<string> {
    const r = await this.ssh(['bash', '-s', '--', ...args.map(shq)], PROVISION, 300_000);
    if (r.code !== 0) throw new Error(`VM ${this.name}: provision ${args.join(' ')} failed (${r.code}):\n${r.stderr}${r.stdout}`);
    return r.stdout;
  }

  /** Installs a host's rendered files under /opt/sbdi (capsules, log library) in the VM. */
  async installRendered(renderDir: string, host: string): Promise<void> {
    const tar = execFileSync('tar', ['-C', join(renderDir, host), '--owner=0', '--group=0', '-c', 'opt/sbdi']);
    await this.sh('tar -C / --no-same-owner -x && chmod 0755 /opt/sbdi /opt/sbdi/backup /opt/sbdi/backup/libexec /opt/sbdi/lib', tar);
  }

  /** Runs an installed capsule as root; resolves to exit code, result line and stderr. */
  async capsule(name: string, arg?: string): Promise<CapsuleRun> {
    const r = await this.run(`/opt/sbdi/backup/libexec/${name}${arg ? ` ${shq(arg)}` : ''}`);
    return { ...r, result: parseResult(r.stdout) };
  }

  private ssh(remote: string[], input: string | Buffer | undefined, timeoutMs: number): Promise<Run> {
    return new Promise((resolve, reject) => {
      const p = spawn('ssh', [...this.sshBase, ...remote], { stdio: ['pipe', 'pipe', 'pipe'] });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      const timer = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
      p.stdout.on('data', (d: Buffer) => out.push(d));
      p.stderr.on('data', (d: Buffer) => err.push(d));
      p.on('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
      p.on('close', (code) => {
        clearTimeout(timer);
        resolve({ code: code ?? -1, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() });
      });
      p.stdin.on('error', () => {});
      p.stdin.end(input ?? '');
    });
  }
}

/** Renders an inventory into a fresh temporary directory (the CLI built by `npm run build`). */
export function render(inventory: string): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'sbdi-vm-render-'));
  execFileSync(process.execPath, [join(ROOT, 'dist', 'sbdi-backup.cjs'), 'render', '-i', inventory, '--out', dir, '--director-bundle', '/dev/null'], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export function shq(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** Tree listing with sizes and checksums, for comparing a snapshot, the live tree and a backup. */
export const TREE_SUM = (dir: string): string =>
  `cd ${shq(dir)} && find . -path ./lost+found -prune -o -type f -print0 | sort -z | xargs -0 -r sha256sum`;

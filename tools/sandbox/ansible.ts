import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Paths } from './config';
import { SandboxError } from './errors';
import { debianFirstPath, run } from './exec';
import { parseRecap, type RecapLine } from './recap';

export const PLAYBOOK = 'playbooks/backup.yml';

export interface PlaybookRun {
  code: number;
  output: string;
  recap: RecapLine[];
}

/**
 * The checkout as the collection sbdi.backup (scripts/link-collection.mjs, which `npm run build`
 * runs too): the playbook names its roles sbdi.backup.<role>, found through ansible.cfg's
 * collections_path. Cheap when the link is there already.
 */
export function linkCollection(root: string): void {
  execFileSync(process.execPath, [join(root, 'scripts', 'link-collection.mjs')], { stdio: 'inherit' });
}

/**
 * `ansible-playbook -i <inventory> playbooks/backup.yml` from the repository root, output streamed.
 * PATH puts /usr/bin first so the docker connection plugin uses Debian's docker client.
 */
export async function runPlaybook(step: string, p: Paths, extraArgs: readonly string[] = []): Promise<PlaybookRun> {
  const playbook = join(p.root, PLAYBOOK);
  if (!existsSync(playbook)) throw new SandboxError(step, undefined, `${PLAYBOOK} does not exist (yet)`);
  if (!existsSync(p.inventory)) throw new SandboxError(step, undefined, `inventory ${p.inventory} does not exist: run create first`);
  linkCollection(p.root);
  const r = await run('ansible-playbook', ['-i', p.inventory, PLAYBOOK, ...extraArgs], {
    cwd: p.root,
    stream: true,
    timeoutMs: 3_600_000,
    env: {
      ...process.env,
      PATH: debianFirstPath(),
      ANSIBLE_FORCE_COLOR: '0',
      ANSIBLE_NOCOLOR: '1',
      ANSIBLE_HOST_KEY_CHECKING: 'False',
      ANSIBLE_RETRY_FILES_ENABLED: 'False',
      // One `docker exec` per module instead of put-file + exec + cleanup: much faster, same result.
      ANSIBLE_PIPELINING: process.env.ANSIBLE_PIPELINING ?? 'True',
      PYTHONUNBUFFERED: '1',
    },
  });
  const output = r.stdout + r.stderr;
  return { code: r.code, output, recap: parseRecap(r.stdout) };
}

/** converge: the playbook must succeed on every host. */
export async function converge(p: Paths, extraArgs: readonly string[] = []): Promise<PlaybookRun> {
  const res = await runPlaybook('converge', p, extraArgs);
  const bad = res.recap.filter((l) => l.failed > 0 || l.unreachable > 0);
  if (res.code !== 0 || bad.length > 0) {
    const who = bad.map((l) => `${l.host} (failed=${l.failed} unreachable=${l.unreachable})`).join(', ');
    throw new SandboxError('converge', bad[0]?.host, `ansible-playbook exited ${res.code}${who ? `: ${who}` : ''}`);
  }
  return res;
}

/** Hosts whose recap shows changes: empty means the run was idempotent. */
export function changedHosts(recap: readonly RecapLine[]): RecapLine[] {
  return recap.filter((l) => l.changed > 0);
}

/** idempotence: a second converge must succeed and report changed=0 on every host. */
export async function idempotence(p: Paths, extraArgs: readonly string[] = []): Promise<PlaybookRun> {
  const res = await runPlaybook('idempotence', p, extraArgs);
  if (res.code !== 0) throw new SandboxError('idempotence', undefined, `ansible-playbook exited ${res.code}`);
  if (res.recap.length === 0) throw new SandboxError('idempotence', undefined, 'no PLAY RECAP in the output');
  const changed = changedHosts(res.recap);
  if (changed.length > 0) {
    throw new SandboxError(
      'idempotence',
      changed[0]!.host,
      `not idempotent: ${changed.map((l) => `${l.host} changed=${l.changed}`).join(', ')}`,
    );
  }
  return res;
}

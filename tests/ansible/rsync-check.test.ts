// The common role's refusal of an rsync with the CVE-2024-12084..12088 flaws: its own assert
// expression, read from the task file, evaluated by Ansible for package versions a host may have.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import yaml from 'js-yaml';
import { describe, expect, it } from 'vitest';
import { run } from '../../tools/sandbox/exec';

const ROOT = join(__dirname, '..', '..');
interface Task {
  name: string;
  'ansible.builtin.assert'?: { that: string };
  vars?: Record<string, string>;
}
const tasks = yaml.load(readFileSync(join(ROOT, 'roles', 'common', 'tasks', 'rsync.yml'), 'utf8')) as Task[];
const check = tasks.find((t) => t['ansible.builtin.assert'] !== undefined)!;

async function accepted(packageVersion: string | undefined): Promise<boolean> {
  const query = packageVersion === undefined ? { rc: 1, stdout: '' } : { rc: 0, stdout: packageVersion };
  const extra = JSON.stringify({ __common_rsync_query: query, ...check.vars });
  const r = await run('ansible', ['localhost', '-c', 'local', '-m', 'ansible.builtin.debug', '-a', `msg={{ (${check['ansible.builtin.assert']!.that}) | bool }}`, '-e', extra], {
    env: { ...process.env, ANSIBLE_LOCALHOST_WARNING: 'False', ANSIBLE_INVENTORY_UNPARSED_WARNING: 'False', ANSIBLE_NOCOLOR: '1' },
    timeoutMs: 120_000,
  });
  const m = /"msg": (true|false)/.exec(r.stdout);
  if (!m) throw new Error(`ansible: ${r.stdout}${r.stderr}`);
  return m[1] === 'true';
}

describe('the rsync the roles accept', () => {
  it.each([
    ['3.5.0+ds1-0+deb12u1', true],
    ['3.4.1-1', true],
    ['3.4.0', true],
    ['3.2.7-1+deb12u1', true],
    ['3.2.7-1+deb12u2', true],
    ['3.2.7-1', false],
    ['3.2.7-1+deb12u0', false],
    ['3.2.3-4+deb11u1', false],
    ['3.3.0-1', false],
  ] as const)('%s: %s', async (version, ok) => {
    expect(await accepted(version)).toBe(ok);
  });

  it('no rsync package at all: refused', async () => {
    expect(await accepted(undefined)).toBe(false);
  });
});

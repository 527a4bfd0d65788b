// The collection's filters (plugins/filter/sbdi.py): their unit tests, run by the Python Ansible
// runs on, and one evaluation by Ansible itself under the names the roles call them by, on a real
// rendering, through the collection path playbooks/backup.yml finds them on.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import yaml from 'js-yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { planFromInventory } from '../../../src/plan';
import { PLAN_FILE, renderPlan, writeRendered } from '../../../src/render';
import { run } from '../../../tools/sandbox/exec';

const ROOT = join(__dirname, '..', '..', '..');
const ENV = {
  ...process.env,
  ANSIBLE_NOCOLOR: '1',
  ANSIBLE_LOCALHOST_WARNING: 'False',
  ANSIBLE_INVENTORY_UNPARSED_WARNING: 'False',
  // Where playbooks/backup.yml finds the collection when run from a checkout (ansible.cfg).
  ANSIBLE_COLLECTIONS_PATH: join(ROOT, '.cache', 'collections'),
};

/** The interpreter Ansible runs on, from `ansible --version`: the filters import ansible. */
async function ansiblePython(): Promise<string> {
  const r = await run('ansible', ['--version'], { env: ENV, timeoutMs: 60_000 });
  const m = /python version = .*\((\/[^)]+)\)/.exec(r.stdout);
  if (!m) throw new Error(`ansible --version: ${r.stdout}${r.stderr}`);
  return m[1]!;
}

let out: string;
beforeAll(() => {
  execFileSync(process.execPath, [join(ROOT, 'scripts', 'link-collection.mjs')]);
  out = mkdtempSync(join(tmpdir(), 'sbdi-filters-'));
  writeRendered(renderPlan(planFromInventory(join(ROOT, 'tests', 'fixtures', 'inventories', 'seed', 'hosts')), '// bundle\n'), out);
});
afterAll(() => rmSync(out, { recursive: true, force: true }));

describe('plugins/filter/sbdi.py', () => {
  it('passes its unit tests', async () => {
    const r = await run(await ansiblePython(), ['-m', 'unittest', 'discover', '-s', join(__dirname), '-p', 'test_*.py'], { env: ENV, timeoutMs: 120_000 });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stderr).toMatch(/^OK$/m);
  });

  it('works in Ansible as sbdi.backup.sbdi_to_install and sbdi.backup.sbdi_stale on a rendering', async () => {
    const host = JSON.parse(readFileSync(join(out, 'manager-1', 'host.json'), 'utf8')) as { expected: { files: string[]; dirs: string[] } };
    const manifest = yaml.load(readFileSync(join(out, 'manager-1', 'MANIFEST.yml'), 'utf8')) as { path: string; kind: string; sha1?: string; mode: string }[];
    const plan = JSON.parse(readFileSync(join(out, PLAN_FILE), 'utf8')) as unknown;
    const [first, ...rest] = manifest.filter((e) => e.kind === 'file');
    // Every file in place except the first; one stray capsule, the director's bundle, and the
    // runtime library at the path earlier versions installed it.
    const installed = [
      ...rest.map((e) => `${e.sha1}  ${e.path}`),
      '--- sbdi stat',
      ...rest.map((e) => `root root ${Number.parseInt(e.mode, 8).toString(8)} ${e.path}`),
    ];
    const found = ['d /opt/sbdi/backup/libexec', 'f /opt/sbdi/backup/libexec/old capsule', 'f /opt/sbdi/backup/lib/director.cjs', 'd /opt/sbdi/backup/lib', 'f /opt/sbdi/lib/log_utils'];
    const vars = JSON.stringify({ manifest, installed, found, plan, expected: host.expected });
    const expr =
      "{{ {'install': manifest | sbdi.backup.sbdi_to_install(installed) | map(attribute='path') | list," +
      " 'stale': found | sbdi.backup.sbdi_stale(plan, expected.files, expected.dirs)} | to_json }}";
    const r = await run('ansible', ['localhost', '-c', 'local', '-m', 'ansible.builtin.debug', '-a', `msg=${expr}`, '-e', vars], { env: ENV, timeoutMs: 120_000 });
    const m = /"msg": "(.*)"\s*$/m.exec(r.stdout);
    expect(m, r.stdout + r.stderr).not.toBeNull();
    const got = JSON.parse(JSON.parse(`"${m![1]}"`) as string) as unknown;
    expect(got).toEqual({
      install: [first!.path, ...manifest.filter((e) => e.kind === 'sudoers').map((e) => e.path)],
      stale: { files: ['/opt/sbdi/backup/libexec/old capsule', '/opt/sbdi/lib/log_utils'], dirs: ['/opt/sbdi/backup/lib'] },
    });
  });
});

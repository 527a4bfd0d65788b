// The inventory contract in one place: src/plan/settings.ts names every variable the plan reads,
// docs/inventory.md and the render role's meta/argument_specs.yml are generated from it
// (UPDATE_DOCS=1 rewrites both), and the README points there.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ARGUMENT_SPECS_PATH, argumentSpecsYaml } from '../../../src/plan/argument-specs';
import { SOURCE_DEFAULTS } from '../../../src/plan/build';
import { durationSeconds } from '../../../src/plan/checks';
import { SETTINGS, namesOf, settingsMarkdown, variables, type Variable } from '../../../src/plan/settings';

const ROOT = join(__dirname, '..', '..', '..');
const BUILD = readFileSync(join(ROOT, 'src/plan/build.ts'), 'utf8');
const BACKENDS = ['gluster', 'lvm', 'btrfs', 'zfs'];

/** Every variable name build.ts reads: its string literals, and the names its templates make. */
function namesRead(): Set<string> {
  const names = new Set([...BUILD.matchAll(/'((?:deployment|backup|gluster|lvm|btrfs|zfs)_[a-z0-9_]+)'/g)].map((m) => m[1]!));
  for (const [, suffix] of BUILD.matchAll(/`\$\{(?:b|backend)\}(_[a-z_]+)`/g)) for (const b of BACKENDS) names.add(`${b}${suffix}`);
  // retentionOf(v, PREFIX): PREFIX_last, _daily, _weekly, _monthly, _minimum.
  for (const [, prefix] of BUILD.matchAll(/retentionOf\(v, '([a-z_]+)'/g)) {
    names.delete(prefix!);
    for (const s of ['last', 'daily', 'weekly', 'monthly', 'minimum']) names.add(`${prefix}_${s}`);
  }
  return names;
}

describe('the inventory contract', () => {
  const listed = SETTINGS.flatMap(namesOf);

  it('lists every variable the plan reads, and nothing it does not', () => {
    const read = namesRead();
    expect([...read].filter((n) => !listed.includes(n)).sort(), 'read by src/plan/build.ts, missing in src/plan/settings.ts').toEqual([]);
    expect(listed.filter((n) => !read.has(n)).sort(), 'in src/plan/settings.ts, never read').toEqual([]);
    expect(new Set(listed).size).toBe(listed.length);
  });

  it('docs/inventory.md is generated from it', () => {
    const path = join(ROOT, 'docs/inventory.md');
    if (process.env.UPDATE_DOCS === '1') writeFileSync(path, settingsMarkdown());
    expect(readFileSync(path, 'utf8')).toBe(settingsMarkdown());
  });

  it("the render role's meta/argument_specs.yml is generated from it", () => {
    const path = join(ROOT, ARGUMENT_SPECS_PATH);
    if (process.env.UPDATE_DOCS === '1') writeFileSync(path, argumentSpecsYaml());
    expect(readFileSync(path, 'utf8')).toBe(argumentSpecsYaml());
  });

  it('gives the defaults and ranges build.ts applies', () => {
    const byName = new Map(variables().map((x) => [x.name, x]));
    const checked = new Set<string>();
    /** `7 * 86400` → 604800: the literals build.ts writes its numbers as. */
    const num = (text: string) => text.split('*').reduce((p, f) => p * Number(f.trim().replace(/_/g, '')), 1);
    const NUM = '(\\d[\\d_]*(?: \\* \\d+)*)';
    const expectVar = (name: string, want: { default?: unknown; min?: number; max?: number; choices?: string[] }) => {
      if (name.startsWith('ansible_')) return; // Ansible's own connection variables
      const x: Variable | undefined = byName.get(name);
      expect(x, `${name} in src/plan/settings.ts`).toBeDefined();
      const a = x!.accepts;
      if ('default' in want) {
        const given = a.kind === 'duration' && x!.default !== undefined ? durationSeconds(x!.default) : x!.default;
        expect(given, `${name}: default`).toEqual(want.default);
      }
      if (want.min !== undefined) expect(a.kind === 'integer' || a.kind === 'duration' ? [a.min, a.max] : a.kind, `${name}: range`).toEqual([want.min, want.max]);
      if (want.choices !== undefined) expect(a.kind === 'choice' ? [...a.choices] : a.kind, `${name}: choices`).toEqual(want.choices);
      checked.add(name);
    };
    for (const m of BUILD.matchAll(new RegExp(`\\.(integer|duration)\\('([a-z_]+)', ${NUM}, ${NUM}, ${NUM}\\)`, 'g'))) {
      expectVar(m[2]!, { default: num(m[3]!), min: num(m[4]!), max: num(m[5]!) });
    }
    for (const m of BUILD.matchAll(/\.bool\('([a-z_]+)', (true|false)\)/g)) expectVar(m[1]!, { default: m[2] === 'true' });
    for (const m of BUILD.matchAll(/\.(?:path|matching)\('([a-z_]+)', '([^']+)'/g)) expectVar(m[1]!, { default: m[2] });
    for (const m of BUILD.matchAll(/\.oneOf\('([a-z_]+)', '([^']+)', (\[[^\]]*\]|[A-Z_]+)/g)) {
      const list = m[3]!.startsWith('[') ? m[3]! : new RegExp(`const ${m[3]}[^=]*= (\\[[^\\]]*\\])`).exec(BUILD)![1]!;
      expectVar(m[1]!, { default: m[2], choices: [...list.matchAll(/'([^']+)'/g)].map((c) => c[1]!) });
    }
    // retentionOf(v, PREFIX): PREFIX_minimum and the optional PREFIX_last, _daily, _weekly, _monthly.
    const minimum = /\.integer\(`\$\{prefix\}_minimum`, (\d+), (\d+), (\d+)\)/.exec(BUILD)!;
    const optional = /\.optionalInteger\(`\$\{prefix\}_\$\{suffix\}`, (\d+), (\d+)\)/.exec(BUILD)!;
    for (const [, prefix] of BUILD.matchAll(/retentionOf\(v, '([a-z_]+)'/g)) {
      expectVar(`${prefix}_minimum`, { default: Number(minimum[1]), min: Number(minimum[2]), max: Number(minimum[3]) });
      for (const s of ['last', 'daily', 'weekly', 'monthly']) expectVar(`${prefix}_${s}`, { default: undefined, min: Number(optional[1]), max: Number(optional[2]) });
    }
    // A source's backend variables take their defaults from SOURCE_DEFAULTS.
    const chosen = /\.bool\(`\$\{b\}_backup_source`, (true|false)\)/.exec(BUILD)!;
    for (const [b, d] of Object.entries(SOURCE_DEFAULTS)) {
      expectVar(`${b}_backup_source`, { default: chosen[1] === 'true' });
      expectVar(`${b}_backup_source_dir`, { default: d.dir });
      expectVar(`${b}_backup_source_snapshot_mount_point`, { default: d.mount });
    }
    expectVar('gluster_backup_source_volume', { default: SOURCE_DEFAULTS.gluster.volume });
    expectVar('lvm_backup_source_volume_group', { default: SOURCE_DEFAULTS.lvm.vg });
    expectVar('lvm_backup_source_volume', { default: SOURCE_DEFAULTS.lvm.lv });
    // What build.ts reads otherwise than through these calls: checked by the tests of build.ts.
    const unchecked = variables().filter((x) => (x.default !== undefined || x.accepts.kind === 'integer' || x.accepts.kind === 'duration') && !checked.has(x.name));
    expect(unchecked.map((x) => x.name).sort()).toEqual(['backup_push_limit', 'backup_schedule', 'backup_snapshot_storage']);
  });

  it('the README points to it instead of keeping a table of its own', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    expect(readme).toContain('docs/inventory.md');
    expect(readme).not.toMatch(/^\| `backup_pause_deadline` \|/m);
  });
});

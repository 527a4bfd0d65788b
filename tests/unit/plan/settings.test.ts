// The inventory contract in one place: src/plan/settings.ts names every variable the plan reads,
// docs/inventory.md is generated from it (UPDATE_DOCS=1 rewrites it), and the README points there.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SETTINGS, settingsMarkdown } from '../../../src/plan/settings';

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
  const listed = SETTINGS.flatMap((s) => s.names);

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

  it('the README points to it instead of keeping a table of its own', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    expect(readme).toContain('docs/inventory.md');
    expect(readme).not.toMatch(/^\| `backup_pause_deadline` \|/m);
  });
});

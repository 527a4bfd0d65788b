// The filter rules sbdi_tree_changes writes for a push of only the changes (rendered, run on two
// listings): what they include and exclude, and when there are none (the directories then go in a
// pass of their own). What rsync makes of them is tested in tests/storage/backends.test.ts.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { renderedFunction } from './rendered';

let fn: string;
beforeAll(() => {
  fn = ['sbdi_tree_changes', 'sbdi_tree_compare'].map((name) => renderedFunction('solr-1', 'perform_rsync', name).fn).join('\n');
});

type Entry = [path: string, type: 'd' | 'f', inode: number, mtime: number];

/** The rules (and the directories of a pass of their own) for a tree going from OLD to NEW. */
function changes(old: Entry[], now: Entry[]): { rules: string[]; dirs: string[] } {
  const dir = mkdtempSync(join(tmpdir(), 'sbdi-tree-changes-'));
  const listing = (entries: Entry[]) =>
    Buffer.concat(
      entries
        .map(([p, t, i, m]) => `${p === '.' ? '' : p}\t${t} ${i} 1 ${t === 'f' ? 4 : 0} ${m}.0000000000 ${m}.0000000000 644 0 0`)
        .sort()
        .map((r) => Buffer.from(`${r}\0`)),
    );
  writeFileSync(join(dir, 'old'), listing(old));
  writeFileSync(join(dir, 'new'), listing(now));
  const r = spawnSync('bash', ['-c', `set -euo pipefail\n${fn}\ncd "$1" && sbdi_tree_changes old new main renewed dirs delta rules`, '-', dir], { encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
  // The comparison's own files went beside the new listing (not to /tmp), and are gone.
  expect(readdirSync(dir).sort()).toEqual(['delta', 'dirs', 'main', 'new', 'old', 'renewed', 'rules']);
  const read = (f: string) => readFileSync(join(dir, f), 'utf8').split('\0').filter((x) => x !== '');
  return { rules: read('rules'), dirs: read('dirs') };
}

const top: Entry = ['.', 'd', 1, 100];

describe('sbdi_tree_changes: the filter rules of the first pass', () => {
  it('a file of the top directory changed, nothing gone: the top directory is filtered to it (its times set last)', () => {
    expect(changes([top, ['top', 'f', 2, 100], ['other', 'f', 3, 100]], [top, ['top', 'f', 2, 200], ['other', 'f', 3, 100]])).toEqual({
      rules: ['+ /top', '- /*'],
      dirs: [],
    });
  });

  it('names gone are included, escaped where they are patterns; the directory above them is too', () => {
    const d: Entry = ['d', 'd', 4, 100];
    const { rules } = changes([top, d, ['d/keep', 'f', 5, 100], ['d/b\\*ck', 'f', 6, 100], ['d/q[a]x', 'f', 7, 100]], [top, ['d', 'd', 4, 200], ['d/keep', 'f', 5, 100]]);
    expect(rules).toEqual(['+ /d', '+ /d/b\\\\\\*ck', '+ /d/q\\[a]x', '- /*', '- /d/*']);
  });

  it('none past 500 rules, nor when one would be 4000 bytes or more: the directories go in a pass of their own', () => {
    const many: Entry[] = Array.from({ length: 600 }, (_, i) => [`f${i}`, 'f', 10 + i, 100]);
    const past = changes([top, ...many], [['.', 'd', 1, 200], ...many.slice(0, 50)]);
    expect(past).toEqual({ rules: [], dirs: ['.', './'] });
    let deep = '';
    const chain: Entry[] = [];
    for (let i = 0; i < 10; i++) {
      deep = deep === '' ? '*'.repeat(200) : `${deep}/${'*'.repeat(200)}`;
      chain.push([deep, 'd', 100 + i, 100]);
    }
    const long = changes([top, ...chain, [`${deep}/gone`, 'f', 200, 100]], [top, ...chain.slice(0, 9), [deep, 'd', 109, 200]]);
    expect(long.rules).toEqual([]);
    expect(long.dirs).toEqual([`${deep}/`]);
  });
});

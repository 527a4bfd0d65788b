// rsync's --info=progress2 writes an update per file; a push or restore passes its stdout to the
// director, where each update is work for its connection. The throttle between them must keep every
// line that is not an update (the stats the result is read from, rsync's messages) and let
// through at most about one update a second. Run here on real rsync output.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { renderedFunction } from './rendered';

let fn: string;
let raw: string;

beforeAll(() => {
  fn = renderedFunction('solr-1', 'perform_rsync', 'rsync_progress_throttle').fn;
  // A tree of 3000 small files copied by rsync as a push copies: its stdout as the throttle gets it.
  const dir = mkdtempSync(join(tmpdir(), 'sbdi-progress-tree-'));
  for (let d = 0; d < 30; d++) {
    mkdirSync(join(dir, 'src', `d${d}`), { recursive: true });
    for (let f = 0; f < 100; f++) writeFileSync(join(dir, 'src', `d${d}`, `f${f}`), `${d}/${f}\n`.repeat(f));
  }
  const r = spawnSync('rsync', ['--archive', '--no-human-readable', '--stats', '--info=progress2', `${dir}/src/`, `${dir}/dst/`], { encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
  raw = r.stdout;
});

function throttle(input: string): string {
  const r = spawnSync('bash', ['-c', `set -euo pipefail\n${fn}\nrsync_progress_throttle`], { input, encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
  return r.stdout;
}

describe('rsync_progress_throttle', () => {
  it('lets through a few of rsync\'s thousands of updates', () => {
    expect(raw.split('\r').length - 1).toBeGreaterThan(1000);
    const t0 = Date.now();
    const out = throttle(raw);
    const seconds = Math.ceil((Date.now() - t0) / 1000);
    expect(out.split('\r').length - 1).toBeLessThanOrEqual(seconds + 1);
    expect(out).toMatch(/^ *[\d,]+ +\d+% .*\r/m);
  });

  it('keeps every line that is not an update, in order, the stats whole', () => {
    const lines = (s: string) => s.split(/\r|\n/).filter((l) => l !== '' && !/^ *[\d,]+ +\d+% /.test(l));
    const out = throttle(raw);
    expect(lines(out)).toEqual(lines(raw));
    const stats = (s: string) => s.slice(s.indexOf('\nNumber of files:'));
    expect(stats(out)).toBe(stats(raw));
    expect(stats(out)).toMatch(/^\nNumber of files: 3,?031 .*\nNumber of created files:/);
  });

  it('prints what follows the last line break even without one', () => {
    expect(throttle('a\nb\rc\nlast')).toBe('a\nb\rc\nlast\n');
    expect(throttle('')).toBe('');
  });
});

// Writes a planned tree to a temporary directory, applies a mutation to it, and checks the result.
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { afterMutation, applyMutation, writeCorpus, type CorpusPlan, type Mutation } from '../../../tools/bench/corpus';

/** After the mutation: the planned file count, deleted files gone, added ones of their size, changed ones rewritten (an empty one stays empty). */
export function expectMutationOnDisk(plan: CorpusPlan, m: Mutation): void {
  const root = mkdtempSync(join(tmpdir(), 'sbdi-bench-'));
  try {
    writeCorpus(root, plan);
    const before = new Map(m.changed.map((f) => [f.path, readFileSync(join(root, f.path))]));
    applyMutation(root, plan.seed, m);
    const after = afterMutation(plan.files, m);
    const count = (d: string): number => readdirSync(d, { withFileTypes: true }).reduce((n, e) => n + (e.isDirectory() ? count(join(d, e.name)) : 1), 0);
    expect(count(root)).toBe(after.length);
    for (const f of m.deleted) expect(existsSync(join(root, f.path))).toBe(false);
    for (const f of m.added) expect(statSync(join(root, f.path)).size).toBe(f.size);
    for (const f of m.changed) {
      const now = readFileSync(join(root, f.path));
      expect(now.length).toBe(f.size);
      if (f.size > 0) expect(now.equals(before.get(f.path)!)).toBe(false);
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

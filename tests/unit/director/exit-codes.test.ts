import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EXIT, EXIT_MEANING } from '../../../src/director/exit-codes';

describe('docs/exit-codes.md', () => {
  it('documents every exit code with the same meaning as the code says', () => {
    const doc = readFileSync(join(__dirname, '../../../docs/exit-codes.md'), 'utf8');
    const rows = new Map([...doc.matchAll(/^\| (\d+) \| (.+) \|$/gm)].map((m) => [Number(m[1]), m[2]]));
    expect([...rows.keys()].sort((a, b) => a - b)).toEqual(Object.values(EXIT).sort((a, b) => a - b));
    for (const [code, meaning] of Object.entries(EXIT_MEANING)) expect(rows.get(Number(code))).toBe(meaning);
  });

  it('codes are distinct', () => {
    expect(new Set(Object.values(EXIT)).size).toBe(Object.values(EXIT).length);
  });
});

import type { CapsuleResult } from './types';

const PREFIX = 'SBDI-RESULT ';

/**
 * Reads the capsule protocol's last line. Only the last non-empty line counts: a capsule that
 * died half-way must not be credited with a result line some tool printed earlier.
 */
export function parseResultLine(stdout: string): CapsuleResult | undefined {
  const lines = stdout.split('\n');
  let i = lines.length - 1;
  while (i >= 0 && (lines[i] ?? '').trim() === '') i--;
  const last = (lines[i] ?? '').replace(/\r$/, '');
  if (!last.startsWith(PREFIX)) return undefined;
  try {
    const value: unknown = JSON.parse(last.slice(PREFIX.length));
    if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined;
    return value as CapsuleResult;
  } catch {
    return undefined;
  }
}

const MARK = /^SBDI-MARK ([a-z]+)\r?$/;

/**
 * Feeds stdout chunks and calls onMark with the word of every complete `SBDI-MARK <word>` line
 * (a capsule telling the director where it is before it ends: `ready`, `taken`). Lines may be
 * split across chunks; anything else on stdout is left to the final result line.
 */
export function markScanner(onMark: (mark: string) => void): (chunk: Buffer) => void {
  let pending = '';
  return (chunk) => {
    pending += chunk.toString('utf8');
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) {
      const m = MARK.exec(line);
      if (m) onMark(m[1] as string);
    }
  };
}

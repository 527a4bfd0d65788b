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

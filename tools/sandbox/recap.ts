/** One host's line of an ansible-playbook PLAY RECAP. */
export interface RecapLine {
  host: string;
  ok: number;
  changed: number;
  unreachable: number;
  failed: number;
  skipped: number;
  rescued: number;
  ignored: number;
}

const FIELDS = ['ok', 'changed', 'unreachable', 'failed', 'skipped', 'rescued', 'ignored'] as const;

/** Parses the PLAY RECAP of the last play run in `output` (ANSI colour codes tolerated). */
export function parseRecap(output: string): RecapLine[] {
  // eslint-disable-next-line no-control-regex
  const text = output.replace(/\x1b\[[0-9;]*m/g, '');
  const at = text.lastIndexOf('PLAY RECAP');
  if (at < 0) return [];
  const lines: RecapLine[] = [];
  for (const raw of text.slice(at).split('\n').slice(1)) {
    const m = /^(\S+)\s+:\s+(.*)$/.exec(raw.trim());
    if (!m) {
      if (lines.length > 0 && raw.trim() === '') break;
      continue;
    }
    const counts = Object.fromEntries([...m[2]!.matchAll(/(\w+)=(\d+)/g)].map((x) => [x[1]!, Number(x[2])]));
    const line: RecapLine = { host: m[1]!, ok: 0, changed: 0, unreachable: 0, failed: 0, skipped: 0, rescued: 0, ignored: 0 };
    for (const f of FIELDS) line[f] = counts[f] ?? 0;
    lines.push(line);
  }
  return lines;
}

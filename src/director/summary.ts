/** The final table every long command prints: one row per phase and host. */
import { formatBytes, formatCount, formatDuration, renderTable } from './format';
import type { PhaseRecord } from './reporter';

export function phaseTable(phases: readonly PhaseRecord[]): string {
  const rows = phases.map((p) => [
    p.phase,
    p.host,
    formatDuration(p.endedAt === undefined ? undefined : p.endedAt - p.startedAt),
    formatBytes(p.bytes),
    formatCount(p.files),
    p.ok === undefined ? 'running' : p.ok ? 'ok' : 'FAILED',
  ]);
  return renderTable(['PHASE', 'HOST', 'DURATION', 'BYTES', 'FILES', 'STATUS'], rows, [2, 3, 4]);
}

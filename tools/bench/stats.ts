/** The bench's arithmetic and tables: pure, unit-tested. */
import type { PeerName } from './peers';

/** Median of the values (mean of the middle two for an even count); undefined for none. */
export function median(xs: readonly number[]): number | undefined {
  if (xs.length === 0) return undefined;
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** ours / baseline, undefined when either is missing or the baseline is 0. */
export function ratio(ours: number | undefined, baseline: number | undefined): number | undefined {
  if (ours === undefined || baseline === undefined || baseline === 0) return undefined;
  return ours / baseline;
}

export function formatSeconds(ms: number | undefined): string {
  return ms === undefined ? '–' : `${(ms / 1000).toFixed(1)} s`;
}

export function formatRatio(r: number | undefined): string {
  return r === undefined ? '–' : `${r.toFixed(2)}×`;
}

/** Verdict against a ceiling: `yes` / `NO` (– when there is no figure). */
export function meets(value: number | undefined, ceiling: number): string {
  return value === undefined ? '–' : value <= ceiling ? 'yes' : 'NO';
}

/** A GitHub markdown table; cells may not contain '|' (escaped) or newlines (spaced). */
export function markdownTable(header: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  const cell = (s: string): string => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
  const line = (cells: readonly string[]): string => `| ${cells.map(cell).join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

/** Who is measured: ours, the two bare rsync baselines, and the peers. */
export type Side = 'ours' | 'bare' | 'fidelity' | PeerName;

/** How the tables name each side. */
export const SIDE_LABELS: Record<Side, string> = { ours: 'ours', bare: 'rsync -a', fidelity: 'rsync -aHAX', restic: 'restic', borg: 'borg' };

/** One throughput measurement kind, every run of it, for every side measured. */
export interface Series {
  what: string;
  /** Each side's time per run, ms. */
  ms: Partial<Record<Side, number[]>>;
  /** Each side's store size after the measurement, per run, bytes (backups only). */
  storeBytes?: Partial<Record<Side, number[]>>;
  /** Backups: `rsync -aHAX` and then `sync -f` of its copies on the target, per run, ms (ours is on disk when it answers). */
  fidelitySyncedMs?: number[];
}

/** Ceiling of ours / bare rsync. */
export const RATIO_TARGET = 1.1;
/** Ceilings of the platform's freeze (median), ms, by the number of docker hosts (20 containers each). */
export const FREEZE_TARGET_MS: Readonly<Record<number, number>> = { 5: 250, 20: 500 };

export function formatMiB(bytes: number | undefined): string {
  return bytes === undefined ? '–' : `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}

function eachRun(xs: readonly number[] | undefined): string {
  return (xs ?? []).map((x) => (x / 1000).toFixed(1)).join(', ') || '–';
}

/**
 * One measurement, one row per side in `sides`' order: its median, that median divided by bare
 * `rsync -a`'s, by `rsync -aHAX`'s and by restic's (columns only for sides that were measured), every
 * run, and the store's size after it (when measured).
 */
export function throughputTable(s: Series, sides: readonly Side[]): string {
  const med = (side: Side): number | undefined => median(s.ms[side] ?? []);
  const against = (['bare', 'fidelity', 'restic'] as const).filter((b) => sides.includes(b));
  const withStore = s.storeBytes !== undefined && Object.values(s.storeBytes).some((xs) => (xs ?? []).length > 0);
  return markdownTable(
    ['side', 'runs', 'median', ...against.map((b) => `÷ ${SIDE_LABELS[b]}`), 'each run (s)', ...(withStore ? ['store after (median)'] : [])],
    sides.map((side) => {
      const m = med(side);
      return [
        SIDE_LABELS[side],
        String((s.ms[side] ?? []).length),
        formatSeconds(m),
        ...against.map((b) => formatRatio(ratio(m, med(b)))),
        eachRun(s.ms[side]),
        ...(withStore ? [formatMiB(median(s.storeBytes?.[side] ?? []))] : []),
      ];
    }),
  );
}

/** Ours against the ceiling, per measurement: ÷ `rsync -a` and ÷ `rsync -aHAX`, and whether each is met. */
export function ceilingTable(series: readonly Series[]): string {
  const synced = series.some((s) => s.fidelitySyncedMs !== undefined);
  return markdownTable(
    ['measurement', 'ours (median)', '÷ rsync -a', '÷ rsync -aHAX', `≤ ${RATIO_TARGET.toFixed(2)}× (-a / -aHAX)`, ...(synced ? ['÷ rsync -aHAX, then its sync'] : [])],
    series.map((s) => {
      const o = median(s.ms.ours ?? []);
      const a = ratio(o, median(s.ms.bare ?? []));
      const f = ratio(o, median(s.ms.fidelity ?? []));
      const d = s.fidelitySyncedMs === undefined ? undefined : ratio(o, median(s.fidelitySyncedMs));
      return [s.what, formatSeconds(o), formatRatio(a), formatRatio(f), `${meets(a, RATIO_TARGET)} / ${meets(f, RATIO_TARGET)}`, ...(synced ? [d === undefined ? '–' : formatRatio(d)] : [])];
    }),
  );
}

export interface PauseSeries {
  dockerHosts: number;
  containersPerHost: number;
  /** Containers the manifests say were paused (per run, summed over hosts). */
  paused: number[];
  /** The manifest's `pause.freezeMs` per run: first container frozen anywhere → last thawed anywhere. */
  freezeMs: number[];
  /** The manifest's `pause.durationMs` per run: last host paused → first host unpaused. */
  windowMs: number[];
}

function msRange(xs: readonly number[]): string {
  const ok = xs.filter((x) => Number.isFinite(x));
  return ok.length ? `${Math.min(...ok)} – ${Math.max(...ok)} ms` : '–';
}

function msMedian(xs: readonly number[]): number | undefined {
  return median(xs.filter((x) => Number.isFinite(x)));
}

/** The pause series: the freeze first (what the platform feels), the window beside it. */
export function pauseTable(series: readonly PauseSeries[]): string {
  return markdownTable(
    ['docker hosts', 'containers per host', 'runs', 'containers paused', 'freeze (median)', 'freeze min – max', 'window (median)', 'window min – max', 'freeze target'],
    series.map((s) => {
      const f = msMedian(s.freezeMs ?? []);
      const w = msMedian(s.windowMs);
      return [
        String(s.dockerHosts),
        String(s.containersPerHost),
        String(s.windowMs.length),
        [...new Set(s.paused)].join(', '),
        f === undefined ? '–' : `${Math.round(f)} ms`,
        msRange(s.freezeMs ?? []),
        w === undefined ? '–' : `${Math.round(w)} ms`,
        msRange(s.windowMs),
        FREEZE_TARGET_MS[s.dockerHosts] === undefined ? '–' : `≤ ${FREEZE_TARGET_MS[s.dockerHosts]} ms: ${meets(f, FREEZE_TARGET_MS[s.dockerHosts]!)}`,
      ];
    }),
  );
}

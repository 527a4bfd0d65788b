/** The bench's arithmetic and tables: pure, unit-tested. */

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

/** One throughput measurement kind, every run of it. */
export interface Series {
  what: string;
  oursMs: number[];
  bareMs: number[];
  /** The bare rsync with our fidelity flags (-aHAX --sparse --numeric-ids), when measured. */
  fidelityMs?: number[];
}

/** Ceiling of ours / bare rsync from the issue. */
export const RATIO_TARGET = 1.1;
/** Ceiling of the pause window with 5 docker hosts, ms. */
export const PAUSE_TARGET_MS = 500;

export function throughputTable(series: readonly Series[]): string {
  return markdownTable(
    [
      'measurement', 'runs', 'ours (median)', 'bare rsync (median)', 'ours / bare', `≤ ${RATIO_TARGET.toFixed(2)}×`,
      'bare -aHAX (median)', 'ours / bare -aHAX', 'ours, each run', 'bare, each run', 'bare -aHAX, each run',
    ],
    series.map((s) => {
      const o = median(s.oursMs);
      const b = median(s.bareMs);
      const f = median(s.fidelityMs ?? []);
      const r = ratio(o, b);
      const each = (xs: readonly number[] | undefined): string => (xs ?? []).map((x) => (x / 1000).toFixed(1)).join(', ') || '–';
      return [
        s.what,
        String(Math.min(s.oursMs.length, s.bareMs.length)),
        formatSeconds(o),
        formatSeconds(b),
        formatRatio(r),
        meets(r, RATIO_TARGET),
        formatSeconds(f),
        formatRatio(ratio(o, f)),
        each(s.oursMs),
        each(s.bareMs),
        each(s.fidelityMs),
      ];
    }),
  );
}

export interface PauseSeries {
  dockerHosts: number;
  containersPerHost: number;
  /** Containers the manifests say were paused (per run, summed over hosts). */
  paused: number[];
  windowMs: number[];
}

export function pauseTable(series: readonly PauseSeries[]): string {
  return markdownTable(
    ['docker hosts', 'containers per host', 'runs', 'containers paused', 'pause window (median)', 'min – max', `≤ ${PAUSE_TARGET_MS} ms`],
    series.map((s) => {
      const m = median(s.windowMs);
      return [
        String(s.dockerHosts),
        String(s.containersPerHost),
        String(s.windowMs.length),
        [...new Set(s.paused)].join(', '),
        m === undefined ? '–' : `${Math.round(m)} ms`,
        s.windowMs.length ? `${Math.min(...s.windowMs)} – ${Math.max(...s.windowMs)} ms` : '–',
        s.dockerHosts === 5 ? meets(m, PAUSE_TARGET_MS) : '(target is for 5)',
      ];
    }),
  );
}

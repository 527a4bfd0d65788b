/**
 * Value checks shared by plan building and by the capsules' own argument checks.
 * Every value that ends up in a script, a sudoers line or an ssh option passes one of these.
 */

/** Host names and the deployment prefix: no '@+' separator, nothing a shell or sudoers treats specially. */
export const HOST_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
/** Absolute paths: no '..', no '//', no trailing '/', only portable characters. */
export const PATH_CHARS = /^\/[A-Za-z0-9._/-]*$/;
/** Names of LVM volume groups, logical volumes, gluster volumes, ZFS pools and datasets. */
export const OBJECT_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
export const DATASET_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}(\/[A-Za-z0-9][A-Za-z0-9._-]{0,63})*$/;
/** Backup identifiers: `YYYYMMDD_HHMMSS`. */
export const BACKUP_ID = /^[0-9]{8}_[0-9]{6}$/;
/**
 * A path inside a source's live dir, relative to it (the partial-restore selector as capsules take
 * it): components of `[A-Za-z0-9._-]`, separated by single '/', none of them '.' or '..', none
 * starting with '-' (a component the tools it reaches could read as an option).
 */
export const SUBPATH = /^[A-Za-z0-9._][A-Za-z0-9._-]*(\/[A-Za-z0-9._][A-Za-z0-9._-]*)*$/;
/** The same as a POSIX ERE for sudoers (no '\\': sudoers would need it escaped); excludes '.' and '..' components. */
export const SUBPATH_ERE_COMPONENT = '([A-Za-z0-9_][A-Za-z0-9._-]*|[.][A-Za-z0-9_-][A-Za-z0-9._-]*|[.][.][A-Za-z0-9._-]+)';
export const SUBPATH_ERE = `^${SUBPATH_ERE_COMPONENT}(/${SUBPATH_ERE_COMPONENT})*$`;
export const SUBPATH_MAX = 1024;

export function isSubpath(v: unknown): v is string {
  return typeof v === 'string' && v.length <= SUBPATH_MAX && SUBPATH.test(v) && !v.split('/').some((c) => c === '.' || c === '..');
}

/** A connection address: host name, FQDN, IPv4 or IPv6 literal. */
export const CONNECTION = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,252}$/;
export const ZFS_COMPRESSION = /^(on|off|lz4|lzjb|zle|gzip|gzip-[1-9]|zstd|zstd-([1-9]|1[0-9])|zstd-fast)$/;
/** What zfs-fuse (pool version 23, no feature flags) accepts. */
export const ZFS_FUSE_COMPRESSION = /^(on|off|lzjb|zle|gzip|gzip-[1-9])$/;
export const BTRFS_COMPRESSION = /^(no|zlib|lzo|zstd)(:[0-9]{1,2})?$/;

/** What Ansible's `bool` reads as true and false (ansible.module_utils.parsing.convert_bool). */
const TRUE_WORDS = new Set(['y', 'yes', 'on', '1', 'true', 't']);
const FALSE_WORDS = new Set(['n', 'no', 'off', '0', 'false', 'f']);

/** Returns the boolean Ansible would read, or undefined when Ansible would not read it as a boolean. */
export function ansibleBoolean(v: unknown): boolean | undefined {
  if (typeof v === 'boolean') return v;
  if (v === 1 || v === 0) return v === 1;
  if (typeof v === 'string') {
    const w = v.trim().toLowerCase();
    if (TRUE_WORDS.has(w)) return true;
    if (FALSE_WORDS.has(w)) return false;
  }
  return undefined;
}

/** Non-negative integer, given as a number or a string of digits (INI values may arrive either way). */
export function nonNegativeInteger(v: unknown): number | undefined {
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return v;
  if (typeof v === 'string' && /^[0-9]{1,9}$/.test(v.trim())) return Number(v.trim());
  return undefined;
}

export function isSafePath(v: unknown): v is string {
  return (
    typeof v === 'string' &&
    v.length <= 255 &&
    PATH_CHARS.test(v) &&
    v !== '/' &&
    !v.endsWith('/') &&
    !v.includes('//') &&
    !v.split('/').some((part) => part === '..' || part === '.')
  );
}

/** `/docker_local` → `+docker_local`: the platform's way to put a path into one directory name. */
export function treeName(host: string, liveDir: string): string {
  return `${host}@${liveDir.replace(/\//g, '+')}`;
}

/** A duration: seconds, or a number with s, m, h or d (`90m`, `26h`, `7d`). */
export function durationSeconds(v: unknown): number | undefined {
  const text = typeof v === 'number' ? String(v) : typeof v === 'string' ? v.trim() : undefined;
  if (text === undefined) return undefined;
  const m = /^([0-9]{1,7})([smhd]?)$/.exec(text);
  if (!m) return undefined;
  const unit = { '': 1, s: 1, m: 60, h: 3600, d: 86400 }[m[2] as '' | 's' | 'm' | 'h' | 'd'];
  return Number(m[1]) * unit;
}

const WEEKDAYS = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'];
const CALENDAR_SHORTHANDS = ['minutely', 'hourly', 'daily', 'weekly', 'monthly', 'quarterly', 'semiannually', 'yearly', 'annually'];
/** `Mon`, `Sat,Sun`, `Mon..Fri` (a range runs forward: systemd refuses `Fri..Mon`). */
function isCalendarWeekdays(v: string): boolean {
  return v.split(',').every((item) => {
    const [a, b, ...rest] = item.split('..');
    if (rest.length > 0 || !WEEKDAYS.includes(a!)) return false;
    return b === undefined || WEEKDAYS.indexOf(b) >= WEEKDAYS.indexOf(a!);
  });
}
const CALENDAR_ITEM = /^([0-9]{1,4})(?:\.\.([0-9]{1,4})|\/([0-9]{1,4}))?$/;

/**
 * One field of a calendar value: `*`, or items joined by `,`, each `N`, `A..B` (A ≤ B; seconds A < B) or `N/STEP`
 * (STEP ≥ 1 and N + STEP within the field, as systemd requires), every number in [lo, hi].
 * A subset of systemd.time(7): whatever passes here systemd accepts too (tests/unit/render/systemd-units.test.ts
 * asks systemd-analyze), so a timer can never be installed with a value systemd ignores.
 */
function isCalendarField(field: string, lo: number, hi: number, seconds = false): boolean {
  if (field === '*') return true;
  return field.split(',').every((item) => {
    const m = CALENDAR_ITEM.exec(item);
    if (!m) return false;
    const a = Number(m[1]);
    if (a < lo || a > hi) return false;
    // systemd refuses an empty seconds range (`5..5`) while it takes `3..3` in other fields
    if (m[2] !== undefined) return Number(m[2]) >= a + (seconds ? 1 : 0) && Number(m[2]) <= hi;
    if (m[3] !== undefined) return Number(m[3]) >= 1 && a + Number(m[3]) <= hi;
    return true;
  });
}

/**
 * A systemd OnCalendar value we accept: a shorthand, or `[weekdays] [Y-M-D] H:M[:S]` (no time
 * zone, no `~`, no fractional seconds) with every number inside its field's range.
 */
export function isOnCalendar(v: unknown): v is string {
  if (typeof v !== 'string' || v.length > 80) return false;
  if (CALENDAR_SHORTHANDS.includes(v)) return true;
  const parts = v.split(' ');
  if (parts.length > 3 || parts.some((p) => p === '')) return false;
  const time = parts.pop()!.split(':');
  if (time.length < 2 || time.length > 3) return false;
  if (!isCalendarField(time[0]!, 0, 23) || !isCalendarField(time[1]!, 0, 59) || (time[2] !== undefined && !isCalendarField(time[2], 0, 59, true))) return false;
  if (parts.length > 0 && /^[0-9*]/.test(parts[parts.length - 1]!)) {
    const date = parts.pop()!.split('-');
    if (date.length !== 3) return false;
    const [year, month, day] = date as [string, string, string];
    if (!(year === '*' || (/^[0-9]{4}$/.test(year) && Number(year) >= 1970 && Number(year) <= 2199))) return false;
    if (!isCalendarField(month, 1, 12) || !isCalendarField(day, 1, 31)) return false;
  }
  return parts.length === 0 || (parts.length === 1 && isCalendarWeekdays(parts[0]!));
}

/** A five-field cron schedule of digits, '*', ',', '-', '/'. */
export const CRON_SCHEDULE = /^[0-9*,/-]{1,20}( [0-9*,/-]{1,20}){4}$/;

/** The cron equivalent of a simple OnCalendar value (shorthands, `*-*-* HH:MM[:00]`), else undefined. */
export function cronOf(onCalendar: string): string | undefined {
  const shorthand: Record<string, string> = { hourly: '0 * * * *', daily: '0 0 * * *', weekly: '0 0 * * 1', monthly: '0 0 1 * *' };
  if (shorthand[onCalendar]) return shorthand[onCalendar];
  const m = /^(\*-\*-\* )?([0-9]{1,2}(,[0-9]{1,2})*|\*):([0-9]{1,2}(,[0-9]{1,2})*)(:00?)?$/.exec(onCalendar);
  if (!m) return undefined;
  const hours = m[2]!.split(',');
  const minutes = m[4]!.split(',');
  if (hours.some((h) => h !== '*' && Number(h) > 23) || minutes.some((x) => Number(x) > 59)) return undefined;
  const strip = (xs: string[]) => xs.map((x) => (x === '*' ? x : String(Number(x)))).join(',');
  return `${strip(minutes)} ${strip(hours)} * * *`;
}

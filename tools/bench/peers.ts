/**
 * The peers: what an operator would run instead of this collection, restic and borg from Debian's
 * packages, each run as root on every source, one source after the other, into one repository per
 * source on the target host, over ssh with the same key and options as the bare rsync baseline.
 *
 * restic uses its sftp backend (sftp-server on the target); borg runs `borg serve` on the target over
 * ssh. borg's repositories have no encryption (`borg init -e none`); restic always encrypts, so it
 * reads a fixed password from a file. Both keep their own caches on the source (restic's file list and
 * index cache, borg's chunks and files caches) between a full and the next incremental, as an operator's
 * daily runs would; the bench removes them only with the repositories, before each full backup.
 *
 * Everything here is pure: shell text and the parsing of the tools' output.
 */

export type PeerName = 'restic' | 'borg';
export const PEER_NAMES: readonly PeerName[] = ['restic', 'borg'];

/** Where a source's repository is and how to reach it. */
export interface PeerTarget {
  /** The target's address (its container name on the sandbox network). */
  host: string;
  /** The directory on the target holding the peers' repositories (`<dir>/<peer>/<tree>`). */
  dir: string;
  /** ssh options: the bench's key, batch mode, the pinned host key. */
  sshOpts: string;
}

export interface PeerSource {
  /** The source's live dir. */
  dir: string;
  /** The tree's name in the store (one repository per tree). */
  tree: string;
}

/** restic reads its repository password from here (restic has no unencrypted repositories). */
export const RESTIC_PASSWORD_FILE = '/root/.sbdi-bench-restic-password';
/** Caches the tools keep on each source (removed with the repositories, before a full backup). */
export const PEER_CACHES = ['/root/.cache/restic', '/root/.cache/borg', '/root/.config/borg'] as const;

/** The product's own btrfs snapshot and its bases, at the top of a source's live dir: never backed up, emptied or restored by any side. */
export const OWN_NAMES = ['.sbdi-snapshot', '.sbdi-snapshot.base'] as const;

function ownDirs(s: PeerSource): string[] {
  return OWN_NAMES.map((name) => `${s.dir}/${name}`);
}

/** Single-quotes a word for bash. */
export function shq(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

export function repoPath(t: PeerTarget, peer: PeerName, s: PeerSource): string {
  return `${t.dir}/${peer}/${s.tree}`;
}

function restic(t: PeerTarget, s: PeerSource, args: string): string {
  const sftp = `ssh ${t.sshOpts} root@${t.host} -s sftp`;
  return `RESTIC_PASSWORD_FILE=${RESTIC_PASSWORD_FILE} restic -r ${shq(`sftp:root@${t.host}:${repoPath(t, 'restic', s)}`)} -o ${shq(`sftp.command=${sftp}`)} ${args}`;
}

function borgEnv(t: PeerTarget): string {
  // No passphrase to ask for, and no questions about an unencrypted repository.
  return `BORG_RSH=${shq(`ssh ${t.sshOpts}`)} BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK=yes BORG_RELOCATED_REPO_ACCESS_IS_OK=yes BORG_PASSPHRASE=''`;
}

function borgRepo(t: PeerTarget, s: PeerSource): string {
  return `ssh://root@${t.host}${repoPath(t, 'borg', s)}`;
}

/** Makes the source's empty repository (not timed). */
export function initCommand(peer: PeerName, t: PeerTarget, s: PeerSource): string {
  return peer === 'restic' ? restic(t, s, 'init --quiet') : `${borgEnv(t)} borg init -e none ${shq(borgRepo(t, s))}`;
}

/**
 * One backup of the source's live dir; prints the tool's JSON summary on stdout. `name` names borg's
 * archive (restic names its snapshots itself; the next backup finds its parent by host and path).
 */
export function backupCommand(peer: PeerName, t: PeerTarget, s: PeerSource, name: string): string {
  if (peer === 'restic') return restic(t, s, `backup --json --quiet ${ownDirs(s).map((d) => `--exclude ${shq(d)}`).join(' ')} ${shq(s.dir)}`);
  return `${borgEnv(t)} borg create --json ${ownDirs(s).map((d) => `--exclude ${shq(`pp:${d}`)}`).join(' ')} ${shq(`${borgRepo(t, s)}::${name}`)} ${shq(s.dir)}`;
}

/**
 * Restores the newest backup (restic) or archive `name` (borg) into the source's live dir: both store
 * absolute paths (borg without the leading slash), so both restore at `/`.
 */
export function restoreCommand(peer: PeerName, t: PeerTarget, s: PeerSource, name: string): string {
  if (peer === 'restic') return restic(t, s, 'restore latest --target /');
  return `cd / && ${borgEnv(t)} borg extract ${shq(`${borgRepo(t, s)}::${name}`)}`;
}

/** What one backup by a peer reports about itself. */
export interface PeerBackupSummary {
  /** Files the backup holds (restic: processed; borg: in the archive). */
  files: number;
  /** Files new or changed since the parent (restic only; borg does not say). */
  changedFiles?: number;
  /** Bytes the source's files hold. */
  bytes: number;
  /** Bytes added to the repository (after deduplication and compression). */
  addedBytes: number;
  /** The tool's own duration, seconds. */
  seconds: number;
  /** Its exit code when it ended with a warning (borg: 1), and how many lines it printed on stderr. */
  warning?: { code: number; stderrLines: number };
}

function num(x: unknown, what: string): number {
  if (typeof x !== 'number' || !Number.isFinite(x)) throw new Error(`${what}: not a number (${JSON.stringify(x)})`);
  return x;
}

/**
 * `restic backup --json`: one JSON object a line; the last with `message_type` "summary" is the result
 * (status lines may come before it, and other text on the line before a JSON object is not JSON).
 */
export function parseResticSummary(stdout: string): PeerBackupSummary {
  let summary: Record<string, unknown> | undefined;
  for (const line of stdout.split('\n')) {
    const t = line.trim();
    if (!t.startsWith('{')) continue;
    let o: unknown;
    try {
      o = JSON.parse(t);
    } catch {
      continue;
    }
    if (o && typeof o === 'object' && (o as Record<string, unknown>).message_type === 'summary') summary = o as Record<string, unknown>;
  }
  if (!summary) throw new Error(`restic printed no summary: ${stdout.trim().slice(-300)}`);
  return {
    files: num(summary.total_files_processed, 'restic total_files_processed'),
    changedFiles: num(summary.files_new, 'restic files_new') + num(summary.files_changed, 'restic files_changed'),
    bytes: num(summary.total_bytes_processed, 'restic total_bytes_processed'),
    addedBytes: num(summary.data_added, 'restic data_added'),
    seconds: num(summary.total_duration, 'restic total_duration'),
  };
}

/** `borg create --json`: one JSON document; the archive's stats are in `archive.stats`. */
export function parseBorgCreate(stdout: string): PeerBackupSummary {
  const start = stdout.indexOf('{');
  if (start < 0) throw new Error(`borg printed no JSON: ${stdout.trim().slice(-300)}`);
  let doc: { archive?: { duration?: unknown; stats?: Record<string, unknown> } };
  try {
    doc = JSON.parse(stdout.slice(start)) as typeof doc;
  } catch (e) {
    throw new Error(`borg's JSON does not parse (${(e as Error).message}): ${stdout.trim().slice(-300)}`);
  }
  const st = doc.archive?.stats;
  if (!st) throw new Error('borg create --json: no archive.stats');
  return {
    files: num(st.nfiles, 'borg nfiles'),
    bytes: num(st.original_size, 'borg original_size'),
    addedBytes: num(st.deduplicated_size, 'borg deduplicated_size'),
    seconds: num(doc.archive?.duration, 'borg duration'),
  };
}

/** The version out of `restic version` ("restic 0.14.0 compiled with …") or `borg --version` ("borg 1.2.4"). */
export function parseVersion(peer: PeerName, out: string): string {
  const re = peer === 'restic' ? /^restic (\d+\.\d+\.\d+)/m : /^borg (\d+\.\d+\.\d+)/m;
  const m = re.exec(out.trim());
  if (!m) throw new Error(`${peer}: cannot read the version from ${JSON.stringify(out.trim().slice(0, 200))}`);
  return m[1]!;
}

/** Parses `--peers`: a comma-separated list of peer names, or `none`; no repeats. */
export function parsePeers(v: string): PeerName[] {
  if (v === 'none' || v === '') return [];
  const out: PeerName[] = [];
  for (const x of v.split(',')) {
    if (!(PEER_NAMES as readonly string[]).includes(x)) throw new Error(`--peers ${JSON.stringify(v)}: ${JSON.stringify(x)} is not one of ${PEER_NAMES.join(', ')} (or none)`);
    if (out.includes(x as PeerName)) throw new Error(`--peers ${JSON.stringify(v)}: ${x} given twice`);
    out.push(x as PeerName);
  }
  return out;
}

/**
 * Exit codes a peer's command may end with and still have done its job: borg's 1 is "warning" (e.g. a
 * file changed while it was read: the writers keep writing, nothing is paused for the peers).
 */
export function acceptedCodes(peer: PeerName): number[] {
  return peer === 'borg' ? [0, 1] : [0];
}

/** Marker line a timed command's wrapper prints before the command's own output. */
export const TIMED_MARK = 'SBDI-BENCH-MS';

/**
 * Shell that runs `cmd` and prints `SBDI-BENCH-MS <ms> <exit code> <stderr lines>` (its wall time,
 * measured inside the host) and then what the command printed on stdout. An exit code not in `ok`
 * fails the script with that code and the command's stderr.
 */
export function timedScript(cmd: string, ok: readonly number[] = [0]): string {
  return [
    'out=$(mktemp); err=$(mktemp); trap \'rm -f "$out" "$err"\' EXIT',
    `s=$(date +%s%N); rc=0; ( ${cmd} ) >"$out" 2>"$err" || rc=$?; e=$(date +%s%N)`,
    `case " ${ok.join(' ')} " in *" $rc "*) ;; *) cat "$err" >&2; exit "$rc" ;; esac`,
    `echo "${TIMED_MARK} $(((e - s) / 1000000)) $rc $(wc -l <"$err")"; cat "$out"`,
  ].join('\n');
}

/** Splits timedScript's output into the time, the exit code, the stderr line count and the command's own stdout. */
export function parseTimed(text: string): { ms: number; code: number; stderrLines: number; stdout: string } {
  const i = text.indexOf(`${TIMED_MARK} `);
  if (i < 0) throw new Error(`no ${TIMED_MARK} line in ${JSON.stringify(text.slice(0, 200))}`);
  const end = text.indexOf('\n', i);
  const line = text.slice(i + TIMED_MARK.length + 1, end < 0 ? undefined : end).trim();
  const m = /^(\d+) (\d+) (\d+)$/.exec(line);
  if (!m) throw new Error(`${TIMED_MARK}: expected "<ms> <exit code> <stderr lines>", got ${JSON.stringify(line)}`);
  return { ms: Number(m[1]), code: Number(m[2]), stderrLines: Number(m[3]), stdout: end < 0 ? '' : text.slice(end + 1) };
}

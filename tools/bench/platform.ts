/**
 * What the bench does on a sandbox deployment: the operator's commands on the director (timed in
 * its shell, as the operator would see them), and the bare-rsync baseline over the same transport (ssh
 * between the same containers, into a dataset of the same pool with the same compression).
 */
import { HOSTS, TARGET_DATA_DIR, type Names } from '../sandbox/config';
import { SandboxError } from '../sandbox/errors';
import { DOCKER, dockerBash, run } from '../sandbox/exec';
import { targetRoot, type TargetBackend } from '../sandbox/inventory';
import {
  OWN_NAMES, PEER_CACHES, RESTIC_PASSWORD_FILE, acceptedCodes, backupCommand, initCommand, parseBorgCreate, parseResticSummary, parseTimed, restoreCommand, shq, timedScript,
  type PeerBackupSummary, type PeerName, type PeerTarget,
} from './peers';

export const DIRECTOR = 'backup-director';
export const TARGET = 'backup-target';

/** The platform's backup sources (host, live dir) and the tree each becomes in the store. */
export const SOURCES = HOSTS.filter((h) => h.sourceDir !== undefined).map((h) => ({
  host: h.name,
  dir: h.sourceDir!,
  tree: `${h.name}@${h.sourceDir!.replace(/\//g, '+')}`,
}));

/**
 * Where the product keeps its synced trees on the target (per backend), and where the bench keeps its
 * own copies (bare rsync's, the peers' repositories) beside them: on zfs a dataset of the same pool with
 * the same compression; on btrfs a second btrfs on a loop file mounted with the store's compress option
 * (so the store's own filesystem holds only ours and its used bytes are ours'); on a dir store a
 * directory on the same data volume.
 */
export interface TargetLayout {
  backend: TargetBackend;
  root: string;
  current: string;
  /** The bench's own copies: `<bench>/plain`, `<bench>/fidelity`, `<bench>/restic`, `<bench>/borg`. */
  bench: string;
}

export function targetLayout(backend: TargetBackend): TargetLayout {
  const root = targetRoot(backend);
  return { backend, root, current: `${root}/current`, bench: backend === 'zfs' ? `${root}/benchbare` : `${TARGET_DATA_DIR}/bench` };
}

const OURS_DATASET = 'backup/current';
const BARE_DATASET = 'backup/benchbare';
/** The btrfs target's second filesystem (the bench's copies), a loop file on the data volume. */
const BENCH_BTRFS_IMAGE = `${TARGET_DATA_DIR}/bench.img`;
/** The source's btrfs snapshot subvolume: never synced by the product, so not by the baseline either. */
const EXCLUDE = OWN_NAMES.map((name) => `--exclude=/${name}`).join(' ');
const BENCH_KEY = '/root/.ssh/sbdi_bench_ed25519';

/**
 * Runs an operator command on the director; resolves with its wall time in ms, throws on a non-zero
 * exit. Timed inside the director's container, as the baselines and the peers are timed inside
 * theirs: what the operator's shell sees, without the docker exec that only the bench needs.
 */
export async function operator(n: Names, command: string, args: readonly string[] = []): Promise<{ ms: number; stdout: string }> {
  const cmd = [`/opt/sbdi/backup/bin/${command}`, ...args].map(shq).join(' ');
  const r = await run(
    DOCKER,
    ['exec', '-u', 'backupoperator', '-w', '/home/backupoperator', n.container(DIRECTOR), 'bash', '-c', timedScript(cmd)],
    { timeoutMs: 3_600_000 },
  );
  if (r.code !== 0) {
    throw new SandboxError('bench', DIRECTOR, `${command} ${args.join(' ')} exited ${r.code}: ${(r.stderr || r.stdout).trim().slice(-1500)}`);
  }
  const timed = parseTimed(r.stdout);
  return { ms: timed.ms, stdout: timed.stdout };
}

/** Root bash in a host; long timeouts (a full copy into zfs-fuse takes minutes on a loaded machine). */
export function rootSh(n: Names, host: string, script: string): Promise<string> {
  return dockerBash('bench', host, n.container(host), script, { timeoutMs: 3_600_000 });
}

export interface ListedBackup {
  id: string;
  status: string;
  manifest?: {
    pause?: { durationMs?: number; freezeMs?: number; hosts?: Array<{ host: string; paused?: number }> };
    snapshotsInsidePauseWindow?: boolean;
    sources?: Array<{ host: string; syncDurationMs?: number; files?: number; bytes?: number; transferredBytes?: number }>;
    startedAt?: number;
    createdAt?: number;
  };
}

/** The newest complete backup as list_backups --json shows it (with its manifest). */
export async function latestBackup(n: Names): Promise<ListedBackup> {
  const { stdout } = await operator(n, 'list_backups', ['--json']);
  const complete = (JSON.parse(stdout) as ListedBackup[]).filter((b) => b.status === 'complete').sort((a, b) => a.id.localeCompare(b.id));
  const last = complete[complete.length - 1];
  if (!last) throw new SandboxError('bench', DIRECTOR, 'list_backups shows no complete backup');
  return last;
}

/**
 * The baseline's and the peers' setup, as root on the hosts the bench owns: one key per source in root's
 * authorized_keys on the target (sshd's default `prohibit-password` lets a key in), the target's host
 * key pinned, the bench's area (targetLayout) made, and restic's password file on every source.
 */
export async function setupBare(n: Names, t: TargetLayout, sizeGiB: number): Promise<void> {
  const keys: string[] = [];
  for (const s of SOURCES) {
    keys.push(
      (await rootSh(n, s.host, `mkdir -p -m 0700 /root/.ssh; [ -f ${BENCH_KEY} ] || ssh-keygen -q -t ed25519 -N '' -C bench@${s.host} -f ${BENCH_KEY}; cat ${BENCH_KEY}.pub
        [ -f ${RESTIC_PASSWORD_FILE} ] || (umask 077; echo sbdi-bench >${RESTIC_PASSWORD_FILE})`)).trim(),
    );
  }
  await rootSh(n, TARGET, `mkdir -p -m 0700 /root/.ssh; cat >>/root/.ssh/authorized_keys <<'EOF'\n${keys.join('\n')}\nEOF\nchmod 0600 /root/.ssh/authorized_keys`);
  const target = n.container(TARGET);
  for (const s of SOURCES) {
    await rootSh(n, s.host, `ssh-keyscan -t ed25519 ${target} 2>/dev/null >/root/.ssh/known_hosts; ssh ${sshOpts()} root@${target} true`);
  }
  await rootSh(n, TARGET, benchAreaScript(t, sizeGiB));
}

/** Makes the bench's area on the target (see targetLayout); idempotent. */
export function benchAreaScript(t: TargetLayout, sizeGiB: number): string {
  const make =
    t.backend === 'zfs'
      ? `zfs list ${BARE_DATASET} >/dev/null 2>&1 || zfs create -o compression="$(zfs get -H -o value compression ${OURS_DATASET})" ${BARE_DATASET}`
      : t.backend === 'btrfs'
        ? `mountpoint -q ${t.bench} || {
            compress=$(findmnt -n -o OPTIONS --mountpoint ${t.root} | tr , '\\n' | grep '^compress' || echo compress=no)
            [ -e ${BENCH_BTRFS_IMAGE} ] || { truncate -s ${sizeGiB}G ${BENCH_BTRFS_IMAGE}; mkfs.btrfs -q ${BENCH_BTRFS_IMAGE}; }
            mkdir -p ${t.bench}; mount -t btrfs -o "loop,$compress" ${BENCH_BTRFS_IMAGE} ${t.bench}; }`
        : `mkdir -p ${t.bench}`;
  return `${make}\n${BENCH_DIRS.map((d) => `mkdir -p ${t.bench}/${d}`).join('; ')}`;
}

/** The bench's directories below its area: the two baselines' copies and the peers' repositories. */
const BENCH_DIRS = ['plain', 'fidelity', 'restic', 'borg'] as const;

function sshOpts(): string {
  return `-i ${BENCH_KEY} -o IdentitiesOnly=yes -o BatchMode=yes -o StrictHostKeyChecking=yes`;
}

/** The baseline's rsync: archive and delete, nothing else (what an administrator would type). */
export const BARE_RSYNC = 'rsync -a --delete';
/**
 * The same with the fidelity our backups keep (hardlinks, ACLs, xattrs, sparse files, numeric ids): tells
 * the cost of those flags apart from the cost of our orchestration.
 */
export const BARE_RSYNC_FIDELITY = 'rsync -aHAX --sparse --numeric-ids --delete';

/** A baseline: its rsync command and the directory (in the bench's area) of its copies. */
export interface Baseline {
  rsync: string;
  dir: string;
}
export const BASELINES = {
  bare: { rsync: BARE_RSYNC, dir: 'plain' },
  fidelity: { rsync: BARE_RSYNC_FIDELITY, dir: 'fidelity' },
} as const satisfies Record<string, Baseline>;

/** Runs `cmd` in a source and returns rsync's own wall time (ms), measured inside the container. */
async function timedInside(n: Names, host: string, cmd: string): Promise<number> {
  const out = await rootSh(n, host, `s=$(date +%s%N); ${cmd} >/dev/null; e=$(date +%s%N); echo $(((e - s) / 1000000))`);
  return Number(out.trim().split('\n').pop());
}

/** Bare rsync of every source's live tree to its copy on the target, one after the other. */
export async function barePush(n: Names, t: TargetLayout, b: Baseline): Promise<number> {
  let ms = 0;
  for (const s of SOURCES) {
    ms += await timedInside(n, s.host, `${b.rsync} ${EXCLUDE} -e '${'ssh ' + sshOpts()}' ${s.dir}/ root@${n.container(TARGET)}:${t.bench}/${b.dir}/${s.tree}/`);
  }
  return ms;
}

/**
 * Writes out to disk what a bare copy left in the target's page cache (`sync -f` of its area): what
 * ours' commit does before it answers, and bare rsync never does. Its time, ms.
 */
export function syncBareCopies(n: Names, t: TargetLayout): Promise<number> {
  return timedInside(n, TARGET, `sync -f ${t.bench}`);
}

/** Bare rsync of every tree back from the target into the source's live dir (a full restore). */
export async function barePull(n: Names, t: TargetLayout, b: Baseline): Promise<number> {
  let ms = 0;
  for (const s of SOURCES) {
    ms += await timedInside(n, s.host, `${b.rsync} ${EXCLUDE} -e '${'ssh ' + sshOpts()}' root@${n.container(TARGET)}:${t.bench}/${b.dir}/${s.tree}/ ${s.dir}/`);
  }
  return ms;
}

/**
 * Empties the target's copies so that the next backup (every side) is a full one. Ours' earlier
 * backups go too: on zfs prepare_target sets the store back to the newest backup, and each push would
 * then send only its changes since it. The peers' repositories are made anew, empty, and their caches
 * on the sources removed.
 */
export async function emptyTargetCopies(n: Names, t: TargetLayout, peers: readonly PeerName[]): Promise<void> {
  const trees = SOURCES.map((s) => s.tree);
  const ours =
    t.backend === 'zfs'
      ? [`for s in $(zfs list -H -o name -t snapshot -r ${OURS_DATASET}); do zfs destroy "$s" 2>/dev/null || { echo "cannot destroy $s" >&2; exit 1; }; done`]
      : t.backend === 'btrfs'
        ? [
            `for s in ${t.root}/snapshots/*; do [ ! -d "$s" ] || btrfs subvolume delete "$s" >/dev/null; done`,
            `btrfs subvolume sync ${t.root} >/dev/null; btrfs qgroup clear-stale ${t.root} >/dev/null 2>&1 || true`,
          ]
        : [`find ${t.root}/snapshots -mindepth 1 -delete 2>/dev/null || true`];
  await rootSh(
    n,
    TARGET,
    [
      ...ours,
      `rm -f ${t.root}/manifests/*`,
      ...trees.map((tr) => `[ ! -d ${t.current}/${tr} ] || find ${t.current}/${tr} -mindepth 1 -delete`),
      // Emptied, not destroyed: zfs-fuse refuses to destroy a dataset it still thinks busy.
      `find ${t.bench} -mindepth 1 -delete`,
      ...BENCH_DIRS.map((d) => `mkdir -p ${t.bench}/${d}`),
      ...(t.backend === 'btrfs' ? [`btrfs filesystem sync ${t.root}`, `btrfs filesystem sync ${t.bench}`] : []),
      'sync',
    ].join('\n'),
  );
  for (const s of SOURCES) {
    await rootSh(n, s.host, [`rm -rf ${PEER_CACHES.join(' ')}`, ...peers.map((p) => initCommand(p, peerTarget(n, t), s))].join('\n'));
  }
}

/** The peers' view of the target: its address, their repositories' directory, the bench's ssh options. */
export function peerTarget(n: Names, t: TargetLayout): PeerTarget {
  return { host: n.container(TARGET), dir: t.bench, sshOpts: sshOpts() };
}

/** Runs a timed command in a host (timedScript): its own wall time inside the host and its stdout. */
async function timedWithOutput(n: Names, host: string, cmd: string, ok: readonly number[]): Promise<ReturnType<typeof parseTimed>> {
  return parseTimed(await rootSh(n, host, timedScript(cmd, ok)));
}

/** A peer's backup of every source, one after the other: the summed time and each source's summary. */
export async function peerBackup(n: Names, t: TargetLayout, peer: PeerName, name: string): Promise<{ ms: number; summaries: PeerBackupSummary[] }> {
  let ms = 0;
  const summaries: PeerBackupSummary[] = [];
  for (const s of SOURCES) {
    const r = await timedWithOutput(n, s.host, backupCommand(peer, peerTarget(n, t), s, name), acceptedCodes(peer));
    ms += r.ms;
    const summary = peer === 'restic' ? parseResticSummary(r.stdout) : parseBorgCreate(r.stdout);
    summaries.push(r.code === 0 ? summary : { ...summary, warning: { code: r.code, stderrLines: r.stderrLines } });
  }
  return { ms, summaries };
}

/** A peer's restore of every source into its (emptied) live dir, one after the other. */
export async function peerRestore(n: Names, t: TargetLayout, peer: PeerName, name: string): Promise<number> {
  let ms = 0;
  for (const s of SOURCES) ms += (await timedWithOutput(n, s.host, restoreCommand(peer, peerTarget(n, t), s, name), acceptedCodes(peer))).ms;
  return ms;
}

/**
 * The bytes a side's store takes on the target after a backup. Ours: the store's used bytes as the
 * filesystem counts them (zfs: `used` of the current dataset with its snapshots, compressed; btrfs: the
 * store's filesystem, which holds only ours, metadata included; dir: `du` of the store, hardlinks
 * counted once). The others: `du -sb` of their copies or repositories (apparent sizes).
 */
export async function storeBytes(n: Names, t: TargetLayout, side: 'ours' | 'plain' | 'fidelity' | PeerName): Promise<number> {
  const script =
    side !== 'ours'
      ? `du -sb ${t.bench}/${side} | cut -f1`
      : t.backend === 'zfs'
        ? `zfs get -H -p -o value used ${OURS_DATASET}`
        : t.backend === 'btrfs'
          ? `btrfs filesystem sync ${t.root}; df -B1 --output=used ${t.root} | tail -n 1`
          : `du -s -B1 ${t.root} | cut -f1`;
  const v = Number((await rootSh(n, TARGET, script)).trim());
  if (!Number.isFinite(v)) throw new SandboxError('bench', TARGET, `store size of ${side}: not a number`);
  return v;
}

/** Empties every source's live dir (docker is stopped): the next restore is a full one. */
export async function emptyLiveDirs(n: Names): Promise<void> {
  for (const s of SOURCES) await rootSh(n, s.host, `find ${s.dir} -mindepth 1 -maxdepth 1 ${OWN_NAMES.map((name) => `! -name ${name}`).join(' ')} -exec rm -rf {} +; sync`);
}

/**
 * The lines of a host's syslog (busybox syslogd: /var/log/messages, and the one file it keeps when it
 * rotates) that contain `text`: what the capsules logged there (they log to syslog and to stderr, and
 * the director relays only their warnings).
 */
export async function syslogLines(n: Names, host: string, text: string): Promise<string> {
  return rootSh(n, host, `cat /var/log/messages.0 /var/log/messages 2>/dev/null | grep -F -- ${shq(text)} || true`);
}

/**
 * After ours' backup: a dir store makes its current again from the new backup after commit_backup
 * has answered (templates/target/dir.sh.hbs, target_commit). Waits for that (its lock), so that it
 * never runs beside the next side's timed copy, and resolves with how long it took by the
 * capsule's own syslog line; undefined on the other stores.
 */
export async function afterCommit(n: Names, t: TargetLayout, id: string): Promise<number | undefined> {
  if (t.backend !== 'dir') return undefined;
  await rootSh(n, TARGET, `flock ${t.root}/.current-lock true`);
  const m = / again from backup (\d{8}_\d{6}) in (\d+) ms/.exec((await syslogLines(n, TARGET, `again from backup ${id} in `)).trim().split('\n').pop() ?? '');
  return m && m[1] === id ? Number(m[2]) : undefined;
}

/** Regular files below a source's dir (a restore's sanity check). */
export async function countFiles(n: Names, host: string, dir: string): Promise<number> {
  return Number((await rootSh(n, host, `find ${dir} -type f | wc -l`)).trim());
}

/**
 * After the host's caches were dropped: reads the programs and libraries every side runs (the
 * sandbox image's /usr, shared by every container through the image's lower layer), each host's
 * /etc and generated /opt/sbdi, and starts a docker exec, so that a timed side pays for its data
 * coming from disk, not for paging in node, python, ssh or sudo (which ours runs more of).
 */
export async function warmPrograms(n: Names): Promise<void> {
  await rootSh(n, DIRECTOR, 'find /usr/bin /usr/sbin /usr/lib /usr/libexec -xdev -type f -exec cat {} + >/dev/null 2>&1 || true');
  await Promise.all(HOSTS.map((h) => rootSh(n, h.name, 'find /etc /opt/sbdi -xdev -type f -exec cat {} + >/dev/null 2>&1 || true')));
}

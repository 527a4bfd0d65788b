/**
 * What the bench does on a sandbox deployment: the operator's commands on the director (timed from
 * outside, as the operator would see them), and the bare-rsync baseline over the same transport (ssh
 * between the same containers, into a dataset of the same pool with the same compression).
 */
import { HOSTS, type Names } from '../sandbox/config';
import { SandboxError } from '../sandbox/errors';
import { DOCKER, dockerBash, run } from '../sandbox/exec';

export const DIRECTOR = 'backup-director';
export const TARGET = 'backup-target';

/** The platform's backup sources (host, live dir) and the tree each becomes in the store. */
export const SOURCES = HOSTS.filter((h) => h.sourceDir !== undefined).map((h) => ({
  host: h.name,
  dir: h.sourceDir!,
  tree: `${h.name}@${h.sourceDir!.replace(/\//g, '+')}`,
}));

/** Where the product keeps its synced trees, and where the baseline writes its own copy (same pool, gzip-7). */
export const ROOT = '/backup';
export const CURRENT = '/backup/current';
export const OURS_DATASET = 'backup/current';
export const BARE_DATASET = 'backup/benchbare';
export const BARE_DIR = '/backup/benchbare';
/** The source's btrfs snapshot subvolume: never synced by the product, so not by the baseline either. */
const EXCLUDE = '--exclude=/.sbdi-snapshot';
const BENCH_KEY = '/root/.ssh/sbdi_bench_ed25519';

/** Runs an operator command on the director; resolves with its wall time in ms, throws on a non-zero exit. */
export async function operator(n: Names, command: string, args: readonly string[] = []): Promise<{ ms: number; stdout: string }> {
  const t0 = performance.now();
  const r = await run(
    DOCKER,
    ['exec', '-u', 'backupoperator', '-w', '/home/backupoperator', n.container(DIRECTOR), `/opt/sbdi/backup/bin/${command}`, ...args],
    { timeoutMs: 3_600_000 },
  );
  const ms = performance.now() - t0;
  if (r.code !== 0) {
    throw new SandboxError('bench', DIRECTOR, `${command} ${args.join(' ')} exited ${r.code}: ${(r.stderr || r.stdout).trim().slice(-1500)}`);
  }
  return { ms, stdout: r.stdout };
}

/** Root bash in a host; long timeouts (a full copy into zfs-fuse takes minutes on a loaded machine). */
export function rootSh(n: Names, host: string, script: string): Promise<string> {
  return dockerBash('bench', host, n.container(host), script, { timeoutMs: 3_600_000 });
}

export interface ListedBackup {
  id: string;
  status: string;
  manifest?: {
    pause?: { durationMs?: number; hosts?: Array<{ host: string; paused?: number }> };
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
 * The baseline's setup, as root on the hosts the bench owns: one key per source in root's
 * authorized_keys on the target (sshd's default `prohibit-password` lets a key in), the target's host
 * key pinned, and a dataset of the product's pool with the product's compression.
 */
export async function setupBare(n: Names): Promise<void> {
  const keys: string[] = [];
  for (const s of SOURCES) {
    keys.push(
      (await rootSh(n, s.host, `mkdir -p -m 0700 /root/.ssh; [ -f ${BENCH_KEY} ] || ssh-keygen -q -t ed25519 -N '' -C bench@${s.host} -f ${BENCH_KEY}; cat ${BENCH_KEY}.pub`)).trim(),
    );
  }
  await rootSh(n, TARGET, `mkdir -p -m 0700 /root/.ssh; cat >>/root/.ssh/authorized_keys <<'EOF'\n${keys.join('\n')}\nEOF\nchmod 0600 /root/.ssh/authorized_keys`);
  const target = n.container(TARGET);
  for (const s of SOURCES) {
    await rootSh(n, s.host, `ssh-keyscan -t ed25519 ${target} 2>/dev/null >/root/.ssh/known_hosts; ssh ${sshOpts()} root@${target} true`);
  }
  await rootSh(n, TARGET, `zfs list ${BARE_DATASET} >/dev/null 2>&1 || zfs create -o compression="$(zfs get -H -o value compression backup/current)" ${BARE_DATASET}
    ${Object.values(BASELINES).map((b) => `mkdir -p ${BARE_DIR}/${b.dir}`).join('; ')}`);
}

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

/** A baseline: its rsync command and the directory (under BARE_DIR) of its copies. */
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

/** Bare rsync of every source's live tree to its copy on the target, one after the other (as ours does). */
export async function barePush(n: Names, b: Baseline): Promise<number> {
  let ms = 0;
  for (const s of SOURCES) {
    ms += await timedInside(n, s.host, `${b.rsync} ${EXCLUDE} -e '${'ssh ' + sshOpts()}' ${s.dir}/ root@${n.container(TARGET)}:${BARE_DIR}/${b.dir}/${s.tree}/`);
  }
  return ms;
}

/** Bare rsync of every tree back from the target into the source's live dir (a full restore). */
export async function barePull(n: Names, b: Baseline): Promise<number> {
  let ms = 0;
  for (const s of SOURCES) {
    ms += await timedInside(n, s.host, `${b.rsync} ${EXCLUDE} -e '${'ssh ' + sshOpts()}' root@${n.container(TARGET)}:${BARE_DIR}/${b.dir}/${s.tree}/ ${s.dir}/`);
  }
  return ms;
}

/**
 * Empties the target's copies so that the next backup (ours and bare) is a full one. Ours' earlier
 * backups go too: prepare_target sets the store back to the newest backup, and each push would
 * then send only its changes since it.
 */
export async function emptyTargetCopies(n: Names): Promise<void> {
  const trees = SOURCES.map((s) => s.tree);
  await rootSh(
    n,
    TARGET,
    [
      `for s in $(zfs list -H -o name -t snapshot -r ${OURS_DATASET}); do zfs destroy "$s" 2>/dev/null || { echo "cannot destroy $s" >&2; exit 1; }; done`,
      `rm -f ${ROOT}/manifests/*`,
      ...trees.map((t) => `[ ! -d ${CURRENT}/${t} ] || find ${CURRENT}/${t} -mindepth 1 -delete`),
      // Emptied, not destroyed: zfs-fuse refuses to destroy a dataset it still thinks busy.
      `find ${BARE_DIR} -mindepth 1 -delete`,
      ...Object.values(BASELINES).map((b) => `mkdir -p ${BARE_DIR}/${b.dir}`),
      'sync',
    ].join('\n'),
  );
}

/** Empties every source's live dir (docker is stopped): the next restore is a full one. */
export async function emptyLiveDirs(n: Names): Promise<void> {
  for (const s of SOURCES) await rootSh(n, s.host, `find ${s.dir} -mindepth 1 -maxdepth 1 ! -name .sbdi-snapshot -exec rm -rf {} +; sync`);
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

import { beforeAll, describe, expect, it } from 'vitest';
import { baseImage, docker, dockerAsync, dockerAvailable, install, inventory, removeContainer, render, startContainer } from '../storage/harness';

/**
 * The torture suite (tests/torture/torture.py): seeded rounds of random changes, each followed by
 * a backup as the director takes it, then every backup restored (whole and one directory) and
 * compared with the state recorded for it, on each pair of real source and target filesystems
 * this machine has. CI runs the seeds below; `npm run torture -- --seed S --rounds N --backends
 * SOURCE:TARGET,...` runs others (SBDI_TORTURE_* here).
 */
const SOURCES = {
  btrfs: { vars: { btrfs_backup_source: true, btrfs_backup_source_dir: '/docker' }, live: '/docker', tree: 'storage-1@+docker', dataset: '' },
  zfs: {
    vars: { zfs_backup_source: true, zfs_backup_source_dir: '/docker_local', zfs_backup_source_dataset: 'tank/docker_local', zfs_backup_source_package: 'zfs-fuse' },
    live: '/docker_local',
    tree: 'storage-1@+docker_local',
    dataset: 'tank/docker_local',
  },
} as const;
const TARGETS = {
  zfs: { backup_target_backend: 'zfs', backup_zfs_package: 'zfs-fuse', backup_data_device: '/var/lib/sbdi/pool.img', backup_data_file_size: 3 },
  btrfs: { backup_target_backend: 'btrfs', backup_data_device: '/var/lib/sbdi/backup.img', backup_data_file_size: 3 },
  dir: { backup_target_backend: 'dir' },
} as const;
type Pair = `${keyof typeof SOURCES}:${keyof typeof TARGETS}`;

const env = process.env;
const pairs = (env.SBDI_TORTURE_BACKENDS ?? 'btrfs:zfs,btrfs:btrfs,btrfs:dir,zfs:zfs,zfs:btrfs,zfs:dir').split(',') as Pair[];
const seeds = (env.SBDI_TORTURE_SEEDS ?? '1').split(',').map(Number);
const rounds = Number(env.SBDI_TORTURE_ROUNDS ?? 8);
const ops = Number(env.SBDI_TORTURE_OPS ?? 25);

beforeAll(() => {
  if (!dockerAvailable()) throw new Error('the torture suite needs a running docker engine (scripts/setup-host.sh starts dockerd)');
});

describe.each(pairs)('torture: %s', (pair) => {
  const [src, tgt] = pair.split(':') as [keyof typeof SOURCES, keyof typeof TARGETS];
  if (SOURCES[src] === undefined || TARGETS[tgt] === undefined) throw new Error(`unknown pair ${pair}: SOURCE:TARGET with SOURCE btrfs|zfs, TARGET zfs|btrfs|dir`);
  const source = SOURCES[src];
  let image: string;
  beforeAll(async () => {
    image = await baseImage();
  });

  it.each(seeds)('seed %i: every backup restores to the exact state it was taken of', async (seed) => {
    const container = `storagetest-torture-${src}-${tgt}-${seed}-${process.pid}`;
    startContainer(container, 'storage-1', image);
    try {
      install(container, render(inventory(TARGETS[tgt], source.vars)), 'storage-1');
      const setup = docker(['exec', container, 'bash', '/tmp/storage/make-source.sh', src, source.live, ...(source.dataset ? [source.dataset] : [])]);
      expect(setup.code, setup.stderr).toBe(0);
      docker(['cp', `${__dirname}/torture.py`, `${container}:/tmp/storage/torture.py`]);
      // zfs-fuse keeps whole-second mtimes and reports no holes: a tree that passed through it is compared so.
      const zfsFuse = src === 'zfs' || tgt === 'zfs';
      const flags = [...(zfsFuse ? ['--mtime-seconds'] : []), ...(src === 'zfs' ? ['--no-holes'] : []), '--unmunge'];
      const args = ['--seed', String(seed), '--rounds', String(rounds), '--ops', String(ops), '--live', source.live, '--tree', source.tree, '--exclude', '.sbdi-snapshot', '--exclude', '.sbdi-snapshot.base', ...flags.map((f) => `--listing-flag=${f}`), ...(src === 'zfs' ? ['--kernel-acl-modes'] : [])];
      const r = await dockerAsync(['exec', container, 'python3', '/tmp/storage/torture.py', ...args], undefined, 3_000_000);
      const summary = r.stdout.split('\n').filter((l) => /^(DIVERGED|TORTURE|  round|again)/.test(l));
      process.stdout.write(`--- torture ${pair} seed ${seed}\n${(r.code === 0 ? summary : r.stdout.split('\n')).join('\n')}\n${r.code === 0 ? '' : r.stderr.slice(-3000)}\n`);
      expect(r.code, summary.join('\n')).toBe(0);
      expect(r.stdout).toMatch(/^TORTURE PASSED/m);
      // A btrfs source lists its pushes from btrfs's own changes (each such listing compared with
      // a walk of the snapshot above), but for full pushes: every store gives a base.
      const fromBase = Number(/from_base=(\d+)/.exec(r.stdout)?.[1]);
      if (src === 'btrfs' && rounds >= 4) expect(fromBase).toBeGreaterThan(0);
      if (src !== 'btrfs') expect(fromBase).toBe(0);
    } finally {
      // SBDI_TORTURE_KEEP=1 keeps the container of a failed run to look into (/tmp/torture.log).
      if (env.SBDI_TORTURE_KEEP !== '1') removeContainer(container);
    }
  }, 3_600_000);
});


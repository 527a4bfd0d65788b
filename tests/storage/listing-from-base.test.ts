/**
 * A btrfs source's push of only the changes lists its snapshot from what btrfs says changed since
 * the base it kept (templates/source/btrfs-base.sh.hbs) instead of walking the whole tree. That
 * listing decides what the push sends, so it must be exactly the walk's: listing-from-base.sh
 * compares the two, record for record, over seeded rounds of random changes (mutate.py) and a few
 * set ones, with the capsule's own functions as installed on a host.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { baseImage, dockerAsync, dockerAvailable, install, inventory, removeContainer, render, startContainer, docker } from './harness';

const SEEDS = (process.env.SBDI_LISTING_SEEDS ?? '1,2,3').split(',').map(Number);
const ROUNDS = Number(process.env.SBDI_LISTING_ROUNDS ?? 16);

beforeAll(() => {
  if (!dockerAvailable()) throw new Error('storage tests need a running docker engine (scripts/setup-host.sh starts dockerd)');
});

describe('storage: the listing from a btrfs base is the walk of the snapshot', () => {
  const container = `storagetest-listing-${process.pid}`;

  beforeAll(async () => {
    const image = await baseImage();
    startContainer(container, 'storage-1', image);
    install(container, render(inventory({ backup_target_backend: 'dir' }, { btrfs_backup_source: true, btrfs_backup_source_dir: '/srv/data', backup_source_exclude: 'skip' })), 'storage-1');
  }, 600_000);
  afterAll(() => removeContainer(container));

  it.each(SEEDS)('seed %i: every round listed from its base equals the walk; a file named outside the tree makes it walk', async (seed) => {
    const setup = docker(['exec', container, 'bash', '-c', 'if ! mountpoint -q /srv/data; then bash /tmp/storage/make-source.sh btrfs /srv/data; else find /srv/data -mindepth 1 -maxdepth 1 ! -name .sbdi-snapshot.base -exec rm -rf {} +; fi']);
    expect(setup.code, setup.stderr).toBe(0);
    const r = await dockerAsync(['exec', container, 'bash', '/tmp/storage/listing-from-base.sh', String(seed), String(ROUNDS), '30', 'skip'], undefined, 590_000);
    process.stdout.write(`--- listing from the base, seed ${seed}\n${r.stdout.split('\n').filter((l) => !l.startsWith('FROM_BASE')).join('\n')}\n`);
    expect(r.code, `${r.stdout.slice(-3000)}\n${r.stderr.slice(-2000)}`).toBe(0);
    expect(r.stdout).toMatch(/^LISTINGS PASSED/m);
    const walked = [...r.stdout.matchAll(/^WALKED (\d+)/gm)].map((m) => Number(m[1]));
    const fromBase = [...r.stdout.matchAll(/^FROM_BASE (\d+) relisted=(\d+) expected=(\d+) entries=(\d+)/gm)].map((m) => ({
      round: Number(m[1]), relisted: Number(m[2]), expected: Number(m[3]), entries: Number(m[4]),
    }));
    // Every fourth round links a new file into the excluded directory: those must walk (as must
    // the rounds that change such a file, which the listing cannot show under all its names).
    for (let n = 5; n <= ROUNDS; n += 4) expect(walked, `round ${n}`).toContain(n);
    // Every seventh round the capsule's limit applies (btrfs may name a twentieth of the tree, and
    // names all of it, every file having been read): it walks, and says why, with a warning that
    // the live dir (mounted strictatime here) is not mounted noatime.
    for (let n = 7; n <= ROUNDS; n += 7) expect(r.stdout, `round ${n}`).toMatch(new RegExp(`^WALKED ${n}: .*btrfs names too many paths .*is not mounted noatime`, 'm'));
    // The others list from the base.
    expect(fromBase.length).toBeGreaterThanOrEqual(Math.floor(ROUNDS / 4));
    expect(fromBase.length + walked.length).toBe(ROUNDS - 1);
    // Every file was read before each snapshot: btrfs names every inode whose atime moved, and
    // those (times alone, ctime as before) are not listed again. What is, is what changed (the
    // entries whose record differs between the two walks, and their directories), give or take a
    // few names of a changed file of several.
    for (const f of fromBase) {
      expect(f.relisted, `round ${f.round}: ${f.relisted} of ${f.entries} entries listed again, ${f.expected} changed`).toBeLessThanOrEqual(f.expected + 10);
    }
  }, 600_000);
});

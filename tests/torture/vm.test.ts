// The torture suite on the production source backends that need a real kernel: LVM (an ext4 LV
// with a snapshot LV) and Gluster (a one-node volume on a thin-provisioned brick, gluster
// snapshots), each in a qemu VM of Debian's kernel that is its own backup target (the dir store,
// receive_backup behind sbdi-receive's forced command, as tests/storage installs a host). The same
// tests/torture/torture.py as on the container pairs. `npm test` runs seed 1 with 2 rounds of up to
// 50 changes on each: a full backup, then one of the changes (under emulation a round takes 60–150 s,
// mostly the snapshot commands, so fewer rounds with more changes each cost less for as many changes); `npm run torture -- --backends
// lvm:dir,gluster:dir --seeds S --rounds N` runs more.
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { inventory, render } from '../storage/harness';
import { ROOT, TestVm } from '../vm/harness';

const SOURCES = {
  lvm: {
    vars: { lvm_backup_source: true, backup_snapshot_storage: 1 },
    live: '/docker_local',
    tree: 'storage-1@+docker_local',
    // ext4 keeps its lost+found at the root of the LV: not the platform's data.
    exclude: ['lost+found'],
    provision: ['lvm', '2G'],
  },
  gluster: {
    vars: { gluster_backup_source: true },
    live: '/docker',
    tree: 'storage-1@+docker',
    exclude: [],
    provision: ['gluster', 'storagetest-storage-1', '3G', '2G'],
  },
} as const;
type Pair = `${keyof typeof SOURCES}:dir`;

const env = process.env;
const pairs = (env.SBDI_TORTURE_VM_BACKENDS ?? 'lvm:dir,gluster:dir').split(',').filter((p) => p !== '') as Pair[];
const seeds = (env.SBDI_TORTURE_SEEDS ?? '1').split(',').map(Number);
const rounds = Number(env.SBDI_TORTURE_ROUNDS ?? 2);
const ops = Number(env.SBDI_TORTURE_OPS ?? 50);

describe.each(pairs)('torture in a VM: %s', (pair) => {
  const [src, tgt] = pair.split(':') as [keyof typeof SOURCES, string];
  if (SOURCES[src] === undefined || tgt !== 'dir') throw new Error(`unknown pair ${pair}: lvm:dir or gluster:dir`);
  const source = SOURCES[src];

  it.each(seeds)('seed %i: every backup restores to the exact state it was taken of', async (seed) => {
    // Named per process: two runs (CI and a longer one by hand) never stop each other's VM.
    const vm = new TestVm(`sbdi-torture-${src}-${process.pid}`, 'storagetest-storage-1');
    const rendered = render(inventory({ backup_target_backend: 'dir' }, source.vars));
    try {
      await vm.up('8G');
      await vm.provision(...source.provision);
      // The host's rendering and the storage tools, installed as tests/storage/harness.ts installs
      // a container host.
      const tar = execFileSync('tar', ['-c', '-C', join(rendered, 'storage-1'), '--transform', 's|^\\.|rendered|', '.',
        '-C', join(ROOT, 'tests'), 'storage', '-C', join(ROOT, 'tests', 'torture'), 'torture.py'], { maxBuffer: 256 << 20 });
      await vm.sh('rm -rf /tmp/rendered /tmp/storage && tar -C /tmp -x && mv /tmp/torture.py /tmp/storage/', tar);
      await vm.sh('bash /tmp/storage/install-host.sh /tmp/rendered');
      const flags = ['--unmunge'];
      const args = ['--seed', String(seed), '--rounds', String(rounds), '--ops', String(ops), '--live', source.live, '--tree', source.tree,
        ...source.exclude.flatMap((x) => ['--exclude', x]), ...flags.map((f) => `--listing-flag=${f}`)];
      const t0 = Date.now();
      const r = await vm.run(`python3 /tmp/storage/torture.py ${args.map((a) => `'${a}'`).join(' ')}`, undefined, 6_000_000);
      const summary = r.stdout.split('\n').filter((l) => /^(DIVERGED|TORTURE|  round|again)/.test(l));
      process.stdout.write(`--- torture ${pair} seed ${seed} (VM, ${((Date.now() - t0) / 1000).toFixed(0)} s)\n${(r.code === 0 ? summary : r.stdout.split('\n')).join('\n')}\n${r.code === 0 ? '' : r.stderr.slice(-3000)}\n`);
      if (r.code !== 0) process.stdout.write((await vm.run('tail -c 6000 /tmp/torture.log')).stdout);
      expect(r.code, summary.join('\n')).toBe(0);
      expect(r.stdout).toMatch(/^TORTURE PASSED/m);
    } finally {
      if (env.SBDI_TORTURE_KEEP !== '1') vm.down();
      rmSync(join(rendered, '..'), { recursive: true, force: true });
    }
  }, 7_200_000);
});

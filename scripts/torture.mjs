#!/usr/bin/env node
// npm run torture -- [--seed S | --seeds S1,S2] [--rounds N] [--ops K] [--backends SOURCE:TARGET,...] [--keep]
// Runs tests/torture (the seeded differential torture of the backup data path) with other seeds,
// more rounds or a subset of the source:target pairs than CI's fixed run. The pairs lvm:dir and
// gluster:dir run in a qemu VM (tests/torture/vm.test.ts); the others in a container. --keep
// leaves the container or VM of a failed run to look into (/tmp/torture.log in it).
import { spawnSync } from 'node:child_process';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    seed: { type: 'string' },
    seeds: { type: 'string' },
    rounds: { type: 'string' },
    ops: { type: 'string' },
    backends: { type: 'string' },
    keep: { type: 'boolean' },
  },
});
const number = (name, v) => {
  if (v !== undefined && !/^[0-9]+$/.test(v)) {
    console.error(`torture: --${name} takes a whole number, got ${JSON.stringify(v)}`);
    process.exit(2);
  }
  return v;
};
const seeds = values.seeds ?? values.seed;
if (seeds !== undefined && !/^[0-9]+(,[0-9]+)*$/.test(seeds)) {
  console.error(`torture: --seed/--seeds take whole numbers (comma-separated), got ${JSON.stringify(seeds)}`);
  process.exit(2);
}
const PAIR = /^((btrfs|zfs):(zfs|btrfs|dir)|(lvm|gluster):dir)$/;
const pairs = values.backends?.split(',');
if (pairs !== undefined && !pairs.every((p) => PAIR.test(p))) {
  console.error('torture: --backends takes SOURCE:TARGET pairs: btrfs|zfs with zfs|btrfs|dir, or lvm|gluster with dir (in a VM), e.g. btrfs:zfs,lvm:dir');
  process.exit(2);
}
const inVm = (p) => /^(lvm|gluster):/.test(p);
const env = {
  ...process.env,
  ...(seeds === undefined ? {} : { SBDI_TORTURE_SEEDS: seeds }),
  ...(number('rounds', values.rounds) === undefined ? {} : { SBDI_TORTURE_ROUNDS: values.rounds }),
  ...(number('ops', values.ops) === undefined ? {} : { SBDI_TORTURE_OPS: values.ops }),
  ...(pairs === undefined ? {} : { SBDI_TORTURE_BACKENDS: pairs.filter((p) => !inVm(p)).join(','), SBDI_TORTURE_VM_BACKENDS: pairs.filter(inVm).join(',') }),
  ...(values.keep ? { SBDI_TORTURE_KEEP: '1' } : {}),
};
const runs = [
  ...(pairs === undefined || pairs.some((p) => !inVm(p)) ? [['vitest', 'run', 'tests/torture/torture.test.ts']] : []),
  ...(pairs === undefined || pairs.some(inVm) ? [['vitest', 'run', 'tests/torture/vm.test.ts']] : []),
];
let status = 0;
for (const args of runs) {
  const r = spawnSync('npx', args, { stdio: 'inherit', env });
  status ||= r.status ?? 1;
}
process.exit(status);

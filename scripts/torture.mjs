#!/usr/bin/env node
// npm run torture -- [--seed S | --seeds S1,S2] [--rounds N] [--ops K] [--backends SOURCE:TARGET,...] [--keep]
// Runs tests/torture (the seeded differential torture of the backup data path) with other seeds,
// more rounds or a subset of the source:target pairs than CI's fixed run. --keep leaves the
// container of a failed run to look into (/tmp/torture.log in it).
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
if (values.backends !== undefined && !/^(btrfs|zfs):(zfs|btrfs|dir)(,(btrfs|zfs):(zfs|btrfs|dir))*$/.test(values.backends)) {
  console.error('torture: --backends takes SOURCE:TARGET pairs, SOURCE btrfs|zfs, TARGET zfs|btrfs|dir, e.g. btrfs:zfs,zfs:dir');
  process.exit(2);
}
const env = {
  ...process.env,
  ...(seeds === undefined ? {} : { SBDI_TORTURE_SEEDS: seeds }),
  ...(number('rounds', values.rounds) === undefined ? {} : { SBDI_TORTURE_ROUNDS: values.rounds }),
  ...(number('ops', values.ops) === undefined ? {} : { SBDI_TORTURE_OPS: values.ops }),
  ...(values.backends === undefined ? {} : { SBDI_TORTURE_BACKENDS: values.backends }),
  ...(values.keep ? { SBDI_TORTURE_KEEP: '1' } : {}),
};
const r = spawnSync('npx', ['vitest', 'run', 'tests/torture/torture.test.ts'], { stdio: 'inherit', env });
process.exit(r.status ?? 1);

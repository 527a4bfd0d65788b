// The order in which vitest starts the test files: longest first. With two workers, a long file
// started last runs alone at the end (the qemu torture, ~20 minutes, would otherwise start late:
// vitest's own order on a fresh checkout is by file size). The seconds are one full run's, on a
// 2-core machine; only their order matters. Files not named here start after these, largest first.
import { relative } from 'node:path';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

const SECONDS: Readonly<Record<string, number>> = {
  'tests/torture/vm.test.ts': 1076,
  'tests/sandbox/faults.test.ts': 875,
  'tests/ansible/reconfigure.test.ts': 743,
  'tests/vm/gluster.test.ts': 593,
  'tests/sandbox/operations.test.ts': 578,
  'tests/storage/backends.test.ts': 499,
  'tests/sandbox/restore.test.ts': 486,
  'tests/sandbox/platform.test.ts': 322,
  'tests/sandbox/two-target.test.ts': 304,
  'tests/torture/torture.test.ts': 244,
  'tests/vm/lvm.test.ts': 234,
  'tests/unit/render/render.test.ts': 203,
  'tests/storage/replication.test.ts': 92,
  'tests/storage/listing-from-base.test.ts': 78,
  'tests/ansible/target-store.test.ts': 74,
  'tests/sandbox/harness.test.ts': 72,
  'tests/unit/plan/bad-inventories.test.ts': 70,
  'tests/ansible/argument-specs.test.ts': 55,
  'tests/ansible/schedule-systemd.test.ts': 54,
  'tests/ansible/playbook.test.ts': 54,
  'tests/unit/plan/push-limit.test.ts': 26,
};

export class LongestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const rest = await super.sort(files);
    const seconds = (f: TestSpecification): number => SECONDS[relative(this.ctx.config.root, f.moduleId)] ?? 0;
    // A stable sort: files of equal weight (the unnamed ones) keep vitest's order.
    return [...rest].sort((a, b) => seconds(b) - seconds(a));
  }
}

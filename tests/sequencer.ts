// The order in which vitest starts the test files: longest first. With two workers, a long file
// started last runs alone at the end (the qemu torture, ~8 minutes, would otherwise start late:
// vitest's own order on a fresh checkout is by file size). The seconds are one full run's, on a
// 2-core machine; only their order matters. Files not named here start after these, largest first.
import { relative } from 'node:path';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

const SECONDS: Readonly<Record<string, number>> = {
  'tests/sandbox/faults.test.ts': 646,
  'tests/torture/vm.test.ts': 446,
  'tests/storage/backends.test.ts': 426,
  'tests/ansible/reconfigure.test.ts': 354,
  'tests/sandbox/restore.test.ts': 331,
  'tests/sandbox/operations.test.ts': 314,
  'tests/vm/gluster.test.ts': 311,
  'tests/sandbox/platform.test.ts': 257,
  'tests/sandbox/two-target.test.ts': 157,
  'tests/torture/torture.test.ts': 123,
  'tests/vm/lvm.test.ts': 84,
  'tests/unit/render/render.test.ts': 69,
  'tests/storage/replication.test.ts': 58,
  'tests/sandbox/harness.test.ts': 40,
  'tests/ansible/target-store.test.ts': 38,
  'tests/storage/listing-from-base.test.ts': 32,
  'tests/ansible/schedule-systemd.test.ts': 31,
  'tests/unit/plan/bad-inventories.test.ts': 22,
  'tests/ansible/argument-specs.test.ts': 21,
  'tests/ansible/playbook.test.ts': 16,
  'tests/unit/director/backup.test.ts': 13,
  'tests/unit/plan/push-limit.test.ts': 10,
};

export class LongestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const rest = await super.sort(files);
    const seconds = (f: TestSpecification): number => SECONDS[relative(this.ctx.config.root, f.moduleId)] ?? 0;
    // A stable sort: files of equal weight (the unnamed ones) keep vitest's order.
    return [...rest].sort((a, b) => seconds(b) - seconds(a));
  }
}

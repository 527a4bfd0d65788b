// `npm run vm-e2e`: the director-driven backup and restore with the LVM and Gluster sources in qemu
// VMs (tests/vm/director.test.ts). Kept out of `npm test` (vitest.config.ts excludes it): under
// software emulation it took 52 minutes on this machine's 2 cores (docs/vm.md).
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['tests/vm/director.test.ts'],
    testTimeout: 7_200_000,
    hookTimeout: 900_000,
  },
});

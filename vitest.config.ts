import { configDefaults, defineConfig } from 'vitest/config';
import { LongestFirst } from './tests/sequencer';

export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    // The director-driven path with VM sources runs apart: `npm run vm-e2e` (vitest.vm-e2e.config.ts).
    exclude: [...configDefaults.exclude, 'tests/vm/director.test.ts'],
    // Two files at a time: the long ones (a qemu VM, a sandbox of containers, ansible) each keep
    // about one core busy and wait on I/O the rest of the time. Files that share a resource
    // never collide: every sandbox test file uses its own deployment prefix and network, image
    // and VM builds take a lock.
    fileParallelism: true,
    maxWorkers: 2,
    sequence: { sequencer: LongestFirst },
    minWorkers: 1,
    testTimeout: 120_000,
    hookTimeout: 900_000,
  },
});

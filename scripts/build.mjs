// Bundles the entry points into single CommonJS files that run with no node_modules
// (options: scripts/bundle-options.mjs).
import { build } from 'esbuild';
import { existsSync } from 'node:fs';
import { bundleOptions } from './bundle-options.mjs';
import { linkCollection } from './link-collection.mjs';

const entries = {
  'sbdi-backup': 'src/cli/main.ts',
  director: 'src/director/main.ts',
  sandbox: 'tools/sandbox/main.ts',
  bench: 'tools/bench/main.ts',
};

for (const [name, entry] of Object.entries(entries)) {
  if (!existsSync(entry)) continue;
  await build(bundleOptions(entry, `dist/${name}.cjs`));
}

linkCollection();

// Bundles the entry points into single CommonJS files that run with no node_modules.
// ESM output would break ssh2's dynamic requires; its optional native parts stay external
// (ssh2 falls back to Node's crypto without them).
import { build } from 'esbuild';
import { existsSync } from 'node:fs';

const entries = {
  'sbdi-backup': 'src/cli/main.ts',
  director: 'src/director/main.ts',
  sandbox: 'src/sandbox/main.ts',
};

for (const [name, entry] of Object.entries(entries)) {
  if (!existsSync(entry)) continue;
  await build({
    entryPoints: [entry],
    outfile: `dist/${name}.cjs`,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node18',
    external: ['cpu-features', '*.node'],
    banner: { js: '#!/usr/bin/env node' },
    legalComments: 'none',
    logLevel: 'warning',
  });
}

// The esbuild options of every shipped bundle: one CommonJS file that runs with no node_modules.
// ESM output would break ssh2's dynamic requires; its optional native parts stay external
// (ssh2 falls back to Node's crypto without them). Used by scripts/build.mjs and by the test that
// runs a freshly built director bundle (tests/unit/director/bundle.test.ts).
export function bundleOptions(entry, outfile) {
  return {
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node18',
    external: ['cpu-features', '*.node'],
    banner: { js: '#!/usr/bin/env node' },
    legalComments: 'none',
    logLevel: 'warning',
  };
}

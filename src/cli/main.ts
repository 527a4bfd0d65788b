import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { InventoryError, InventoryReadError, planFromInventory } from '../plan';
import { renderPlan, writeRendered } from '../render';
import { describePlan } from './describe';

const USAGE = `usage:
  sbdi-backup plan   --inventory PATH [--json]
  sbdi-backup render --inventory PATH --out DIR [--director-bundle FILE]

exit codes: 0 done, 2 bad arguments or a bad inventory (nothing written), 1 anything else`;

class UsageError extends Error {
  readonly exitCode = 2;
}

function directorBundle(given: string | undefined): string {
  const path = given ?? join(__dirname, 'director.cjs');
  if (!existsSync(path)) throw new UsageError(`director bundle ${path} not found: run 'npm run build' first or pass --director-bundle`);
  return readFileSync(path, 'utf8');
}

function main(argv: string[]): number {
  const [command, ...rest] = argv;
  const { values } = parseArgs({
    args: rest,
    options: {
      inventory: { type: 'string', short: 'i' },
      out: { type: 'string', short: 'o' },
      json: { type: 'boolean' },
      'director-bundle': { type: 'string' },
    },
    strict: true,
  });
  if (command !== 'plan' && command !== 'render') throw new UsageError(`unknown command '${command ?? ''}'`);
  if (!values.inventory) throw new UsageError('--inventory PATH is required');
  if (command === 'plan') {
    const plan = planFromInventory(values.inventory);
    process.stdout.write(values.json ? `${JSON.stringify(plan, null, 2)}\n` : describePlan(plan));
    return 0;
  }
  if (!values.out) throw new UsageError('--out DIR is required');
  const bundle = directorBundle(values['director-bundle']);
  const plan = planFromInventory(values.inventory);
  const rendered = renderPlan(plan, bundle);
  writeRendered(rendered, values.out);
  process.stdout.write(`rendered ${rendered.hosts.size} hosts into ${values.out}\n`);
  return 0;
}

try {
  process.exitCode = main(process.argv.slice(2));
} catch (e) {
  if (e instanceof InventoryError) {
    process.stderr.write(`sbdi-backup: the inventory has ${e.problems.length} problem(s); nothing was written:\n${e.message}\n`);
    process.exitCode = 2;
  } else if (e instanceof InventoryReadError || e instanceof UsageError || (e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
    process.stderr.write(`sbdi-backup: ${(e as Error).message}\n${USAGE}\n`);
    process.exitCode = 2;
  } else {
    process.stderr.write(`sbdi-backup: ${(e as Error).stack ?? String(e)}\n`);
    process.exitCode = 1;
  }
}

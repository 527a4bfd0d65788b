// A capsule as the full fixture inventory renders it for one host, and one bash function of it,
// for tests that run that function on its own.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { planFromInventory } from '../../../src/plan';
import { renderPlan, writeRendered } from '../../../src/render';

const FULL = join(__dirname, '..', '..', 'fixtures', 'inventories', 'full', 'hosts.yml');

/** `root`: the host's rendered tree, as it is installed below `/`. */
export function renderedFunction(host: string, capsule: string, name: string): { capsule: string; fn: string; root: string } {
  const out = mkdtempSync(join(tmpdir(), 'sbdi-render-fn-'));
  writeRendered(renderPlan(planFromInventory(FULL), '// bundle\n'), out);
  const text = readFileSync(join(out, host, 'opt/sbdi/backup/libexec', capsule), 'utf8');
  const fn = new RegExp(`^${name}\\(\\) \\{\\n[\\s\\S]*?\\n\\}$`, 'm').exec(text);
  if (fn === null) throw new Error(`${host}'s ${capsule} has no function ${name}`);
  return { capsule: text, fn: fn[0], root: join(out, host) };
}

import { execFileSync } from 'node:child_process';
import { InventoryReadError } from './errors';

/** What `ansible-inventory --list` prints, reduced to what the plan needs. */
export interface RawInventory {
  /** Every host with its fully merged variables (group_vars, host_vars, [all:vars] included). */
  hostvars: Record<string, Record<string, unknown>>;
  /** Every group with all hosts in it, children groups resolved recursively. */
  groups: Record<string, string[]>;
}

interface ListedGroup {
  hosts?: string[];
  children?: string[];
}

/**
 * Reads any inventory Ansible can read (INI, YAML, directories with group_vars/host_vars)
 * through ansible-inventory itself: we never parse INI by hand.
 */
export function readInventory(path: string): RawInventory {
  let out: string;
  try {
    out = execFileSync('ansible-inventory', ['-i', path, '--list'], {
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...process.env,
        // Without these, an unparsable inventory yields an empty one and exit 0.
        ANSIBLE_INVENTORY_UNPARSED_FAILED: 'True',
        ANSIBLE_INVENTORY_ANY_UNPARSED_IS_FAILED: 'True',
        ANSIBLE_NOCOLOR: '1',
        ANSIBLE_DEPRECATION_WARNINGS: 'False',
      },
    });
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new InventoryReadError(path, err.stderr || err.message);
  }
  return parseInventoryList(JSON.parse(out) as Record<string, unknown>);
}

/** Pure part of readInventory, separated so it can be tested without Ansible. */
export function parseInventoryList(list: Record<string, unknown>): RawInventory {
  const meta = (list._meta ?? {}) as { hostvars?: Record<string, Record<string, unknown>> };
  const hostvars: Record<string, Record<string, unknown>> = { ...(meta.hostvars ?? {}) };
  const listed = new Map<string, ListedGroup>();
  for (const [name, value] of Object.entries(list)) {
    if (name !== '_meta' && value && typeof value === 'object') listed.set(name, value as ListedGroup);
  }
  const groups: Record<string, string[]> = {};
  const resolve = (name: string, seen: Set<string>): Set<string> => {
    const members = new Set<string>();
    if (seen.has(name)) return members;
    seen.add(name);
    const g = listed.get(name);
    for (const h of g?.hosts ?? []) members.add(h);
    for (const child of g?.children ?? []) for (const h of resolve(child, seen)) members.add(h);
    return members;
  };
  for (const name of listed.keys()) {
    groups[name] = [...resolve(name, new Set())].sort();
    for (const h of groups[name]!) hostvars[h] ??= {};
  }
  return { hostvars, groups };
}

/**
 * Where the director's plan comes from: compiled into the installed bundle (a first line
 * `globalThis.__SBDI_PLAN__ = {...};` written by render), so the operator has no file to edit.
 * SBDI_PLAN_FILE exists for tests only and is ignored when a plan is compiled in.
 */
import { readFileSync } from 'node:fs';
import type { Plan } from '../plan/types';
import { UsageError } from './errors';

declare global {
  // eslint-disable-next-line no-var
  var __SBDI_PLAN__: unknown;
}

function looksLikePlan(value: unknown): value is Plan {
  if (value === null || typeof value !== 'object') return false;
  const p = value as Partial<Plan>;
  return (
    p.schema === 2 &&
    typeof p.director === 'string' &&
    Array.isArray(p.hosts) &&
    Array.isArray(p.sources) &&
    Array.isArray(p.dockerHosts) &&
    Array.isArray(p.targets) &&
    p.targets.length > 0 &&
    typeof p.settings === 'object' &&
    typeof p.operator === 'object'
  );
}

export function loadPlan(env: NodeJS.ProcessEnv = process.env): Plan {
  let value: unknown = globalThis.__SBDI_PLAN__;
  let from = 'the compiled-in plan';
  if (value === undefined) {
    const file = env.SBDI_PLAN_FILE;
    if (!file) throw new UsageError('no plan compiled into this director (install it with the sbdi.backup playbook)');
    from = file;
    try {
      value = JSON.parse(readFileSync(file, 'utf8'));
    } catch (e) {
      throw new UsageError(`cannot read the plan ${file}: ${(e as Error).message}`);
    }
  }
  if (!looksLikePlan(value)) throw new UsageError(`${from} is not a schema 2 sbdi-backup plan (render it again with this version)`);
  return value;
}

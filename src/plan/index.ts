import { buildPlan } from './build';
import { readInventory } from './inventory';
import type { Plan } from './types';

export * from './types';
export * from './errors';
export { buildPlan } from './build';
export { readInventory, parseInventoryList, type RawInventory } from './inventory';

/** Inventory path → validated plan (throws InventoryError / InventoryReadError, both exit code 2). */
export function planFromInventory(path: string): Plan {
  return buildPlan(readInventory(path));
}
export * from './lookup';
